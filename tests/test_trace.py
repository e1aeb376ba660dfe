"""`assessio-connect trace`: one candidate end to end, found by application id, result id or
e-mail, in time order, every delivery attempt with its (scrubbed) error."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from assessio_connect.runtime._logging import Scrubber
from assessio_connect.runtime._status import find_traces
from operator_cli import Operated, operated, run
from status_world import ATS_TOKEN
from store_contract import new_order


@pytest.fixture
def world(tmp_path: Path) -> Operated:
    return operated(tmp_path)


DEAD_KINDS = [
    "order.created",
    "order.sent",
    "result.received",
    "delivery.queued",
    "delivery.retry",
    "delivery.dead",
]


def kinds(output: str) -> list[str]:
    """The event kinds of a text trace, in the order printed."""
    found = []
    for line in output.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2].count(".") == 1 and parts[2][0].isalpha():
            found.append(parts[2])
    return found


def test_one_command_traces_a_candidate_by_email_application_or_result(world: Operated) -> None:
    seeded = world.seeded
    config = str(world.config)
    for query in (seeded.dead_email.swapcase(), seeded.dead_application, seeded.dead_result):
        result = run("trace", query, "--config", config)
        assert result.exit_code == 0, result.output
        assert kinds(result.stdout) == DEAD_KINDS, query
    text = run("trace", seeded.dead_result, "--config", config).stdout
    first = f"{seeded.dead_tenant} · application {seeded.dead_application} · result "
    assert text.startswith(first + seeded.dead_result)
    assert "assessment link https://assess.example/take/res-03-1" in text
    assert f"delivery {seeded.dead_delivery} (version 1): dead after 2 attempts" in text
    assert "error: the ATS answered 503: busy" in text
    assert "Bearer [redacted]" in text
    assert text.index("error: the ATS answered 503") < text.index("delivery.dead")


def test_the_json_trace_is_in_time_order_and_scrubbed(world: Operated) -> None:
    seeded = world.seeded
    result = run("trace", seeded.dead_email, "--config", str(world.config), "--json")
    [trace] = json.loads(result.stdout)
    assert (trace["tenant"], trace["application_id"], trace["order_state"]) == (
        seeded.dead_tenant,
        seeded.dead_application,
        "sent",
    )
    assert [e["kind"] for e in trace["events"]] == DEAD_KINDS
    times = [e["at"] for e in trace["events"]]
    assert times == sorted(times)
    [delivery] = trace["deliveries"]
    assert (delivery["id"], delivery["state"], delivery["attempts"]) == (
        seeded.dead_delivery,
        "dead",
        2,
    )
    assert ATS_TOKEN not in result.stdout


def test_an_updated_result_shows_both_versions_and_the_superseded_delivery(
    world: Operated,
) -> None:
    seeded = world.seeded
    result = run("trace", seeded.updated_result, "--config", str(world.config), "--json")
    [trace] = json.loads(result.stdout)
    events = [(e["kind"], e["version"]) for e in trace["events"]]
    assert ("result.received", 1) in events
    assert ("result.received", 2) in events
    assert ("delivery.delivered", 2) in events
    assert ("delivery.superseded", 1) in events
    assert events.index(("result.received", 1)) < events.index(("result.received", 2))
    assert [(d["version"], d["state"]) for d in trace["deliveries"]] == [
        (1, "superseded"),
        (2, "delivered"),
    ]


def test_an_orphan_result_is_traced_by_its_result_id(world: Operated) -> None:
    seeded = world.seeded
    result = run("trace", seeded.orphan_result, "--config", str(world.config))
    assert result.stdout.startswith(
        f"{seeded.orphan_tenant} · orphan result · result {seeded.orphan_result}"
    )
    assert kinds(result.stdout) == ["result.orphan"]


def test_an_order_waiting_for_assessio_says_why(world: Operated) -> None:
    result = run("trace", "app-12-1", "--config", str(world.config))
    assert kinds(result.stdout) == ["order.created", "order.retrying"]
    assert "error: cannot reach Assessio: connection refused" in result.stdout


def test_nothing_found_is_an_error_and_tenant_narrows_the_search(world: Operated) -> None:
    seeded = world.seeded
    config = str(world.config)
    missing = run("trace", "nobody@example.com", "--config", config)
    assert missing.exit_code == 1
    assert missing.stderr == (
        "error: nothing found for 'nobody@example.com' (application ids, result ids and e-mail "
        "addresses were searched)\n"
    )
    elsewhere = run("trace", seeded.dead_result, "--config", config, "--tenant", "org-04")
    assert elsewhere.exit_code == 1
    assert "in tenant org-04" in elsewhere.stderr
    narrowed = run("trace", seeded.dead_result, "--config", config, "--tenant", "org-03")
    assert narrowed.exit_code == 0


def test_one_email_in_two_tenants_is_two_candidates_newest_first(world: Operated) -> None:
    store = world.open()
    try:
        store.add_order(
            new_order("res-x", tenant="org-09", application_id="app-x", email="grace@example.com"),
            now=time.time(),
        )
        store.add_order(
            new_order("res-y", tenant="org-04", application_id="app-y", email="Grace@Example.com"),
            now=time.time() + 1,
        )
        scrub = Scrubber()
        traces = find_traces(store, "GRACE@example.com", scrub=scrub)
        assert [(t.tenant, t.application_id) for t in traces] == [
            ("org-04", "app-y"),
            ("org-09", "app-x"),
        ]
        narrowed = find_traces(store, "grace@example.com", scrub=scrub, tenant="org-09")
        assert [t.tenant for t in narrowed] == ["org-09"]
        assert find_traces(store, "   ", scrub=scrub) == []
    finally:
        store.close()
