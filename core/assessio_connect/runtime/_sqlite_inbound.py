"""The inbound queue of `SQLiteStore`: events push connectors accepted, handled later.

A mixin over the store's `_read`/`_write` transactions, so the queue's SQL lives in one place;
its schema step is `INBOUND_MIGRATION`. Like the outbox, an in-flight row's `next_attempt_at`
is its lease expiry, so one partial index serves claims, expired leases and `next_event_due`.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .store import InboundRecord, InboundState

__all__ = ["INBOUND_MIGRATION", "SQLiteInbound"]

INBOUND_MIGRATION: tuple[str, ...] = (
    """CREATE TABLE inbound_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        key TEXT NOT NULL,
        payload BLOB NOT NULL,
        headers_json TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        last_error TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        lease_owner TEXT,
        lease_expires_at REAL,
        UNIQUE (tenant, key)
    )""",
    """CREATE INDEX inbound_due ON inbound_events (next_attempt_at, id)
        WHERE state IN ('pending', 'in_flight')""",
    "CREATE INDEX inbound_tenant_state ON inbound_events (tenant, state, created_at)",
    "CREATE INDEX inbound_recent ON inbound_events (created_at, id)",
    "CREATE INDEX inbound_lease ON inbound_events (lease_owner) WHERE lease_owner IS NOT NULL",
)
"""Schema step: the `inbound_events` table and its indexes."""

_COLUMNS = (
    "id, tenant, key, payload, headers_json, state, attempts, next_attempt_at, last_error, "
    "created_at, updated_at, lease_owner, lease_expires_at"
)
_NO_LIMIT = -1


def _record(row: sqlite3.Row) -> InboundRecord:
    expires = row["lease_expires_at"]
    return InboundRecord(
        id=row["id"],
        tenant=row["tenant"],
        key=row["key"],
        payload=bytes(row["payload"]),
        headers=json.loads(row["headers_json"]),
        state=InboundState(row["state"]),
        attempts=row["attempts"],
        next_attempt_at=float(row["next_attempt_at"]),
        last_error=row["last_error"],
        created_at=float(row["created_at"]),
        updated_at=float(row["updated_at"]),
        lease_owner=row["lease_owner"],
        lease_expires_at=None if expires is None else float(expires),
    )


def _only(tenants: Collection[str] | None) -> str | None:
    """`tenants` as a JSON array parameter, or None for every tenant."""
    return None if tenants is None else json.dumps(sorted(tenants))


def _filter(tenant: str | None, state: InboundState | None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if tenant is not None:
        clauses.append("tenant = ?")
        params.append(tenant)
    if state is not None:
        clauses.append("state = ?")
        params.append(InboundState(state).value)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


class SQLiteInbound:
    """The `Store` methods of the inbound queue, for `SQLiteStore`."""

    if TYPE_CHECKING:

        def _read(self, action: str) -> contextlib.AbstractContextManager[sqlite3.Connection]: ...

        def _write(self, action: str) -> contextlib.AbstractContextManager[sqlite3.Connection]: ...

    def enqueue_event(
        self,
        tenant: str,
        key: str,
        payload: bytes,
        headers: Mapping[str, str],
        *,
        now: float,
    ) -> tuple[InboundRecord, bool]:
        """Record an event due now, or return the stored one for (tenant, key)."""
        headers_json = json.dumps(dict(headers), sort_keys=True, ensure_ascii=False)
        with self._write("queue an inbound event") as conn:
            row = conn.execute(
                f"""INSERT INTO inbound_events (tenant, key, payload, headers_json, state,
                        attempts, next_attempt_at, created_at, updated_at)
                    VALUES (?1, ?2, ?3, ?4, 'pending', 0, ?5, ?5, ?5)
                    ON CONFLICT (tenant, key) DO NOTHING
                    RETURNING {_COLUMNS}""",  # noqa: S608
                (tenant, key, bytes(payload), headers_json, now),
            ).fetchone()
            if row is not None:
                return _record(row), True
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM inbound_events WHERE tenant = ? AND key = ?",  # noqa: S608
                (tenant, key),
            ).fetchone()
        return _record(row), False

    def claim_events(
        self,
        *,
        owner: str,
        now: float,
        lease: float,
        limit: int,
        tenants: Collection[str] | None = None,
    ) -> Sequence[InboundRecord]:
        """Claim due pending events and expired leases, oldest due first."""
        if limit <= 0:
            return []
        only = _only(tenants)
        with self._write("claim inbound events") as conn:
            ids = [
                row[0]
                for row in conn.execute(
                    """SELECT id FROM inbound_events INDEXED BY inbound_due
                       WHERE state IN ('pending', 'in_flight') AND next_attempt_at <= ?1
                         AND (?2 IS NULL OR tenant IN (SELECT value FROM json_each(?2)))
                       ORDER BY next_attempt_at, id LIMIT ?3""",
                    (now, only, limit),
                )
            ]
            if not ids:
                return []
            rows = conn.execute(
                f"""UPDATE inbound_events SET state = 'in_flight', attempts = attempts + 1,
                        next_attempt_at = ?1 + ?2, lease_expires_at = ?1 + ?2,
                        lease_owner = ?3, updated_at = ?1
                    WHERE id IN (SELECT value FROM json_each(?4))
                    RETURNING {_COLUMNS}""",  # noqa: S608
                (now, lease, owner, json.dumps(ids)),
            ).fetchall()
        position = {event_id: index for index, event_id in enumerate(ids)}
        rows.sort(key=lambda row: position[row["id"]])
        return [_record(row) for row in rows]

    def _finish_event(
        self, action: str, event_id: int, owner: str, sets: str, values: tuple[Any, ...]
    ) -> bool:
        """Record the outcome of a handling while `owner` holds the lease."""
        with self._write(action) as conn:
            cursor = conn.execute(
                f"""UPDATE inbound_events SET {sets}, lease_owner = NULL,
                        lease_expires_at = NULL
                    WHERE id = ? AND state = 'in_flight' AND lease_owner = ?""",  # noqa: S608
                (*values, event_id, owner),
            )
            return cursor.rowcount == 1

    def event_done(self, event_id: int, *, owner: str, now: float) -> bool:
        """Mark handled; False when `owner` no longer holds the lease."""
        return self._finish_event(
            "mark an inbound event done",
            event_id,
            owner,
            "state = 'done', last_error = NULL, updated_at = ?",
            (now,),
        )

    def event_retry(self, event_id: int, *, owner: str, error: str, due: float, now: float) -> bool:
        """Back to pending, due at `due`; False when the lease was lost."""
        return self._finish_event(
            "reschedule an inbound event",
            event_id,
            owner,
            "state = 'pending', next_attempt_at = ?, last_error = ?, updated_at = ?",
            (due, error, now),
        )

    def event_dead(self, event_id: int, *, owner: str, error: str, now: float) -> bool:
        """Dead-letter with the reason; False when the lease was lost."""
        return self._finish_event(
            "dead-letter an inbound event",
            event_id,
            owner,
            "state = 'dead', last_error = ?, updated_at = ?",
            (error, now),
        )

    def renew_event_leases(
        self, ids: Sequence[int], *, owner: str, now: float, lease: float
    ) -> Sequence[int]:
        """Extend `owner`'s unexpired leases on `ids` to `now + lease`; returns those renewed."""
        if not ids:
            return []
        with self._write("renew inbound event leases") as conn:
            renewed = {
                row[0]
                for row in conn.execute(
                    """UPDATE inbound_events SET next_attempt_at = ?1 + ?2,
                           lease_expires_at = ?1 + ?2
                       WHERE id IN (SELECT value FROM json_each(?4)) AND state = 'in_flight'
                         AND lease_owner = ?3 AND lease_expires_at > ?1
                       RETURNING id""",
                    (now, lease, owner, json.dumps([int(i) for i in ids])),
                )
            }
        return [i for i in ids if i in renewed]

    def release_events(self, owner: str | None, *, now: float) -> int:
        """Give back `owner`'s leased events (all when None), due at once."""
        with self._write("release inbound event leases") as conn:
            cursor = conn.execute(
                """UPDATE inbound_events SET state = 'pending', next_attempt_at = ?1,
                       lease_owner = NULL, lease_expires_at = NULL, updated_at = ?1
                   WHERE lease_owner IS NOT NULL AND (?2 IS NULL OR lease_owner = ?2)
                     AND state = 'in_flight'""",
                (now, owner),
            )
            return cursor.rowcount

    def requeue_events(
        self,
        *,
        ids: Sequence[int] = (),
        dead: bool = False,
        tenant: str | None = None,
        now: float,
    ) -> int:
        """Make the given events (and every dead one when `dead`) pending and due now."""
        with self._write("requeue inbound events") as conn:
            cursor = conn.execute(
                """UPDATE inbound_events SET state = 'pending', attempts = 0,
                       next_attempt_at = ?1, lease_owner = NULL, lease_expires_at = NULL,
                       updated_at = ?1, created_at = ?1
                   WHERE state IN ('pending', 'in_flight', 'dead')
                     AND (?4 IS NULL OR tenant = ?4)
                     AND (id IN (SELECT value FROM json_each(?2)) OR (?3 AND state = 'dead'))""",
                (now, json.dumps([int(i) for i in ids]), int(dead), tenant),
            )
            return cursor.rowcount

    def get_event(self, event_id: int) -> InboundRecord | None:
        """One event by id."""
        with self._read("read an inbound event") as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM inbound_events WHERE id = ?",  # noqa: S608
                (event_id,),
            ).fetchone()
        return None if row is None else _record(row)

    def list_events(
        self,
        *,
        tenant: str | None = None,
        state: InboundState | None = None,
        limit: int | None = 100,
    ) -> Sequence[InboundRecord]:
        """Most recently accepted first."""
        where, params = _filter(tenant, state)
        with self._read("list inbound events") as conn:
            rows = conn.execute(
                f"""SELECT {_COLUMNS} FROM inbound_events{where}
                    ORDER BY created_at DESC, id DESC LIMIT ?""",  # noqa: S608
                (*params, _NO_LIMIT if limit is None else max(limit, 0)),
            ).fetchall()
        return [_record(row) for row in rows]

    def count_events(self, *, tenant: str | None = None, state: InboundState | None = None) -> int:
        """How many events `list_events` would list without a limit."""
        where, params = _filter(tenant, state)
        with self._read("count inbound events") as conn:
            query = f"SELECT COUNT(*) FROM inbound_events{where}"  # noqa: S608
            return int(conn.execute(query, params).fetchone()[0])

    def event_counts(self) -> Mapping[tuple[str, InboundState], int]:
        """Events per (tenant, state), from the (tenant, state) index."""
        with self._read("count inbound events by state") as conn:
            rows = conn.execute(
                """SELECT tenant, state, COUNT(*) FROM inbound_events
                   INDEXED BY inbound_tenant_state GROUP BY tenant, state"""
            ).fetchall()
        return {(name, InboundState(state)): int(count) for name, state, count in rows}

    def next_event_due(self, *, tenants: Collection[str] | None = None) -> float | None:
        """The earliest due time (or lease expiry) of unfinished events."""
        only = _only(tenants)
        with self._read("find the next due inbound event") as conn:
            found = conn.execute(
                """SELECT MIN(next_attempt_at) FROM inbound_events INDEXED BY inbound_due
                   WHERE state IN ('pending', 'in_flight')
                     AND (?1 IS NULL OR tenant IN (SELECT value FROM json_each(?1)))""",
                (only,),
            ).fetchone()[0]
        return None if found is None else float(found)
