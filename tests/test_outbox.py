"""The delivery worker and its backoff, against an in-memory outbox and a fake clock."""

from __future__ import annotations

import collections
import itertools
import random
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from assessio_connect.contract.errors import (
    PermanentError,
    RateLimitedError,
    RetryableError,
    ServerError,
    StoreUnavailableError,
    TransportError,
)
from assessio_connect.runtime._logging import Scrubber
from assessio_connect.runtime._outbox import (
    ERROR_LIMIT,
    MIN_WAIT,
    STORE_ERROR_WAIT,
    Backoff,
    DeliveryWorker,
)
from assessio_connect.store import DeliveryRecord, DeliveryState

T0 = 1_700_000_000.0
OWNER = "worker-a"
PATIENCE = 5.0
"""How long a test waits for another thread before failing (never reached when it passes)."""


# -- fakes --------------------------------------------------------------------------------


class Clock:
    """A clock that only moves when told to."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Log:
    """Records `(event, level, fields)` and lets a test wait for one event."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []
        self._cond = threading.Condition()

    def __call__(self, event: str, /, level: str = "info", **fields: Any) -> None:
        with self._cond:
            self.lines.append((event, level, fields))
            self._cond.notify_all()

    def events(self) -> list[str]:
        with self._cond:
            return [line[0] for line in self.lines]

    def find(self, event: str) -> list[tuple[str, dict[str, Any]]]:
        with self._cond:
            return [(level, fields) for name, level, fields in self.lines if name == event]

    def wait_for(self, event: str) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: event in [line[0] for line in self.lines], PATIENCE)


class FakeStore:
    """The outbox part of `Store`, in memory, with the same lease rules as a real backend."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.rows: dict[int, DeliveryRecord] = {}
        self.failures = 0
        """How many of the next calls raise `StoreUnavailableError`."""
        self.released: list[str | None] = []
        self.renewals: list[list[int]] = []
        self.due_override: float | None = None
        self.on_next_due: Callable[[], None] | None = None
        self._lock = threading.Lock()

    def add(self, *, due: float | None = None, created_at: float | None = None) -> int:
        now = self.clock()
        with self._lock:
            delivery_id = len(self.rows) + 1
            self.rows[delivery_id] = DeliveryRecord(
                id=delivery_id,
                tenant="acme",
                result_id=f"r-{delivery_id}",
                version=1,
                state=DeliveryState.PENDING,
                attempts=0,
                next_attempt_at=now if due is None else due,
                last_error=None,
                created_at=now if created_at is None else created_at,
                updated_at=now,
                lease_owner=None,
                lease_expires_at=None,
            )
        return delivery_id

    def _maybe_fail(self) -> None:
        if self.failures:
            self.failures -= 1
            raise StoreUnavailableError("database is locked")

    def _claimable(self, row: DeliveryRecord, now: float) -> bool:
        if row.state is DeliveryState.PENDING:
            return row.next_attempt_at <= now
        return (
            row.state is DeliveryState.IN_FLIGHT
            and row.lease_expires_at is not None
            and row.lease_expires_at <= now
        )

    def claim_deliveries(
        self, *, owner: str, now: float, lease: float, limit: int
    ) -> Sequence[DeliveryRecord]:
        with self._lock:
            self._maybe_fail()
            due = sorted(
                (row for row in self.rows.values() if self._claimable(row, now)),
                key=lambda row: (row.next_attempt_at, row.id),
            )[:limit]
            claimed = []
            for row in due:
                taken = attrs.evolve(
                    row,
                    state=DeliveryState.IN_FLIGHT,
                    attempts=row.attempts + 1,
                    lease_owner=owner,
                    lease_expires_at=now + lease,
                    updated_at=now,
                )
                self.rows[row.id] = taken
                claimed.append(taken)
            return claimed

    def _finish(self, delivery_id: int, owner: str, **changes: Any) -> bool:
        with self._lock:
            self._maybe_fail()
            row = self.rows[delivery_id]
            if row.state is not DeliveryState.IN_FLIGHT or row.lease_owner != owner:
                return False
            self.rows[delivery_id] = attrs.evolve(
                row, lease_owner=None, lease_expires_at=None, **changes
            )
            return True

    def delivery_done(self, delivery_id: int, *, owner: str, now: float) -> bool:
        return self._finish(delivery_id, owner, state=DeliveryState.DELIVERED, updated_at=now)

    def delivery_retry(
        self, delivery_id: int, *, owner: str, error: str, due: float, now: float
    ) -> bool:
        return self._finish(
            delivery_id,
            owner,
            state=DeliveryState.PENDING,
            next_attempt_at=due,
            last_error=error,
            updated_at=now,
        )

    def delivery_dead(self, delivery_id: int, *, owner: str, error: str, now: float) -> bool:
        return self._finish(
            delivery_id, owner, state=DeliveryState.DEAD, last_error=error, updated_at=now
        )

    def renew_delivery_leases(
        self, ids: Sequence[int], *, owner: str, now: float, lease: float
    ) -> Sequence[int]:
        with self._lock:
            self._maybe_fail()
            self.renewals.append(list(ids))
            renewed = []
            for delivery_id in ids:
                row = self.rows.get(delivery_id)
                if (
                    row is not None
                    and row.state is DeliveryState.IN_FLIGHT
                    and row.lease_owner == owner
                    and row.lease_expires_at is not None
                    and row.lease_expires_at > now
                ):
                    self.rows[delivery_id] = attrs.evolve(
                        row, lease_expires_at=now + lease, next_attempt_at=now + lease
                    )
                    renewed.append(delivery_id)
            return renewed

    def release(self, owner: str | None, *, now: float) -> int:
        with self._lock:
            self._maybe_fail()
            self.released.append(owner)
            count = 0
            for row in list(self.rows.values()):
                if row.state is DeliveryState.IN_FLIGHT and owner in (None, row.lease_owner):
                    self.rows[row.id] = attrs.evolve(
                        row,
                        state=DeliveryState.PENDING,
                        next_attempt_at=now,
                        lease_owner=None,
                        lease_expires_at=None,
                    )
                    count += 1
            return count

    def next_due(self, kind: str | None = None) -> float | None:
        assert kind in (None, "deliveries")  # the worker never waits on orders
        with self._lock:
            self._maybe_fail()
            times = [
                row.next_attempt_at if row.state is DeliveryState.PENDING else row.lease_expires_at
                for row in self.rows.values()
                if row.state in (DeliveryState.PENDING, DeliveryState.IN_FLIGHT)
            ]
            due = min((t for t in times if t is not None), default=None)
            if self.due_override is not None:
                due = self.due_override
        if self.on_next_due is not None:
            hook, self.on_next_due = self.on_next_due, None
            hook()
        return due

    def steal(self, delivery_id: int, owner: str) -> None:
        """Another worker claims the row after our lease expired."""
        with self._lock:
            self.rows[delivery_id] = attrs.evolve(self.rows[delivery_id], lease_owner=owner)


class Pusher:
    """The connector's push: records each call and raises what the test queued for it."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.raises: dict[int, BaseException] = {}
        self.before: Callable[[DeliveryRecord], None] | None = None
        self._lock = threading.Lock()

    def __call__(self, delivery: DeliveryRecord) -> None:
        with self._lock:
            self.calls.append(delivery.id)
        if self.before is not None:
            self.before(delivery)
        error = self.raises.get(delivery.id)
        if error is not None:
            raise error


class Rig:
    """A worker over a fake store, with everything it reports recorded."""

    def __init__(self, *, expect: int = 1, **options: Any) -> None:
        self.clock = Clock()
        self.store = FakeStore(self.clock)
        self.push = Pusher()
        self.log = Log()
        self.delivered: list[int] = []
        self.failed: list[tuple[int, str, bool]] = []
        self.done = threading.Event()
        """Set once `expect` deliveries were reported delivered."""
        self._expect = expect
        self.worker = DeliveryWorker(
            self.store,
            self.push,
            owner=OWNER,
            clock=self.clock,
            rng=seeded(7),
            on_delivered=self._delivered,
            on_failed=lambda d, error, dead: self.failed.append((d.id, error, dead)),
            log=self.log,
            **options,
        )

    def _delivered(self, delivery: DeliveryRecord) -> None:
        self.delivered.append(delivery.id)
        if len(self.delivered) >= self._expect:
            self.done.set()

    def row(self, delivery_id: int) -> DeliveryRecord:
        return self.store.rows[delivery_id]


@pytest.fixture
def rig() -> Iterator[Rig]:
    made = Rig()
    yield made
    made.worker.stop(timeout=PATIENCE)


def seeded(seed: int) -> random.Random:
    """Reproducible jitter."""
    return random.Random(seed)  # noqa: S311 - jitter needs no cryptographic randomness


class Upper(random.Random):
    """An rng whose jitter always picks the top of the range."""

    def random(self) -> float:
        return 1.0


# -- backoff ------------------------------------------------------------------------------


@given(
    first=st.floats(0.001, 100.0),
    spread=st.floats(1.0, 10_000.0),
    attempts=st.integers(1, 2_000),
    seed=st.integers(0, 2**32),
)
def test_delay_is_jittered_within_half_to_full_base(
    first: float, spread: float, attempts: int, seed: int
) -> None:
    backoff = Backoff(first_delay=first, max_delay=first * spread)
    base = min(first * spread, first * 2.0 ** min(attempts - 1, 1023))
    assert backoff.base(attempts) == pytest.approx(base)
    delay = backoff.delay(attempts, seeded(seed))
    assert base / 2 <= delay <= base
    assert delay > 0


@given(first=st.floats(0.001, 100.0), spread=st.floats(1.0, 10_000.0))
def test_base_delay_doubles_then_stays_at_the_cap(first: float, spread: float) -> None:
    backoff = Backoff(first_delay=first, max_delay=first * spread)
    bases = [backoff.base(n) for n in range(1, 80)]
    assert bases[0] == first
    assert all(a <= b for a, b in itertools.pairwise(bases))
    assert bases[-1] == backoff.max_delay
    assert max(bases) == backoff.max_delay
    assert backoff.base(10**9) == backoff.max_delay


@given(
    attempts=st.integers(1, 60),
    age=st.floats(0.0, 200_000.0),
    retry_after=st.none() | st.floats(0.0, 100_000.0),
    seed=st.integers(0, 2**32),
)
def test_next_attempt_honours_retry_after_and_gives_up_past_the_horizon(
    attempts: int, age: float, retry_after: float | None, seed: int
) -> None:
    backoff = Backoff()
    now = T0 + age
    delay = backoff.delay(attempts, seeded(seed))
    expected = now + max(delay, retry_after or 0.0)
    due = backoff.next_attempt(T0, attempts, now, seeded(seed), retry_after)
    if expected > T0 + backoff.horizon:
        assert due is None
    else:
        assert due == expected
        assert due >= now + delay


def test_next_attempt_boundaries() -> None:
    backoff = Backoff(first_delay=10.0, max_delay=10.0, horizon=100.0)
    top = Upper()
    assert backoff.next_attempt(T0, 3, T0 + 90.0, top, None) == T0 + 100.0
    assert backoff.next_attempt(T0, 3, T0 + 90.5, top, None) is None
    assert backoff.next_attempt(T0, 3, T0, top, 60.0) == T0 + 60.0
    assert backoff.next_attempt(T0, 3, T0, top, 101.0) is None
    assert backoff.next_attempt(T0, 3, T0, top, float("inf")) is None


@pytest.mark.parametrize(
    "options",
    [
        {"first_delay": 0.0},
        {"max_delay": -1.0},
        {"horizon": float("nan")},
        {"first_delay": 10.0, "max_delay": 5.0},
    ],
)
def test_backoff_rejects_nonsense(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="Backoff"):
        Backoff(**options)


# -- one batch ----------------------------------------------------------------------------


def test_success_marks_delivered_and_reports(rig: Rig) -> None:
    first, second = rig.store.add(), rig.store.add()
    later = rig.store.add(due=T0 + 10)
    assert rig.worker.run_once() == 2
    assert rig.push.calls == [first, second]
    assert rig.row(first).state is DeliveryState.DELIVERED
    assert rig.row(second).state is DeliveryState.DELIVERED
    assert rig.row(later).state is DeliveryState.PENDING
    assert rig.delivered == [first, second]
    assert rig.worker.stats == {"delivered": 2, "retried": 0, "dead": 0, "errors": 0}
    assert rig.worker.run_once() == 0
    assert rig.worker.run_once(now=T0 + 10) == 1
    assert rig.push.calls == [first, second, later]


def test_permanent_error_dead_letters_at_once(rig: Rig) -> None:
    delivery = rig.store.add()
    rig.push.raises[delivery] = PermanentError("ATS answered 404: application not found")
    rig.worker.run_once()
    row = rig.row(delivery)
    assert row.state is DeliveryState.DEAD
    assert row.last_error == "ATS answered 404: application not found"
    assert rig.failed == [(delivery, "ATS answered 404: application not found", True)]
    assert rig.worker.stats["dead"] == 1
    rig.clock.now += 100_000
    assert rig.worker.run_once() == 0


def test_retryable_error_is_rescheduled_with_backoff(rig: Rig) -> None:
    delivery = rig.store.add()
    rig.push.raises[delivery] = RetryableError("ATS answered 503")
    rig.worker.run_once()
    row = rig.row(delivery)
    assert row.state is DeliveryState.PENDING
    assert T0 + 0.5 <= row.next_attempt_at <= T0 + 1.0
    assert row.last_error == "ATS answered 503"
    assert rig.failed == [(delivery, "ATS answered 503", False)]
    assert rig.worker.stats["retried"] == 1
    assert rig.worker.run_once() == 0
    rig.clock.now = row.next_attempt_at
    del rig.push.raises[delivery]
    assert rig.worker.run_once() == 1
    assert rig.row(delivery).state is DeliveryState.DELIVERED
    assert rig.row(delivery).attempts == 2


@pytest.mark.parametrize(
    "error",
    [
        RetryableError("slow down", retry_after=120.0),
        RateLimitedError(429, b"", retry_after=120.0),
    ],
)
def test_retry_after_is_honoured(rig: Rig, error: Exception) -> None:
    delivery = rig.store.add()
    rig.push.raises[delivery] = error
    rig.worker.run_once()
    assert rig.row(delivery).next_attempt_at == T0 + 120.0


@pytest.mark.parametrize(
    "error",
    [TransportError("connection refused"), ServerError(502, b"bad gateway")],
)
def test_core_transport_and_api_errors_are_retried(rig: Rig, error: Exception) -> None:
    delivery = rig.store.add()
    rig.push.raises[delivery] = error
    rig.worker.run_once()
    assert rig.row(delivery).state is DeliveryState.PENDING
    assert rig.row(delivery).last_error == str(error)
    assert rig.worker.stats["errors"] == 0


def test_giving_up_past_the_horizon_dead_letters_with_the_reason(rig: Rig) -> None:
    delivery = rig.store.add(created_at=T0 - 129_600 + 30)
    rig.store.rows[delivery] = attrs.evolve(rig.row(delivery), attempts=11)
    rig.push.raises[delivery] = RetryableError("ATS answered 503", retry_after=60.0)
    rig.worker.run_once()
    row = rig.row(delivery)
    assert row.state is DeliveryState.DEAD
    assert row.last_error == "gave up after 12 attempts over 36 h: ATS answered 503"
    assert rig.failed == [(delivery, row.last_error, True)]


def test_a_connector_bug_is_retried_and_logged_loudly(rig: Rig) -> None:
    delivery = rig.store.add()
    rig.push.raises[delivery] = KeyError("candidate")
    rig.worker.run_once()
    row = rig.row(delivery)
    assert row.state is DeliveryState.PENDING
    assert row.last_error == "KeyError: 'candidate'"
    [(level, fields)] = rig.log.find("delivery.connector_bug")
    assert level == "error"
    assert fields["error"] == "KeyError: 'candidate'"
    assert "test_outbox.py" in fields["where"]
    assert rig.worker.stats == {"delivered": 0, "retried": 1, "dead": 0, "errors": 1}


def test_error_text_is_bounded(rig: Rig) -> None:
    retried, dead = rig.store.add(), rig.store.add()
    rig.push.raises[retried] = RuntimeError("x" * 5_000)
    rig.push.raises[dead] = PermanentError("y" * 5_000)
    rig.worker.run_once()
    for delivery in (retried, dead):
        error = rig.row(delivery).last_error
        assert error is not None
        assert 100 < len(error) <= ERROR_LIMIT
    assert all(len(str(fields.get("error", ""))) <= ERROR_LIMIT for _, _, fields in rig.log.lines)


def test_a_lost_lease_is_logged_not_fatal(rig: Rig) -> None:
    lost, kept = rig.store.add(), rig.store.add()
    rig.push.before = lambda d: rig.store.steal(d.id, "worker-b") if d.id == lost else None
    assert rig.worker.run_once() == 2
    assert rig.row(lost).state is DeliveryState.IN_FLIGHT
    assert rig.row(lost).lease_owner == "worker-b"
    assert rig.row(kept).state is DeliveryState.DELIVERED
    assert rig.delivered == [kept]
    assert [fields["delivery_id"] for _, fields in rig.log.find("delivery.lease_lost")] == [lost]
    assert rig.worker.stats["delivered"] == 1


def test_a_delivery_whose_lease_ran_out_mid_batch_is_not_pushed(rig: Rig) -> None:
    slow, late = rig.store.add(), rig.store.add()

    def slow_push(delivery: DeliveryRecord) -> None:
        rig.clock.now += 61.0  # longer than the 60 s lease

    rig.push.before = slow_push
    rig.worker.run_once()
    assert rig.push.calls == [slow]
    assert rig.row(late).state is DeliveryState.IN_FLIGHT
    assert "delivery.lease_expired" in rig.log.events()
    rig.push.before = None
    assert rig.worker.run_once() == 1
    assert rig.push.calls == [slow, late]
    assert rig.row(slow).state is DeliveryState.DELIVERED
    assert rig.row(late).state is DeliveryState.DELIVERED


def test_a_slow_ats_gets_a_lease_of_its_own_for_every_push(rig: Rig) -> None:
    ids = [rig.store.add() for _ in range(3)]
    stolen: list[int] = []

    def slow_push(delivery: DeliveryRecord) -> None:
        rig.clock.now += 40.0  # each write-back takes 40 s of the 60 s lease
        # Another worker looks for work just before this push returns.
        taken = rig.store.claim_deliveries(owner="worker-b", now=rig.clock.now, lease=60, limit=9)
        stolen.extend(d.id for d in taken)

    rig.push.before = slow_push
    assert rig.worker.run_once() == 3
    assert stolen == []  # nothing of the batch was claimable while it was being pushed
    assert rig.push.calls == ids
    assert [rig.row(i).state for i in ids] == [DeliveryState.DELIVERED] * 3
    assert rig.store.renewals == [ids[1:], ids[2:]]  # one write per push, for the rest
    assert "delivery.lease_expired" not in rig.log.events()


def test_a_quick_batch_renews_nothing(rig: Rig) -> None:
    ids = [rig.store.add() for _ in range(5)]
    rig.push.before = lambda delivery: setattr(rig.clock, "now", rig.clock.now + 0.5)
    assert rig.worker.run_once() == 5  # 2.5 s in all, but each push starts within 1 s
    assert rig.store.renewals == [ids[3:]]
    rig.push.before = None
    more = [rig.store.add() for _ in range(5)]
    assert rig.worker.run_once() == 5
    assert rig.store.renewals == [ids[3:]]  # a batch that takes no time writes nothing more
    assert all(rig.row(i).state is DeliveryState.DELIVERED for i in ids + more)


def test_a_lease_lost_while_the_batch_waited_is_not_pushed(rig: Rig) -> None:
    first, second = rig.store.add(), rig.store.add()

    def push(delivery: DeliveryRecord) -> None:
        rig.clock.now += 30.0
        if delivery.id == first:  # meanwhile another worker took the second one
            rig.store.steal(second, "worker-b")

    rig.push.before = push
    assert rig.worker.run_once() == 2
    assert rig.push.calls == [first]
    assert rig.row(second).lease_owner == "worker-b"
    assert [f["delivery_id"] for _, f in rig.log.find("delivery.lease_expired")] == [second]


SECRET = "acme-ats-token-c0ffee"


@pytest.mark.parametrize(
    "echo",
    [
        f"ATS answered 503: {{'headers': {{'Authorization': 'Bearer {SECRET}'}}}}",
        "ATS answered 503: Authorization: Bearer eyJhbGciOi.J9eyJzdWIi.OiIxIn0",
        f"ATS answered 503: {{'api_token': 'tok-9f8e7d6c'}} and {SECRET}",
        "ATS answered 503: Signature: t=1700000000,signature=" + "ab12" * 16,
        "x" * (ERROR_LIMIT - 10) + SECRET,  # a secret across the length limit
    ],
)
def test_errors_are_scrubbed_before_they_are_stored(echo: str) -> None:
    rig = Rig(scrub=Scrubber([SECRET]))
    try:
        delivery = rig.store.add()
        rig.push.raises[delivery] = RetryableError(echo)
        rig.worker.run_once()
        stored = rig.row(delivery).last_error
        assert stored is not None
        assert "[redacted]" in stored or len(echo) > ERROR_LIMIT
        for fragment in (SECRET[:6], "eyJhbGciOi", "tok-9f8e7d6c", "ab12ab12"):
            assert fragment not in stored
        assert rig.failed[0][1] == stored  # what the hooks and logs see is the same text
    finally:
        rig.worker.stop(timeout=PATIENCE)


def test_a_failing_hook_does_not_undo_the_delivery() -> None:
    clock = Clock()
    store = FakeStore(clock)
    delivery = store.add()

    def broken(_: DeliveryRecord) -> None:
        raise RuntimeError("hook bug")

    worker = DeliveryWorker(store, Pusher(), owner=OWNER, clock=clock, on_delivered=broken)
    worker.run_once()
    assert store.rows[delivery].state is DeliveryState.DELIVERED
    assert worker.stats["errors"] == 1


# -- threads ------------------------------------------------------------------------------


class RecordingWait:
    """Records each wait's timeout, then waits on the condition for real (stop/notify end it).

    Store-outage pauses are recorded but not slept, so the test does not wait for them."""

    def __init__(self) -> None:
        self.timeouts: list[float] = []
        self.idle = threading.Event()

    def __call__(self, condition: threading.Condition, timeout: float) -> None:
        self.timeouts.append(timeout)
        if timeout == STORE_ERROR_WAIT:
            return
        self.idle.set()
        condition.wait(timeout)


def test_notify_wakes_an_idle_worker_at_once() -> None:
    waits = RecordingWait()
    rig = Rig(threads=2, idle_wait=60.0, wait=waits)
    rig.worker.start()
    try:
        assert waits.idle.wait(PATIENCE)
        assert waits.timeouts[0] == 60.0
        delivery = rig.store.add()
        rig.worker.notify()
        assert rig.done.wait(PATIENCE), "notify() did not wake the idle worker"
        assert rig.push.calls == [delivery]
    finally:
        rig.worker.stop(timeout=PATIENCE)


def test_a_notify_just_before_the_wait_is_not_lost() -> None:
    rig = Rig(threads=1, idle_wait=60.0)

    def commit_and_notify() -> None:
        # Runs after the thread read next_due (None) and before it waits: the race to survive.
        rig.store.add()
        rig.worker.notify()

    rig.store.on_next_due = commit_and_notify
    rig.worker.start()
    try:
        assert rig.done.wait(PATIENCE), "the notify was lost: the worker slept through it"
    finally:
        rig.worker.stop(timeout=PATIENCE)


@pytest.mark.parametrize(
    ("due_in", "expected"),
    [(None, 2.0), (5.0, 2.0), (0.25, 0.25), (-3.0, MIN_WAIT)],
)
def test_idle_wait_follows_the_next_due_time(due_in: float | None, expected: float) -> None:
    waits = RecordingWait()
    rig = Rig(threads=1, idle_wait=2.0, wait=waits)
    if due_in is not None:
        rig.store.due_override = T0 + due_in
    rig.worker.start()
    try:
        assert waits.idle.wait(PATIENCE)
        assert waits.timeouts[0] == pytest.approx(expected)
    finally:
        rig.worker.stop(timeout=PATIENCE)


def test_a_store_outage_does_not_kill_the_thread() -> None:
    waits = RecordingWait()
    rig = Rig(threads=1, idle_wait=60.0, wait=waits)
    delivery = rig.store.add()
    rig.store.failures = 3
    rig.worker.start()
    try:
        assert rig.done.wait(PATIENCE), "the worker thread did not survive the store outage"
        assert rig.row(delivery).state is DeliveryState.DELIVERED
        assert waits.timeouts[:3] == [STORE_ERROR_WAIT] * 3
        errors = rig.log.find("deliveries.store_error")
        assert [level for level, _ in errors] == ["error"] * 3
        assert errors[0][1]["error"] == "database is locked"
        assert rig.worker.stats["errors"] == 3
    finally:
        rig.worker.stop(timeout=PATIENCE)


def test_stop_lets_the_push_in_progress_finish_and_releases_the_rest() -> None:
    rig = Rig(threads=1, batch=3)
    ids = [rig.store.add() for _ in range(3)]
    started, proceed = threading.Event(), threading.Event()
    pushers: list[threading.Thread] = []

    def block_first(delivery: DeliveryRecord) -> None:
        if delivery.id == ids[0]:
            pushers.append(threading.current_thread())
            started.set()
            assert proceed.wait(PATIENCE)

    rig.push.before = block_first
    rig.worker.start()
    assert started.wait(PATIENCE)
    stopper = threading.Thread(target=rig.worker.stop, kwargs={"timeout": PATIENCE})
    stopper.start()
    assert rig.log.wait_for("deliveries.stopping")
    proceed.set()
    stopper.join(PATIENCE)
    assert not stopper.is_alive()
    assert not pushers[0].is_alive()
    assert rig.push.calls == [ids[0]]
    assert rig.row(ids[0]).state is DeliveryState.DELIVERED
    for undone in ids[1:]:
        assert rig.row(undone).state is DeliveryState.PENDING
        assert rig.row(undone).lease_owner is None
    assert rig.store.released == [OWNER, f"{OWNER}/0"]  # the worker and its one thread
    assert rig.log.find("deliveries.released")[0][1]["deliveries"] == 2


def test_stop_gives_up_waiting_after_its_timeout() -> None:
    rig = Rig(threads=1)
    delivery = rig.store.add()
    started, proceed = threading.Event(), threading.Event()

    def block(_: DeliveryRecord) -> None:
        started.set()
        assert proceed.wait(PATIENCE)

    rig.push.before = block
    rig.worker.start()
    assert started.wait(PATIENCE)
    rig.worker.stop(timeout=0.05)
    assert rig.log.find("deliveries.stop_timeout")
    assert rig.row(delivery).state is DeliveryState.PENDING  # released for another worker
    proceed.set()
    assert rig.log.wait_for("delivery.lease_lost")
    assert rig.row(delivery).state is DeliveryState.PENDING
    assert rig.delivered == []


def test_threads_never_push_the_same_delivery_twice() -> None:
    total = 300
    rig = Rig(threads=4, batch=5, idle_wait=60.0, expect=total)
    ids = {rig.store.add() for _ in range(total)}
    rig.worker.start()
    try:
        assert rig.done.wait(PATIENCE)
    finally:
        rig.worker.stop(timeout=PATIENCE)
    counts = collections.Counter(rig.push.calls)
    assert set(counts) == ids
    assert max(counts.values()) == 1
    assert rig.worker.stats["delivered"] == total


def test_start_twice_and_bad_settings_are_refused(rig: Rig) -> None:
    rig.worker.start()
    with pytest.raises(RuntimeError, match="already started"):
        rig.worker.start()
    with pytest.raises(ValueError, match="threads"):
        DeliveryWorker(rig.store, rig.push, owner=OWNER, threads=0)
    with pytest.raises(ValueError, match="lease"):
        DeliveryWorker(rig.store, rig.push, owner=OWNER, lease=0.0)
