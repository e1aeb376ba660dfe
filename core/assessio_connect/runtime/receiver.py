"""The result webhook receiver: a WSGI app Assessio POSTs each tenant's results to.

It answers 2xx only once the result is committed to the store, so Assessio keeps retrying
(for up to 36 hours) whatever was not stored. Nothing is stored for a rejected request.

Routes (on PATH_INFO, so the app can be mounted under any SCRIPT_NAME prefix):

    ======  ==============================  =============================================
    method  path                            answer
    ======  ==============================  =============================================
    POST    /results/{tenant}/{resultId}    the result webhook (checks below)
    GET     /healthz                        200 {"status":"ok"}: the process is up
    GET     /readyz                         200 {"status":"ok"} when `store.ping()` works,
                                            else 503 {"status":"unavailable"}
    GET     /openapi.json                   200 the OpenAPI document of the daemon's routes
    ======  ==============================  =============================================

Both segments of a result route are percent-decoded (by the server), non-empty, at most 200
characters, UTF-8, free of control characters and of further slashes (`%2F` included).

Checks on a result route, in this order (the first that fails answers):

    ======  ======================================================================
    status  when
    ======  ======================================================================
    404     the path is not a route above
    405     a method other than POST on a result route (`Allow: POST`), other than
            GET/HEAD on /healthz, /readyz or /openapi.json (`Allow: GET, HEAD`)
    400     Content-Length is not a number
    413     the body is larger than `max_body_bytes`: refused from Content-Length
            before it is read; without a Content-Length (chunked) at most
            `max_body_bytes + 1` bytes are read
    415     Content-Type is not `application/json` (or `application/*+json`); a
            charset parameter other than UTF-8 is refused too
    401     credentials missing or wrong for the tenant's `WebhookAuth`, *or* the
            tenant is unknown: same body and `WWW-Authenticate` header either way
    400     the body is not UTF-8 JSON, or not a JSON object
    422     the object breaks the contract (types, score outside 0..100, missing
            resultId, …) or its resultId differs from the URL's; body lists
            `problems`
    503     the store is unavailable or refused the write (`Retry-After: 5`)
    500     anything unexpected (a generic body; the log gets the exception type)
    200     {"status":"stored","version":n}   the first version of a known order
    200     {"status":"updated","version":n}  a new payload for a known result
    200     {"status":"duplicate"}            a payload already stored
    202     {"status":"orphan"}               stored for reconciliation; no order has it
    ======  ======================================================================

Each request to a result route is logged in one line: `result.received` (info; warning for an
orphan) with its `outcome`, `result.rejected` (warning) with the `reason`, or `result.failed`
(error) with the `error`; every line carries `tenant` and `result_id` when the path has them.
Other routes' refusals are `request.rejected` (info).

Authentication needs the raw body (a Signature covers it), so 400/413 and 415 are answered
before 401; they depend only on the request itself and reveal nothing about the tenant. An
unknown tenant runs through the same checks and is authenticated against a throw-away
credential, so no answer tells whether a tenant exists. Every error body is
`{"error": "<message>"}` as application/json and never holds a credential. (Behind the daemon's
own server, waitress answers a malformed or over-limit Content-Length itself, with the same
status and a plain-text body, before anything is buffered.)
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import attrs

from assessio_connect.contract import codec
from assessio_connect.contract.errors import PayloadError, StoreError, WebhookAuthenticationError
from assessio_connect.contract.models import Result
from assessio_connect.contract.webhook import WebhookAuth

from ._openapi import OPENAPI_PATH, openapi_json
from ._wsgi import RequestBodyError, header, read_body, request_headers
from .store import RecordedResult, ResultOutcome, ResultRecord, Store, result_digest

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = [
    "MAX_SEGMENT_LENGTH",
    "RESULTS_PREFIX",
    "RETRY_AFTER_SECONDS",
    "OnAnswered",
    "OnRecorded",
    "ResultReceiver",
]

RESULTS_PREFIX = "/results/"
MAX_SEGMENT_LENGTH = 200
RETRY_AFTER_SECONDS = 5

OnRecorded = Callable[[str, ResultRecord | None, RecordedResult], None]
OnAnswered = Callable[[str | None, int, str], None]
"""Called once per request to a result route: (its tenant when configured, else None; the
HTTP status; the outcome: stored, updated, duplicate, orphan, rejected (4xx) or failed (5xx))."""

_JSON = "application/json"
_CHUNK = 65_536
_UNAUTHORIZED = (
    "authentication failed: send a valid integrator-api-key header (or Authorization: Bearer) "
    "and/or a Signature header, as configured for this webhook"
)
_CHALLENGE = 'Bearer realm="assessio-connect", Signature realm="assessio-connect"'


@attrs.frozen
class _Response:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


def _json(status: int, data: Mapping[str, Any], *headers: tuple[str, str]) -> _Response:
    # ASCII escapes keep every answer encodable, whatever a request put into a message.
    return _Response(status, json.dumps(data, separators=(",", ":")).encode("ascii"), headers)


def _error_text(exc: BaseException) -> str:
    """A store error as logged: our own message, written to be read and free of data."""
    return f"{type(exc).__name__}: {exc}"


def _status_line(status: int) -> str:
    return f"{status} {HTTPStatus(status).phrase}"


def _decoded_path(environ: WSGIEnvironment) -> str | None:
    # PEP 3333 hands PATH_INFO over as latin-1-decoded bytes; URLs carry UTF-8.
    raw = str(environ.get("PATH_INFO") or "")
    try:
        return raw.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return None


def _has_encoded_slash(environ: WSGIEnvironment) -> bool:
    """True when the raw request path held `%2F`, which servers decode into PATH_INFO's `/`."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
    return isinstance(raw, str) and "%2f" in raw.partition("?")[0].lower()


def _valid_segment(segment: str) -> bool:
    return 0 < len(segment) <= MAX_SEGMENT_LENGTH and segment.isprintable() and "/" not in segment


def _result_route(path: str) -> tuple[str, str] | None:
    """`(tenant, result_id)` when `path` is `/results/{tenant}/{resultId}`, else None."""
    if not path.startswith(RESULTS_PREFIX):
        return None
    parts = path[len(RESULTS_PREFIX) :].split("/")
    if len(parts) != 2 or not all(_valid_segment(part) for part in parts):
        return None
    return parts[0], parts[1]


def _is_json(content_type: str | None) -> bool:
    media, _, params = (content_type or "").partition(";")
    media = media.strip().lower()
    if media != _JSON and not (media.startswith("application/") and media.endswith("+json")):
        return False
    for param in params.split(";"):
        name, _, value = param.partition("=")
        charset = value.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in ("utf-8", "utf8"):
            return False
    return True


def _unframed(environ: WSGIEnvironment) -> bool:
    """True when the body has no Content-Length but is still there to read (chunked)."""
    if (header(environ, "Content-Length") or "").strip():
        return False
    encoding = (header(environ, "Transfer-Encoding") or "").lower()
    return "chunked" in encoding or bool(environ.get("wsgi.input_terminated"))


def _read_capped(environ: WSGIEnvironment, limit: int) -> bytes:
    """The body; over `limit` raises `RequestBodyError` having read at most `limit + 1` bytes."""
    if not _unframed(environ):
        return read_body(environ, limit)
    stream = environ["wsgi.input"]
    chunks: list[bytes] = []
    received = 0
    while received <= limit:
        chunk: bytes = stream.read(min(_CHUNK, limit + 1 - received))
        if not chunk:
            break
        chunks.append(chunk)
        received += len(chunk)
    if received > limit:
        raise RequestBodyError(413, f"request body exceeds the limit of {limit} bytes", limit)
    return b"".join(chunks)


class ResultReceiver:
    """WSGI app: POST /results/{tenant}/{resultId}, GET /healthz, /readyz and /openapi.json."""

    def __init__(
        self,
        tenants: Mapping[str, WebhookAuth],
        store: Store,
        *,
        max_body_bytes: int = 1_048_576,
        clock: Callable[[], float] = time.time,
        on_recorded: OnRecorded | None = None,
        log: Callable[..., None] | None = None,
        on_answered: OnAnswered | None = None,
    ) -> None:
        if max_body_bytes < 1:
            raise ValueError("max_body_bytes must be at least 1")
        self._tenants = dict(tenants)
        self._store = store
        self._max_body_bytes = max_body_bytes
        self._clock = clock
        self._on_recorded = on_recorded
        self._on_answered = on_answered
        self._log = log
        # Unknown tenants are checked against this so they cost what a wrong credential costs.
        self._decoy = WebhookAuth(
            api_keys=[secrets.token_urlsafe(32)], signing_secrets=[secrets.token_urlsafe(32)]
        )

    def replace_tenants(self, tenants: Mapping[str, WebhookAuth]) -> None:
        """Authenticate against `tenants` from now on (a reload); one swap, so a request sees
        either the old map or the new one, and one already authenticated goes on."""
        self._tenants = dict(tenants)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD") or "GET").upper()
        try:
            response = self._dispatch(method, environ)
        except Exception as exc:
            # Only the type: the message of an unexpected error may quote data.
            webhook = (_decoded_path(environ) or "").startswith(RESULTS_PREFIX)
            self._emit(
                "result.failed" if webhook else "request.failed",
                level="error",
                status=500,
                error=type(exc).__name__,
            )
            if webhook:
                self._answered(None, 500, "failed")
            response = _json(500, {"error": "internal error in the result receiver; retry later"})
        headers = [
            ("Content-Type", _JSON),
            ("Content-Length", str(len(response.body))),
            ("Cache-Control", "no-store"),
            *response.headers,
        ]
        start_response(_status_line(response.status), headers)
        return [b"" if method == "HEAD" else response.body]

    # -- routing --------------------------------------------------------------------------

    def _dispatch(self, method: str, environ: WSGIEnvironment) -> _Response:
        path = _decoded_path(environ)
        if path in ("/healthz", "/readyz", OPENAPI_PATH):
            if method not in ("GET", "HEAD"):
                return self._refuse(405, f"{path} answers GET only", ("Allow", "GET, HEAD"))
            if path == OPENAPI_PATH:
                return _Response(200, openapi_json())
            return self._health() if path == "/healthz" else self._ready()
        route = None
        if path is not None and not _has_encoded_slash(environ):
            route = _result_route(path)
        if route is None:
            message = "not found: results are posted to /results/{tenant}/{resultId}"
            if path is not None and path.startswith(RESULTS_PREFIX):
                return self._reject(404, message)
            return self._refuse(404, message)
        tenant, result_id = route
        if method != "POST":
            return self._reject(
                405,
                "the result webhook accepts POST only",
                ("Allow", "POST"),
                tenant=tenant,
                result_id=result_id,
            )
        return self._receive(tenant, result_id, environ)

    def _health(self) -> _Response:
        return _json(200, {"status": "ok"})

    def _ready(self) -> _Response:
        try:
            self._store.ping()
        except Exception as exc:
            self._emit("store.not_ready", level="warning", status=503, error=_error_text(exc))
            return _json(503, {"status": "unavailable"}, ("Retry-After", str(RETRY_AFTER_SECONDS)))
        return _json(200, {"status": "ok"})

    # -- the result webhook ---------------------------------------------------------------

    def _receive(self, tenant: str, result_id: str, environ: WSGIEnvironment) -> _Response:
        known = self._tenants.get(tenant)
        context = {"tenant": tenant, "result_id": result_id}
        try:
            body = _read_capped(environ, self._max_body_bytes)
        except RequestBodyError as exc:
            return self._reject(exc.status, str(exc), **context)
        if not _is_json(header(environ, "Content-Type")):
            return self._reject(415, "send the result as Content-Type: application/json", **context)
        now = self._clock()
        failure = None if known is not None else "unknown tenant"
        try:
            (known or self._decoy).authenticate(request_headers(environ), body, now=now)
        except WebhookAuthenticationError as exc:
            failure = failure or str(exc)
        if failure is not None:
            return self._reject(
                401, _UNAUTHORIZED, ("WWW-Authenticate", _CHALLENGE), reason=failure, **context
            )

        try:
            data = codec.parse_json(body, what="result")
        except PayloadError as exc:
            return self._reject(
                400, "the body is not valid UTF-8 JSON", **context, problems=exc.problems
            )
        if not isinstance(data, dict):
            return self._reject(400, "the body must be a JSON object", **context)
        try:
            result = codec.structure(data, Result, what="result")
        except PayloadError as exc:
            return self._reject(
                422, "the result does not match the contract", **context, problems=exc.problems
            )
        if result.result_id != result_id:
            return self._reject(
                422,
                "the body's resultId differs from the one in the URL",
                **context,
                problems=("resultId does not match the URL's {resultId} segment @ $.resultId",),
            )

        try:
            recorded = self._store.record_result(tenant, result_id, body, now=now)
        except StoreError as exc:
            self._emit(
                "result.failed", level="error", **context, status=503, error=_error_text(exc)
            )
            self._answered(tenant, 503, "failed")
            return _json(
                503,
                {"error": "the result store is unavailable; retry later"},
                ("Retry-After", str(RETRY_AFTER_SECONDS)),
            )
        response, answer = self._answer(recorded)
        orphan = recorded.outcome is ResultOutcome.ORPHAN
        self._emit(
            "result.received",
            level="warning" if orphan else "info",
            **context,
            status=response.status,
            outcome=answer,
            version=recorded.version,
        )
        self._answered(tenant, response.status, answer)
        self._notify(tenant, result_id, body, result, now, recorded)
        return response

    def _answer(self, recorded: RecordedResult) -> tuple[_Response, str]:
        """The answer to a recorded result, and its status word (the log's `outcome`)."""
        outcome = recorded.outcome
        if outcome is ResultOutcome.NEW:
            return _json(200, {"status": "stored", "version": recorded.version}), "stored"
        if outcome is ResultOutcome.UPDATED:
            return _json(200, {"status": "updated", "version": recorded.version}), "updated"
        if outcome is ResultOutcome.DUPLICATE:
            return _json(200, {"status": "duplicate"}), "duplicate"
        return _json(202, {"status": "orphan"}), "orphan"

    def _notify(
        self,
        tenant: str,
        result_id: str,
        body: bytes,
        result: Result,
        now: float,
        recorded: RecordedResult,
    ) -> None:
        """Run `on_recorded` after the commit; its failure is logged, never answered."""
        if self._on_recorded is None:
            return
        try:
            record = None
            if recorded.outcome is not ResultOutcome.DUPLICATE:
                record = ResultRecord(
                    tenant=tenant,
                    result_id=result_id,
                    version=recorded.version,
                    payload=body,
                    digest=result_digest(result),
                    received_at=now,
                    orphan=recorded.outcome is ResultOutcome.ORPHAN,
                )
            self._on_recorded(tenant, record, recorded)
        except Exception as exc:
            self._emit(
                "result.hook_failed",
                level="error",
                tenant=tenant,
                result_id=result_id,
                error=type(exc).__name__,
            )

    # -- answers and logging --------------------------------------------------------------

    def _reject(
        self,
        status: int,
        message: str,
        *headers: tuple[str, str],
        tenant: str | None = None,
        result_id: str | None = None,
        reason: str | None = None,
        problems: Iterable[str] | None = None,
    ) -> _Response:
        """A result webhook's error answer `{"error": message}`, logged (warning) with the
        secret-free reason and counted."""
        data: dict[str, Any] = {"error": message}
        if problems is not None:
            data["problems"] = list(problems)
        fields: dict[str, Any] = {"status": status, "reason": reason or message}
        if tenant is not None:
            fields.update(tenant=tenant, result_id=result_id)
        if problems is not None:
            fields["problems"] = len(data["problems"])
        self._emit("result.rejected", level="warning", **fields)
        self._answered(tenant, status, "rejected")
        return _json(status, data, *headers)

    def _refuse(self, status: int, message: str, *headers: tuple[str, str]) -> _Response:
        """An error answer to a request that is not a result webhook."""
        self._emit("request.rejected", status=status, reason=message)
        return _json(status, {"error": message}, *headers)

    def _answered(self, tenant: str | None, status: int, outcome: str) -> None:
        if self._on_answered is None:
            return
        known = tenant if tenant is not None and tenant in self._tenants else None
        with contextlib.suppress(Exception):  # counting must not change the answer
            self._on_answered(known, status, outcome)

    def _emit(self, event: str, **fields: Any) -> None:
        if self._log is None:
            return
        # A broken logger must not turn a stored result into a 500.
        with contextlib.suppress(Exception):
            self._log(event, **fields)
