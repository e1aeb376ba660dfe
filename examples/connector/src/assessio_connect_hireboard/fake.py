"""`FakeHireboard`: a small stateful stand-in for Hireboard on 127.0.0.1, for tests.

It keeps applications, signs stage-change web hooks as Hireboard does, and serves the two
endpoints the connector calls: `GET /v1/me` and `POST /v1/applications/{id}/assessment-results`
(Bearer API key; `Idempotency-Key` required; a repeated key answers the stored result again).
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from types import TracebackType
from typing import Any

import urllib3

from assessio_connect.testing import BackgroundServer

from ._connector import SIGNATURE_HEADER, STAGE_CHANGED, sign

__all__ = ["FakeHireboard"]

_RESULTS = "/assessment-results"
_APPLICATIONS = "/v1/applications/"


class FakeHireboard:
    """Hireboard's API and web hooks, in memory. Thread-safe."""

    def __init__(self, *, api_key: str, webhook_secret: str) -> None:
        self._api_key = api_key.encode("utf-8")
        self._webhook_secret = webhook_secret
        self._lock = threading.Lock()
        self._applications: dict[str, dict[str, Any]] = {}
        self._results: dict[str, list[dict[str, Any]]] = {}
        self._by_key: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        self._fail_status: int | None = None
        self._event_count = 0
        self._server: BackgroundServer | None = None
        self._http = urllib3.PoolManager(retries=False, timeout=10.0)

    # -- serving --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The API's base URL, once started."""
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
                "application": {"id": application_id, "stage": "applied"},
                "job": dict(job),
                "candidate": dict(candidate),
            }

    def stage_changed(
        self, application_id: str, stage: str, *, timestamp: int | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """Move the application to `stage`; returns the web hook Hireboard sends for it: its
        body and headers (signed at `timestamp`, default now)."""
        with self._lock:
            data = self._applications[application_id]
            data["application"]["stage"] = stage
            self._event_count += 1
            event = {
                "id": f"evt_{self._event_count}",
                "type": STAGE_CHANGED,
                "created_at": int(time.time()),
                "data": json.loads(json.dumps(data)),
            }
        body = json.dumps(event).encode("utf-8")
        signed_at = int(time.time()) if timestamp is None else timestamp
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(body, self._webhook_secret, signed_at),
        }
        return body, headers

    def send_webhook(self, url: str, application_id: str, stage: str) -> int:
        """Move the application and POST the web hook to `url`; returns the answer's status."""
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
            [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *headers],
        )
        return [body]

    def _handle(self, environ: dict[str, Any]) -> tuple[int, Any, list[tuple[str, str]]]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        scheme, _, token = str(environ.get("HTTP_AUTHORIZATION", "")).partition(" ")
        if scheme != "Bearer" or not hmac.compare_digest(token.encode("latin-1"), self._api_key):
            return 401, {"error": "invalid API key"}, []
        if (method, path) == ("GET", "/v1/me"):
            return 200, {"account": {"name": "Fake Hireboard"}}, []
        if method == "POST" and path.startswith(_APPLICATIONS) and path.endswith(_RESULTS):
            application_id = path[len(_APPLICATIONS) : -len(_RESULTS)]
            length = int(environ.get("CONTENT_LENGTH") or 0)
            return self._post_result(application_id, environ, environ["wsgi.input"].read(length))
        return 404, {"error": f"no route {method} {path}"}, []

    def _post_result(
        self, application_id: str, environ: dict[str, Any], raw: bytes
    ) -> tuple[int, Any, list[tuple[str, str]]]:
        key = environ.get("HTTP_IDEMPOTENCY_KEY")
        with self._lock:
            if self._fail_status is not None:
                wait = [("Retry-After", "1")] if self._fail_status in (429, 503) else []
                return self._fail_status, {"error": "injected failure"}, wait
            if application_id not in self._applications:
                return 404, {"error": f"no application {application_id}"}, []
            if not key:
                return 400, {"error": "Idempotency-Key header required"}, []
            try:
                body = json.loads(raw)
            except ValueError:
                return 400, {"error": "body is not JSON"}, []
            if not isinstance(body, dict) or body.get("provider") != "assessio":
                return 422, {"error": "expected an object with provider = assessio"}, []
            if key in self._by_key:
                first_body, stored = self._by_key[key]
                if first_body != body:
                    return 422, {"error": "Idempotency-Key reused with another body"}, []
                return 200, stored, [("Idempotent-Replayed", "true")]
            stored = {"id": f"res_{len(self._by_key) + 1}", **body}
            self._by_key[key] = (body, stored)
            self._results.setdefault(application_id, []).append(stored)
            return 201, stored, []
