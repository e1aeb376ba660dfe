"""The daemon's Prometheus metrics, served at `GET /metrics` in the text format.

Counters and histograms count what this process did (each replica its own: sum them), fed
where it happens: result webhooks by outcome, order sends, write-back attempts, and the
latency and errors of every call to an ATS or to Assessio. Gauges of the work in the store
(orders and deliveries by state, the oldest waiting, the last successful poll) are read from
`Store.tenant_activity()` when scraped, the same on every replica (take their max). Labels
hold tenant names and fixed words only, never a candidate's data; a tenant not configured
(say, from a forged webhook URL) is counted under `tenant=""`, so no request can add series.
"""

from __future__ import annotations

import contextlib
import platform
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from assessio_connect.contract._version import __version__
from assessio_connect.contract.errors import (
    APIError,
    AuthenticationError,
    ConflictError,
    PermanentError,
    RateLimitedError,
    RetryableError,
    ServerError,
    TransportError,
    UnexpectedResponseError,
)

from ._inbound_metrics import InboundGauges
from .store import OrderState, Store, TenantActivity

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from .plugins import Plugins

__all__ = ["METRICS_PATH", "DaemonMetrics", "error_kind"]

METRICS_PATH = "/metrics"
PREFIX = "assessio_connect_"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Seconds: from a loopback fake's few milliseconds to a read timeout."""

REJECTION_REASONS = {
    400: "bad_request",
    401: "unauthenticated",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_result",
    500: "internal_error",
    503: "store_unavailable",
}
"""The `reason` label of a result webhook answered 4xx (`rejected`) or 5xx (`failed`)."""

ORDER_OUTCOMES = {
    OrderState.SENT: "sent",
    OrderState.PENDING: "retry",
    OrderState.FAILED: "failed",
    OrderState.LINK_UNKNOWN: "link_unknown",
}


def error_kind(exc: BaseException) -> str:
    """A fixed word for an error, for the `kind` label: what the operator's fix depends on."""
    kinds: tuple[tuple[type[BaseException], str], ...] = (
        (RetryableError, "retryable"),
        (PermanentError, "permanent"),
        (TransportError, "transport"),
        (AuthenticationError, "authentication"),
        (RateLimitedError, "rate_limited"),
        (ConflictError, "conflict"),
        (ServerError, "server"),
        (UnexpectedResponseError, "unexpected_response"),
        (APIError, "rejected"),
    )
    for cls, kind in kinds:
        if isinstance(exc, cls):
            return kind
    return "bug"


def _zero_activity(tenant: str) -> TenantActivity:
    return TenantActivity(tenant)


class _StoreGauges(Collector):
    """The work in the store per tenant, read once per scrape with one aggregate query."""

    def __init__(self, store: Store, tenants: Collection[str], clock: Callable[[], float]) -> None:
        self._store = store
        self._tenants = tenants
        self._clock = clock

    def describe(self) -> Iterable[Metric]:
        """The families without samples, so registering does not query the store."""
        return list(self._families())

    def _families(self) -> Iterator[GaugeMetricFamily]:
        def family(name: str, documentation: str, labels: list[str]) -> GaugeMetricFamily:
            return GaugeMetricFamily(PREFIX + name, documentation, labels=labels)

        yield family(
            "store_up", "1 when the last scrape could read the store's summary, else 0", []
        )
        yield family("store_summary_seconds", "Seconds the store took to summarise the work", [])
        yield family("orders", "Orders in the store, by tenant and state", ["tenant", "state"])
        yield family(
            "deliveries",
            "Unfinished and dead write-backs in the store, by tenant and state (pending: not "
            "yet failed; retrying: failed at least once; dead: dead-lettered)",
            ["tenant", "state"],
        )
        yield family("results", "Result versions in the store, orphans included", ["tenant"])
        yield family("orphan_results", "Results no order has, kept to reconcile", ["tenant"])
        yield family(
            "oldest_pending_order_age_seconds",
            "Age of the oldest order Assessio has not taken yet (0: none)",
            ["tenant"],
        )
        yield family(
            "oldest_pending_delivery_age_seconds",
            "Age of the oldest unfinished write-back (0: none)",
            ["tenant"],
        )
        yield family(
            "last_successful_poll_timestamp_seconds",
            "Unix time of the last successful poll of a pull-style tenant's ATS, by any replica",
            ["tenant"],
        )

    def collect(self) -> Iterable[Metric]:
        families = {family.name: family for family in self._families()}

        def add(name: str, value: float, *labels: str) -> None:
            families[PREFIX + name].add_metric(list(labels), value)

        began = time.monotonic()
        try:
            activities = {activity.tenant: activity for activity in self._store.tenant_activity()}
        except Exception:  # a scrape shows the outage (store_up 0); it must not fail
            add("store_up", 0)
            yield families[PREFIX + "store_up"]
            return
        add("store_up", 1)
        add("store_summary_seconds", time.monotonic() - began)
        for tenant in list(self._tenants):
            activities.setdefault(tenant, _zero_activity(tenant))
        now = self._clock()
        for tenant in sorted(activities):
            activity = activities[tenant]
            for state, count in (
                ("pending", activity.orders_pending),
                ("sent", activity.orders_sent),
                ("link_unknown", activity.orders_link_unknown),
                ("failed", activity.orders_failed),
            ):
                add("orders", count, tenant, state)
            retrying = activity.deliveries_retrying
            for state, count in (
                ("pending", activity.deliveries_pending - retrying),
                ("retrying", retrying),
                ("dead", activity.deliveries_dead),
            ):
                add("deliveries", count, tenant, state)
            add("results", activity.results, tenant)
            add("orphan_results", activity.orphans, tenant)
            for name, since in (
                ("oldest_pending_order_age_seconds", activity.oldest_pending_order_at),
                ("oldest_pending_delivery_age_seconds", activity.oldest_pending_delivery_at),
            ):
                add(name, 0.0 if since is None else max(0.0, now - since), tenant)
            if activity.last_poll_at is not None:
                add("last_successful_poll_timestamp_seconds", activity.last_poll_at, tenant)
        yield from families.values()


class DaemonMetrics:
    """One daemon's metrics, in a registry of its own (several daemons may share a process).

    `tenants` is the live collection of configured tenant names (it may change on a reload)."""

    def __init__(
        self,
        store: Store,
        *,
        tenants: Collection[str],
        plugins: Plugins | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._tenants = tenants
        self.registry = CollectorRegistry()
        registry = self.registry
        self._webhooks = Counter(
            PREFIX + "webhooks",
            "Result webhooks answered, by outcome (stored, updated, duplicate, orphan; "
            "rejected 4xx and failed 5xx with a reason)",
            ["tenant", "outcome", "reason"],
            registry=registry,
        )
        self._order_sends = Counter(
            PREFIX + "order_sends",
            "Orders sent to Assessio, by outcome (sent, retry, failed, link_unknown, error)",
            ["tenant", "outcome"],
            registry=registry,
        )
        self._delivery_attempts = Counter(
            PREFIX + "delivery_attempts",
            "Write-backs to the ATS, by outcome (delivered, retry, dead, superseded)",
            ["tenant", "outcome"],
            registry=registry,
        )
        self._ats_seconds = Histogram(
            PREFIX + "ats_request_duration_seconds",
            "Calls to a tenant's ATS through its connector (push: a write-back, poll: a page)",
            ["tenant", "operation"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._ats_errors = Counter(
            PREFIX + "ats_errors",
            "Failed calls to a tenant's ATS, by kind (retryable, permanent, transport, bug, …)",
            ["tenant", "operation", "kind"],
            registry=registry,
        )
        self._assessio_seconds = Histogram(
            PREFIX + "assessio_request_duration_seconds",
            "Calls to Assessio (config, order, link_order)",
            ["tenant", "operation"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._assessio_errors = Counter(
            PREFIX + "assessio_errors",
            "Failed calls to Assessio, by kind (transport, authentication, rate_limited, "
            "conflict, server, rejected, …)",
            ["tenant", "operation", "kind"],
            registry=registry,
        )
        build = Gauge(
            PREFIX + "build_info",
            "Always 1: the running versions",
            ["version", "python"],
            registry=registry,
        )
        build.labels(__version__, platform.python_version()).set(1)
        plugin_info = Gauge(
            PREFIX + "plugin_info",
            "Always 1: each loaded plugin with its distribution and version",
            ["plugin", "distribution", "version"],
            registry=registry,
        )
        for plugin in plugins.describe() if plugins is not None else ():
            plugin_info.labels(plugin.name, plugin.distribution or "", plugin.version or "").set(1)
        registry.register(_StoreGauges(store, tenants, clock))
        registry.register(InboundGauges(store, tenants))
        self._app = make_wsgi_app(registry)

    def _tenant(self, tenant: str | None) -> str:
        return tenant if tenant is not None and tenant in self._tenants else ""

    # What happened

    def webhook_answered(self, tenant: str | None, status: int, outcome: str) -> None:
        """A result webhook was answered `status`; `outcome` is the answer's status word, or
        rejected (4xx) or failed (5xx)."""
        reason = REJECTION_REASONS.get(status, str(status)) if status >= 400 else ""
        self._webhooks.labels(self._tenant(tenant), outcome, reason).inc()

    def order_sent(self, tenant: str, state: OrderState | None) -> None:
        """An order send ended with the order in `state` (None: the sender failed)."""
        outcome = "error" if state is None else ORDER_OUTCOMES.get(state, state.value)
        self._order_sends.labels(self._tenant(tenant), outcome).inc()

    def delivery_finished(self, tenant: str, outcome: str) -> None:
        """A write-back attempt ended: delivered, retry, dead or superseded."""
        self._delivery_attempts.labels(self._tenant(tenant), outcome).inc()

    @contextlib.contextmanager
    def ats_call(self, tenant: str, operation: str) -> Iterator[None]:
        """Time a call to the tenant's ATS; an exception is counted by kind and re-raised."""
        with self._timed(self._ats_seconds, self._ats_errors, tenant, operation):
            yield

    @contextlib.contextmanager
    def assessio_call(self, tenant: str, operation: str) -> Iterator[None]:
        """Time a call to Assessio; an exception is counted by kind and re-raised."""
        with self._timed(self._assessio_seconds, self._assessio_errors, tenant, operation):
            yield

    @contextlib.contextmanager
    def _timed(
        self, seconds: Histogram, errors: Counter, tenant: str, operation: str
    ) -> Iterator[None]:
        label = self._tenant(tenant)
        began = time.perf_counter()
        try:
            yield
        except BaseException as exc:
            if isinstance(exc, Exception):
                errors.labels(label, operation, error_kind(exc)).inc()
            raise
        finally:
            seconds.labels(label, operation).observe(time.perf_counter() - began)

    # Serving

    def wsgi_app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        """GET (or HEAD) the metrics at the route's own path; anything else is refused."""
        if environ.get("PATH_INFO") not in ("", "/"):
            return _answer(start_response, "404 Not Found", b'{"error":"no such route"}', [])
        if str(environ.get("REQUEST_METHOD") or "GET").upper() not in ("GET", "HEAD"):
            body = b'{"error":"/metrics answers GET only"}'
            return _answer(start_response, "405 Method Not Allowed", body, [("Allow", "GET, HEAD")])
        return self._app(environ, start_response)


def _answer(
    start_response: StartResponse, status: str, body: bytes, headers: list[tuple[str, str]]
) -> list[bytes]:
    start_response(
        status,
        [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *headers],
    )
    return [body]
