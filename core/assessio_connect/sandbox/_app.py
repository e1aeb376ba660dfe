"""The emulator's WSGI app: the Recruitment API v1 plus the `/_sandbox/` control plane."""

from __future__ import annotations

import html
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs

from assessio_connect.contract import codec
from assessio_connect.contract.errors import PayloadError, SignatureError
from assessio_connect.contract.models import AssessioConfig, AssessmentLink, AssessmentOrder, Result
from assessio_connect.contract.signing import verify
from assessio_connect.runtime._wsgi import RequestBodyError, header, read_body

from ._catalog import SandboxLens
from ._faults import Faults
from ._state import (
    DeliveryAttempt,
    Endpoint,
    OrderConflict,
    OrderEntry,
    Organisation,
    ReceivedOrder,
    ReceivedRequest,
    SandboxRecruitment,
    SandboxState,
    mask_key,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = [
    "CONFIG_PATH",
    "CONTROL_PREFIX",
    "MAX_BODY_BYTES",
    "ORDER_PATH",
    "ApiSettings",
    "AppHooks",
    "SandboxApp",
]

log = logging.getLogger("assessio_connect.sandbox")

CONFIG_PATH = "/recruitment/v1/config"
ORDER_PATH = "/recruitment/v1/assessment-order"
CONTROL_PREFIX = "/_sandbox"
MAX_BODY_BYTES = 1024 * 1024
_JSON = "application/json"
_HTML = "text/html; charset=utf-8"


@attrs.frozen
class ApiSettings:
    """The contract's open decisions and the checks the emulated API applies."""

    provider_key_header: str = "provider-key"
    accept_bearer: bool = False
    require_signed_get: bool = False
    link_path: str = "/recruitment/v1/assessment-link-order"
    tolerance: int = 300


@attrs.frozen
class AppHooks:
    """What the app needs from its `Sandbox`."""

    base_url: Callable[[WSGIEnvironment], str]
    order_accepted: Callable[[OrderEntry], None]
    complete: Callable[[OrderEntry, int | None, Mapping[str, int] | None], Result]


@attrs.frozen
class _Response:
    status: int
    body: bytes
    content_type: str = _JSON
    headers: tuple[tuple[str, str], ...] = ()


class _Reply(Exception):
    """Short-circuits request handling with a finished response."""

    def __init__(self, response: _Response, reason: str) -> None:
        super().__init__(reason)
        self.response = response
        self.reason = reason


def _json(status: int, data: Any, headers: Iterable[tuple[str, str]] = ()) -> _Response:
    # ASCII escapes keep every answer encodable, whatever a request smuggled into a message.
    body = json.dumps(data, separators=(",", ":")).encode("ascii")
    return _Response(status, body, _JSON, tuple(headers))


def _error(
    status: int, message: str, headers: Iterable[tuple[str, str]] = (), **extra: Any
) -> _Reply:
    return _Reply(_json(status, {"error": message, **extra}, headers), message)


def _status_line(status: int) -> str:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error" if status >= 400 else "OK"
    return f"{status} {phrase}"


def _format_seconds(value: float) -> str:
    # Whole seconds as HTTP defines; fractions stay fractions so tests can compress time.
    return str(int(value)) if value == int(value) else f"{value:g}"


def _read_body(environ: WSGIEnvironment) -> bytes:
    """The request body, refusing (413) anything over the cap before reading it."""
    try:
        return read_body(environ, MAX_BODY_BYTES)
    except RequestBodyError as exc:
        if exc.status == 413:
            raise _error(413, str(exc), limit=exc.limit) from None
        raise _error(exc.status, str(exc)) from None


def _decoded_path(environ: WSGIEnvironment) -> str:
    # PEP 3333 hands PATH_INFO over as latin-1-decoded bytes; URLs carry UTF-8.
    raw = str(environ.get("PATH_INFO") or "/")
    try:
        return raw.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return raw


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == _JSON


# -- JSON views of the inspection records --------------------------------------------------


def _order_json(order: ReceivedOrder) -> dict[str, Any]:
    return {
        "organisation": mask_key(order.provider_key),
        "endpoint": order.endpoint,
        "reference": order.reference,
        "receivedAt": order.received_at,
        "assessmentLink": order.assessment_link,
        "order": codec.unstructure(order.order),
        "results": [codec.unstructure(r) for r in order.results],
    }


def _request_json(request: ReceivedRequest) -> dict[str, Any]:
    return {
        "method": request.method,
        "path": request.path,
        "status": request.status,
        "reason": request.reason,
        "at": request.at,
        "organisation": None if request.provider_key is None else mask_key(request.provider_key),
    }


def _recruitment_json(recruitment: SandboxRecruitment) -> dict[str, Any]:
    return {
        "organisation": mask_key(recruitment.provider_key),
        "id": recruitment.id,
        "lensId": recruitment.lens_id,
        "locale": recruitment.locale,
        "title": recruitment.title,
        "description": recruitment.description,
        "candidates": list(recruitment.candidates),
        "collaborators": list(recruitment.collaborators),
        "url": recruitment.url,
        "createdAt": recruitment.created_at,
    }


def _attempt_json(attempt: DeliveryAttempt) -> dict[str, Any]:
    return {
        "resultId": attempt.result_id,
        "organisation": mask_key(attempt.provider_key),
        "url": attempt.url,
        "attempt": attempt.attempt,
        "status": attempt.status,
        "error": attempt.error,
        "outcome": attempt.outcome,
        "duplicate": attempt.duplicate,
        "retryIn": attempt.retry_in,
        "at": attempt.at,
        "payload": json.loads(attempt.payload),
        "responseExcerpt": attempt.response_excerpt,
    }


_CONTROL_INDEX = {
    "emulator": "assessio-connect sandbox: an emulator of Assessio's Recruitment API v1",
    "note": "The /_sandbox/ control plane exists only in this emulator, not at Assessio; "
    "it needs no provider-key.",
    "endpoints": [
        "GET /_sandbox/orders",
        "GET /_sandbox/requests",
        "GET /_sandbox/recruitments",
        "GET /_sandbox/recruitments/<id>",
        "GET /_sandbox/deliveries",
        "GET /_sandbox/reports/<reference>",
        "POST /_sandbox/results/<resultId>/complete",
        "GET|POST|DELETE /_sandbox/faults",
        "GET|POST /_sandbox/take/<token>",
    ],
}


_Handler = Callable[[Organisation, bytes, "WSGIEnvironment"], _Response]


@attrs.define
class _Context:
    org: Organisation | None = None


class SandboxApp:
    """A WSGI callable serving the emulated API; mount it anywhere or serve it directly."""

    def __init__(
        self,
        state: SandboxState,
        faults: Faults,
        *,
        lenses: tuple[SandboxLens, ...],
        locales: tuple[str, ...],
        settings: ApiSettings,
        hooks: AppHooks,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._state = state
        self._faults = faults
        self._lenses = {lens.id: lens for lens in lenses}
        self._locales = locales
        self._settings = settings
        self._hooks = hooks
        self._clock = clock
        self._config = AssessioConfig(
            available_lenses=[lens.lens for lens in lenses], available_locales=locales
        )
        self._routes: dict[str, tuple[str, _Handler]] = {
            CONFIG_PATH: ("GET", self._get_config),
            ORDER_PATH: ("POST", self._post_order),
            settings.link_path: ("POST", self._post_link),
        }

    @property
    def config(self) -> AssessioConfig:
        """What `GET /recruitment/v1/config` answers."""
        return self._config

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        path = _decoded_path(environ)
        try:
            if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
                response = self._control(method, path, environ)
            else:
                response = self._api(method, path, environ)
        except Exception:
            log.exception("the sandbox failed on %s %s", method, path)
            response = _json(500, {"error": "internal emulator error (see the emulator's log)"})
        headers = [
            ("Content-Type", response.content_type),
            ("Content-Length", str(len(response.body))),
            ("Cache-Control", "no-store"),
            *response.headers,
        ]
        start_response(_status_line(response.status), headers)
        return [response.body]

    # -- the Recruitment API --------------------------------------------------------------

    def _api(self, method: str, path: str, environ: WSGIEnvironment) -> _Response:
        latency = self._faults.current_latency()
        if latency > 0:
            time.sleep(latency)  # the injected latency fault, by design
        context = _Context()
        reason: str | None = None
        try:
            response = self._api_call(method, path, environ, context)
        except _Reply as reply:
            response, reason = reply.response, reply.reason
        except Exception:
            log.exception("the sandbox failed on %s %s", method, path)
            reason = "internal emulator error"
            response = _json(500, {"error": f"{reason} (see the emulator's log)"})
        self._state.record_request(
            ReceivedRequest(
                method=method,
                path=path,
                status=response.status,
                reason=reason,
                at=self._clock(),
                provider_key=None if context.org is None else context.org.provider_key,
            )
        )
        return response

    def _api_call(
        self, method: str, path: str, environ: WSGIEnvironment, context: _Context
    ) -> _Response:
        route = self._routes.get(path)
        if route is None:
            raise _error(404, f"no such endpoint: {path}", endpoints=sorted(self._routes))
        allowed, handler = route
        if method != allowed:
            raise _error(
                405, f"{method} is not allowed on {path}; use {allowed}", [("Allow", allowed)]
            )
        fault = self._faults.take_api_error(path)
        if fault is not None:
            headers = []
            if fault.retry_after is not None:
                headers.append(("Retry-After", _format_seconds(fault.retry_after)))
            raise _error(
                fault.status,
                f"injected fault: the emulator answers HTTP {fault.status}",
                headers,
                injected=True,
            )
        org = self._authenticate(environ)
        context.org = org
        body = b""
        if method == "POST":
            if not _is_json(header(environ, "Content-Type")):
                raise _error(415, "the request body must be sent as Content-Type: application/json")
            body = _read_body(environ)
        if method == "POST" or self._settings.require_signed_get:
            self._check_signature(org, environ, body)
        return handler(org, body, environ)

    def _authenticate(self, environ: WSGIEnvironment) -> Organisation:
        settings = self._settings
        key = header(environ, settings.provider_key_header)
        if not key and settings.accept_bearer:
            authorization = header(environ, "Authorization") or ""
            scheme, _, token = authorization.strip().partition(" ")
            if scheme.lower() == "bearer":
                key = token.strip()
        if not key:
            expected = f"the {settings.provider_key_header} header"
            if settings.accept_bearer:
                expected += " (or Authorization: Bearer <key>)"
            raise _error(401, f"missing provider-key: send {expected}")
        org = self._state.organisation(key.strip())
        if org is None:
            raise _error(401, "unknown provider-key")
        return org

    def _check_signature(self, org: Organisation, environ: WSGIEnvironment, body: bytes) -> None:
        if org.integrator_secret is None or not org.require_signature:
            return
        try:
            verify(
                body,
                header(environ, "Signature"),
                org.integrator_secret,
                tolerance=self._settings.tolerance,
                now=self._clock(),
            )
        except SignatureError as exc:
            raise _error(401, f"invalid Signature: {exc}") from None

    def _get_config(self, _org: Organisation, _body: bytes, _env: WSGIEnvironment) -> _Response:
        return _json(200, codec.unstructure(self._config))

    def _post_order(self, org: Organisation, body: bytes, environ: WSGIEnvironment) -> _Response:
        entry = self._accept(org, body, environ, "order")
        return _json(200, entry.reference)

    def _post_link(self, org: Organisation, body: bytes, environ: WSGIEnvironment) -> _Response:
        entry = self._accept(org, body, environ, "link")
        link = AssessmentLink(assessment_package_link=entry.assessment_link)
        return _json(200, codec.unstructure(link))

    def _accept(
        self, org: Organisation, body: bytes, environ: WSGIEnvironment, endpoint: Endpoint
    ) -> OrderEntry:
        try:
            order = codec.loads(body, AssessmentOrder, what="assessment order")
        except PayloadError as exc:
            raise _error(400, "invalid assessment order", problems=list(exc.problems)) from None
        self._validate(order)
        base_url = self._hooks.base_url(environ)
        try:
            entry, new = self._state.accept(org, endpoint, order, base_url)
        except OrderConflict as exc:
            raise _error(409, str(exc)) from None
        if new:
            self._hooks.order_accepted(entry)
        return entry

    def _validate(self, order: AssessmentOrder) -> None:
        messages: list[str] = []
        problems: list[str] = []
        valid: dict[str, list[str]] = {}

        def problem(message: str, path: str) -> None:
            messages.append(message)
            problems.append(f"{message} @ {path}")

        if order.lens_id not in self._lenses:
            choices = [f"{lens.id} ({lens.name})" for lens in self._lenses.values()]
            problem(
                f"unknown lensId {order.lens_id!r}; valid values: {', '.join(choices)}", "$.lensId"
            )
            valid["lensId"] = list(self._lenses)
        if order.locale not in self._locales:
            problem(
                f"unknown locale {order.locale!r}; valid values: {', '.join(self._locales)}",
                "$.locale",
            )
            valid["locale"] = list(self._locales)
        if not order.result_id.strip():
            problem("resultId must not be empty", "$.resultId")
        if not order.recruitment.id.strip():
            problem("recruitment id must not be empty", "$.recruitment.id")
        url = urlsplit(order.result_update_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            problem("resultUpdateUrl must be an absolute http or https URL", "$.resultUpdateUrl")
        if problems:
            raise _error(400, "; ".join(messages), problems=problems, validValues=valid)

    # -- the control plane ----------------------------------------------------------------

    def _control(self, method: str, path: str, environ: WSGIEnvironment) -> _Response:
        try:
            return self._control_call(method, path, environ)
        except _Reply as reply:
            return reply.response

    def _control_call(self, method: str, path: str, environ: WSGIEnvironment) -> _Response:
        rest = path[len(CONTROL_PREFIX) :].strip("/")
        parts = rest.split("/") if rest else []

        def only(*methods: str) -> None:
            if method not in methods:
                allowed = ", ".join(methods)
                raise _error(
                    405, f"{method} is not allowed on {path}; use {allowed}", [("Allow", allowed)]
                )

        state = self._state
        if not parts:
            only("GET")
            return _json(200, _CONTROL_INDEX)
        head = parts[0]
        if parts == ["orders"]:
            only("GET")
            return _json(200, [_order_json(o) for o in state.orders()])
        if parts == ["requests"]:
            only("GET")
            return _json(200, [_request_json(r) for r in state.requests()])
        if parts == ["deliveries"]:
            only("GET")
            return _json(200, [_attempt_json(a) for a in state.deliveries()])
        if parts == ["recruitments"]:
            only("GET")
            return _json(200, [_recruitment_json(r) for r in state.recruitments()])
        if head == "recruitments" and len(parts) == 2:
            only("GET")
            recruitment = state.recruitment(parts[1])
            if recruitment is None:
                raise _error(404, "no such recruitment")
            return _json(200, _recruitment_json(recruitment))
        if head == "reports" and len(parts) == 2:
            only("GET")
            entry = state.by_reference(parts[1])
            if entry is None:
                raise _error(404, "no such assessment report")
            result = state.latest_result(entry)
            if result is None:
                raise _error(404, "the candidate has not completed the assessment yet")
            return _json(200, codec.unstructure(result))
        if head == "results" and len(parts) >= 3 and parts[-1] == "complete":
            only("POST")
            # PATH_INFO is already decoded, so a resultId may itself contain '/'.
            return self._complete_by_id("/".join(parts[1:-1]), environ)
        if parts == ["faults"]:
            only("GET", "POST", "DELETE")
            if method == "DELETE":
                self._faults.reset()
            elif method == "POST":
                self._set_faults(_read_json_object(environ))
            return _json(200, self._faults.snapshot())
        if head == "take" and len(parts) == 2:
            only("GET", "POST")
            return self._take(method, parts[1])
        raise _error(
            404, f"no such sandbox endpoint: {path}", endpoints=_CONTROL_INDEX["endpoints"]
        )

    def _complete_by_id(self, result_id: str, environ: WSGIEnvironment) -> _Response:
        data = _read_json_object(environ)
        score = data.get("score")
        subscores = data.get("subscores")
        provider_key = data.get("providerKey")
        if score is not None and type(score) is not int:
            raise _error(400, "score must be an integer 0..100")
        if subscores is not None and (
            not isinstance(subscores, dict)
            or not all(isinstance(k, str) and type(v) is int for k, v in subscores.items())
        ):
            raise _error(400, "subscores must be an object of name -> integer 0..100")
        if provider_key is not None and not isinstance(provider_key, str):
            raise _error(400, "providerKey must be a string")
        try:
            entry = self._state.find(result_id, provider_key)
        except KeyError:
            raise _error(404, f"no order with resultId {result_id!r}") from None
        except LookupError as exc:
            raise _error(409, str(exc)) from None
        try:
            result = self._hooks.complete(entry, score, subscores)
        except ValueError as exc:
            raise _error(400, f"invalid result: {exc}") from None
        return _json(200, codec.unstructure(result))

    def _set_faults(self, data: dict[str, Any]) -> None:
        known = {"reset", "failDeliveries", "failDeliveriesStatus", "duplicateDeliveries"}
        known |= {"apiErrors", "latency"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise _error(400, f"unknown fault settings: {', '.join(unknown)}", known=sorted(known))
        faults = self._faults
        try:
            if data.get("reset") is True:
                faults.reset()
            if "failDeliveries" in data:
                faults.fail_deliveries(data["failDeliveries"], data.get("failDeliveriesStatus"))
            if "duplicateDeliveries" in data:
                if not isinstance(data["duplicateDeliveries"], bool):
                    raise ValueError("duplicateDeliveries must be true or false")
                faults.duplicate_deliveries(data["duplicateDeliveries"])
            if "apiErrors" in data:
                rules = data["apiErrors"]
                for rule in rules if isinstance(rules, list) else [rules]:
                    if not isinstance(rule, dict) or "status" not in rule:
                        raise ValueError(
                            "apiErrors must be an object (or a list of objects) "
                            'like {"status": 503, "count": 2, "retryAfter": 1}'
                        )
                    faults.api_errors(
                        rule["status"],
                        rule.get("count", 1),
                        retry_after=rule.get("retryAfter"),
                        path=rule.get("path"),
                    )
            if "latency" in data:
                faults.latency(data["latency"])
        except (TypeError, ValueError) as exc:
            raise _error(400, f"invalid fault settings: {exc}") from None

    def _take(self, method: str, token: str) -> _Response:
        entry = self._state.by_token(token)
        if entry is None:
            raise _error(404, "no such assessment link")
        email = html.escape(entry.order.candidate_details.email)
        lens = self._lenses.get(entry.order.lens_id)
        lens_name = html.escape(lens.name if lens else entry.order.lens_id)
        title = html.escape(entry.order.recruitment.title)
        if method == "POST":
            result = self._hooks.complete(entry, None, None)
            body = (
                f"<p>Thank you. The assessment for {email} is complete "
                f"(score {result.score}).</p>"
                "<p>The result is on its way to the integrator's resultUpdateUrl.</p>"
            )
        else:
            done = self._state.latest_result(entry) is not None
            note = "<p>(Already completed; completing again sends an update.)</p>" if done else ""
            body = (
                f"<p>Assessment for {email}: {title}, lens {lens_name}.</p>{note}"
                '<form method="post">'
                '<button type="submit">Complete the assessment</button></form>'
            )
        page = (
            '<!doctype html><html><head><meta charset="utf-8">'
            f"<title>Assessment for {email}</title></head>"
            f"<body><h1>Assessio sandbox</h1>{body}"
            "<p><small>This page exists only in the assessio-connect emulator.</small></p>"
            "</body></html>"
        )
        return _Response(200, page.encode("utf-8"), _HTML)


def _read_json_object(environ: WSGIEnvironment) -> dict[str, Any]:
    """An optional JSON object body of a control-plane request ({} when empty)."""
    body = _read_body(environ)
    if not body.strip():
        return {}
    try:
        data = codec.parse_json(body, what="request body")
    except PayloadError as exc:
        raise _error(400, str(exc)) from None
    if not isinstance(data, dict):
        raise _error(400, "the request body must be a JSON object")
    return data
