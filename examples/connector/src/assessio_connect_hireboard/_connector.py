"""`HireboardConnector`: Hireboard's web hook in, assessment results written back over its REST
API, as `HIREBOARD-API.md` (Hireboard's documentation) describes them."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

import attrs

from assessio_connect import (
    APIError,
    AtsCandidate,
    AtsJob,
    ConfigError,
    Connector,
    ConnectorContext,
    ConnectorError,
    Invitation,
    PayloadError,
    PermanentError,
    Pushback,
    RetryableError,
    Secret,
    StoreUnavailableError,
    TransportError,
    codec,
)
from assessio_connect.connector import WSGIApplication
from assessio_connect.models import email_problem

__all__ = [
    "API_VERSION",
    "MAX_EVENT_BYTES",
    "SIGNATURE_HEADER",
    "HireboardConfig",
    "HireboardConnector",
    "idempotency_key",
    "parse_event",
    "sign",
]

API_VERSION = "v1"  # source: HIREBOARD-API.md § 1.1
SIGNATURE_HEADER = "Hireboard-Signature"  # source: HIREBOARD-API.md § 4.2
MAX_EVENT_BYTES = 256 * 1024
STAGE_CHANGED = "application.stage_changed"  # source: HIREBOARD-API.md § 4.3
RETRY_AFTER = 5
_JSON = "application/json"

Environ = dict[str, Any]
StartResponse = Callable[..., Any]


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The `Hireboard-Signature` value: `t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`."""
    signed = str(timestamp).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def idempotency_key(result_id: str, version: int) -> str:
    """The `Idempotency-Key` of one result version: a repeat of it stores nothing new."""
    return f"assessio-{result_id}-v{version}"


# Configuration


def _strip_slash(value: str) -> str:
    return value.rstrip("/")


def _check_base_url(_inst: object, _attribute: attrs.Attribute[Any], value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        raise ValueError(f"base_url must be an http:// or https:// URL, got {value!r}")


def _check_stage(_inst: object, _attribute: attrs.Attribute[Any], value: str) -> None:
    if not value.strip():
        raise ValueError("trigger_stage must name a Hireboard stage, e.g. assessment")


def _check_tolerance(_inst: object, _attribute: attrs.Attribute[Any], value: int) -> None:
    if not 1 <= value <= 3600:
        raise ValueError(f"tolerance must be from 1 to 3600 seconds, not {value}")


@attrs.frozen
class HireboardConfig:
    """A tenant's `[tenants.NAME.ats]` table for `kind = "hireboard"`."""

    api_key: Secret
    """Sent as `Authorization: Bearer <api_key>` on every call to Hireboard."""
    webhook_secret: Secret
    """Key of the web hook's `Hireboard-Signature`."""
    base_url: str = attrs.field(
        default="https://api.hireboard.example",
        converter=_strip_slash,
        validator=_check_base_url,
    )
    trigger_stage: str = attrs.field(default="assessment", validator=_check_stage)
    """Moving an application into this stage orders an assessment."""
    tolerance: int = attrs.field(default=300, validator=_check_tolerance)
    """Seconds a web hook's signature timestamp may be off."""


# Reading web hooks


def _text(data: Mapping[str, Any], key: str, path: str, problems: list[str]) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        problem = "required field missing" if value is None else "expected a non-empty string"
        problems.append(f"{problem} @ {path}.{key}")
        return ""
    return value


def _object(data: Mapping[str, Any], key: str, path: str, problems: list[str]) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        problem = "required field missing" if value is None else "expected an object"
        problems.append(f"{problem} @ {path}.{key}")
        return {}
    return value


def parse_event(data: object) -> tuple[str, str, Invitation]:
    """`(event type, application stage, invitation)` from a web hook body, or `PayloadError`
    listing every problem as `message @ $.path`. Unknown fields are ignored."""
    if not isinstance(data, dict):
        raise PayloadError(["expected a JSON object @ $"], what="Hireboard event")
    problems: list[str] = []
    event_type = _text(data, "type", "$", problems)
    payload = _object(data, "data", "$", problems)
    application = _object(payload, "application", "$.data", problems)
    job = _object(payload, "job", "$.data", problems)
    candidate = _object(payload, "candidate", "$.data", problems)
    application_id = _text(application, "id", "$.data.application", problems)
    stage = _text(application, "stage", "$.data.application", problems)
    job_id = _text(job, "id", "$.data.job", problems)
    title = _text(job, "title", "$.data.job", problems)
    candidate_id = _text(candidate, "id", "$.data.candidate", problems)
    email = candidate.get("email")
    problem = email_problem(email)
    if problem:
        problems.append(f"{problem} @ $.data.candidate.email")
    if problems:
        raise PayloadError(problems, what="Hireboard event")
    names = [candidate.get("first_name"), candidate.get("last_name")]
    department = job.get("department")
    description = job.get("description")
    invitation = Invitation(
        application_id=application_id,
        job=AtsJob(
            id=job_id,
            title=title,
            description=description if isinstance(description, str) else "",
            department=department if isinstance(department, str) else None,
        ),
        candidate=AtsCandidate(
            id=candidate_id,
            email=str(email),
            name=" ".join(name for name in names if isinstance(name, str) and name),
        ),
    )
    return event_type, stage, invitation


def _signature_problem(
    header: str | None, body: bytes, secret: str, now: float, tolerance: int
) -> str | None:
    """Why `header` does not sign `body`, or None when it does."""
    if not header:
        return f"missing {SIGNATURE_HEADER} header"
    items = dict(part.strip().partition("=")[::2] for part in header.split(","))
    timestamp, given = items.get("t", ""), items.get("v1", "")
    if not timestamp.isdigit() or not given:
        return f"{SIGNATURE_HEADER} must look like t=<unix seconds>,v1=<hex>"
    if abs(now - int(timestamp)) > tolerance:
        return f"{SIGNATURE_HEADER} timestamp is more than {tolerance} s off (replayed?)"
    expected = sign(body, secret, int(timestamp)).encode("ascii")
    presented = f"t={timestamp},v1={given}".encode("latin-1")
    if not hmac.compare_digest(presented, expected):
        return f"{SIGNATURE_HEADER} does not match the body (check webhook_secret)"
    return None


def _header(environ: Environ, name: str) -> str | None:
    value = environ.get("HTTP_" + name.upper().replace("-", "_"))
    return value if isinstance(value, str) else None


def _read_body(environ: Environ) -> bytes | None:
    """The body, or None when Content-Length is missing, bad or over MAX_EVENT_BYTES."""
    length = str(environ.get("CONTENT_LENGTH") or "")
    if not length.isdigit() or int(length) > MAX_EVENT_BYTES:
        return None
    body: bytes = environ["wsgi.input"].read(int(length))
    return body


class _WebhookApp:
    """`POST /webhook` under the connector's mount point → `context.invite(...)`."""

    def __init__(self, connector: HireboardConnector) -> None:
        self._connector = connector
        self._context = connector.context

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        try:
            status, data, headers = self._handle(environ)
        except Exception as exc:  # a bug must not show a traceback to Hireboard
            self._context.log("hireboard.error", level="error", error=type(exc).__name__)
            status, data, headers = 500, {"error": "internal error (see the log)"}, []
        body = json.dumps(data).encode("ascii")
        start_response(
            f"{status} {HTTPStatus(status).phrase}",
            [("Content-Type", _JSON), ("Content-Length", str(len(body))), *headers],
        )
        return [body]

    def _handle(self, environ: Environ) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        if environ.get("PATH_INFO") != "/webhook":
            return 404, {"error": "web hooks go to POST /webhook"}, []
        if environ.get("REQUEST_METHOD") != "POST":
            return 405, {"error": "use POST"}, [("Allow", "POST")]
        body = _read_body(environ)
        if body is None:
            return 413, {"error": f"send a Content-Length of at most {MAX_EVENT_BYTES}"}, []
        config = self._connector.config
        problem = _signature_problem(
            _header(environ, SIGNATURE_HEADER),
            body,
            config.webhook_secret.reveal(),
            self._context.now(),
            config.tolerance,
        )
        if problem:
            self._context.log("hireboard.rejected", level="warning", reason=problem)
            return 401, {"error": problem}, []
        try:
            event_type, stage, invitation = parse_event(codec.parse_json(body, what="event"))
        except PayloadError as exc:
            return 422, {"error": "invalid Hireboard event", "problems": list(exc.problems)}, []
        if event_type != STAGE_CHANGED or stage != config.trigger_stage:
            return 200, {"ignored": f"{event_type} to stage {stage!r}"}, []
        try:
            record = self._context.invite(invitation)
        except (RetryableError, StoreUnavailableError) as exc:
            return 503, {"error": str(exc)}, [("Retry-After", str(RETRY_AFTER))]
        except ConfigError as exc:
            return 422, {"error": "no assessment fits", "problems": list(exc.problems)}, []
        return 202, {"result_id": record.result_id, "state": record.state.value}, []


# The connector


class HireboardConnector(Connector):
    """Hireboard: a stage change web hook orders an assessment; each result version is
    POSTed to the application with an idempotency key."""

    kind: ClassVar[str] = "hireboard"
    Config: ClassVar[type[Any]] = HireboardConfig
    config: HireboardConfig

    def __init__(self, config: HireboardConfig, context: ConnectorContext) -> None:
        super().__init__(config, context)

    def wsgi_app(self) -> WSGIApplication:
        """`POST /webhook`: Hireboard's stage-change events."""
        return _WebhookApp(self)

    def push_result(self, pushback: Pushback) -> None:
        """POST the result version; the idempotency key makes a repeat harmless."""
        order, result = pushback.order, pushback.result
        url = (
            f"{self.config.base_url}/{API_VERSION}/applications/"
            f"{quote(order.application_id, safe='')}/assessment-results"
        )
        body = {
            "provider": "assessio",
            "external_id": order.result_id,
            "version": pushback.version,
            "score": result.score,
            "subscores": [{"name": k, "score": v} for k, v in result.subscores.items()],
            "report_url": result.assessment_report_url,
        }
        headers = {
            **self._headers(),
            "Content-Type": _JSON,
            "Idempotency-Key": idempotency_key(order.result_id, pushback.version),
        }
        try:
            self.context.transport.send(
                "POST", url, body=json.dumps(body).encode(), headers=headers
            )
        except (APIError, TransportError) as exc:
            raise self._failure(exc, "write the result back") from None

    def check(self) -> str:
        """`GET /v1/me` with the API key."""
        try:
            self.context.transport.send(
                "GET", f"{self.config.base_url}/{API_VERSION}/me", headers=self._headers()
            )
        except (APIError, TransportError) as exc:
            raise self._failure(exc, "reach Hireboard") from None
        return f"Hireboard at {self.config.base_url} accepted the API key"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.api_key.reveal()}", "Accept": _JSON}

    def _failure(self, exc: APIError | TransportError, action: str) -> ConnectorError:
        """Retry what may pass (network, 429, 5xx); give up on what will not (other 4xx)."""
        if isinstance(exc, TransportError):
            return RetryableError(f"could not {action}: {exc}")
        detail = f"could not {action}: Hireboard answered HTTP {exc.status}"
        if exc.body_excerpt:
            detail += f" ({exc.body_excerpt})"
        if exc.status == 429 or exc.status >= 500:
            return RetryableError(detail, retry_after=exc.retry_after)
        if exc.status in (401, 403):
            return PermanentError(f"{detail}; check ats.api_key")
        return PermanentError(detail)
