"""`GreenhouseConnector`: web hooks and Assessment Partner calls in, results out through the
Harvest API (a note and custom fields on the candidate) or the partner completion PATCH."""

from __future__ import annotations

import hmac
import math
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qs, quote

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
    APIError,
    AssessioError,
    ConfigError,
    ConnectorError,
    PayloadError,
    PermanentError,
    RetryableError,
    StoreUnavailableError,
    TransportError,
)
from assessio_connect.models import email_problem
from assessio_connect.store import OrderRecord

from ._auth import basic_header, error_text
from ._config import GreenhouseConfig, PartnerSettings
from ._harvest import HarvestClient
from ._http import Reply, basic_credentials, error, respond
from ._partner import interview_id_for, parse_send_test, status_answer, tests_answer
from ._webhook import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    RecentEvents,
    parse_stage_change,
    plain_text,
    signature_problem,
)
from ._writeback import custom_field_entries, note_body, written_versions

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from ._partner import TestOrder
    from ._webhook import StageChange

__all__ = ["MAX_REQUEST_BYTES", "GreenhouseConnector"]

MAX_REQUEST_BYTES = 1024 * 1024
DEFAULT_RETRY_AFTER = 60
"""Seconds Greenhouse is asked to wait when the connector cannot take a call right now."""
FIELD_CACHE_SECONDS = 600.0
HIRING_ROLES = ("hiring_managers", "recruiters", "coordinators", "sourcers")
WEBHOOK_PATH = "/webhook"
PARTNER_PATHS = ("/list_tests", "/send_test", "/test_status", "/request_errors")

Handler = Callable[["WSGIEnvironment"], Reply]


def _unique(emails: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for email in emails:
        seen.setdefault(email.strip().casefold(), email.strip())
    return tuple(seen.values())


def _retry_later(message: str, retry_after: float | None = None) -> Reply:
    wait = math.ceil(retry_after) if retry_after is not None else DEFAULT_RETRY_AFTER
    return Reply(503, {"message": message}, (("Retry-After", str(max(wait, 1))),))


class GreenhouseConnector(Connector):
    """Greenhouse: web hook mode (`POST /webhook`), Assessment Partner mode (`list_tests`,
    `send_test`, `test_status`, `request_errors`), or both, under `/connectors/{tenant}/`."""

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
        self.harvest = (
            HarvestClient(config, context.transport, sleep=sleep, clock=clock)
            if config.has_harvest
            else None
        )
        self.events = RecentEvents()
        """Greenhouse-Event-IDs already handled (a bounded memory; see the README)."""
        self._clock = clock
        self._fields_lock = threading.Lock()
        self._field_types: tuple[float, dict[str, str]] | None = None
        self._routes: dict[str, tuple[str, Handler]] = {}
        if config.webhook_enabled:
            self._routes[WEBHOOK_PATH] = ("POST", self._webhook)
        if config.partner_enabled:
            self._routes.update(
                {
                    "/list_tests": ("GET", self._list_tests),
                    "/send_test": ("POST", self._send_test),
                    "/test_status": ("GET", self._test_status),
                    "/request_errors": ("POST", self._request_errors),
                }
            )

    @property
    def is_push(self) -> bool:
        """Always: Greenhouse calls the connector in both modes."""
        return True

    @property
    def is_pull(self) -> bool:
        return False

    # Routing

    def wsgi_app(self) -> WSGIApplication:
        """The connector's endpoints, mounted at `/connectors/{tenant}/`."""
        return self._app

    def _app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            reply = self._route(environ)
        except Exception as exc:  # a bug or a store failure must not show a traceback
            self.context.log(
                "greenhouse.request_error", level="error", error=f"{type(exc).__name__}: {exc}"
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
            return _retry_later(str(exc), exc.retry_after)
        except StoreUnavailableError:
            return _retry_later("the connector's store is unavailable; try again later")
        except ConfigError as exc:
            self.context.log(
                "greenhouse.order_unusable",
                level="error",
                application_id=invitation.application_id,
                problems="; ".join(exc.problems),
            )
            return error(422, "no assessment fits this request", errors=list(exc.problems))

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
            self.context.log("greenhouse.webhook_rejected", level="warning", why=problem)
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
                why="the candidate has no valid e-mail address",
            )
            return error(
                422, f"candidate {change.candidate_id} has no valid e-mail address to invite"
            )
        known = self.context.find_order(change.application_id)
        if known is None:
            team: tuple[str, ...] = ()
            if self.config.hiring_team_collaborators:
                try:
                    team = self._hiring_team(change.job_id)
                except RetryableError as exc:
                    return _retry_later(str(exc), exc.retry_after)
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
                    id=change.candidate_id, email=change.email, name=change.candidate_name
                ),
                metadata={"mode": "webhook", "stage": change.stage_name or change.stage_id or ""},
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

    def _hiring_team(self, job_id: str) -> tuple[str, ...]:
        """E-mail addresses of the job's hiring team (active users only)."""
        harvest = self._require_harvest()
        team = harvest.get(
            f"/v1/jobs/{quote(job_id, safe='')}/hiring_team",
            action=f"read the hiring team of job {job_id}",
        )
        user_ids: list[str] = []
        for role in HIRING_ROLES:
            members = team.get(role) if isinstance(team, dict) else None
            for member in members if isinstance(members, list) else []:
                user_id = (
                    member.get("id", member.get("user_id")) if isinstance(member, dict) else None
                )
                valid = isinstance(user_id, (int, str)) and not isinstance(user_id, bool)
                if valid and str(user_id) not in user_ids:
                    user_ids.append(str(user_id))
        emails: list[str] = []
        for user_id in user_ids:
            user = harvest.get(
                f"/v1/users/{quote(user_id, safe='')}", action=f"read hiring team user {user_id}"
            )
            if not isinstance(user, dict) or user.get("disabled") is True:
                continue
            candidates = [user.get("primary_email_address"), *(user.get("emails") or [])]
            email = next((e for e in candidates if email_problem(e) is None), None)
            if isinstance(email, str):
                emails.append(email)
        return _unique(emails)

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

    # Assessment Partner mode

    def _partner_settings(self) -> PartnerSettings:
        settings = self.config.partner
        assert settings is not None
        return settings

    def _partner_denied(self, environ: WSGIEnvironment) -> Reply | None:
        credentials = basic_credentials(environ)
        key = self._partner_settings().api_key.reveal().encode("utf-8")
        if credentials is not None and hmac.compare_digest(credentials[0].encode("utf-8"), key):
            return None
        self.context.log(
            "greenhouse.partner_rejected",
            level="warning",
            path=str(environ.get("PATH_INFO") or ""),
            why="missing Basic credentials" if credentials is None else "unknown API key",
        )
        return Reply(
            401,
            {"message": "invalid API key"},
            (("WWW-Authenticate", 'Basic realm="assessio-connect"'),),
        )

    def _list_tests(self, environ: WSGIEnvironment) -> Reply:
        denied = self._partner_denied(environ)
        if denied is not None:
            return denied
        try:
            config = self.context.assessio_config()
        except (APIError, TransportError) as exc:
            return _retry_later(f"cannot read the lenses from Assessio right now: {exc}")
        return Reply(200, tests_answer(config))

    def _send_test(self, environ: WSGIEnvironment) -> Reply:
        denied = self._partner_denied(environ)
        if denied is not None:
            return denied
        try:
            data = codec.parse_json(read_body(environ, MAX_REQUEST_BYTES), what="send_test request")
        except RequestBodyError as exc:
            return error(exc.status, str(exc))
        except PayloadError as exc:
            return error(400, str(exc))
        try:
            order = parse_send_test(data, self._partner_settings().completion_hosts)
        except PayloadError as exc:
            return error(422, "invalid send_test request", errors=list(exc.problems))
        interview_id = interview_id_for(order.completion_url)
        known = self.context.find_order(interview_id)
        if known is None:
            invitation = Invitation(
                application_id=interview_id,
                job=self._partner_job(order),
                candidate=AtsCandidate(
                    id=order.application_id or interview_id,
                    email=order.email,
                    name=f"{order.first_name} {order.last_name}".strip(),
                ),
                lens=order.partner_test_id,
                metadata={
                    "mode": "partner",
                    "completion_url": order.completion_url,
                    "partner_test_id": order.partner_test_id,
                    "greenhouse_application_id": order.application_id or "",
                },
            )
            outcome = self._invite(invitation)
            if isinstance(outcome, Reply):
                return outcome
            known = outcome
        self.context.log(
            "greenhouse.test_sent", partner_interview_id=interview_id, result_id=known.result_id
        )
        return Reply(200, {"partner_interview_id": interview_id})

    def _partner_job(self, order: TestOrder) -> AtsJob:
        """The Greenhouse job behind a sent test (read through Harvest when possible), else one
        recruitment per test: send_test itself does not name the job."""
        if self.harvest is not None and order.application_id is not None:
            try:
                return self._job_of_application(order.application_id)
            except ConnectorError as exc:
                self.context.log(
                    "greenhouse.partner_job_unknown",
                    level="warning",
                    greenhouse_application_id=order.application_id,
                    error=str(exc),
                )
        name = order.partner_test_id
        try:
            lens = self.context.assessio_config().find_lens(order.partner_test_id)
            name = lens.name if lens is not None else name
        except AssessioError:
            pass
        return AtsJob(id=f"test-{order.partner_test_id}", title=f"{name} (Greenhouse assessment)")

    def _job_of_application(self, application_id: str) -> AtsJob:
        harvest = self._require_harvest()
        application = harvest.get(
            f"/v1/applications/{application_id}",
            action=f"read application {application_id}",
        )
        jobs = application.get("jobs") if isinstance(application, dict) else None
        first = jobs[0] if isinstance(jobs, list) and jobs else None
        job_id = first.get("id") if isinstance(first, dict) else None
        if not isinstance(job_id, (int, str)) or isinstance(job_id, bool):
            raise PermanentError(f"application {application_id} has no job")
        job = harvest.get(f"/v1/jobs/{quote(str(job_id), safe='')}", action=f"read job {job_id}")
        if not isinstance(job, dict):
            raise PermanentError(f"job {job_id} could not be read")
        department = None
        for item in job.get("departments") or []:
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                department = item["name"]
                break
        notes = job.get("notes")
        name = job.get("name")
        return AtsJob(
            id=str(job_id),
            title=name if isinstance(name, str) and name.strip() else f"Greenhouse job {job_id}",
            description=plain_text(notes) if isinstance(notes, str) else "",
            department=department,
        )

    def _test_status(self, environ: WSGIEnvironment) -> Reply:
        denied = self._partner_denied(environ)
        if denied is not None:
            return denied
        query = parse_qs(str(environ.get("QUERY_STRING") or ""))
        interview_id = (query.get("partner_interview_id") or [""])[0].strip()
        if not interview_id:
            return error(400, "partner_interview_id is required")
        order = self.context.find_order(interview_id)
        if order is None or order.metadata.get("mode") != "partner":
            return error(404, f"no test with partner_interview_id {interview_id!r}")
        record = self.context.latest_result(order.result_id)
        if record is None:
            return Reply(200, status_answer(None, None))
        return Reply(200, status_answer(record.result, record.version))

    def _request_errors(self, environ: WSGIEnvironment) -> Reply:
        denied = self._partner_denied(environ)
        if denied is not None:
            return denied
        try:
            data = codec.parse_json(read_body(environ, MAX_REQUEST_BYTES), what="request_errors")
        except RequestBodyError as exc:
            return error(exc.status, str(exc))
        except PayloadError:
            data = None
        fields: dict[str, Any] = {}
        if isinstance(data, dict):
            for key in ("api_call", "partner_test_id", "partner_test_name", "partner_interview_id"):
                if isinstance(data.get(key), (str, int)):
                    fields[key] = str(data[key])[:200]
            errors = data.get("errors")
            if isinstance(errors, list):
                fields["errors"] = "; ".join(str(item) for item in errors)[:1000]
        self.context.log("greenhouse.partner_request_error", level="error", **fields)
        return Reply(200, {})

    # Results

    def push_result(self, pushback: Pushback) -> None:
        """Partner-mode orders: PATCH the completion url. Web-hook orders: an activity-feed note
        (once per result version) and the configured candidate custom fields."""
        if pushback.order.metadata.get("mode") == "partner":
            self._complete_test(pushback)
        else:
            self._write_candidate(pushback)

    def _complete_test(self, pushback: Pushback) -> None:
        order = pushback.order
        url = order.metadata.get("completion_url")
        settings = self.config.partner
        if not url:
            raise PermanentError(f"order {order.result_id} has no Greenhouse completion url")
        if settings is None:
            raise PermanentError(
                "partner mode is no longer configured for this tenant, so the test cannot be "
                "marked complete; add [...ats.partner] back"
            )
        headers = {"Authorization": basic_header(settings.api_key.reveal())}
        action = f"mark test {order.application_id} complete in Greenhouse"
        try:
            self.context.transport.send("PATCH", url, headers=headers)
        except TransportError as exc:
            raise RetryableError(f"could not {action}: {exc}") from None
        except APIError as exc:
            detail = error_text(exc.body_excerpt)
            suffix = f": {detail}" if detail else ""
            message = f"could not {action}: Greenhouse answered HTTP {exc.status}{suffix}"
            if exc.status in (408, 425, 429) or exc.status >= 500:
                raise RetryableError(message, retry_after=exc.retry_after) from None
            if exc.status == 401:
                message += "; check ats.partner.api_key"
            raise PermanentError(message) from None
        self.context.log(
            "greenhouse.test_completed",
            partner_interview_id=order.application_id,
            result_id=order.result_id,
            version=pushback.version,
        )

    def _write_candidate(self, pushback: Pushback) -> None:
        harvest = self._require_harvest()
        order, result, version = pushback.order, pushback.result, pushback.version
        candidate = quote(order.candidate_id, safe="")
        fields = self.config.custom_fields.items()
        entries: list[dict[str, Any]] = []
        if fields:
            entries, problems = custom_field_entries(result, fields, self._custom_field_types())
            if problems:
                raise PermanentError(
                    "cannot write the result into the candidate's custom fields: "
                    + "; ".join(problems)
                    + " (fix ats.custom_fields, then requeue the delivery)"
                )
        feed = self._notes(candidate)
        written = written_versions(feed, result.result_id)
        if any(other > version for other in written):
            self.context.log(
                "greenhouse.result_stale",
                candidate_id=order.candidate_id,
                result_id=order.result_id,
                version=version,
                written=max(written),
            )
            return
        if version not in written:
            harvest.write(
                "POST",
                f"/v1/candidates/{candidate}/activity_feed/notes",
                {
                    "user_id": self.config.author,
                    "body": note_body(result, version, self._lens_name(order.order.lens_id)),
                    "visibility": self.config.note_visibility,
                },
                action=f"add the result note to candidate {order.candidate_id}",
            )
        if entries:
            harvest.write(
                "PATCH",
                f"/v1/candidates/{candidate}",
                {"custom_fields": entries},
                action=f"write custom fields of candidate {order.candidate_id}",
            )
        self.context.log(
            "greenhouse.result_written",
            candidate_id=order.candidate_id,
            result_id=order.result_id,
            version=version,
            note="already there" if version in written else "added",
            custom_fields=len(entries),
        )

    def _notes(self, candidate: str) -> list[Any]:
        """Every note in the candidate's activity feed (following `Link` pages if any)."""
        harvest = self._require_harvest()
        notes: list[Any] = []
        for page in harvest.pages(
            f"/v1/candidates/{candidate}/activity_feed",
            action=f"read the activity feed of candidate {candidate}",
        ):
            found = page.get("notes") if isinstance(page, dict) else None
            if isinstance(found, list):
                notes.extend(found)
        return notes

    def _custom_field_types(self, *, force: bool = False) -> dict[str, str]:
        """Candidate custom fields' `name_key` -> `value_type` (cached; read again when a
        configured key is missing, in case the field was just created)."""
        wanted = {key for _, key in self.config.custom_fields.items()}
        with self._fields_lock:
            cached = self._field_types
            fresh = cached is not None and self._clock() - cached[0] < FIELD_CACHE_SECONDS
            if cached is not None and fresh and not force and wanted <= cached[1].keys():
                return cached[1]
            items = self._require_harvest().get_all(
                "/v1/custom_fields/candidate", action="list the candidate custom fields"
            )
            types = {
                str(item["name_key"]): str(item.get("value_type"))
                for item in items
                if isinstance(item, dict) and isinstance(item.get("name_key"), str)
            }
            self._field_types = (self._clock(), types)
            return types

    def _lens_name(self, lens_id: str) -> str | None:
        try:
            lens = self.context.assessio_config().find_lens(lens_id)
        except AssessioError:
            return None
        return lens.name if lens is not None else None

    def _require_harvest(self) -> HarvestClient:
        if self.harvest is None:
            raise PermanentError(
                "this needs Harvest access: set ats.api_key or [...ats.oauth] for the tenant"
            )
        return self.harvest

    # Check

    def check(self) -> str:
        """Harvest: the credentials, the `on_behalf_of` user and the custom field keys;
        partner mode needs nothing from Greenhouse until it calls."""
        said: list[str] = []
        if self.harvest is not None:
            harvest = self.harvest
            harvest.get("/v1/users?per_page=1", action="reach Harvest")
            said.append(f"Harvest at {harvest.base_url} accepted the credentials")
            author = self.config.author
            if author is not None:
                user = harvest.get(f"/v1/users/{author}", action=f"read user {author}")
                name = user.get("name") if isinstance(user, dict) else None
                said.append(f"on_behalf_of is user {author} ({name or 'unnamed'})")
            keys = [key for _, key in self.config.custom_fields.items()]
            if keys:
                types = self._custom_field_types(force=True)
                missing = [key for key in keys if key not in types]
                if missing:
                    raise PermanentError(
                        "these ats.custom_fields keys are not candidate custom fields in "
                        f"Greenhouse: {', '.join(missing)}"
                    )
                said.append(f"custom fields {', '.join(keys)} exist")
        if self.config.webhook_enabled:
            said.append(f"web hooks are received at {WEBHOOK_PATH}")
        if self.config.partner_enabled:
            said.append("the Assessment Partner API is served (" + ", ".join(PARTNER_PATHS) + ")")
        return "; ".join(said)
