"""`Receipts` remember the newest version written of each result (issue 12): an older version
whose delivery comes after a newer one's creates nothing, in memory and in the daemon's store,
and replicas racing to record versions leave the newest."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assessio_connect import Receipts
from assessio_connect.runtime._sqlite_store import SQLiteStore
from assessio_connect.runtime.connector_state import ConnectorState, MemoryState, StoreState


class Creator:
    """`create` for `ensure`: counts calls, returns note ids."""

    def __init__(self) -> None:
        self.made: list[str] = []

    def __call__(self) -> str:
        self.made.append(f"note-{len(self.made) + 1}")
        return self.made[-1]


@pytest.fixture(params=["memory", "sqlite"])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ConnectorState]:
    if request.param == "memory":
        yield MemoryState(clock=time.time)
        return
    store = SQLiteStore(tmp_path / "state.db")
    store.migrate()
    yield StoreState(store, "acme", "kitlever", owner="test", clock=time.time)
    store.close()


def test_an_older_version_after_a_newer_one_creates_nothing(state: ConnectorState) -> None:
    notes, create = Receipts(state, "notes"), Creator()
    assert notes.newest_version("r-1") is None
    assert notes.ensure("r-1", 2, create) == "note-1"
    assert notes.ensure("r-1", 1, create) == "note-1", "the newest version's note stands"
    assert create.made == ["note-1"]
    assert notes.newest_version("r-1") == 2
    assert notes.ensure("r-1", 3, create) == "note-2"
    assert notes.newest_version("r-1") == 3
    assert notes.ensure("r-2", 1, create) == "note-3", "versions are per result"


def test_unversioned_receipts_are_unchanged(state: ConnectorState) -> None:
    notes, create = Receipts(state, "fields"), Creator()
    assert notes.ensure("r-1", None, create) == notes.ensure("r-1", None, create) == "note-1"
    assert notes.newest_version("r-1") is None


def test_racing_replicas_leave_the_newest_version(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.db")
    store.migrate()
    start = threading.Barrier(6)
    failures: list[BaseException] = []

    def replica(index: int) -> None:
        state = StoreState(store, "acme", "kitlever", owner=f"r{index}", clock=time.time)
        notes = Receipts(state, "notes")
        try:
            start.wait(timeout=10)
            for version in range(1 + index % 2, 13, 2):
                notes.ensure("r-1", version, Creator())
        except BaseException as exc:  # reported to the test thread below
            failures.append(exc)

    threads = [threading.Thread(target=replica, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    try:
        assert not failures, failures
        state = StoreState(store, "acme", "kitlever", owner="x", clock=time.time)
        assert Receipts(state, "notes").newest_version("r-1") == 12
    finally:
        store.close()
