"""The inbound queue of `PostgresStore`: events push connectors accepted, handled later.

A mixin over the store's pooled connections, so the queue's SQL lives in one place; its schema
step is `INBOUND_MIGRATION`. Claims skip rows another replica is claiming (`FOR UPDATE SKIP
LOCKED`), and whatever makes an event due sends `NOTIFY … 'events'` in the same statement or
transaction, so idle replicas wake at commit.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import psycopg

from assessio_connect.store import InboundRecord, InboundState

from ._listener import EVENTS

__all__ = ["INBOUND_MIGRATION", "PostgresInbound"]

INBOUND_MIGRATION: tuple[str, ...] = (
    """CREATE TABLE {s}.inbound_events (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant text NOT NULL,
        key text NOT NULL,
        payload bytea NOT NULL,
        headers_json text NOT NULL,
        state text NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at double precision NOT NULL,
        last_error text,
        created_at double precision NOT NULL,
        updated_at double precision NOT NULL,
        lease_owner text,
        lease_expires_at double precision,
        CONSTRAINT inbound_events_key UNIQUE (tenant, key)
    )""",
    # Unfinished rows only; an in-flight row's next_attempt_at is its lease expiry.
    """CREATE INDEX inbound_due ON {s}.inbound_events (next_attempt_at, id)
        WHERE state IN ('pending', 'in_flight')""",
    "CREATE INDEX inbound_tenant_state ON {s}.inbound_events (tenant, state, created_at)",
    "CREATE INDEX inbound_recent ON {s}.inbound_events (created_at, id)",
    """CREATE INDEX inbound_lease ON {s}.inbound_events (lease_owner)
        WHERE lease_owner IS NOT NULL""",
)
"""Schema step: the `inbound_events` table and its indexes."""

NOTIFY_HORIZON = 5.0
"""A retry due within this many seconds is announced to the other replicas (as deliveries)."""

_COLUMNS = (
    "id, tenant, key, payload, headers_json, state, attempts, next_attempt_at, last_error, "
    "created_at, updated_at, lease_owner, lease_expires_at"
)
_ALIASED = ", ".join(f"e.{name.strip()}" for name in _COLUMNS.split(","))

Row = tuple[Any, ...]
Connection = psycopg.Connection[Row]


def _record(row: Row) -> InboundRecord:
    return InboundRecord(
        id=row[0],
        tenant=row[1],
        key=row[2],
        payload=bytes(row[3]),
        headers=json.loads(row[4]),
        state=InboundState(row[5]),
        attempts=row[6],
        next_attempt_at=row[7],
        last_error=row[8],
        created_at=row[9],
        updated_at=row[10],
        lease_owner=row[11],
        lease_expires_at=row[12],
    )


def _storable(text: str) -> str:
    """Text PostgreSQL accepts: an ATS's answer quoted in an error may hold a NUL or a lone
    surrogate, which must not make the error unrecordable (as the outbox's errors)."""
    from ._store import _storable as storable

    return storable(text)


def _tenants(tenants: Collection[str] | None) -> list[str] | None:
    return None if tenants is None else sorted(tenants)


class PostgresInbound:
    """The `Store` methods of the inbound queue, for `PostgresStore`."""

    if TYPE_CHECKING:
        channel: str

        def _q(self, text: str, sets: str = "", where: str = "") -> bytes: ...

        def _conn(self, action: str) -> contextlib.AbstractContextManager[Connection]: ...

        def _tx(self, action: str) -> contextlib.AbstractContextManager[Connection]: ...

        def _notify(self, conn: Connection, payload: str) -> None: ...

    def enqueue_event(
        self,
        tenant: str,
        key: str,
        payload: bytes,
        headers: Mapping[str, str],
        *,
        now: float,
    ) -> tuple[InboundRecord, bool]:
        """Record an event due now (one statement, with its NOTIFY), or return the stored one
        for (tenant, key); a concurrent insert of the same key waits for the other's commit."""
        params = {
            "t": tenant,
            "k": key,
            "p": bytes(payload),
            "h": json.dumps(dict(headers), sort_keys=True, ensure_ascii=False),
            "now": now,
            "channel": self.channel,
            "kind": EVENTS,
        }
        with self._conn("queue an inbound event") as conn:
            row = conn.execute(
                self._q(
                    f"""WITH added AS (
                            INSERT INTO {{s}}.inbound_events (tenant, key, payload, headers_json,
                                state, attempts, next_attempt_at, created_at, updated_at)
                            VALUES (%(t)s, %(k)s, %(p)s, %(h)s, 'pending', 0, %(now)s,
                                %(now)s, %(now)s)
                            ON CONFLICT (tenant, key) DO NOTHING
                            RETURNING {_COLUMNS})
                        SELECT {_COLUMNS}, pg_notify(%(channel)s, %(kind)s) FROM added"""  # noqa: S608
                ),
                params,
            ).fetchone()
            if row is not None:
                return _record(row), True
            row = conn.execute(
                self._q(
                    f"SELECT {_COLUMNS} FROM {{s}}.inbound_events WHERE tenant = %s AND key = %s"  # noqa: S608
                ),
                (tenant, key),
            ).fetchone()
        if row is None:  # pragma: no cover - a conflicting row exists, so it is found
            raise psycopg.DataError("the conflicting inbound event was not found")
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
        """Claim due pending events and expired leases, oldest due first; rows another
        replica is claiming at this moment are skipped, not waited for."""
        if limit <= 0:
            return []
        with self._conn("claim inbound events") as conn:
            rows = conn.execute(
                self._q(
                    f"""WITH due AS (
                            SELECT id, next_attempt_at FROM {{s}}.inbound_events
                            WHERE state IN ('pending', 'in_flight')
                              AND next_attempt_at <= %(now)s
                              AND (%(tenants)s::text[] IS NULL OR tenant = ANY(%(tenants)s))
                            ORDER BY next_attempt_at, id LIMIT %(limit)s
                            FOR UPDATE SKIP LOCKED)
                        UPDATE {{s}}.inbound_events AS e SET state = 'in_flight',
                            attempts = e.attempts + 1, next_attempt_at = %(until)s,
                            lease_expires_at = %(until)s, lease_owner = %(owner)s,
                            updated_at = %(now)s
                        FROM due WHERE e.id = due.id
                        RETURNING due.next_attempt_at, {_ALIASED}"""  # noqa: S608
                ),
                {
                    "now": now,
                    "limit": limit,
                    "until": now + lease,
                    "owner": owner,
                    "tenants": _tenants(tenants),
                },
            ).fetchall()
        rows.sort(key=lambda row: (row[0], row[1]))
        return [_record(row[1:]) for row in rows]

    def _finish_event(
        self,
        action: str,
        event_id: int,
        owner: str,
        sets: str,
        values: tuple[Any, ...],
        *,
        notify: bool = False,
    ) -> bool:
        """Record the outcome of a handling while `owner` holds the lease."""
        query = self._q(
            """UPDATE {s}.inbound_events SET {sets}, lease_owner = NULL, lease_expires_at = NULL
               WHERE id = %s AND state = 'in_flight' AND lease_owner = %s""",
            sets,
        )
        params = (*values, event_id, owner)
        if not notify:
            with self._conn(action) as conn:
                return conn.execute(query, params).rowcount == 1
        with self._tx(action) as conn:
            done = conn.execute(query, params).rowcount == 1
            if done:
                self._notify(conn, EVENTS)
            return done

    def event_done(self, event_id: int, *, owner: str, now: float) -> bool:
        """Mark handled; False when `owner` no longer holds the lease."""
        return self._finish_event(
            "mark an inbound event done",
            event_id,
            owner,
            "state = 'done', last_error = NULL, updated_at = %s",
            (now,),
        )

    def event_retry(self, event_id: int, *, owner: str, error: str, due: float, now: float) -> bool:
        """Back to pending, due at `due`; False when the lease was lost."""
        return self._finish_event(
            "reschedule an inbound event",
            event_id,
            owner,
            "state = 'pending', next_attempt_at = %s, last_error = %s, updated_at = %s",
            (due, _storable(error), now),
            notify=due - now <= NOTIFY_HORIZON,
        )

    def event_dead(self, event_id: int, *, owner: str, error: str, now: float) -> bool:
        """Dead-letter with the reason; False when the lease was lost."""
        return self._finish_event(
            "dead-letter an inbound event",
            event_id,
            owner,
            "state = 'dead', last_error = %s, updated_at = %s",
            (_storable(error), now),
        )

    def renew_event_leases(
        self, ids: Sequence[int], *, owner: str, now: float, lease: float
    ) -> Sequence[int]:
        """Extend `owner`'s unexpired leases on `ids` to `now + lease`; returns those renewed."""
        if not ids:
            return []
        with self._conn("renew inbound event leases") as conn:
            rows = conn.execute(
                self._q(
                    """UPDATE {s}.inbound_events SET next_attempt_at = %(until)s,
                           lease_expires_at = %(until)s
                       WHERE id = ANY(%(ids)s::bigint[]) AND state = 'in_flight'
                         AND lease_owner = %(owner)s AND lease_expires_at > %(now)s
                       RETURNING id"""
                ),
                {"until": now + lease, "ids": [int(i) for i in ids], "owner": owner, "now": now},
            ).fetchall()
        renewed = {row[0] for row in rows}
        return [i for i in ids if i in renewed]

    def release_events(self, owner: str | None, *, now: float) -> int:
        """Give back `owner`'s leased events (all when None), due at once, and tell the other
        replicas."""
        with self._tx("release inbound event leases") as conn:
            count = conn.execute(
                self._q(
                    """UPDATE {s}.inbound_events SET state = 'pending', next_attempt_at = %(now)s,
                           lease_owner = NULL, lease_expires_at = NULL, updated_at = %(now)s
                       WHERE lease_owner IS NOT NULL
                         AND (%(owner)s::text IS NULL OR lease_owner = %(owner)s::text)
                         AND state = 'in_flight'"""
                ),
                {"now": now, "owner": owner},
            ).rowcount
            if count:
                self._notify(conn, EVENTS)
        return count

    def requeue_events(
        self,
        *,
        ids: Sequence[int] = (),
        dead: bool = False,
        tenant: str | None = None,
        now: float,
    ) -> int:
        """Make the given events (and every dead one when `dead`) pending and due now."""
        with self._tx("requeue inbound events") as conn:
            count = conn.execute(
                self._q(
                    """UPDATE {s}.inbound_events SET state = 'pending', attempts = 0,
                           next_attempt_at = %(now)s, lease_owner = NULL,
                           lease_expires_at = NULL, updated_at = %(now)s, created_at = %(now)s
                       WHERE state IN ('pending', 'in_flight', 'dead')
                         AND (%(tenant)s::text IS NULL OR tenant = %(tenant)s::text)
                         AND (id = ANY(%(ids)s::bigint[]) OR (%(dead)s AND state = 'dead'))"""
                ),
                {"now": now, "ids": [int(i) for i in ids], "dead": bool(dead), "tenant": tenant},
            ).rowcount
            if count:
                self._notify(conn, EVENTS)
        return count

    def get_event(self, event_id: int) -> InboundRecord | None:
        """One event by id."""
        with self._conn("read an inbound event") as conn:
            row = conn.execute(
                self._q(f"SELECT {_COLUMNS} FROM {{s}}.inbound_events WHERE id = %s"),  # noqa: S608
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
        with self._conn("list inbound events") as conn:
            rows = conn.execute(
                self._q(
                    f"""SELECT {_COLUMNS} FROM {{s}}.inbound_events
                        WHERE (%(tenant)s::text IS NULL OR tenant = %(tenant)s::text)
                          AND (%(state)s::text IS NULL OR state = %(state)s::text)
                        ORDER BY created_at DESC, id DESC LIMIT %(limit)s"""  # noqa: S608
                ),
                {
                    "tenant": tenant,
                    "state": None if state is None else InboundState(state).value,
                    "limit": None if limit is None else max(limit, 0),
                },
            ).fetchall()
        return [_record(row) for row in rows]

    def count_events(self, *, tenant: str | None = None, state: InboundState | None = None) -> int:
        """How many events `list_events` would list without a limit."""
        with self._conn("count inbound events") as conn:
            row = conn.execute(
                self._q(
                    """SELECT COUNT(*) FROM {s}.inbound_events
                       WHERE (%(tenant)s::text IS NULL OR tenant = %(tenant)s::text)
                         AND (%(state)s::text IS NULL OR state = %(state)s::text)"""
                ),
                {"tenant": tenant, "state": None if state is None else InboundState(state).value},
            ).fetchone()
        return 0 if row is None else int(row[0])

    def event_counts(self) -> Mapping[tuple[str, InboundState], int]:
        """Events per (tenant, state), from the (tenant, state) index."""
        with self._conn("count inbound events by state") as conn:
            rows = conn.execute(
                self._q(
                    "SELECT tenant, state, COUNT(*) FROM {s}.inbound_events GROUP BY tenant, state"
                )
            ).fetchall()
        return {(name, InboundState(state)): int(count) for name, state, count in rows}

    def next_event_due(self, *, tenants: Collection[str] | None = None) -> float | None:
        """The earliest due time (or lease expiry) of unfinished events."""
        with self._conn("find the next due inbound event") as conn:
            row = conn.execute(
                self._q(
                    """SELECT MIN(next_attempt_at) FROM {s}.inbound_events
                       WHERE state IN ('pending', 'in_flight')
                         AND (%(tenants)s::text[] IS NULL OR tenant = ANY(%(tenants)s))"""
                ),
                {"tenants": _tenants(tenants)},
            ).fetchone()
        return None if row is None or row[0] is None else float(row[0])
