"""`GreenhouseConnector`: web hooks and Assessment Partner calls in, results out through
Harvest v3 (a note and custom fields on the candidate) or the partner completion PATCH."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from assessio_connect import codec
from assessio_connect._wsgi import RequestBodyError, header, read_body
from assessio_connect.connector import (
    AssessmentChoice,
    AtsCandidate,
    AtsJob,
    Connector,
    ConnectorContext,
    Invitation,
    OrderDraft,
    Pushback,
    WSGIApplication,
)
from assessio_connect.errors import (
    AssessioError,
    ConfigError,
    ConnectorError,
    PayloadError,
    PermanentError,
    RetryableError,
    StoreUnavailableError,
)
from assessio_connect.store import OrderRecord

from ._auth import ClientCredentialsAuth, HarvestAuth
from ._authorization import CALLBACK_PATH, AuthorizationRequests
from ._candidate_writer import CandidateWriter
from ._config import GreenhouseConfig
from ._harvest import HarvestClient
from ._http import MAX_REQUEST_BYTES, Handler, Reply, error, respond, retry_later
from ._jobs import hiring_team_emails
from ._keepalive import KeepAlive
from ._oauth_callback import handle_callback
from ._partner_api import PARTNER_PATHS, PartnerApi
from ._partner_oauth import PartnerConnection
from ._tokens import TokenEndpoint
from ._webhook import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    RecentEvents,
    parse_stage_change,
    signature_problem,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from ._webhook import StageChange

__all__ = ["MAX_REQUEST_BYTES", "GreenhouseConnector"]

WEBHOOK_PATH = "/webhook"


def _unique(emails: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for email in emails:
        seen.setdefault(email.strip().casefold(), email.strip())
    return tuple(seen.values())


class GreenhouseConnector(Connector):
    """Greenhouse: web hook mode (`POST /webhook`), Assessment Partner mode (`list_tests`,
    `send_test`, `test_status`, `request_errors`), or both, under `/connectors/{tenant}/`;
    plus `GET /oauth/callback` for a partner integration's connection."""

    kind: ClassVar[str] = "greenhouse"
    Config: ClassVar[type[Any]] = GreenhouseConfig
    config: GreenhouseConfig

    def __init__(
        self,
        config: GreenhouseConfig,
        context: ConnectorContext,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(config, context)
        self.events = RecentEvents()
        """Greenhouse-Event-IDs already handled (a bounded memory; see the README)."""
        self.connection: PartnerConnection | None = None
        """A partner integration's connection (authorization code grant), if configured."""
        self.harvest: HarvestClient | None = None
        self._writer: CandidateWriter | None = None
        self._keep_alive: KeepAlive | None = None
        self._routes: dict[str, tuple[str, Handler]] = {}
        oauth = config.oauth
        if oauth is not None:
            endpoint = TokenEndpoint(
                config.token_url,
                oauth.client_id,
                oauth.client_secret,
                context.transport,
                clock=context.now,
            )
            auth: HarvestAuth
            if oauth.partner:
                self.connection = PartnerConnection(oauth, endpoint, context)
                auth = self.connection
                self._routes[CALLBACK_PATH] = ("GET", self._oauth_callback)
            else:
                assert oauth.user_id is not None  # the configuration requires it
                auth = ClientCredentialsAuth(endpoint, oauth.user_id, clock=context.now)
            self.harvest = HarvestClient(
                config.harvest_url,
                auth,
                context.transport,
                window=config.rate_limit_window,
                on_behalf_of=config.on_behalf_of,
                sleep=sleep,
                clock=clock,
            )
            self._writer = CandidateWriter(
                self.harvest, context.state, config, log=context.log, clock=clock
            )
        if config.webhook_enabled:
            self._routes[WEBHOOK_PATH] = ("POST", self._webhook)
        self._partner: PartnerApi | None = None
        if config.partner is not None:
            self._partner = PartnerApi(config.partner, context, self.harvest, self._invite)
            if config.partner_enabled:
                self._routes.update(self._partner.routes())
        if self.connection is not None and oauth is not None:
            self._keep_alive = KeepAlive(
                self.connection.keep_alive,
                oauth.keep_alive_interval,
                name=f"greenhouse-keep-alive:{context.tenant}",
                on_error=self._keep_alive_failed,
            )
            self._keep_alive.start()

    @property
    def is_push(self) -> bool:
        """Always: Greenhouse calls the connector in both modes."""
        return True

    @property
    def is_pull(self) -> bool:
        return False

    def close(self) -> None:
        """Stop renewing the partner connection's tokens."""
        if self._keep_alive is not None:
            self._keep_alive.stop()

    def _keep_alive_failed(self, exc: Exception) -> None:
        self.context.log(
            "greenhouse.oauth_keep_alive_failed",
            level="warning",
            error=f"{type(exc).__name__}: {exc}",
        )

    # Routing

    def wsgi_app(self) -> WSGIApplication:
        """The connector's endpoints, mounted at `/connectors/{tenant}/`."""
        return self._app

    def _app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            reply = self._route(environ)
        except Exception as exc:  # a bug or a store failure must not show a traceback
            self.context.log(
                "greenhouse.request_error",
                level="error",
                error=f"{type(exc).__name__}: {exc}",
            )
            reply = error(500, "internal error (see the connector's log)")
        return respond(start_response, reply)

    def _route(self, environ: WSGIEnvironment) -> Reply:
        path = str(environ.get("PATH_INFO") or "/")
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        route = self._routes.get(path)
        if route is None:
            served = ", ".join(f"{m} {p}" for p, (m, _) in self._routes.items())
            return error(404, f"no such route; this connector serves {served}")
        allowed, handler = route
        if method != allowed:
            return Reply(405, {"message": f"use {allowed}"}, (("Allow", allowed),))
        return handler(environ)

    def _invite(self, invitation: Invitation) -> OrderRecord | Reply:
        """`context.invite`, or the answer that says why the order cannot be made now."""
        try:
            return self.context.invite(invitation)
        except RetryableError as exc:
            return retry_later(str(exc), exc.retry_after)
        except StoreUnavailableError:
            return retry_later("the connector's store is unavailable; try again later")
        except ConfigError as exc:
            self.context.log(
                "greenhouse.order_unusable",
                level="error",
                application_id=invitation.application_id,
                problems="; ".join(exc.problems),
            )
            return error(422, "no assessment fits this request", errors=list(exc.problems))

    # Partner integration: the browser coming back from Greenhouse

    def _oauth_callback(self, environ: WSGIEnvironment) -> Reply:
        assert self.connection is not None
        requests = AuthorizationRequests(self.context.state, self.context.now)
        return handle_callback(
            environ,
            requests,
            self.connection,
            tenant=self.context.tenant,
            log=self.context.log,
        )

    # Web hook mode

    def _webhook(self, environ: WSGIEnvironment) -> Reply:
        settings = self.config.webhook
        assert settings is not None
        try:
            body = read_body(environ, MAX_REQUEST_BYTES)
        except RequestBodyError as exc:
            return error(exc.status, str(exc))
        problem = signature_problem(
            body, header(environ, SIGNATURE_HEADER), settings.secret_key.reveal()
        )
        if problem is not None:
            self.context.log("greenhouse.webhook_rejected", level="warning", reason=problem)
            return error(401, problem)
        event_id = (header(environ, EVENT_ID_HEADER) or "").strip() or None
        if event_id is not None and event_id in self.events:
            self.context.log("greenhouse.webhook_duplicate", event_id=event_id)
            return Reply(200, {"status": "duplicate", "event_id": event_id})
        try:
            data = codec.parse_json(body, what="Greenhouse web hook")
        except PayloadError as exc:
            return error(400, str(exc))
        action = data.get("action") if isinstance(data, dict) else None
        if action == "ping":
            reply = Reply(200, {"status": "ok"})
        elif action != "candidate_stage_change":
            reply = Reply(200, {"status": "ignored", "reason": f"action {action!r} is not used"})
        else:
            try:
                change = parse_stage_change(data)
            except PayloadError as exc:
                return error(422, "invalid candidate_stage_change", errors=list(exc.problems))
            reply = self._stage_change(change)
        if reply.status == 200 and event_id is not None:
            self.events.add(event_id)
        return reply

    def _stage_change(self, change: StageChange) -> Reply:
        settings = self.config.webhook
        assert settings is not None
        ignored = None
        if change.prospect or change.job_id is None:
            ignored = "a prospect application (no job stage)"
        elif not any(
            stage.matches(change.stage_id, change.stage_name, change.job_id)
            for stage in settings.stages
        ):
            ignored = f"stage {change.stage_name or change.stage_id!r} does not order an assessment"
        if ignored is not None or change.job_id is None:
            return Reply(200, {"status": "ignored", "reason": ignored})
        if change.email is None:
            self.context.log(
                "greenhouse.webhook_unusable",
                level="error",
                application_id=change.application_id,
                reason="the candidate has no valid e-mail address",
            )
            return error(
                422,
                f"candidate {change.candidate_id} has no valid e-mail address to invite",
            )
        known = self.context.find_order(change.application_id)
        if known is None:
            team: tuple[str, ...] = ()
            if self.config.hiring_team_collaborators:
                try:
                    team = hiring_team_emails(self._require_harvest(), change.job_id)
                except RetryableError as exc:
                    return retry_later(str(exc), exc.retry_after)
                except ConnectorError as exc:
                    self.context.log(
                        "greenhouse.hiring_team_unavailable",
                        level="error",
                        job_id=change.job_id,
                        error=str(exc),
                    )
            invitation = Invitation(
                application_id=change.application_id,
                job=AtsJob(
                    id=change.job_id,
                    title=change.job_name,
                    description=change.job_description,
                    department=change.department,
                    hiring_team=team,
                ),
                candidate=AtsCandidate(
                    id=change.candidate_id,
                    email=change.email,
                    name=change.candidate_name,
                ),
                metadata={
                    "mode": "webhook",
                    "stage": change.stage_name or change.stage_id or "",
                },
            )
            outcome = self._invite(invitation)
            if isinstance(outcome, Reply):
                return outcome
            known = outcome
        self.context.log(
            "greenhouse.stage_change",
            application_id=known.application_id,
            result_id=known.result_id,
        )
        return Reply(
            200,
            {
                "status": "ordered",
                "application_id": known.application_id,
                "result_id": known.result_id,
                "state": known.state.value,
            },
        )

    def map_order(self, invitation: Invitation, choice: AssessmentChoice) -> OrderDraft:
        """The default mapping, plus the job's hiring team as collaborators when configured."""
        draft = super().map_order(invitation, choice)
        if not self.config.hiring_team_collaborators or not invitation.job.hiring_team:
            return draft
        collaborators = _unique((*draft.collaborators, *invitation.job.hiring_team))
        return OrderDraft(
            recruitment=draft.recruitment,
            candidate=draft.candidate,
            lens=draft.lens,
            locale=draft.locale,
            collaborators=collaborators,
        )

    # Results

    def push_result(self, pushback: Pushback) -> None:
        """Partner-mode orders: PATCH the completion url. Web-hook orders: a note (once per
        result version) and the configured candidate custom fields."""
        if pushback.order.metadata.get("mode") == "partner":
            if self._partner is None:
                raise PermanentError(
                    "partner mode is no longer configured for this tenant, so the test cannot "
                    "be marked complete; add [...ats.partner] back"
                )
            self._partner.complete(pushback)
            return
        writer = self._writer
        if writer is None:
            raise PermanentError(
                "writing results back needs Harvest v3: set [...ats.oauth] for the tenant"
            )
        order = pushback.order
        writer.write(
            order,
            pushback.result,
            pushback.version,
            self._lens_name(order.order.lens_id),
        )

    def _lens_name(self, lens_id: str) -> str | None:
        try:
            lens = self.context.assessio_config().find_lens(lens_id)
        except AssessioError:
            return None
        return lens.name if lens is not None else None

    def _require_harvest(self) -> HarvestClient:
        if self.harvest is None:
            raise PermanentError("this needs Harvest v3: set [...ats.oauth] for the tenant")
        return self.harvest

    # Check

    def check(self) -> str:
        """Harvest: the connection or credentials, the user writes are attributed to and the
        custom field keys; partner mode needs nothing from Greenhouse until it calls."""
        said: list[str] = []
        if self.harvest is not None:
            said.extend(self._check_harvest(self.harvest))
        if self.config.webhook_enabled:
            said.append(f"web hooks are received at {WEBHOOK_PATH}")
        if self.config.partner_enabled:
            said.append("the Assessment Partner API is served (" + ", ".join(PARTNER_PATHS) + ")")
        return "; ".join(said)

    def _check_harvest(self, harvest: HarvestClient) -> list[str]:
        said: list[str] = []
        oauth = self.config.oauth
        if self.connection is not None:
            problem = self.connection.problem()
            if problem is not None:
                raise PermanentError(problem)
        harvest.first_page("users", {}, action="reach Harvest v3", per_page=1)
        said.append(f"Harvest v3 at {harvest.base_url} accepted the OAuth token")
        if self.connection is not None:
            tokens = self.connection.stored()
            if tokens is not None:
                said.append(f"partner connection {tokens.describe()}")
        elif oauth is not None and oauth.user_id is not None:
            user = harvest.find("users", str(oauth.user_id), action=f"read user {oauth.user_id}")
            if user is None or user.get("deactivated") is True:
                raise PermanentError(
                    f"oauth.user_id {oauth.user_id} is not an active Greenhouse user; writes "
                    "are attributed to it"
                )
            said.append(
                f"writes are attributed to user {oauth.user_id} ({user.get('name') or 'unnamed'})"
            )
        keys = [key for _, key in self.config.custom_fields.items()]
        if keys and self._writer is not None:
            types = self._writer.custom_field_types(force=True)
            missing = [key for key in keys if key not in types]
            if missing:
                raise PermanentError(
                    "these ats.custom_fields keys are not candidate custom fields in "
                    f"Greenhouse: {', '.join(missing)}"
                )
            said.append(f"custom fields {', '.join(keys)} exist")
        return said
