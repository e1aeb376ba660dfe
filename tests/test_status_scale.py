"""The operators' views stay cheap at 50 tenants and 100,000 candidates: every query behind the
overview and a trace reads an index, never a whole table (SQLite's query plans say so), and the
overview counts right."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator

import pytest

from assessio_connect import codec
from assessio_connect.runtime._logging import Scrubber
from assessio_connect.runtime._sqlite_store import SQLiteStore
from assessio_connect.runtime._status import Health, TenantInfo, find_traces, overview
from store_contract import new_order

ROWS = 100_000
TENANTS = 50
BIG_TABLES = ("orders", "results", "deliveries", "delivery_attempts")
"""Tables that grow with the candidates (cursors hold a row or two per tenant)."""


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteStore]:
    """100,000 orders over 50 tenants, each with a result and a delivery: one in 499 still
    pending (retrying), one in 997 dead (in every tenant), the rest delivered; one order in 101
    pending."""
    path = tmp_path_factory.mktemp("scale") / "state.db"
    store = SQLiteStore(path)
    store.migrate()
    store.close()
    raw = sqlite3.connect(path, isolation_level=None)
    try:
        raw.execute("BEGIN")
        raw.execute(
            """WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
               INSERT INTO orders (tenant, application_id, result_id, job_id, candidate_id,
                   order_json, metadata_json, state, reference, attempts, next_attempt_at,
                   created_at, updated_at, email)
               SELECT printf('org-%02d', i % ? + 1), 'app-' || i, 'res-' || i, 'job-7',
                   'cand-' || i, ?, '{}', CASE WHEN i % 101 = 0 THEN 'pending' ELSE 'sent' END,
                   'ref-' || i, 1, i, i, i, 'candidate' || i || '@example.com'
               FROM n""",
            (ROWS, TENANTS, codec.dumps(new_order().order).decode()),
        )
        raw.execute(
            """INSERT INTO results (tenant, result_id, version, payload, digest, received_at,
                   orphan)
               SELECT tenant, result_id, 1, CAST('{"resultId":"x","score":5}' AS BLOB),
                   'digest-' || id, id, 0 FROM orders"""
        )
        raw.execute(
            """INSERT INTO deliveries (tenant, result_id, version, state, attempts,
                   next_attempt_at, last_error, created_at, updated_at)
               SELECT tenant, result_id, 1,
                   CASE WHEN id % 997 = 0 THEN 'dead' WHEN id % 499 = 0 THEN 'pending'
                        ELSE 'delivered' END,
                   1, id, CASE WHEN id % 499 = 0 THEN 'ATS answered 503' END, id, id
               FROM orders"""
        )
        raw.execute("COMMIT")
    finally:
        raw.close()
    opened = SQLiteStore(path)
    try:
        yield opened
    finally:
        opened.close()


def full_scans(store: SQLiteStore, action: Callable[[], object]) -> list[str]:
    """Run `action`, then return the plan line of every statement it ran that reads a whole
    table (`SCAN <table>` without an index)."""
    statements: list[str] = []
    conn = store._connection()
    conn.set_trace_callback(statements.append)
    try:
        action()
    finally:
        conn.set_trace_callback(None)
    scans = []
    for statement in statements:
        if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
            continue
        for row in conn.execute("EXPLAIN QUERY PLAN " + statement):
            detail = str(row[3])
            table = detail.removeprefix("SCAN ").split(" ")[0]
            if detail.startswith("SCAN ") and " INDEX " not in detail and table in BIG_TABLES:
                scans.append(f"{detail}: {' '.join(statement.split())[:120]}")
    return scans


def infos() -> list[TenantInfo]:
    return [TenantInfo(f"org-{n:02d}", "reference", "push") for n in range(1, TENANTS + 1)]


def test_the_overview_reads_indexes_only_and_counts_right(big_store: SQLiteStore) -> None:
    scans = full_scans(big_store, big_store.tenant_activity)
    assert scans == []
    started = time.perf_counter()
    view = overview(big_store, infos(), now=float(ROWS + 1000), scrub=Scrubber())
    elapsed = time.perf_counter() - started
    assert len(view.tenants) == TENANTS
    assert view.count(Health.FAILING) == TENANTS  # every tenant has dead letters
    assert sum(t.deliveries_dead for t in view.tenants) == ROWS // 997
    assert sum(t.deliveries_pending for t in view.tenants) == ROWS // 499
    assert sum(t.deliveries_retrying for t in view.tenants) == ROWS // 499
    assert sum(t.orders_pending for t in view.tenants) == ROWS // 101
    assert sum(t.results for t in view.tenants) == ROWS
    assert elapsed < 2.0, f"the overview took {elapsed:.2f} s over {ROWS} rows"


def test_a_trace_reads_indexes_only(big_store: SQLiteStore) -> None:
    def trace() -> None:
        [found] = find_traces(big_store, "Candidate5000@example.com", scrub=Scrubber())
        assert found.result_id == "res-5000"
        [by_application] = find_traces(big_store, "app-3988", scrub=Scrubber(), tenant="org-39")
        assert by_application.deliveries[0].state.value == "dead"  # 3988 = 4 x 997

    assert full_scans(big_store, trace) == []
