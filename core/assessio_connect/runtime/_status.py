"""What operators see, computed once for the `/status` page and the `status` and `trace`
commands: a health summary per tenant, one candidate's way through the daemon, one delivery.

Everything comes from the store (so it is the same on every replica and from the CLI) and
every stored error is scrubbed again before it is shown.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
import cattrs

from .connector import Connector
from .store import (
    AttemptOutcome,
    DeliveryAttempt,
    DeliveryRecord,
    DeliveryState,
    OrderRecord,
    OrderState,
    ResultRecord,
    Store,
    TenantActivity,
)

__all__ = [
    "STALE_PENDING",
    "CandidateTrace",
    "DeliveryDetail",
    "Health",
    "Overview",
    "TenantInfo",
    "TenantSummary",
    "TraceEvent",
    "delivery_detail",
    "find_traces",
    "overview",
    "running_tenant_infos",
    "tenant_infos",
    "to_json",
]

STALE_PENDING = 15 * 60.0
"""A pending order or delivery older than this (seconds) makes its tenant `DELAYED`."""
STALE_POLL_FLOOR = 5 * 60.0
"""A pull tenant not polled for 3 poll intervals, and at least this long, is `DELAYED`."""
TRACE_MATCHES = 20
"""At most this many candidates are traced for one search."""

Scrub = Callable[[str], str]


class Health(str, enum.Enum):
    """How a tenant is doing, worst first."""

    FAILING = "failing"
    """Something needs an operator: dead deliveries, orders Assessio refused or lost links."""
    DELAYED = "delayed"
    """Work is retrying or waiting too long, polling has stopped, or results came for no
    order (orphans to reconcile); most of it heals itself."""
    OK = "ok"


_HEALTH_ORDER = {Health.FAILING: 0, Health.DELAYED: 1, Health.OK: 2}


@attrs.frozen
class TenantInfo:
    """What the configuration says about a tenant; the store knows the rest."""

    name: str
    ats_kind: str
    style: str
    """"push", "pull" or "push+pull"."""
    poll_interval: float | None = None
    """Seconds between polls (pull style)."""


def _interval(ats: Any, cls: type[Connector]) -> float:
    return float(getattr(ats, "poll_interval", 0) or 0) or cls.poll_interval


def _info(name: str, kind: str, push: bool, pull: bool, interval: float | None) -> TenantInfo:
    style = "+".join(s for s, on in (("push", push), ("pull", pull)) if on) or "-"
    return TenantInfo(name, kind, style, interval if pull else None)


def tenant_infos(
    tenants: Mapping[str, Any], connector: Callable[[str], type[Connector] | None]
) -> list[TenantInfo]:
    """`TenantInfo` of each configured tenant (`TenantConfig`s by name), without starting a
    connector: its `is_push`/`is_pull` are read on a bare instance holding only its config
    (what they depend on), else from which methods its class overrides."""
    infos = []
    for name, tenant in tenants.items():
        cls = connector(tenant.ats_kind)
        if cls is None:
            infos.append(TenantInfo(name, tenant.ats_kind, "-"))
            continue
        probe = cls.__new__(cls)
        probe.config = tenant.ats
        try:
            push, pull = bool(probe.is_push), bool(probe.is_pull)
        except Exception:  # a property that needs a started connector
            push = cls.wsgi_app is not Connector.wsgi_app
            pull = cls.poll is not Connector.poll
        infos.append(_info(name, tenant.ats_kind, push, pull, _interval(tenant.ats, cls)))
    return infos


def running_tenant_infos(runtimes: Mapping[str, Any]) -> list[TenantInfo]:
    """`TenantInfo` of each tenant a daemon runs (`TenantRuntime`s by name), from its live
    connector."""
    infos = []
    for name, runtime in runtimes.items():
        connector = runtime.connector
        ats = runtime.config.ats
        interval = _interval(ats, type(connector))
        kind = runtime.config.ats_kind
        infos.append(_info(name, kind, connector.is_push, connector.is_pull, interval))
    return infos


@attrs.frozen
class TenantSummary:
    """One tenant's row of the overview."""

    tenant: str
    configured: bool
    """False for a tenant the store still holds rows of but the configuration no longer has."""
    ats_kind: str | None
    style: str | None
    health: Health
    problems: tuple[str, ...]
    """Why the health is not OK, one short sentence each."""
    last_poll_at: float | None
    orders_pending: int
    orders_sent: int
    orders_failed: int
    orders_link_unknown: int
    results: int
    orphans: int
    deliveries_pending: int
    deliveries_retrying: int
    deliveries_dead: int
    oldest_pending_at: float | None
    """When the oldest order or delivery still waiting was queued."""
    last_error: str | None
    """The latest error of an unfinished or dead delivery, scrubbed."""
    last_error_at: float | None
    last_order_error: str | None
    last_order_error_at: float | None


@attrs.frozen
class Overview:
    """Every tenant, those with problems first."""

    generated_at: float
    tenants: tuple[TenantSummary, ...]

    def count(self, health: Health) -> int:
        """How many tenants are in `health`."""
        return sum(1 for tenant in self.tenants if tenant.health is health)


def _oldest(*times: float | None) -> float | None:
    known = [t for t in times if t is not None]
    return min(known) if known else None


def _age(seconds: float) -> str:
    for unit, size in (("d", 86_400.0), ("h", 3_600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{math.floor(seconds / size)} {unit}"
    return f"{max(0, math.floor(seconds))} s"


def _plural(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def _judge(
    activity: TenantActivity, info: TenantInfo | None, now: float
) -> tuple[Health, tuple[str, ...]]:
    failing: list[str] = []
    delayed: list[str] = []
    if activity.deliveries_dead:
        failing.append(f"{_plural(activity.deliveries_dead, 'dead delivery', 'dead deliveries')}")
    if activity.orders_failed:
        failing.append(f"{_plural(activity.orders_failed, 'order')} refused by Assessio")
    if activity.orders_link_unknown:
        failing.append(f"{_plural(activity.orders_link_unknown, 'order')} without a link")
    if activity.deliveries_retrying:
        delayed.append(f"{activity.deliveries_retrying} retrying")
    oldest = _oldest(activity.oldest_pending_order_at, activity.oldest_pending_delivery_at)
    if oldest is not None and now - oldest > STALE_PENDING:
        delayed.append(f"oldest pending {_age(now - oldest)} old")
    if activity.orders_pending and activity.last_order_error:
        delayed.append("orders waiting for Assessio")
    if activity.orphans:
        delayed.append(f"{_plural(activity.orphans, 'orphan result')} to reconcile")
    if info is None:
        delayed.append("not in the configuration")
    elif info.poll_interval is not None:
        limit = max(3 * info.poll_interval, STALE_POLL_FLOOR)
        if activity.last_poll_at is None:
            delayed.append("never polled successfully")
        elif now - activity.last_poll_at > limit:
            delayed.append(f"last poll {_age(now - activity.last_poll_at)} ago")
    if failing:
        return Health.FAILING, (*failing, *delayed)
    if delayed:
        return Health.DELAYED, tuple(delayed)
    return Health.OK, ()


def _summary(
    activity: TenantActivity, info: TenantInfo | None, now: float, scrub: Scrub
) -> TenantSummary:
    health, problems = _judge(activity, info, now)
    return TenantSummary(
        tenant=activity.tenant,
        configured=info is not None,
        ats_kind=None if info is None else info.ats_kind,
        style=None if info is None else info.style,
        health=health,
        problems=problems,
        last_poll_at=activity.last_poll_at,
        orders_pending=activity.orders_pending,
        orders_sent=activity.orders_sent,
        orders_failed=activity.orders_failed,
        orders_link_unknown=activity.orders_link_unknown,
        results=activity.results,
        orphans=activity.orphans,
        deliveries_pending=activity.deliveries_pending,
        deliveries_retrying=activity.deliveries_retrying,
        deliveries_dead=activity.deliveries_dead,
        oldest_pending_at=_oldest(
            activity.oldest_pending_order_at, activity.oldest_pending_delivery_at
        ),
        last_error=None if activity.last_error is None else scrub(activity.last_error),
        last_error_at=activity.last_error_at,
        last_order_error=(
            None if activity.last_order_error is None else scrub(activity.last_order_error)
        ),
        last_order_error_at=activity.last_order_error_at,
    )


def overview(
    store: Store,
    tenants: Iterable[TenantInfo],
    *,
    now: float,
    scrub: Scrub,
    only: str | None = None,
) -> Overview:
    """Every configured tenant and every tenant the store holds rows of (only `only` when
    given), failing first, then delayed, then by name; one aggregate query in all."""
    infos = {info.name: info for info in tenants}
    activity = {a.tenant: a for a in store.tenant_activity()}
    names = sorted(set(infos) | set(activity))
    if only is not None:
        names = [name for name in names if name == only]
    rows = [
        _summary(activity.get(name) or TenantActivity(name), infos.get(name), now, scrub)
        for name in names
    ]
    rows.sort(key=lambda row: (_HEALTH_ORDER[row.health], row.tenant))
    return Overview(generated_at=now, tenants=tuple(rows))


# One candidate's trace


@attrs.frozen
class TraceEvent:
    """One step of a candidate's way through the daemon."""

    at: float
    kind: str
    """e.g. `order.created`, `result.received`, `delivery.retry`."""
    summary: str
    error: str | None = None
    """Scrubbed."""
    version: int | None = None
    delivery_id: int | None = None


@attrs.frozen
class DeliveryView:
    """A delivery as it stands now, its error scrubbed."""

    id: int
    version: int
    state: DeliveryState
    attempts: int
    next_attempt_at: float | None
    """When an unfinished delivery is due (or its lease ends)."""
    last_error: str | None
    created_at: float
    updated_at: float


@attrs.frozen
class CandidateTrace:
    """One candidate in one tenant, end to end, in time order."""

    tenant: str
    result_id: str
    application_id: str | None
    """None for an orphan result (no order has its result id)."""
    candidate_id: str | None
    job_id: str | None
    email: str | None
    order_state: OrderState | None
    link: str | None
    """The assessment link of a link order."""
    reference: str | None
    """Assessio's order reference otherwise."""
    events: tuple[TraceEvent, ...]
    deliveries: tuple[DeliveryView, ...]


def _delivery_view(delivery: DeliveryRecord, scrub: Scrub) -> DeliveryView:
    unfinished = delivery.state in (DeliveryState.PENDING, DeliveryState.IN_FLIGHT)
    return DeliveryView(
        id=delivery.id,
        version=delivery.version,
        state=delivery.state,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at if unfinished else None,
        last_error=None if delivery.last_error is None else scrub(delivery.last_error),
        created_at=delivery.created_at,
        updated_at=delivery.updated_at,
    )


def _order_events(order: OrderRecord, scrub: Scrub) -> list[TraceEvent]:
    draft = order.order
    events = [
        TraceEvent(
            order.created_at,
            "order.created",
            f"invited to {draft.recruitment.title!r} (job {order.job_id}): order recorded "
            f"with lens {draft.lens_id}, locale {draft.locale}",
        )
    ]
    error = None if order.last_error is None else scrub(order.last_error)
    state = order.state
    if state is OrderState.SENT:
        if _is_link(order.reference):
            answer = f"assessment link {order.reference}"
        elif order.reference:
            answer = f"reference {order.reference}"
        else:
            answer = "it had been ordered already"
        events.append(
            TraceEvent(order.updated_at, "order.sent", f"Assessio took the order ({answer})")
        )
    elif state is OrderState.PENDING and (order.attempts or error):
        events.append(
            TraceEvent(
                order.updated_at,
                "order.retrying",
                f"not sent yet after {_plural(order.attempts, 'attempt')}; the daemon tries again",
                error=error,
            )
        )
    elif state is OrderState.FAILED:
        events.append(
            TraceEvent(order.updated_at, "order.failed", "Assessio refused the order", error)
        )
    elif state is OrderState.LINK_UNKNOWN:
        events.append(
            TraceEvent(
                order.updated_at,
                "order.link_unknown",
                "ordered, but the assessment link was never recorded",
                error,
            )
        )
    return events


def _is_link(reference: str | None) -> bool:
    return reference is not None and reference.startswith(("http://", "https://"))


def _result_event(result: ResultRecord) -> TraceEvent:
    score = result.result.score
    what = "no score" if score is None else f"score {score}"
    if result.orphan:
        summary = f"result received ({what}) but no order has this result id: kept as orphan"
        return TraceEvent(result.received_at, "result.orphan", summary, version=result.version)
    noun = "result received" if result.version == 1 else "changed result received"
    return TraceEvent(
        result.received_at,
        "result.received",
        f"{noun}: version {result.version}, {what}",
        version=result.version,
    )


def _attempt_event(attempt: DeliveryAttempt, scrub: Scrub) -> TraceEvent:
    error = None if attempt.error is None else scrub(attempt.error)
    version = f"version {attempt.version}"
    if attempt.outcome is AttemptOutcome.DELIVERED:
        summary = f"{version} written into the ATS (attempt {attempt.attempt})"
    elif attempt.outcome is AttemptOutcome.RETRY:
        summary = f"{version}: attempt {attempt.attempt} failed, tried again later"
    elif attempt.outcome is AttemptOutcome.DEAD:
        summary = f"{version}: attempt {attempt.attempt} failed for good, dead-lettered"
    else:
        summary = (
            f"{version} queued again by an operator after {_plural(attempt.attempt, 'attempt')}"
        )
    return TraceEvent(
        attempt.at,
        f"delivery.{attempt.outcome.value}",
        summary,
        error=error,
        version=attempt.version,
        delivery_id=attempt.delivery_id,
    )


def _delivery_events(
    deliveries: Sequence[DeliveryRecord],
    attempts: Sequence[DeliveryAttempt],
    received: Mapping[int, float],
    scrub: Scrub,
) -> list[TraceEvent]:
    """Each delivery's queueing (with its result version, which `received` dates: an
    operator's requeue moves `created_at`), supersession, and every attempt."""
    events: list[TraceEvent] = []
    recorded = {attempt.delivery_id for attempt in attempts}
    for delivery in deliveries:
        where = f"version {delivery.version}"
        events.append(
            TraceEvent(
                min(delivery.created_at, received.get(delivery.version, delivery.created_at)),
                "delivery.queued",
                f"{where} queued for the ATS",
                version=delivery.version,
                delivery_id=delivery.id,
            )
        )
        if delivery.state is DeliveryState.SUPERSEDED:
            events.append(
                TraceEvent(
                    delivery.updated_at,
                    "delivery.superseded",
                    f"{where} replaced by a newer version before it was written",
                    version=delivery.version,
                    delivery_id=delivery.id,
                )
            )
        elif delivery.id not in recorded and delivery.last_error:
            # Stored before attempts were kept: its last error is all there is.
            events.append(
                TraceEvent(
                    delivery.updated_at,
                    f"delivery.{delivery.state.value}",
                    f"{where} after {_plural(delivery.attempts, 'attempt')}",
                    error=scrub(delivery.last_error),
                    version=delivery.version,
                    delivery_id=delivery.id,
                )
            )
    events.extend(_attempt_event(attempt, scrub) for attempt in attempts)
    return events


def _trace(
    store: Store,
    tenant: str,
    result_id: str,
    order: OrderRecord | None,
    scrub: Scrub,
) -> CandidateTrace:
    results = store.list_results(tenant=tenant, result_id=result_id, limit=None)
    deliveries = store.list_deliveries(tenant=tenant, result_id=result_id, limit=None)
    attempts = store.list_delivery_attempts(tenant, result_id)
    events = [] if order is None else _order_events(order, scrub)
    events.extend(_result_event(result) for result in results)
    received = {result.version: result.received_at for result in results}
    events.extend(_delivery_events(deliveries, attempts, received, scrub))
    # Stable: at one instant, the order of the steps above (order, result, delivery) holds.
    events.sort(key=lambda event: event.at)
    reference = None if order is None else order.reference
    return CandidateTrace(
        tenant=tenant,
        result_id=result_id,
        application_id=None if order is None else order.application_id,
        candidate_id=None if order is None else order.candidate_id,
        job_id=None if order is None else order.job_id,
        email=None if order is None else order.order.candidate_details.email,
        order_state=None if order is None else order.state,
        link=reference if _is_link(reference) else None,
        reference=None if _is_link(reference) else reference,
        events=tuple(events),
        deliveries=tuple(_delivery_view(d, scrub) for d in sorted(deliveries, key=lambda d: d.id)),
    )


def find_traces(
    store: Store,
    query: str,
    *,
    scrub: Scrub,
    tenant: str | None = None,
    limit: int = TRACE_MATCHES,
) -> list[CandidateTrace]:
    """Every candidate whose application id, result id or e-mail is `query` (in `tenant`
    when given), and orphan results with that result id; at most `limit`, newest first."""
    query = query.strip()
    if not query:
        return []
    found: dict[tuple[str, str], OrderRecord | None] = {}
    matches = (
        store.list_orders(tenant=tenant, application_id=query, limit=limit),
        store.list_orders(tenant=tenant, result_id=query, limit=limit),
        store.list_orders(tenant=tenant, email=query, limit=limit),
    )
    for order in (order for match in matches for order in match):
        found.setdefault((order.tenant, order.result_id), order)
    for result in store.list_results(tenant=tenant, result_id=query, orphans=True, limit=limit):
        found.setdefault((result.tenant, result.result_id), None)
    keys = list(found)[:limit]
    traces = [_trace(store, t, r, found[(t, r)], scrub) for t, r in keys]
    traces.sort(key=lambda trace: trace.events[0].at if trace.events else 0.0, reverse=True)
    return traces


@attrs.frozen
class DeliveryDetail:
    """One delivery (a dead letter, typically) with its candidate's whole trace."""

    delivery: DeliveryView
    tenant: str
    result_id: str
    attempts: tuple[TraceEvent, ...]
    """This delivery's own history."""
    trace: CandidateTrace


def delivery_detail(store: Store, delivery_id: int, *, scrub: Scrub) -> DeliveryDetail | None:
    """The delivery `delivery_id` and its candidate's trace, or None when there is none."""
    delivery = store.get_delivery(delivery_id)
    if delivery is None:
        return None
    order = store.get_order(delivery.tenant, delivery.result_id)
    attempts = store.list_delivery_attempts(
        delivery.tenant, delivery.result_id, delivery_id=delivery.id
    )
    return DeliveryDetail(
        delivery=_delivery_view(delivery, scrub),
        tenant=delivery.tenant,
        result_id=delivery.result_id,
        attempts=tuple(_attempt_event(attempt, scrub) for attempt in attempts),
        trace=_trace(store, delivery.tenant, delivery.result_id, order, scrub),
    )


# JSON for machines

_json = cattrs.Converter()
"""Operators' JSON keeps the snake_case of the other operator commands' `--json` output; the
codec's converter is for Assessio's camelCase wire format."""


def to_json(value: Overview | TenantSummary | CandidateTrace | DeliveryDetail) -> Any:
    """Plain data (enums as their values) for `--json` and the page's JSON answers."""
    return _json.unstructure(value)
