"""Run a WSGI application on waitress in a background thread (emulator, fakes, daemon, tests).

Waitress reads requests on one event loop and hands only complete ones to its threads, so a
slow client costs a connection, not a thread. `ConnectionLimits` bounds what slow clients can
hold: how many connections are served at once and how long a request may take to arrive.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any, TypeVar

import attrs
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher

__all__ = ["DEFAULT_LIMITS", "BackgroundServer", "ConnectionLimits", "ServedApp"]


S = TypeVar("S", bound="ServedApp")


def _positive(_instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be above 0, not {value}")


@attrs.frozen
class ConnectionLimits:
    """How many connections the server holds, and how long each part of a request may take.

    A connection that is still sending its request line and headers `header_timeout` seconds
    after it opened (or after the first byte of a later keep-alive request), or its body
    `body_timeout` seconds after the headers ended, is closed; so is a keep-alive connection
    idle between requests for `idle_timeout` seconds. Beyond `connection_limit` open
    connections the server stops accepting until one closes."""

    connection_limit: int = attrs.field(default=500, validator=_positive)
    header_timeout: float = attrs.field(default=10.0, validator=_positive)
    body_timeout: float = attrs.field(default=30.0, validator=_positive)
    idle_timeout: float = attrs.field(default=75.0, validator=_positive)

    @property
    def check_interval(self) -> float:
        """How often deadlines are checked: often enough to close a connection promptly."""
        return min(1.0, max(0.05, min(self.header_timeout, self.body_timeout) / 4))


DEFAULT_LIMITS = ConnectionLimits()


class _GuardedChannel(HTTPChannel):
    """A waitress connection that knows since when it has been sending its current request.

    It also answers a refused request (a Content-Length over the limit) at once instead of
    inviting its body with `100 Continue` first."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request_began: float | None = time.monotonic()  # the first request: from accept
        self.body_began: float | None = None

    def received(self, data: bytes) -> bool:
        now = time.monotonic()
        before = self.request
        if before is None and self.request_began is None:
            self.request_began = now
        outcome: bool = super().received(data)
        request = self.request
        if request is None:
            self.request_began = self.body_began = None
        else:
            if before is not None and request is not before:
                self.request_began, self.body_began = now, None  # a pipelined request began
            if request.headers_finished and self.body_began is None:
                self.body_began = now
        return outcome

    def send_continue(self) -> None:
        request = self.request
        if request is not None and request.completed:
            # Already refused (413, 400) or bodiless: answer now. Waitress would send
            # `100 Continue` and then wait for a body it will never read.
            request.expect_continue = False
            return
        super().send_continue()

    def overdue(self, now: float, limits: ConnectionLimits) -> bool:
        """Whether the request being received has taken longer than the limits allow."""
        if self.requests or self.request_began is None:
            return False  # the application is answering, or the connection is idle
        if self.body_began is not None:
            return now - self.body_began > limits.body_timeout
        return now - self.request_began > limits.header_timeout


class _GuardedServer(TcpWSGIServer):
    """Waitress's TCP server with `ConnectionLimits`' header and body deadlines enforced."""

    channel_class = _GuardedChannel

    def __init__(self, app: Any, adj: Adjustments, limits: ConnectionLimits) -> None:
        self.limits = limits
        self._next_check = 0.0
        dispatcher = ThreadedTaskDispatcher()
        dispatcher.set_thread_count(adj.threads)
        listen: Any = adj.listen  # resolved (family, type, proto, address) tuples
        try:
            super().__init__(app, map={}, dispatcher=dispatcher, adj=adj, sockinfo=listen[0])
        except BaseException:
            # A busy port: close what waitress opened before bind() failed.
            dispatcher.shutdown(cancel_pending=True, timeout=5)
            trigger = getattr(self, "trigger", None)
            if trigger is not None:
                trigger.close()
            sock = getattr(self, "socket", None)
            if sock is not None:
                sock.close()
            raise

    def readable(self) -> bool:
        # The event loop asks this at least once a second (and after every event).
        now = time.monotonic()
        if now >= self._next_check:
            self._next_check = now + self.limits.check_interval
            self._close_overdue(now)
        readable: bool = super().readable()
        return readable

    def _close_overdue(self, now: float) -> None:
        channels: dict[int, Any] = self.active_channels  # type: ignore[assignment]
        for channel in list(channels.values()):
            if isinstance(channel, _GuardedChannel) and channel.overdue(now, self.limits):
                channel.will_close = True


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
        limits: ConnectionLimits = DEFAULT_LIMITS,
    ) -> None:
        adj = Adjustments(
            host=host,
            port=port,
            threads=threads,
            # waitress buffers a whole body before calling the app: refuse big ones up front.
            max_request_body_size=max_request_body_size,
            connection_limit=limits.connection_limit,
            channel_timeout=max(1, round(limits.idle_timeout)),
            cleanup_interval=max(1, round(min(limits.idle_timeout, 30))),
            # poll() has no FD_SETSIZE (1024) ceiling, which select() would hit under load.
            asyncore_use_poll=True,
            ident="assessio-connect",
            clear_untrusted_proxy_headers=True,
            # Keep waitress quiet about benign client disconnects during tests and benchmarks.
            expose_tracebacks=False,
        )
        server: Any = _GuardedServer(app, adj, limits)
        self._server = server
        self.host = host
        self.port: int = int(server.effective_port)
        self.limits = limits
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
            server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
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
