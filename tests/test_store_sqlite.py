"""The SQLite store: the shared store contract, plus URLs, pragmas, schema, locking and errors."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assessio_connect import codec
from assessio_connect.contract.errors import ConfigError, StoreError, StoreUnavailableError
from assessio_connect.runtime._sqlite_store import MIGRATIONS, SQLiteStore, open_sqlite_store
from store_contract import NOW, StoreContract, StoreFactory, new_order, payload

__all__: list[str] = []


def migrated(path: Path, **options: float) -> SQLiteStore:
    store = SQLiteStore(path, **options)
    store.migrate()
    return store


class TestSQLiteStoreContract(StoreContract):
    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> Iterator[StoreFactory]:
        opened: list[SQLiteStore] = []

        def factory() -> SQLiteStore:
            store = migrated(tmp_path / "state.db")
            opened.append(store)
            return store

        yield factory
        for store in opened:
            store.close()


# -- URLs ---------------------------------------------------------------------------------


def test_a_relative_url_resolves_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_sqlite_store("sqlite:///data/state.db")
    assert store is not None
    assert store.url == f"sqlite:///{(tmp_path / 'data' / 'state.db').as_posix()}"
    assert store.exclusive


def test_an_absolute_url_keeps_its_path(tmp_path: Path) -> None:
    store = open_sqlite_store(f"sqlite:///{tmp_path.as_posix()}/state.db")
    assert store is not None
    assert store.url == f"sqlite:///{(tmp_path / 'state.db').as_posix()}"
    store.migrate()
    store.close()
    assert (tmp_path / "state.db").exists()


def test_a_percent_encoded_url_is_decoded(tmp_path: Path) -> None:
    store = open_sqlite_store(f"sqlite:///{tmp_path.as_posix()}/my%20state.db")
    assert store is not None
    assert store.url.endswith("/my state.db")


@pytest.mark.parametrize(
    "url", ["postgresql://db/assessio", "memory://", "sqlite3:///x.db", "file:///x.db", ""]
)
def test_other_schemes_are_not_ours(url: str) -> None:
    assert open_sqlite_store(url) is None


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:",
        "sqlite:x.db",
        "sqlite:/x.db",
        "sqlite://x.db",
        "sqlite://host/x.db",
        "sqlite:///",
        "sqlite:///data/",
        "sqlite:///x.db?mode=ro",
        "sqlite:///:memory:",
    ],
)
def test_a_malformed_sqlite_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        open_sqlite_store(url)
    assert "sqlite:///" in str(caught.value)
    assert caught.value.problems


@given(rest=st.text(max_size=40))
def test_any_sqlite_url_opens_lazily_or_is_a_config_error(rest: str) -> None:
    try:
        store = open_sqlite_store("sqlite:" + rest)
    except ConfigError:
        return
    assert store is not None
    assert store.url.startswith("sqlite:///")
    assert Path(store.url[len("sqlite:///") :]).is_absolute() or os.name == "nt"


def test_the_constructor_accepts_path_objects_and_strings(tmp_path: Path) -> None:
    as_path = SQLiteStore(tmp_path / "a.db")
    as_str = SQLiteStore(str(tmp_path / "a.db"))
    assert as_path.url == as_str.url
    assert repr(as_path) == f"SQLiteStore({as_path.url!r})"


# -- pragmas and schema -------------------------------------------------------------------


def test_wal_full_sync_and_foreign_keys_are_on(tmp_path: Path) -> None:
    store = migrated(tmp_path / "state.db")
    conn = store._connection()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    store.close()
    raw = sqlite3.connect(tmp_path / "state.db")
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        raw.close()


def test_the_schema_version_is_recorded_once_per_step(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.db")
    assert store.schema_version() == 0
    store.migrate()
    store.migrate()
    assert store.schema_version() == len(MIGRATIONS)
    store.close()
    raw = sqlite3.connect(tmp_path / "state.db")
    try:
        versions = [row[0] for row in raw.execute("SELECT version FROM schema_version")]
    finally:
        raw.close()
    assert versions == list(range(1, len(MIGRATIONS) + 1))


def test_a_schema_newer_than_this_release_is_refused(tmp_path: Path) -> None:
    migrated(tmp_path / "state.db").close()
    raw = sqlite3.connect(tmp_path / "state.db")
    with raw:
        raw.execute("INSERT INTO schema_version (version) VALUES (?)", (len(MIGRATIONS) + 5,))
    raw.close()
    store = SQLiteStore(tmp_path / "state.db")
    with pytest.raises(StoreError, match="upgrade assessio-connect"):
        store.migrate()
    store.close()


def test_two_stores_migrating_at_once_both_succeed(tmp_path: Path) -> None:
    stores = [SQLiteStore(tmp_path / "state.db") for _ in range(4)]
    start = threading.Barrier(len(stores))
    failures: list[BaseException] = []

    def run(store: SQLiteStore) -> None:
        try:
            start.wait(timeout=10)
            store.migrate()
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == []
    assert stores[0].schema_version() == len(MIGRATIONS)
    for store in stores:
        store.close()


def test_an_unmigrated_store_says_to_migrate(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.db")
    with pytest.raises(StoreError, match=r"migrate\(\)"):
        store.record_result("acme", "r-1", payload(), now=NOW)
    store.close()


def test_the_claim_query_uses_the_due_index(tmp_path: Path) -> None:
    store = migrated(tmp_path / "state.db")
    conn = store._connection()
    plan = " ".join(
        row[3]
        for row in conn.execute(
            """EXPLAIN QUERY PLAN SELECT id FROM deliveries INDEXED BY deliveries_due
               WHERE state IN ('pending', 'in_flight') AND next_attempt_at <= ?
               ORDER BY next_attempt_at, id LIMIT ?""",
            (NOW, 10),
        )
    )
    assert "deliveries_due" in plan
    assert "TEMP B-TREE" not in plan  # rows come in index order: no sort of the backlog
    store.close()


def test_a_result_id_already_owned_by_another_application_is_refused(tmp_path: Path) -> None:
    store = migrated(tmp_path / "state.db")
    store.add_order(new_order("r-1"), now=NOW)
    with pytest.raises(StoreError, match="already belongs to application 'app-r-1'"):
        store.add_order(new_order("r-1", application_id="app-other"), now=NOW)
    assert store.find_order("acme", "app-other") is None
    store.close()


# -- threads and connections --------------------------------------------------------------


def test_each_thread_gets_its_own_connection_and_close_closes_all(tmp_path: Path) -> None:
    store = migrated(tmp_path / "state.db")
    seen: list[sqlite3.Connection] = [store._connection()]

    def grab() -> None:
        store.ping()
        seen.append(store._connection())

    threads = [threading.Thread(target=grab) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len({id(conn) for conn in seen}) == 4
    store.close()
    for conn in seen:
        with pytest.raises(sqlite3.ProgrammingError):
            conn.execute("SELECT 1")
    with pytest.raises(StoreError, match="closed"):
        store.ping()


# -- outages ------------------------------------------------------------------------------


def test_a_locked_database_is_unavailable_with_an_actionable_message(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = migrated(path, busy_timeout=0.05)
    store.add_order(new_order(), now=NOW)
    locker = sqlite3.connect(path, isolation_level=None)
    secret_payload = payload(score=42).replace(b"Driving Leadership", b"Top Secret Subscore")
    try:
        locker.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StoreUnavailableError) as caught:
            store.record_result("acme", "r-1", secret_payload, now=NOW)
        message = str(caught.value)
        assert "locked" in message
        assert str(path) in message
        assert "Top Secret" not in message
        with pytest.raises(StoreUnavailableError):
            store.claim_deliveries(owner="a", now=NOW, lease=30, limit=5)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert store.record_result("acme", "r-1", secret_payload, now=NOW).version == 1
    store.close()


def test_a_path_that_cannot_be_opened_is_unavailable(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "missing-dir" / "state.db")
    with pytest.raises(StoreUnavailableError, match="cannot be opened") as caught:
        store.migrate()
    assert "missing-dir" in str(caught.value)
    assert "directory exists" in str(caught.value)
    with pytest.raises(StoreUnavailableError):
        store.ping()
    store.close()


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not a database at all " * 200)
    store = SQLiteStore(path)
    with pytest.raises(StoreError, match="not a usable SQLite database") as caught:
        store.migrate()
    assert not isinstance(caught.value, StoreUnavailableError)
    assert "backup" in str(caught.value)
    with pytest.raises(StoreUnavailableError):
        store.ping()
    store.close()


# -- schema upgrades ----------------------------------------------------------------------


def test_a_database_of_schema_1_is_upgraded_with_its_data(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    raw = sqlite3.connect(path, isolation_level=None)
    try:
        raw.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY)")
        for statement in MIGRATIONS[0]:
            raw.execute(statement)
        raw.execute("INSERT INTO schema_version (version) VALUES (1)")
    finally:
        raw.close()
    store = SQLiteStore(path)
    assert store.schema_version() == 1
    with sqlite3.connect(path, isolation_level=None) as raw:  # an order as release 1 wrote it
        raw.execute(
            """INSERT INTO orders (tenant, application_id, result_id, job_id, candidate_id,
                   order_json, metadata_json, state, next_attempt_at, created_at, updated_at)
               VALUES ('acme', 'app-r-1', 'r-1', 'job-7', 'cand-r-1', ?, '{}', 'sent', ?, ?, ?)""",
            (codec.dumps(new_order().order).decode(), NOW, NOW, NOW),
        )
    raw.close()
    store.migrate()
    assert store.schema_version() == len(MIGRATIONS)
    assert store.find_order("acme", "app-r-1") is not None
    # Migration 3 fills the e-mail column of the orders stored before it, for searches.
    assert [o.result_id for o in store.list_orders(email=" ADA@Example.com")] == ["r-1"]
    assert store.put_state("acme", "ns", "k", "v", now=NOW) is not None
    store.close()


# -- file permissions ---------------------------------------------------------------------


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.mark.skipif(os.name == "nt", reason="POSIX file modes")
def test_a_new_database_and_its_wal_and_shm_are_private_under_the_usual_umask(
    tmp_path: Path,
) -> None:
    previous = os.umask(0o022)
    try:
        store = migrated(tmp_path / "state.db")
        store.add_order(new_order(), now=NOW)
        store.lock_for_daemon()
        files = [tmp_path / name for name in ("state.db", "state.db-wal", "state.db-shm")]
        files.append(tmp_path / "state.db.lock")
        assert {path.name: _mode(path) for path in files} == {path.name: 0o600 for path in files}
        store.close()
    finally:
        os.umask(previous)


@pytest.mark.skipif(os.name == "nt", reason="POSIX file modes")
def test_an_existing_database_keeps_the_mode_its_operator_gave_it(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    migrated(path).close()
    path.chmod(0o640)
    store = migrated(path)
    store.add_order(new_order(), now=NOW)
    assert _mode(path) == 0o640
    store.close()


# -- one daemon per file ------------------------------------------------------------------


def test_a_second_daemon_lock_names_the_file_and_the_holders_pid(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    first = migrated(path)
    first.lock_for_daemon()
    first.lock_for_daemon()  # holding it already: nothing to do
    second = migrated(path)
    with pytest.raises(StoreError) as caught:
        second.lock_for_daemon()
    message = str(caught.value)
    assert not isinstance(caught.value, StoreUnavailableError)
    assert str(path) in message
    assert f"pid {os.getpid()}" in message
    assert "\n" not in message
    # Reading and writing beside the holder still work (operator commands do not lock).
    second.add_order(new_order(), now=NOW)
    assert first.find_order("acme", "app-r-1") is not None
    first.close()
    second.lock_for_daemon()  # the holder closed the store: free again
    second.close()


def test_the_daemon_lock_of_a_missing_directory_is_unavailable(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "missing-dir" / "state.db")
    with pytest.raises(StoreUnavailableError, match="cannot be opened"):
        store.lock_for_daemon()
    store.close()
