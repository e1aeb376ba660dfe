"""`Receipts` on each backend of `context.state` (memory, SQLite, PostgreSQL): look up, else
create, record; the crash window closed by `find`; two writers racing record one receipt."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from assessio_connect import Receipts
from assessio_connect.runtime._sqlite_store import SQLiteStore
from assessio_connect.runtime.connector_state import ConnectorState, MemoryState, StoreState

# The PostgreSQL plugin's test helpers find (or skip without) the test server.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "plugins" / "postgres" / "tests"))

NOW = 1_800_000_000.0
StateFactory = Callable[[str], ConnectorState]


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def states(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateFactory]:
    """Makes states of one tenant and kind, each as another replica of the same store."""
    closers: list[Callable[[], None]] = []
    if request.param == "memory":
        shared = MemoryState(clock=lambda: NOW)
        yield lambda owner: shared
        return
    if request.param == "sqlite":
        path = tmp_path / "state.db"
        SQLiteStore(path).migrate()

        def sqlite(owner: str) -> ConnectorState:
            store = SQLiteStore(path)
            closers.append(store.close)
            return StoreState(store, "acme", "kitlever", owner=owner, clock=lambda: NOW)

        yield sqlite
    else:
        from postgres_test_db import fresh_schema

        from assessio_connect_postgres import open_postgres_store

        with fresh_schema() as url:
            first = open_postgres_store(url)
            assert first is not None
            first.migrate()
            closers.append(first.close)

            def postgres(owner: str) -> ConnectorState:
                store = open_postgres_store(url)
                assert store is not None
                closers.append(store.close)
                return StoreState(store, "acme", "kitlever", owner=owner, clock=lambda: NOW)

            yield postgres
    for close in closers:
        close()


def test_a_receipt_is_found_after_a_restart(states: StateFactory) -> None:
    created: list[str] = []

    def create() -> str:
        created.append(f"note-{len(created) + 1}")
        return created[-1]

    receipts = Receipts(states("replica-a"), "notes")
    assert receipts.get("r-1", 2) is None
    assert receipts.ensure("r-1", 2, create) == "note-1"
    restarted = Receipts(states("replica-b"), "notes")
    assert restarted.ensure("r-1", 2, create) == "note-1"
    assert restarted.get("r-1", 2) == "note-1"
    assert restarted.ensure("r-1", 3, create) == "note-2", "another version, another note"
    assert created == ["note-1", "note-2"]
    assert Receipts(states("replica-c"), "custom_fields").get("r-1", 2) is None


def test_find_closes_the_crash_window_and_runs_only_without_a_receipt(
    states: StateFactory,
) -> None:
    receipts = Receipts(states("replica-a"), "notes")
    searched: list[str] = []

    def find() -> str | None:
        searched.append("listed the notes")
        return "note-made-before-the-crash"

    def create() -> str:
        raise AssertionError("the note exists: it must not be created again")

    assert receipts.ensure("r-1", 1, create, find=find) == "note-made-before-the-crash"
    assert receipts.ensure("r-1", 1, create, find=find) == "note-made-before-the-crash"
    assert searched == ["listed the notes"]
    receipts.forget("r-1", 1)
    assert receipts.ensure("r-1", 1, lambda: "note-again", find=lambda: None) == "note-again"


def test_racing_writers_end_with_one_receipt(states: StateFactory) -> None:
    replicas = [Receipts(states(f"replica-{n}"), "notes") for n in range(4)]
    barrier = threading.Barrier(len(replicas))
    got: list[str] = []
    failures: list[BaseException] = []

    def write(index: int) -> None:
        def create() -> str:
            barrier.wait(timeout=20)  # every replica has looked and found no receipt
            return f"note-by-{index}"

        try:
            got.append(replicas[index].ensure("r-9", 1, create))
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(len(replicas))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == []
    assert len(set(got)) == 1, f"every writer returns the recorded receipt: {got}"
    assert replicas[0].get("r-9", 1) == got[0]


def test_receipt_keys_and_kinds() -> None:
    receipts = Receipts(MemoryState(clock=lambda: NOW), "notes")
    assert receipts.key("r/1", 2) == "receipt/notes/r/1/v2"
    assert receipts.key("r-1") == "receipt/notes/r-1"
    with pytest.raises(ValueError, match="count from 1"):
        receipts.key("r-1", 0)
    for kind in ("", "a/b"):
        with pytest.raises(ValueError, match="non-empty name without"):
            Receipts(MemoryState(clock=lambda: NOW), kind)
