"""Finding the test PostgreSQL server and giving each test a schema of its own.

The core `tests/` folder is put on `sys.path` here (for `store_contract` and
`daemon_harness`). The server comes from `ASSESSIO_TEST_POSTGRES_URL` (default
`postgresql://postgres@127.0.0.1:5432/test`). When none answers, tests skip with the reason,
unless `ASSESSIO_REQUIRE_POSTGRES=1` (CI), where they fail.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

__all__ = [
    "CORE_TESTS",
    "DEFAULT_URL",
    "NOW",
    "REQUIRE_ENV",
    "URL_ENV",
    "StoreContract",
    "StoreFactory",
    "admin",
    "free_port",
    "fresh_schema",
    "new_order",
    "payload",
    "server_url",
    "wait_until",
    "with_params",
]

URL_ENV = "ASSESSIO_TEST_POSTGRES_URL"
REQUIRE_ENV = "ASSESSIO_REQUIRE_POSTGRES"
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
CORE_TESTS = Path(__file__).resolve().parents[3] / "tests"
"""The core repository's tests folder: the shared store contract and the daemon harness,
re-exported from here so that no test module depends on the order of its imports."""

if str(CORE_TESTS) not in sys.path:
    sys.path.insert(0, str(CORE_TESTS))

from daemon_harness import free_port, wait_until  # noqa: E402
from store_contract import NOW, StoreContract, StoreFactory, new_order, payload  # noqa: E402


@functools.cache
def _reachability() -> tuple[str, str | None]:
    url = os.environ.get(URL_ENV) or DEFAULT_URL
    try:
        with psycopg.connect(url, connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return url, first
    return url, None


def server_url() -> str:
    """The test server's URL; skips (or fails when PostgreSQL is required) if it is down."""
    url, problem = _reachability()
    if problem is not None:
        reason = (
            f"no PostgreSQL at {_redacted(url)} ({problem}); set {URL_ENV} to a reachable "
            "server (each test makes and drops a schema of its own there)"
        )
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but {reason}")
        pytest.skip(reason)
    return url


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")
    user = netloc[0].partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[2]}"))


def with_params(url: str, **params: object) -> str:
    """`url` with query parameters added."""
    extra = "&".join(f"{key}={value}" for key, value in params.items())
    return f"{url}{'&' if '?' in url else '?'}{extra}"


def admin() -> psycopg.Connection[tuple[object, ...]]:
    """An autocommit connection to the test server, for setting up and inspecting."""
    return psycopg.connect(server_url(), autocommit=True)


@contextlib.contextmanager
def fresh_schema(**params: object) -> Iterator[str]:
    """A store URL on a new, unique schema, dropped (with everything in it) afterwards."""
    url = server_url()
    schema = f"test_{uuid.uuid4().hex[:12]}"
    try:
        yield with_params(url, schema=schema, **params)
    finally:
        with admin() as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
