"""The fake Greenhouse's one origin: `GET /authorize` and `POST /token` (auth.greenhouse.io),
`/v3/…` (harvest.greenhouse.io), the take-home test completion PATCH (app.greenhouse.io); the
removed `/v1/…` and `/v2/…` answer 404. Every request is recorded; failures can be injected."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from ._fake_harvest import HarvestV3
from ._fake_http import BodyError, Reply, basic_credentials, error_reply, read_body, respond
from ._fake_oauth import OAuthServer, parse_form
from ._fake_partner import COMPLETION_PREFIX, CompletionEndpoint
from ._fake_state import FakeData, HarvestRequest

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["FakeApp", "FaultInjector"]

MAX_BODY_BYTES = 1024 * 1024


class FaultInjector:
    """Answers injected failures for paths under the configured prefix (see `Fault`)."""

    def __init__(self, data: FakeData) -> None:
        self._data = data

    def __call__(self, path: str, *, explicit: bool = False) -> Reply | None:
        """The injected answer for `path`, if any; `explicit` paths fail only when the prefix
        was given (not the default "" that means every Harvest call)."""
        with self._data.lock:
            fault = self._data.fault
            if not path.startswith(fault.prefix) or (explicit and not fault.prefix):
                return None
            if fault.always is not None:
                return error_reply(fault.always, "injected failure")
            if fault.count <= 0:
                return None
            fault.count -= 1
            headers: tuple[tuple[str, str], ...] = ()
            if fault.retry_after is not None:
                headers = (("Retry-After", f"{fault.retry_after:g}"),)
            if fault.status == 422:
                problem = [{"message": "injected failure", "field": "body"}]
                return error_reply(422, "Validation error", problem).with_headers(*headers)
            return error_reply(fault.status, "injected failure").with_headers(*headers)


class FakeApp:
    """The WSGI application behind `FakeGreenhouse`."""

    def __init__(
        self,
        data: FakeData,
        *,
        oauth: OAuthServer,
        harvest: HarvestV3,
        completion: CompletionEndpoint,
        faults: FaultInjector,
        clock: Callable[[], float],
    ) -> None:
        self.data = data
        self.oauth = oauth
        self.harvest = harvest
        self.completion = completion
        self.faults = faults
        self.clock = clock

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        path = str(environ.get("PATH_INFO") or "/")
        query = str(environ.get("QUERY_STRING") or "")
        auth: str | None = None
        user_id: int | None = None
        body = b""
        try:
            body = read_body(environ, MAX_BODY_BYTES)
            if path == "/authorize":
                reply = self.oauth.authorize(method, parse_qs(query, keep_blank_values=True))
            elif path == "/token":
                reply = self._token(method, query, body, environ)
            elif path.startswith(COMPLETION_PREFIX):
                valid, reply = self.completion(method, path, environ)
                auth = "partner" if valid else None
            elif path.startswith("/v3/"):
                grant, reply = self.harvest(method, path, environ, body)
                if grant is not None:
                    auth, user_id = "bearer", grant.user_id
            else:
                # /v1 and /v2 were removed on 31 Aug 2026: they answer like any unknown path.
                reply = error_reply(404, "Resource not found")
        except BodyError as exc:
            reply = error_reply(exc.status, str(exc))
        except Exception as exc:  # the fake must answer, even when a test drives it oddly
            reply = error_reply(500, f"fake Greenhouse failed: {type(exc).__name__}: {exc}")
        recorded = b"" if path == "/token" else body
        with self.data.lock:
            self.data.requests.append(
                HarvestRequest(
                    method, path, query, recorded, reply.status, auth, user_id, self.clock()
                )
            )
            self.data.changed()
        return respond(start_response, reply)

    def _token(self, method: str, query: str, body: bytes, environ: WSGIEnvironment) -> Reply:
        injected = self.faults(path="/token", explicit=True)
        if injected is not None:
            return injected
        try:
            form = parse_form(body)
        except UnicodeDecodeError:
            form = {}
        # The form body is what RFC 6749 prescribes; one reading of the partner guide sends the
        # same parameters in the query string, so those count too.
        for name, values in parse_qs(query, keep_blank_values=True).items():
            form.setdefault(name, values)
        return self.oauth.token(method, basic_credentials(environ), form)
