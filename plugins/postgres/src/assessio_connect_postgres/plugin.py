"""The `assessio_connect` entry point: opens `postgresql://` and `postgres://` store URLs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assessio_connect import hookimpl

if TYPE_CHECKING:
    from assessio_connect.store import Store

__all__ = ["assessio_open_store"]


@hookimpl
def assessio_open_store(url: str) -> Store | None:
    """A `PostgresStore` for `postgresql://…` and `postgres://…`; None for other schemes."""
    from ._store import open_postgres_store

    return open_postgres_store(url)
