"""The inbound queue's part of the store contract (`StoreContract` includes it): events a push
connector accepted, stored once per (tenant, key), claimed with leases, retried, dead-lettered
and requeued like deliveries. Every backend runs it through its `StoreContract` subclass."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assessio_connect.contract.errors import StoreError
from assessio_connect.store import InboundRecord, InboundState, Store

__all__ = ["InboundContract"]

NOW = 1_700_000_000.0
LEASE = 30.0
HEADERS = {"Greenhouse-Event-ID": "evt-1", "Signature": "sha256 0f0f"}

Opener = Callable[[], Store]

_keys = itertools.count()
_header_names = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=":"),
    min_size=1,
    max_size=20,
)
_header_values = st.text(alphabet=st.characters(exclude_categories=("Cs", "Cc")), max_size=40)


def accepted(store: Store, key: str, *, tenant: str = "acme", now: float = NOW) -> InboundRecord:
    """Queue a new event `key` with a small payload; fails if it was already known."""
    record, created = store.enqueue_event(
        tenant, key, f'{{"event":"{key}"}}'.encode(), HEADERS, now=now
    )
    assert created
    return record


def event(store: Store, event_id: int) -> InboundRecord:
    found = store.get_event(event_id)
    assert found is not None
    return found


class InboundContract:
    """Every documented behaviour of the inbound-queue methods of `Store`."""

    def test_an_accepted_event_is_pending_and_due_now(self, store: Store) -> None:
        record, created = store.enqueue_event(
            "acme", "evt-1", b'{"action":"candidate_stage_change"}', HEADERS, now=NOW
        )
        assert created
        assert (record.tenant, record.key, record.state) == ("acme", "evt-1", InboundState.PENDING)
        assert (record.attempts, record.next_attempt_at, record.created_at) == (0, NOW, NOW)
        assert (record.last_error, record.lease_owner, record.lease_expires_at) == (None,) * 3
        assert record.payload == b'{"action":"candidate_stage_change"}'
        assert dict(record.headers) == HEADERS
        assert store.get_event(record.id) == record
        assert store.get_event(record.id + 1000) is None
        assert "0f0f" not in repr(record), "headers may carry a signature: not in the repr"

    def test_a_repeated_key_is_stored_once_and_kept_as_first_accepted(self, store: Store) -> None:
        first = accepted(store, "evt-1")
        again, created = store.enqueue_event("acme", "evt-1", b"other", {}, now=NOW + 5)
        assert not created
        assert again == first
        assert store.count_events() == 1
        other, created = store.enqueue_event("globex", "evt-1", b"theirs", {}, now=NOW)
        assert created, "keys are per tenant"
        assert other.id != first.id

    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            # One contract, two stores (SQLite and PostgreSQL): one test, two executors.
            HealthCheck.differing_executors,
        ],
    )
    @given(
        payload=st.binary(max_size=2000),
        headers=st.dictionaries(_header_names, _header_values, max_size=4),
    )
    def test_payload_and_headers_come_back_exactly(
        self, store: Store, payload: bytes, headers: dict[str, str]
    ) -> None:
        key = f"evt-{next(_keys)}"
        record, _ = store.enqueue_event("acme", key, payload, headers, now=NOW)
        [listed] = [e for e in store.list_events(limit=None) if e.key == key]
        assert (record.payload, dict(record.headers)) == (payload, headers)
        assert (listed.payload, dict(listed.headers)) == (payload, headers)

    def test_events_survive_close_and_reopen(self, store_factory: Opener) -> None:
        first = store_factory()
        record = accepted(first, "evt-1")
        first.close()
        second = store_factory()
        try:
            assert second.get_event(record.id) == record
            assert second.enqueue_event("acme", "evt-1", b"x", {}, now=NOW)[1] is False
        finally:
            second.close()

    def test_claim_leases_due_events_oldest_due_first(self, store: Store) -> None:
        later = accepted(store, "evt-later", now=NOW + 2)
        sooner = accepted(store, "evt-sooner", now=NOW + 1)
        accepted(store, "evt-future", now=NOW + 100)
        claimed = store.claim_events(owner="w1", now=NOW + 10, lease=LEASE, limit=10)
        assert [e.id for e in claimed] == [sooner.id, later.id]
        for record in claimed:
            assert record.state is InboundState.IN_FLIGHT
            assert (record.attempts, record.lease_owner) == (1, "w1")
            assert record.lease_expires_at == record.next_attempt_at == NOW + 10 + LEASE
        assert store.claim_events(owner="w2", now=NOW + 20, lease=LEASE, limit=10) == []
        assert store.claim_events(owner="w2", now=NOW + 20, lease=LEASE, limit=0) == []

    def test_claim_honours_limit_and_tenants(self, store: Store) -> None:
        for n in range(3):
            accepted(store, f"evt-{n}", now=NOW + n)
        theirs = accepted(store, "evt-g", tenant="globex")
        assert store.claim_events(owner="w", now=NOW, lease=LEASE, limit=5, tenants=[]) == []
        [only] = store.claim_events(owner="w", now=NOW, lease=LEASE, limit=5, tenants=["globex"])
        assert only.id == theirs.id
        assert len(store.claim_events(owner="w", now=NOW + 5, lease=LEASE, limit=2)) == 2
        assert len(store.claim_events(owner="w", now=NOW + 5, lease=LEASE, limit=2)) == 1

    def test_an_expired_lease_moves_to_another_owner(self, store: Store) -> None:
        record = accepted(store, "evt-1")
        store.claim_events(owner="dead", now=NOW, lease=LEASE, limit=1)
        [taken] = store.claim_events(owner="alive", now=NOW + LEASE, lease=LEASE, limit=1)
        assert (taken.id, taken.attempts, taken.lease_owner) == (record.id, 2, "alive")
        assert not store.event_done(record.id, owner="dead", now=NOW + LEASE + 1)
        assert store.event_done(record.id, owner="alive", now=NOW + LEASE + 1)
        done = event(store, record.id)
        assert (done.state, done.lease_owner, done.lease_expires_at) == (
            InboundState.DONE,
            None,
            None,
        )
        assert store.claim_events(owner="x", now=NOW + 10 * LEASE, lease=LEASE, limit=1) == []

    def test_finishing_an_unclaimed_or_unknown_event_is_false(self, store: Store) -> None:
        record = accepted(store, "evt-1")
        assert not store.event_done(record.id, owner="w", now=NOW)
        assert not store.event_retry(record.id, owner="w", error="e", due=NOW, now=NOW)
        assert not store.event_dead(record.id + 99, owner="w", error="e", now=NOW)
        assert event(store, record.id).state is InboundState.PENDING

    def test_retry_reschedules_with_the_error(self, store: Store) -> None:
        record = accepted(store, "evt-1")
        store.claim_events(owner="w", now=NOW, lease=LEASE, limit=1)
        assert store.event_retry(
            record.id, owner="w", error="Greenhouse answered 503", due=NOW + 60, now=NOW + 1
        )
        waiting = event(store, record.id)
        assert (waiting.state, waiting.next_attempt_at) == (InboundState.PENDING, NOW + 60)
        assert (waiting.last_error, waiting.attempts, waiting.lease_owner) == (
            "Greenhouse answered 503",
            1,
            None,
        )
        assert store.next_event_due() == NOW + 60
        assert store.claim_events(owner="w", now=NOW + 59, lease=LEASE, limit=1) == []
        [again] = store.claim_events(owner="w", now=NOW + 60, lease=LEASE, limit=1)
        assert again.attempts == 2
        assert store.event_done(record.id, owner="w", now=NOW + 61)
        assert event(store, record.id).last_error is None

    def test_dead_events_wait_for_an_operator_and_requeue_brings_them_back(
        self, store: Store
    ) -> None:
        record = accepted(store, "evt-1")
        store.claim_events(owner="w", now=NOW, lease=LEASE, limit=1)
        assert store.event_dead(record.id, owner="w", error="no such application", now=NOW + 1)
        dead = event(store, record.id)
        assert (dead.state, dead.last_error) == (InboundState.DEAD, "no such application")
        assert store.next_event_due() is None
        assert store.claim_events(owner="w", now=NOW + 1e6, lease=LEASE, limit=1) == []
        assert store.requeue_events(dead=True, tenant="globex", now=NOW + 5) == 0
        assert store.requeue_events(dead=True, now=NOW + 5) == 1
        back = event(store, record.id)
        assert (back.state, back.attempts, back.next_attempt_at) == (
            InboundState.PENDING,
            0,
            NOW + 5,
        )
        assert back.created_at == NOW + 5, "the retry horizon counts from the requeue"

    def test_requeue_by_id_leaves_done_events_alone(self, store: Store) -> None:
        done = accepted(store, "evt-done")
        waiting = accepted(store, "evt-waiting")
        store.claim_events(owner="w", now=NOW, lease=LEASE, limit=1)
        store.event_done(done.id, owner="w", now=NOW)
        assert store.requeue_events(ids=[done.id, waiting.id, 9999], now=NOW + 3) == 1
        assert event(store, done.id).state is InboundState.DONE
        assert event(store, waiting.id).next_attempt_at == NOW + 3

    def test_release_gives_back_one_owners_leases_or_everyones(self, store: Store) -> None:
        mine = accepted(store, "evt-mine")
        theirs = accepted(store, "evt-theirs", now=NOW + 1)
        store.claim_events(owner="me", now=NOW, lease=LEASE, limit=1)
        store.claim_events(owner="them", now=NOW + 1, lease=LEASE, limit=1)
        assert store.release_events("me", now=NOW + 2) == 1
        released = event(store, mine.id)
        assert (released.state, released.next_attempt_at, released.lease_owner) == (
            InboundState.PENDING,
            NOW + 2,
            None,
        )
        assert event(store, theirs.id).lease_owner == "them"
        assert store.release_events(None, now=NOW + 3) == 1
        assert event(store, theirs.id).state is InboundState.PENDING

    def test_renew_extends_only_the_owners_unexpired_leases(self, store: Store) -> None:
        a = accepted(store, "evt-a")
        b = accepted(store, "evt-b")
        store.claim_events(owner="w", now=NOW, lease=LEASE, limit=2)
        assert store.renew_event_leases([], owner="w", now=NOW, lease=LEASE) == []
        assert store.renew_event_leases([a.id, b.id], owner="x", now=NOW + 1, lease=LEASE) == []
        renewed = store.renew_event_leases([b.id, a.id], owner="w", now=NOW + 10, lease=LEASE)
        assert list(renewed) == [b.id, a.id]
        assert event(store, a.id).lease_expires_at == NOW + 10 + LEASE
        late = NOW + 10 + LEASE
        assert store.renew_event_leases([a.id], owner="w", now=late, lease=LEASE) == []

    def test_lists_counts_and_next_due_by_tenant_and_state(self, store: Store) -> None:
        first = accepted(store, "evt-1", now=NOW)
        second = accepted(store, "evt-2", now=NOW + 1)
        theirs = accepted(store, "evt-3", tenant="globex", now=NOW + 2)
        store.claim_events(owner="w", now=NOW, lease=LEASE, limit=1)
        store.event_dead(first.id, owner="w", error="bad", now=NOW + 3)
        assert [e.id for e in store.list_events()] == [theirs.id, second.id, first.id]
        assert [e.id for e in store.list_events(limit=2)] == [theirs.id, second.id]
        assert [e.id for e in store.list_events(tenant="acme", state=InboundState.PENDING)] == [
            second.id
        ]
        assert store.list_events(limit=0) == []
        assert len(store.list_events(limit=None)) == 3
        assert store.count_events() == 3
        assert store.count_events(tenant="acme") == 2
        assert store.count_events(state=InboundState.DEAD) == 1
        assert store.count_events(tenant="initech") == 0
        assert dict(store.event_counts()) == {
            ("acme", InboundState.DEAD): 1,
            ("acme", InboundState.PENDING): 1,
            ("globex", InboundState.PENDING): 1,
        }
        assert store.next_event_due() == NOW + 1
        assert store.next_event_due(tenants=["globex"]) == NOW + 2
        assert store.next_event_due(tenants=[]) is None

    def test_concurrent_claimers_claim_each_event_exactly_once(self, store_factory: Opener) -> None:
        setup = store_factory()
        try:
            expected = {accepted(setup, f"evt-{n}", now=NOW + n % 5).id for n in range(120)}
        finally:
            setup.close()
        handles = [store_factory(), store_factory()]
        start = threading.Barrier(4)
        claims: list[int] = []
        failures: list[BaseException] = []
        lock = threading.Lock()

        def claimer(index: int) -> None:
            shared = handles[index % 2]
            owner = f"w{index}"
            try:
                start.wait(timeout=10)
                while batch := shared.claim_events(owner=owner, now=NOW + 10, lease=LEASE, limit=5):
                    for record in batch:
                        assert shared.event_done(record.id, owner=owner, now=NOW + 11)
                    with lock:
                        claims.extend(record.id for record in batch)
            except BaseException as exc:  # reported to the test thread below
                failures.append(exc)

        threads = [threading.Thread(target=claimer, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        try:
            assert not failures, failures
            assert sorted(claims) == sorted(expected)
            assert handles[0].count_events(state=InboundState.DONE) == 120
        finally:
            for handle in handles:
                handle.close()

    def test_racing_accepts_of_one_key_store_it_once(self, store_factory: Opener) -> None:
        handles = [store_factory(), store_factory()]
        racers = 6
        start = threading.Barrier(racers)
        outcomes: list[tuple[int, bool]] = []
        failures: list[BaseException] = []

        def racer(index: int) -> None:
            try:
                start.wait(timeout=10)
                record, created = handles[index % 2].enqueue_event(
                    "acme", "evt-race", f"copy {index}".encode(), {}, now=NOW
                )
                outcomes.append((record.id, created))
            except BaseException as exc:  # reported to the test thread below
                failures.append(exc)

        threads = [threading.Thread(target=racer, args=(n,)) for n in range(racers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        try:
            assert not failures, failures
            assert len({event_id for event_id, _ in outcomes}) == 1
            assert sum(created for _, created in outcomes) == 1
            assert handles[0].count_events() == 1
        finally:
            for handle in handles:
                handle.close()

    def test_a_closed_store_refuses_to_queue(self, store_factory: Opener) -> None:
        closed = store_factory()
        closed.close()
        with pytest.raises(StoreError):
            closed.enqueue_event("acme", "evt-1", b"{}", {}, now=NOW)
