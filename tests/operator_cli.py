"""A configuration of twelve tenants and a seeded store, and the CLI run in-process over them,
for the tests of the operators' commands."""

from __future__ import annotations

import os
import time
from pathlib import Path

import attrs
from click.testing import CliRunner, Result

from assessio_connect.runtime._sqlite_store import SQLiteStore
from assessio_connect.tools.cli import cli
from status_world import ATS_TOKEN, OPERATOR_TOKEN, Seeded, seed_history, write_config

__all__ = ["TENANTS", "Operated", "operated", "run"]

TENANTS = 12


@attrs.frozen
class Operated:
    config: Path
    store: Path
    seeds: Seeded | None

    @property
    def seeded(self) -> Seeded:
        """The seeded rows (of a world made with `seed=True`)."""
        assert self.seeds is not None
        return self.seeds

    def open(self) -> SQLiteStore:
        return SQLiteStore(self.store)


def operated(tmp: Path, *, seed: bool = True) -> Operated:
    """The configuration in `tmp`; with `seed`, its store with the seeded history."""
    config = write_config(
        tmp, tenants=TENANTS, ats_url="http://127.0.0.1:9", assessio_url="http://127.0.0.1:9"
    )
    path = tmp / "state.db"
    seeded = None
    if seed:
        store = SQLiteStore(path)
        store.migrate()
        seeded = seed_history(store, tenants=TENANTS, now=time.time())
        store.close()
    return Operated(config, path, seeded)


def run(*args: str) -> Result:
    """The CLI in-process, without the caller's ASSESSIO_* variables; never a traceback and
    never a secret in what it prints."""
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("ASSESSIO_")}
    result = CliRunner().invoke(cli, list(args), env=unset, catch_exceptions=False)
    assert "Traceback" not in result.output
    assert ATS_TOKEN not in result.output
    assert OPERATOR_TOKEN not in result.output
    return result
