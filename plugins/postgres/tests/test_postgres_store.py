"""The PostgreSQL store: the shared store contract, plus URLs, errors, concurrency across store
instances (claims, migrations, results), work notifications and poll locks."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from postgres_test_db import (
    NOW,
    StoreContract,
    StoreFactory,
    admin,
    fresh_schema,
    new_order,
    payload,
    wait_until,
    with_params,
)
from psycopg import sql

from assessio_connect import ConfigError, StoreError, StoreUnavailableError, load_plugins
from assessio_connect.store import DeliveryState, PollLocks, ResultOutcome, WorkNotifications
from assessio_connect_postgres import MIGRATIONS, PostgresStore, open_postgres_store, parse_url
from assessio_connect_postgres._store import advisory_key

__all__: list[str] = []

T = TypeVar("T")
LEASE = 30.0
WAIT = 5.0


def opened(url: str) -> PostgresStore:
    store = open_postgres_store(url)
    assert store is not None
    return store


def migrated(url: str) -> PostgresStore:
    store = opened(url)
    store.migrate()
    return store


@pytest.fixture
def schema_url() -> Iterator[str]:
    with fresh_schema() as url:
        yield url


@pytest.fixture
def stores(schema_url: str) -> Iterator[Callable[[], PostgresStore]]:
    """Open migrated stores on one fresh schema; all are closed afterwards."""
    opened: list[PostgresStore] = []

    def factory() -> PostgresStore:
        store = migrated(schema_url)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


class TestPostgresStoreContract(StoreContract):
    @pytest.fixture
    def store_factory(self, stores: Callable[[], PostgresStore]) -> StoreFactory:
        return stores


def run_threads(count: int, target: Callable[[int], T]) -> list[T]:
    """Run `target(0..count-1)` on `count` threads started together; re-raise any failure."""
    start = threading.Barrier(count)
    results: dict[int, T] = {}
    failures: list[BaseException] = []

    def run(index: int) -> None:
        try:
            start.wait(timeout=WAIT)
            results[index] = target(index)
        except BaseException as exc:  # reported to the test thread below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not failures, failures
    return [results[n] for n in range(count)]


def lock_holder(key: int) -> int | None:
    """The server process holding the session-level advisory lock `key`, if any."""
    unsigned = key & 0xFFFF_FFFF_FFFF_FFFF
    with admin() as conn:
        row = conn.execute(
            """SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
               AND classid = %s AND objid = %s AND objsubid = 1""",
            (unsigned >> 32, unsigned & 0xFFFF_FFFF),
        ).fetchone()
    return None if row is None else int(str(row[0]))


def lock_held(key: int) -> bool:
    return lock_holder(key) is not None


def backend_of_lock(key: int) -> int:
    pid = lock_holder(key)
    assert pid is not None, "nobody holds the lock"
    return pid


def terminate(pid: int) -> None:
    with admin() as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


# -- URLs ---------------------------------------------------------------------------------


def test_urls_of_both_schemes_are_ours_and_others_are_not() -> None:
    for url in ("postgresql://db.example/assessio", "postgres://u@db.example:6432/x"):
        settings = parse_url(url)
        assert settings is not None
        assert settings.schema == "assessio_connect"
        assert (settings.pool_max, settings.pool_timeout) == (10, 5.0)
    for url in ("sqlite:///x.db", "mysql://db/x", "postgresql:/db", "", "postgresqlx://db/x"):
        assert parse_url(url) is None
        assert open_postgres_store(url) is None


def test_own_parameters_are_read_and_the_rest_left_for_libpq() -> None:
    settings = parse_url(
        "postgresql://app:s3cret@db.example:5433/assessio"
        "?schema=tenant_a&pool_max=25&pool_timeout=2.5&sslmode=require"
    )
    assert settings is not None
    assert (settings.schema, settings.pool_max, settings.pool_timeout) == ("tenant_a", 25, 2.5)
    assert settings.url == (
        "postgresql://app@db.example:5433/assessio"
        "?schema=tenant_a&pool_max=25&pool_timeout=2.5&sslmode=require"
    )
    conninfo = psycopg.conninfo.conninfo_to_dict(settings.conninfo)
    assert conninfo["password"] == "s3cret"
    assert conninfo["sslmode"] == "require"
    assert conninfo["port"] == "5433"
    assert "schema" not in conninfo
    assert "pool_max" not in conninfo
    assert conninfo["connect_timeout"] == "5"
    assert "s3cret" not in repr(settings)


def test_a_password_in_the_query_is_removed_from_the_url() -> None:
    settings = parse_url("postgresql://db.example/x?user=app&password=hunter2&sslmode=disable")
    assert settings is not None
    assert "hunter2" not in settings.url
    assert settings.url == "postgresql://db.example/x?user=app&sslmode=disable"


def test_password_file_is_read_without_its_newline(tmp_path: Path) -> None:
    secret = tmp_path / "pg-password"
    secret.write_text("from-a-file\n")
    settings = parse_url(f"postgresql://app@db.example/x?password_file={secret}")
    assert settings is not None
    conninfo = psycopg.conninfo.conninfo_to_dict(settings.conninfo)
    assert conninfo["password"] == "from-a-file"
    assert "from-a-file" not in settings.url
    with pytest.raises(ConfigError, match="either a password or password_file"):
        parse_url(f"postgresql://app:other@db.example/x?password_file={secret}")
    with pytest.raises(ConfigError, match="cannot read password_file"):
        parse_url(f"postgresql://app@db.example/x?password_file={tmp_path / 'missing'}")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("schema=Bad-Name", "schema must be"),
        ("schema=", "schema must be"),
        ("schema=1abc", "schema must be"),
        ("pool_max=0", "pool_max must be"),
        ("pool_max=ten", "pool_max must be"),
        ("pool_timeout=-1", "pool_timeout must be"),
        ("pool_timeout=nan", "pool_timeout must be"),
        ("schema=a&schema=b", "schema is given twice"),
        ("nonsense=1", "not a usable PostgreSQL URL"),
    ],
)
def test_bad_urls_are_config_errors_without_the_password(query: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        parse_url(f"postgresql://app:pa55word@db.example/x?{query}")
    assert "pa55word" not in str(caught.value)
    assert "@ store.url" in str(caught.value)


@given(
    password=st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
        min_size=4,
        max_size=20,
    ).filter(lambda p: p.strip() == p),
    query=st.sampled_from(["", "?schema=x", "?pool_max=oops", "?sslmode=bogus", "?bad=1"]),
)
def test_no_url_ever_shows_its_password(password: str, query: str) -> None:
    from urllib.parse import quote

    password = "§" + password  # a mark no message holds by chance
    url = f"postgresql://app:{quote(password, safe='')}@db.example/x{query}"
    try:
        settings = parse_url(url)
    except ConfigError as exc:
        message = str(exc)
    else:
        assert settings is not None
        message = settings.url + repr(settings)
    assert password not in message
    assert quote(password, safe="") not in message


# -- the plugin and the store's face ------------------------------------------------------


def test_the_entry_point_opens_postgres_urls() -> None:
    plugins = load_plugins()
    store = plugins.open_store("postgres://app:pw@db.example/x?schema=abc")
    try:
        assert isinstance(store, PostgresStore)
        assert store.url == "postgres://app@db.example/x?schema=abc"
        assert store.exclusive is False
        assert isinstance(store, WorkNotifications)
        assert isinstance(store, PollLocks)
        assert "pw" not in repr(store)
    finally:
        store.close()
    assert type(plugins.open_store("sqlite:///x.db")).__name__ == "SQLiteStore"


def test_an_unreachable_server_is_unavailable_and_says_where() -> None:
    store = open_postgres_store(
        "postgresql://app:topsecret@127.0.0.1:1/x?pool_timeout=0.3&connect_timeout=1"
    )
    assert store is not None
    try:
        with pytest.raises(StoreUnavailableError, match=r"127\.0\.0\.1.*port 1 ") as caught:
            store.ping()
        assert "topsecret" not in str(caught.value)
        with pytest.raises(StoreUnavailableError):
            store.add_order(new_order(), now=NOW)
        with pytest.raises(StoreUnavailableError):
            store.try_poll_lock("acme", "me")
    finally:
        store.close()


def test_a_schema_that_was_never_migrated_says_so(schema_url: str) -> None:
    store = open_postgres_store(schema_url)
    assert store is not None
    try:
        assert store.schema_version() == 0
        with pytest.raises(StoreError, match=r"no schema .* call migrate\(\)"):
            store.get_order("acme", "r-1")
        store.migrate()
        assert store.schema_version() == len(MIGRATIONS)
        assert store.get_order("acme", "r-1") is None
    finally:
        store.close()


def test_a_newer_schema_is_refused(stores: Callable[[], PostgresStore]) -> None:
    store = stores()
    with admin() as conn:
        conn.execute(
            sql.SQL("INSERT INTO {}.schema_version (version) VALUES (%s)").format(
                sql.Identifier(store.schema)
            ),
            (len(MIGRATIONS) + 1,),
        )
    with pytest.raises(StoreError, match="newer than this assessio-connect-postgres supports"):
        store.migrate()


def test_a_schema_of_version_1_is_upgraded_with_its_data(
    stores: Callable[[], PostgresStore],
) -> None:
    store = stores()
    store.add_order(new_order(), now=NOW)
    with admin() as conn:  # back to the schema before connector state existed
        schema = sql.Identifier(store.schema)
        conn.execute(sql.SQL("DROP TABLE {}.inbound_events").format(schema))
        conn.execute(sql.SQL("DROP TABLE {}.connector_state").format(schema))
        conn.execute(sql.SQL("DROP TABLE {}.delivery_attempts").format(schema))
        for index in ("orders_tenant_state", "orders_by_application", "orders_by_result"):
            conn.execute(sql.SQL("DROP INDEX {}.{}").format(schema, sql.Identifier(index)))
        conn.execute(sql.SQL("DROP INDEX {}.results_orphans").format(schema))
        conn.execute(sql.SQL("ALTER TABLE {}.orders DROP COLUMN email").format(schema))
        conn.execute(sql.SQL("DELETE FROM {}.schema_version WHERE version > 1").format(schema))
    assert store.schema_version() == 1
    store.migrate()
    assert store.schema_version() == len(MIGRATIONS)
    assert store.find_order("acme", "app-r-1") is not None
    assert store.put_state("acme", "ns", "k", "v", now=NOW) is not None
    # Migration 3 fills the e-mail column of the orders stored before it, for searches.
    assert [o.result_id for o in store.list_orders(email=" ADA@Example.com")] == ["r-1"]


@pytest.mark.parametrize("server_default", ["off", "local", "remote_write"])
def test_every_connection_commits_durably_whatever_the_default(
    schema_url: str, server_default: str
) -> None:
    # As if the server, database or role said so: libpq's options set the session default.
    url = with_params(schema_url, options=quote(f"-c synchronous_commit={server_default}"))
    store = migrated(url)
    try:
        with store._conn("inspect") as conn:
            assert conn.execute("SHOW synchronous_commit").fetchone() == ("on",)
        store.add_order(new_order(), now=NOW)  # writes go through pinned connections
    finally:
        store.close()
    settings = parse_url(url)
    assert settings is not None
    with psycopg.connect(settings.conninfo, autocommit=True) as plain:  # not the store's
        assert plain.execute("SHOW synchronous_commit").fetchone() == (server_default,)


def test_a_stronger_synchronous_commit_is_kept(schema_url: str) -> None:
    store = migrated(with_params(schema_url, options=quote("-c synchronous_commit=remote_apply")))
    try:
        with store._conn("inspect") as conn:
            assert conn.execute("SHOW synchronous_commit").fetchone() == ("remote_apply",)
    finally:
        store.close()


def test_database_errors_never_quote_the_stored_data(stores: Callable[[], PostgresStore]) -> None:
    store = stores()
    store.add_order(new_order(), now=NOW)
    with admin() as conn:  # make every result insert fail, with the row in the DETAIL
        conn.execute(
            sql.SQL("ALTER TABLE {}.results ADD CONSTRAINT refuse CHECK (false) NOT VALID").format(
                sql.Identifier(store.schema)
            )
        )
    with pytest.raises(StoreError) as caught:
        store.record_result("acme", "r-1", payload(score=42), now=NOW)
    message = str(caught.value)
    assert not isinstance(caught.value, StoreUnavailableError)
    assert 'violates check constraint "refuse"' in message
    assert "23514" in message
    assert "Driving Leadership" not in message
    assert "r-1" not in message


def test_error_texts_with_nul_or_surrogates_are_still_recorded(
    stores: Callable[[], PostgresStore],
) -> None:
    store = stores()
    delivery_id = StoreContract().queued(store, "r-1")
    store.claim_deliveries(owner="a", now=NOW, lease=LEASE, limit=1)
    assert store.delivery_retry(
        delivery_id, owner="a", error="ATS said \x00 \udc80", due=NOW + 60, now=NOW
    )
    [retried] = store.list_deliveries()
    assert retried.last_error == "ATS said \ufffd ?"
    with pytest.raises(StoreError, match="not valid Unicode"):
        store.set_cursor("acme", "poll", "page-\udc80", now=NOW)


def test_the_resultid_of_another_application_is_refused(
    stores: Callable[[], PostgresStore],
) -> None:
    store = stores()
    store.add_order(new_order("r-1", application_id="app-a"), now=NOW)
    with pytest.raises(StoreError, match="already belongs to 'app-a'"):
        store.add_order(new_order("r-1", application_id="app-b"), now=NOW)


# -- concurrency across store instances ----------------------------------------------------


def test_claims_from_4_threads_on_2_instances_never_overlap(
    stores: Callable[[], PostgresStore],
) -> None:
    setup = stores()
    expected: set[int] = set()
    for n in range(120):
        setup.add_order(new_order(f"r-{n}"), now=NOW)
        recorded = setup.record_result("acme", f"r-{n}", payload(f"r-{n}"), now=NOW + n % 5)
        assert recorded.delivery_id is not None
        expected.add(recorded.delivery_id)
    instances = [stores(), stores()]

    def claimer(index: int) -> list[int]:
        store, owner = instances[index % 2], f"owner-{index}"
        mine: list[int] = []
        while batch := store.claim_deliveries(owner=owner, now=NOW + 10, lease=LEASE, limit=5):
            mine.extend(d.id for d in batch)
            for delivery in batch:
                assert store.delivery_done(delivery.id, owner=owner, now=NOW + 11)
        return mine

    claims = run_threads(8, claimer)
    everything = [i for owned in claims for i in owned]
    assert len(everything) == len(set(everything)) == 120
    assert set(everything) == expected
    assert sum(1 for owned in claims if owned) >= 2  # the work really was shared
    assert {d.state for d in setup.list_deliveries(limit=1000)} == {DeliveryState.DELIVERED}


def test_order_claims_from_two_instances_never_overlap(
    stores: Callable[[], PostgresStore],
) -> None:
    setup = stores()
    for n in range(100):
        setup.add_order(new_order(f"r-{n}"), now=NOW)
    instances = [stores(), stores()]

    def claimer(index: int) -> list[str]:
        store = instances[index % 2]
        mine: list[str] = []
        while batch := store.claim_orders(owner=f"o{index}", now=NOW, lease=LEASE, limit=3):
            mine.extend(o.result_id for o in batch)
        return mine

    claimed = [r for owned in run_threads(4, claimer) for r in owned]
    assert sorted(claimed) == sorted(f"r-{n}" for n in range(100))


def test_migrations_from_4_instances_at_once_run_once(schema_url: str) -> None:
    instances = [opened(schema_url) for _ in range(4)]
    try:
        run_threads(4, lambda n: instances[n].migrate())
        first = instances[0]
        assert first.schema_version() == len(MIGRATIONS)
        with admin() as conn:
            count = conn.execute(
                sql.SQL("SELECT count(*) FROM {}.schema_version").format(
                    sql.Identifier(first.schema)
                )
            ).fetchone()
        assert count is not None
        assert count[0] == len(MIGRATIONS)
        first.add_order(new_order(), now=NOW)
    finally:
        for store in instances:
            store.close()


def test_concurrent_versions_of_one_result_count_up_without_gaps(
    stores: Callable[[], PostgresStore],
) -> None:
    setup = stores()
    setup.add_order(new_order(), now=NOW)
    instances = [stores(), stores()]
    outcomes = run_threads(
        6,
        lambda n: instances[n % 2].record_result("acme", "r-1", payload(score=n), now=NOW + n),
    )
    assert sorted(o.version for o in outcomes) == [1, 2, 3, 4, 5, 6]
    assert sorted(o.outcome.value for o in outcomes) == ["new"] + ["updated"] * 5
    deliveries = setup.list_deliveries()
    assert len(deliveries) == 6
    assert sum(d.state is DeliveryState.PENDING for d in deliveries) == 1


def test_the_same_result_arriving_at_two_replicas_at_once_is_stored_once(
    stores: Callable[[], PostgresStore],
) -> None:
    setup = stores()
    setup.add_order(new_order(), now=NOW)
    instances = [stores(), stores()]
    outcomes = run_threads(
        4, lambda n: instances[n % 2].record_result("acme", "r-1", payload(), now=NOW)
    )
    assert sorted(o.outcome for o in outcomes) == sorted(
        [ResultOutcome.NEW] + [ResultOutcome.DUPLICATE] * 3
    )
    assert len(setup.list_deliveries()) == 1


def test_the_same_order_from_two_replicas_at_once_is_created_once(
    stores: Callable[[], PostgresStore],
) -> None:
    instances = [stores(), stores()]
    made = run_threads(4, lambda n: instances[n % 2].add_order(new_order(), now=NOW + n))
    assert sorted(created for _, created in made) == [False, False, False, True]
    assert all(record == made[0][0] for record, _ in made)


# -- work notifications -------------------------------------------------------------------


class Wakes:
    """Callbacks for `subscribe` that count and can be waited for."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.counts = {"deliveries": 0, "orders": 0}

    def deliveries(self) -> None:
        self._bump("deliveries")

    def orders(self) -> None:
        self._bump("orders")

    def _bump(self, kind: str) -> None:
        with self.cond:
            self.counts[kind] += 1
            self.cond.notify_all()

    def wait(self, kind: str, above: int) -> int:
        with self.cond:
            assert self.cond.wait_for(lambda: self.counts[kind] > above, WAIT), (
                f"no {kind} notification within {WAIT} s: {self.counts}"
            )
            return self.counts[kind]


def test_notifications_wake_a_subscriber_in_another_instance(
    stores: Callable[[], PostgresStore],
) -> None:
    listener, writer = stores(), stores()
    wakes = Wakes()
    listener.subscribe(deliveries=wakes.deliveries, orders=wakes.orders)
    writer.add_order(new_order(), now=NOW)
    wakes.wait("orders", 0)
    seen = wakes.counts["deliveries"]
    recorded = writer.record_result("acme", "r-1", payload(), now=NOW)
    seen = wakes.wait("deliveries", seen)
    assert recorded.delivery_id is not None
    [claimed] = writer.claim_deliveries(owner="w", now=NOW, lease=LEASE, limit=1)
    assert writer.delivery_retry(claimed.id, owner="w", error="503", due=NOW + 1, now=NOW)
    seen = wakes.wait("deliveries", seen)
    assert writer.requeue_deliveries(ids=[claimed.id], now=NOW + 2) == 1
    seen = wakes.wait("deliveries", seen)
    writer.claim_deliveries(owner="w", now=NOW + 2, lease=LEASE, limit=1)
    assert writer.release("w", now=NOW + 3) == 1
    wakes.wait("deliveries", seen)
    orders_seen = wakes.counts["orders"]
    writer.order_retry("acme", "r-1", "Assessio had a server error", due=NOW + 1, now=NOW)
    wakes.wait("orders", orders_seen)


def test_the_listener_reconnects_and_then_wakes_everyone(
    stores: Callable[[], PostgresStore],
) -> None:
    listener, writer = stores(), stores()
    wakes = Wakes()
    listener.subscribe(deliveries=wakes.deliveries, orders=wakes.orders)
    [subscription] = listener._listeners
    pid = subscription.backend_pid
    assert pid is not None
    before = dict(wakes.counts)
    terminate(pid)
    # After reconnecting it wakes both kinds of work: notifications meanwhile were lost.
    wakes.wait("orders", before["orders"])
    wakes.wait("deliveries", before["deliveries"])
    assert subscription.backend_pid not in (None, pid)
    seen = wakes.counts["orders"]
    writer.add_order(new_order(), now=NOW)
    wakes.wait("orders", seen)


def test_close_stops_listening(stores: Callable[[], PostgresStore]) -> None:
    store = stores()
    wakes = Wakes()
    store.subscribe(deliveries=wakes.deliveries, orders=wakes.orders)
    [subscription] = store._listeners
    assert subscription.listening
    store.close()
    assert not subscription.alive
    with pytest.raises(StoreError, match="closed"):
        store.subscribe(deliveries=wakes.deliveries, orders=wakes.orders)


def test_notifications_stay_within_their_schema(stores: Callable[[], PostgresStore]) -> None:
    mine = stores()
    wakes = Wakes()
    mine.subscribe(deliveries=wakes.deliveries, orders=wakes.orders)
    with fresh_schema() as other_url:
        other = migrated(other_url)
        try:
            other.add_order(new_order(), now=NOW)
        finally:
            other.close()
    mine.add_order(new_order("r-2"), now=NOW)  # a marker: ours arrives, the other's never
    wakes.wait("orders", 0)
    assert wakes.counts["orders"] == 1


# -- poll locks ---------------------------------------------------------------------------


def test_poll_locks_are_exclusive_across_instances(stores: Callable[[], PostgresStore]) -> None:
    first, second = stores(), stores()
    assert first.try_poll_lock("globex", "replica-1")
    assert first.try_poll_lock("globex", "replica-1")  # kept
    assert not second.try_poll_lock("globex", "replica-2")
    assert second.try_poll_lock("acme", "replica-2")  # another tenant is another lock
    assert not first.try_poll_lock("acme", "replica-1")
    first.release_poll_lock("globex", "replica-1")
    assert second.try_poll_lock("globex", "replica-2")
    assert not first.try_poll_lock("globex", "replica-1")
    second.close()  # closing drops every lock
    assert first.try_poll_lock("globex", "replica-1")
    assert first.try_poll_lock("acme", "replica-1")


def test_a_poll_lock_dies_with_its_holders_connection(
    stores: Callable[[], PostgresStore],
) -> None:
    holder, other = stores(), stores()
    assert holder.try_poll_lock("globex", "replica-1")
    assert not other.try_poll_lock("globex", "replica-2")
    terminate(backend_of_lock(advisory_key("poll", holder.schema, "globex")))
    wait_until(lambda: not lock_held(advisory_key("poll", holder.schema, "globex")), WAIT)
    assert other.try_poll_lock("globex", "replica-2")
    assert not holder.try_poll_lock("globex", "replica-1")  # noticed, and the lock is taken


def test_poll_locks_of_two_schemas_are_independent(schema_url: str) -> None:
    with fresh_schema() as other_url:
        ours, theirs = migrated(schema_url), migrated(other_url)
        try:
            assert ours.try_poll_lock("acme", "a")
            assert theirs.try_poll_lock("acme", "b")
        finally:
            ours.close()
            theirs.close()
