"""The built-in `Store`: one SQLite file in WAL mode, safe for the daemon's many threads.

Each thread gets its own connection; every write runs in `BEGIN IMMEDIATE` and commits with
`synchronous=FULL` before returning, because a 2xx to Assessio promises the result is durable.
The file holds candidates' e-mails and scores, so a new one is created readable by its owner
only (0600; SQLite gives its `-wal` and `-shm` files the same mode). A daemon holds the lock
file `<database>.lock` for its lifetime, so a second daemon cannot share the file.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from assessio_connect.contract import codec
from assessio_connect.contract.errors import ConfigError, StoreError, StoreUnavailableError
from assessio_connect.contract.models import AssessmentOrder

from ._file_lock import FileLock
from ._group_commit import GroupCommit
from ._sqlite_inbound import INBOUND_MIGRATION, SQLiteInbound
from .store import (
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

__all__ = ["MIGRATIONS", "SQLiteStore", "open_sqlite_store"]

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: orders, result versions, the delivery outbox and poller cursors.
    (
        """CREATE TABLE orders (
            id INTEGER PRIMARY KEY,
            tenant TEXT NOT NULL,
            application_id TEXT NOT NULL,
            result_id TEXT NOT NULL,
            job_id TEXT NOT NULL,
            candidate_id TEXT NOT NULL,
            order_json TEXT NOT NULL,
            metadata_json TEXT NOT NULL,
            state TEXT NOT NULL,
            reference TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL,
            last_error TEXT,
            lease_owner TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            UNIQUE (tenant, application_id),
            UNIQUE (tenant, result_id)
        )""",
        "CREATE INDEX orders_due ON orders (state, next_attempt_at)",
        "CREATE INDEX orders_recent ON orders (created_at, id)",
        """CREATE TABLE results (
            id INTEGER PRIMARY KEY,
            tenant TEXT NOT NULL,
            result_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            payload BLOB NOT NULL,
            digest TEXT NOT NULL,
            received_at REAL NOT NULL,
            orphan INTEGER NOT NULL,
            UNIQUE (tenant, result_id, version),
            UNIQUE (tenant, result_id, digest)
        )""",
        "CREATE INDEX results_recent ON results (received_at, id)",
        """CREATE TABLE deliveries (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            tenant TEXT NOT NULL,
            result_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL,
            last_error TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            lease_owner TEXT,
            lease_expires_at REAL,
            FOREIGN KEY (tenant, result_id, version)
                REFERENCES results (tenant, result_id, version)
        )""",
        # Unfinished rows only: claiming and next_due stay index-only however many rows finished.
        """CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id)
            WHERE state IN ('pending', 'in_flight')""",
        "CREATE INDEX deliveries_state ON deliveries (state, next_attempt_at)",
        "CREATE INDEX deliveries_result ON deliveries (tenant, result_id, state)",
        "CREATE INDEX deliveries_lease ON deliveries (lease_owner) WHERE lease_owner IS NOT NULL",
        """CREATE TABLE cursors (
            tenant TEXT NOT NULL,
            name TEXT NOT NULL,
            value TEXT NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (tenant, name)
        )""",
    ),
    # 2: connectors' durable key-value state.
    (
        """CREATE TABLE connector_state (
            tenant TEXT NOT NULL,
            namespace TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            version INTEGER NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (tenant, namespace, key)
        ) WITHOUT ROWID""",
    ),
    # 3: operators' views: orders searchable by e-mail (and by application or result id
    # across tenants), per-tenant counts from indexes, and every delivery attempt's outcome.
    (
        "ALTER TABLE orders ADD COLUMN email TEXT",
        """UPDATE orders SET email =
            trim(lower(json_extract(order_json, '$.candidateDetails.email')))""",
        "CREATE INDEX orders_by_email ON orders (email)",
        "CREATE INDEX orders_by_application ON orders (application_id)",
        "CREATE INDEX orders_by_result ON orders (result_id)",
        "CREATE INDEX orders_tenant_state ON orders (tenant, state, created_at)",
        "CREATE INDEX results_orphans ON results (tenant, received_at) WHERE orphan = 1",
        """CREATE TABLE delivery_attempts (
            id INTEGER PRIMARY KEY,
            delivery_id INTEGER NOT NULL,
            tenant TEXT NOT NULL,
            result_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            attempt INTEGER NOT NULL,
            outcome TEXT NOT NULL,
            error TEXT,
            at REAL NOT NULL,
            next_attempt_at REAL
        )""",
        "CREATE INDEX delivery_attempts_result ON delivery_attempts (tenant, result_id, id)",
    ),
    # 4: the inbound queue of push connectors' events (_sqlite_inbound).
    INBOUND_MIGRATION,
)
"""Schema steps in order; step N (1-based) brings the database to schema version N."""

_ORDER_COLUMNS = (
    "tenant, application_id, result_id, job_id, candidate_id, order_json, metadata_json, state, "
    "reference, attempts, next_attempt_at, last_error, created_at, updated_at"
)
_RESULT_COLUMNS = "tenant, result_id, version, payload, digest, received_at, orphan"
_DELIVERY_COLUMNS = (
    "id, tenant, result_id, version, state, attempts, next_attempt_at, last_error, created_at, "
    "updated_at, lease_owner, lease_expires_at"
)
_STATE_COLUMNS = "value, version, updated_at"
_ATTEMPT_COLUMNS = (
    "delivery_id, tenant, result_id, version, attempt, outcome, error, at, next_attempt_at"
)
_NO_LIMIT = -1
_ONLY_TENANTS = "AND (? IS NULL OR tenant IN (SELECT value FROM json_each(?)))"
_ADD_ATTEMPT = (
    f"INSERT INTO delivery_attempts ({_ATTEMPT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
)
_UNAVAILABLE_MARKERS = (
    "locked",
    "busy",
    "unable to open",
    "disk i/o",
    "readonly",
    "read-only",
    "database or disk is full",
    "cannot open",
)


def open_sqlite_store(url: str) -> SQLiteStore | None:
    """Open `sqlite:///relative.db` or `sqlite:////abs/path.db`; None for any other scheme."""
    if not url.lower().startswith("sqlite:"):
        return None
    return SQLiteStore(_path_from_url(url))


def _path_from_url(url: str) -> str:
    rest = url[len("sqlite:") :]
    if not rest.startswith("///") or "?" in rest or "#" in rest:
        raise ConfigError(
            [
                "a SQLite store URL is sqlite:/// followed by a file path "
                f"(e.g. sqlite:///state.db or sqlite:////var/lib/assessio/state.db), got {url!r}"
                " @ store.url"
            ]
        )
    path = unquote(rest[3:])
    if not path or path.endswith(("/", os.sep)) or "\x00" in path or path == ":memory:":
        raise ConfigError(
            [f"a SQLite store URL must name a database file, got {url!r} @ store.url"]
        )
    return path


def _optional_float(value: float | None) -> float | None:
    return None if value is None else float(value)


def _order_record(row: sqlite3.Row) -> OrderRecord:
    return OrderRecord(
        tenant=row["tenant"],
        application_id=row["application_id"],
        result_id=row["result_id"],
        job_id=row["job_id"],
        candidate_id=row["candidate_id"],
        order=codec.loads(row["order_json"].encode("utf-8"), AssessmentOrder, what="stored order"),
        metadata=json.loads(row["metadata_json"]),
        state=OrderState(row["state"]),
        reference=row["reference"],
        attempts=row["attempts"],
        next_attempt_at=float(row["next_attempt_at"]),
        last_error=row["last_error"],
        created_at=float(row["created_at"]),
        updated_at=float(row["updated_at"]),
    )


def _result_record(row: sqlite3.Row) -> ResultRecord:
    return ResultRecord(
        tenant=row["tenant"],
        result_id=row["result_id"],
        version=row["version"],
        payload=bytes(row["payload"]),
        digest=row["digest"],
        received_at=float(row["received_at"]),
        orphan=bool(row["orphan"]),
    )


def _delivery_record(row: sqlite3.Row) -> DeliveryRecord:
    return DeliveryRecord(
        id=row["id"],
        tenant=row["tenant"],
        result_id=row["result_id"],
        version=row["version"],
        state=DeliveryState(row["state"]),
        attempts=row["attempts"],
        next_attempt_at=float(row["next_attempt_at"]),
        last_error=row["last_error"],
        created_at=float(row["created_at"]),
        updated_at=float(row["updated_at"]),
        lease_owner=row["lease_owner"],
        lease_expires_at=_optional_float(row["lease_expires_at"]),
    )


def _attempt(row: sqlite3.Row) -> DeliveryAttempt:
    return DeliveryAttempt(
        delivery_id=row["delivery_id"],
        tenant=row["tenant"],
        result_id=row["result_id"],
        version=row["version"],
        attempt=row["attempt"],
        outcome=AttemptOutcome(row["outcome"]),
        error=row["error"],
        at=float(row["at"]),
        next_attempt_at=_optional_float(row["next_attempt_at"]),
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
    """A WHERE clause of constant fragments and its parameters for the operators' filters;
    `through_orders` matches the application and e-mail on the row's order."""
    clauses: list[str] = []
    params: list[Any] = []
    for clause, value in (("tenant = ?", tenant), ("result_id = ?", result_id), *extra):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    on_order = [
        (clause, value)
        for clause, value in (
            ("application_id = ?", application_id),
            ("email = ?", None if email is None else email_key(email)),
        )
        if value is not None
    ]
    if on_order and through_orders:
        inner = " AND ".join(clause for clause, _ in on_order)
        clauses.append(
            f"(tenant, result_id) IN (SELECT tenant, result_id FROM orders WHERE {inner})"  # noqa: S608
        )
    else:
        clauses.extend(clause for clause, _ in on_order)
    params.extend(value for _, value in on_order)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _only_tenants(tenants: Collection[str] | None) -> tuple[str | None, str | None]:
    """The parameters of `_ONLY_TENANTS`: a JSON array twice, or None for every tenant."""
    listed = None if tenants is None else json.dumps(sorted(tenants))
    return listed, listed


def _limit(limit: int | None) -> int:
    return _NO_LIMIT if limit is None else max(limit, 0)


def _state_entry(row: sqlite3.Row | None) -> StateEntry | None:
    if row is None:
        return None
    return StateEntry(
        value=row["value"], version=row["version"], updated_at=float(row["updated_at"])
    )


def _create_private(path: Path) -> None:
    """Create the database file readable and writable by its owner only, if it is missing."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def _enable_wal(conn: sqlite3.Connection, busy_timeout: float) -> None:
    """Switch to WAL; the switch skips SQLite's busy handler when several processes open a new
    database at once, so retry it for up to the busy timeout."""
    deadline = time.monotonic() + busy_timeout
    delay = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


class SQLiteStore(SQLiteInbound):
    """A `Store` in one SQLite file; one connection per calling thread."""

    exclusive = True

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 5.0) -> None:
        self._path = Path(os.fspath(path)).expanduser().absolute()
        self.url = f"sqlite:///{self._path.as_posix()}"
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._closed = False
        self._write_lock = threading.Lock()
        self._write_conn: sqlite3.Connection | None = None
        self._results = GroupCommit(self._run_result_batch)
        self._daemon_lock: FileLock | None = None

    def __repr__(self) -> str:
        return f"SQLiteStore({self.url!r})"

    # -- connections and errors ----------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection, for reads."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and not self._closed:
            return conn
        conn = self._open()
        self._local.conn = conn
        return conn

    def _writer(self) -> sqlite3.Connection:
        """The one connection every write goes through, under `_write_lock`: SQLite allows
        one writer at a time anyway, and one connection keeps its page cache warm, where
        writers on many connections make each other's caches stale."""
        if self._write_conn is None or self._closed:
            self._write_conn = self._open()
        return self._write_conn

    def _open(self) -> sqlite3.Connection:
        with self._lock:
            if self._closed:
                raise StoreError(f"the SQLite store at {self._path} is closed")
            _create_private(self._path)
            # close() may run on another thread, hence check_same_thread=False; a connection
            # is only ever used by one thread at a time.
            conn = sqlite3.connect(
                self._path,
                timeout=self._busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            try:
                conn.row_factory = sqlite3.Row
                _enable_wal(conn, self._busy_timeout)
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute("PRAGMA foreign_keys=ON")
            except BaseException:
                conn.close()
                raise
            self._connections.append(conn)
        return conn

    @contextlib.contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Translate sqlite3 errors into the package's errors, without any stored data."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            text = str(exc).lower()
            if any(marker in text for marker in _UNAVAILABLE_MARKERS):
                raise StoreUnavailableError(self._unavailable_message(action, text)) from None
            if "no such table" in text:
                raise StoreError(
                    f"cannot {action}: the SQLite database at {self._path} has no schema yet "
                    "(run the daemon once, or call migrate())"
                ) from None
            raise StoreError(
                f"cannot {action} in the SQLite database at {self._path}: {exc}"
            ) from None
        except sqlite3.DatabaseError as exc:
            text = str(exc).lower()
            if "not a database" in text or "malformed" in text:
                raise StoreError(
                    f"cannot {action}: {self._path} is not a usable SQLite database ({exc}); "
                    "restore it from a backup or point the store at another file"
                ) from None
            raise StoreError(
                f"cannot {action} in the SQLite database at {self._path}: {exc}"
            ) from None
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot {action} in the SQLite database at {self._path}: {exc}"
            ) from None
        except UnicodeEncodeError:
            raise StoreError(
                f"cannot {action}: a value is not valid Unicode text (it holds a lone surrogate)"
            ) from None
        except OSError as exc:  # creating the file, or its lock file
            text = (
                "unable to open"
                if isinstance(exc, (FileNotFoundError, PermissionError, NotADirectoryError))
                else "disk i/o"
            )
            raise StoreUnavailableError(self._unavailable_message(action, text)) from None

    def _unavailable_message(self, action: str, text: str) -> str:
        where = f"the SQLite database at {self._path}"
        if "locked" in text or "busy" in text:
            return (
                f"cannot {action}: {where} stayed locked for more than {self._busy_timeout:g} s "
                "(another process is using it; only one daemon may use a SQLite store)"
            )
        if "unable to open" in text or "cannot open" in text:
            return (
                f"cannot {action}: {where} cannot be opened "
                "(check that its directory exists and is writable by this user)"
            )
        if "readonly" in text or "read-only" in text:
            return f"cannot {action}: {where} is read-only (check the file's permissions)"
        if "full" in text:
            return f"cannot {action}: the disk holding {where} is full"
        return f"cannot {action}: disk I/O error on {where} (check the disk and its free space)"

    @contextlib.contextmanager
    def _read(self, action: str) -> Iterator[sqlite3.Connection]:
        with self._errors(action):
            yield self._connection()

    @contextlib.contextmanager
    def _write(self, action: str) -> Iterator[sqlite3.Connection]:
        """One `BEGIN IMMEDIATE` transaction, committed (durably) on success."""
        with self._errors(action), self._write_lock:
            conn = self._writer()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.rollback()
                raise
            conn.execute("COMMIT")

    # -- lifecycle ------------------------------------------------------------------------

    def migrate(self) -> None:
        """Create or upgrade the schema; idempotent and safe when two processes start at once."""
        with self._write("migrate the schema") as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY)")
            row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
            current = int(row[0] or 0)
            if current > len(MIGRATIONS):
                raise StoreError(
                    f"the SQLite database at {self._path} has schema version {current}, newer than "
                    f"this assessio-connect supports ({len(MIGRATIONS)}); upgrade assessio-connect"
                )
            for number, steps in enumerate(MIGRATIONS[current:], start=current + 1):
                for statement in steps:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (number,))

    def schema_version(self) -> int:
        """The schema version recorded in the database (0 before `migrate`)."""
        with self._read("read the schema version") as conn:
            exists = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
            ).fetchone()
            if exists is None:
                return 0
            return int(conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0)

    def has_schema(self) -> bool:
        """True when the file exists and holds a schema; a missing file is not created."""
        return self._path.is_file() and self.schema_version() > 0

    def ping(self) -> None:
        """Raise `StoreUnavailableError` unless `SELECT 1` answers."""
        try:
            with self._read("reach the store") as conn:
                conn.execute("SELECT 1").fetchone()
        except StoreUnavailableError:
            raise
        except StoreError as exc:
            raise StoreUnavailableError(str(exc)) from None

    def lock_for_daemon(self) -> None:
        """Hold `<database>.lock` until `close()`, so that no second daemon uses this file;
        raise `StoreError` naming the holder's pid when another process holds it."""
        with self._errors("lock the store"), self._lock:
            if self._closed:
                raise StoreError(f"the SQLite store at {self._path} is closed")
            if self._daemon_lock is not None:
                return
            lock = FileLock(self._path.with_name(self._path.name + ".lock"))
            if not lock.try_acquire():
                pid = lock.holder_pid()
                holder = "an unknown pid" if pid is None else f"pid {pid}"
                raise StoreError(
                    f"the SQLite store {self._path} is in use by another assessio-connect "
                    f"daemon ({holder}); only one daemon may use a SQLite file: stop that one, "
                    "or use PostgreSQL for several replicas"
                )
            self._daemon_lock = lock

    def close(self) -> None:
        """Close every thread's connection and give back the daemon lock; the store is
        unusable afterwards."""
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
            lock, self._daemon_lock = self._daemon_lock, None
        for conn in connections:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        if lock is not None:
            lock.release()

    # -- orders ---------------------------------------------------------------------------

    def add_order(self, new: NewOrder, *, now: float) -> tuple[OrderRecord, bool]:
        """Record a pending order due now, or return the stored one for (tenant, application)."""
        order_json = codec.dumps(new.order).decode("utf-8")
        metadata_json = json.dumps(dict(new.metadata), sort_keys=True, ensure_ascii=False)
        with self._write("record an order") as conn:
            row = conn.execute(
                f"SELECT {_ORDER_COLUMNS} FROM orders WHERE tenant = ? AND application_id = ?",  # noqa: S608
                (new.tenant, new.application_id),
            ).fetchone()
            if row is not None:
                return _order_record(row), False
            clash = conn.execute(
                "SELECT application_id FROM orders WHERE tenant = ? AND result_id = ?",
                (new.tenant, new.order.result_id),
            ).fetchone()
            if clash is not None:
                raise StoreError(
                    f"cannot record the order for application {new.application_id!r} in tenant "
                    f"{new.tenant!r}: its resultId {new.order.result_id!r} already belongs to "
                    f"application {clash[0]!r}"
                )
            row = conn.execute(
                f"""INSERT INTO orders ({_ORDER_COLUMNS}, email)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, 0, ?, NULL, ?, ?, ?)
                    RETURNING {_ORDER_COLUMNS}""",  # noqa: S608
                (
                    new.tenant,
                    new.application_id,
                    new.order.result_id,
                    new.job_id,
                    new.candidate_id,
                    order_json,
                    metadata_json,
                    OrderState.PENDING.value,
                    now,
                    now,
                    now,
                    email_key(new.order.candidate_details.email),
                ),
            ).fetchone()
            return _order_record(row), True

    def get_order(self, tenant: str, result_id: str) -> OrderRecord | None:
        """The order that owns `result_id` in `tenant`."""
        with self._read("read an order") as conn:
            row = conn.execute(
                f"SELECT {_ORDER_COLUMNS} FROM orders WHERE tenant = ? AND result_id = ?",  # noqa: S608
                (tenant, result_id),
            ).fetchone()
        return None if row is None else _order_record(row)

    def find_order(self, tenant: str, application_id: str) -> OrderRecord | None:
        """The order for an ATS application."""
        with self._read("read an order") as conn:
            row = conn.execute(
                f"SELECT {_ORDER_COLUMNS} FROM orders WHERE tenant = ? AND application_id = ?",  # noqa: S608
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
        """Claim due pending orders (oldest due first) until `now + lease`."""
        if limit <= 0:
            return []
        with self._write("claim orders") as conn:
            ids = [
                row[0]
                for row in conn.execute(
                    f"""SELECT id FROM orders WHERE state = ? AND next_attempt_at <= ?
                        {_ONLY_TENANTS} ORDER BY next_attempt_at, id LIMIT ?""",  # noqa: S608
                    (OrderState.PENDING.value, now, *_only_tenants(tenants), limit),
                )
            ]
            if not ids:
                return []
            rows = conn.execute(
                f"""UPDATE orders SET attempts = attempts + 1, next_attempt_at = ?,
                        lease_owner = ?, updated_at = ?
                    WHERE id IN (SELECT value FROM json_each(?))
                    RETURNING id, {_ORDER_COLUMNS}""",  # noqa: S608
                (now + lease, owner, now, json.dumps(ids)),
            ).fetchall()
        position = {order_id: index for index, order_id in enumerate(ids)}
        rows.sort(key=lambda row: position[row["id"]])
        return [_order_record(row) for row in rows]

    def _update_order(
        self, action: str, tenant: str, result_id: str, sets: str, values: tuple[Any, ...]
    ) -> None:
        with self._write(action) as conn:
            conn.execute(
                f"UPDATE orders SET {sets}, lease_owner = NULL WHERE tenant = ? AND result_id = ?",  # noqa: S608
                (*values, tenant, result_id),
            )

    def order_sent(self, tenant: str, result_id: str, reference: str | None, *, now: float) -> None:
        """Mark an order accepted by Assessio."""
        self._update_order(
            "mark an order sent",
            tenant,
            result_id,
            # A 409 on a resend carries no reference: keep the one a first send may have saved.
            "state = ?, reference = COALESCE(?, reference), last_error = NULL, updated_at = ?",
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
            "state = ?, next_attempt_at = ?, last_error = ?, updated_at = ?",
            (OrderState.PENDING.value, due, error, now),
        )

    def order_failed(self, tenant: str, result_id: str, error: str, *, now: float) -> None:
        """Mark an order rejected for good."""
        self._update_order(
            "mark an order failed",
            tenant,
            result_id,
            "state = ?, last_error = ?, updated_at = ?",
            (OrderState.FAILED.value, error, now),
        )

    def order_link_unknown(self, tenant: str, result_id: str, note: str, *, now: float) -> None:
        """Mark a link order ordered without its link, saying why in `last_error`; sent
        instead when a reference was stored meanwhile."""
        self._update_order(
            "mark an order's link unknown",
            tenant,
            result_id,
            """state = CASE WHEN reference IS NULL THEN ? ELSE ? END,
               last_error = CASE WHEN reference IS NULL THEN ? END, updated_at = ?""",
            (OrderState.LINK_UNKNOWN.value, OrderState.SENT.value, note, now),
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
        where, params = self._order_filter(tenant, state, result_id, application_id, email)
        with self._read("list orders") as conn:
            rows = conn.execute(
                f"""SELECT {_ORDER_COLUMNS} FROM orders{where}
                    ORDER BY created_at DESC, id DESC LIMIT ?""",  # noqa: S608
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
        where, params = self._order_filter(tenant, state, result_id, application_id, email)
        with self._read("count orders") as conn:
            return int(conn.execute(f"SELECT COUNT(*) FROM orders{where}", params).fetchone()[0])  # noqa: S608

    @staticmethod
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
            extra=[("state = ?", None if state is None else OrderState(state).value)],
        )

    # -- results --------------------------------------------------------------------------

    def record_result(
        self, tenant: str, result_id: str, payload: bytes, *, now: float
    ) -> RecordedResult:
        """Store a result version and queue its delivery, in one transaction.

        Concurrent calls share a transaction (group commit): each returns once it is durable,
        but many webhooks cost one fsync instead of one each."""
        digest = payload_digest(payload)

        def work(conn: sqlite3.Connection) -> RecordedResult:
            return self._record_result_in(conn, tenant, result_id, payload, digest, now)

        return self._results.submit(work)

    def _run_result_batch(
        self, works: list[Callable[[Any], Any]]
    ) -> list[tuple[Any, BaseException | None]]:
        if len(works) == 1:  # alone in its transaction: a rollback undoes only this result
            try:
                with self._write("record a result") as conn:
                    return [(works[0](conn), None)]
            except Exception as exc:
                return [(None, exc)]
        outcomes: list[tuple[Any, BaseException | None]] = []
        with self._write("record results") as conn:
            for work in works:
                conn.execute("SAVEPOINT one_result")
                try:
                    with self._errors("record a result"):
                        value = work(conn)
                except Exception as exc:  # only this result fails; the others still commit
                    conn.execute("ROLLBACK TO one_result")
                    conn.execute("RELEASE one_result")
                    outcomes.append((None, exc))
                    continue
                conn.execute("RELEASE one_result")
                outcomes.append((value, None))
        return outcomes

    def _record_result_in(
        self,
        conn: sqlite3.Connection,
        tenant: str,
        result_id: str,
        payload: bytes,
        digest: str,
        now: float,
    ) -> RecordedResult:
        # One read answers all three questions: is it a duplicate, is it ordered, which version.
        seen, known, latest, matched = conn.execute(
            """SELECT MAX(CASE WHEN digest = ?3 THEN version END),
                      EXISTS (SELECT 1 FROM orders WHERE tenant = ?1 AND result_id = ?2),
                      COALESCE(MAX(version), 0), COALESCE(SUM(orphan = 0), 0)
               FROM results WHERE tenant = ?1 AND result_id = ?2""",
            (tenant, result_id, digest),
        ).fetchone()
        if seen is not None:
            return RecordedResult(ResultOutcome.DUPLICATE, int(seen), None)
        version = int(latest) + 1
        conn.execute(
            f"INSERT INTO results ({_RESULT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
            (tenant, result_id, version, payload, digest, now, 0 if known else 1),
        )
        if not known:
            return RecordedResult(ResultOutcome.ORPHAN, version, None)
        if latest:  # a delivery needs a result row: the first version supersedes nothing
            conn.execute(
                """UPDATE deliveries SET state = ?, updated_at = ?
                   WHERE tenant = ? AND result_id = ? AND state = ? AND version < ?""",
                (DeliveryState.SUPERSEDED.value, now, tenant, result_id, "pending", version),
            )
        delivery_id = conn.execute(
            """INSERT INTO deliveries (tenant, result_id, version, state, attempts,
                   next_attempt_at, created_at, updated_at)
               VALUES (?, ?, ?, ?, 0, ?, ?, ?) RETURNING id""",
            (tenant, result_id, version, DeliveryState.PENDING.value, now, now, now),
        ).fetchone()[0]
        outcome = ResultOutcome.UPDATED if matched else ResultOutcome.NEW
        return RecordedResult(outcome, version, int(delivery_id))

    def get_result(
        self, tenant: str, result_id: str, version: int | None = None
    ) -> ResultRecord | None:
        """One version, or the latest when `version` is None."""
        with self._read("read a result") as conn:
            row = conn.execute(
                f"""SELECT {_RESULT_COLUMNS} FROM results
                    WHERE tenant = ?1 AND result_id = ?2 AND (?3 IS NULL OR version = ?3)
                    ORDER BY version DESC LIMIT 1""",  # noqa: S608
                (tenant, result_id, version),
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
            extra=[("orphan = ?", None if orphans is None else int(orphans))],
        )
        with self._read("list results") as conn:
            rows = conn.execute(
                f"""SELECT {_RESULT_COLUMNS} FROM results{where}
                    ORDER BY received_at DESC, id DESC LIMIT ?""",  # noqa: S608
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
            extra=[("orphan = ?", None if orphans is None else int(orphans))],
        )
        with self._read("count results") as conn:
            return int(conn.execute(f"SELECT COUNT(*) FROM results{where}", params).fetchone()[0])  # noqa: S608

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
        """Claim due pending deliveries and expired leases, oldest due first.

        An in-flight row's `next_attempt_at` is its lease expiry, so one index serves both."""
        if limit <= 0:
            return []
        with self._write("claim deliveries") as conn:
            ids = [
                row[0]
                for row in conn.execute(
                    f"""SELECT id FROM deliveries INDEXED BY deliveries_due
                        WHERE state IN ('pending', 'in_flight') AND next_attempt_at <= ?
                        {_ONLY_TENANTS} ORDER BY next_attempt_at, id LIMIT ?""",  # noqa: S608
                    (now, *_only_tenants(tenants), limit),
                )
            ]
            if not ids:
                return []
            rows = conn.execute(
                f"""UPDATE deliveries SET state = 'in_flight', attempts = attempts + 1,
                        next_attempt_at = ?1 + ?2, lease_expires_at = ?1 + ?2,
                        lease_owner = ?3, updated_at = ?1
                    WHERE id IN (SELECT value FROM json_each(?4))
                    RETURNING {_DELIVERY_COLUMNS}""",  # noqa: S608
                (now, lease, owner, json.dumps(ids)),
            ).fetchall()
        position = {delivery_id: index for index, delivery_id in enumerate(ids)}
        rows.sort(key=lambda row: position[row["id"]])
        return [_delivery_record(row) for row in rows]

    def _finish(
        self,
        action: str,
        delivery_id: int,
        owner: str,
        sets: str,
        values: tuple[Any, ...],
        attempt: tuple[AttemptOutcome, str | None, float | None, float],
    ) -> bool:
        """Record the outcome of a push while `owner` holds the lease, and append it to the
        delivery's history (`attempt`: outcome, error, next due, now) in the same commit."""
        outcome, error, due, now = attempt
        with self._write(action) as conn:
            row = conn.execute(
                f"""UPDATE deliveries SET {sets}, lease_owner = NULL, lease_expires_at = NULL
                    WHERE id = ? AND state = 'in_flight' AND lease_owner = ?
                    RETURNING tenant, result_id, version, attempts""",  # noqa: S608
                (*values, delivery_id, owner),
            ).fetchone()
            if row is None:
                return False
            conn.execute(_ADD_ATTEMPT, (delivery_id, *row, outcome.value, error, now, due))
            return True

    def delivery_done(self, delivery_id: int, *, owner: str, now: float) -> bool:
        """Mark delivered; False when `owner` no longer holds the lease."""
        return self._finish(
            "mark a delivery done",
            delivery_id,
            owner,
            "state = ?, last_error = NULL, updated_at = ?",
            (DeliveryState.DELIVERED.value, now),
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
            "state = ?, next_attempt_at = ?, last_error = ?, updated_at = ?",
            (DeliveryState.PENDING.value, due, error, now),
            (AttemptOutcome.RETRY, error, due, now),
        )

    def delivery_dead(self, delivery_id: int, *, owner: str, error: str, now: float) -> bool:
        """Dead-letter with the reason; False when the lease was lost."""
        return self._finish(
            "dead-letter a delivery",
            delivery_id,
            owner,
            "state = ?, last_error = ?, updated_at = ?",
            (DeliveryState.DEAD.value, error, now),
            (AttemptOutcome.DEAD, error, None, now),
        )

    def renew_delivery_leases(
        self, ids: Sequence[int], *, owner: str, now: float, lease: float
    ) -> Sequence[int]:
        """Extend `owner`'s unexpired leases on `ids` to `now + lease`; returns those renewed."""
        if not ids:
            return []
        with self._write("renew delivery leases") as conn:
            renewed = {
                row[0]
                for row in conn.execute(
                    """UPDATE deliveries SET next_attempt_at = ?1 + ?2, lease_expires_at = ?1 + ?2
                       WHERE id IN (SELECT value FROM json_each(?4)) AND state = 'in_flight'
                         AND lease_owner = ?3 AND lease_expires_at > ?1
                       RETURNING id""",
                    (now, lease, owner, json.dumps([int(i) for i in ids])),
                )
            }
        return [i for i in ids if i in renewed]

    def release_expired(self, *, now: float) -> int:
        """Give back leases that expired by `now`; returns how many deliveries were released."""
        with self._write("release expired leases") as conn:
            conn.execute(
                """UPDATE orders SET lease_owner = NULL, updated_at = ?1
                   WHERE state = 'pending' AND next_attempt_at <= ?1 AND lease_owner IS NOT NULL""",
                (now,),
            )
            cursor = conn.execute(
                """UPDATE deliveries SET state = 'pending', next_attempt_at = ?1,
                       lease_owner = NULL, lease_expires_at = NULL, updated_at = ?1
                   WHERE id IN (SELECT id FROM deliveries INDEXED BY deliveries_due
                                WHERE state IN ('pending', 'in_flight') AND next_attempt_at <= ?1)
                     AND state = 'in_flight'""",
                (now,),
            )
            return cursor.rowcount

    def release(self, owner: str | None, *, now: float) -> int:
        """Give back `owner`'s leases (all when None); returns how many deliveries were released."""
        with self._write("release leases") as conn:
            conn.execute(
                """UPDATE orders SET next_attempt_at = ?1, lease_owner = NULL, updated_at = ?1
                   WHERE lease_owner IS NOT NULL AND (?2 IS NULL OR lease_owner = ?2)
                     AND state = 'pending'""",
                (now, owner),
            )
            cursor = conn.execute(
                """UPDATE deliveries SET state = 'pending', next_attempt_at = ?1,
                       lease_owner = NULL, lease_expires_at = NULL, updated_at = ?1
                   WHERE lease_owner IS NOT NULL AND (?2 IS NULL OR lease_owner = ?2)
                     AND state = 'in_flight'""",
                (now, owner),
            )
            return cursor.rowcount

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
        with self._write("requeue deliveries") as conn:
            rows = conn.execute(
                """SELECT id, tenant, result_id, version, attempts FROM deliveries
                   WHERE state IN ('pending', 'in_flight', 'dead')
                     AND (?4 IS NULL OR tenant = ?4)
                     AND (id IN (SELECT value FROM json_each(?2)) OR (?3 AND state = 'dead'))""",
                (now, json.dumps([int(i) for i in ids]), int(dead), tenant),
            ).fetchall()
            if not rows:
                return 0
            conn.execute(
                """UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?1,
                       lease_owner = NULL, lease_expires_at = NULL, updated_at = ?1,
                       created_at = ?1
                   WHERE id IN (SELECT value FROM json_each(?2))""",
                (now, json.dumps([row["id"] for row in rows])),
            )
            conn.executemany(
                _ADD_ATTEMPT,
                [(*row, AttemptOutcome.REQUEUED.value, None, now, now) for row in rows],
            )
            return len(rows)

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
        where, params = _where(
            tenant=tenant,
            result_id=result_id,
            application_id=application_id,
            email=email,
            through_orders=True,
            extra=[("state = ?", None if state is None else DeliveryState(state).value)],
        )
        with self._read("list deliveries") as conn:
            rows = conn.execute(
                f"""SELECT {_DELIVERY_COLUMNS} FROM deliveries{where}
                    ORDER BY created_at DESC, id DESC LIMIT ?""",  # noqa: S608
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
        where, params = _where(
            tenant=tenant,
            result_id=result_id,
            application_id=application_id,
            email=email,
            through_orders=True,
            extra=[("state = ?", None if state is None else DeliveryState(state).value)],
        )
        with self._read("count deliveries") as conn:
            query = f"SELECT COUNT(*) FROM deliveries{where}"  # noqa: S608
            return int(conn.execute(query, params).fetchone()[0])

    def get_delivery(self, delivery_id: int) -> DeliveryRecord | None:
        """One delivery by id."""
        with self._read("read a delivery") as conn:
            row = conn.execute(
                f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE id = ?",  # noqa: S608
                (delivery_id,),
            ).fetchone()
        return None if row is None else _delivery_record(row)

    def list_delivery_attempts(
        self, tenant: str, result_id: str, *, delivery_id: int | None = None
    ) -> Sequence[DeliveryAttempt]:
        """A result's delivery history (one delivery's with `delivery_id`), oldest first."""
        with self._read("read delivery attempts") as conn:
            rows = conn.execute(
                f"""SELECT {_ATTEMPT_COLUMNS} FROM delivery_attempts
                    WHERE tenant = ?1 AND result_id = ?2 AND (?3 IS NULL OR delivery_id = ?3)
                    ORDER BY id""",  # noqa: S608
                (tenant, result_id, delivery_id),
            ).fetchall()
        return [_attempt(row) for row in rows]

    def next_due(
        self, kind: WorkKind | None = None, *, tenants: Collection[str] | None = None
    ) -> float | None:
        """The earliest due time (or lease expiry) of unfinished orders and/or deliveries."""
        order = delivery = None
        only = _only_tenants(tenants)
        with self._read("find the next due time") as conn:
            if kind in (None, "orders"):
                order = conn.execute(
                    f"""SELECT MIN(next_attempt_at) FROM orders
                        WHERE state = 'pending' {_ONLY_TENANTS}""",  # noqa: S608
                    only,
                ).fetchone()[0]
            if kind in (None, "deliveries"):
                delivery = conn.execute(
                    f"""SELECT MIN(next_attempt_at) FROM deliveries INDEXED BY deliveries_due
                        WHERE state IN ('pending', 'in_flight') {_ONLY_TENANTS}""",  # noqa: S608
                    only,
                ).fetchone()[0]
        times = [float(t) for t in (order, delivery) if t is not None]
        return min(times) if times else None

    # -- operators' views -----------------------------------------------------------------

    def tenant_activity(self) -> Sequence[TenantActivity]:
        """Per-tenant counts and oldest waiting work, each from an index: orders by
        (tenant, state), results by their unique key, unfinished and dead deliveries by
        their partial and state indexes (never the delivered ones)."""
        found: dict[str, dict[str, Any]] = {}

        def tenant(name: str) -> dict[str, Any]:
            return found.setdefault(name, {})

        with self._read("summarise the tenants") as conn:
            for name, state, count, oldest in conn.execute(
                """SELECT tenant, state, COUNT(*), MIN(created_at) FROM orders
                   INDEXED BY orders_tenant_state GROUP BY tenant, state"""
            ):
                tenant(name)[f"orders_{state}"] = count
                if state == OrderState.PENDING.value:
                    tenant(name)["oldest_pending_order_at"] = float(oldest)
            for name, count in conn.execute("SELECT tenant, COUNT(*) FROM results GROUP BY tenant"):
                tenant(name)["results"] = count
            for name, count in conn.execute(
                """SELECT tenant, COUNT(*) FROM results INDEXED BY results_orphans
                   WHERE orphan = 1 GROUP BY tenant"""
            ):
                tenant(name)["orphans"] = count
            for name, count, retrying, oldest in conn.execute(
                """SELECT tenant, COUNT(*), SUM(attempts > 0 AND last_error IS NOT NULL),
                          MIN(created_at)
                   FROM deliveries INDEXED BY deliveries_due
                   WHERE state IN ('pending', 'in_flight') GROUP BY tenant"""
            ):
                tenant(name).update(
                    deliveries_pending=count,
                    deliveries_retrying=retrying,
                    oldest_pending_delivery_at=float(oldest),
                )
            for name, count in conn.execute(
                "SELECT tenant, COUNT(*) FROM deliveries WHERE state = 'dead' GROUP BY tenant"
            ):
                tenant(name)["deliveries_dead"] = count
            for name, error, at in conn.execute(
                """SELECT tenant, last_error, updated_at FROM (
                       SELECT tenant, last_error, updated_at, ROW_NUMBER() OVER (
                           PARTITION BY tenant ORDER BY updated_at DESC, id DESC) AS n
                       FROM deliveries WHERE state IN ('pending', 'in_flight', 'dead')
                         AND last_error IS NOT NULL)
                   WHERE n = 1"""
            ):
                tenant(name).update(last_error=error, last_error_at=float(at))
            for name, error, at in conn.execute(
                """SELECT tenant, last_error, updated_at FROM (
                       SELECT tenant, last_error, updated_at, ROW_NUMBER() OVER (
                           PARTITION BY tenant ORDER BY updated_at DESC, id DESC) AS n
                       FROM orders WHERE state IN ('pending', 'failed', 'link_unknown')
                         AND last_error IS NOT NULL)
                   WHERE n = 1"""
            ):
                tenant(name).update(last_order_error=error, last_order_error_at=float(at))
            for name, at in conn.execute(
                "SELECT tenant, updated_at FROM cursors WHERE name = ?", (POLL_SUCCEEDED,)
            ):
                tenant(name)["last_poll_at"] = float(at)
        return [TenantActivity(name, **found[name]) for name in sorted(found)]

    # -- connector state ------------------------------------------------------------------

    def get_state(self, tenant: str, namespace: str, key: str) -> StateEntry | None:
        """The stored entry of `key`, or None."""
        with self._read("read connector state") as conn:
            row = conn.execute(
                f"""SELECT {_STATE_COLUMNS} FROM connector_state
                    WHERE tenant = ? AND namespace = ? AND key = ?""",  # noqa: S608
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
        when the condition failed. One write transaction at a time makes the check atomic."""
        where = (tenant, namespace, key)
        with self._write("save connector state") as conn:
            if expect_version is None:
                row = conn.execute(
                    f"""INSERT INTO connector_state
                            (tenant, namespace, key, value, version, updated_at)
                        VALUES (?, ?, ?, ?, 1, ?)
                        ON CONFLICT (tenant, namespace, key) DO UPDATE SET
                            value = excluded.value, version = connector_state.version + 1,
                            updated_at = excluded.updated_at
                        RETURNING {_STATE_COLUMNS}""",  # noqa: S608
                    (*where, value, now),
                ).fetchone()
            elif expect_version == 0:
                row = conn.execute(
                    f"""INSERT INTO connector_state
                            (tenant, namespace, key, value, version, updated_at)
                        VALUES (?, ?, ?, ?, 1, ?) ON CONFLICT DO NOTHING
                        RETURNING {_STATE_COLUMNS}""",  # noqa: S608
                    (*where, value, now),
                ).fetchone()
            else:
                row = conn.execute(
                    f"""UPDATE connector_state SET value = ?, version = version + 1,
                            updated_at = ?
                        WHERE tenant = ? AND namespace = ? AND key = ? AND version = ?
                        RETURNING {_STATE_COLUMNS}""",  # noqa: S608
                    (value, now, *where, expect_version),
                ).fetchone()
        return _state_entry(row)

    def delete_state(self, tenant: str, namespace: str, key: str) -> None:
        """Forget `key`."""
        with self._write("delete connector state") as conn:
            conn.execute(
                "DELETE FROM connector_state WHERE tenant = ? AND namespace = ? AND key = ?",
                (tenant, namespace, key),
            )

    # -- cursors --------------------------------------------------------------------------

    def get_cursor(self, tenant: str, name: str) -> str | None:
        """A poller's saved position."""
        with self._read("read a cursor") as conn:
            row = conn.execute(
                "SELECT value FROM cursors WHERE tenant = ? AND name = ?", (tenant, name)
            ).fetchone()
        return None if row is None else str(row[0])

    def set_cursor(self, tenant: str, name: str, value: str, *, now: float) -> None:
        """Save a poller's position."""
        with self._write("save a cursor") as conn:
            conn.execute(
                """INSERT INTO cursors (tenant, name, value, updated_at) VALUES (?, ?, ?, ?)
                   ON CONFLICT (tenant, name)
                   DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at""",
                (tenant, name, value, now),
            )
