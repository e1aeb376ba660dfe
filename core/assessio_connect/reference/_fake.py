"""`ReferenceAts`: a stateful fake of the reference ATS on 127.0.0.1, for tests and the demo.

It queues invitations for polling, pushes signed events, stores written-back results by
version and can be told to fail; every method is thread-safe.
"""

from __future__ import annotations

import copy
import hmac
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import attrs
import urllib3

from assessio_connect._server import ServedApp
from assessio_connect._wsgi import RequestBodyError, header, read_body

from ._connector import MAX_PAGE_SIZE, SIGNATURE_HEADER, sign

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["AtsWrite", "ReferenceAts", "WritePredicate"]

MAX_BODY_BYTES = 1024 * 1024
DEFAULT_PAGE_SIZE = 100
_APPLICATIONS = "/api/applications/"
_ASSESSMENT = "/assessment"
_JSON = "application/json"


@attrs.frozen
class AtsWrite:
    """One `PUT .../assessment` the fake received, and what it answered."""

    application_id: str
    body: Mapping[str, Any]
    """The JSON object sent ({} when the body was not one)."""
    status: int
    changed: bool = False
    """Whether it replaced the stored result (a repeat of the same version does not)."""
    at: float = attrs.field(factory=time.time)
    """When the fake received it (seconds since the epoch)."""


WritePredicate = Callable[[list[AtsWrite]], bool]


@attrs.frozen
class _Reply:
    status: int
    data: Mapping[str, Any]
    headers: tuple[tuple[str, str], ...] = ()


def _error(status: int, message: str, **extra: Any) -> _Reply:
    return _Reply(status, {"error": message, **extra})


def _format_seconds(value: float | str) -> str:
    if isinstance(value, str):
        return value  # an HTTP date, sent as given
    return str(int(value)) if value == int(value) else f"{value:g}"


def _write_problems(data: Mapping[str, Any]) -> list[str]:
    problems = []
    if not isinstance(data.get("result_id"), str) or not data["result_id"]:
        problems.append("result_id must be a non-empty string")
    version = data.get("version")
    if type(version) is not int or version < 1:
        problems.append("version must be an integer from 1")
    score = data.get("score")
    if score is not None and type(score) is not int:
        problems.append("score must be an integer or null")
    subscores = data.get("subscores", {})
    if not isinstance(subscores, dict) or not all(type(v) is int for v in subscores.values()):
        problems.append("subscores must be an object of integers")
    for key in ("report_url", "recruitment_url"):
        if data.get(key) is not None and not isinstance(data[key], str):
            problems.append(f"{key} must be a string or null")
    return problems


class ReferenceAts(ServedApp):
    """A stand-in for the reference ATS: `GET /api/ping`, `GET /api/invitations`,
    `PUT /api/applications/{id}/assessment`, each behind `Authorization: Bearer <api_token>`.

    Write-backs are accepted only for applications it knows (queued with `add_invitation` or
    sent with `push_event`); a lower version than the stored one answers 409 "stale version",
    the same version again 200 without a change.
    """

    def __init__(
        self,
        *,
        api_token: str,
        webhook_secret: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if not api_token:
            raise ValueError("api_token must not be empty")
        self._token = api_token.encode("utf-8")
        self._webhook_secret = webhook_secret
        super().__init__(host, port)
        self._changed = threading.Condition()
        self._sequence = itertools.count(1)
        self._invitations: list[tuple[int, dict[str, Any]]] = []
        self._applications: set[str] = set()
        self._writes: list[AtsWrite] = []
        self._results: dict[str, dict[str, Any]] = {}
        self._fail_count = 0
        self._fail_status = 503
        self._fail_retry_after: float | str | None = None
        self._fail_always: int | None = None
        self._http = urllib3.PoolManager(
            retries=False, timeout=urllib3.Timeout(connect=5.0, read=30.0)
        )

    def __repr__(self) -> str:
        return f"ReferenceAts({self.serving})"

    # -- serving --------------------------------------------------------------------------

    _what = "reference ATS"

    def _app(self) -> Any:
        return self.wsgi_app

    def stop(self) -> None:
        """Stop serving; the state stays readable."""
        super().stop()
        self._http.clear()

    # -- driving it -----------------------------------------------------------------------

    def add_invitation(
        self,
        application_id: str,
        *,
        job: Mapping[str, Any],
        candidate: Mapping[str, Any],
        lens: str | None = None,
        locale: str | None = None,
    ) -> dict[str, Any]:
        """Queue an invitation for polling; returns its body (also a valid pushed event)."""
        with self._changed:
            sequence = next(self._sequence)
            body: dict[str, Any] = {
                "event_id": f"evt-{sequence}",
                "application_id": application_id,
                "job": copy.deepcopy(dict(job)),
                "candidate": copy.deepcopy(dict(candidate)),
            }
            if lens is not None:
                body["lens"] = lens
            if locale is not None:
                body["locale"] = locale
            self._invitations.append((sequence, body))
            self._applications.add(application_id)
            return copy.deepcopy(body)

    def push_event(self, daemon_events_url: str, invitation_body: Mapping[str, Any]) -> int:
        """POST an event, signed with the webhook secret, to the connector; returns the status."""
        if self._webhook_secret is None:
            raise RuntimeError("this reference ATS has no webhook_secret to sign events with")
        application_id = invitation_body.get("application_id")
        if isinstance(application_id, str):
            with self._changed:
                self._applications.add(application_id)
        body = json.dumps(dict(invitation_body), separators=(",", ":")).encode("utf-8")
        response = self._http.request(
            "POST",
            daemon_events_url,
            body=body,
            headers={
                "Content-Type": _JSON,
                SIGNATURE_HEADER: sign(body, self._webhook_secret),
            },
        )
        return int(response.status)

    def fail_next(self, n: int, status: int = 503, retry_after: float | str | None = None) -> None:
        """The next `n` write-backs answer `status` (with `Retry-After` when given) unprocessed."""
        if n < 0 or not 400 <= status <= 599:
            raise ValueError("n must not be negative and status must be 400..599")
        with self._changed:
            self._fail_count = n
            self._fail_status = status
            self._fail_retry_after = retry_after

    def fail_always(self, status: int) -> None:
        """Every write-back answers `status` until `heal()`."""
        if not 400 <= status <= 599:
            raise ValueError("status must be 400..599")
        with self._changed:
            self._fail_always = status

    def heal(self) -> None:
        """Stop failing write-backs."""
        with self._changed:
            self._fail_count = 0
            self._fail_always = None

    # -- inspection -----------------------------------------------------------------------

    @property
    def writes(self) -> list[AtsWrite]:
        """Every write-back received, oldest first, whatever it was answered."""
        with self._changed:
            return list(self._writes)

    @property
    def results(self) -> dict[str, dict[str, Any]]:
        """application_id -> the body of its latest accepted write-back."""
        with self._changed:
            return {key: dict(value) for key, value in self._results.items()}

    def wait_for_writes(
        self, count_or_predicate: int | WritePredicate, timeout: float = 10.0
    ) -> list[AtsWrite]:
        """Block until `count` write-backs arrived, or `predicate(writes)` holds; returns them.

        Raises TimeoutError after `timeout` seconds."""
        predicate: WritePredicate
        if isinstance(count_or_predicate, int):
            count = count_or_predicate

            def at_least(writes: list[AtsWrite]) -> bool:
                return len(writes) >= count

            predicate = at_least
            wanted = f"{count} write-back(s)"
        else:
            predicate = count_or_predicate
            wanted = f"write-backs matching {getattr(predicate, '__name__', 'the predicate')}"
        with self._changed:
            if self._changed.wait_for(lambda: predicate(list(self._writes)), timeout):
                return list(self._writes)
            seen = [(w.application_id, w.status) for w in self._writes[-10:]]
            raise TimeoutError(
                f"timed out after {timeout:g} s waiting for {wanted}; "
                f"{len(self._writes)} received, latest (application, status): {seen}"
            )

    # -- the HTTP API ---------------------------------------------------------------------

    def wsgi_app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """The fake's WSGI app (served by `start()`, or mount it yourself)."""
        reply = self._handle(environ)
        body = json.dumps(reply.data, separators=(",", ":")).encode("ascii")
        headers = [("Content-Type", _JSON), ("Content-Length", str(len(body))), *reply.headers]
        start_response(f"{reply.status} {HTTPStatus(reply.status).phrase}", headers)
        return [body]

    def _handle(self, environ: WSGIEnvironment) -> _Reply:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        raw = str(environ.get("PATH_INFO") or "/")
        try:
            path = raw.encode("latin-1").decode("utf-8")
        except UnicodeError:
            return _error(400, "the path is not UTF-8")
        application_id = None
        if path.startswith(_APPLICATIONS) and path.endswith(_ASSESSMENT):
            application_id = path[len(_APPLICATIONS) : -len(_ASSESSMENT)] or None
        if application_id is not None:
            if method != "PUT":
                return _Reply(405, {"error": "use PUT"}, (("Allow", "PUT"),))
            return self._put(application_id, environ)
        if path not in ("/api/ping", "/api/invitations"):
            return _error(404, f"no such endpoint: {path}")
        if method != "GET":
            return _Reply(405, {"error": "use GET"}, (("Allow", "GET"),))
        if not self._authorized(environ):
            return _error(401, "missing or invalid bearer token")
        if path == "/api/ping":
            return _Reply(200, {"ok": True})
        return self._invitations_page(str(environ.get("QUERY_STRING") or ""))

    def _authorized(self, environ: WSGIEnvironment) -> bool:
        scheme, _, token = (header(environ, "Authorization") or "").strip().partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode("latin-1"), self._token
        )

    def _invitations_page(self, query: str) -> _Reply:
        params = parse_qs(query)
        after_text = params.get("after", ["0"])[-1]
        limit_text = params.get("limit", [str(DEFAULT_PAGE_SIZE)])[-1]
        if not after_text.isdigit():
            return _error(400, "after must be a sequence number from a previous page's next")
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_PAGE_SIZE:
            return _error(400, f"limit must be from 1 to {MAX_PAGE_SIZE}")
        after, limit = int(after_text), int(limit_text)
        with self._changed:
            page = [(seq, body) for seq, body in self._invitations if seq > after][:limit]
        return _Reply(
            200,
            {
                "invitations": [body for _, body in page],
                "next": str(page[-1][0]) if page else None,
            },
        )

    def _put(self, application_id: str, environ: WSGIEnvironment) -> _Reply:
        body: dict[str, Any] = {}
        reply: _Reply | None = None
        try:
            parsed = json.loads(read_body(environ, MAX_BODY_BYTES).decode("utf-8"))
        except RequestBodyError as exc:
            reply = _error(exc.status, str(exc))
        except ValueError:
            reply = _error(400, "the body is not UTF-8 JSON")
        else:
            if isinstance(parsed, dict):
                body = parsed
            else:
                reply = _error(400, "expected a JSON object")
        with self._changed:
            changed = False
            answer: _Reply
            if not self._authorized(environ):
                answer = _error(401, "missing or invalid bearer token")
            elif self._fail_always is not None or self._fail_count > 0:
                answer = self._injected_failure()
            elif application_id not in self._applications:
                answer = _error(404, f"no application {application_id!r}")
            elif reply is not None:
                answer = reply
            else:
                answer, changed = self._store(application_id, body)
            self._writes.append(AtsWrite(application_id, body, answer.status, changed))
            self._changed.notify_all()
        return answer

    def _injected_failure(self) -> _Reply:
        if self._fail_always is not None:
            return _error(self._fail_always, "injected failure")
        self._fail_count -= 1
        headers: tuple[tuple[str, str], ...] = ()
        if self._fail_retry_after is not None:
            headers = (("Retry-After", _format_seconds(self._fail_retry_after)),)
        return _Reply(self._fail_status, {"error": "injected failure"}, headers)

    def _store(self, application_id: str, body: dict[str, Any]) -> tuple[_Reply, bool]:
        problems = _write_problems(body)
        if problems:
            return _error(422, "; ".join(problems), problems=problems), False
        stored = self._results.get(application_id)
        version: int = body["version"]
        if stored is not None:
            current: int = stored["version"]
            if version < current:
                return _error(409, "stale version", current_version=current), False
            if version == current:
                return _Reply(200, {"status": "unchanged", "version": version}), False
        self._results[application_id] = dict(body)
        return _Reply(200, {"status": "stored", "version": version}), True
