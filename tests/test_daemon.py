"""The daemon end to end over HTTP on 127.0.0.1: two tenants, the emulator as Assessio, the
reference ATS pushing events to one tenant and polled by the other."""

from __future__ import annotations

import io
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3

from assessio_connect import ConfigError, hookimpl, load_plugins
from assessio_connect.runtime._logging import EventLog
from assessio_connect.runtime.daemon import Daemon
from assessio_connect.store import (
    DeliveryRecord,
    DeliveryState,
    OrderRecord,
    OrderState,
    RecordedResult,
    ResultRecord,
    payload_digest,
)
from daemon_harness import SECRETS, Harness, free_port, harness, wait_until

JOB = {"id": "job-7", "title": "Backend Engineer", "department": "Engineering"}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Harness]:
    with harness(tmp_path) as built:
        yield built


def candidate(n: int, tenant: str) -> dict[str, str]:
    return {"id": f"cand-{n}", "email": f"candidate{n}@{tenant}.example", "name": f"Cand {n}"}


def start_daemon(world: Harness, log: EventLog | None = None) -> Daemon:
    config = world.load()
    return Daemon(config, world.plugins, log=log or EventLog(io.StringIO())).start()


def invite_everyone(world: Harness, daemon: Daemon, count: int) -> None:
    for n in range(count):
        body = world.acme_ats.add_invitation(
            f"acme-app-{n}", job=JOB, candidate=candidate(n, "acme")
        )
        status = world.acme_ats.push_event(f"{daemon.url}/connectors/acme/events", body)
        assert status == 202
        world.globex_ats.add_invitation(
            f"globex-app-{n}", job=JOB, candidate=candidate(n, "globex")
        )


def test_full_loop_for_two_tenants_each_sees_only_its_own(world: Harness) -> None:
    log_stream = io.StringIO()
    daemon = start_daemon(world, EventLog(log_stream))
    try:
        invite_everyone(world, daemon, 3)
        orders = world.wait_for_orders(6)
        by_key = {SECRETS["acme_provider_key"]: "acme", SECRETS["globex_provider_key"]: "globex"}
        for order in orders:
            tenant = by_key[order.provider_key]
            assert order.order.result_update_url.startswith(f"{daemon.url}/results/{tenant}/")
            assert order.order.candidate_details.email.endswith(f"@{tenant}.example")
            assert order.endpoint == ("order" if tenant == "acme" else "link")
        expected: dict[str, int] = {}
        for order in orders:
            result = world.sandbox.complete(order.order.result_id, provider_key=order.provider_key)
            assert result.score is not None
            expected[order.order.result_id] = result.score
        world.acme_ats.wait_for_writes(3, timeout=10)
        world.globex_ats.wait_for_writes(3, timeout=10)
        for ats, tenant in ((world.acme_ats, "acme"), (world.globex_ats, "globex")):
            assert sorted(ats.results) == [f"{tenant}-app-{n}" for n in range(3)]
            for body in ats.results.values():
                assert body["score"] == expected[body["result_id"]]
        store = daemon.store
        assert {o.state for o in store.list_orders()} == {OrderState.SENT}
        assert len(store.list_orders(tenant="acme")) == 3
        globex_links = [o.reference for o in store.list_orders(tenant="globex")]
        assert all(link and link.startswith("http") for link in globex_links)
        wait_until(
            lambda: len(store.list_deliveries(state=DeliveryState.DELIVERED)) == 6,
            what="six deliveries marked delivered",
        )
    finally:
        daemon.stop()
    lines = log_stream.getvalue().splitlines()
    assert any("event=delivery.delivered" in line for line in lines)
    for secret in SECRETS.values():
        assert secret not in log_stream.getvalue()


def test_duplicates_out_of_order_and_a_failing_ats_lose_nothing(world: Harness) -> None:
    world.sandbox.faults.duplicate_deliveries(True)
    world.acme_ats.fail_next(6, status=503, retry_after=None)
    world.globex_ats.fail_next(4, status=503)
    daemon = start_daemon(world)
    try:
        invite_everyone(world, daemon, 4)
        orders = world.wait_for_orders(8)
        final: dict[str, int] = {}
        for order in reversed(orders):
            world.sandbox.complete(order.order.result_id, provider_key=order.provider_key)
        for order in orders[::2]:  # a second version for half of them, out of order
            update = world.sandbox.complete(
                order.order.result_id, score=99, provider_key=order.provider_key
            )
            assert update.score == 99
        for order in orders:
            latest = world.sandbox.orders()
            done = next(o for o in latest if o.order.result_id == order.order.result_id)
            final[order.order.result_id] = done.results[-1].score or 0

        def all_final() -> bool:
            written = {**world.acme_ats.results, **world.globex_ats.results}
            return len(written) == 8 and all(
                body["score"] == final[body["result_id"]] for body in written.values()
            )

        wait_until(all_final, timeout=15, what="every latest version in the ATSs")
        wait_until(
            lambda: (
                not daemon.store.list_deliveries(state=DeliveryState.PENDING)
                and not daemon.store.list_deliveries(state=DeliveryState.IN_FLIGHT)
            ),
            what="the outbox to drain",
        )
        # Every distinct payload the receiver acknowledged is one stored version; the
        # duplicates the emulator added were absorbed.
        acknowledged = {
            (a.result_id, payload_digest(a.payload))
            for a in world.sandbox.deliveries()
            if a.outcome == "delivered"
        }
        stored = {(r.result_id, r.digest) for r in daemon.store.list_results(limit=1000)}
        assert stored == acknowledged
        assert 8 <= len(stored) <= 12
        assert not daemon.store.list_deliveries(state=DeliveryState.DEAD)
        duplicates = [a for a in world.sandbox.deliveries() if a.duplicate]
        assert duplicates, "the emulator should have sent duplicates"
    finally:
        daemon.stop()


def test_permanent_ats_error_is_dead_lettered_with_its_reason(world: Harness) -> None:
    world.acme_ats.fail_always(422)
    daemon = start_daemon(world)
    try:
        invite_everyone(world, daemon, 1)
        orders = world.wait_for_orders(2)
        for order in orders:
            world.sandbox.complete(order.order.result_id, provider_key=order.provider_key)
        dead = wait_until(lambda: daemon.store.list_deliveries(state=DeliveryState.DEAD))
        assert len(dead) == 1
        assert dead[0].tenant == "acme"
        assert dead[0].last_error
        assert "422" in dead[0].last_error
        world.globex_ats.wait_for_writes(1)
        world.acme_ats.heal()
        daemon.store.requeue_deliveries(dead=True, now=time.time())
        daemon.worker.notify()
        world.acme_ats.wait_for_writes(lambda writes: any(w.status == 200 for w in writes))
    finally:
        daemon.stop()


def test_health_endpoints_and_unknown_routes(world: Harness) -> None:
    daemon = start_daemon(world)
    http = urllib3.PoolManager()
    try:
        assert http.request("GET", f"{daemon.url}/healthz").status == 200
        assert http.request("GET", f"{daemon.url}/readyz").status == 200
        missing = http.request("GET", f"{daemon.url}/connectors/nobody/events")
        assert missing.status == 404
        assert json.loads(missing.data)["error"]
        # globex is pull-style only: it has no connector routes
        assert http.request("POST", f"{daemon.url}/connectors/globex/events").status == 404
    finally:
        daemon.stop()
        http.clear()


class Observer:
    """A plugin that records every lifecycle notification, as a metrics or audit plugin would."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    @hookimpl
    def assessio_order_sent(self, tenant: str, order: OrderRecord) -> None:
        self.events.append(("order_sent", tenant))

    @hookimpl
    def assessio_result_received(
        self, tenant: str, result: ResultRecord, recorded: RecordedResult
    ) -> None:
        self.events.append((f"result_received:{recorded.outcome.value}", tenant))

    @hookimpl
    def assessio_result_delivered(
        self, tenant: str, delivery: DeliveryRecord, order: OrderRecord
    ) -> None:
        self.events.append(("result_delivered", tenant))

    @hookimpl
    def assessio_delivery_failed(
        self, tenant: str, delivery: DeliveryRecord, error: str, dead: bool
    ) -> None:
        self.events.append((f"delivery_failed:{'dead' if dead else 'retry'}", tenant))


def test_lifecycle_hooks_reach_observer_plugins(world: Harness) -> None:
    observer = Observer()
    plugins = load_plugins(entry_points=False, extra=[("observer", observer)])
    world.acme_ats.fail_next(1, status=503)
    daemon = Daemon(world.load(), plugins).start()
    try:
        invite_everyone(world, daemon, 1)
        for order in world.wait_for_orders(2):
            world.sandbox.complete(order.order.result_id, provider_key=order.provider_key)
        wait_until(
            lambda: (
                observer.events.count(("result_delivered", "acme")) == 1
                and observer.events.count(("result_delivered", "globex")) == 1
            ),
            what="both deliveries observed",
        )
    finally:
        daemon.stop()
    for tenant in ("acme", "globex"):
        assert ("order_sent", tenant) in observer.events
        assert ("result_received:new", tenant) in observer.events
    assert ("delivery_failed:retry", "acme") in observer.events


def test_orders_recorded_before_a_crash_are_sent_on_restart_and_409_counts_as_sent(
    world: Harness,
) -> None:
    daemon = start_daemon(world)
    try:
        invite_everyone(world, daemon, 1)
        world.wait_for_orders(2)
        wait_until(
            lambda: (
                all(o.state is OrderState.SENT for o in daemon.store.list_orders())
                and len(daemon.store.list_orders()) == 2
            ),
            what="both orders sent",
        )
        linked = daemon.store.list_orders(tenant="globex")[0]
    finally:
        daemon.stop()
    # As if the daemon had crashed after sending but before recording it: pending again.
    config = world.load()
    store = world.plugins.open_store(config.store_url)
    store.migrate()
    for order in store.list_orders():
        now = time.time()
        store.order_retry(order.tenant, order.result_id, "crashed", due=now, now=now)
    assert {o.state for o in store.list_orders()} == {OrderState.PENDING}
    store.close()

    # Assessio answers the resent link order with 409 (the candidate is in the recruitment).
    world.sandbox.faults.api_errors(409, path="/recruitment/v1/assessment-link-order")
    restarted = Daemon(config, world.plugins).start()
    try:
        wait_until(
            lambda: all(o.state is OrderState.SENT for o in restarted.store.list_orders()),
            what="the pending orders resent",
        )
        assert len(world.sandbox.orders()) == 2  # the resends were not new orders
        again = restarted.store.list_orders(tenant="globex")[0]
        assert again.reference == linked.reference  # the 409 kept the assessment link
        assert [r.status for r in world.sandbox.requests() if r.status == 409] == [409]
    finally:
        restarted.stop()


def test_an_older_version_is_never_pushed_over_a_newer_one(world: Harness) -> None:
    daemon = start_daemon(world)
    try:
        body = world.acme_ats.add_invitation("acme-app-0", job=JOB, candidate=candidate(0, "acme"))
        world.acme_ats.push_event(f"{daemon.url}/connectors/acme/events", body)
        [order] = world.wait_for_orders(1)
        world.sandbox.complete(order.order.result_id, score=10, provider_key=order.provider_key)
        world.acme_ats.wait_for_writes(1)
        world.sandbox.complete(order.order.result_id, score=90, provider_key=order.provider_key)
        world.acme_ats.wait_for_writes(lambda writes: writes[-1].body.get("score") == 90)
        first = next(d for d in daemon.store.list_deliveries() if d.version == 1)
        writes = len(world.acme_ats.writes)
        daemon._push(first)  # as if v1's retry came due after v2 was delivered
        assert len(world.acme_ats.writes) == writes
        assert world.acme_ats.results["acme-app-0"]["score"] == 90
    finally:
        daemon.stop()


def test_a_daemon_that_fails_to_build_releases_its_port_and_store(world: Harness) -> None:
    port = free_port()
    config = world.load(port=port)
    plugins = load_plugins(entry_points=False)
    del plugins.connectors["reference"]  # as if the connector's package were gone
    with pytest.raises(ConfigError, match="no connector of kind 'reference'"):
        Daemon(config, plugins)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))  # the half-built daemon closed its listener
