"""GET /metrics: scraped over HTTP from a running daemon after a real round trip and read with
prometheus_client's own parser; the values are what happened, and no label holds a
candidate's data."""

from __future__ import annotations

import platform
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3
from prometheus_client.parser import text_string_to_metric_families

from assessio_connect.contract._version import __version__
from assessio_connect.runtime._metrics import DaemonMetrics
from assessio_connect.runtime._server import BackgroundServer
from assessio_connect.runtime._sqlite_store import SQLiteStore
from assessio_connect.runtime.daemon import Daemon
from daemon_harness import harness
from round_trip import FORGED_TENANT, RoundTrip, run_round_trip

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> tuple[str, str]:
    response = urllib3.request("GET", url, timeout=10)
    assert response.status == 200
    return response.headers["Content-Type"], response.data.decode("utf-8")


def samples(text: str) -> Samples:
    """Every sample by (name, labels), as the Prometheus client library parses the page."""
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: Samples, name: str, **labels: str) -> float:
    return found[("assessio_connect_" + name, frozenset(labels.items()))]


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Samples, RoundTrip]]:
    with harness(tmp_path_factory.mktemp("metrics")) as world:
        daemon = Daemon(world.load(), world.plugins)
        with daemon:
            trip = run_round_trip(world, daemon.url, daemon.store)
            content_type, text = scrape(daemon.url + "/metrics")
        assert content_type.startswith("text/plain; version=0.0.4")
        yield samples(text), trip


def test_webhooks_are_counted_by_outcome_and_reason(scraped: tuple[Samples, RoundTrip]) -> None:
    found, _trip = scraped
    expected = {
        ("acme", "stored", ""): 2,
        ("globex", "stored", ""): 1,
        ("acme", "duplicate", ""): 1,
        ("acme", "orphan", ""): 1,
        ("acme", "rejected", "unauthenticated"): 1,
        ("acme", "rejected", "unsupported_media_type"): 1,
        # A tenant nobody configured is not a label value of its own.
        ("", "rejected", "unauthenticated"): 1,
    }
    counted = {
        (labels["tenant"], labels["outcome"], labels["reason"]): count
        for (name, label_set), count in found.items()
        if name == "assessio_connect_webhooks_total"
        for labels in [dict(label_set)]
    }
    assert counted == expected


def test_orders_and_write_backs_are_counted(scraped: tuple[Samples, RoundTrip]) -> None:
    found, _trip = scraped
    assert value(found, "order_sends_total", tenant="acme", outcome="sent") == 2
    assert value(found, "order_sends_total", tenant="globex", outcome="sent") == 1
    assert value(found, "delivery_attempts_total", tenant="acme", outcome="dead") == 1
    assert value(found, "delivery_attempts_total", tenant="acme", outcome="delivered") == 1
    assert value(found, "delivery_attempts_total", tenant="globex", outcome="delivered") == 1


def test_calls_to_the_ats_and_to_assessio_are_timed_with_errors_by_kind(
    scraped: tuple[Samples, RoundTrip],
) -> None:
    found, _trip = scraped
    ats = "ats_request_duration_seconds_count"
    assert value(found, ats, tenant="acme", operation="push") == 2
    assert value(found, ats, tenant="globex", operation="push") == 1
    assert value(found, ats, tenant="globex", operation="poll") >= 1
    assert value(found, "ats_errors_total", tenant="acme", operation="push", kind="permanent") == 1
    assessio = "assessio_request_duration_seconds_count"
    assert value(found, assessio, tenant="acme", operation="order") == 2
    assert value(found, assessio, tenant="globex", operation="link_order") == 1
    assert value(found, assessio, tenant="acme", operation="config") >= 1
    assert not [key for key in found if key[0] == "assessio_connect_assessio_errors_total"]
    # Every observation fell into some bucket: +Inf holds them all.
    for tenant in ("acme", "globex"):
        labels = {"tenant": tenant, "operation": "push", "le": "+Inf"}
        assert value(found, "ats_request_duration_seconds_bucket", **labels) == value(
            found, ats, tenant=tenant, operation="push"
        )


def test_the_work_in_the_store_is_read_at_scrape_time(scraped: tuple[Samples, RoundTrip]) -> None:
    found, _trip = scraped
    assert value(found, "store_up") == 1
    assert value(found, "orders", tenant="acme", state="sent") == 2
    assert value(found, "orders", tenant="globex", state="sent") == 1
    assert value(found, "orders", tenant="acme", state="pending") == 0
    assert value(found, "deliveries", tenant="acme", state="dead") == 1
    assert value(found, "deliveries", tenant="acme", state="pending") == 0
    assert value(found, "deliveries", tenant="globex", state="dead") == 0
    assert value(found, "results", tenant="acme") == 3  # two results and the orphan
    assert value(found, "orphan_results", tenant="acme") == 1
    for tenant in ("acme", "globex"):
        assert value(found, "oldest_pending_delivery_age_seconds", tenant=tenant) == 0
        assert value(found, "oldest_pending_order_age_seconds", tenant=tenant) == 0
    assert value(found, "last_successful_poll_timestamp_seconds", tenant="globex") > 1.7e9
    assert (
        "assessio_connect_last_successful_poll_timestamp_seconds",
        frozenset({("tenant", "acme")}),
    ) not in found  # acme is push style: never polled


def test_build_info_names_the_versions(scraped: tuple[Samples, RoundTrip]) -> None:
    found, _trip = scraped
    labels = {"version": __version__, "python": platform.python_version()}
    assert value(found, "build_info", **labels) == 1
    assert any(
        name == "assessio_connect_plugin_info" and ("plugin", "assessio_connect.builtin") in labels
        for name, labels in found
    )


def test_no_label_holds_candidate_data(scraped: tuple[Samples, RoundTrip]) -> None:
    found, trip = scraped
    values = {label_value for _name, labels in found for _label, label_value in labels}
    assert FORGED_TENANT not in values
    leaked = {v for v in values for data in trip.candidate_data if data in v}
    assert not leaked


def test_an_unreachable_store_is_scraped_as_store_up_0(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.db")
    store.migrate()
    metrics = DaemonMetrics(store, tenants={"acme"})
    store.close()  # every query now fails
    with BackgroundServer(metrics.wsgi_app) as server:
        _content_type, text = scrape(server.url + "/")
    found = samples(text)
    assert value(found, "store_up") == 0
    assert not [key for key in found if key[0] == "assessio_connect_orders"]


def test_only_get_is_answered_and_daemons_keep_their_own_registries(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.db")
    store.migrate()
    first = DaemonMetrics(store, tenants={"acme"})
    second = DaemonMetrics(store, tenants={"acme"})  # a second daemon in the same process
    first.webhook_answered("acme", 200, "stored")
    with BackgroundServer(first.wsgi_app) as one, BackgroundServer(second.wsgi_app) as two:
        counted = [
            samples(scrape(server.url)[1]).get(
                (
                    "assessio_connect_webhooks_total",
                    frozenset({("tenant", "acme"), ("outcome", "stored"), ("reason", "")}),
                ),
                0.0,
            )
            for server in (one, two)
        ]
        refused = urllib3.request("POST", one.url + "/", body=b"", timeout=10)
        elsewhere = urllib3.request("GET", one.url + "/anything", timeout=10)
    assert counted == [1.0, 0.0]
    assert (refused.status, refused.headers["Allow"]) == (405, "GET, HEAD")
    assert elsewhere.status == 404
    store.close()
