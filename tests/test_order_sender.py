"""The order sender against a real store and a slow Assessio: every send holds a lease of its
own, so no order is sent by two senders at once however long each send takes."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from assessio_connect.runtime._loops import OrderSender
from assessio_connect.runtime._sqlite_store import SQLiteStore
from assessio_connect.store import OrderRecord, OrderState
from store_contract import NOW, new_order

LEASE = 60.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


class SlowTenant:
    """Stands in for a `TenantRuntime`: each send takes 40 s of the 60 s lease, and another
    replica's sender looks for work just before it returns."""

    def __init__(self, store: SQLiteStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self.sent: list[str] = []
        self.taken_by_other: list[str] = []

    def send(self, record: OrderRecord) -> OrderState:
        self.clock.now += 40.0
        other = self.store.claim_orders(owner="replica-b", now=self.clock.now, lease=LEASE, limit=9)
        self.taken_by_other.extend(o.result_id for o in other)
        self.sent.append(record.result_id)
        self.store.order_sent(record.tenant, record.result_id, "ref", now=self.clock.now)
        return OrderState.SENT


def test_a_slow_send_never_runs_past_its_lease(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.db")
    store.migrate()
    clock = Clock()
    for n in range(3):
        store.add_order(new_order(f"r-{n}"), now=NOW)
    tenant = SlowTenant(store, clock)
    sender = OrderSender(
        store,
        cast(Any, {"acme": tenant}),
        owner="replica-a",
        clock=clock,
        log=lambda *args, **kwargs: None,
        lease=LEASE,
    )
    try:
        while sender.run_once():
            pass
        assert tenant.sent
        # What the other replica claimed, it claimed while nobody held it.
        assert set(tenant.sent).isdisjoint(tenant.taken_by_other)
        assert sorted(tenant.sent + tenant.taken_by_other) == ["r-0", "r-1", "r-2"]
    finally:
        store.close()
