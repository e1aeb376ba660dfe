"""The LISTEN side of work notifications: one thread on its own connection, reconnecting.

Writers send `NOTIFY` in the transaction that made work due, so PostgreSQL delivers it at
commit; this thread turns each notification into a call of the matching callback.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
import time
from collections.abc import Callable, Mapping

import psycopg
from psycopg import sql

__all__ = ["DELIVERIES", "EVENTS", "ORDERS", "Listener"]

DELIVERIES = "deliveries"
ORDERS = "orders"
EVENTS = "events"
HEARTBEAT = 10.0
"""Seconds without traffic after which the connection is checked with a query."""
COALESCE = 0.1
"""Seconds in which further notifications of one kind are merged into one wake-up."""
FIRST_RETRY = 0.1
MAX_RETRY = 5.0

log = logging.getLogger("assessio_connect_postgres")

Callback = Callable[[], None]


class Listener:
    """LISTENs on `channel` and calls `callbacks[payload]()` when notified (bursts merged).

    After a lost connection it reconnects with backoff and calls every callback once, since
    notifications sent meanwhile are gone."""

    def __init__(
        self,
        conninfo: str,
        channel: str,
        callbacks: Mapping[str, Callback],
    ) -> None:
        self._conninfo = conninfo
        self._listen = sql.SQL("LISTEN {}").format(sql.Identifier(channel)).as_bytes(None)
        self._callbacks = dict(callbacks)
        self._stopping = threading.Event()
        self._listening = threading.Event()
        self._backend_pid: int | None = None
        self._wake_read, self._wake_write = socket.socketpair()
        self._thread = threading.Thread(
            target=self._run, name="assessio-postgres-listen", daemon=True
        )

    def start(self, wait: float) -> bool:
        """Start listening; True once LISTEN is active (waits up to `wait` seconds for it)."""
        self._thread.start()
        return self._listening.wait(wait)

    @property
    def listening(self) -> bool:
        """Whether LISTEN is active on a live connection right now."""
        return self._listening.is_set()

    @property
    def backend_pid(self) -> int | None:
        """The server process of the listening connection, while there is one."""
        return self._backend_pid

    @property
    def alive(self) -> bool:
        """Whether the thread still runs."""
        return self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and close its connection."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._wake_write.send(b"x")
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._wake_read.close()
        self._wake_write.close()

    def _dispatch(self, payload: str) -> None:
        callback = self._callbacks.get(payload)
        if callback is None:
            return
        try:
            callback()
        except Exception:  # a subscriber's bug must not end listening
            log.exception("a work-notification callback failed")

    def _everything(self) -> None:
        for payload in self._callbacks:
            self._dispatch(payload)

    def _pause(self, seconds: float) -> None:
        """Sleep, but return at once when stopping."""
        with contextlib.suppress(OSError, ValueError):
            select.select([self._wake_read], [], [], seconds)

    def _run(self) -> None:
        delay = FIRST_RETRY
        connected_before = False
        while not self._stopping.is_set():
            try:
                conn = psycopg.connect(self._conninfo, autocommit=True)
            except psycopg.Error as exc:
                log.warning("cannot connect to listen for work notifications: %s", _first(exc))
                self._pause(delay)
                delay = min(delay * 2, MAX_RETRY)
                continue
            try:
                conn.execute(self._listen)
                self._backend_pid = conn.info.backend_pid
                self._listening.set()
                delay = FIRST_RETRY
                if connected_before:
                    self._everything()  # whatever was notified while disconnected
                connected_before = True
                self._serve(conn)
            except psycopg.Error as exc:
                if not self._stopping.is_set():
                    log.warning("lost the work-notification connection: %s", _first(exc))
            finally:
                self._listening.clear()
                self._backend_pid = None
                with contextlib.suppress(psycopg.Error):
                    conn.close()
            if not self._stopping.is_set():
                self._pause(delay)

    def _drain(self, conn: psycopg.Connection[tuple[object, ...]]) -> set[str]:
        """The kinds notified since the last call (unknown payloads are ignored)."""
        return {n.payload for n in conn.notifies(timeout=0) if n.payload in self._callbacks}

    def _serve(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        """Dispatch notifications until stopped; a kind notified again within `COALESCE`
        seconds of its last dispatch is dispatched once at the end of that window, so a
        busy database wakes each replica's workers a bounded number of times per second."""
        sock = conn.fileno()
        wake = self._wake_read.fileno()
        pending: set[str] = set()
        quiet_until: dict[str, float] = {}
        last_traffic = time.monotonic()
        while not self._stopping.is_set():
            now = time.monotonic()
            due = min((quiet_until[p] for p in pending), default=now + HEARTBEAT)
            ready, _, _ = select.select([sock, wake], [], [], max(due - now, 0.0))
            if wake in ready:
                return
            now = time.monotonic()
            if sock in ready:
                last_traffic = now
                received = self._drain(conn)
                if not received:
                    conn.execute(b"SELECT 1")  # readable without news: raises if it was closed
                    received = self._drain(conn)
                pending.update(received)
            elif not pending and now - last_traffic >= HEARTBEAT:
                conn.execute(b"SELECT 1")  # a quiet connection may be a dead one
                last_traffic = now
                pending.update(self._drain(conn))
            for payload in sorted(pending):
                if now >= quiet_until.get(payload, 0.0):
                    pending.discard(payload)
                    quiet_until[payload] = now + COALESCE
                    self._dispatch(payload)


def _first(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
