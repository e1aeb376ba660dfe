"""`RateLimiter`: a token bucket per connector instance (so per tenant), corrected by what the
ATS says: `X-RateLimit-Remaining`/`-Reset` spread the rest of a window over its time, and a
429 stops every request until its `Retry-After` (or an exponential backoff) has passed."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping

from assessio_connect.contract.errors import RetryableError
from assessio_connect.contract.transport import parse_retry_after

__all__ = ["RateLimiter"]

EPOCH_THRESHOLD = 1_000_000_000
"""An `X-RateLimit-Reset` at least this large is a Unix time; a smaller one is seconds."""


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def _number(text: str | None) -> float | None:
    try:
        value = float((text or "").strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


class RateLimiter:
    """Call `acquire()` before each request and `observe(status, headers)` after each answer.

    `rate` requests per second are allowed on average, `burst` at once. When the ATS reports
    its own budget (`X-RateLimit-Remaining` with `X-RateLimit-Reset`, as a Unix time or as
    seconds), the rate drops to what is left of the window until it resets; no requests
    remain, or a 429, means none until then (a 429's `Retry-After`, in seconds or as an
    HTTP date, else `backoff_initial` doubling with each 429 in a row), waits capped at
    `retry_after_cap`. A wait longer than `max_wait` is not slept: `acquire` raises
    `RetryableError` with `retry_after`, so a delivery or a poll is tried again later
    instead of holding a worker thread. Thread-safe; `clock` and `sleep` are injectable."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_wait: float = 30.0,
        retry_after_cap: float = 300.0,
        backoff_initial: float = 1.0,
        name: str = "the ATS",
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not (rate > 0 and math.isfinite(rate)) or burst < 1:
            raise ValueError("a rate limit needs a positive rate and a burst of at least 1")
        if max_wait < 0 or retry_after_cap <= 0 or backoff_initial <= 0:
            raise ValueError("max_wait, retry_after_cap and backoff_initial must be positive")
        self.rate = rate
        self.burst = burst
        self.max_wait = max_wait
        self.retry_after_cap = retry_after_cap
        self.backoff_initial = backoff_initial
        self.name = name
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._updated = clock()
        self._blocked_until = 0.0
        self._window_rate: float | None = None
        self._window_ends = 0.0
        self._rate_limited_in_a_row = 0

    def __repr__(self) -> str:
        return f"RateLimiter({self.rate:g}/s, burst {self.burst}, for {self.name})"

    def _effective_rate(self, now: float) -> float:
        if self._window_rate is not None and now < self._window_ends:
            return min(self.rate, self._window_rate)
        return self.rate

    def _shortfall_wait(self, now: float) -> float:
        """Seconds until the bucket holds the token it lacks (at most until the ATS's window
        renews, after which the configured rate applies again)."""
        lacking = -self._tokens if self._tokens < 0 else 0.0
        if lacking == 0:
            return 0.0
        rate = self._effective_rate(now)
        if rate >= self.rate:
            return lacking / self.rate
        return min(lacking / rate, (self._window_ends - now) + lacking / self.rate)

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(float(self.burst), self._tokens + elapsed * self._effective_rate(now))
        self._updated = now

    def wait_time(self) -> float:
        """Seconds the next `acquire()` would wait now."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            self._tokens -= 1.0
            try:
                return max(self._blocked_until - now, self._shortfall_wait(now), 0.0)
            finally:
                self._tokens += 1.0

    def acquire(self) -> None:
        """Wait for a request's turn; raise `RetryableError` when that is more than `max_wait`
        seconds away."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            self._tokens -= 1.0  # reserve: concurrent callers queue behind this one
            wait = max(self._blocked_until - now, self._shortfall_wait(now), 0.0)
            if wait > self.max_wait:
                self._tokens += 1.0
                raise RetryableError(
                    f"{self.name} asks to slow down: the next request may go in {wait:.0f} s",
                    retry_after=wait,
                )
        if wait > 0:
            self._sleep(wait)

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Learn from an answer: its `X-RateLimit-*` headers and, on 429, its `Retry-After`."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            remaining = _number(_header(headers, "X-RateLimit-Remaining"))
            reset = _number(_header(headers, "X-RateLimit-Reset"))
            if reset is not None:
                reset_at = reset if reset >= EPOCH_THRESHOLD else now + reset
                reset_at = min(reset_at, now + self.retry_after_cap)
                if remaining is not None and reset_at > now:
                    if remaining < 1:
                        self._block(now, reset_at - now)
                        self._window_rate = None
                    else:
                        self._window_rate = remaining / (reset_at - now)
                        self._window_ends = reset_at
            if remaining is not None:
                self._tokens = min(self._tokens, remaining)
            if status == 429:
                self._rate_limited_in_a_row += 1
                hinted = parse_retry_after(_header(headers, "Retry-After"), now)
                backoff = self.backoff_initial * 2 ** (self._rate_limited_in_a_row - 1)
                self._block(now, hinted if hinted is not None else backoff)
                self._tokens = min(self._tokens, 0.0)
            elif 200 <= status <= 299:
                self._rate_limited_in_a_row = 0

    def _block(self, now: float, seconds: float) -> None:
        until = now + min(max(seconds, 0.0), self.retry_after_cap)
        self._blocked_until = max(self._blocked_until, until)
