"""A connector's durable state through the daemon: `context.state` is the tenant's space in the
store, named by the connector's kind, owned by the daemon's process, and it outlives a restart;
leases taken through it are exclusive across owners sharing one store."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from assessio_connect.runtime._logging import EventLog
from assessio_connect.runtime._sqlite_store import SQLiteStore
from assessio_connect.runtime.connector_state import StoreState
from assessio_connect.runtime.daemon import Daemon
from assessio_connect.store import StateEntry
from daemon_harness import Harness, harness
from store_contract import NOW


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Harness]:
    with harness(tmp_path) as built:
        yield built


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def start(world: Harness) -> Daemon:
    return Daemon(world.load(), world.plugins, log=EventLog(io.StringIO())).start()


def test_a_connectors_state_survives_a_daemon_restart(world: Harness) -> None:
    daemon = start(world)
    try:
        acme = daemon.tenants["acme"].connector.context.state
        assert isinstance(acme, StoreState)
        assert acme.owner == daemon.owner
        acme.put("refresh_token", "rotated-2")
        assert acme.swap("receipt:r-1:1", "note 98123", expect_version=0) is not None
        globex = daemon.tenants["globex"].connector.context.state
        assert globex.value("refresh_token") is None  # another tenant, another space
    finally:
        daemon.stop()
    restarted = start(world)  # a new store object and runtime on the same file
    try:
        state = restarted.tenants["acme"].connector.context.state
        assert state.owner == restarted.owner != daemon.owner
        entry = state.get("refresh_token")
        assert entry is not None
        assert (entry.value, entry.version) == ("rotated-2", 1)
        assert state.value("receipt:r-1:1") == "note 98123"
        assert state.swap("receipt:r-1:1", "again", expect_version=0) is None
    finally:
        restarted.stop()
    store = SQLiteStore(world.tmp / "state.db")
    try:  # the space is named by the connector's kind
        stored = store.get_state("acme", "reference", "refresh_token")
        assert stored is not None
        assert stored.value == "rotated-2"
    finally:
        store.close()


def test_leases_are_exclusive_between_owners_of_one_store(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.db")
    store.migrate()
    clock = Clock()
    first = StoreState(store, "acme", "workday", owner="host-a:1:aa", clock=clock)
    second = StoreState(store, "acme", "workday", owner="host-b:2:bb", clock=clock)
    try:
        assert first.try_lease("token-refresh", seconds=30)
        assert not second.try_lease("token-refresh", seconds=30)
        assert first.try_lease("token-refresh", seconds=30)  # renewing our own
        clock.now += 29.9
        assert not second.try_lease("token-refresh", seconds=30)
        first.release_lease("token-refresh")
        assert second.try_lease("token-refresh", seconds=30)
        second.release_lease("token-refresh")
        first.release_lease("token-refresh")  # not ours: nothing happens
        assert first.try_lease("token-refresh", seconds=30)
        clock.now += 30  # the holder died: its lease ran out
        assert second.try_lease("token-refresh", seconds=30)
        assert not first.try_lease("token-refresh", seconds=30)
    finally:
        store.close()


def test_racing_owners_get_one_lease(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SQLiteStore(path).migrate()
    stores = [SQLiteStore(path) for _ in range(4)]
    clock = Clock()
    start = threading.Barrier(len(stores))
    won: list[str] = []
    failures: list[BaseException] = []

    def race(index: int) -> None:
        state = StoreState(stores[index], "acme", "greenhouse", owner=f"o{index}", clock=clock)
        try:
            start.wait(timeout=20)
            if state.try_lease("refresh", seconds=60):
                won.append(state.owner)
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for store in stores:
        store.close()
    assert failures == []
    assert len(won) == 1


def test_the_value_of_an_entry_is_never_in_a_repr(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.db")
    store.migrate()
    state = StoreState(store, "acme", "greenhouse", owner="me", clock=Clock())
    try:
        entry = state.put("refresh_token", "rt-secret-4f4f")
        assert entry == StateEntry(value="rt-secret-4f4f", version=1, updated_at=NOW)
        assert "rt-secret-4f4f" not in repr(entry)
        assert "rt-secret-4f4f" not in repr(state)
    finally:
        store.close()


@pytest.mark.parametrize("seconds", [0.0, -5.0, float("nan"), float("inf")])
def test_a_lease_must_last_a_finite_positive_time(tmp_path: Path, seconds: float) -> None:
    store = SQLiteStore(tmp_path / "state.db")
    store.migrate()
    state = StoreState(store, "acme", "greenhouse", owner="me", clock=Clock())
    try:
        with pytest.raises(ValueError, match="positive number of seconds"):
            state.try_lease("refresh", seconds=seconds)
        assert state.get("refresh") is None  # a NaN lease would never have counted as held
    finally:
        store.close()
