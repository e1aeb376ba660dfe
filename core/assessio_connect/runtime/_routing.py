"""The daemon's one WSGI app: connector routes under `/connectors/{tenant}/`, operator routes
(e.g. `/metrics`, `/status`) under their own prefixes, the rest to the result receiver
(`/results/…`, `/healthz`, `/readyz`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .connector import WSGIApplication

__all__ = ["CONNECTOR_PREFIX", "DaemonApp"]

CONNECTOR_PREFIX = "/connectors/"


def _not_found(start_response: Callable[..., Any]) -> Iterable[bytes]:
    body = json.dumps({"error": "no such route"}).encode()
    start_response(
        "404 Not Found",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


class DaemonApp:
    """Dispatches by path prefix; mountable anywhere (it routes on PATH_INFO)."""

    def __init__(
        self,
        receiver: WSGIApplication,
        connector_apps: Mapping[str, WSGIApplication],
        operator_apps: Mapping[str, WSGIApplication] | None = None,
    ) -> None:
        self._receiver = receiver
        self._connector_apps = dict(connector_apps)
        self._operator_apps = dict(operator_apps or {})
        """Path prefix (e.g. "/metrics") -> app; the app sees the prefix in SCRIPT_NAME."""

    def replace_connectors(self, connector_apps: Mapping[str, WSGIApplication]) -> None:
        """Route `/connectors/{tenant}/` to `connector_apps` from now on (a reload), in one swap."""
        self._connector_apps = dict(connector_apps)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO", "") or "/"
        if not path.startswith(CONNECTOR_PREFIX):
            for prefix, operator_app in self._operator_apps.items():
                if path == prefix or path.startswith(prefix + "/"):
                    inner = dict(environ)
                    inner["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + prefix
                    inner["PATH_INFO"] = path[len(prefix) :]
                    return operator_app(inner, start_response)
            return self._receiver(environ, start_response)
        raw = str(environ.get("REQUEST_URI") or environ.get("RAW_URI") or "")
        if "%2f" in raw.partition("?")[0].lower():
            return _not_found(start_response)  # an encoded slash would change the routing
        tenant, slash, rest = path[len(CONNECTOR_PREFIX) :].partition("/")
        app = self._connector_apps.get(tenant)
        if app is None:
            return _not_found(start_response)
        inner = dict(environ)
        inner["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + CONNECTOR_PREFIX + tenant
        inner["PATH_INFO"] = slash + rest
        return app(inner, start_response)
