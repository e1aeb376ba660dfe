"""Honest lists (issue 13 item 4): a list that stops at --limit says how many there are,
--limit 0 lists all, an unknown --tenant is an error, a read-only command never creates a
store, `deliveries retry --dead` takes --tenant, and every list filters by result id,
application id and e-mail."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from assessio_connect.contract.errors import StoreUnavailableError
from assessio_connect.runtime._sqlite_store import SQLiteStore
from assessio_connect.store import DeliveryState, OrderState, Store
from operator_cli import TENANTS, Operated, operated, run
from store_contract import payload


@pytest.fixture
def world(tmp_path: Path) -> Operated:
    return operated(tmp_path)


def state_of(store: Store, delivery_id: int) -> DeliveryState:
    delivery = store.get_delivery(delivery_id)
    assert delivery is not None
    return delivery.state


def rows(output: str) -> list[list[str]]:
    """The table's rows (header and notes left out), as whitespace-split cells."""
    lines = [line for line in output.splitlines() if line and not line.startswith("showing")]
    return [line.split() for line in lines[1:]]


@pytest.mark.parametrize(
    "command",
    [
        ("orders", "list"),
        ("results", "list"),
        ("results", "orphans"),
        ("deliveries", "list"),
        ("deliveries", "retry", "--dead"),
        ("status",),
        ("trace", "someone@example.com"),
    ],
)
def test_a_read_only_command_never_creates_a_store(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    world = operated(tmp_path, seed=False)
    result = run(*command, "--config", str(world.config))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: there is no store at sqlite:///{world.store}")
    assert "nothing was created" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["assessio-connect.toml", "secrets"]
    nowhere = f"sqlite:///{tmp_path}/nowhere/state.db"
    missing_folder = run(*command, "--config", str(world.config), "--store", nowhere)
    assert missing_folder.exit_code == 1
    assert not (tmp_path / "nowhere").exists()


def test_a_list_cut_by_its_limit_says_how_many_there_are(world: Operated) -> None:
    total = 2 * TENANTS  # orders
    cut = run("orders", "list", "--config", str(world.config), "--limit", "5")
    assert cut.exit_code == 0
    assert len(rows(cut.stdout)) == 5
    assert cut.stdout.rstrip().endswith(
        f"showing 5 of {total} orders (newest first; --limit 0 lists all)"
    )
    everything = run("orders", "list", "--config", str(world.config), "--limit", "0")
    assert len(rows(everything.stdout)) == total
    assert "showing" not in everything.stdout
    exact = run("orders", "list", "--config", str(world.config), "--limit", str(total))
    assert "showing" not in exact.stdout
    default = run("results", "list", "--config", str(world.config))
    assert "showing" not in default.stdout  # 24 result versions: under the default 100


def test_under_json_the_note_goes_to_stderr_and_stdout_stays_an_array(world: Operated) -> None:
    result = run("deliveries", "list", "--config", str(world.config), "--limit", "3", "--json")
    assert len(json.loads(result.stdout)) == 3
    assert result.stderr.startswith("showing 3 of ")
    assert "deliveries" in result.stderr


def test_an_unknown_tenant_is_an_error(world: Operated) -> None:
    for command in (("orders", "list"), ("status",), ("deliveries", "retry", "--dead")):
        result = run(*command, "--config", str(world.config), "--tenant", "org03")
        assert result.exit_code == 1
        assert result.stderr.startswith("error: no tenant named 'org03'; did you mean 'org-03'?")
        assert "known: org-01, org-02" in result.stderr
    far = run("results", "list", "--config", str(world.config), "--tenant", "zzz")
    assert "did you mean" not in far.stderr
    assert "and 2 more" in far.stderr


def test_a_tenant_no_longer_configured_but_in_the_store_is_known(
    tmp_path: Path, world: Operated
) -> None:
    store = world.open()
    store.record_result("retired", "r-9", b'{"resultId":"r-9","score":5}', now=time.time())
    store.close()
    result = run("results", "list", "--config", str(world.config), "--tenant", "retired")
    assert result.exit_code == 0
    assert rows(result.stdout)[0][:2] == ["retired", "r-9"]
    by_store = run("orders", "list", "--store", f"sqlite:///{world.store}", "--tenant", "org-05")
    assert by_store.exit_code == 0
    assert len(rows(by_store.stdout)) == 2


def test_lists_filter_by_email_application_and_result(world: Operated) -> None:
    seeded = world.seeded
    config = str(world.config)
    by_email = run("orders", "list", "--config", config, "--email", seeded.dead_email.upper())
    assert [row[:3] for row in rows(by_email.stdout)] == [
        [seeded.dead_tenant, seeded.dead_application, seeded.dead_result]
    ]
    by_application = run(
        "deliveries",
        "list",
        "--config",
        config,
        "--application-id",
        seeded.dead_application,
        "--json",
    )
    [dead] = json.loads(by_application.stdout)
    assert (dead["id"], dead["state"]) == (seeded.dead_delivery, "dead")
    assert "Bearer [redacted]" in dead["last_error"]
    versions = run(
        "results", "list", "--config", config, "--result-id", seeded.updated_result, "--json"
    )
    assert [r["version"] for r in json.loads(versions.stdout)] == [2, 1]
    orphans = run("results", "orphans", "--config", config, "--tenant", seeded.orphan_tenant)
    assert [row[1] for row in rows(orphans.stdout)] == [seeded.orphan_result]
    nothing = run("orders", "list", "--config", config, "--email", "nobody@example.com")
    assert nothing.stdout.splitlines()[1:] == ["(none)"]
    state = run("orders", "list", "--config", config, "--state", "failed", "--json")
    assert [o["tenant"] for o in json.loads(state.stdout)] == [seeded.refused_tenant]


def test_retrying_dead_letters_can_be_kept_to_one_tenant(world: Operated) -> None:
    store = world.open()
    now = time.time()
    # A second dead letter, in another tenant: a changed result refused for good.
    store.record_result("org-07", "res-07-1", payload("res-07-1", 12), now=now)
    [other] = store.claim_deliveries(owner="t", now=now + 1, lease=30, limit=1)
    assert other.tenant == "org-07"
    assert store.delivery_dead(other.id, owner="t", error="gone", now=now + 2)
    store.close()
    config = str(world.config)
    result = run("deliveries", "retry", "--config", config, "--dead", "--tenant", "org-07")
    assert result.exit_code == 0
    assert result.stdout.startswith("1 delivery queued for retry")
    store = world.open()
    assert state_of(store, other.id) is DeliveryState.PENDING
    assert state_of(store, world.seeded.dead_delivery) is DeliveryState.DEAD
    store.close()
    elsewhere = run(
        "deliveries",
        "retry",
        "--config",
        config,
        "--tenant",
        "org-07",
        str(world.seeded.dead_delivery),
    )
    assert elsewhere.exit_code == 1
    assert "or of another tenant" in elsewhere.stderr


def test_lists_read_orders_as_they_are(world: Operated) -> None:
    store = world.open()
    pending = store.count_orders(state=OrderState.PENDING)
    store.close()
    result = run("orders", "list", "--config", str(world.config), "--state", "pending")
    assert len(rows(result.stdout)) == pending == 1


def test_a_user_who_may_only_read_the_store_still_lists_it(
    world: Operated, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: SQLiteStore) -> None:
        raise StoreUnavailableError("cannot migrate the schema: the database is read-only")

    monkeypatch.setattr(SQLiteStore, "migrate", refuse)
    result = run("orders", "list", "--config", str(world.config), "--tenant", "org-01")
    assert result.exit_code == 0, result.output
    assert len(rows(result.stdout)) == 2
