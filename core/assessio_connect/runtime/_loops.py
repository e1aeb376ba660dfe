"""Background loops of the daemon: the order sender and one poller per pull-style tenant."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from assessio_connect.contract.errors import AssessioError, ConfigError, RetryableError, StoreError

from .store import POLL_SUCCEEDED, PollLocks

if TYPE_CHECKING:
    from ._metrics import DaemonMetrics
    from ._tenant import TenantRuntime
    from .store import Store

__all__ = ["OrderSender", "Poller"]

POLL_CURSOR = "poll"
ORDERS_PER_CLAIM = 1
"""Orders are claimed one at a time, so each send (up to a read timeout long) starts with a
whole lease; a claim costs far less than a send, and orders come one per candidate."""


class _Wakeable:
    """A thread that sleeps until woken, a deadline, or stop; wake-ups are never lost."""

    def __init__(self, name: str) -> None:
        self._cond = threading.Condition()
        self._woken = False
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def notify(self) -> None:
        with self._cond:
            self._woken = True
            self._cond.notify_all()

    def stop(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def stopping(self) -> bool:
        return self._stopping

    def _sleep(self, seconds: float) -> None:
        with self._cond:
            if not self._woken and not self._stopping and seconds > 0:
                self._cond.wait(seconds)
            self._woken = False

    def _run(self) -> None:
        raise NotImplementedError


class OrderSender(_Wakeable):
    """Sends recorded orders to Assessio: new ones at once, failed ones on their backoff."""

    def __init__(
        self,
        store: Store,
        tenants: Mapping[str, TenantRuntime],
        *,
        owner: str,
        clock: Callable[[], float],
        log: Callable[..., None],
        lease: float = 60.0,
        idle_wait: float = 5.0,
        metrics: DaemonMetrics | None = None,
    ) -> None:
        super().__init__("assessio-orders")
        self._store = store
        self._tenants = tenants
        self._owner = owner
        self._clock = clock
        self._log = log
        self._lease = lease
        self._idle_wait = idle_wait
        self._metrics = metrics

    def run_once(self) -> int:
        """Claim and send the next due order; returns how many were sent or rescheduled."""
        now = self._clock()
        claimed = self._store.claim_orders(
            owner=self._owner,
            now=now,
            lease=self._lease,
            limit=ORDERS_PER_CLAIM,
            tenants=list(self._tenants),  # a tenant not configured: its orders wait untouched
        )
        for record in claimed:
            if self.stopping:
                break
            tenant = self._tenants.get(record.tenant)
            if tenant is None:
                continue  # removed by a reload since the claim: it waits, due after the lease
            state = None
            try:
                state = tenant.send(record)
            except (AssessioError, StoreError) as exc:
                self._log(
                    "order.error",
                    level="error",
                    tenant=record.tenant,
                    result_id=record.result_id,
                    error=str(exc),
                )
            if self._metrics is not None:
                self._metrics.order_sent(record.tenant, state)
        return len(claimed)

    def _run(self) -> None:
        while not self.stopping:
            try:
                if self.run_once():
                    continue
                due = self._store.next_due("orders", tenants=list(self._tenants))
            except Exception as exc:  # the loop must survive a store outage
                self._log("orders.loop_error", level="error", error=f"{type(exc).__name__}: {exc}")
                self._sleep(1.0)
                continue
            wait = self._idle_wait if due is None else due - self._clock()
            self._sleep(min(max(wait, 0.01), self._idle_wait))


class Poller(_Wakeable):
    """Polls one pull-style tenant's ATS from its persisted cursor and invites what it finds."""

    def __init__(
        self,
        tenant: TenantRuntime,
        store: Store,
        *,
        owner: str,
        clock: Callable[[], float],
        log: Callable[..., None],
        interval: float,
        error_wait: float = 5.0,
        metrics: DaemonMetrics | None = None,
    ) -> None:
        super().__init__(f"assessio-poll:{tenant.tenant}")
        self._tenant = tenant
        self._store = store
        self._owner = owner
        self._locks: PollLocks | None = store if isinstance(store, PollLocks) else None
        self._clock = clock
        self._log = log
        self._interval = interval
        self._error_wait = error_wait
        self._metrics = metrics

    def poll_once(self) -> bool:
        """Read one page, invite each invitation, then save the cursor; True if more is waiting."""
        name = self._tenant.tenant
        cursor = self._store.get_cursor(name, POLL_CURSOR)
        if self._metrics is None:
            page = self._tenant.connector.poll(cursor)
        else:
            with self._metrics.ats_call(name, "poll"):
                page = self._tenant.connector.poll(cursor)
        for invitation in page.invitations:
            try:
                self._tenant.invite(invitation)
            except (RetryableError, StoreError):
                raise  # worth another try: the cursor stays, the page is read again
            except (ConfigError, ValueError, TypeError) as exc:
                # No lens or locale fits, or the data cannot make an order: waiting will not
                # help, and the invitations after it must not wait.
                self._log(
                    "poll.invitation_refused",
                    level="error",
                    tenant=name,
                    application_id=invitation.application_id,
                    error=str(exc)[:500],
                )
        if page.cursor is not None and page.cursor != cursor:
            self._store.set_cursor(name, POLL_CURSOR, page.cursor, now=self._clock())
        # For operators (status, /status), whichever replica polled: one small write a poll.
        polled_at = self._clock()
        self._store.set_cursor(name, POLL_SUCCEEDED, f"{polled_at:.3f}", now=polled_at)
        if page.invitations:
            self._log("poll.page", tenant=name, invitations=len(page.invitations), more=page.more)
        return page.more

    def _run(self) -> None:
        while not self.stopping:
            try:
                if self._locks and not self._locks.try_poll_lock(self._tenant.tenant, self._owner):
                    self._sleep(self._interval)  # another replica polls this tenant
                    continue
                more = self.poll_once()
            except Exception as exc:  # an ATS outage or a connector bug must not end polling
                hint = exc.retry_after if isinstance(exc, RetryableError) else None
                wait = max(self._error_wait, hint or 0.0)
                self._log(
                    "poll.error",
                    level="warning",
                    tenant=self._tenant.tenant,
                    error=f"{type(exc).__name__}: {exc}"[:500],
                    retry_in=wait,
                )
                self._sleep(wait)
                continue
            if not more:
                self._sleep(self._interval)
        if self._locks:
            with contextlib.suppress(Exception):  # the lock dies with its session anyway
                self._locks.release_poll_lock(self._tenant.tenant, self._owner)
