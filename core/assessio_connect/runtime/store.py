"""The durable state of the daemon: orders, result versions, the delivery outbox and cursors.

`Store` is the interface every backend implements (SQLite is built in; PostgreSQL is a plugin).
Work is *claimed* with a lease: a claim marks rows `in_flight` for an owner until a deadline,
so a backend can implement it with `SELECT … FOR UPDATE SKIP LOCKED` and several replicas can
share one database. A lease that expires (its owner died) makes the row claimable again.

Every method that writes commits before it returns: when it returns, the data is durable.
Backends raise `StoreUnavailableError` when the database cannot be reached or stays locked.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Literal, Protocol, runtime_checkable

import attrs

from assessio_connect.contract import codec
from assessio_connect.contract.models import AssessmentOrder, Result

__all__ = [
    "POLL_SUCCEEDED",
    "AttemptOutcome",
    "DeliveryAttempt",
    "DeliveryRecord",
    "DeliveryState",
    "InboundRecord",
    "InboundState",
    "NewOrder",
    "OrderRecord",
    "OrderState",
    "PollLocks",
    "ProcessLock",
    "RecordedResult",
    "ResultOutcome",
    "ResultRecord",
    "SchemaCheck",
    "StateEntry",
    "Store",
    "TenantActivity",
    "WorkKind",
    "WorkNotifications",
    "email_key",
    "payload_digest",
    "result_digest",
]


class OrderState(str, enum.Enum):
    """Where an order stands with Assessio."""

    PENDING = "pending"
    """Recorded, not yet accepted by Assessio (new, or waiting for a retry)."""
    SENT = "sent"
    """Assessio accepted it (or answered 409: the candidate was already ordered)."""
    LINK_UNKNOWN = "link_unknown"
    """A link order Assessio answered 409 without the daemon ever recording its assessment
    link (a crash after Assessio accepted it): ordered, but the link must be found by hand."""
    FAILED = "failed"
    """Assessio rejected it for good (e.g. 400); `last_error` says why."""


class DeliveryState(str, enum.Enum):
    """Where a result's push-back to the ATS stands."""

    PENDING = "pending"
    """Due at `next_attempt_at`."""
    IN_FLIGHT = "in_flight"
    """Claimed by a worker until `lease_expires_at`."""
    DELIVERED = "delivered"
    DEAD = "dead"
    """Dead-lettered: a permanent failure, or retries ran past the horizon."""
    SUPERSEDED = "superseded"
    """A newer version of the same result replaced it before it was delivered."""


class ResultOutcome(str, enum.Enum):
    """What `Store.record_result` did with a result webhook."""

    NEW = "new"
    """First version of a known order's result; a delivery was queued."""
    UPDATED = "updated"
    """A payload never seen before for a known result: a new version and a new delivery."""
    DUPLICATE = "duplicate"
    """A payload already stored for this result (any version): nothing to do."""
    ORPHAN = "orphan"
    """No order has this `resultId`: kept for reconciliation, nothing delivered."""


class AttemptOutcome(str, enum.Enum):
    """How one attempt at a delivery ended, as kept in its history."""

    DELIVERED = "delivered"
    RETRY = "retry"
    """It failed and was rescheduled (`next_attempt_at` says when)."""
    DEAD = "dead"
    REQUEUED = "requeued"
    """Not an attempt: an operator made the delivery due again."""


WorkKind = Literal["orders", "deliveries"]

POLL_SUCCEEDED = "poll.succeeded"
"""The cursor name under which a poller records (as its value and `updated_at`) the time of
its tenant's last successful poll."""

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def email_key(email: str) -> str:
    """How an e-mail address is stored and searched: trimmed, ASCII letters lowercased (what
    SQLite's and PostgreSQL's schema migrations compute for rows stored before the column)."""
    return email.strip().translate(_ASCII_LOWER)


def payload_digest(payload: bytes) -> str:
    """Identity of a result payload: SHA-256 of its canonical JSON, keys sorted at every depth
    and one spacing, so a payload differing only in key order or whitespace is the same one."""
    return result_digest(codec.loads(payload, Result, what="result"))


def result_digest(result: Result) -> str:
    """`payload_digest` of a payload already parsed into `result` (the receiver has it)."""
    data = codec.unstructure(result)
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@attrs.frozen
class NewOrder:
    """An order about to be recorded, before it is sent to Assessio."""

    tenant: str
    application_id: str
    """The ATS's reference for this candidate in this job; unique per tenant."""
    job_id: str
    candidate_id: str
    order: AssessmentOrder
    metadata: Mapping[str, str] = attrs.field(factory=dict)
    """Connector-specific ATS references needed to push the result back (e.g. a callback URL)."""


@attrs.frozen
class OrderRecord:
    """An order as stored."""

    tenant: str
    application_id: str
    result_id: str
    job_id: str
    candidate_id: str
    order: AssessmentOrder
    metadata: Mapping[str, str]
    state: OrderState
    reference: str | None
    """Assessio's answer: the order reference, or the assessment link."""
    attempts: int
    next_attempt_at: float
    last_error: str | None
    created_at: float
    updated_at: float


@attrs.frozen
class ResultRecord:
    """One version of a result as received (versions count from 1)."""

    tenant: str
    result_id: str
    version: int
    payload: bytes
    digest: str
    received_at: float
    orphan: bool

    @property
    def result(self) -> Result:
        """The parsed payload (it was validated before it was stored)."""
        return codec.loads(self.payload, Result, what="result")


@attrs.frozen
class DeliveryRecord:
    """One push-back of one result version to the ATS."""

    id: int
    tenant: str
    result_id: str
    version: int
    state: DeliveryState
    attempts: int
    """Attempts made so far (incremented by each claim)."""
    next_attempt_at: float
    last_error: str | None
    created_at: float
    updated_at: float
    lease_owner: str | None
    lease_expires_at: float | None


@attrs.frozen
class StateEntry:
    """One value of a connector's durable key-value space, with its version (1 when created,
    one more on every write), so that writers can compare-and-set."""

    value: str = attrs.field(repr=False)
    version: int
    updated_at: float


@attrs.frozen
class DeliveryAttempt:
    """One line of a delivery's history: an attempt's outcome, or an operator's requeue."""

    delivery_id: int
    tenant: str
    result_id: str
    version: int
    attempt: int
    """The delivery's attempt count at that moment (1 for the first push)."""
    outcome: AttemptOutcome
    error: str | None
    at: float
    next_attempt_at: float | None
    """When a `RETRY` is due again."""


@attrs.frozen
class TenantActivity:
    """What the store knows about one tenant, in one cheap aggregate, for operators' views."""

    tenant: str
    orders_pending: int = 0
    orders_sent: int = 0
    orders_link_unknown: int = 0
    orders_failed: int = 0
    results: int = 0
    """Result versions received, orphans included."""
    orphans: int = 0
    deliveries_pending: int = 0
    """Unfinished deliveries (pending or in flight), retrying ones included."""
    deliveries_retrying: int = 0
    """Unfinished deliveries that failed at least once."""
    deliveries_dead: int = 0
    oldest_pending_order_at: float | None = None
    oldest_pending_delivery_at: float | None = None
    last_error: str | None = None
    """The error of the unfinished or dead delivery that failed last (as stored: scrubbed)."""
    last_error_at: float | None = None
    last_order_error: str | None = None
    """The error of the pending, failed or link-unknown order that changed last."""
    last_order_error_at: float | None = None
    last_poll_at: float | None = None
    """When the tenant's ATS was last polled successfully (pull style)."""


class InboundState(str, enum.Enum):
    """Where an event a push connector accepted from its ATS stands (the inbound queue)."""

    PENDING = "pending"
    """Due at `next_attempt_at` (new, or waiting for a retry)."""
    IN_FLIGHT = "in_flight"
    """Claimed by a worker until `lease_expires_at`."""
    DONE = "done"
    """The connector's `handle_event` returned."""
    DEAD = "dead"
    """Dead-lettered: a permanent failure, or retries ran past the horizon."""


@attrs.frozen
class InboundRecord:
    """One event of the inbound queue, as stored: accepted once per (tenant, key)."""

    id: int
    tenant: str
    key: str
    """The ATS's id of the event (e.g. Greenhouse-Event-ID): a repeat is stored once."""
    payload: bytes = attrs.field(repr=False)
    headers: Mapping[str, str] = attrs.field(repr=False)
    """The request headers the connector chose to keep with the payload."""
    state: InboundState
    attempts: int
    """Attempts made so far (incremented by each claim)."""
    next_attempt_at: float
    last_error: str | None
    created_at: float
    """When the event was accepted; the retry horizon counts from here."""
    updated_at: float
    lease_owner: str | None
    lease_expires_at: float | None


@attrs.frozen
class RecordedResult:
    """What `Store.record_result` did, and the delivery it queued, if any."""

    outcome: ResultOutcome
    version: int
    delivery_id: int | None


class Store(Protocol):
    """Durable state shared by the receiver, the order sender, the pollers and the workers."""

    url: str
    """Where the data lives, with any password removed (safe to log)."""

    exclusive: bool
    """True when only one daemon process can use the store at a time (SQLite); such a store
    is also a `ProcessLock`, which the daemon holds for its lifetime."""

    def migrate(self) -> None:
        """Create or upgrade the schema; safe to call on every start."""

    def ping(self) -> None:
        """Raise `StoreUnavailableError` unless the store answers a trivial query."""

    def close(self) -> None:
        """Release connections; the store is unusable afterwards."""

    # Orders

    def add_order(self, new: NewOrder, *, now: float) -> tuple[OrderRecord, bool]:
        """Record an order as pending, due now; if (tenant, application_id) is known, return the
        stored one unchanged. The bool says whether it was created."""

    def get_order(self, tenant: str, result_id: str) -> OrderRecord | None:
        """The order that owns `result_id` in `tenant`."""

    def find_order(self, tenant: str, application_id: str) -> OrderRecord | None:
        """The order for an ATS application."""

    def claim_orders(
        self,
        *,
        owner: str,
        now: float,
        lease: float,
        limit: int,
        tenants: Collection[str] | None = None,
    ) -> Sequence[OrderRecord]:
        """Claim pending orders that are due (or whose lease expired) for `lease` seconds; only
        `tenants`' when given (a daemon's configured ones: others' wait untouched).

        A claim increments `attempts` and pushes `next_attempt_at` to `now + lease`, so an order
        whose sender died is retried once that passes."""

    def order_sent(self, tenant: str, result_id: str, reference: str | None, *, now: float) -> None:
        """Mark an order accepted by Assessio; a None `reference` keeps any stored one."""

    def order_retry(
        self, tenant: str, result_id: str, error: str, *, due: float, now: float
    ) -> None:
        """Keep an order pending, due again at `due`, remembering the error."""

    def order_failed(self, tenant: str, result_id: str, error: str, *, now: float) -> None:
        """Mark an order rejected for good."""

    def order_link_unknown(self, tenant: str, result_id: str, note: str, *, now: float) -> None:
        """Mark a link order ordered but without its assessment link (`LINK_UNKNOWN`), with
        `note` saying why in `last_error`; if a reference was stored meanwhile (another sender
        recorded the link), the order is `SENT` instead."""

    def list_orders(
        self,
        *,
        tenant: str | None = None,
        state: OrderState | None = None,
        limit: int | None = 100,
        result_id: str | None = None,
        application_id: str | None = None,
        email: str | None = None,
    ) -> Sequence[OrderRecord]:
        """Most recent first, at most `limit` (None: all); `email` matches as `email_key`."""

    def count_orders(
        self,
        *,
        tenant: str | None = None,
        state: OrderState | None = None,
        result_id: str | None = None,
        application_id: str | None = None,
        email: str | None = None,
    ) -> int:
        """How many orders `list_orders` would list without a limit."""

    # Results

    def record_result(
        self, tenant: str, result_id: str, payload: bytes, *, now: float
    ) -> RecordedResult:
        """Store a validated result webhook and queue its delivery, in one transaction.

        A payload whose digest is already stored for (tenant, result_id) is a DUPLICATE; a new
        payload for a known order is stored as the next version with a delivery due now, and
        pending deliveries of older versions become SUPERSEDED; no order means ORPHAN."""

    def get_result(
        self, tenant: str, result_id: str, version: int | None = None
    ) -> ResultRecord | None:
        """One version, or the latest when `version` is None."""

    def list_results(
        self,
        *,
        tenant: str | None = None,
        orphans: bool | None = None,
        limit: int | None = 100,
        result_id: str | None = None,
        application_id: str | None = None,
        email: str | None = None,
    ) -> Sequence[ResultRecord]:
        """Most recent first; `orphans=True` lists only orphans, False only matched results;
        `application_id` and `email` match through the result's order."""

    def count_results(
        self,
        *,
        tenant: str | None = None,
        orphans: bool | None = None,
        result_id: str | None = None,
        application_id: str | None = None,
        email: str | None = None,
    ) -> int:
        """How many result versions `list_results` would list without a limit."""

    # Deliveries (the outbox)

    def claim_deliveries(
        self,
        *,
        owner: str,
        now: float,
        lease: float,
        limit: int,
        tenants: Collection[str] | None = None,
    ) -> Sequence[DeliveryRecord]:
        """Claim due pending deliveries, and in-flight ones whose lease expired, oldest due first;
        only `tenants`' when given.

        Claimed rows become IN_FLIGHT for `owner` until `now + lease`, with `attempts` + 1."""

    def delivery_done(self, delivery_id: int, *, owner: str, now: float) -> bool:
        """Mark delivered; False when `owner` no longer holds the lease (nothing changed)."""

    def delivery_retry(
        self, delivery_id: int, *, owner: str, error: str, due: float, now: float
    ) -> bool:
        """Back to PENDING, due at `due`; False when the lease was lost."""

    def delivery_dead(self, delivery_id: int, *, owner: str, error: str, now: float) -> bool:
        """Dead-letter with the reason; False when the lease was lost."""

    def renew_delivery_leases(
        self, ids: Sequence[int], *, owner: str, now: float, lease: float
    ) -> Sequence[int]:
        """Extend to `now + lease` the leases `owner` still holds, unexpired, on the deliveries
        `ids`; returns the ids renewed (any other was lost: it must not be pushed)."""

    def release(self, owner: str | None, *, now: float) -> int:
        """Give back the leases of `owner` (every lease when None): orders and deliveries become
        due at once. Returns how many deliveries were released."""

    def release_expired(self, *, now: float) -> int:
        """Give back every lease that expired by `now` (its holder died): orders and deliveries
        become due at once, unexpired leases are left alone. Returns how many deliveries."""

    def requeue_deliveries(
        self,
        *,
        ids: Sequence[int] = (),
        dead: bool = False,
        tenant: str | None = None,
        now: float,
    ) -> int:
        """Operator retry: make the given deliveries (and every dead one when `dead`, of `tenant`
        only when given) pending and due now, attempts reset and the retry horizon counted from
        now (`created_at = now`), noted as `REQUEUED` in their history. Delivered and
        superseded deliveries are left alone."""

    def list_deliveries(
        self,
        *,
        tenant: str | None = None,
        state: DeliveryState | None = None,
        limit: int | None = 100,
        result_id: str | None = None,
        application_id: str | None = None,
        email: str | None = None,
    ) -> Sequence[DeliveryRecord]:
        """Most recent first; `application_id` and `email` match through the order."""

    def count_deliveries(
        self,
        *,
        tenant: str | None = None,
        state: DeliveryState | None = None,
        result_id: str | None = None,
        application_id: str | None = None,
        email: str | None = None,
    ) -> int:
        """How many deliveries `list_deliveries` would list without a limit."""

    def get_delivery(self, delivery_id: int) -> DeliveryRecord | None:
        """One delivery by id."""

    def list_delivery_attempts(
        self, tenant: str, result_id: str, *, delivery_id: int | None = None
    ) -> Sequence[DeliveryAttempt]:
        """The history of a result's deliveries (of one delivery with `delivery_id`), oldest
        first: each attempt's outcome and error, written with the outcome it records."""

    # Operators' views

    def tenant_activity(self) -> Sequence[TenantActivity]:
        """Counts, oldest waiting work, last error and last poll of every tenant that has any
        row, by tenant name; computed from indexes, cheap with many tenants and rows."""

    def next_due(
        self, kind: WorkKind | None = None, *, tenants: Collection[str] | None = None
    ) -> float | None:
        """The earliest `next_attempt_at` (or lease expiry) of any unfinished order or delivery;
        only orders or only deliveries with `kind`, so one loop does not spin on the other's,
        and only `tenants`' when given, so a daemon does not spin on work it will not claim."""

    # Connector state: a durable key-value space per (tenant, namespace)

    def get_state(self, tenant: str, namespace: str, key: str) -> StateEntry | None:
        """The stored value of `key`, or None."""

    def put_state(
        self,
        tenant: str,
        namespace: str,
        key: str,
        value: str,
        *,
        expect_version: int | None = None,
        now: float,
    ) -> StateEntry | None:
        """Write `value`; unconditionally when `expect_version` is None, else only when the
        stored version equals it (0: only when the key does not exist yet). Returns the new
        entry, or None when the condition failed (another writer got there first)."""

    def delete_state(self, tenant: str, namespace: str, key: str) -> None:
        """Forget `key` (nothing happens when it does not exist)."""

    # Cursors (pull-style connectors)

    def get_cursor(self, tenant: str, name: str) -> str | None:
        """A poller's saved position."""

    def set_cursor(self, tenant: str, name: str, value: str, *, now: float) -> None:
        """Save a poller's position."""

    # Inbound events (push connectors' queue)

    def enqueue_event(
        self,
        tenant: str,
        key: str,
        payload: bytes,
        headers: Mapping[str, str],
        *,
        now: float,
    ) -> tuple[InboundRecord, bool]:
        """Record an event pending and due now, committed before returning; if (tenant, key)
        is known, return the stored one unchanged. The bool says whether it was created."""

    def claim_events(
        self,
        *,
        owner: str,
        now: float,
        lease: float,
        limit: int,
        tenants: Collection[str] | None = None,
    ) -> Sequence[InboundRecord]:
        """Claim due pending events, and in-flight ones whose lease expired, oldest due first;
        only `tenants`' when given. Claimed rows become IN_FLIGHT for `owner` until
        `now + lease`, with `attempts` + 1."""

    def event_done(self, event_id: int, *, owner: str, now: float) -> bool:
        """Mark handled; False when `owner` no longer holds the lease (nothing changed)."""

    def event_retry(self, event_id: int, *, owner: str, error: str, due: float, now: float) -> bool:
        """Back to PENDING, due at `due`, remembering the error; False when the lease was lost."""

    def event_dead(self, event_id: int, *, owner: str, error: str, now: float) -> bool:
        """Dead-letter with the reason; False when the lease was lost."""

    def renew_event_leases(
        self, ids: Sequence[int], *, owner: str, now: float, lease: float
    ) -> Sequence[int]:
        """Extend to `now + lease` the unexpired leases `owner` holds on the events `ids`;
        returns the ids renewed."""

    def release_events(self, owner: str | None, *, now: float) -> int:
        """Give back the events leased by `owner` (every one when None), due at once;
        returns how many."""

    def requeue_events(
        self,
        *,
        ids: Sequence[int] = (),
        dead: bool = False,
        tenant: str | None = None,
        now: float,
    ) -> int:
        """Operator retry: make the given events (and every dead one when `dead`, of `tenant`
        only when given) pending and due now, attempts reset and the retry horizon counted
        from now. Done events are left alone. Returns how many."""

    def get_event(self, event_id: int) -> InboundRecord | None:
        """One event by id."""

    def list_events(
        self,
        *,
        tenant: str | None = None,
        state: InboundState | None = None,
        limit: int | None = 100,
    ) -> Sequence[InboundRecord]:
        """Most recently accepted first, at most `limit` (None: all)."""

    def count_events(self, *, tenant: str | None = None, state: InboundState | None = None) -> int:
        """How many events `list_events` would list without a limit."""

    def event_counts(self) -> Mapping[tuple[str, InboundState], int]:
        """How many events each tenant has in each state (states without any are left out)."""

    def next_event_due(self, *, tenants: Collection[str] | None = None) -> float | None:
        """The earliest `next_attempt_at` (or lease expiry) of any unfinished event; only
        `tenants`' when given."""


@runtime_checkable
class WorkNotifications(Protocol):
    """Optional: a store shared by several processes tells each one about new work at once
    (e.g. PostgreSQL's LISTEN/NOTIFY), so idle workers need not poll."""

    def subscribe(
        self,
        *,
        deliveries: Callable[[], None],
        orders: Callable[[], None],
        events: Callable[[], None] | None = None,
    ) -> None:
        """Call `deliveries()` when a delivery becomes due, `orders()` when an order is
        recorded and `events()` (when given) when an inbound event is queued or due again,
        from any process using the store, until `close()`."""


@runtime_checkable
class SchemaCheck(Protocol):
    """Optional: tell whether the store exists, without creating it (read-only commands)."""

    def has_schema(self) -> bool:
        """True when the database exists and holds this project's schema; creates nothing."""


@runtime_checkable
class ProcessLock(Protocol):
    """Optional: a store only one daemon process may use at a time (SQLite) is locked by the
    daemon for its lifetime; operator commands that only read do not take the lock."""

    def lock_for_daemon(self) -> None:
        """Hold the store for this process until `close()`; raise `StoreError` naming the
        holder's process id when another process holds it."""


@runtime_checkable
class PollLocks(Protocol):
    """Optional: a store shared by several replicas lets only one of them poll a tenant's ATS
    at a time; a replica that dies loses its locks."""

    def try_poll_lock(self, tenant: str, owner: str) -> bool:
        """Take (or keep) the poll lock of `tenant` for `owner`; False if another holds it."""

    def release_poll_lock(self, tenant: str, owner: str) -> None:
        """Give the lock back."""
