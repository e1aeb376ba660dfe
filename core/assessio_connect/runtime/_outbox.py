"""The delivery worker: drains the outbox of result push-backs to the ATS, with backoff.

A delivery is claimed with a lease, pushed, then marked done, rescheduled or dead-lettered.
Deliveries are claimed in batches, but every push starts with (nearly) a whole lease of its
own: once a batch has been at work for a moment, the leases of the rest of it are renewed
before each push, so "keep the lease longer than the slowest single write-back" holds.

The engine, `LeasedWorker`, knows nothing of deliveries: the inbound queue of push
connectors' events (`_inbound`) runs on it too, with the same backoff, horizon and
dead-letter rules.
"""

from __future__ import annotations

import math
import random
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar, Generic, Protocol, TypeVar

import attrs

from assessio_connect.contract.errors import (
    APIError,
    AssessioError,
    PermanentError,
    RetryableError,
    TransportError,
)

from ._logging import Scrubber
from .store import DeliveryRecord, WorkKind

__all__ = [
    "DEFAULT_BACKOFF",
    "ERROR_LIMIT",
    "Backoff",
    "DeliveryWorker",
    "LeasedItem",
    "LeasedWorker",
    "OutboxStore",
    "PushFn",
]

ERROR_LIMIT = 500
"""Longest error text stored or logged, in characters."""
MIN_WAIT = 0.05
"""Shortest idle wait, so a due time already past (or another thread's work) cannot spin."""
STORE_ERROR_WAIT = 1.0
"""Pause after the store failed before a thread tries again."""
RENEW_MARGIN = 1.0
"""A push starts with at least `lease - RENEW_MARGIN` seconds of lease (a tenth of the lease
when that is shorter): a batch older than that renews its leases first, one cheap write."""

PushFn = Callable[[DeliveryRecord], None]
WaitFn = Callable[[threading.Condition, float], None]


class LeasedItem(Protocol):
    """What `LeasedWorker` reads of a claimed item (a delivery, an inbound event)."""

    @property
    def id(self) -> int: ...

    @property
    def attempts(self) -> int:
        """Attempts so far, this one included."""

    @property
    def created_at(self) -> float:
        """When the backoff horizon started."""


ItemT = TypeVar("ItemT", bound=LeasedItem)


def _positive(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0 or math.isinf(value):
        raise ValueError(f"Backoff.{attribute.name} must be a positive number, got {value!r}")


@attrs.frozen
class Backoff:
    """Exponential backoff with full jitter, bounded by a horizon."""

    first_delay: float = attrs.field(default=1.0, validator=_positive)
    max_delay: float = attrs.field(default=3600.0, validator=_positive)
    horizon: float = attrs.field(default=129_600.0, validator=_positive)
    """Give up (dead-letter) when the next try would fall after `created_at + horizon` (36 h)."""

    def __attrs_post_init__(self) -> None:
        if self.max_delay < self.first_delay:
            raise ValueError(
                f"Backoff.max_delay ({self.max_delay}) must not be below "
                f"first_delay ({self.first_delay})"
            )

    def base(self, attempts: int) -> float:
        """The un-jittered delay after `attempts` tries: doubles from `first_delay`, capped."""
        try:
            raw = self.first_delay * 2.0 ** (max(attempts, 1) - 1)
        except OverflowError:
            return self.max_delay
        return min(self.max_delay, raw)

    def delay(self, attempts: int, rng: random.Random) -> float:
        """Seconds to wait after `attempts` tries (>= 1): uniform in [base/2, base], never 0."""
        base = self.base(attempts)
        return rng.uniform(base / 2, base)

    def next_attempt(
        self,
        delivery_created_at: float,
        attempts: int,
        now: float,
        rng: random.Random,
        retry_after: float | None,
    ) -> float | None:
        """When to try again (honouring a server's `retry_after`), or None to give up."""
        wait = self.delay(attempts, rng)
        if retry_after is not None and retry_after > wait:
            wait = retry_after
        due = now + wait
        if due > delivery_created_at + self.horizon:
            return None
        return due


DEFAULT_BACKOFF = Backoff()


class OutboxStore(Protocol):
    """The part of `Store` the worker uses (every `Store` is one)."""

    def claim_deliveries(
        self, *, owner: str, now: float, lease: float, limit: int
    ) -> Sequence[DeliveryRecord]: ...

    def delivery_done(self, delivery_id: int, *, owner: str, now: float) -> bool: ...

    def delivery_retry(
        self, delivery_id: int, *, owner: str, error: str, due: float, now: float
    ) -> bool: ...

    def delivery_dead(self, delivery_id: int, *, owner: str, error: str, now: float) -> bool: ...

    def renew_delivery_leases(
        self, ids: Sequence[int], *, owner: str, now: float, lease: float
    ) -> Sequence[int]: ...

    def release(self, owner: str | None, *, now: float) -> int: ...

    def next_due(self, kind: WorkKind | None = None) -> float | None: ...


def _bounded(text: str) -> str:
    if len(text) > ERROR_LIMIT:
        return text[: ERROR_LIMIT - 1] + "…"
    return text


def _describe(exc: BaseException, scrub: Callable[[str], str]) -> str:
    """The exception's own message (our errors are written to be read), else `Type: message`;
    scrubbed of anything secret an upstream echoed, then bounded (in that order, so that a cut
    cannot leave half a secret unrecognised)."""
    message = str(exc)
    if not (isinstance(exc, AssessioError) and message):
        message = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return _bounded(scrub(message))


def _where(exc: BaseException) -> str | None:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return None
    last = frames[-1]
    return f"{last.filename}:{last.lineno} in {last.name}"


def _retry_after(exc: BaseException) -> float | None:
    value = getattr(exc, "retry_after", None)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _human(seconds: float) -> str:
    for unit, size in (("days", 86_400.0), ("h", 3_600.0), ("min", 60.0)):
        if seconds >= 2 * size:
            return f"{round(seconds / size, 1):g} {unit}"
    return f"{round(seconds, 1):g} s"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _real_wait(condition: threading.Condition, timeout: float) -> None:
    condition.wait(timeout)


def _no_log(event: str, /, **fields: object) -> None:
    return None


class LeasedWorker(Generic[ItemT]):
    """Threads that claim due work items with leases, hand each to `process`, and record the
    outcome: done, rescheduled with backoff (honouring a `retry_after`), or dead-lettered.

    Nothing is lost: anything but a `PermanentError` (or running past the backoff horizon) is
    retried, including bugs in the connector. Subclasses say how their store claims and
    finishes items (the `_claim` … `_next_due` methods) and how items are named in logs.
    """

    noun: ClassVar[str] = "item"
    """One item in log events (`delivery.retry`)."""
    nouns: ClassVar[str] = "items"
    """Several items in log events and thread names (`deliveries.stopping`)."""
    done_word: ClassVar[str] = "done"
    """The outcome of a success, in its log event and stats (`delivery.delivered`)."""

    def __init__(
        self,
        process: Callable[[ItemT], None],
        *,
        owner: str,
        threads: int = 4,
        lease: float = 60.0,
        batch: int = 16,
        backoff: Backoff = DEFAULT_BACKOFF,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        idle_wait: float = 1.0,
        on_done: Callable[[ItemT], None] | None = None,
        on_failed: Callable[[ItemT, str, bool], None] | None = None,
        log: Callable[..., None] | None = None,
        wait: WaitFn | None = None,
        scrub: Callable[[str], str] | None = None,
    ) -> None:
        if threads < 1 or batch < 1:
            raise ValueError(f"threads ({threads}) and batch ({batch}) must be at least 1")
        if not lease > 0 or not idle_wait > 0:
            raise ValueError(f"lease ({lease}) and idle_wait ({idle_wait}) must be positive")
        self._process_item = process
        self._owner = owner
        self._local = threading.local()
        self._thread_count = threads
        self._lease = lease
        self._renew_margin = min(RENEW_MARGIN, lease / 10)
        self._batch = batch
        self._backoff = backoff
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter needs no cryptographic randomness
        self._rng_lock = threading.Lock()
        self._idle_wait = idle_wait
        self._on_done = on_done
        self._on_failed = on_failed
        self._log: Callable[..., None] = log or _no_log
        self._wait: WaitFn = wait or _real_wait
        self._scrub: Callable[[str], str] = scrub or Scrubber()
        self._cond = threading.Condition()
        self._generation = 0
        """Bumped by `notify`; a thread that saw it change since its last claim does not wait."""
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self._stats_lock = threading.Lock()
        self._stats = {self.done_word: 0, "retried": 0, "dead": 0, "errors": 0}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(owner={self._owner!r}, threads={self._thread_count})"

    # What a subclass provides: its store's side of the leases

    def _claim(self, owner: str, now: float, lease: float, limit: int) -> Sequence[ItemT]:
        raise NotImplementedError

    def _renew_leases(
        self, ids: Sequence[int], owner: str, now: float, lease: float
    ) -> Sequence[int]:
        raise NotImplementedError

    def _mark_done(self, item: ItemT, owner: str, now: float) -> bool:
        raise NotImplementedError

    def _mark_retry(self, item: ItemT, owner: str, error: str, due: float, now: float) -> bool:
        raise NotImplementedError

    def _mark_dead(self, item: ItemT, owner: str, error: str, now: float) -> bool:
        raise NotImplementedError

    def _release(self, owner: str, now: float) -> int:
        raise NotImplementedError

    def _next_due(self) -> float | None:
        raise NotImplementedError

    def _fields(self, item: ItemT) -> dict[str, object]:
        """What identifies `item` in a log line."""
        return {"id": item.id, "attempts": item.attempts}

    # Control

    def start(self) -> None:
        """Start the worker threads."""
        if self._threads:
            raise RuntimeError(f"this {type(self).__name__} was already started; create a new one")
        for index in range(self._thread_count):
            thread = threading.Thread(
                target=self._run, args=(index,), name=f"assessio-{self.nouns}-{index}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _claimer(self) -> str:
        """The owner this thread claims under: its own in a worker thread, else the worker's."""
        owner: str = getattr(self._local, "owner", self._owner)
        return owner

    def notify(self) -> None:
        """New work was committed: wake one idle thread now (each commit wakes one more, so a
        burst still reaches every thread; waking all for one item only costs claims)."""
        with self._cond:
            self._generation += 1
            self._cond.notify(1)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming, let pushes in progress finish (up to `timeout`), give back the leases
        of work not done, and join the threads."""
        self._log(f"{self.nouns}.stopping", owner=self._owner)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        stuck = sum(thread.is_alive() for thread in self._threads)
        if stuck:
            self._log(
                f"{self.nouns}.stop_timeout",
                level="warning",
                threads=stuck,
                timeout=timeout,
            )
        try:
            owners = [self._owner] + [f"{self._owner}/{i}" for i in range(len(self._threads))]
            released = sum(self._release(owner, self._clock()) for owner in owners)
        except Exception as exc:  # leases then expire on their own; stopping must go on
            self._count("errors")
            self._log(f"{self.nouns}.release_failed", level="error", error=self._describe(exc))
            return
        if released:
            self._log(f"{self.nouns}.released", owner=self._owner, **{self.nouns: released})

    @property
    def stats(self) -> Mapping[str, int]:
        """Counts so far: done (`done_word`), retried, dead, errors."""
        with self._stats_lock:
            return dict(self._stats)

    # Work

    def run_once(self, now: float | None = None) -> int:
        """Claim one batch and process it here; returns how many items were claimed.

        With `now`, the whole batch uses it as the time; otherwise the clock is read at each
        step. Raises `StoreError` when the store fails (the rest of the batch waits for its
        lease to expire)."""
        claim_now = self._clock() if now is None else now
        claimed = self._claim(self._claimer(), claim_now, self._lease, self._batch)
        # Until when we hold each item of the batch; a lost one is dropped.
        leases = {item.id: claim_now + self._lease for item in claimed}
        for index, item in enumerate(claimed):
            if self._stopping:
                break
            step_now = self._now(now)
            held_until = leases.get(item.id)
            if held_until is not None and held_until - step_now < self._lease - self._renew_margin:
                self._renew(claimed[index:], leases, step_now)
            self._process(item, leases.get(item.id), now)
        return len(claimed)

    def _renew(self, rest: Sequence[ItemT], leases: dict[int, float], now: float) -> None:
        """Renew the leases of the batch's remaining items (one write for all of them); a
        lease that ran out meanwhile is lost, and its item is left for another claim."""
        wanted = [item.id for item in rest if item.id in leases]
        renewed = set(self._renew_leases(wanted, self._claimer(), now, self._lease))
        for item_id in wanted:
            if item_id in renewed:
                leases[item_id] = now + self._lease
            else:
                del leases[item_id]

    def _now(self, fixed: float | None) -> float:
        return self._clock() if fixed is None else fixed

    def _count(self, name: str) -> None:
        with self._stats_lock:
            self._stats[name] += 1

    def _describe(self, exc: BaseException) -> str:
        return _describe(exc, self._scrub)

    def _process(self, item: ItemT, deadline: float | None, fixed: float | None) -> None:
        if deadline is None or self._now(fixed) >= deadline:
            # Another worker may claim it now; processing too could do it twice.
            self._log(f"{self.noun}.lease_expired", level="warning", **self._fields(item))
            return
        try:
            self._process_item(item)
        except PermanentError as exc:
            self._dead(item, self._describe(exc), fixed)
        except (RetryableError, TransportError, APIError) as exc:
            self._retry(item, self._describe(exc), _retry_after(exc), fixed)
        except Exception as exc:
            # A connector bug: keep the work and retry, but make it visible.
            self._count("errors")
            self._log(
                f"{self.noun}.connector_bug",
                level="error",
                error=self._describe(exc),
                where=_where(exc),
                **self._fields(item),
            )
            self._retry(item, self._describe(exc), None, fixed)
        else:
            if not self._mark_done(item, self._claimer(), self._now(fixed)):
                self._lease_lost(item, self.done_word)
                return
            self._count(self.done_word)
            self._log(f"{self.noun}.{self.done_word}", **self._fields(item))
            self._callback(self._on_done, item)

    def _retry(
        self, item: ItemT, error: str, retry_after: float | None, fixed: float | None
    ) -> None:
        now = self._now(fixed)
        with self._rng_lock:
            due = self._backoff.next_attempt(
                item.created_at, item.attempts, now, self._rng, retry_after
            )
        if due is None:
            reason = (
                f"gave up after {_plural(item.attempts, 'attempt')} over "
                f"{_human(self._backoff.horizon)}: {error}"
            )
            self._dead(item, _bounded(reason), fixed)
            return
        if not self._mark_retry(item, self._claimer(), error, due, now):
            self._lease_lost(item, "rescheduled")
            return
        self._count("retried")
        self._log(
            f"{self.noun}.retry",
            level="warning",
            error=error,
            retry_in=round(due - now, 3),
            **self._fields(item),
        )
        self._callback(self._on_failed, item, error, False)

    def _dead(self, item: ItemT, error: str, fixed: float | None) -> None:
        if not self._mark_dead(item, self._claimer(), error, self._now(fixed)):
            self._lease_lost(item, "dead-lettered")
            return
        self._count("dead")
        self._log(f"{self.noun}.dead", level="error", error=error, **self._fields(item))
        self._callback(self._on_failed, item, error, True)

    def _lease_lost(self, item: ItemT, outcome: str) -> None:
        self._count("errors")
        self._log(
            f"{self.noun}.lease_lost",
            level="warning",
            message=f"could not record it as {outcome}: another worker holds it now",
            **self._fields(item),
        )

    def _callback(self, callback: Callable[..., None] | None, *args: object) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception as exc:  # the outcome is recorded; a hook must not undo or stop it
            self._count("errors")
            self._log(f"{self.noun}.callback_error", level="error", error=self._describe(exc))

    # Threads

    def _sleep(self, generation: int, timeout: float) -> None:
        with self._cond:
            if self._stopping or self._generation != generation:
                return
            self._wait(self._cond, timeout)

    def _idle_timeout(self) -> float:
        due = self._next_due()
        if due is None:
            return self._idle_wait
        return min(self._idle_wait, max(due - self._clock(), MIN_WAIT))

    def _run(self, index: int) -> None:
        # Each thread claims under its own owner, so one thread's late finish can never pass
        # for another thread's claim of the same item after a lease expired.
        self._local.owner = f"{self._owner}/{index}"
        while not self._stopping:
            with self._cond:
                generation = self._generation
            try:
                if self.run_once():
                    continue
                timeout = self._idle_timeout()
            except Exception as exc:  # a store outage (or bug) must not end the thread
                self._count("errors")
                self._log(
                    f"{self.nouns}.store_error",
                    level="error",
                    error=self._describe(exc),
                    retry_in=STORE_ERROR_WAIT,
                )
                self._sleep(generation, STORE_ERROR_WAIT)
                continue
            self._sleep(generation, timeout)


class DeliveryWorker(LeasedWorker[DeliveryRecord]):
    """Threads that claim due deliveries, push them with `push`, and record the outcome.

    A result is never lost: anything but a `PermanentError` (or running past the backoff
    horizon) is retried, including bugs in the connector.
    """

    noun = "delivery"
    nouns = "deliveries"
    done_word = "delivered"

    def __init__(
        self,
        store: OutboxStore,
        push: PushFn,
        *,
        owner: str,
        threads: int = 4,
        lease: float = 60.0,
        batch: int = 16,
        backoff: Backoff = DEFAULT_BACKOFF,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        idle_wait: float = 1.0,
        on_delivered: Callable[[DeliveryRecord], None] | None = None,
        on_failed: Callable[[DeliveryRecord, str, bool], None] | None = None,
        log: Callable[..., None] | None = None,
        wait: WaitFn | None = None,
        scrub: Callable[[str], str] | None = None,
    ) -> None:
        super().__init__(
            push,
            owner=owner,
            threads=threads,
            lease=lease,
            batch=batch,
            backoff=backoff,
            clock=clock,
            rng=rng,
            idle_wait=idle_wait,
            on_done=on_delivered,
            on_failed=on_failed,
            log=log,
            wait=wait,
            scrub=scrub,
        )
        self._store = store

    def _claim(self, owner: str, now: float, lease: float, limit: int) -> Sequence[DeliveryRecord]:
        return self._store.claim_deliveries(owner=owner, now=now, lease=lease, limit=limit)

    def _renew_leases(
        self, ids: Sequence[int], owner: str, now: float, lease: float
    ) -> Sequence[int]:
        return self._store.renew_delivery_leases(ids, owner=owner, now=now, lease=lease)

    def _mark_done(self, item: DeliveryRecord, owner: str, now: float) -> bool:
        return self._store.delivery_done(item.id, owner=owner, now=now)

    def _mark_retry(
        self, item: DeliveryRecord, owner: str, error: str, due: float, now: float
    ) -> bool:
        return self._store.delivery_retry(item.id, owner=owner, error=error, due=due, now=now)

    def _mark_dead(self, item: DeliveryRecord, owner: str, error: str, now: float) -> bool:
        return self._store.delivery_dead(item.id, owner=owner, error=error, now=now)

    def _release(self, owner: str, now: float) -> int:
        return self._store.release(owner, now=now)

    def _next_due(self) -> float | None:
        return self._store.next_due("deliveries")

    def _fields(self, item: DeliveryRecord) -> dict[str, object]:
        return {
            "tenant": item.tenant,
            "result_id": item.result_id,
            "version": item.version,
            "delivery_id": item.id,
            "attempts": item.attempts,
        }
