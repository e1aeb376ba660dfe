"""`assessio-connect status`: the status page's per-tenant summary in the terminal, and the
health rules behind both."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from assessio_connect.runtime._logging import Scrubber
from assessio_connect.runtime._sqlite_store import SQLiteStore
from assessio_connect.runtime._status import (
    STALE_PENDING,
    STALE_POLL_FLOOR,
    Health,
    TenantInfo,
    overview,
)
from assessio_connect.store import POLL_SUCCEEDED
from operator_cli import TENANTS, Operated, operated, run
from store_contract import new_order


@pytest.fixture
def world(tmp_path: Path) -> Operated:
    return operated(tmp_path)


def test_status_lists_every_tenant_problems_first(world: Operated) -> None:
    result = run("status", "--config", str(world.config))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"2 failing, 4 delayed, {TENANTS - 6} ok ({TENANTS} tenants)"
    assert lines[1].split()[:3] == ["HEALTH", "TENANT", "ATS"]
    table = [line.split() for line in lines[2:]]
    # Failing, then delayed (org-04 is polled but has never been, org-11 has an orphan), each
    # by name.
    assert [row[:2] for row in table[:7]] == [
        ["failing", "org-03"],
        ["failing", "org-08"],
        ["delayed", "org-04"],
        ["delayed", "org-05"],
        ["delayed", "org-11"],
        ["delayed", "org-12"],
        ["ok", "org-01"],
    ]
    assert "1 orphan result to reconcile" in lines[6]
    assert len(table) == TENANTS
    assert "1 dead delivery" in lines[2]
    assert "the ATS answered 404" in lines[2]


def test_status_of_one_tenant_and_as_json(world: Operated) -> None:
    seeded = world.seeded
    one = run("status", "--config", str(world.config), "--tenant", seeded.retrying_tenant)
    assert one.stdout.splitlines()[:3] == [
        seeded.retrying_tenant,
        "  health:              delayed: 1 retrying; oldest pending 2 h old",
        "  ats:                 reference (push)",
    ]
    assert "maintenance until 18:00" in one.stdout
    data = json.loads(run("status", "--config", str(world.config), "--json").stdout)
    assert [t["tenant"] for t in data["tenants"]][:2] == ["org-03", "org-08"]
    first = data["tenants"][0]
    assert (first["health"], first["deliveries_dead"], first["configured"]) == ("failing", 1, True)
    single = json.loads(
        run("status", "--config", str(world.config), "--tenant", "org-02", "--json").stdout
    )
    assert (single["tenant"], single["style"], single["health"]) == ("org-02", "pull", "ok")


def test_status_works_where_the_secrets_cannot_be_read(world: Operated) -> None:
    (world.config.parent / "secrets" / "ats").unlink()
    result = run("status", "--config", str(world.config))
    assert result.exit_code == 0, result.output
    assert "reference (?)" in result.stdout
    assert result.stdout.startswith("2 failing, 3 delayed")  # no poll is judged without styles
    detail = run("status", "--config", str(world.config), "--tenant", "org-03")
    assert "Bearer [redacted]" in detail.stdout  # credential shapes are still scrubbed


def test_status_needs_the_configuration(world: Operated) -> None:
    result = run("status", "--store", f"sqlite:///{world.store}")
    assert result.exit_code == 2
    assert "give --config FILE" in result.stderr


# -- the health rules -----------------------------------------------------------------------


def judged(
    tmp_path: Path, infos: list[TenantInfo], now: float
) -> dict[str, tuple[Health, tuple[str, ...]]]:
    store = SQLiteStore(tmp_path / "rules.db")
    store.migrate()
    try:
        fill_rules_store(store, now)
        view = overview(store, infos, now=now, scrub=Scrubber())
    finally:
        store.close()
    return {row.tenant: (row.health, row.problems) for row in view.tenants}


def fill_rules_store(store: SQLiteStore, now: float) -> None:
    """`fresh`: an order pending a minute; `stale`: one pending past the limit; `polled`:
    polled a minute ago; `quiet`: polled long ago; `gone`: rows but no configuration."""
    store.add_order(new_order("r-1", tenant="fresh"), now=now - 60)
    store.add_order(new_order("r-2", tenant="stale"), now=now - STALE_PENDING - 1)
    store.set_cursor("polled", POLL_SUCCEEDED, "x", now=now - 60)
    store.set_cursor("quiet", POLL_SUCCEEDED, "x", now=now - STALE_POLL_FLOOR - 1)
    store.add_order(new_order("r-3", tenant="gone"), now=now - 1)


def test_health_rules(tmp_path: Path) -> None:
    now = time.time()
    infos = [
        TenantInfo("fresh", "reference", "push"),
        TenantInfo("stale", "reference", "push"),
        TenantInfo("polled", "reference", "pull", 30.0),
        TenantInfo("quiet", "reference", "pull", 30.0),
        TenantInfo("never", "reference", "pull", 30.0),
        TenantInfo("slow", "reference", "pull", 600.0),
        TenantInfo("idle", "reference", "push"),
    ]
    found = judged(tmp_path, infos, now)
    assert found["fresh"] == (Health.OK, ())
    assert found["idle"] == (Health.OK, ())
    assert found["stale"] == (Health.DELAYED, ("oldest pending 15 min old",))
    assert found["polled"] == (Health.OK, ())
    assert found["quiet"] == (Health.DELAYED, ("last poll 5 min ago",))
    assert found["never"] == (Health.DELAYED, ("never polled successfully",))
    assert found["slow"] == (Health.DELAYED, ("never polled successfully",))
    assert found["gone"] == (Health.DELAYED, ("not in the configuration",))
