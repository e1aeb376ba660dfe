"""`FakeHireboard`: Hireboard as `HIREBOARD-API.md` describes it, on 127.0.0.1, for tests.

Written from that document, not from the connector: it imports nothing from `_connector`, and
restates each header, path, field and rule with the section it comes from. A connector that
misreads the document is refused here as Hireboard would refuse it (401, 404, 415, 400, 422,
409, in the document's order), instead of agreeing with its own mistakes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import urllib3

from assessio_connect.testing import BackgroundServer

__all__ = ["FakeHireboard"]

# source: HIREBOARD-API.md § 2
BEARER = "Bearer"
# source: HIREBOARD-API.md § 3.1
ME_PATH = "/v1/me"
# source: HIREBOARD-API.md § 3.2
RESULTS_PATH = re.compile(r"/v1/applications/(?P<application_id>[^/]+)/assessment-results")
# source: HIREBOARD-API.md § 1.1
JSON_TYPE = "application/json"
# source: HIREBOARD-API.md § 3.2 (headers)
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")
# source: HIREBOARD-API.md § 3.2 (answers)
REPLAYED_HEADER = "Idempotent-Replayed"
# source: HIREBOARD-API.md § 3.2 (body)
REQUIRED_FIELDS = ("provider", "external_id", "version")
OPTIONAL_FIELDS = ("score", "subscores", "report_url")
SUBSCORE_FIELDS = ("name", "score")
# source: HIREBOARD-API.md § 4.1
EVENT_ID_HEADER = "Hireboard-Event-Id"
# source: HIREBOARD-API.md § 4.2
SIGNATURE_HEADER = "Hireboard-Signature"
# source: HIREBOARD-API.md § 4.3
STAGE_CHANGED = "application.stage_changed"
FIRST_STAGE = "applied"

Reply = tuple[int, Any, list[tuple[str, str]]]


def _error(
    status: int, code: str, message: str, *, headers: Iterable[tuple[str, str]] = (), **extra: Any
) -> Reply:
    """An error answer shaped as HIREBOARD-API.md § 1.2 says."""
    return status, {"error": {"code": code, "message": message, **extra}}, list(headers)


def _is_score(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 100


def _is_text(value: object) -> bool:
    return isinstance(value, str) and value != ""


def _subscore_problems(value: object) -> list[tuple[str, str]]:
    if not isinstance(value, list):
        return [("$.subscores", "expected an array")]
    problems: list[tuple[str, str]] = []
    for index, item in enumerate(value):
        path = f"$.subscores[{index}]"
        if not isinstance(item, dict):
            problems.append((path, "expected an object"))
            continue
        problems += [
            (f"{path}.{key}", "unknown field") for key in item if key not in SUBSCORE_FIELDS
        ]
        if not _is_text(item.get("name")):
            problems.append((f"{path}.name", "expected a non-empty string"))
        if not _is_score(item.get("score")):
            problems.append((f"{path}.score", "expected an integer from 0 to 100"))
    return problems


def _report_url_problem(value: object) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return "expected an absolute http or https URL, or null"
    return None


def _result_problems(body: object) -> list[tuple[str, str]]:
    """Every way `body` breaks HIREBOARD-API.md § 3.2's table, as (JSON path, problem)."""
    if not isinstance(body, dict):
        return [("$", "expected an object")]
    known = REQUIRED_FIELDS + OPTIONAL_FIELDS
    problems = [(f"$.{key}", "unknown field") for key in body if key not in known]
    problems += [
        (f"$.{key}", "required field missing") for key in REQUIRED_FIELDS if key not in body
    ]
    for key in ("provider", "external_id"):
        if key in body and not _is_text(body[key]):
            problems.append((f"$.{key}", "expected a non-empty string"))
    version = body.get("version")
    if "version" in body and not (
        isinstance(version, int) and not isinstance(version, bool) and version >= 1
    ):
        problems.append(("$.version", "expected an integer of 1 or more"))
    if body.get("score") is not None and not _is_score(body["score"]):
        problems.append(("$.score", "expected an integer from 0 to 100 or null"))
    if "subscores" in body:
        problems += _subscore_problems(body["subscores"])
    url_problem = _report_url_problem(body.get("report_url"))
    if url_problem:
        problems.append(("$.report_url", url_problem))
    return problems


class FakeHireboard:
    """Hireboard's API and webhooks, in memory: applications, stored results, injected
    failures. Thread-safe; `clock` (unix seconds) dates and signs the events."""

    def __init__(
        self, *, api_key: str, webhook_secret: str, clock: Callable[[], float] = time.time
    ) -> None:
        self._api_key = api_key.encode("utf-8")
        self._webhook_secret = webhook_secret.encode("utf-8")
        self._clock = clock
        self._lock = threading.Lock()
        self._applications: dict[str, dict[str, Any]] = {}
        self._results: dict[str, list[dict[str, Any]]] = {}
        self._by_key: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        self._fail_status: int | None = None
        self._event_count = 0
        self._server: BackgroundServer | None = None
        self._http = urllib3.PoolManager(retries=False, timeout=10.0)

    def __repr__(self) -> str:
        return f"FakeHireboard({len(self._applications)} application(s))"

    # -- serving --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The API's base URL (a tenant's `base_url`), once started."""
        if self._server is None:
            raise RuntimeError("FakeHireboard is not serving; call start() first")
        return self._server.url

    def start(self) -> FakeHireboard:
        if self._server is None:
            self._server = BackgroundServer(self._app).start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()
        self._http.clear()

    def __enter__(self) -> FakeHireboard:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- driving it -----------------------------------------------------------------------

    def add_application(
        self, application_id: str, *, job: Mapping[str, Any], candidate: Mapping[str, Any]
    ) -> None:
        """A candidate applies to a job (stage "applied")."""
        with self._lock:
            self._applications[application_id] = {
                "application": {"id": application_id, "stage": FIRST_STAGE},
                "job": dict(job),
                "candidate": dict(candidate),
            }

    def stage_changed(
        self, application_id: str, stage: str, *, timestamp: int | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """Move the application to `stage`; returns the webhook Hireboard delivers for it
        (HIREBOARD-API.md § 4.3): its body and headers, signed at `timestamp` (default now)."""
        with self._lock:
            data = json.loads(json.dumps(self._applications[application_id]))
            previous = data["application"]["stage"]
            self._applications[application_id]["application"]["stage"] = stage
            self._event_count += 1
            event_id = f"evt_{self._event_count}"
        data["application"].update(stage=stage, previous_stage=previous)
        event = {
            "id": event_id,
            "type": STAGE_CHANGED,
            "created_at": int(self._clock()),
            "data": data,
        }
        body = json.dumps(event).encode("utf-8")
        return body, self.webhook_headers(body, event_id=event_id, timestamp=timestamp)

    def webhook_headers(
        self, body: bytes, *, event_id: str, timestamp: int | None = None
    ) -> dict[str, str]:
        """The headers of a delivery of `body` (HIREBOARD-API.md § 4.1), signed as § 4.2
        says at `timestamp` (default now)."""
        signed_at = int(self._clock()) if timestamp is None else timestamp
        message = str(signed_at).encode("ascii") + b"." + body
        digest = hmac.new(self._webhook_secret, message, hashlib.sha256).hexdigest()
        return {
            "Content-Type": JSON_TYPE,
            EVENT_ID_HEADER: event_id,
            SIGNATURE_HEADER: f"t={signed_at},v1={digest}",
        }

    def send_webhook(self, url: str, application_id: str, stage: str) -> int:
        """Move the application and POST the webhook to `url`; returns the answer's status."""
        body, headers = self.stage_changed(application_id, stage)
        return int(self._http.request("POST", url, body=body, headers=headers).status)

    def fail_with(self, status: int | None) -> None:
        """Answer every result POST with `status` (429 and 503 add Retry-After); None heals."""
        with self._lock:
            self._fail_status = status

    # -- inspection -----------------------------------------------------------------------

    def results(self, application_id: str) -> list[dict[str, Any]]:
        """The assessment results stored on an application, oldest first."""
        with self._lock:
            return [dict(result) for result in self._results.get(application_id, [])]

    # -- the HTTP API ---------------------------------------------------------------------

    def _app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        status, data, headers = self._handle(environ)
        body = json.dumps(data).encode("utf-8")
        start_response(
            f"{status} {HTTPStatus(status).phrase}",
            [("Content-Type", JSON_TYPE), ("Content-Length", str(len(body))), *headers],
        )
        return [body]

    def _authenticated(self, environ: Mapping[str, Any]) -> bool:
        scheme, _, key = str(environ.get("HTTP_AUTHORIZATION") or "").partition(" ")
        return scheme == BEARER and hmac.compare_digest(key.encode("latin-1"), self._api_key)

    def _handle(self, environ: dict[str, Any]) -> Reply:
        if not self._authenticated(environ):
            return _error(401, "unauthorized", "send Authorization: Bearer <API key>")
        method, path = str(environ["REQUEST_METHOD"]), str(environ.get("PATH_INFO") or "/")
        if path == ME_PATH:
            if method != "GET":
                return _error(405, "method_not_allowed", "use GET", headers=[("Allow", "GET")])
            return 200, {"account": {"id": "acc_fake", "name": "Fake Hireboard"}}, []
        route = RESULTS_PATH.fullmatch(path)
        if route is None:
            return _error(404, "not_found", f"no endpoint {path}")
        if method != "POST":
            return _error(405, "method_not_allowed", "use POST", headers=[("Allow", "POST")])
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw: bytes = environ["wsgi.input"].read(length) if length else b""
        return self._post_result(route["application_id"], environ, raw)

    def _post_result(self, application_id: str, environ: Mapping[str, Any], raw: bytes) -> Reply:
        """HIREBOARD-API.md § 3.2, its checks in the order the document gives."""
        content_type = str(environ.get("CONTENT_TYPE") or "").partition(";")[0].strip()
        if content_type.lower() != JSON_TYPE:
            return _error(415, "unsupported_media_type", f"send Content-Type: {JSON_TYPE}")
        key = str(environ.get("HTTP_IDEMPOTENCY_KEY") or "")
        if not IDEMPOTENCY_KEY.fullmatch(key):
            return _error(400, "idempotency_key_required", "send an Idempotency-Key")
        with self._lock:
            if self._fail_status is not None:
                status = self._fail_status
                wait = [("Retry-After", "1")] if status in (429, 503) else []
                return _error(
                    status, "injected_failure", "a failure the test asked for", headers=wait
                )
            if application_id not in self._applications:
                return _error(404, "application_not_found", f"no application {application_id}")
            try:
                body = json.loads(raw)
            except ValueError:
                return _error(400, "invalid_json", "the body is not JSON")
            problems = _result_problems(body)
            if problems:
                fields = [{"field": field, "problem": problem} for field, problem in problems]
                message = f"the request body has {len(problems)} problem(s)"
                return _error(422, "validation_failed", message, fields=fields)
            if key in self._by_key:
                first_body, stored = self._by_key[key]
                if first_body != body:
                    return _error(409, "idempotency_key_reused", "this key came with another body")
                return 200, stored, [(REPLAYED_HEADER, "true")]
            stored = {
                "id": f"res_{len(self._by_key) + 1}",
                "application_id": application_id,
                **body,
            }
            self._by_key[key] = (body, stored)
            self._results.setdefault(application_id, []).append(stored)
            return 201, stored, []
