"""The built-in plugin: env/file secrets, the SQLite store, the reference connector, commands.

The package registers it through its own entry point (`assessio_connect.builtin` in the
`assessio_connect` group), which the plugin manager loads before any other plugin's, so a
third party's firstresult hook wins; the runtime never imports the tools layer.
"""

from __future__ import annotations

from collections.abc import Callable

import click

from assessio_connect.demo import DemoAts
from assessio_connect.reference import ReferenceConnector, ReferenceDemo
from assessio_connect.runtime._sqlite_store import open_sqlite_store
from assessio_connect.runtime.config import resolve_builtin_secret
from assessio_connect.runtime.connector import Connector
from assessio_connect.runtime.hookspecs import hookimpl
from assessio_connect.runtime.store import Store

from ._cli_events import register_commands as register_event_commands
from ._cli_kit import register_commands as register_kit_commands
from ._cli_operator import register_commands as register_operator_commands
from ._cli_runtime import register_commands as register_runtime_commands

__all__ = [
    "assessio_open_store",
    "assessio_register_commands",
    "assessio_register_connectors",
    "assessio_register_demos",
    "assessio_resolve_secret",
]


@hookimpl(trylast=True)
def assessio_resolve_secret(scheme: str, reference: str) -> str | None:
    """`{env = "NAME"}` and `{file = "path"}`."""
    return resolve_builtin_secret(scheme, reference)


@hookimpl(trylast=True)
def assessio_open_store(url: str) -> Store | None:
    """`sqlite:///path/to/state.db`."""
    return open_sqlite_store(url)


@hookimpl
def assessio_register_connectors(register: Callable[[type[Connector]], None]) -> None:
    """The reference connector (a small JSON-over-HTTP ATS)."""
    register(ReferenceConnector)


@hookimpl
def assessio_register_demos(register: Callable[[str, Callable[[], DemoAts]], None]) -> None:
    """The reference ATS, shown when no other connector offers a demo."""
    register("reference", ReferenceDemo)


@hookimpl
def assessio_register_commands(cli: click.Group) -> None:
    """The daemon and operator commands."""
    register_runtime_commands(cli)
    register_operator_commands(cli)
    register_event_commands(cli)
    register_kit_commands(cli)
