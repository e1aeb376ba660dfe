"""A PostgreSQL `Store` for assessio-connect, so several daemon replicas share one database.

Installed, it opens `postgresql://` and `postgres://` store URLs (see `parse_url` for the
parameters); `PostgresStore` also provides the optional `WorkNotifications` and `PollLocks`.
"""

from __future__ import annotations

from ._schema import MIGRATIONS
from ._settings import PostgresSettings, parse_url
from ._store import PostgresStore, open_postgres_store
from ._version import __version__

__all__ = [
    "MIGRATIONS",
    "PostgresSettings",
    "PostgresStore",
    "__version__",
    "open_postgres_store",
    "parse_url",
]
