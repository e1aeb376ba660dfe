"""The inbound queue in `/metrics`: events by tenant and state, read from the store when
scraped (one grouped count), so every replica shows the same numbers (take their max)."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .store import InboundState, Store

__all__ = ["INBOUND_EVENTS", "InboundGauges"]

INBOUND_EVENTS = "assessio_connect_inbound_events"


class InboundGauges(Collector):
    """`assessio_connect_inbound_events{tenant, state}`: pending, in_flight, done, dead;
    every configured tenant has all four (0 when it has none), others only what they hold."""

    def __init__(self, store: Store, tenants: Collection[str]) -> None:
        self._store = store
        self._tenants = tenants

    def _family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily(
            INBOUND_EVENTS,
            "Events push connectors accepted from their ATS, by tenant and state (pending: "
            "waiting for a first or another attempt; dead: dead-lettered, see `events list`)",
            labels=["tenant", "state"],
        )

    def describe(self) -> Iterable[Metric]:
        """The family without samples, so registering does not query the store."""
        return [self._family()]

    def collect(self) -> Iterable[Metric]:
        try:
            counts = dict(self._store.event_counts())
        except Exception:  # the store's outage shows as store_up 0; a scrape must not fail
            return []
        family = self._family()
        for tenant in list(self._tenants):
            for state in InboundState:
                counts.setdefault((tenant, state), 0)
        for (tenant, state), count in sorted(
            counts.items(), key=lambda i: (i[0][0], i[0][1].value)
        ):
            family.add_metric([tenant, state.value], count)
        return [family]
