"""`Routes`: a connector's push endpoints as plain functions `(Request) -> Answer`, served as a
WSGI app; werkzeug routes and reads the request, the kit maps failures to status codes."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import attrs

from assessio_connect.contract.errors import (
    ConfigError,
    PayloadError,
    PermanentError,
    RetryableError,
    SignatureError,
    StoreUnavailableError,
    WebhookAuthenticationError,
)

from ._answer import Answer
from ._request import Request, RequestRefused

if TYPE_CHECKING:
    from werkzeug.wrappers import Request as WerkzeugRequest

# werkzeug is imported where it is used, so `import assessio_connect` (every CLI command) does
# not load it; a connector pays for it when it makes its first Routes.

__all__ = ["DEFAULT_MAX_BODY_BYTES", "ErrorAnswer", "Handler", "Routes"]

Handler = Callable[[Request], Answer]
"""A route: the request in, the answer out; it may raise instead of answering an error."""
Log = Callable[..., None]
"""`context.log`: `log(event, level=..., **fields)`."""
ErrorAnswer = Callable[..., Answer]
"""`(status, message, *, headers, **extra) -> Answer`: how the routes word an error."""

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_RETRY_AFTER = 5.0
_VARIABLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_METHOD = re.compile(r"[A-Z]+")
_TRY_LATER = "cannot take this request right now; try again later"


def _rule(path: str) -> str:
    """`/items/{id}` in werkzeug's syntax (`/items/<id>`); no other syntax is accepted."""
    if not path.startswith("/") or any(c in path for c in "<>"):
        raise ValueError(f"a route path starts with '/' and names variables {{so}}: {path!r}")
    return _VARIABLE.sub(lambda m: f"<{m[1]}>", path)


def _retry_after(seconds: float | None, default: float) -> tuple[tuple[str, str], ...]:
    wait = default if seconds is None or not math.isfinite(seconds) else seconds
    return (("Retry-After", str(max(1, math.ceil(wait)))),)


class Routes:
    """A WSGI app made of handlers: routing by method and path (`{name}` matches one path
    segment), a capped body, and every failure answered with its status and
    `{"error": ...}`, never a traceback:

    | raised (or found) | answer |
    |---|---|
    | no route for the path / not for the method | 404 / 405 with `Allow` |
    | a Content-Length that is not a number / a body over `max_body_bytes` | 400 / 413 |
    | `RequestRefused(status, message)` (`request.json()`: 415 not JSON, 400 bad JSON) | status |
    | `PayloadError` (`request.structure(cls)`, your parser) | 422 with every problem's path |
    | `SignatureError`, `WebhookAuthenticationError` | 401 |
    | `ConfigError` (from `context.invite`: no lens or locale fits) | 422, logged as an error |
    | `PermanentError` | 422, logged |
    | `RetryableError`, `StoreUnavailableError` | 503 with `Retry-After`, logged |
    | anything else | 500, logged with the exception (the answer holds no detail) |

    `log` is usually `context.log`; events are named `{name}.refused` and `{name}.failed`.
    `error_answer` words every error answer; the default is `Answer.error` (`{"error": …}`),
    and an ATS that reads `{"message": …}` gets
    `lambda status, message, headers=(), **extra: Answer.json(status, {"message": message},
    headers=headers)` (keep `headers`: they carry `Allow` and `Retry-After`).
    """

    def __init__(
        self,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        log: Log | None = None,
        name: str = "connector",
        retry_after: float = DEFAULT_RETRY_AFTER,
        error_answer: ErrorAnswer = Answer.error,
    ) -> None:
        if max_body_bytes < 0:
            raise ValueError("max_body_bytes cannot be negative")
        self.max_body_bytes = max_body_bytes
        self._log = log
        self._name = name
        self._retry_after = retry_after
        self._error = error_answer
        from werkzeug.routing import Map

        self._map = Map(strict_slashes=False, merge_slashes=False)
        self._handlers: dict[str, Handler] = {}

    def __repr__(self) -> str:
        return f"Routes({sorted(self._handlers)})"

    def add(self, methods: str | Iterable[str], path: str, handler: Handler) -> None:
        """Answer `methods` (e.g. "POST" or ["GET", "PUT"]) on `path` with `handler`."""
        wanted = [methods] if isinstance(methods, str) else list(methods)
        if not wanted or not all(_METHOD.fullmatch(m) for m in wanted):
            raise ValueError(f"methods are upper-case HTTP methods, not {methods!r}")
        from werkzeug.routing import Rule

        endpoint = f"{len(self._handlers)}:{path}"
        self._map.add(Rule(_rule(path), endpoint=endpoint, methods=wanted))
        self._handlers[endpoint] = handler

    def route(self, methods: str | Iterable[str], path: str) -> Callable[[Handler], Handler]:
        """`add` as a decorator: `@routes.route("POST", "/webhook")`."""

        def register(handler: Handler) -> Handler:
            self.add(methods, path, handler)
            return handler

        return register

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        return self.answer(environ).send(start_response)

    def answer(self, environ: dict[str, Any]) -> Answer:
        """The answer to one WSGI request (what `__call__` sends)."""
        from werkzeug.wrappers import Request as WerkzeugRequest

        incoming = WerkzeugRequest(environ)
        incoming.max_content_length = self.max_body_bytes
        method = incoming.method.upper()
        routed = self._match(method, incoming.path)
        if isinstance(routed, Answer):
            return routed  # 404 or 405, before a byte of the body is read
        endpoint, params = routed
        try:
            body = self._body(incoming)
        except RequestRefused as exc:
            return self._error(exc.status, exc.message, headers=exc.headers)
        request = Request(
            method=method,
            path=incoming.path,
            params=params,
            query={key: incoming.args.getlist(key) for key in incoming.args},
            headers=dict(incoming.headers.items()),
            body=body,
        )
        return self._call(endpoint, request)

    def dispatch(self, request: Request) -> Answer:
        """Answer a `Request` built in a test as if it had arrived over HTTP."""
        routed = self._match(request.method.upper(), request.path)
        if isinstance(routed, Answer):
            return routed
        endpoint, params = routed
        if len(request.body) > self.max_body_bytes:
            return self._error(413, self._too_large(len(request.body)))
        return self._call(endpoint, attrs.evolve(request, params=params))

    def _match(self, method: str, path: str) -> tuple[str, dict[str, str]] | Answer:
        from werkzeug.exceptions import MethodNotAllowed, NotFound

        try:
            endpoint, params = self._map.bind("connector", "/").match(path, method=method)
        except NotFound:
            return self._error(404, "no such route")
        except MethodNotAllowed as exc:
            allowed = ", ".join(sorted(exc.valid_methods or ()))
            return self._error(405, f"use {allowed}", headers=[("Allow", allowed)])
        return str(endpoint), {key: str(value) for key, value in params.items()}

    def _call(self, endpoint: str, request: Request) -> Answer:
        try:
            answer = self._handlers[endpoint](request)
        except Exception as exc:  # every failure is answered; none shows a traceback
            return self._failure(request, exc)
        if not isinstance(answer, Answer):
            return self._failure(
                request, TypeError(f"the handler returned {type(answer).__name__}, not Answer")
            )
        return answer

    def _body(self, incoming: WerkzeugRequest) -> bytes:
        from werkzeug.exceptions import RequestEntityTooLarge

        declared = incoming.headers.get("Content-Length")
        if declared is not None and not (declared.strip().isascii() and declared.strip().isdigit()):
            raise RequestRefused(400, "Content-Length is not a number")
        if declared is not None and int(declared) > self.max_body_bytes:
            raise RequestRefused(413, self._too_large(int(declared)))
        try:
            return incoming.get_data(cache=False)
        except RequestEntityTooLarge:  # a chunked body that grew past the limit
            raise RequestRefused(413, self._too_large(None)) from None

    def _too_large(self, size: int | None) -> str:
        what = f"{size} bytes" if size is not None else "the body"
        return f"request body of {what} exceeds the limit of {self.max_body_bytes} bytes"

    def _failure(self, request: Request, exc: Exception) -> Answer:
        if isinstance(exc, RequestRefused):
            if exc.status in (401, 403):
                self._emit("refused", "warning", request, exc.status, exc.message)
            return self._error(exc.status, exc.message, headers=exc.headers)
        if isinstance(exc, PayloadError):
            return self._error(422, f"invalid {exc.what}", problems=list(exc.problems))
        if isinstance(exc, (SignatureError, WebhookAuthenticationError)):
            self._emit("refused", "warning", request, 401, str(exc))
            return self._error(401, str(exc))
        if isinstance(exc, ConfigError):
            self._emit("refused", "error", request, 422, "; ".join(exc.problems))
            return self._error(
                422,
                "the tenant's configuration cannot take this request",
                problems=list(exc.problems),
            )
        if isinstance(exc, PermanentError):
            self._emit("refused", "warning", request, 422, str(exc))
            return self._error(422, "this request cannot be processed")
        if isinstance(exc, (RetryableError, StoreUnavailableError)):
            self._emit("refused", "warning", request, 503, str(exc))
            wait = exc.retry_after if isinstance(exc, RetryableError) else None
            return self._error(503, _TRY_LATER, headers=_retry_after(wait, self._retry_after))
        self._emit("failed", "error", request, 500, f"{type(exc).__name__}: {exc}")
        return self._error(500, "internal error (see the connector's log)")

    def _emit(self, outcome: str, level: str, request: Request, status: int, why: str) -> None:
        if self._log is not None:
            self._log(
                f"{self._name}.{outcome}",
                level=level,
                method=request.method,
                path=request.path,
                status=status,
                reason=why,
            )
