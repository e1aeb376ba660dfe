"""Run a WSGI application on waitress in a background thread (emulator, fakes, daemon, tests)."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any, TypeVar

from waitress.server import create_server

__all__ = ["BackgroundServer", "ServedApp"]


S = TypeVar("S", bound="ServedApp")


class BackgroundServer:
    """Serve `app` on `host:port` (port 0 picks a free one) until `stop()`; usable as a context."""

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        threads: int = 8,
        max_request_body_size: int = 1_073_741_824,
    ) -> None:
        server: Any = create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            # waitress buffers a whole body before calling the app: refuse big ones up front.
            max_request_body_size=max_request_body_size,
            ident="assessio-connect",
            clear_untrusted_proxy_headers=True,
            # Keep waitress quiet about benign client disconnects during tests and benchmarks.
            expose_tracebacks=False,
        )
        self._server = server
        self.host = host
        self.port: int = int(server.effective_port)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. `http://127.0.0.1:54321`."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> BackgroundServer:
        """Start serving in a daemon thread; returns self."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.run, name=f"waitress:{self.port}", daemon=True
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted."""
        self._server.run()

    def stop(self) -> None:
        """Stop accepting connections and wait for the serving thread to end."""
        server = self._server
        if self._thread is None:
            server.close()
            return
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)

        def close_everything() -> None:
            # Runs on waitress's loop thread, so no descriptor is closed under a select().
            # Closing every channel empties the asyncore map, which ends the loop; closing the
            # listener closes the trigger too, so it goes last.
            for channel in list(server._map.values()):
                if channel is not server and channel is not server.trigger:
                    channel.close()
            server.close()

        try:
            server.trigger.pull_trigger(close_everything)
        except OSError:
            # Seen rarely under a full test run: the trigger's pipe is already closed, so the
            # loop cannot be woken; close from here and let its poll timeout end it.
            close_everything()
        self._thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ServedApp:
    """Base of the fake ATSs: serve `_app()` on `host:port` in the background, with `url`,
    idempotent `start()`/`stop()` and use as a context manager. `_what` names it in errors."""

    _what = "server"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._server: BackgroundServer | None = None

    def _app(self) -> Any:
        """The WSGI application to serve."""
        raise NotImplementedError

    @property
    def serving(self) -> str:
        """Where it serves, or "not started" (for reprs)."""
        return self._server.url if self._server is not None else "not started"

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, once started."""
        if self._server is None:
            raise RuntimeError(f"the {self._what} is not serving; call start() first")
        return self._server.url

    def start(self: S) -> S:
        """Serve in a background thread; returns self (idempotent)."""
        if self._server is None:
            self._server = BackgroundServer(self._app(), self._host, self._port).start()
        return self

    def stop(self) -> None:
        """Stop serving; the state stays readable."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    def __enter__(self: S) -> S:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
