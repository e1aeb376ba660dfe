"""The inbound queue on PostgreSQL beyond the shared contract: whatever makes an event due wakes
a subscriber in another store instance (another replica); a subscriber that asked for no event
notifications is not called for them; two daemons on one schema handle each event once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest
import urllib3
from postgres_test_db import NOW, fresh_schema, wait_until

import inbound_world
from assessio_connect import Daemon, load_daemon_config, load_plugins
from assessio_connect.sandbox import Sandbox
from assessio_connect.store import InboundState
from assessio_connect_postgres import PostgresStore, open_postgres_store

LEASE = 30.0
WAIT = 5.0


class Wakes:
    """Counts each kind of notification and lets a test wait for the next one."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.counts = {"deliveries": 0, "orders": 0, "events": 0}

    def bump(self, kind: str) -> Callable[[], None]:
        def called() -> None:
            with self.cond:
                self.counts[kind] += 1
                self.cond.notify_all()

        return called

    def wait(self, kind: str, above: int) -> int:
        with self.cond:
            assert self.cond.wait_for(lambda: self.counts[kind] > above, WAIT), (
                f"no {kind} notification within {WAIT} s: {self.counts}"
            )
            return self.counts[kind]


@pytest.fixture
def stores() -> Iterator[Callable[[], PostgresStore]]:
    opened: list[PostgresStore] = []
    with fresh_schema() as url:

        def factory() -> PostgresStore:
            store = open_postgres_store(url)
            assert store is not None
            store.migrate()
            opened.append(store)
            return store

        yield factory
        for store in opened:
            store.close()


def test_what_makes_an_event_due_wakes_another_replica(
    stores: Callable[[], PostgresStore],
) -> None:
    listener, writer = stores(), stores()
    wakes = Wakes()
    listener.subscribe(
        deliveries=wakes.bump("deliveries"),
        orders=wakes.bump("orders"),
        events=wakes.bump("events"),
    )
    record, created = writer.enqueue_event("acme", "evt-1", b"{}", {}, now=NOW)
    assert created
    seen = wakes.wait("events", 0)
    [claimed] = writer.claim_events(owner="w", now=NOW, lease=LEASE, limit=1)
    assert writer.event_retry(claimed.id, owner="w", error="503", due=NOW + 1, now=NOW)
    seen = wakes.wait("events", seen)
    writer.claim_events(owner="w", now=NOW + 1, lease=LEASE, limit=1)
    assert writer.release_events("w", now=NOW + 2) == 1
    seen = wakes.wait("events", seen)
    writer.claim_events(owner="w", now=NOW + 2, lease=LEASE, limit=1)
    assert writer.event_dead(record.id, owner="w", error="gone", now=NOW + 3)
    assert writer.requeue_events(dead=True, now=NOW + 4) == 1
    wakes.wait("events", seen)
    assert wakes.counts["deliveries"] == wakes.counts["orders"] == 0


def test_a_subscriber_without_an_events_callback_is_not_called(
    stores: Callable[[], PostgresStore],
) -> None:
    without, writer = stores(), stores()
    wakes = Wakes()
    without.subscribe(deliveries=wakes.bump("deliveries"), orders=wakes.bump("orders"))
    other = Wakes()
    stores().subscribe(
        deliveries=other.bump("deliveries"),
        orders=other.bump("orders"),
        events=other.bump("events"),
    )
    writer.enqueue_event("acme", "evt-1", b"{}", {}, now=NOW)
    other.wait("events", 0)
    assert wakes.counts == {"deliveries": 0, "orders": 0, "events": 0}


def test_two_replicas_handle_each_accepted_event_once(tmp_path: Path) -> None:
    """Two daemons on one schema, webhooks spread over both (as a balancer would): every
    event is handled by exactly one of them, once."""
    count = 12
    handled: list[object] = []

    def log(event: str, /, **fields: object) -> None:
        if event == "event.done":
            handled.append(fields["key"])

    plugins = load_plugins(extra=[("queuedlever", inbound_world)])
    http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(5.0, 10.0))
    with (
        fresh_schema() as url,
        Sandbox([inbound_world.organisation()]) as sandbox,
        inbound_world.GatedLever() as lever,
    ):
        path = tmp_path / "assessio-connect.toml"
        path.write_text(
            inbound_world.config_text(tmp_path, assessio_url=sandbox.url, lever_url=lever.url)
        )
        config = attrs.evolve(load_daemon_config(plugins, path), store_url=url)
        replicas = [Daemon(config, plugins, log=log).start() for _ in range(2)]
        try:
            opportunities = []
            for n in range(count):
                opportunity = lever.add_candidate(
                    name=f"C{n}", email=f"c{n}@example.com", job_title="Engineer"
                )
                delivery = lever.stage_change(opportunity, inbound_world.TRIGGER)
                target = replicas[n % 2].url + "/connectors/acme/webhook"
                response = http.request(
                    "POST", target, body=delivery.body, headers=delivery.headers
                )
                assert response.status == 202, response.data
                opportunities.append(opportunity)
            wait_until(
                lambda: len(sandbox.orders()) == count, what=f"{count} orders at the emulator"
            )
            store = replicas[0].store
            wait_until(
                lambda: store.count_events(state=InboundState.DONE) == count,
                what="every event done",
            )
            events = store.list_events(limit=None)
            assert {e.attempts for e in events} == {1}
            assert sorted(map(str, handled)) == sorted(e.key for e in events), "each once"
            assert sorted(o.application_id for o in store.list_orders(limit=None)) == sorted(
                opportunities
            )
        finally:
            http.clear()
            for replica in replicas:
                replica.stop()
