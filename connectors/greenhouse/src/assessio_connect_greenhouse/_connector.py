"""`GreenhouseConnector`: web hooks and Assessment Partner calls in, results out through
Harvest v3 (a note and custom fields on the candidate) or the partner completion PATCH."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import attrs

from assessio_connect import (
    Answer,
    AssessioError,
    AssessmentChoice,
    Connector,
    ConnectorContext,
    InboundEvent,
    Invitation,
    OrderDraft,
    PermanentError,
    Pushback,
    Request,
    Routes,
)

from ._auth import ClientCredentialsAuth, HarvestAuth
from ._authorization import CALLBACK_PATH, AuthorizationRequests
from ._candidate_writer import CandidateWriter
from ._config import GreenhouseConfig
from ._harvest import HarvestClient
from ._jobs import unique_emails
from ._keepalive import KeepAlive
from ._oauth_callback import handle_callback
from ._partner_api import PARTNER_PATHS, SEND_TEST_EVENT, PartnerApi
from ._partner_oauth import PartnerConnection
from ._tokens import TokenEndpoint
from ._webhook_mode import WebhookMode

__all__ = ["MAX_REQUEST_BYTES", "GreenhouseConnector", "greenhouse_error"]

WEBHOOK_PATH = "/webhook"
MAX_REQUEST_BYTES = 1024 * 1024
RETRY_AFTER = 60.0
"""Seconds Greenhouse is asked to wait when the connector cannot take a call right now."""


def greenhouse_error(
    status: int,
    message: str,
    *,
    headers: Iterable[tuple[str, str]] = (),
    problems: list[str] | None = None,
    **extra: Any,
) -> Answer:
    """An error as Greenhouse's APIs word theirs: `{"message": …, "errors": [problems]}`."""
    body: dict[str, Any] = {"message": message, **extra}
    if problems is not None:
        body["errors"] = problems
    return Answer.json(status, body, headers=headers)


class GreenhouseConnector(Connector[GreenhouseConfig]):
    """Greenhouse: web hook mode (`POST /webhook`), Assessment Partner mode (`list_tests`,
    `send_test`, `test_status`, `request_errors`), or both, under `/connectors/{tenant}/`;
    plus `GET /oauth/callback` for a partner integration's connection."""

    kind: ClassVar[str] = "greenhouse"

    def __init__(
        self,
        config: GreenhouseConfig,
        context: ConnectorContext,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(config, context)
        self.connection: PartnerConnection | None = None
        """A partner integration's connection (authorization code grant), if configured."""
        self.harvest: HarvestClient | None = None
        self._writer: CandidateWriter | None = None
        self._keep_alive: KeepAlive | None = None
        self.routes = Routes(
            max_body_bytes=MAX_REQUEST_BYTES,
            log=context.log,
            name="greenhouse",
            retry_after=RETRY_AFTER,
            error_answer=greenhouse_error,
        )
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
                self.routes.add("GET", CALLBACK_PATH, self._oauth_callback)
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
        self._webhooks: WebhookMode | None = None
        if config.webhook is not None:
            self._webhooks = WebhookMode(
                config.webhook,
                context,
                self._require_harvest,
                hiring_team=config.hiring_team_collaborators,
            )
            if config.webhook_enabled:
                self.routes.add("POST", WEBHOOK_PATH, self._webhooks.accept)
        self._partner: PartnerApi | None = None
        if config.partner is not None:
            self._partner = PartnerApi(config.partner, context, self.harvest)
            if config.partner_enabled:
                self._partner.add_routes(self.routes)
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

    def wsgi_app(self) -> Routes:
        """The connector's endpoints, mounted at `/connectors/{tenant}/`."""
        return self.routes

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

    # Partner integration: the browser coming back from Greenhouse

    def _oauth_callback(self, request: Request) -> Answer:
        assert self.connection is not None
        requests = AuthorizationRequests(self.context.state, self.context.now)
        return handle_callback(
            request, requests, self.connection, tenant=self.context.tenant, log=self.context.log
        )

    # Web hook mode

    def handle_event(self, event: InboundEvent) -> None:
        """What a route queued: a sent test (see `PartnerApi`) or a stage change (see
        `WebhookMode`); either orders its candidate."""
        if event.key.startswith(SEND_TEST_EVENT):
            if self._partner is None:
                raise PermanentError(
                    f"event {event.key!r} was queued by partner mode, which is no longer "
                    "configured for this tenant; add [...ats.partner] back, then retry it"
                )
            self._partner.handle_sent_test(event)
            return
        if self._webhooks is None:
            raise PermanentError(
                f"event {event.key!r} was queued by web hook mode, which is no longer configured "
                "for this tenant; add [...ats.webhook] back, then retry it"
            )
        self._webhooks.handle(event)

    def map_order(self, invitation: Invitation, choice: AssessmentChoice) -> OrderDraft:
        """The default mapping, plus the job's hiring team as collaborators when configured."""
        draft = super().map_order(invitation, choice)
        if not self.config.hiring_team_collaborators or not invitation.job.hiring_team:
            return draft
        team = unique_emails((*draft.collaborators, *invitation.job.hiring_team))
        return attrs.evolve(draft, collaborators=team)

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
        elif self._writer is None:
            raise PermanentError(
                "writing results back needs Harvest v3: set [...ats.oauth] for the tenant"
            )
        else:
            self._writer.write(pushback, self._lens_name(pushback.order.order.lens_id))

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
