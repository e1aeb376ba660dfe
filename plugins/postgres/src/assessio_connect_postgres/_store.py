"""`PostgresStore`: the `Store` on PostgreSQL, shared by any number of daemon replicas.

Work is claimed with `SELECT … FOR UPDATE SKIP LOCKED` inside the claiming `UPDATE`, so two
replicas never claim the same row; whatever makes work due sends `NOTIFY` in the same
transaction (delivered at commit), and pull-style tenants are polled under a session-level
advisory lock that dies with its connection. Every pooled connection commits with
`synchronous_commit` at least `on`, whatever the server's default, because a 2xx to Assessio
promises that the result survives a crash of the database.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import select
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout, TooManyRequests

from assessio_connect import AssessmentOrder, StoreError, StoreUnavailableError, codec
from assessio_connect.store import (
    POLL_SUCCEEDED,
    AttemptOutcome,
    DeliveryAttempt,
    DeliveryRecord,
    DeliveryState,
    NewOrder,
    OrderRecord,
    OrderState,
    RecordedResult,
    ResultOutcome,
    ResultRecord,
    StateEntry,
    TenantActivity,
    WorkKind,
    email_key,
    payload_digest,
)

from ._inbound import PostgresInbound
from ._listener import DELIVERIES, EVENTS, ORDERS, Listener
from ._schema import MIGRATIONS
from ._settings import PostgresSettings, parse_url

__all__ = ["NOTIFY_HORIZON", "PostgresStore", "advisory_key", "open_postgres_store"]

NOTIFY_HORIZON = 5.0
"""A retry due within this many seconds is announced to other replicas; later ones are found
by their own idle checks, so telling everyone would only wake them for nothing."""

Row = tuple[Any, ...]
Connection = psycopg.Connection[Row]

_ORDER_COLUMNS = (
    "tenant",
    "application_id",
    "result_id",
    "job_id",
    "candidate_id",
    "order_json",
    "metadata_json",
    "state",
    "reference",
    "attempts",
    "next_attempt_at",
    "last_error",
    "created_at",
    "updated_at",
)
_RESULT_COLUMNS = ("tenant", "result_id", "version", "payload", "digest", "received_at", "orphan")
_DELIVERY_COLUMNS = (
    "id",
    "tenant",
    "result_id",
    "version",
    "state",
    "attempts",
    "next_attempt_at",
    "last_error",
    "created_at",
    "updated_at",
    "lease_owner",
    "lease_expires_at",
)
_UNAVAILABLE_CLASSES = ("08", "40", "53", "57", "58")
"""SQLSTATE classes of a passing outage: connection, rollback (serialization, deadlock),
insufficient resources, operator intervention (shutdown, cancel), system error."""
_NO_SCHEMA = ("42P01", "3F000")


def _tenant_array(tenants: Collection[str] | None) -> list[str] | None:
    """`tenants` as a text[] parameter, or None (NULL) for every tenant."""
    return None if tenants is None else sorted(tenants)


def _columns(names: Sequence[str], alias: str | None = None) -> str:
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + name for name in names)


def advisory_key(*parts: str) -> int:
    """A signed 64-bit advisory-lock key for `parts`, the same in every process."""
    text = "\x1f".join(("assessio-connect", *parts)).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big", signed=True)


def open_postgres_store(url: str) -> PostgresStore | None:
    """Open `postgresql://…` or `postgres://…` (nothing connects yet); None for other schemes."""
    settings = parse_url(url)
    return None if settings is None else PostgresStore(settings)


def _order_record(row: Row) -> OrderRecord:
    return OrderRecord(
        tenant=row[0],
        application_id=row[1],
        result_id=row[2],
        job_id=row[3],
        candidate_id=row[4],
        order=codec.loads(row[5].encode("utf-8"), AssessmentOrder, what="stored order"),
        metadata=json.loads(row[6]),
        state=OrderState(row[7]),
        reference=row[8],
        attempts=row[9],
        next_attempt_at=row[10],
        last_error=row[11],
        created_at=row[12],
        updated_at=row[13],
    )


def _result_record(row: Row) -> ResultRecord:
    return ResultRecord(
        tenant=row[0],
        result_id=row[1],
        version=row[2],
        payload=bytes(row[3]),
        digest=row[4],
        received_at=row[5],
        orphan=row[6],
    )


def _delivery_record(row: Row) -> DeliveryRecord:
    return DeliveryRecord(
        id=row[0],
        tenant=row[1],
        result_id=row[2],
        version=row[3],
        state=DeliveryState(row[4]),
        attempts=row[5],
        next_attempt_at=row[6],
        last_error=row[7],
        created_at=row[8],
        updated_at=row[9],
        lease_owner=row[10],
        lease_expires_at=row[11],
    )


def _attempt(row: Row) -> DeliveryAttempt:
    return DeliveryAttempt(
        delivery_id=row[0],
        tenant=row[1],
        result_id=row[2],
        version=row[3],
        attempt=row[4],
        outcome=AttemptOutcome(row[5]),
        error=row[6],
        at=row[7],
        next_attempt_at=row[8],
    )


def _where(
    *,
    tenant: str | None,
    result_id: str | None,
    application_id: str | None,
    email: str | None,
    through_orders: bool,
    extra: Sequence[tuple[str, Any]] = (),
) -> tuple[str, list[Any]]:
    """A WHERE clause of constant fragments (`{s}` left for `_q`) and its parameters for the
    operators' filters; `through_orders` matches the application and e-mail on the order."""
    clauses: list[str] = []
    params: list[Any] = []
    for clause, value in (("tenant = %s", tenant), ("result_id = %s", result_id), *extra):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    on_order = [
        (clause, value)
        for clause, value in (
            ("application_id = %s", application_id),
            ("email = %s", None if email is None else email_key(email)),
        )
        if value is not None
    ]
    if on_order and through_orders:
        inner = " AND ".join(clause for clause, _ in on_order)
        clauses.append(
            "(tenant, result_id) IN (SELECT tenant, result_id FROM {s}.orders WHERE "  # noqa: S608
            + inner
            + ")"
        )
    else:
        clauses.extend(clause for clause, _ in on_order)
    params.extend(value for _, value in on_order)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _order_filter(
    tenant: str | None,
    state: OrderState | None,
    result_id: str | None,
    application_id: str | None,
    email: str | None,
) -> tuple[str, list[Any]]:
    return _where(
        tenant=tenant,
        result_id=result_id,
        application_id=application_id,
        email=email,
        through_orders=False,
        extra=[("state = %s", None if state is None else OrderState(state).value)],
    )


def _delivery_filter(
    tenant: str | None,
    state: DeliveryState | None,
    result_id: str | None,
    application_id: str | None,
    email: str | None,
) -> tuple[str, list[Any]]:
    return _where(
        tenant=tenant,
        result_id=result_id,
        application_id=application_id,
        email=email,
        through_orders=True,
        extra=[("state = %s", None if state is None else DeliveryState(state).value)],
    )


def _limit(limit: int | None) -> int | None:
    """A LIMIT parameter: NULL (no limit) for None."""
    return None if limit is None else max(limit, 0)


def _one(cursor: psycopg.Cursor[Row]) -> Row:
    """The single row a statement always returns (an aggregate, an INSERT … RETURNING)."""
    row = cursor.fetchone()
    if row is None:  # pragma: no cover - PostgreSQL always answers these with one row
        raise psycopg.DataError("the statement returned no row")
    return row


def _storable(text: str) -> str:
    """An error message PostgreSQL's text type accepts: no NUL, no lone surrogate (an ATS's
    answer quoted in an error may hold either, and must not make the error unrecordable)."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")


def _describe(exc: psycopg.Error) -> str:
    """The error without data: the server's primary message (never its DETAIL, which can
    quote row values), or the client's first lines for a failed connection."""
    primary = exc.diag.message_primary if exc.sqlstate else None
    text = primary or " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:299] + "…"


def _state_entry(row: Row | None) -> StateEntry | None:
    return None if row is None else StateEntry(value=row[0], version=row[1], updated_at=row[2])


def _pin_synchronous_commit(conn: Connection) -> None:
    """Commit durably on this connection whatever the server, database or role default says
    (`off` would acknowledge a result a crash then loses); `remote_apply`, stronger, is kept."""
    conn.execute(
        b"""SELECT set_config('synchronous_commit', 'on', false)
            WHERE current_setting('synchronous_commit') NOT IN ('on', 'remote_apply')"""
    )


def _check_idle_connection(conn: Connection) -> None:
    """Before lending a pooled connection: an idle connection the server wrote to has most
    likely been closed (a restart, an idle timeout), so test it with a round trip; a silent
    one is lent as is, without the cost of a round trip per checkout."""
    if conn.closed or conn.pgconn.status != psycopg.pq.ConnStatus.OK:
        raise psycopg.OperationalError("the pooled connection is closed")
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    if readable:
        ConnectionPool.check_connection(conn)


class _PollLock:
    """A dedicated session that holds (or tries to take) one tenant's poll lock."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.held = False


class PostgresStore(PostgresInbound):
    """A `Store` in one PostgreSQL schema, safe for many threads and many processes.

    Also a `WorkNotifications` (LISTEN/NOTIFY) and a `PollLocks` (advisory locks)."""

    exclusive = False

    def __init__(self, settings: PostgresSettings) -> None:
        self.url = settings.url
        self.settings = settings
        self.schema = settings.schema
        self.channel = f"assessio:{settings.schema}"
        self._schema_id = sql.Identifier(settings.schema)
        self._queries: dict[tuple[str, str, str], bytes] = {}
        self._lock = threading.Lock()
        self._pool: ConnectionPool[Connection] | None = None
        self._closed = False
        self._connect_error: str | None = None
        self._listeners: list[Listener] = []
        self._poll_guard = threading.Lock()
        self._poll_locks: dict[tuple[str, str], _PollLock] = {}

    def __repr__(self) -> str:
        return f"PostgresStore({self.url!r})"

    # -- connections and errors ----------------------------------------------------------

    def _q(self, text: str, sets: str = "", where: str = "") -> bytes:
        """`text` rendered once: `{s}` is the quoted schema, `{orders}`, `{results}` and
        `{deliveries}` the column lists (`{o_orders}`, `{d_deliveries}` with an alias),
        `{sets}` the caller's constant SET clause and `{where}` its WHERE clause of constant
        fragments (itself naming the schema as `{s}`)."""
        key = (text, sets, where)
        query = self._queries.get(key)
        if query is None:
            query = (
                sql.SQL(text)
                .format(
                    s=self._schema_id,
                    orders=sql.SQL(_columns(_ORDER_COLUMNS)),
                    o_orders=sql.SQL(_columns(_ORDER_COLUMNS, "o")),
                    results=sql.SQL(_columns(_RESULT_COLUMNS)),
                    deliveries=sql.SQL(_columns(_DELIVERY_COLUMNS)),
                    d_deliveries=sql.SQL(_columns(_DELIVERY_COLUMNS, "d")),
                    sets=sql.SQL(sets),
                    where=sql.SQL(where).format(s=self._schema_id),
                )
                .as_bytes(None)
            )
            self._queries[key] = query
        return query

    def _connect(self) -> Connection:
        """A connection of its own (not pooled), in autocommit mode."""
        return psycopg.connect(self.settings.conninfo, autocommit=True)

    def _get_pool(self) -> ConnectionPool[Connection]:
        pool = self._pool
        if pool is not None:
            return pool
        with self._lock:
            if self._closed:
                raise PoolClosed("the store is closed")
            if self._pool is None:
                self._pool = ConnectionPool(
                    self.settings.conninfo,
                    connection_class=self._recording_class(),
                    kwargs={"autocommit": True},
                    min_size=1,
                    max_size=self.settings.pool_max,
                    timeout=self.settings.pool_timeout,
                    check=_check_idle_connection,
                    configure=_pin_synchronous_commit,
                    name=f"assessio-connect:{self.schema}",
                    open=False,
                )
                self._pool.open(wait=False)
            return self._pool

    def _recording_class(self) -> type[Connection]:
        """A connection class that remembers why the pool's last connection attempt failed,
        which `PoolTimeout` itself does not say."""
        store = self

        class RecordingConnection(psycopg.Connection[Row]):
            @classmethod
            def connect(cls, conninfo: str = "", **kwargs: Any) -> RecordingConnection:
                try:
                    conn = super().connect(conninfo, **kwargs)
                except psycopg.Error as exc:
                    store._connect_error = _describe(exc)
                    raise
                store._connect_error = None
                return conn

        return RecordingConnection

    def _translate(self, action: str, exc: psycopg.Error) -> StoreError:
        where = f"the PostgreSQL store {self.url}"
        if isinstance(exc, PoolClosed) or self._closed:
            return StoreError(f"cannot {action}: {where} is closed")
        if isinstance(exc, (PoolTimeout, TooManyRequests)) and self._connect_error:
            return StoreUnavailableError(
                f"cannot {action}: cannot connect to {where}: {self._connect_error}"
            )
        if isinstance(exc, (PoolTimeout, TooManyRequests)):
            return StoreUnavailableError(
                f"cannot {action}: no connection to {where} within "
                f"{self.settings.pool_timeout:g} s (the server is unreachable, or all "
                f"{self.settings.pool_max} pooled connections stayed busy; see pool_max)"
            )
        state = exc.sqlstate or ""
        if state in _NO_SCHEMA:
            return StoreError(
                f"cannot {action}: {where} has no schema {self.schema!r} yet "
                "(run the daemon once, or call migrate())"
            )
        if (not state and isinstance(exc, psycopg.OperationalError)) or state.startswith(
            _UNAVAILABLE_CLASSES
        ):
            return StoreUnavailableError(
                f"cannot {action}: {where} is unavailable: {_describe(exc)}"
            )
        code = f" (SQLSTATE {state})" if state else ""
        return StoreError(f"cannot {action} in {where}: {_describe(exc)}{code}")

    @contextlib.contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Translate psycopg errors into the package's errors, without any stored data."""
        if self._closed:
            raise StoreError(f"cannot {action}: the PostgreSQL store {self.url} is closed")
        try:
            yield
        except psycopg.Error as exc:
            raise self._translate(action, exc) from None
        except UnicodeEncodeError:
            raise StoreError(
                f"cannot {action}: a value is not valid Unicode text (it holds a lone surrogate)"
            ) from None

    @contextlib.contextmanager
    def _conn(self, action: str) -> Iterator[Connection]:
        """A pooled autocommit connection: each statement commits on its own."""
        with self._errors(action), self._get_pool().connection() as conn:
            yield conn

    @contextlib.contextmanager
    def _tx(self, action: str) -> Iterator[Connection]:
        """One transaction, committed (durably) when the block ends without an error."""
        with self._errors(action), self._get_pool().connection() as conn, conn.transaction():
            yield conn

    def _notify(self, conn: Connection, payload: str) -> None:
        """Announce work; sent by PostgreSQL when the surrounding transaction commits."""
        conn.execute(b"SELECT pg_notify(%s, %s)", (self.channel, payload))

    # -- lifecycle ------------------------------------------------------------------------

    def migrate(self) -> None:
        """Create or upgrade the schema, once, even when several replicas start together."""
        with self._tx("migrate the schema") as conn:
            # Serialises migrating processes; the lock ends with this transaction.
            conn.execute(
                b"SELECT pg_advisory_xact_lock(%s)", (advisory_key("migrate", self.schema),)
            )
            exists = conn.execute(
                b"SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema,)
            ).fetchone()
            if exists is None:  # CREATE SCHEMA IF NOT EXISTS would need CREATE on the database
                conn.execute(self._q("CREATE SCHEMA {s}"))
            conn.execute(
                self._q(
                    """CREATE TABLE IF NOT EXISTS {s}.schema_version (
                        version integer PRIMARY KEY,
                        applied_at timestamptz NOT NULL DEFAULT now())"""
                )
            )
            current = int(
                _one(
                    conn.execute(
                        self._q("SELECT COALESCE(MAX(version), 0) FROM {s}.schema_version")
                    )
                )[0]
            )
            if current > len(MIGRATIONS):
                raise StoreError(
                    f"the PostgreSQL store {self.url} has schema version {current}, newer than "
                    f"this assessio-connect-postgres supports ({len(MIGRATIONS)}); upgrade it"
                )
            for number, steps in enumerate(MIGRATIONS[current:], start=current + 1):
                for statement in steps:
                    conn.execute(self._q(statement))
                conn.execute(
                    self._q("INSERT INTO {s}.schema_version (version) VALUES (%s)"), (number,)
                )

    def schema_version(self) -> int:
        """The schema version recorded in the database (0 before `migrate`)."""
        with self._conn("read the schema version") as conn:
            found = conn.execute(
                b"SELECT to_regclass(%s) IS NOT NULL",
                (f"{sql.Identifier(self.schema).as_string(None)}.schema_version",),
            ).fetchone()
            if not found or not found[0]:
                return 0
            query = self._q("SELECT COALESCE(MAX(version), 0) FROM {s}.schema_version")
            return int(_one(conn.execute(query))[0])

    def ping(self) -> None:
        """Raise `StoreUnavailableError` unless `SELECT 1` answers."""
        try:
            with self._conn("reach the store") as conn:
                conn.execute(b"SELECT 1").fetchone()
        except StoreUnavailableError:
            raise
        except StoreError as exc:
            raise StoreUnavailableError(str(exc)) from None

    def close(self) -> None:
        """Stop listening, drop the poll locks and close every connection."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pool, self._pool = self._pool, None
            listeners, self._listeners = self._listeners, []
        for listener in listeners:
            listener.stop()
        with self._poll_guard:
            locks, self._poll_locks = self._poll_locks, {}
        for lock in locks.values():
            with contextlib.suppress(psycopg.Error):
                lock.conn.close()
        if pool is not None:
            pool.close()

    # -- orders ---------------------------------------------------------------------------

    def add_order(self, new: NewOrder, *, now: float) -> tuple[OrderRecord, bool]:
        """Record a pending order due now, or return the stored one for (tenant, application)."""
        order_json = codec.dumps(new.order).decode("utf-8")
        metadata_json = json.dumps(dict(new.metadata), sort_keys=True, ensure_ascii=False)
        with self._conn("record an order") as conn:
            # One statement, committed on its own, with the NOTIFY; a concurrent insert of the
            # same order waits here for the other to commit, and the SELECTs below then see it.
            row = conn.execute(
                self._q(
                    """WITH added AS (
                            INSERT INTO {s}.orders ({orders}, email)
                            VALUES (%(t)s, %(a)s, %(r)s, %(j)s, %(c)s, %(o)s, %(m)s, 'pending',
                                    NULL, 0, %(now)s, NULL, %(now)s, %(now)s, %(e)s)
                            ON CONFLICT DO NOTHING
                            RETURNING {orders})
                        SELECT {orders}, pg_notify(%(channel)s, %(kind)s) FROM added"""
                ),
                {
                    "t": new.tenant,
                    "a": new.application_id,
                    "r": new.order.result_id,
                    "j": new.job_id,
                    "c": new.candidate_id,
                    "o": order_json,
                    "m": metadata_json,
                    "e": email_key(new.order.candidate_details.email),
                    "now": now,
                    "channel": self.channel,
                    "kind": ORDERS,
                },
            ).fetchone()
            if row is not None:
                return _order_record(row), True
            row = conn.execute(
                self._q(
                    """SELECT {orders} FROM {s}.orders
                        WHERE tenant = %s AND application_id = %s"""
                ),
                (new.tenant, new.application_id),
            ).fetchone()
            if row is not None:
                return _order_record(row), False
            clash = conn.execute(
                self._q(
                    "SELECT application_id FROM {s}.orders WHERE tenant = %s AND result_id = %s"
                ),
                (new.tenant, new.order.result_id),
            ).fetchone()
        owner = repr(clash[0]) if clash else "another application"
        raise StoreError(
            f"cannot record the order for application {new.application_id!r} in tenant "
            f"{new.tenant!r}: its resultId {new.order.result_id!r} already belongs to {owner}"
        )

    def get_order(self, tenant: str, result_id: str) -> OrderRecord | None:
        """The order that owns `result_id` in `tenant`."""
        with self._conn("read an order") as conn:
            row = conn.execute(
                self._q("SELECT {orders} FROM {s}.orders WHERE tenant = %s AND result_id = %s"),
                (tenant, result_id),
            ).fetchone()
        return None if row is None else _order_record(row)

    def find_order(self, tenant: str, application_id: str) -> OrderRecord | None:
        """The order for an ATS application."""
        with self._conn("read an order") as conn:
            row = conn.execute(
                self._q(
                    """SELECT {orders} FROM {s}.orders
                        WHERE tenant = %s AND application_id = %s"""
                ),
                (tenant, application_id),
            ).fetchone()
        return None if row is None else _order_record(row)

    def claim_orders(
        self,
        *,
        owner: str,
        now: float,
        lease: float,
        limit: int,
        tenants: Collection[str] | None = None,
    ) -> Sequence[OrderRecord]:
        """Claim due pending orders (oldest due first) until `now + lease`; rows another
        replica is claiming at this moment are skipped, not waited for."""
        if limit <= 0:
            return []
        with self._conn("claim orders") as conn:
            rows = conn.execute(
                self._q(
                    """WITH due AS (
                            SELECT id, next_attempt_at FROM {s}.orders
                            WHERE state = 'pending' AND next_attempt_at <= %(now)s
                              AND (%(tenants)s::text[] IS NULL OR tenant = ANY(%(tenants)s))
                            ORDER BY next_attempt_at, id LIMIT %(limit)s
                            FOR UPDATE SKIP LOCKED)
                        UPDATE {s}.orders AS o SET attempts = o.attempts + 1,
                            next_attempt_at = %(until)s, lease_owner = %(owner)s,
                            updated_at = %(now)s
                        FROM due WHERE o.id = due.id
                        RETURNING due.next_attempt_at, o.id, {o_orders}"""
                ),
                {
                    "now": now,
                    "limit": limit,
                    "until": now + lease,
                    "owner": owner,
                    "tenants": _tenant_array(tenants),
                },
            ).fetchall()
        rows.sort(key=lambda row: (row[0], row[1]))
        return [_order_record(row[2:]) for row in rows]

    def _update_order(
        self,
        action: str,
        tenant: str,
        result_id: str,
        sets: str,
        values: tuple[Any, ...],
        *,
        notify: bool = False,
    ) -> None:
        with self._tx(action) as conn:
            cursor = conn.execute(
                self._q(
                    """UPDATE {s}.orders SET {sets}, lease_owner = NULL
                        WHERE tenant = %s AND result_id = %s""",
                    sets,
                ),
                (*values, tenant, result_id),
            )
            if notify and cursor.rowcount:
                self._notify(conn, ORDERS)

    def order_sent(self, tenant: str, result_id: str, reference: str | None, *, now: float) -> None:
        """Mark an order accepted by Assessio; a None `reference` keeps the stored one."""
        self._update_order(
            "mark an order sent",
            tenant,
            result_id,
            "state = %s, reference = COALESCE(%s, reference), last_error = NULL, updated_at = %s",
            (OrderState.SENT.value, reference, now),
        )

    def order_retry(
        self, tenant: str, result_id: str, error: str, *, due: float, now: float
    ) -> None:
        """Keep an order pending, due again at `due`, remembering the error."""
        self._update_order(
            "reschedule an order",
            tenant,
            result_id,
            "state = %s, next_attempt_at = %s, last_error = %s, updated_at = %s",
            (OrderState.PENDING.value, due, _storable(error), now),
            notify=due - now <= NOTIFY_HORIZON,
        )

    def order_failed(self, tenant: str, result_id: str, error: str, *, now: float) -> None:
        """Mark an order rejected for good."""
        self._update_order(
            "mark an order failed",
            tenant,
            result_id,
            "state = %s, last_error = %s, updated_at = %s",
            (OrderState.FAILED.value, _storable(error), now),
        )

    def order_link_unknown(self, tenant: str, result_id: str, note: str, *, now: float) -> None:
        """Mark a link order ordered without its link, saying why in `last_error`; sent
        instead when a reference was stored meanwhile (the row lock orders the two)."""
        self._update_order(
            "mark an order's link unknown",
            tenant,
            result_id,
            """state = CASE WHEN reference IS NULL THEN %s ELSE %s END,
               last_error = CASE WHEN reference IS NULL THEN %s END, updated_at = %s""",
            (OrderState.LINK_UNKNOWN.value, OrderState.SENT.value, _storable(note), now),
        )

    def list_orders(
        self,
        *,
        tenant: str | None = None,
        state: OrderState | None = None,
        limit: int | None = 100,
        result_id: str | None = None,
        application_id: str | None = None,
        email: str | None = None,
    ) -> Sequence[OrderRecord]:
        """Most recent first, at most `limit` (None: all)."""
        where, params = _order_filter(tenant, state, result_id, application_id, email)
        with self._conn("list orders") as conn:
            rows = conn.execute(
                self._q(
                    """SELECT {orders} FROM {s}.orders{where}
                        ORDER BY created_at DESC, id DESC LIMIT %s""",
                    where=where,
                ),
                (*params, _limit(limit)),
            ).fetchall()
        return [_order_record(row) for row in rows]

    def count_orders(
        self,
        *,
        tenant: str | None = None,
        state: OrderState | None = None,
        result_id: str | None = None,
        application_id: str | None = None,
        email: str | None = None,
    ) -> int:
        """How many orders `list_orders` would list without a limit."""
        where, params = _order_filter(tenant, state, result_id, application_id, email)
        with self._conn("count orders") as conn:
            query = self._q("SELECT COUNT(*) FROM {s}.orders{where}", where=where)
            return int(_one(conn.execute(query, params))[0])

    # -- results --------------------------------------------------------------------------

    def record_result(
        self, tenant: str, result_id: str, payload: bytes, *, now: float
    ) -> RecordedResult:
        """Store a result version and queue its delivery, in one transaction."""
        digest = payload_digest(payload)
        with self._tx("record a result") as conn:
            # One writer per result at a time, so versions count up without gaps or clashes.
            conn.execute(
                b"SELECT pg_advisory_xact_lock(%s)",
                (advisory_key("result", self.schema, tenant, result_id),),
            )
            seen, known, latest, matched = _one(
                conn.execute(
                    self._q(
                        """SELECT
                        (SELECT version FROM {s}.results
                         WHERE tenant = %(t)s AND result_id = %(r)s AND digest = %(d)s),
                        EXISTS (SELECT 1 FROM {s}.orders
                                WHERE tenant = %(t)s AND result_id = %(r)s),
                        (SELECT COALESCE(MAX(version), 0) FROM {s}.results
                         WHERE tenant = %(t)s AND result_id = %(r)s),
                        EXISTS (SELECT 1 FROM {s}.results
                                WHERE tenant = %(t)s AND result_id = %(r)s AND NOT orphan)"""
                    ),
                    {"t": tenant, "r": result_id, "d": digest},
                )
            )
            if seen is not None:
                return RecordedResult(ResultOutcome.DUPLICATE, int(seen), None)
            version = int(latest) + 1
            conn.execute(
                self._q(
                    """INSERT INTO {s}.results ({results})
                        VALUES (%s, %s, %s, %s, %s, %s, %s)"""
                ),
                (tenant, result_id, version, payload, digest, now, not known),
            )
            if not known:
                return RecordedResult(ResultOutcome.ORPHAN, version, None)
            row = _one(
                conn.execute(
                    self._q(
                        """WITH superseded AS (
                            UPDATE {s}.deliveries SET state = 'superseded', updated_at = %(now)s
                            WHERE tenant = %(t)s AND result_id = %(r)s AND state = 'pending'
                              AND version < %(v)s),
                       queued AS (
                            INSERT INTO {s}.deliveries (tenant, result_id, version, state,
                                attempts, next_attempt_at, created_at, updated_at)
                            VALUES (%(t)s, %(r)s, %(v)s, 'pending', 0, %(now)s, %(now)s, %(now)s)
                            RETURNING id)
                        SELECT id, pg_notify(%(channel)s, %(kind)s) FROM queued"""
                    ),
                    {
                        "t": tenant,
                        "r": result_id,
                        "v": version,
                        "now": now,
                        "channel": self.channel,
                        "kind": DELIVERIES,
                    },
                )
            )
        outcome = ResultOutcome.UPDATED if matched else ResultOutcome.NEW
        return RecordedResult(outcome, version, int(row[0]))

    def get_result(
        self, tenant: str, result_id: str, version: int | None = None
    ) -> ResultRecord | None:
        """One version, or the latest when `version` is None."""
        with self._conn("read a result") as conn:
            row = conn.execute(
                self._q(
                    """SELECT {results} FROM {s}.results
                        WHERE tenant = %(t)s AND result_id = %(r)s
                          AND (%(v)s::integer IS NULL OR version = %(v)s::integer)
                        ORDER BY version DESC LIMIT 1"""
                ),
                {"t": tenant, "r": result_id, "v": version},
            ).fetchone()
        return None if row is None else _result_record(row)

    def list_results(
        self,
        *,
        tenant: str | None = None,
        orphans: bool | None = None,
        limit: int | None = 100,
        result_id: str | None = None,
        application_id: str | None = None,
        email: str | None = None,
    ) -> Sequence[ResultRecord]:
        """Most recent first; `orphans` filters orphans in (True) or out (False)."""
        where, params = _where(
            tenant=tenant,
            result_id=result_id,
            application_id=application_id,
            email=email,
            through_orders=True,
            extra=[("orphan = %s", orphans)],
        )
        with self._conn("list results") as conn:
            rows = conn.execute(
                self._q(
                    """SELECT {results} FROM {s}.results{where}
                        ORDER BY received_at DESC, id DESC LIMIT %s""",
                    where=where,
                ),
                (*params, _limit(limit)),
            ).fetchall()
        return [_result_record(row) for row in rows]

    def count_results(
        self,
        *,
        tenant: str | None = None,
        orphans: bool | None = None,
        result_id: str | None = None,
        application_id: str | None = None,
        email: str | None = None,
    ) -> int:
        """How many result versions `list_results` would list without a limit."""
        where, params = _where(
            tenant=tenant,
            result_id=result_id,
            application_id=application_id,
            email=email,
            through_orders=True,
            extra=[("orphan = %s", orphans)],
        )
        with self._conn("count results") as conn:
            query = self._q("SELECT COUNT(*) FROM {s}.results{where}", where=where)
            return int(_one(conn.execute(query, params))[0])

    # -- deliveries -----------------------------------------------------------------------

    def claim_deliveries(
        self,
        *,
        owner: str,
        now: float,
        lease: float,
        limit: int,
        tenants: Collection[str] | None = None,
    ) -> Sequence[DeliveryRecord]:
        """Claim due pending deliveries and expired leases, oldest due first; rows another
        replica is claiming at this moment are skipped, not waited for."""
        if limit <= 0:
            return []
        with self._conn("claim deliveries") as conn:
            rows = conn.execute(
                self._q(
                    """WITH due AS (
                            SELECT id, next_attempt_at FROM {s}.deliveries
                            WHERE state IN ('pending', 'in_flight')
                              AND next_attempt_at <= %(now)s
                              AND (%(tenants)s::text[] IS NULL OR tenant = ANY(%(tenants)s))
                            ORDER BY next_attempt_at, id LIMIT %(limit)s
                            FOR UPDATE SKIP LOCKED)
                        UPDATE {s}.deliveries AS d SET state = 'in_flight',
                            attempts = d.attempts + 1, next_attempt_at = %(until)s,
                            lease_expires_at = %(until)s, lease_owner = %(owner)s,
                            updated_at = %(now)s
                        FROM due WHERE d.id = due.id
                        RETURNING due.next_attempt_at, {d_deliveries}"""
                ),
                {
                    "now": now,
                    "limit": limit,
                    "until": now + lease,
                    "owner": owner,
                    "tenants": _tenant_array(tenants),
                },
            ).fetchall()
        rows.sort(key=lambda row: (row[0], row[1]))
        return [_delivery_record(row[1:]) for row in rows]

    def _finish(
        self,
        action: str,
        delivery_id: int,
        owner: str,
        sets: str,
        values: tuple[Any, ...],
        attempt: tuple[AttemptOutcome, str | None, float | None, float],
        *,
        notify: bool = False,
    ) -> bool:
        """Record the outcome of a push while `owner` holds the lease and append it to the
        delivery's history (`attempt`: outcome, error, next due, now), in one statement."""
        outcome, error, due, now = attempt
        query = self._q(
            """WITH finished AS (
                    UPDATE {s}.deliveries SET {sets}, lease_owner = NULL, lease_expires_at = NULL
                    WHERE id = %s AND state = 'in_flight' AND lease_owner = %s
                    RETURNING id, tenant, result_id, version, attempts)
                INSERT INTO {s}.delivery_attempts (delivery_id, tenant, result_id, version,
                    attempt, outcome, error, at, next_attempt_at)
                SELECT id, tenant, result_id, version, attempts, %s, %s, %s, %s FROM finished""",
            sets,
        )
        params = (*values, delivery_id, owner, outcome.value, error, now, due)
        if not notify:
            with self._conn(action) as conn:
                return conn.execute(query, params).rowcount == 1
        with self._tx(action) as conn:
            done = conn.execute(query, params).rowcount == 1
            if done:
                self._notify(conn, DELIVERIES)
            return done

    def delivery_done(self, delivery_id: int, *, owner: str, now: float) -> bool:
        """Mark delivered; False when `owner` no longer holds the lease."""
        return self._finish(
            "mark a delivery done",
            delivery_id,
            owner,
            "state = 'delivered', last_error = NULL, updated_at = %s",
            (now,),
            (AttemptOutcome.DELIVERED, None, None, now),
        )

    def delivery_retry(
        self, delivery_id: int, *, owner: str, error: str, due: float, now: float
    ) -> bool:
        """Back to pending, due at `due`; False when the lease was lost."""
        return self._finish(
            "reschedule a delivery",
            delivery_id,
            owner,
            "state = 'pending', next_attempt_at = %s, last_error = %s, updated_at = %s",
            (due, _storable(error), now),
            (AttemptOutcome.RETRY, _storable(error), due, now),
            notify=due - now <= NOTIFY_HORIZON,
        )

    def delivery_dead(self, delivery_id: int, *, owner: str, error: str, now: float) -> bool:
        """Dead-letter with the reason; False when the lease was lost."""
        return self._finish(
            "dead-letter a delivery",
            delivery_id,
            owner,
            "state = 'dead', last_error = %s, updated_at = %s",
            (_storable(error), now),
            (AttemptOutcome.DEAD, _storable(error), None, now),
        )

    def renew_delivery_leases(
        self, ids: Sequence[int], *, owner: str, now: float, lease: float
    ) -> Sequence[int]:
        """Extend `owner`'s unexpired leases on `ids` to `now + lease`; returns those renewed.
        A claim racing for an expired row either commits first (the owner no longer matches)
        or waits for this statement (the lease no longer looks expired)."""
        if not ids:
            return []
        with self._conn("renew delivery leases") as conn:
            rows = conn.execute(
                self._q(
                    """UPDATE {s}.deliveries SET next_attempt_at = %(until)s,
                           lease_expires_at = %(until)s
                       WHERE id = ANY(%(ids)s::bigint[]) AND state = 'in_flight'
                         AND lease_owner = %(owner)s AND lease_expires_at > %(now)s
                       RETURNING id"""
                ),
                {"until": now + lease, "ids": [int(i) for i in ids], "owner": owner, "now": now},
            ).fetchall()
        renewed = {row[0] for row in rows}
        return [i for i in ids if i in renewed]

    def release_expired(self, *, now: float) -> int:
        """Give back leases that expired by `now`, due at once, and tell the other replicas;
        returns how many deliveries were released. Unexpired leases are left alone."""
        with self._tx("release expired leases") as conn:
            orders = conn.execute(
                self._q(
                    """UPDATE {s}.orders SET lease_owner = NULL, updated_at = %(now)s
                       WHERE state = 'pending' AND next_attempt_at <= %(now)s
                         AND lease_owner IS NOT NULL"""
                ),
                {"now": now},
            ).rowcount
            deliveries = conn.execute(
                self._q(
                    """UPDATE {s}.deliveries SET state = 'pending', next_attempt_at = %(now)s,
                           lease_owner = NULL, lease_expires_at = NULL, updated_at = %(now)s
                       WHERE state = 'in_flight' AND next_attempt_at <= %(now)s"""
                ),
                {"now": now},
            ).rowcount
            if orders:
                self._notify(conn, ORDERS)
            if deliveries:
                self._notify(conn, DELIVERIES)
        return deliveries

    def release(self, owner: str | None, *, now: float) -> int:
        """Give back `owner`'s leases (all when None), due at once, and tell the other
        replicas; returns how many deliveries were released."""
        with self._tx("release leases") as conn:
            orders = conn.execute(
                self._q(
                    """UPDATE {s}.orders SET next_attempt_at = %(now)s, lease_owner = NULL,
                           updated_at = %(now)s
                       WHERE lease_owner IS NOT NULL
                         AND (%(owner)s::text IS NULL OR lease_owner = %(owner)s::text)
                         AND state = 'pending'"""
                ),
                {"now": now, "owner": owner},
            ).rowcount
            deliveries = conn.execute(
                self._q(
                    """UPDATE {s}.deliveries SET state = 'pending', next_attempt_at = %(now)s,
                           lease_owner = NULL, lease_expires_at = NULL, updated_at = %(now)s
                       WHERE lease_owner IS NOT NULL
                         AND (%(owner)s::text IS NULL OR lease_owner = %(owner)s::text)
                         AND state = 'in_flight'"""
                ),
                {"now": now, "owner": owner},
            ).rowcount
            if orders:
                self._notify(conn, ORDERS)
            if deliveries:
                self._notify(conn, DELIVERIES)
        return deliveries

    def requeue_deliveries(
        self,
        *,
        ids: Sequence[int] = (),
        dead: bool = False,
        tenant: str | None = None,
        now: float,
    ) -> int:
        """Make the given deliveries (and every dead one when `dead`), of `tenant` only when
        given, pending and due now, each noted in its history."""
        with self._tx("requeue deliveries") as conn:
            count = conn.execute(
                self._q(
                    """WITH chosen AS (
                            SELECT id, tenant, result_id, version, attempts FROM {s}.deliveries
                            WHERE state IN ('pending', 'in_flight', 'dead')
                              AND (%(tenant)s::text IS NULL OR tenant = %(tenant)s::text)
                              AND (id = ANY(%(ids)s::bigint[]) OR (%(dead)s AND state = 'dead'))
                            FOR UPDATE),
                        requeued AS (
                            UPDATE {s}.deliveries AS d SET state = 'pending', attempts = 0,
                                next_attempt_at = %(now)s, lease_owner = NULL,
                                lease_expires_at = NULL, updated_at = %(now)s,
                                created_at = %(now)s
                            FROM chosen WHERE d.id = chosen.id)
                        INSERT INTO {s}.delivery_attempts (delivery_id, tenant, result_id,
                            version, attempt, outcome, error, at, next_attempt_at)
                        SELECT id, tenant, result_id, version, attempts, 'requeued', NULL,
                            %(now)s, %(now)s
                        FROM chosen"""
                ),
                {"now": now, "ids": [int(i) for i in ids], "dead": bool(dead), "tenant": tenant},
            ).rowcount
            if count:
                self._notify(conn, DELIVERIES)
        return count

    def list_deliveries(
        self,
        *,
        tenant: str | None = None,
        state: DeliveryState | None = None,
        limit: int | None = 100,
        result_id: str | None = None,
        application_id: str | None = None,
        email: str | None = None,
    ) -> Sequence[DeliveryRecord]:
        """Most recent first."""
        where, params = _delivery_filter(tenant, state, result_id, application_id, email)
        with self._conn("list deliveries") as conn:
            rows = conn.execute(
                self._q(
                    """SELECT {deliveries} FROM {s}.deliveries{where}
                        ORDER BY created_at DESC, id DESC LIMIT %s""",
                    where=where,
                ),
                (*params, _limit(limit)),
            ).fetchall()
        return [_delivery_record(row) for row in rows]

    def count_deliveries(
        self,
        *,
        tenant: str | None = None,
        state: DeliveryState | None = None,
        result_id: str | None = None,
        application_id: str | None = None,
        email: str | None = None,
    ) -> int:
        """How many deliveries `list_deliveries` would list without a limit."""
        where, params = _delivery_filter(tenant, state, result_id, application_id, email)
        with self._conn("count deliveries") as conn:
            query = self._q("SELECT COUNT(*) FROM {s}.deliveries{where}", where=where)
            return int(_one(conn.execute(query, params))[0])

    def get_delivery(self, delivery_id: int) -> DeliveryRecord | None:
        """One delivery by id."""
        with self._conn("read a delivery") as conn:
            row = conn.execute(
                self._q("SELECT {deliveries} FROM {s}.deliveries WHERE id = %s"), (delivery_id,)
            ).fetchone()
        return None if row is None else _delivery_record(row)

    def list_delivery_attempts(
        self, tenant: str, result_id: str, *, delivery_id: int | None = None
    ) -> Sequence[DeliveryAttempt]:
        """A result's delivery history (one delivery's with `delivery_id`), oldest first."""
        with self._conn("read delivery attempts") as conn:
            rows = conn.execute(
                self._q(
                    """SELECT delivery_id, tenant, result_id, version, attempt, outcome, error,
                            at, next_attempt_at
                        FROM {s}.delivery_attempts
                        WHERE tenant = %(t)s AND result_id = %(r)s
                          AND (%(d)s::bigint IS NULL OR delivery_id = %(d)s::bigint)
                        ORDER BY id"""
                ),
                {"t": tenant, "r": result_id, "d": delivery_id},
            ).fetchall()
        return [_attempt(row) for row in rows]

    # -- operators' views -----------------------------------------------------------------

    def tenant_activity(self) -> Sequence[TenantActivity]:
        """Per-tenant counts and oldest waiting work, each from an index: orders by
        (tenant, state), results by their unique key, unfinished and dead deliveries by
        their partial and state indexes (never the delivered ones); one round trip each."""
        found: dict[str, dict[str, Any]] = {}

        def tenant(name: str) -> dict[str, Any]:
            return found.setdefault(name, {})

        with self._conn("summarise the tenants") as conn:
            for name, state, count, oldest in conn.execute(
                self._q(
                    """SELECT tenant, state, COUNT(*), MIN(created_at) FROM {s}.orders
                       GROUP BY tenant, state"""
                )
            ):
                tenant(name)[f"orders_{state}"] = count
                if state == OrderState.PENDING.value:
                    tenant(name)["oldest_pending_order_at"] = oldest
            for name, count, orphans in conn.execute(
                self._q(
                    """SELECT tenant, COUNT(*), COUNT(*) FILTER (WHERE orphan)
                       FROM {s}.results GROUP BY tenant"""
                )
            ):
                tenant(name).update(results=count, orphans=orphans)
            for name, count, retrying, oldest in conn.execute(
                self._q(
                    """SELECT tenant, COUNT(*),
                           COUNT(*) FILTER (WHERE attempts > 0 AND last_error IS NOT NULL),
                           MIN(created_at)
                       FROM {s}.deliveries WHERE state IN ('pending', 'in_flight')
                       GROUP BY tenant"""
                )
            ):
                tenant(name).update(
                    deliveries_pending=count,
                    deliveries_retrying=retrying,
                    oldest_pending_delivery_at=oldest,
                )
            for name, count in conn.execute(
                self._q(
                    """SELECT tenant, COUNT(*) FROM {s}.deliveries WHERE state = 'dead'
                       GROUP BY tenant"""
                )
            ):
                tenant(name)["deliveries_dead"] = count
            for name, error, at in conn.execute(
                self._q(
                    """SELECT DISTINCT ON (tenant) tenant, last_error, updated_at
                       FROM {s}.deliveries
                       WHERE state IN ('pending', 'in_flight', 'dead') AND last_error IS NOT NULL
                       ORDER BY tenant, updated_at DESC, id DESC"""
                )
            ):
                tenant(name).update(last_error=error, last_error_at=at)
            for name, error, at in conn.execute(
                self._q(
                    """SELECT DISTINCT ON (tenant) tenant, last_error, updated_at
                       FROM {s}.orders
                       WHERE state IN ('pending', 'failed', 'link_unknown')
                         AND last_error IS NOT NULL
                       ORDER BY tenant, updated_at DESC, id DESC"""
                )
            ):
                tenant(name).update(last_order_error=error, last_order_error_at=at)
            for name, at in conn.execute(
                self._q("SELECT tenant, updated_at FROM {s}.cursors WHERE name = %s"),
                (POLL_SUCCEEDED,),
            ):
                tenant(name)["last_poll_at"] = at
        return [TenantActivity(name, **found[name]) for name in sorted(found)]

    def has_schema(self) -> bool:
        """True when the schema exists with its tables; nothing is created."""
        return self.schema_version() > 0

    def next_due(
        self, kind: WorkKind | None = None, *, tenants: Collection[str] | None = None
    ) -> float | None:
        """The earliest due time (or lease expiry) of unfinished orders and/or deliveries."""
        with self._conn("find the next due time") as conn:
            row = conn.execute(
                self._q(
                    """SELECT LEAST(
                        (SELECT MIN(next_attempt_at) FROM {s}.orders
                         WHERE state = 'pending' AND %(orders)s
                           AND (%(tenants)s::text[] IS NULL OR tenant = ANY(%(tenants)s))),
                        (SELECT MIN(next_attempt_at) FROM {s}.deliveries
                         WHERE state IN ('pending', 'in_flight') AND %(deliveries)s
                           AND (%(tenants)s::text[] IS NULL OR tenant = ANY(%(tenants)s))))"""
                ),
                {
                    "orders": kind in (None, "orders"),
                    "deliveries": kind in (None, "deliveries"),
                    "tenants": _tenant_array(tenants),
                },
            ).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    # -- connector state ------------------------------------------------------------------

    def get_state(self, tenant: str, namespace: str, key: str) -> StateEntry | None:
        """The stored entry of `key`, or None."""
        with self._conn("read connector state") as conn:
            row = conn.execute(
                self._q(
                    """SELECT value, version, updated_at FROM {s}.connector_state
                       WHERE tenant = %s AND namespace = %s AND key = %s"""
                ),
                (tenant, namespace, key),
            ).fetchone()
        return _state_entry(row)

    def put_state(
        self,
        tenant: str,
        namespace: str,
        key: str,
        value: str,
        *,
        expect_version: int | None = None,
        now: float,
    ) -> StateEntry | None:
        """Write `value` (only over version `expect_version` when given, 0: a new key); None
        when the condition failed. Each case is one statement, atomic under concurrency: an
        insert racing another waits for it and then does nothing, and an update racing
        another re-checks the version once that one commits."""
        params = {
            "t": tenant,
            "n": namespace,
            "k": key,
            "v": value,
            "now": now,
            "expect": expect_version,
        }
        if expect_version is None:
            query = """INSERT INTO {s}.connector_state AS c
                           (tenant, namespace, key, value, version, updated_at)
                       VALUES (%(t)s, %(n)s, %(k)s, %(v)s, 1, %(now)s)
                       ON CONFLICT (tenant, namespace, key) DO UPDATE SET
                           value = excluded.value, version = c.version + 1,
                           updated_at = excluded.updated_at
                       RETURNING value, version, updated_at"""
        elif expect_version == 0:
            query = """INSERT INTO {s}.connector_state
                           (tenant, namespace, key, value, version, updated_at)
                       VALUES (%(t)s, %(n)s, %(k)s, %(v)s, 1, %(now)s)
                       ON CONFLICT DO NOTHING
                       RETURNING value, version, updated_at"""
        else:
            query = """UPDATE {s}.connector_state SET value = %(v)s, version = version + 1,
                           updated_at = %(now)s
                       WHERE tenant = %(t)s AND namespace = %(n)s AND key = %(k)s
                         AND version = %(expect)s
                       RETURNING value, version, updated_at"""
        with self._conn("save connector state") as conn:
            row = conn.execute(self._q(query), params).fetchone()
        return _state_entry(row)

    def delete_state(self, tenant: str, namespace: str, key: str) -> None:
        """Forget `key`."""
        with self._conn("delete connector state") as conn:
            conn.execute(
                self._q(
                    """DELETE FROM {s}.connector_state
                       WHERE tenant = %s AND namespace = %s AND key = %s"""
                ),
                (tenant, namespace, key),
            )

    # -- cursors --------------------------------------------------------------------------

    def get_cursor(self, tenant: str, name: str) -> str | None:
        """A poller's saved position."""
        with self._conn("read a cursor") as conn:
            row = conn.execute(
                self._q("SELECT value FROM {s}.cursors WHERE tenant = %s AND name = %s"),
                (tenant, name),
            ).fetchone()
        return None if row is None else str(row[0])

    def set_cursor(self, tenant: str, name: str, value: str, *, now: float) -> None:
        """Save a poller's position."""
        with self._conn("save a cursor") as conn:
            conn.execute(
                self._q(
                    """INSERT INTO {s}.cursors (tenant, name, value, updated_at)
                       VALUES (%s, %s, %s, %s)
                       ON CONFLICT (tenant, name)
                       DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"""
                ),
                (tenant, name, value, now),
            )

    # -- WorkNotifications ----------------------------------------------------------------

    def subscribe(
        self,
        *,
        deliveries: Callable[[], None],
        orders: Callable[[], None],
        events: Callable[[], None] | None = None,
    ) -> None:
        """Call `deliveries()` / `orders()` / `events()` (when given) whenever any process
        using this schema makes such work due, from a background thread on a connection of
        its own, until `close()`.

        Returns once LISTEN is active (or after `pool_timeout` if the server cannot be
        reached; the thread keeps trying)."""
        callbacks: dict[str, Callable[[], None]] = {DELIVERIES: deliveries, ORDERS: orders}
        if events is not None:
            callbacks[EVENTS] = events
        with self._lock:
            if self._closed:
                raise StoreError(f"cannot subscribe: the PostgreSQL store {self.url} is closed")
            listener = Listener(self.settings.conninfo, self.channel, callbacks)
            self._listeners.append(listener)
        listener.start(wait=self.settings.pool_timeout)

    # -- PollLocks ------------------------------------------------------------------------

    def try_poll_lock(self, tenant: str, owner: str) -> bool:
        """Take (or keep) `tenant`'s poll lock for `owner`: a session-level advisory lock on a
        connection kept for it, so the lock dies with the process (or its connection)."""
        key = advisory_key("poll", self.schema, tenant)
        with self._poll_guard, self._errors("take a poll lock"):
            lock = self._poll_locks.get((owner, tenant))
            if lock is not None:
                try:
                    if lock.held:
                        lock.conn.execute(b"SELECT 1")  # still alive, so still ours
                        return True
                    lock.held = bool(self._try_lock(lock.conn, key))
                    return lock.held
                except psycopg.OperationalError:
                    # The session (and with it any lock) is gone: start afresh below.
                    with contextlib.suppress(psycopg.Error):
                        lock.conn.close()
                    del self._poll_locks[(owner, tenant)]
            lock = _PollLock(self._connect())
            try:
                lock.held = self._try_lock(lock.conn, key)
            except BaseException:
                lock.conn.close()
                raise
            self._poll_locks[(owner, tenant)] = lock
            return lock.held

    @staticmethod
    def _try_lock(conn: Connection, key: int) -> bool:
        row = conn.execute(b"SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        return bool(row and row[0])

    def release_poll_lock(self, tenant: str, owner: str) -> None:
        """Give the lock back and close its connection."""
        with self._poll_guard:
            lock = self._poll_locks.pop((owner, tenant), None)
        if lock is None:
            return
        try:
            if lock.held:
                with contextlib.suppress(psycopg.Error):
                    lock.conn.execute(
                        b"SELECT pg_advisory_unlock(%s)",
                        (advisory_key("poll", self.schema, tenant),),
                    )
        finally:
            with contextlib.suppress(psycopg.Error):
                lock.conn.close()
