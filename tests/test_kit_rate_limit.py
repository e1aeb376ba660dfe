"""`RateLimiter` with `AtsHttp` against a small server on 127.0.0.1 that counts a budget per
window, sends `X-RateLimit-*` headers and answers 429 with `Retry-After`; one injected clock
for both, so waiting is exact and takes no real time."""

from __future__ import annotations

import email.utils
import threading
from collections.abc import Iterator

import pytest

from assessio_connect import (
    Answer,
    AtsHttp,
    RateLimiter,
    Request,
    RetryableError,
    Routes,
    Transport,
)
from assessio_connect.testing import ServedApp

START = 1_800_000_000.0


class Clock:
    """The test's time: `sleep` moves it forward; both sides read it."""

    def __init__(self) -> None:
        self._now = START
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(round(seconds, 6))
            self._now += seconds


class BudgetServer(ServedApp):
    """`limit` requests per `window` seconds; over it, 429 with `Retry-After` (seconds, or an
    HTTP date with `http_date`). With `headers`, every answer reports the budget."""

    def __init__(self, clock: Clock, *, limit: int, window: float, headers: bool) -> None:
        super().__init__()
        self._clock = clock
        self.limit, self.window, self.headers = limit, window, headers
        self.http_date = False
        self.reset_as_delta = False
        self._window_start = clock()
        self._used = 0
        self.answers: list[int] = []

    def wsgi_app(self) -> Routes:
        routes = Routes()
        routes.add("GET", "/things", self._things)
        return routes

    def _things(self, request: Request) -> Answer:
        now = self._clock()
        if now >= self._window_start + self.window:
            self._window_start, self._used = now, 0
        reset_at = self._window_start + self.window
        headers: list[tuple[str, str]] = []
        if self._used >= self.limit:
            wait = reset_at - now
            retry = (
                email.utils.formatdate(reset_at, usegmt=True)
                if self.http_date
                else str(round(wait))
            )
            headers.append(("Retry-After", retry))
            status = 429
        else:
            self._used += 1
            status = 200
        if self.headers:
            reset = str(round(reset_at - now)) if self.reset_as_delta else str(int(reset_at))
            headers += [
                ("X-RateLimit-Limit", str(self.limit)),
                ("X-RateLimit-Remaining", str(self.limit - self._used)),
                ("X-RateLimit-Reset", reset),
            ]
        self.answers.append(status)
        if status == 429:
            return Answer.error(429, "slow down", headers=headers)
        return Answer.json(200, {"ok": True}, headers=headers)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def transport() -> Iterator[Transport]:
    shared = Transport(connect_timeout=2.0, read_timeout=5.0)
    yield shared
    shared.close()


def _api(transport: Transport, server: BudgetServer, limiter: RateLimiter) -> AtsHttp:
    return AtsHttp(transport, server.url, limiter=limiter, name="the budget server")


def test_reported_budgets_are_kept_without_a_single_429(clock: Clock, transport: Transport) -> None:
    with BudgetServer(clock, limit=5, window=10.0, headers=True) as server:
        limiter = RateLimiter(100.0, 50, clock=clock, sleep=clock.sleep)
        api = _api(transport, server, limiter)
        for _ in range(12):
            api.get_json("/things")
    assert server.answers == [200] * 12
    # The remaining budget is spread over the rest of each window, and an empty one waited out.
    assert sum(clock.slept) == pytest.approx(20.0, abs=0.01)
    assert clock() - START == pytest.approx(20.0, abs=0.01)


def test_a_reset_given_in_seconds_is_understood(clock: Clock, transport: Transport) -> None:
    with BudgetServer(clock, limit=3, window=4.0, headers=True) as server:
        server.reset_as_delta = True
        api = _api(transport, server, RateLimiter(100.0, 50, clock=clock, sleep=clock.sleep))
        for _ in range(7):
            api.get_json("/things")
    assert server.answers == [200] * 7
    assert clock() - START == pytest.approx(8.0, abs=0.01)


@pytest.mark.parametrize("http_date", [False, True])
def test_a_429_is_waited_out_for_its_retry_after_and_retried(
    clock: Clock, transport: Transport, http_date: bool
) -> None:
    with BudgetServer(clock, limit=2, window=7.0, headers=False) as server:
        server.http_date = http_date
        api = _api(transport, server, RateLimiter(100.0, 50, clock=clock, sleep=clock.sleep))
        for _ in range(3):
            api.get_json("/things")
    assert server.answers == [200, 200, 429, 200]
    assert clock.slept == [pytest.approx(7.0, abs=0.01)]


def test_a_wait_longer_than_max_wait_is_left_to_the_daemon(
    clock: Clock, transport: Transport
) -> None:
    with BudgetServer(clock, limit=1, window=120.0, headers=False) as server:
        limiter = RateLimiter(100.0, 50, max_wait=30.0, clock=clock, sleep=clock.sleep)
        api = _api(transport, server, limiter)
        api.get_json("/things")
        with pytest.raises(RetryableError, match="asks to slow down") as caught:
            api.get_json("/things")
        assert caught.value.retry_after == pytest.approx(120.0, abs=0.01)
        assert server.answers == [200, 429]
        assert clock.slept == []


def test_429s_in_a_row_without_retry_after_back_off_exponentially(clock: Clock) -> None:
    limiter = RateLimiter(100.0, 10, backoff_initial=1.0, clock=clock, sleep=clock.sleep)
    waits = []
    for _ in range(4):
        limiter.observe(429, {})
        waits.append(limiter.wait_time())
    assert waits == [pytest.approx(1.0), pytest.approx(2.0), pytest.approx(4.0), pytest.approx(8.0)]
    clock.sleep(8.0)
    limiter.observe(200, {})
    limiter.observe(429, {})
    assert limiter.wait_time() == pytest.approx(1.0), "a success ends the series"


def test_the_bucket_allows_a_burst_then_the_rate(clock: Clock) -> None:
    limiter = RateLimiter(2.0, 3, clock=clock, sleep=clock.sleep)
    for _ in range(7):
        limiter.acquire()
    assert clock.slept == [0.5, 0.5, 0.5, 0.5]


def test_concurrent_callers_queue_behind_each_other(clock: Clock) -> None:
    limiter = RateLimiter(1.0, 1, clock=clock, sleep=lambda seconds: None)
    limiter.acquire()
    waits = []
    for _ in range(3):
        waits.append(limiter.wait_time())
        limiter._tokens -= 1.0  # what a caller asleep in acquire() has reserved
    assert waits == [pytest.approx(1.0), pytest.approx(2.0), pytest.approx(3.0)]


def test_a_retry_after_is_capped(clock: Clock) -> None:
    limiter = RateLimiter(10.0, 10, retry_after_cap=60.0, clock=clock, sleep=clock.sleep)
    limiter.observe(429, {"retry-after": "86400"})
    assert limiter.wait_time() == pytest.approx(60.0)


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 1), (1.0, 0), (float("inf"), 1)])
def test_a_limiter_needs_a_rate_and_a_burst(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="positive rate"):
        RateLimiter(rate, burst)
