"""The behaviour every `Store` backend must have, as a reusable pytest suite.

Subclass `StoreContract` in a `test_*.py` file and override the `store_factory` fixture (a
callable opening a migrated store on the same database each call); pytest does not collect
this module by itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence

import pytest

from assessio_connect.contract.errors import StoreError
from assessio_connect.contract.models import AssessmentOrder, CandidateDetails, Recruitment
from assessio_connect.store import (
    POLL_SUCCEEDED,
    AttemptOutcome,
    DeliveryRecord,
    DeliveryState,
    NewOrder,
    OrderState,
    ResultOutcome,
    ResultRecord,
    SchemaCheck,
    StateEntry,
    Store,
    TenantActivity,
    payload_digest,
)
from inbound_contract import InboundContract

__all__ = ["NOW", "StoreContract", "StoreFactory", "new_order", "payload"]

NOW = 1_700_000_000.0
LEASE = 30.0

StoreFactory = Callable[[], Store]


def new_order(
    result_id: str = "r-1",
    *,
    tenant: str = "acme",
    application_id: str | None = None,
    metadata: dict[str, str] | None = None,
    email: str = "ada@example.com",
) -> NewOrder:
    """A valid order for `result_id`; its application id defaults to `app-<result_id>`."""
    return NewOrder(
        tenant=tenant,
        application_id=application_id or f"app-{result_id}",
        job_id="job-7",
        candidate_id=f"cand-{result_id}",
        order=AssessmentOrder(
            recruitment=Recruitment("job-7", "Backend Developer", "Builds things"),
            result_update_url=f"https://connect.example/results/{tenant}/{result_id}",
            result_id=result_id,
            lens_id="lens-1",
            locale="sv-SE",
            candidate_details=CandidateDetails(email),
            additional_recruitment_collaborators_emails=("hr@example.com",),
        ),
        metadata={"callback": "https://ats.example/cb/1"} if metadata is None else metadata,
    )


def payload(result_id: str = "r-1", score: int = 71) -> bytes:
    """A valid result webhook body."""
    return (
        f'{{"resultId":"{result_id}","score":{score},'
        f'"subscores":{{"Driving Leadership":{score + 2}}}}}'
    ).encode()


class StoreContract(InboundContract):
    """Every documented behaviour of `Store` (the inbound queue's in `InboundContract`);
    backends subclass it and provide `store_factory`."""

    @pytest.fixture
    def store_factory(self) -> Iterator[StoreFactory]:
        """Open a migrated store on one fresh database; every call opens another handle on it."""
        raise NotImplementedError("a backend's test class must override store_factory")

    @pytest.fixture
    def store(self, store_factory: StoreFactory) -> Iterator[Store]:
        opened = store_factory()
        yield opened
        opened.close()

    # -- helpers ---------------------------------------------------------------------------

    def queued(self, store: Store, result_id: str, *, now: float = NOW) -> int:
        """Add an order and its first result; return the queued delivery's id."""
        store.add_order(new_order(result_id), now=now)
        recorded = store.record_result("acme", result_id, payload(result_id), now=now)
        assert recorded.delivery_id is not None
        return recorded.delivery_id

    def delivery(self, store: Store, delivery_id: int) -> DeliveryRecord:
        found = [d for d in store.list_deliveries(limit=10_000) if d.id == delivery_id]
        assert len(found) == 1
        return found[0]

    # -- lifecycle -------------------------------------------------------------------------

    def test_ping_answers(self, store: Store) -> None:
        store.ping()

    def test_migrate_is_idempotent_and_keeps_data(self, store: Store) -> None:
        store.add_order(new_order(), now=NOW)
        store.migrate()
        store.migrate()
        assert store.find_order("acme", "app-r-1") is not None

    def test_data_survives_close_and_reopen(self, store_factory: StoreFactory) -> None:
        first = store_factory()
        first.add_order(new_order(), now=NOW)
        first.record_result("acme", "r-1", payload(), now=NOW + 1)
        first.set_cursor("acme", "poll", "page-9", now=NOW)
        first.close()
        second = store_factory()
        try:
            order = second.get_order("acme", "r-1")
            assert order is not None
            assert order.order == new_order().order
            result = second.get_result("acme", "r-1")
            assert result is not None
            assert result.payload == payload()
            assert [d.state for d in second.list_deliveries()] == [DeliveryState.PENDING]
            assert second.get_cursor("acme", "poll") == "page-9"
        finally:
            second.close()

    def test_url_and_exclusive_are_declared(self, store: Store) -> None:
        assert isinstance(store.url, str)
        assert store.url
        assert isinstance(store.exclusive, bool)

    # -- orders ----------------------------------------------------------------------------

    def test_add_order_records_a_pending_order_due_now(self, store: Store) -> None:
        record, created = store.add_order(new_order(), now=NOW)
        assert created
        assert record.tenant == "acme"
        assert record.application_id == "app-r-1"
        assert record.result_id == "r-1"
        assert (record.job_id, record.candidate_id) == ("job-7", "cand-r-1")
        assert record.order == new_order().order
        assert dict(record.metadata) == {"callback": "https://ats.example/cb/1"}
        assert record.state is OrderState.PENDING
        assert (record.reference, record.last_error, record.attempts) == (None, None, 0)
        assert record.next_attempt_at == record.created_at == record.updated_at == NOW
        assert store.get_order("acme", "r-1") == record
        assert store.find_order("acme", "app-r-1") == record

    def test_add_order_is_idempotent_per_tenant_and_application(self, store: Store) -> None:
        first, _ = store.add_order(new_order(), now=NOW)
        again, created = store.add_order(
            new_order("r-1", metadata={"other": "value"}), now=NOW + 50
        )
        assert not created
        assert again == first
        other_tenant, created = store.add_order(new_order(tenant="globex"), now=NOW + 1)
        assert created
        assert other_tenant.tenant == "globex"
        assert len(store.list_orders()) == 2

    def test_unknown_orders_are_none(self, store: Store) -> None:
        store.add_order(new_order(), now=NOW)
        assert store.get_order("acme", "r-2") is None
        assert store.get_order("globex", "r-1") is None
        assert store.find_order("acme", "app-r-2") is None
        assert store.find_order("globex", "app-r-1") is None

    def test_claim_orders_leases_due_pending_orders(self, store: Store) -> None:
        store.add_order(new_order("r-1"), now=NOW)
        store.add_order(new_order("r-2"), now=NOW + 5)
        store.add_order(new_order("r-3"), now=NOW + 100)
        claimed = store.claim_orders(owner="a", now=NOW + 10, lease=LEASE, limit=10)
        assert [o.result_id for o in claimed] == ["r-1", "r-2"]
        assert all(o.attempts == 1 for o in claimed)
        assert all(o.next_attempt_at == NOW + 10 + LEASE for o in claimed)
        assert all(o.state is OrderState.PENDING for o in claimed)
        assert store.claim_orders(owner="b", now=NOW + 11, lease=LEASE, limit=10) == []

    def test_claim_orders_honours_limit_oldest_due_first(self, store: Store) -> None:
        for index, result_id in enumerate(["r-3", "r-1", "r-2"]):
            store.add_order(new_order(result_id), now=NOW + [3, 1, 2][index])
        first = store.claim_orders(owner="a", now=NOW + 10, lease=LEASE, limit=2)
        assert [o.result_id for o in first] == ["r-1", "r-2"]
        rest = store.claim_orders(owner="a", now=NOW + 10, lease=LEASE, limit=2)
        assert [o.result_id for o in rest] == ["r-3"]

    def test_an_expired_order_lease_is_claimed_again(self, store: Store) -> None:
        store.add_order(new_order(), now=NOW)
        store.claim_orders(owner="a", now=NOW, lease=LEASE, limit=1)
        assert store.claim_orders(owner="b", now=NOW + LEASE - 1, lease=LEASE, limit=1) == []
        again = store.claim_orders(owner="b", now=NOW + LEASE, lease=LEASE, limit=1)
        assert [o.attempts for o in again] == [2]

    def test_order_sent_retry_and_failed(self, store: Store) -> None:
        for result_id in ("r-1", "r-2", "r-3"):
            store.add_order(new_order(result_id), now=NOW)
        store.claim_orders(owner="a", now=NOW, lease=LEASE, limit=3)
        store.order_sent("acme", "r-1", "https://assessio.example/link", now=NOW + 1)
        store.order_retry("acme", "r-2", "Assessio had a server error", due=NOW + 60, now=NOW + 1)
        store.order_failed("acme", "r-3", "rejected: bad locale", now=NOW + 1)
        sent = store.get_order("acme", "r-1")
        retry = store.get_order("acme", "r-2")
        failed = store.get_order("acme", "r-3")
        assert sent is not None
        assert retry is not None
        assert failed is not None
        assert (sent.state, sent.reference, sent.updated_at) == (
            OrderState.SENT,
            "https://assessio.example/link",
            NOW + 1,
        )
        assert (retry.state, retry.last_error, retry.next_attempt_at, retry.attempts) == (
            OrderState.PENDING,
            "Assessio had a server error",
            NOW + 60,
            1,
        )
        assert (failed.state, failed.last_error) == (OrderState.FAILED, "rejected: bad locale")
        store.order_sent("acme", "r-1", None, now=NOW + 2)  # a resend answered 409
        resent = store.get_order("acme", "r-1")
        assert resent is not None
        assert resent.reference == "https://assessio.example/link"
        assert store.claim_orders(owner="a", now=NOW + 59, lease=LEASE, limit=9) == []
        due = store.claim_orders(owner="a", now=NOW + 60, lease=LEASE, limit=9)
        assert [(o.result_id, o.attempts) for o in due] == [("r-2", 2)]

    def test_a_link_order_without_its_link_is_link_unknown_unless_one_was_stored(
        self, store: Store
    ) -> None:
        for result_id in ("r-1", "r-2"):
            store.add_order(new_order(result_id), now=NOW)
        store.claim_orders(owner="a", now=NOW, lease=LEASE, limit=2)
        store.order_link_unknown("acme", "r-1", "Assessio answered 409", now=NOW + 1)
        # Another sender recorded the link meanwhile: the order is sent, with its link.
        store.order_sent("acme", "r-2", "https://assessio.example/link", now=NOW + 1)
        store.order_link_unknown("acme", "r-2", "409 again", now=NOW + 2)
        unknown = store.get_order("acme", "r-1")
        kept = store.get_order("acme", "r-2")
        assert unknown is not None
        assert kept is not None
        assert (unknown.state, unknown.reference, unknown.last_error, unknown.updated_at) == (
            OrderState.LINK_UNKNOWN,
            None,
            "Assessio answered 409",
            NOW + 1,
        )
        assert (kept.state, kept.reference, kept.last_error) == (
            OrderState.SENT,
            "https://assessio.example/link",
            None,
        )
        assert [o.result_id for o in store.list_orders(state=OrderState.LINK_UNKNOWN)] == ["r-1"]
        # Not pending: never claimed or sent again, and no work is due for it.
        assert store.claim_orders(owner="b", now=NOW + 10_000, lease=LEASE, limit=9) == []
        assert store.next_due("orders") is None

    def test_list_orders_most_recent_first_with_filters(self, store: Store) -> None:
        store.add_order(new_order("r-1"), now=NOW)
        store.add_order(new_order("r-2", tenant="globex"), now=NOW + 1)
        store.add_order(new_order("r-3"), now=NOW + 2)
        store.order_sent("acme", "r-3", None, now=NOW + 3)
        assert [o.result_id for o in store.list_orders()] == ["r-3", "r-2", "r-1"]
        assert [o.result_id for o in store.list_orders(limit=2)] == ["r-3", "r-2"]
        assert [o.result_id for o in store.list_orders(tenant="acme")] == ["r-3", "r-1"]
        assert [o.result_id for o in store.list_orders(state=OrderState.PENDING)] == ["r-2", "r-1"]
        pending_acme = store.list_orders(tenant="acme", state=OrderState.PENDING)
        assert [o.result_id for o in pending_acme] == ["r-1"]
        assert store.list_orders(tenant="nobody") == []

    # -- results ---------------------------------------------------------------------------

    def test_first_result_is_new_and_queues_a_delivery_due_now(self, store: Store) -> None:
        store.add_order(new_order(), now=NOW)
        recorded = store.record_result("acme", "r-1", payload(), now=NOW + 1)
        assert (recorded.outcome, recorded.version) == (ResultOutcome.NEW, 1)
        result = store.get_result("acme", "r-1")
        assert result is not None
        assert (result.version, result.payload, result.orphan) == (1, payload(), False)
        assert result.digest == payload_digest(payload())
        assert result.received_at == NOW + 1
        assert result.result.score == 71
        [delivery] = store.list_deliveries()
        assert delivery.id == recorded.delivery_id
        assert (delivery.tenant, delivery.result_id, delivery.version) == ("acme", "r-1", 1)
        assert (delivery.state, delivery.attempts, delivery.next_attempt_at) == (
            DeliveryState.PENDING,
            0,
            NOW + 1,
        )
        assert (delivery.lease_owner, delivery.lease_expires_at, delivery.last_error) == (
            None,
            None,
            None,
        )

    def test_same_payload_again_is_a_duplicate_even_reformatted(self, store: Store) -> None:
        store.add_order(new_order(), now=NOW)
        store.record_result("acme", "r-1", payload(), now=NOW)
        again = store.record_result("acme", "r-1", payload(), now=NOW + 1)
        reformatted = (
            b'{ "subscores": {"Driving Leadership": 73}, "score": 71,\n "resultId": "r-1" }'
        )
        spaced = store.record_result("acme", "r-1", reformatted, now=NOW + 2)
        for recorded in (again, spaced):
            assert (recorded.outcome, recorded.version, recorded.delivery_id) == (
                ResultOutcome.DUPLICATE,
                1,
                None,
            )
        assert len(store.list_results()) == 1
        assert len(store.list_deliveries()) == 1

    def test_subscores_in_another_order_are_a_duplicate(self, store: Store) -> None:
        # Assessio's documented result example, verbatim (docs/assessio-contract.md, "the
        # result webhook"), then the same with its keys permuted at both depths.
        documented = b"""{
  "resultId": "6ef46985-9ca2-4c65-a184-47fa0d332246",
  "score": 71,
  "subscores": {"Driving Leadership": 73, "Influencing & Inspiring": 68}
}"""
        permuted = (
            b'{"subscores":{"Influencing & Inspiring":68,"Driving Leadership":73},'
            b'"score":71,"resultId":"6ef46985-9ca2-4c65-a184-47fa0d332246"}'
        )
        result_id = "6ef46985-9ca2-4c65-a184-47fa0d332246"
        store.add_order(new_order(result_id), now=NOW)
        first = store.record_result("acme", result_id, documented, now=NOW)
        again = store.record_result("acme", result_id, permuted, now=NOW + 1)
        assert first.outcome is ResultOutcome.NEW
        assert (again.outcome, again.version, again.delivery_id) == (
            ResultOutcome.DUPLICATE,
            1,
            None,
        )
        assert len(store.list_deliveries()) == 1

    def test_a_new_payload_is_an_update_superseding_pending_deliveries(self, store: Store) -> None:
        store.add_order(new_order(), now=NOW)
        first = store.record_result("acme", "r-1", payload(score=71), now=NOW)
        second = store.record_result("acme", "r-1", payload(score=80), now=NOW + 1)
        assert (second.outcome, second.version) == (ResultOutcome.UPDATED, 2)
        assert second.delivery_id not in (None, first.delivery_id)
        assert first.delivery_id is not None
        assert second.delivery_id is not None
        old = self.delivery(store, first.delivery_id)
        new = self.delivery(store, second.delivery_id)
        assert old.state is DeliveryState.SUPERSEDED
        assert (new.state, new.version, new.next_attempt_at) == (DeliveryState.PENDING, 2, NOW + 1)
        latest = store.get_result("acme", "r-1")
        assert latest is not None
        assert latest.version == 2
        assert latest.result.score == 80
        v1 = store.get_result("acme", "r-1", 1)
        assert v1 is not None
        assert v1.result.score == 71
        assert store.get_result("acme", "r-1", 3) is None

    def test_replaying_an_older_version_after_a_newer_one_is_a_duplicate(
        self, store: Store
    ) -> None:
        store.add_order(new_order(), now=NOW)
        store.record_result("acme", "r-1", payload(score=71), now=NOW)
        store.record_result("acme", "r-1", payload(score=80), now=NOW + 1)
        replay = store.record_result("acme", "r-1", payload(score=71), now=NOW + 2)
        assert (replay.outcome, replay.version, replay.delivery_id) == (
            ResultOutcome.DUPLICATE,
            1,
            None,
        )
        assert [r.version for r in store.list_results()] == [2, 1]
        assert [d.state for d in store.list_deliveries()] == [
            DeliveryState.PENDING,
            DeliveryState.SUPERSEDED,
        ]

    def test_in_flight_and_finished_deliveries_are_not_superseded(self, store: Store) -> None:
        store.add_order(new_order(), now=NOW)
        first = store.record_result("acme", "r-1", payload(score=71), now=NOW)
        [claimed] = store.claim_deliveries(owner="a", now=NOW, lease=LEASE, limit=5)
        assert claimed.id == first.delivery_id
        second = store.record_result("acme", "r-1", payload(score=80), now=NOW + 1)
        assert second.delivery_id is not None
        assert self.delivery(store, claimed.id).state is DeliveryState.IN_FLIGHT
        assert store.delivery_done(claimed.id, owner="a", now=NOW + 2)
        third = store.record_result("acme", "r-1", payload(score=90), now=NOW + 3)
        assert third.outcome is ResultOutcome.UPDATED
        assert self.delivery(store, claimed.id).state is DeliveryState.DELIVERED
        assert self.delivery(store, second.delivery_id).state is DeliveryState.SUPERSEDED

    def test_a_result_without_an_order_is_an_orphan(self, store: Store) -> None:
        store.add_order(new_order("r-1", tenant="globex"), now=NOW)
        orphan = store.record_result("acme", "r-1", payload(), now=NOW)
        assert (orphan.outcome, orphan.version, orphan.delivery_id) == (
            ResultOutcome.ORPHAN,
            1,
            None,
        )
        stored = store.get_result("acme", "r-1")
        assert stored is not None
        assert stored.orphan
        assert store.list_deliveries() == []
        repeat = store.record_result("acme", "r-1", payload(), now=NOW + 1)
        assert (repeat.outcome, repeat.version) == (ResultOutcome.DUPLICATE, 1)
        changed = store.record_result("acme", "r-1", payload(score=5), now=NOW + 2)
        assert (changed.outcome, changed.version, changed.delivery_id) == (
            ResultOutcome.ORPHAN,
            2,
            None,
        )
        assert store.list_deliveries() == []

    def test_results_are_per_tenant(self, store: Store) -> None:
        store.add_order(new_order("r-1"), now=NOW)
        store.add_order(new_order("r-1", tenant="globex"), now=NOW)
        store.record_result("acme", "r-1", payload(), now=NOW)
        other = store.record_result("globex", "r-1", payload(), now=NOW)
        assert (other.outcome, other.version) == (ResultOutcome.NEW, 1)
        assert store.get_result("initech", "r-1") is None

    def test_list_results_most_recent_first_with_filters(self, store: Store) -> None:
        store.add_order(new_order("r-1"), now=NOW)
        store.record_result("acme", "r-1", payload("r-1"), now=NOW + 1)
        store.record_result("acme", "r-9", payload("r-9"), now=NOW + 2)
        store.record_result("globex", "r-8", payload("r-8"), now=NOW + 3)
        store.record_result("acme", "r-1", payload("r-1", 60), now=NOW + 4)

        def ids(results: Sequence[ResultRecord]) -> list[tuple[str, int]]:
            return [(r.result_id, r.version) for r in results]

        assert ids(store.list_results()) == [("r-1", 2), ("r-8", 1), ("r-9", 1), ("r-1", 1)]
        assert ids(store.list_results(limit=1)) == [("r-1", 2)]
        assert ids(store.list_results(orphans=True)) == [("r-8", 1), ("r-9", 1)]
        assert ids(store.list_results(orphans=False)) == [("r-1", 2), ("r-1", 1)]
        assert ids(store.list_results(tenant="acme", orphans=True)) == [("r-9", 1)]
        assert ids(store.list_results(tenant="globex")) == [("r-8", 1)]

    # -- deliveries ------------------------------------------------------------------------

    def test_claim_deliveries_leases_due_ones_oldest_first(self, store: Store) -> None:
        late = self.queued(store, "r-1", now=NOW + 3)
        early = self.queued(store, "r-2", now=NOW + 1)
        future = self.queued(store, "r-3", now=NOW + 100)
        claimed = store.claim_deliveries(owner="a", now=NOW + 10, lease=LEASE, limit=10)
        assert [d.id for d in claimed] == [early, late]
        for delivery in claimed:
            assert delivery.state is DeliveryState.IN_FLIGHT
            assert (delivery.lease_owner, delivery.lease_expires_at) == ("a", NOW + 10 + LEASE)
            assert delivery.attempts == 1
            assert delivery.updated_at == NOW + 10
        assert self.delivery(store, early) == claimed[0]
        assert self.delivery(store, future).state is DeliveryState.PENDING
        assert store.claim_deliveries(owner="b", now=NOW + 11, lease=LEASE, limit=10) == []

    def test_claim_deliveries_honours_limit(self, store: Store) -> None:
        ids = [self.queued(store, f"r-{n}", now=NOW + n) for n in range(5)]
        first = store.claim_deliveries(owner="a", now=NOW + 10, lease=LEASE, limit=2)
        second = store.claim_deliveries(owner="b", now=NOW + 10, lease=LEASE, limit=2)
        third = store.claim_deliveries(owner="c", now=NOW + 10, lease=LEASE, limit=2)
        assert [[d.id for d in batch] for batch in (first, second, third)] == [
            ids[0:2],
            ids[2:4],
            ids[4:5],
        ]
        assert store.claim_deliveries(owner="a", now=NOW + 10, lease=LEASE, limit=0) == []

    def test_an_expired_delivery_lease_moves_to_another_owner(self, store: Store) -> None:
        delivery_id = self.queued(store, "r-1")
        store.claim_deliveries(owner="a", now=NOW, lease=LEASE, limit=1)
        assert store.claim_deliveries(owner="b", now=NOW + LEASE - 1, lease=LEASE, limit=1) == []
        [again] = store.claim_deliveries(owner="b", now=NOW + LEASE, lease=LEASE, limit=1)
        assert (again.id, again.attempts, again.lease_owner) == (delivery_id, 2, "b")
        assert not store.delivery_done(delivery_id, owner="a", now=NOW + LEASE + 1)
        assert not store.delivery_retry(
            delivery_id, owner="a", error="late", due=NOW + 99, now=NOW + LEASE + 1
        )
        assert not store.delivery_dead(delivery_id, owner="a", error="late", now=NOW + LEASE + 1)
        assert self.delivery(store, delivery_id) == again
        assert store.delivery_done(delivery_id, owner="b", now=NOW + LEASE + 2)
        done = self.delivery(store, delivery_id)
        assert (done.state, done.updated_at, done.attempts) == (
            DeliveryState.DELIVERED,
            NOW + LEASE + 2,
            2,
        )
        assert store.claim_deliveries(owner="c", now=NOW + 10_000, lease=LEASE, limit=5) == []
        assert not store.delivery_done(delivery_id, owner="b", now=NOW + LEASE + 3)

    def test_finishing_an_unclaimed_or_unknown_delivery_is_false(self, store: Store) -> None:
        delivery_id = self.queued(store, "r-1")
        assert not store.delivery_done(delivery_id, owner="a", now=NOW)
        assert not store.delivery_done(delivery_id + 1000, owner="a", now=NOW)
        assert self.delivery(store, delivery_id).state is DeliveryState.PENDING

    def test_delivery_retry_reschedules_with_the_error(self, store: Store) -> None:
        delivery_id = self.queued(store, "r-1")
        store.claim_deliveries(owner="a", now=NOW, lease=LEASE, limit=1)
        assert store.delivery_retry(
            delivery_id, owner="a", error="ATS answered 503", due=NOW + 60, now=NOW + 1
        )
        retried = self.delivery(store, delivery_id)
        assert (retried.state, retried.next_attempt_at, retried.last_error) == (
            DeliveryState.PENDING,
            NOW + 60,
            "ATS answered 503",
        )
        assert (retried.lease_owner, retried.lease_expires_at, retried.attempts) == (None, None, 1)
        assert store.claim_deliveries(owner="a", now=NOW + 59, lease=LEASE, limit=1) == []
        [again] = store.claim_deliveries(owner="b", now=NOW + 60, lease=LEASE, limit=1)
        assert (again.id, again.attempts) == (delivery_id, 2)

    def test_delivery_dead_letters_and_requeue_brings_it_back(self, store: Store) -> None:
        dead_id = self.queued(store, "r-1")
        other_dead = self.queued(store, "r-2")
        delivered = self.queued(store, "r-3")
        store.claim_deliveries(owner="a", now=NOW, lease=LEASE, limit=3)
        assert store.delivery_dead(dead_id, owner="a", error="ATS said 404", now=NOW + 1)
        assert store.delivery_dead(other_dead, owner="a", error="ATS said 400", now=NOW + 1)
        assert store.delivery_done(delivered, owner="a", now=NOW + 1)
        dead = self.delivery(store, dead_id)
        assert (dead.state, dead.last_error, dead.lease_owner) == (
            DeliveryState.DEAD,
            "ATS said 404",
            None,
        )
        assert store.claim_deliveries(owner="a", now=NOW + 10_000, lease=LEASE, limit=5) == []
        assert store.requeue_deliveries(ids=[dead_id, delivered], now=NOW + 100) == 1
        requeued = self.delivery(store, dead_id)
        assert (requeued.state, requeued.attempts, requeued.next_attempt_at) == (
            DeliveryState.PENDING,
            0,
            NOW + 100,
        )
        assert self.delivery(store, delivered).state is DeliveryState.DELIVERED
        assert self.delivery(store, other_dead).state is DeliveryState.DEAD
        assert store.requeue_deliveries(dead=True, now=NOW + 101) == 1
        assert self.delivery(store, other_dead).state is DeliveryState.PENDING
        claimed = store.claim_deliveries(owner="b", now=NOW + 101, lease=LEASE, limit=5)
        assert sorted(d.id for d in claimed) == sorted([dead_id, other_dead])
        assert all(d.attempts == 1 for d in claimed)

    def test_requeue_leaves_superseded_deliveries_alone(self, store: Store) -> None:
        store.add_order(new_order(), now=NOW)
        old = store.record_result("acme", "r-1", payload(score=1), now=NOW)
        store.record_result("acme", "r-1", payload(score=2), now=NOW)
        assert old.delivery_id is not None
        assert store.requeue_deliveries(ids=[old.delivery_id], dead=True, now=NOW + 1) == 0
        assert self.delivery(store, old.delivery_id).state is DeliveryState.SUPERSEDED
        assert store.requeue_deliveries(now=NOW + 1) == 0

    def test_release_gives_back_one_owners_leases(self, store: Store) -> None:
        mine = self.queued(store, "r-1")
        theirs = self.queued(store, "r-2", now=NOW + 1)
        store.claim_deliveries(owner="a", now=NOW + 2, lease=LEASE, limit=1)
        store.claim_deliveries(owner="b", now=NOW + 2, lease=LEASE, limit=1)
        store.claim_orders(owner="a", now=NOW + 2, lease=LEASE, limit=1)
        store.claim_orders(owner="b", now=NOW + 2, lease=LEASE, limit=1)
        assert store.release("a", now=NOW + 3) == 1
        released = self.delivery(store, mine)
        assert (released.state, released.lease_owner, released.next_attempt_at) == (
            DeliveryState.PENDING,
            None,
            NOW + 3,
        )
        assert self.delivery(store, theirs).lease_owner == "b"
        orders = store.claim_orders(owner="c", now=NOW + 3, lease=LEASE, limit=5)
        assert [o.result_id for o in orders] == ["r-1"]
        again = store.claim_deliveries(owner="c", now=NOW + 3, lease=LEASE, limit=5)
        assert [d.id for d in again] == [mine]
        assert store.release("nobody", now=NOW + 4) == 0

    def test_release_everyone(self, store: Store) -> None:
        for n in range(3):
            self.queued(store, f"r-{n}")
        store.claim_deliveries(owner="a", now=NOW, lease=LEASE, limit=2)
        store.claim_deliveries(owner="b", now=NOW, lease=LEASE, limit=2)
        store.claim_orders(owner="a", now=NOW, lease=LEASE, limit=5)
        assert store.release(None, now=NOW + 1) == 3
        assert all(d.state is DeliveryState.PENDING for d in store.list_deliveries())
        assert len(store.claim_orders(owner="c", now=NOW + 1, lease=LEASE, limit=5)) == 3
        assert store.release(None, now=NOW + 2) == 0

    def test_list_deliveries_most_recent_first_with_filters(self, store: Store) -> None:
        first = self.queued(store, "r-1", now=NOW)
        store.add_order(new_order("r-2", tenant="globex"), now=NOW)
        other = store.record_result("globex", "r-2", payload("r-2"), now=NOW + 1).delivery_id
        last = self.queued(store, "r-3", now=NOW + 2)
        store.claim_deliveries(owner="a", now=NOW + 2, lease=LEASE, limit=1)
        assert [d.id for d in store.list_deliveries()] == [last, other, first]
        assert [d.id for d in store.list_deliveries(limit=2)] == [last, other]
        assert [d.id for d in store.list_deliveries(tenant="acme")] == [last, first]
        pending = store.list_deliveries(state=DeliveryState.PENDING)
        assert [d.id for d in pending] == [last, other]
        flying = store.list_deliveries(tenant="acme", state=DeliveryState.IN_FLIGHT)
        assert [d.id for d in flying] == [first]

    def test_next_due(self, store: Store) -> None:
        assert store.next_due() is None
        store.add_order(new_order("r-1"), now=NOW + 50)
        assert store.next_due() == NOW + 50
        store.record_result("acme", "r-1", payload(), now=NOW + 20)
        assert store.next_due() == NOW + 20
        [delivery] = store.claim_deliveries(owner="a", now=NOW + 20, lease=LEASE, limit=1)
        assert store.next_due() == NOW + 20 + LEASE  # lease expiry of the in-flight delivery
        store.claim_orders(owner="a", now=NOW + 50, lease=LEASE, limit=1)
        store.order_sent("acme", "r-1", None, now=NOW + 51)
        assert store.next_due() == NOW + 20 + LEASE
        store.delivery_retry(delivery.id, owner="a", error="x", due=NOW + 300, now=NOW + 21)
        assert store.next_due() == NOW + 300
        store.claim_deliveries(owner="a", now=NOW + 300, lease=LEASE, limit=1)
        store.delivery_done(delivery.id, owner="a", now=NOW + 301)
        assert store.next_due() is None

    def test_next_due_of_one_kind(self, store: Store) -> None:
        store.add_order(new_order("r-1"), now=NOW + 50)
        store.add_order(new_order("r-2"), now=NOW + 70)
        store.claim_orders(owner="a", now=NOW + 50, lease=LEASE, limit=1)
        store.order_sent("acme", "r-1", None, now=NOW + 51)
        store.record_result("acme", "r-1", payload(), now=NOW + 60)
        assert store.next_due("orders") == NOW + 70
        assert store.next_due("deliveries") == NOW + 60
        assert store.next_due() == NOW + 60

    def test_claims_and_next_due_only_for_the_given_tenants(self, store: Store) -> None:
        # A daemon claims only its configured tenants' work: a removed tenant's waits untouched.
        for tenant, result_id, at in (("acme", "r-1", NOW + 2), ("globex", "r-2", NOW + 1)):
            store.add_order(new_order(result_id, tenant=tenant), now=at)
        assert store.next_due("orders", tenants=["acme"]) == NOW + 2
        assert store.next_due("orders", tenants=[]) is None
        claimed = store.claim_orders(owner="a", now=NOW + 5, lease=LEASE, limit=5, tenants={"acme"})
        assert [o.result_id for o in claimed] == ["r-1"]
        assert store.claim_orders(owner="a", now=NOW + 5, lease=LEASE, limit=5, tenants=()) == []
        for tenant, result_id in (("acme", "r-1"), ("globex", "r-2")):
            store.order_sent(tenant, result_id, None, now=NOW + 6)
            store.record_result(tenant, result_id, payload(result_id), now=NOW + 7)
        assert store.next_due("deliveries", tenants=("globex",)) == NOW + 7
        assert store.next_due(tenants=[]) is None
        taken = store.claim_deliveries(owner="a", now=NOW + 8, lease=LEASE, limit=5, tenants=[])
        assert taken == []
        only = store.claim_deliveries(
            owner="a", now=NOW + 8, lease=LEASE, limit=5, tenants=["globex"]
        )
        assert [(d.tenant, d.attempts) for d in only] == [("globex", 1)]
        untouched = [d for d in store.list_deliveries(tenant="acme") if d.result_id == "r-1"]
        assert [(d.state, d.attempts) for d in untouched] == [(DeliveryState.PENDING, 0)]
        assert [o.attempts for o in store.list_orders(tenant="globex")] == [0]
        # Without `tenants`, every tenant's work is claimed as before.
        rest = store.claim_deliveries(owner="b", now=NOW + 8, lease=LEASE, limit=5)
        assert [d.tenant for d in rest] == ["acme"]

    def test_renew_extends_only_the_owners_unexpired_leases(self, store: Store) -> None:
        mine, late, theirs, pending = (self.queued(store, f"r-{n}") for n in range(4))
        store.claim_deliveries(owner="a", now=NOW, lease=LEASE, limit=2)
        store.claim_deliveries(owner="b", now=NOW, lease=LEASE, limit=1)
        assert self.delivery(store, theirs).lease_owner == "b"
        renewed = store.renew_delivery_leases(
            [pending, theirs, mine, 9_999], owner="a", now=NOW + 10, lease=LEASE
        )
        assert renewed == [mine]
        held = self.delivery(store, mine)
        assert (held.state, held.lease_owner, held.lease_expires_at, held.attempts) == (
            DeliveryState.IN_FLIGHT,
            "a",
            NOW + 10 + LEASE,
            1,
        )
        assert held.next_attempt_at == NOW + 10 + LEASE
        assert self.delivery(store, theirs).lease_expires_at == NOW + LEASE
        assert self.delivery(store, pending).state is DeliveryState.PENDING
        # `late`'s lease ran out before the batch reached it: lost, even if nobody took it.
        assert store.renew_delivery_leases([late], owner="a", now=NOW + LEASE, lease=LEASE) == []
        assert self.delivery(store, late).lease_expires_at == NOW + LEASE
        assert store.renew_delivery_leases([], owner="a", now=NOW, lease=LEASE) == []
        # Renewed, `mine` is not claimable when its first lease would have ended ...
        taken = store.claim_deliveries(owner="c", now=NOW + LEASE, lease=LEASE, limit=9)
        assert sorted(d.id for d in taken) == sorted([late, theirs, pending])
        # ... and once another owner claimed it, the old owner cannot renew it.
        [stolen] = store.claim_deliveries(owner="c", now=NOW + 10 + LEASE, lease=LEASE, limit=9)
        assert stolen.id == mine
        assert store.renew_delivery_leases([mine], owner="a", now=NOW + 11 + LEASE, lease=1) == []
        assert self.delivery(store, mine).lease_owner == "c"

    def test_release_expired_leaves_live_leases_alone(self, store: Store) -> None:
        expired = self.queued(store, "r-1")
        live = self.queued(store, "r-2", now=NOW + 1)
        store.claim_deliveries(owner="dead", now=NOW, lease=LEASE, limit=1)
        store.claim_deliveries(owner="alive", now=NOW + 20, lease=LEASE, limit=1)
        store.claim_orders(owner="dead", now=NOW, lease=LEASE, limit=1)
        store.claim_orders(owner="alive", now=NOW + 20, lease=LEASE, limit=1)
        assert store.release_expired(now=NOW + LEASE + 1) == 1
        released = self.delivery(store, expired)
        assert (released.state, released.lease_owner, released.next_attempt_at) == (
            DeliveryState.PENDING,
            None,
            NOW + LEASE + 1,
        )
        kept = self.delivery(store, live)
        assert (kept.state, kept.lease_owner) == (DeliveryState.IN_FLIGHT, "alive")
        assert not store.delivery_done(expired, owner="dead", now=NOW + LEASE + 2)
        assert store.delivery_done(live, owner="alive", now=NOW + LEASE + 2)
        orders = store.claim_orders(owner="new", now=NOW + LEASE + 1, lease=LEASE, limit=9)
        assert [o.result_id for o in orders] == ["r-1"]
        assert store.release_expired(now=NOW + LEASE + 1) == 0

    # -- connector state -------------------------------------------------------------------

    def test_state_is_none_until_written(self, store: Store) -> None:
        assert store.get_state("acme", "greenhouse", "token") is None
        store.delete_state("acme", "greenhouse", "token")  # nothing to forget: no error

    def test_put_state_creates_then_counts_versions_up(self, store: Store) -> None:
        first = store.put_state("acme", "greenhouse", "token", "one", now=NOW)
        second = store.put_state("acme", "greenhouse", "token", "two", now=NOW + 1)
        assert first == StateEntry(value="one", version=1, updated_at=NOW)
        assert second == StateEntry(value="two", version=2, updated_at=NOW + 1)
        assert store.get_state("acme", "greenhouse", "token") == second

    def test_swap_writes_only_over_the_expected_version(self, store: Store) -> None:
        created = store.put_state("acme", "ns", "k", "a", expect_version=0, now=NOW)
        assert created == StateEntry(value="a", version=1, updated_at=NOW)
        assert store.put_state("acme", "ns", "k", "again", expect_version=0, now=NOW) is None
        assert store.put_state("acme", "ns", "k", "stale", expect_version=2, now=NOW) is None
        assert store.put_state("acme", "ns", "missing", "x", expect_version=1, now=NOW) is None
        assert store.get_state("acme", "ns", "missing") is None
        assert store.get_state("acme", "ns", "k") == created
        swapped = store.put_state("acme", "ns", "k", "b", expect_version=1, now=NOW + 1)
        assert swapped == StateEntry(value="b", version=2, updated_at=NOW + 1)

    def test_state_is_kept_per_tenant_namespace_and_key(self, store: Store) -> None:
        places = [("acme", "ns", "k"), ("globex", "ns", "k"), ("acme", "other", "k")]
        places.append(("acme", "ns", "k2"))
        for index, (tenant, namespace, key) in enumerate(places):
            store.put_state(tenant, namespace, key, f"v{index}", now=NOW)
        for index, (tenant, namespace, key) in enumerate(places):
            entry = store.get_state(tenant, namespace, key)
            assert entry is not None
            assert (entry.value, entry.version) == (f"v{index}", 1)
        store.delete_state("acme", "ns", "k")
        assert store.get_state("acme", "ns", "k") is None
        assert [store.get_state(*place) is not None for place in places[1:]] == [True] * 3
        again = store.put_state("acme", "ns", "k", "new", expect_version=0, now=NOW + 1)
        assert again is not None
        assert again.version == 1

    def test_state_values_are_kept_exactly(self, store: Store) -> None:
        value = '{"refresh_token": "r-åäö-🔑", "n": 1}' + " " * 3 + "x" * 70_000
        store.put_state("acme", "ns", "k", value, now=NOW)
        entry = store.get_state("acme", "ns", "k")
        assert entry is not None
        assert entry.value == value
        assert "r-" not in repr(entry)  # a value may be a token: never in a repr

    def test_state_survives_close_and_reopen(self, store_factory: StoreFactory) -> None:
        first = store_factory()
        first.put_state("acme", "workday", "refresh", "tok-2", now=NOW)
        first.close()
        second = store_factory()
        try:
            assert second.get_state("acme", "workday", "refresh") == StateEntry(
                value="tok-2", version=1, updated_at=NOW
            )
        finally:
            second.close()

    # -- cursors ---------------------------------------------------------------------------

    def test_cursors(self, store: Store) -> None:
        assert store.get_cursor("acme", "poll") is None
        store.set_cursor("acme", "poll", "page-1", now=NOW)
        store.set_cursor("acme", "poll", "page-2", now=NOW + 1)
        store.set_cursor("globex", "poll", "other", now=NOW)
        store.set_cursor("acme", "other", "x", now=NOW)
        assert store.get_cursor("acme", "poll") == "page-2"
        assert store.get_cursor("globex", "poll") == "other"
        assert store.get_cursor("acme", "other") == "x"
        assert store.get_cursor("initech", "poll") is None

    # -- concurrency -----------------------------------------------------------------------

    def test_concurrent_claimers_claim_each_delivery_exactly_once(
        self, store_factory: StoreFactory
    ) -> None:
        setup = store_factory()
        try:
            expected = {self.queued(setup, f"r-{n}", now=NOW + n % 7) for n in range(200)}
        finally:
            setup.close()
        shared = store_factory()
        start = threading.Barrier(4)
        claims: dict[str, list[int]] = {}
        failures: list[BaseException] = []

        def claimer(owner: str) -> None:
            mine: list[int] = []
            claims[owner] = mine
            try:
                start.wait(timeout=10)
                while batch := shared.claim_deliveries(
                    owner=owner, now=NOW + 10, lease=LEASE, limit=7
                ):
                    mine.extend(d.id for d in batch)
                    for delivery in batch:
                        assert shared.delivery_done(delivery.id, owner=owner, now=NOW + 11)
            except BaseException as exc:  # reported to the test thread below
                failures.append(exc)

        threads = [threading.Thread(target=claimer, args=(f"w{n}",)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        try:
            assert not failures, failures
            everything = [i for owned in claims.values() for i in owned]
            assert sorted(everything) == sorted(expected)
            assert len(set(everything)) == len(everything) == 200
            states = {d.state for d in shared.list_deliveries(limit=1000)}
            assert states == {DeliveryState.DELIVERED}
        finally:
            shared.close()

    def test_racing_swaps_have_exactly_one_winner_per_version(
        self, store_factory: StoreFactory
    ) -> None:
        handles = [store_factory(), store_factory()]
        racers, rounds = 8, 12
        start = threading.Barrier(racers)
        wins: dict[int, list[str]] = {version: [] for version in range(rounds)}
        failures: list[BaseException] = []

        def racer(index: int) -> None:
            store = handles[index % len(handles)]
            try:
                for version in range(rounds):
                    start.wait(timeout=20)
                    entry = store.put_state(
                        "acme", "ns", "lease", f"racer-{index}", expect_version=version, now=NOW
                    )
                    if entry is not None:
                        assert entry.version == version + 1
                        wins[version].append(f"racer-{index}")
            except BaseException as exc:  # reported to the test thread below
                failures.append(exc)
                start.abort()

        threads = [threading.Thread(target=racer, args=(n,)) for n in range(racers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        try:
            assert not failures, failures
            assert {version: len(names) for version, names in wins.items()} == dict.fromkeys(
                range(rounds), 1
            )
            final = handles[0].get_state("acme", "ns", "lease")
            assert final is not None
            assert (final.version, final.value) == (rounds, wins[rounds - 1][0])
        finally:
            for handle in handles:
                handle.close()

    def test_a_closed_store_refuses_work(self, store_factory: StoreFactory) -> None:
        closed = store_factory()
        closed.close()
        with pytest.raises(StoreError):
            closed.add_order(new_order(), now=NOW)

    # -- operators' views ------------------------------------------------------------------

    def seed_people(self, store: Store) -> dict[str, int]:
        """Three candidates in two tenants (one e-mail in both), each with a result; returns
        their delivery ids by result id."""
        people = [
            ("acme", "r-1", "app-1", "Ada.Lovelace@Example.com", NOW),
            ("acme", "r-2", "app-2", "grace@example.com", NOW + 1),
            ("globex", "r-3", "app-1", "ada.lovelace@example.com", NOW + 2),
        ]
        deliveries = {}
        for tenant, result_id, application_id, email, at in people:
            store.add_order(
                new_order(result_id, tenant=tenant, application_id=application_id, email=email),
                now=at,
            )
            recorded = store.record_result(tenant, result_id, payload(result_id), now=at)
            assert recorded.delivery_id is not None
            deliveries[result_id] = recorded.delivery_id
        return deliveries

    def test_lists_filter_by_result_application_and_email_through_the_order(
        self, store: Store
    ) -> None:
        self.seed_people(store)
        store.record_result("acme", "r-1", payload("r-1", 12), now=NOW + 3)

        def orders(
            *,
            tenant: str | None = None,
            result_id: str | None = None,
            application_id: str | None = None,
            email: str | None = None,
        ) -> list[tuple[str, str]]:
            found = store.list_orders(
                tenant=tenant, result_id=result_id, application_id=application_id, email=email
            )
            return [(o.tenant, o.result_id) for o in found]

        # E-mail matches trimmed and whatever the case of its ASCII letters.
        assert orders(email=" ADA.lovelace@example.COM") == [("globex", "r-3"), ("acme", "r-1")]
        assert orders(email="ada.lovelace@example.com", tenant="acme") == [("acme", "r-1")]
        assert orders(application_id="app-1") == [("globex", "r-3"), ("acme", "r-1")]
        assert orders(result_id="r-2") == [("acme", "r-2")]
        assert orders(email="nobody@example.com") == []
        assert store.count_orders(email="ADA.LOVELACE@EXAMPLE.COM") == 2
        assert store.count_orders(tenant="acme", state=OrderState.PENDING) == 2

        results = store.list_results(email="ada.lovelace@example.com")
        assert [(r.tenant, r.result_id, r.version) for r in results] == [
            ("acme", "r-1", 2),
            ("globex", "r-3", 1),
            ("acme", "r-1", 1),
        ]
        assert store.count_results(application_id="app-1", tenant="acme") == 2
        assert store.count_results(result_id="r-2") == 1
        deliveries = store.list_deliveries(application_id="app-1", state=DeliveryState.PENDING)
        assert [(d.tenant, d.result_id, d.version) for d in deliveries] == [
            ("acme", "r-1", 2),
            ("globex", "r-3", 1),
        ]
        assert store.count_deliveries(email="grace@example.com") == 1
        assert store.count_deliveries(application_id="app-1") == 3  # v1 superseded, v2, r-3

    def test_a_limit_of_none_lists_everything_and_counts_ignore_limits(self, store: Store) -> None:
        for n in range(7):
            self.queued(store, f"r-{n}", now=NOW + n)
        assert len(store.list_orders(limit=None)) == 7
        assert len(store.list_orders(limit=3)) == 3
        assert len(store.list_results(limit=None)) == 7
        assert len(store.list_deliveries(limit=None)) == 7
        assert len(store.list_deliveries(limit=0)) == 0
        assert (store.count_orders(), store.count_results(), store.count_deliveries()) == (7, 7, 7)
        assert store.count_results(orphans=True) == 0

    def test_get_delivery(self, store: Store) -> None:
        delivery_id = self.queued(store, "r-1")
        assert store.get_delivery(delivery_id) == self.delivery(store, delivery_id)
        assert store.get_delivery(delivery_id + 1000) is None

    def test_every_attempt_is_kept_with_its_outcome_and_error(self, store: Store) -> None:
        delivery_id = self.queued(store, "r-1")
        store.claim_deliveries(owner="a", now=NOW, lease=LEASE, limit=1)
        assert store.delivery_retry(
            delivery_id, owner="a", error="ATS answered 503", due=NOW + 60, now=NOW + 1
        )
        store.claim_deliveries(owner="a", now=NOW + 60, lease=LEASE, limit=1)
        assert store.delivery_dead(delivery_id, owner="a", error="ATS answered 404", now=NOW + 61)
        assert store.requeue_deliveries(ids=[delivery_id], now=NOW + 100) == 1
        store.claim_deliveries(owner="b", now=NOW + 100, lease=LEASE, limit=1)
        assert not store.delivery_done(delivery_id, owner="a", now=NOW + 101)  # lease lost
        assert store.delivery_done(delivery_id, owner="b", now=NOW + 102)
        history = store.list_delivery_attempts("acme", "r-1")
        assert [(a.attempt, a.outcome, a.error, a.at, a.next_attempt_at) for a in history] == [
            (1, AttemptOutcome.RETRY, "ATS answered 503", NOW + 1, NOW + 60),
            (2, AttemptOutcome.DEAD, "ATS answered 404", NOW + 61, None),
            (2, AttemptOutcome.REQUEUED, None, NOW + 100, NOW + 100),
            (1, AttemptOutcome.DELIVERED, None, NOW + 102, None),
        ]
        assert {(a.delivery_id, a.tenant, a.result_id, a.version) for a in history} == {
            (delivery_id, "acme", "r-1", 1)
        }
        assert store.list_delivery_attempts("acme", "r-1", delivery_id=delivery_id + 1) == []
        assert store.list_delivery_attempts("globex", "r-1") == []

    def test_requeue_of_dead_deliveries_can_be_kept_to_one_tenant(self, store: Store) -> None:
        ids = self.seed_people(store)
        store.claim_deliveries(owner="a", now=NOW + 5, lease=LEASE, limit=10)
        for delivery_id in ids.values():
            assert store.delivery_dead(delivery_id, owner="a", error="gone", now=NOW + 6)
        assert store.requeue_deliveries(dead=True, tenant="globex", now=NOW + 7) == 1
        assert self.delivery(store, ids["r-3"]).state is DeliveryState.PENDING
        assert self.delivery(store, ids["r-1"]).state is DeliveryState.DEAD
        assert store.requeue_deliveries(ids=[ids["r-1"]], tenant="globex", now=NOW + 8) == 0
        assert store.requeue_deliveries(ids=[ids["r-1"]], tenant="acme", now=NOW + 8) == 1
        assert self.delivery(store, ids["r-2"]).state is DeliveryState.DEAD

    def test_tenant_activity_counts_every_tenant_and_its_oldest_waiting_work(
        self, store: Store
    ) -> None:
        assert store.tenant_activity() == []
        ids = self.seed_people(store)
        store.add_order(new_order("r-4", tenant="acme"), now=NOW + 3)
        store.record_result("acme", "stray", payload("stray"), now=NOW + 4)
        store.order_sent("acme", "r-1", "ref-1", now=NOW + 5)
        store.order_sent("acme", "r-2", None, now=NOW + 5)
        store.order_failed("globex", "r-3", "Assessio said 400: bad lens", now=NOW + 6)
        store.order_retry("acme", "r-4", "Assessio is down", due=NOW + 60, now=NOW + 7)
        store.claim_deliveries(owner="a", now=NOW + 10, lease=LEASE, limit=10)
        assert store.delivery_retry(ids["r-1"], owner="a", error="503", due=NOW + 90, now=NOW + 11)
        assert store.delivery_dead(ids["r-2"], owner="a", error="404 gone", now=NOW + 12)
        assert store.delivery_done(ids["r-3"], owner="a", now=NOW + 13)
        store.set_cursor("globex", POLL_SUCCEEDED, "x", now=NOW + 14)
        store.set_cursor("globex", "poll", "page-3", now=NOW + 15)
        store.set_cursor("initech", POLL_SUCCEEDED, "x", now=NOW + 16)
        assert store.tenant_activity() == [
            TenantActivity(
                "acme",
                orders_pending=1,
                orders_sent=2,
                results=3,
                orphans=1,
                deliveries_pending=1,
                deliveries_retrying=1,
                deliveries_dead=1,
                oldest_pending_order_at=NOW + 3,
                oldest_pending_delivery_at=NOW,
                last_error="404 gone",
                last_error_at=NOW + 12,
                last_order_error="Assessio is down",
                last_order_error_at=NOW + 7,
            ),
            TenantActivity(
                "globex",
                orders_failed=1,
                results=1,
                last_order_error="Assessio said 400: bad lens",
                last_order_error_at=NOW + 6,
                last_poll_at=NOW + 14,
            ),
            TenantActivity("initech", last_poll_at=NOW + 16),
        ]

    def test_a_first_attempt_in_flight_is_not_retrying(self, store: Store) -> None:
        self.queued(store, "r-1")
        store.claim_deliveries(owner="a", now=NOW, lease=LEASE, limit=1)
        [activity] = store.tenant_activity()
        assert (activity.deliveries_pending, activity.deliveries_retrying) == (1, 0)

    def test_has_schema_after_migrate(self, store: Store) -> None:
        if isinstance(store, SchemaCheck):
            assert store.has_schema()
