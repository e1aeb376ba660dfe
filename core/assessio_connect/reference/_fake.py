"""`ReferenceAts`: the reference ATS as `docs/reference-ats.md` describes it, on 127.0.0.1, for
tests and the demo.

Written from that page, not from the connector: it imports nothing of `_connector` and restates
each path, header, limit and rule under the section it comes from, so a connector that misreads
the page is refused here as the ATS would refuse it. Tests drive it beyond the page: queue
invitations, push signed events, inspect and wait for write-backs, inject failures. Every method
is thread-safe.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote_to_bytes

import attrs
import urllib3

from assessio_connect.testing import ServedApp

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["AtsWrite", "ReferenceAts", "WritePredicate"]

# source: docs/reference-ats.md § Conventions
JSON_TYPE = "application/json"
MAX_BODY_BYTES = 1024 * 1024
# source: docs/reference-ats.md § Authentication
BEARER = "bearer"
CHALLENGE = 'Bearer realm="reference-ats"'
UNAUTHORIZED = "missing or invalid bearer token"
# source: docs/reference-ats.md § Ping
PING_PATH = ("api", "ping")
# source: docs/reference-ats.md § Invitations feed
FEED_PATH = ("api", "invitations")
FEED_PARAMETERS = ("after", "limit")
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
# source: docs/reference-ats.md § Write-back
APPLICATIONS_PATH = ("api", "applications")
ASSESSMENT_SEGMENT = "assessment"
RESULT_FIELDS = ("result_id", "version", "score", "subscores", "report_url", "recruitment_url")
MIN_SCORE = 0
MAX_SCORE = 100
STALE_VERSION = "stale version"
# source: docs/reference-ats.md § Webhook delivery
MAX_EVENT_BYTES = 256 * 1024
# source: docs/reference-ats.md § Webhook signature
SIGNATURE_HEADER = "X-Reference-Signature"
SIGNATURE_PREFIX = "sha256="

_DIGITS = re.compile(r"[0-9]{1,18}")


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
    """An error answer shaped as § Errors says: `{"error": message, ...}`."""
    return _Reply(status, {"error": message, **extra})


def _unauthorized() -> _Reply:
    return _Reply(401, {"error": UNAUTHORIZED}, (("WWW-Authenticate", CHALLENGE),))


def _method_not_allowed(allowed: str) -> _Reply:
    return _Reply(405, {"error": f"use {allowed}"}, (("Allow", allowed),))


def _format_seconds(value: float | str) -> str:
    if isinstance(value, str):
        return value  # an HTTP date, sent as given
    return str(int(value)) if value == int(value) else f"{value:g}"


# -- reading requests -----------------------------------------------------------------------


def _header(environ: WSGIEnvironment, name: str) -> str | None:
    """One request header by its HTTP name, case-insensitively, or None."""
    key = name.upper().replace("-", "_")
    value = environ.get(key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key)
    return value if isinstance(value, str) else None


def _segments(environ: WSGIEnvironment) -> tuple[str, ...]:
    """The path's segments, each percent-decoded as UTF-8 (UnicodeError when one is not), so
    that an identifier with an encoded `/` stays one segment (§ Conventions)."""
    uri = environ.get("REQUEST_URI")
    if isinstance(uri, str) and uri.startswith("/"):
        path = uri.partition("?")[0]
    else:  # another server: PATH_INFO is decoded already, and an encoded `/` is lost there
        path = quote(str(environ.get("PATH_INFO") or "/").encode("latin-1"), safe="/")
    parts = path.split("/")[1:]
    segments = [unquote_to_bytes(part.encode("latin-1")).decode("utf-8") for part in parts]
    mount = str(environ.get("SCRIPT_NAME") or "").strip("/")
    return tuple(segments[len(mount.split("/")) if mount else 0 :])


def _application_of(segments: tuple[str, ...]) -> str | None:
    """The application id of a write-back path, `/api/applications/{id}/assessment`."""
    if (
        len(segments) == 4
        and segments[:2] == APPLICATIONS_PATH
        and segments[3] == ASSESSMENT_SEGMENT
        and segments[2]
    ):
        return segments[2]
    return None


def _number(text: str | None) -> int | None:
    """The value of a query parameter of decimal digits, or None."""
    return int(text) if text is not None and _DIGITS.fullmatch(text) else None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


@attrs.frozen
class _Body:
    """A write-back body as received: a refusal from its headers, or its JSON document."""

    refusal: _Reply | None = None
    document: Any = None
    is_json: bool = False


def _receive(environ: WSGIEnvironment) -> _Body:
    """Read the body unless its Content-Length is refused (§ Conventions: 413 before reading)."""
    length_text = (_header(environ, "Content-Length") or "").strip()
    if length_text and not re.fullmatch(r"[0-9]+", length_text):
        return _Body(_error(400, "Content-Length is not a number"))
    digits = length_text.lstrip("0")
    length = int(digits or "0") if len(digits) <= 18 else MAX_BODY_BYTES + 1  # no huge int()
    if length > MAX_BODY_BYTES:
        return _Body(_error(413, f"the body is over {MAX_BODY_BYTES} bytes"))
    raw: bytes = environ["wsgi.input"].read(length) if length else b""
    try:
        document = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return _Body()
    return _Body(document=document, is_json=True)


def _is_json(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() == JSON_TYPE


# -- the rules of a write-back (§ Write-back) -----------------------------------------------


def _is_integer(value: object, least: int, most: int | None = None) -> bool:
    """A JSON integer (not a boolean) from `least` to `most`."""
    if not isinstance(value, int) or isinstance(value, bool):
        return False
    return least <= value and (most is None or value <= most)


def _is_score(value: object) -> bool:
    return _is_integer(value, MIN_SCORE, MAX_SCORE)


def _member(path: str, key: str) -> str:
    return f"{path}.{key}" if key.isidentifier() else f"{path}[{key!r}]"


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    names = {bool: "a boolean", str: "a string", list: "an array", dict: "an object"}
    return names.get(type(value), "a number")


def _field_problems(field: str, value: object) -> list[str]:
    """Each way `value` breaks the table's row for `field`, as `message @ $.path`."""
    where = _member("$", field)
    if field == "result_id" and not (isinstance(value, str) and value.strip()):
        return [f"expected a non-empty string @ {where}"]
    if field == "version" and not _is_integer(value, 1):
        return [f"expected an integer of 1 or more @ {where}"]
    if field == "score" and not (value is None or _is_score(value)):
        return [f"expected an integer from {MIN_SCORE} to {MAX_SCORE} or null @ {where}"]
    if field == "subscores":
        if not isinstance(value, dict):
            return [f"expected an object of integers, got {_json_type(value)} @ {where}"]
        return [
            f"expected an integer from {MIN_SCORE} to {MAX_SCORE} @ {_member(where, name)}"
            for name, score in value.items()
            if not _is_score(score)
        ]
    if field in ("report_url", "recruitment_url") and not (value is None or isinstance(value, str)):
        return [f"expected a string or null @ {where}"]
    return []


def _result_problems(document: object) -> list[str]:
    """Every problem of a write-back body: the table's fields in order, then unknown ones."""
    if not isinstance(document, dict):
        return [f"expected an object, got {_json_type(document)} @ $"]
    problems: list[str] = []
    for field in RESULT_FIELDS:
        if field not in document:
            problems.append(f"required field missing @ {_member('$', field)}")
        else:
            problems += _field_problems(field, document[field])
    problems += [
        f"unknown field @ {_member('$', key)}" for key in document if key not in RESULT_FIELDS
    ]
    return problems


# -- the fake -------------------------------------------------------------------------------


class ReferenceAts(ServedApp):
    """The reference ATS of `docs/reference-ats.md`: `GET /api/ping`, `GET /api/invitations`
    and `PUT /api/applications/{id}/assessment` behind `Authorization: Bearer <api_token>`,
    and signed webhook deliveries with `push_event`.

    Write-backs are accepted only for applications it knows (queued with `add_invitation` or
    sent with `push_event`); an older version than the stored one answers 409 "stale version",
    the same version again 200 "unchanged".
    """

    _what = "reference ATS"

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
        self._webhook_key = webhook_secret.encode("utf-8") if webhook_secret is not None else None
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
        """Queue an invitation for the feed; returns its body (also a valid pushed event)."""
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

    def webhook_headers(self, body: bytes) -> dict[str, str]:
        """The headers of a webhook delivery of `body`, signed with the webhook secret."""
        if self._webhook_key is None:
            raise RuntimeError("this reference ATS has no webhook_secret to sign events with")
        digest = hmac.new(self._webhook_key, body, hashlib.sha256).hexdigest()
        return {"Content-Type": JSON_TYPE, SIGNATURE_HEADER: SIGNATURE_PREFIX + digest}

    def push_event(self, daemon_events_url: str, invitation_body: Mapping[str, Any] | bytes) -> int:
        """POST an event, signed with the webhook secret, to the connector; returns the status.

        A mapping is sent as compact JSON, bytes exactly as given."""
        if isinstance(invitation_body, bytes):
            body = invitation_body
        else:
            body = json.dumps(dict(invitation_body), separators=(",", ":")).encode("utf-8")
        headers = self.webhook_headers(body)
        if len(body) > MAX_EVENT_BYTES:
            raise ValueError(f"the reference ATS sends no event over {MAX_EVENT_BYTES} bytes")
        try:
            application_id = json.loads(body).get("application_id")
        except (ValueError, AttributeError, RecursionError):
            application_id = None
        if isinstance(application_id, str):
            with self._changed:
                self._applications.add(application_id)
        response = self._http.request("POST", daemon_events_url, body=body, headers=headers)
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
            return {key: copy.deepcopy(value) for key, value in self._results.items()}

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

    def wsgi_app(self) -> Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]:
        """The fake's WSGI app (served by `start()`, or mount it yourself)."""
        return self._serve

    def _serve(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        reply = self._handle(environ)
        body = json.dumps(reply.data, separators=(",", ":")).encode("ascii")
        headers = [("Content-Type", JSON_TYPE), ("Content-Length", str(len(body))), *reply.headers]
        start_response(f"{reply.status} {HTTPStatus(reply.status).phrase}", headers)
        return [body]

    def _handle(self, environ: WSGIEnvironment) -> _Reply:
        method = str(environ.get("REQUEST_METHOD") or "GET").upper()
        authorized = self._authorized(environ)
        try:
            segments = _segments(environ)
        except UnicodeError:
            if not authorized:
                return _unauthorized()
            return _error(400, "the path is not percent-encoded UTF-8")
        application_id = _application_of(segments)
        if application_id is not None and method == "PUT":
            return self._put(application_id, environ, authorized)
        if not authorized:
            return _unauthorized()
        if segments == PING_PATH:
            return _Reply(200, {"ok": True}) if method == "GET" else _method_not_allowed("GET")
        if segments == FEED_PATH:
            if method != "GET":
                return _method_not_allowed("GET")
            return self._page(str(environ.get("QUERY_STRING") or ""))
        if application_id is not None:
            return _method_not_allowed("PUT")
        return _error(404, f"no such endpoint: /{'/'.join(segments)}")

    def _authorized(self, environ: WSGIEnvironment) -> bool:
        scheme, _, token = (_header(environ, "Authorization") or "").strip().partition(" ")
        presented = token.strip().encode("latin-1", "replace")
        return scheme.lower() == BEARER and hmac.compare_digest(presented, self._token)

    def _page(self, query: str) -> _Reply:
        try:
            pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True, errors="strict")
        except (ValueError, UnicodeError):
            return _error(400, "the query string is not name=value pairs")
        given: dict[str, str] = {}
        for name, value in pairs:
            if name not in FEED_PARAMETERS:
                return _error(400, f"unknown query parameter {name!r}; use after and limit")
            if name in given:
                return _error(400, f"{name} is given more than once")
            given[name] = value
        after = _number(given.get("after", "0"))
        if after is None:
            return _error(400, "after must be a next from an earlier page")
        limit = _number(given.get("limit", str(DEFAULT_PAGE_SIZE)))
        if limit is None or not 1 <= limit <= MAX_PAGE_SIZE:
            return _error(400, f"limit must be an integer from 1 to {MAX_PAGE_SIZE}")
        with self._changed:
            page = [(seq, body) for seq, body in self._invitations if seq > after][:limit]
            invitations = [copy.deepcopy(body) for _, body in page]
        return _Reply(200, {"invitations": invitations, "next": str(page[-1][0]) if page else None})

    def _put(self, application_id: str, environ: WSGIEnvironment, authorized: bool) -> _Reply:
        """Answer a write-back, in the order of checks § Write-back gives, and record it."""
        content_type_ok = _is_json(_header(environ, "Content-Type"))
        body = _receive(environ) if authorized and content_type_ok else _Body()
        with self._changed:
            changed = False
            if not authorized:
                answer = _unauthorized()
            elif self._fail_always is not None or self._fail_count > 0:
                answer = self._injected_failure()
            elif not content_type_ok:
                answer = _error(415, f"Content-Type must be {JSON_TYPE}")
            elif body.refusal is not None:
                answer = body.refusal
            elif application_id not in self._applications:
                answer = _error(404, f"no application {application_id!r}")
            elif not body.is_json:
                answer = _error(400, "the body is not UTF-8 JSON")
            else:
                answer, changed = self._store(application_id, body.document)
            sent = body.document if isinstance(body.document, dict) else {}
            self._writes.append(AtsWrite(application_id, sent, answer.status, changed))
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

    def _store(self, application_id: str, document: object) -> tuple[_Reply, bool]:
        problems = _result_problems(document)
        if problems or not isinstance(document, dict):
            message = "invalid assessment result: " + "; ".join(problems)
            return _error(422, message, problems=problems), False
        version: int = document["version"]
        stored = self._results.get(application_id)
        if stored is not None:
            current: int = stored["version"]
            if version < current:
                return _error(409, STALE_VERSION, current_version=current), False
            if version == current:
                return _Reply(200, {"status": "unchanged", "version": version}), False
        self._results[application_id] = copy.deepcopy(document)
        return _Reply(200, {"status": "stored", "version": version}), True
