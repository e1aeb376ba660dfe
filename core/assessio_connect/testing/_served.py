"""Serving a fake ATS (or any WSGI app) on 127.0.0.1 from tests and demos, without pytest."""

from __future__ import annotations

from typing import Any

from assessio_connect.runtime._server import BackgroundServer, ConnectionLimits
from assessio_connect.runtime._server import ServedApp as _ServedApp

__all__ = ["BackgroundServer", "ConnectionLimits", "ServedApp"]


class ServedApp(_ServedApp):
    """Base of a fake ATS: implement `wsgi_app()` (a kit `Routes` is one); `start()` serves
    it in a background thread on `host:port` (port 0: a free one), `url` says where, `stop()`
    ends it, and `with Fake(...) as fake:` does both. Both are idempotent; the fake's state
    stays readable after `stop()`. Set `_what` to name the fake in its errors."""

    def wsgi_app(self) -> Any:
        """The WSGI application to serve."""
        raise NotImplementedError(f"{type(self).__name__} must implement wsgi_app()")

    def _app(self) -> Any:
        return self.wsgi_app()
