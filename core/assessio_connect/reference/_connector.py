"""`ReferenceConnector`: the reference ATS's events in, its invitations polled, results written
back, all as JSON over HTTP (the protocol is described in the package docstring)."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, urlencode, urlsplit

import attrs

from assessio_connect import codec
from assessio_connect._strict import json_type
from assessio_connect._wsgi import RequestBodyError, header, read_body
from assessio_connect.config import Secret
from assessio_connect.connector import (
    AtsCandidate,
    AtsJob,
    Connector,
    ConnectorContext,
    Invitation,
    PollPage,
    Pushback,
    WSGIApplication,
)
from assessio_connect.errors import (
    APIError,
    ConfigError,
    ConnectorError,
    PayloadError,
    PermanentError,
    RetryableError,
    StoreUnavailableError,
    TransportError,
)
from assessio_connect.models import email_problem
from assessio_connect.transport import HTTPResponse

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = [
    "EVENTS_PATH",
    "MAX_EVENT_BYTES",
    "MAX_PAGE_SIZE",
    "SIGNATURE_HEADER",
    "ReferenceConfig",
    "ReferenceConnector",
    "parse_invitation",
    "sign",
]

EVENTS_PATH = "/events"
SIGNATURE_HEADER = "X-Reference-Signature"
SIGNATURE_PREFIX = "sha256="
MAX_EVENT_BYTES = 256 * 1024
MAX_PAGE_SIZE = 1000
RETRYABLE_STATUSES = frozenset({408, 425, 429})
DEFAULT_RETRY_AFTER = 5
_JSON = "application/json"
_WHAT = "reference event"


def sign(body: bytes, secret: str) -> str:
    """The `X-Reference-Signature` value for `body`: `sha256=<hex HMAC-SHA256>`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


# Configuration


def _strip_slash(value: str) -> str:
    return value.rstrip("/")


def _check_base_url(_inst: object, _attribute: attrs.Attribute[Any], value: str) -> None:
    try:
        parts = urlsplit(value)
    except ValueError:
        raise ValueError("base_url is not a valid URL") from None
    if "@" in parts.netloc:
        raise ValueError("base_url must not contain credentials; use api_token")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base_url must be an http:// or https:// URL, got {value!r}")
    if parts.query or parts.fragment:
        raise ValueError("base_url must not have a query or a fragment")


def _check_interval(_inst: object, _attribute: attrs.Attribute[Any], value: float) -> None:
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"poll_interval must be a positive number of seconds, not {value!r}")


def _check_page_size(_inst: object, _attribute: attrs.Attribute[Any], value: int) -> None:
    if not 1 <= value <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be from 1 to {MAX_PAGE_SIZE}, not {value!r}")


@attrs.frozen
class ReferenceConfig:
    """A tenant's `[tenants.NAME.ats]` table for `kind = "reference"`.

    `webhook_secret` turns on push style (the ATS POSTs events), `poll = true` pull style;
    at least one is needed, both may be on."""

    base_url: str = attrs.field(converter=_strip_slash, validator=_check_base_url)
    """The ATS's API root; calls go to `{base_url}/api/...`."""
    api_token: Secret
    """Sent as `Authorization: Bearer <api_token>` on every call to the ATS."""
    webhook_secret: Secret | None = None
    """Key of the events' `X-Reference-Signature` HMAC."""
    poll: bool = False
    poll_interval: float = attrs.field(default=30.0, validator=_check_interval)
    """Seconds between polls once a page said there is no more."""
    page_size: int = attrs.field(default=100, validator=_check_page_size)

    def __attrs_post_init__(self) -> None:
        if self.webhook_secret is None and not self.poll:
            raise ValueError(
                "the reference connector needs webhook_secret (to receive events), "
                "poll = true (to poll invitations), or both"
            )


# Reading invitations


class _Reader:
    """Collects every problem of one JSON object, each with its path."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, message: str, path: str) -> None:
        self.problems.append(f"{message} @ {path}")

    def text(self, data: Mapping[str, Any], key: str, path: str, *, required: bool) -> str | None:
        where = f"{path}.{key}"
        value = data.get(key)
        if value is None:
            if required:
                self.problem("required field missing", where)
            return None
        if not isinstance(value, str):
            self.problem(f"expected a string, got {json_type(value)}", where)
            return None
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            self.problem("string holds an unpaired surrogate (\\ud800-\\udfff)", where)
            return None
        if required and not value.strip():
            self.problem("must not be empty", where)
            return None
        return value

    def email(self, value: object, where: str) -> str | None:
        problem = email_problem(value)
        if problem:
            self.problem(problem, where)
            return None
        return value if isinstance(value, str) else None

    def table(self, data: Mapping[str, Any], key: str, path: str) -> dict[str, Any] | None:
        where = f"{path}.{key}"
        value = data.get(key)
        if value is None:
            self.problem("required field missing", where)
            return None
        if not isinstance(value, dict):
            self.problem(f"expected an object, got {json_type(value)}", where)
            return None
        return value


def _job(reader: _Reader, data: dict[str, Any]) -> AtsJob | None:
    path = "$.job"
    before = len(reader.problems)
    job_id = reader.text(data, "id", path, required=True)
    title = reader.text(data, "title", path, required=True)
    description = reader.text(data, "description", path, required=False)
    department = reader.text(data, "department", path, required=False)
    team = data.get("hiring_team")
    emails: list[str] = []
    if team is not None and not isinstance(team, list):
        reader.problem(f"expected an array, got {json_type(team)}", f"{path}.hiring_team")
    elif team:
        for index, item in enumerate(team):
            email = reader.email(item, f"{path}.hiring_team[{index}]")
            if email is not None:
                emails.append(email)
    if len(reader.problems) > before or job_id is None or title is None:
        return None
    return AtsJob(
        id=job_id,
        title=title,
        description=description or "",
        department=department,
        hiring_team=emails,
    )


def _candidate(reader: _Reader, data: dict[str, Any]) -> AtsCandidate | None:
    path = "$.candidate"
    before = len(reader.problems)
    candidate_id = reader.text(data, "id", path, required=True)
    email = None
    if data.get("email") is None:
        reader.problem("required field missing", f"{path}.email")
    else:
        email = reader.email(data["email"], f"{path}.email")
    name = reader.text(data, "name", path, required=False)
    if len(reader.problems) > before or candidate_id is None or email is None:
        return None
    return AtsCandidate(id=candidate_id, email=email, name=name or "")


def parse_invitation(data: object) -> Invitation:
    """An `Invitation` from an event body (or a polled item), or `PayloadError` with every
    problem as `message @ $.path`. Unknown fields are ignored."""
    if not isinstance(data, dict):
        raise PayloadError([f"expected a JSON object, got {json_type(data)} @ $"], what=_WHAT)
    reader = _Reader()
    reader.text(data, "event_id", "$", required=True)
    application_id = reader.text(data, "application_id", "$", required=True)
    job_data = reader.table(data, "job", "$")
    job = _job(reader, job_data) if job_data is not None else None
    candidate_data = reader.table(data, "candidate", "$")
    candidate = _candidate(reader, candidate_data) if candidate_data is not None else None
    lens = reader.text(data, "lens", "$", required=False)
    locale = reader.text(data, "locale", "$", required=False)
    if reader.problems or application_id is None or job is None or candidate is None:
        raise PayloadError(reader.problems, what=_WHAT)
    return Invitation(
        application_id=application_id,
        job=job,
        candidate=candidate,
        lens=lens or None,
        locale=locale or None,
    )


# The events endpoint (push style)


@attrs.frozen
class _Response:
    status: int
    data: Mapping[str, Any]
    headers: tuple[tuple[str, str], ...] = ()


def _signature_problem(body: bytes, presented: str | None, secret: str) -> str | None:
    """Why `presented` does not sign `body` with `secret`, or None when it does."""
    if not presented:
        return f"missing {SIGNATURE_HEADER} header"
    # WSGI hands headers over as latin-1 strings, so this encoding cannot fail.
    given = presented.strip().encode("latin-1")
    if not given.startswith(SIGNATURE_PREFIX.encode("ascii")):
        return f"{SIGNATURE_HEADER} must look like sha256=<hex HMAC-SHA256 of the body>"
    if not hmac.compare_digest(given, sign(body, secret).encode("ascii")):
        return f"{SIGNATURE_HEADER} does not match the body (check the webhook secret)"
    return None


class _EventsApp:
    """`POST /events` (relative to the connector's mount point) → `context.invite(...)`."""

    def __init__(self, context: ConnectorContext, secret: Secret) -> None:
        self._context = context
        self._secret = secret

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            response = self._handle(environ)
        except Exception as exc:  # a bug or a store failure must not show a traceback
            self._context.log(
                "reference.event_error", level="error", error=f"{type(exc).__name__}: {exc}"
            )
            response = _Response(500, {"error": "internal error (see the connector's log)"})
        # ASCII escapes keep every answer encodable, whatever an event put into a message.
        body = json.dumps(response.data, separators=(",", ":")).encode("ascii")
        status = f"{response.status} {HTTPStatus(response.status).phrase}"
        headers = [
            ("Content-Type", _JSON),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            *response.headers,
        ]
        start_response(status, headers)
        return [body]

    def _handle(self, environ: WSGIEnvironment) -> _Response:
        path = environ.get("PATH_INFO") or "/"
        if path != EVENTS_PATH:
            return _Response(404, {"error": f"no such route; events go to POST {EVENTS_PATH}"})
        if str(environ.get("REQUEST_METHOD", "")).upper() != "POST":
            return _Response(405, {"error": "use POST"}, (("Allow", "POST"),))
        try:
            body = read_body(environ, MAX_EVENT_BYTES)
        except RequestBodyError as exc:
            return _Response(exc.status, {"error": str(exc)})
        problem = _signature_problem(body, header(environ, SIGNATURE_HEADER), self._secret.reveal())
        if problem is not None:
            self._context.log(
                "reference.event_rejected", level="warning", status=401, reason=problem
            )
            return _Response(401, {"error": problem})
        try:
            data = codec.parse_json(body, what=_WHAT)
        except PayloadError as exc:
            return _Response(400, {"error": str(exc)})
        try:
            invitation = parse_invitation(data)
        except PayloadError as exc:
            return _Response(422, {"error": f"invalid {_WHAT}", "problems": list(exc.problems)})
        return self._invite(invitation)

    def _invite(self, invitation: Invitation) -> _Response:
        try:
            record = self._context.invite(invitation)
        except RetryableError as exc:
            wait = (
                math.ceil(exc.retry_after) if exc.retry_after is not None else DEFAULT_RETRY_AFTER
            )
            return _Response(503, {"error": str(exc)}, (("Retry-After", str(wait)),))
        except StoreUnavailableError:
            return _Response(
                503,
                {"error": "the connector's store is unavailable; try again later"},
                (("Retry-After", str(DEFAULT_RETRY_AFTER)),),
            )
        except ConfigError as exc:
            self._context.log(
                "reference.event_unusable",
                level="error",
                application_id=invitation.application_id,
                problems="; ".join(exc.problems),
            )
            return _Response(
                422, {"error": "no assessment fits this event", "problems": list(exc.problems)}
            )
        self._context.log(
            "reference.event",
            application_id=record.application_id,
            result_id=record.result_id,
        )
        return _Response(
            202,
            {
                "application_id": record.application_id,
                "result_id": record.result_id,
                "state": record.state.value,
            },
        )


# The connector


def _error_text(exc: APIError) -> str:
    """The ATS's `error` message from an error body, else the body excerpt."""
    try:
        data = json.loads(exc.body_excerpt)
    except ValueError:
        return exc.body_excerpt
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return str(data["error"])
    return exc.body_excerpt


class ReferenceConnector(Connector):
    """The reference ATS: events pushed to `/connectors/{tenant}/events` when `webhook_secret`
    is set, invitations polled when `poll = true`, results written back with a PUT."""

    kind: ClassVar[str] = "reference"
    Config: ClassVar[type[Any]] = ReferenceConfig
    config: ReferenceConfig

    def __init__(self, config: ReferenceConfig, context: ConnectorContext) -> None:
        super().__init__(config, context)

    @property
    def is_push(self) -> bool:
        """Push style exactly when the tenant configured a `webhook_secret`."""
        return self.config.webhook_secret is not None

    @property
    def is_pull(self) -> bool:
        """Pull style exactly when the tenant configured `poll = true`."""
        return self.config.poll

    def wsgi_app(self) -> WSGIApplication:
        """The events endpoint, `POST /events` under the connector's mount point."""
        secret = self.config.webhook_secret
        if secret is None:
            raise ConfigError(
                ["set webhook_secret to receive events from the reference ATS @ ats"],
                source=f"tenant {self.context.tenant}",
            )
        return _EventsApp(self.context, secret)

    def poll(self, cursor: str | None) -> PollPage:
        """One page of invitations after `cursor`; items that cannot be read are logged and
        skipped (retrying would not make them readable, and they must not block the rest)."""
        limit = self.config.page_size
        query = {"limit": str(limit)} if cursor is None else {"after": cursor, "limit": str(limit)}
        url = f"{self.config.base_url}/api/invitations?{urlencode(query)}"
        response = self._send("GET", url, action="poll invitations")
        data = self._json(response, "GET", url)
        items = data.get("invitations") if isinstance(data, dict) else None
        after = data.get("next") if isinstance(data, dict) else None
        if not isinstance(items, list) or not (after is None or isinstance(after, str)):
            raise PermanentError(
                f"the reference ATS answered GET {url} with something other than "
                '{"invitations": [...], "next": "<cursor>" | null}'
            )
        invitations: list[Invitation] = []
        for index, item in enumerate(items):
            try:
                invitations.append(parse_invitation(item))
            except PayloadError as exc:
                application_id = item.get("application_id") if isinstance(item, dict) else None
                self.context.log(
                    "reference.invitation_skipped",
                    level="warning",
                    index=index,
                    application_id=application_id if isinstance(application_id, str) else None,
                    problems="; ".join(exc.problems),
                )
        return PollPage(
            invitations,
            cursor=after or cursor,
            more=bool(after) and len(items) == limit,
        )

    def push_result(self, pushback: Pushback) -> None:
        """PUT the result version into the application; idempotent per version.

        A 409 "stale version" means the ATS already holds a newer version of this result,
        which is what this delivery was heading for: it counts as delivered."""
        order, result = pushback.order, pushback.result
        url = (
            f"{self.config.base_url}/api/applications/"
            f"{quote(order.application_id, safe='')}/assessment"
        )
        body = {
            "result_id": order.result_id,
            "version": pushback.version,
            "score": result.score,
            "subscores": dict(result.subscores),
            "report_url": result.assessment_report_url,
            "recruitment_url": result.recruitment_url,
        }
        encoded = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        try:
            self.context.transport.send("PUT", url, body=encoded, headers=self._headers(True))
        except APIError as exc:
            if exc.status == 409 and "stale" in _error_text(exc).lower():
                self.context.log(
                    "reference.result_stale",
                    application_id=order.application_id,
                    result_id=order.result_id,
                    version=pushback.version,
                )
                return
            raise self._failure(exc, "write the result back") from None
        except TransportError as exc:
            raise self._failure(exc, "write the result back") from None

    def check(self) -> str:
        """`GET /api/ping` with the token: proves the URL and the token."""
        self._send("GET", f"{self.config.base_url}/api/ping", action="reach the ATS")
        return f"reference ATS at {self.config.base_url} answered"

    # HTTP

    def _headers(self, with_body: bool = False) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self.config.api_token.reveal()}",
            "Accept": _JSON,
        }
        if with_body:
            headers["Content-Type"] = _JSON
        return headers

    def _send(self, method: str, url: str, *, action: str) -> HTTPResponse:
        try:
            return self.context.transport.send(method, url, headers=self._headers())
        except (APIError, TransportError) as exc:
            raise self._failure(exc, action) from None

    def _json(self, response: HTTPResponse, method: str, url: str) -> Any:
        try:
            return codec.parse_json(response.body, what="reference ATS answer")
        except PayloadError as exc:
            raise PermanentError(f"the reference ATS answered {method} {url} with {exc}") from None

    def _failure(self, exc: APIError | TransportError, action: str) -> ConnectorError:
        """The connector error for a failed call: retryable unless retrying cannot help."""
        base = self.config.base_url
        if isinstance(exc, TransportError):
            return RetryableError(f"could not {action}: {exc}")
        status = exc.status
        where = f" to {exc.method} {exc.url}" if exc.method else ""
        text = _error_text(exc)
        detail = f": {text}" if text else ""
        if status in (401, 403):
            return PermanentError(
                f"could not {action}: the api_token was refused by the reference ATS at {base} "
                f"(HTTP {status}{detail}); check ats.api_token"
            )
        message = f"could not {action}: the reference ATS answered HTTP {status}{where}{detail}"
        if status in RETRYABLE_STATUSES or 500 <= status <= 599:
            # A 503's Retry-After reaches us only if the transport attaches it to the error.
            retry_after: float | None = getattr(exc, "retry_after", None)
            return RetryableError(message, retry_after=retry_after)
        return PermanentError(message)
