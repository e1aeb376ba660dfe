"""`KeepAlive`: a daemon thread that runs one job every few seconds until it is stopped, so a
push connector can do periodic work (renewing a refresh token) while no request comes in."""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["KeepAlive"]


class KeepAlive:
    """Calls `job` every `interval` seconds (the first time after one interval); a failing
    job is reported to `on_error` and tried again at the next interval."""

    def __init__(
        self,
        job: Callable[[], None],
        interval: float,
        *,
        name: str,
        on_error: Callable[[Exception], None],
    ) -> None:
        self._job = job
        self._interval = interval
        self._on_error = on_error
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the job in progress, if any (waiting up to `timeout`)."""
        self._stopping.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            try:
                self._job()
            except Exception as exc:  # the loop must outlive an outage of Greenhouse or the store
                self._on_error(exc)
