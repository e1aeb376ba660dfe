"""The inbound worker: hands the events push connectors accepted to their `handle_event`.

It is the outbox's engine (`LeasedWorker`) over the store's inbound queue: events are claimed
with a lease, one at a time (a handler calls the ATS back, and must start with a whole lease),
then marked done, rescheduled with backoff and jitter (a `RetryableError`'s `retry_after`
honoured) or dead-lettered, with the same horizon as deliveries. Only the running tenants'
events are claimed: a tenant a reload removed keeps its events in the store, untouched.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from assessio_connect.contract.errors import RetryableError

from ._outbox import DEFAULT_BACKOFF, Backoff, LeasedWorker
from .inbound import InboundEvent
from .store import InboundRecord, Store

if TYPE_CHECKING:
    from ._metrics import DaemonMetrics
    from ._reload import RunningTenants

__all__ = ["EVENTS_PER_CLAIM", "InboundWorker"]

EVENTS_PER_CLAIM = 1
"""Events are claimed one at a time, so each handler (which may call a slow ATS) starts with
a whole lease; a claim costs far less than a handler's calls."""


class InboundWorker(LeasedWorker[InboundRecord]):
    """Threads that claim the running tenants' due events and run their connector's
    `handle_event`; logs `event.done`, `event.retry`, `event.dead`, …"""

    noun = "event"
    nouns = "events"
    done_word = "done"

    def __init__(
        self,
        store: Store,
        tenants: RunningTenants,
        *,
        owner: str,
        threads: int = 2,
        lease: float = 60.0,
        backoff: Backoff = DEFAULT_BACKOFF,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        idle_wait: float = 1.0,
        log: Callable[..., None] | None = None,
        scrub: Callable[[str], str] | None = None,
        metrics: DaemonMetrics | None = None,
    ) -> None:
        super().__init__(
            self._handle,
            owner=owner,
            threads=threads,
            lease=lease,
            batch=EVENTS_PER_CLAIM,
            backoff=backoff,
            clock=clock,
            rng=rng,
            idle_wait=idle_wait,
            log=log,
            scrub=scrub,
        )
        self._store = store
        self._tenants = tenants
        self._metrics = metrics

    def _handle(self, record: InboundRecord) -> None:
        with self._tenants.use(record.tenant) as tenant:
            if tenant is None:
                # Removed by a reload after this event was claimed: it waits for the tenant.
                raise RetryableError(
                    f"tenant {record.tenant!r} is not configured (removed by a reload); "
                    "the event waits until it is configured again"
                )
            event = InboundEvent(
                key=record.key,
                payload=record.payload,
                headers=record.headers,
                attempt=record.attempts,
                received_at=record.created_at,
            )
            timed = (
                contextlib.nullcontext()
                if self._metrics is None
                else self._metrics.ats_call(record.tenant, "event")
            )
            with timed:
                tenant.connector.handle_event(event)

    # The store's side of the leases

    def _running(self) -> list[str]:
        return list(self._tenants)

    def _claim(self, owner: str, now: float, lease: float, limit: int) -> Sequence[InboundRecord]:
        return self._store.claim_events(
            owner=owner, now=now, lease=lease, limit=limit, tenants=self._running()
        )

    def _renew_leases(
        self, ids: Sequence[int], owner: str, now: float, lease: float
    ) -> Sequence[int]:
        return self._store.renew_event_leases(ids, owner=owner, now=now, lease=lease)

    def _mark_done(self, item: InboundRecord, owner: str, now: float) -> bool:
        return self._store.event_done(item.id, owner=owner, now=now)

    def _mark_retry(
        self, item: InboundRecord, owner: str, error: str, due: float, now: float
    ) -> bool:
        return self._store.event_retry(item.id, owner=owner, error=error, due=due, now=now)

    def _mark_dead(self, item: InboundRecord, owner: str, error: str, now: float) -> bool:
        return self._store.event_dead(item.id, owner=owner, error=error, now=now)

    def _release(self, owner: str, now: float) -> int:
        return self._store.release_events(owner, now=now)

    def _next_due(self) -> float | None:
        return self._store.next_event_due(tenants=self._running())

    def _fields(self, item: InboundRecord) -> dict[str, object]:
        return {
            "tenant": item.tenant,
            "key": item.key,
            "event_id": item.id,
            "attempts": item.attempts,
        }
