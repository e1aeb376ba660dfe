"""The receiver a user would write instead of the daemon's: Flask and sqlite3.

It does the least a result webhook needs: check the API key (in constant time), parse the JSON,
store the body (every version: a row per webhook) with one durable commit (WAL,
`synchronous=FULL`), answer 200. Each server thread keeps its own connection, as a careful
user would; there is no validation against the contract, no signature, no delivery outbox and
no log.
"""

from __future__ import annotations

import hmac
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from flask import Flask, abort, request

__all__ = ["SCHEMA", "flask_receiver", "stored"]

SCHEMA = """CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY,
    tenant TEXT NOT NULL,
    result_id TEXT NOT NULL,
    payload BLOB NOT NULL,
    received_at REAL NOT NULL
)"""
INDEX = "CREATE INDEX IF NOT EXISTS results_by_id ON results (tenant, result_id)"


def flask_receiver(path: Path, api_key: str) -> Flask:
    """A Flask app answering `POST /results/<tenant>/<result_id>` into the SQLite file `path`."""
    expected = api_key.encode()
    local = threading.local()
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute(SCHEMA)
        setup.execute(INDEX)
    setup.close()

    def connection() -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(path, timeout=5.0, check_same_thread=False)
            conn.execute("PRAGMA synchronous=FULL")
            local.conn = conn
        return conn

    app = Flask("flask_baseline")

    @app.post("/results/<tenant>/<result_id>")
    def receive(tenant: str, result_id: str) -> tuple[dict[str, Any], int]:
        sent = (request.headers.get("integrator-api-key") or "").encode()
        if not hmac.compare_digest(sent, expected):
            abort(401)
        data = request.get_json()
        if not isinstance(data, dict) or data.get("resultId") != result_id:
            return {"error": "the body's resultId differs from the URL's"}, 422
        conn = connection()
        with conn:  # one transaction, committed (durably) when the block ends
            conn.execute(
                "INSERT INTO results (tenant, result_id, payload, received_at) VALUES (?, ?, ?, ?)",
                (tenant, result_id, request.get_data(), time.time()),
            )
        return {"status": "stored", "version": 1}, 200

    return app


def stored(path: Path) -> int:
    """How many results the baseline committed to `path`."""
    with sqlite3.connect(path) as conn:
        count = int(conn.execute("SELECT COUNT(*) FROM results").fetchone()[0])
    conn.close()
    return count
