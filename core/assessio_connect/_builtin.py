"""The built-in plugin: env/file secrets, the SQLite store, the reference connector, commands.

It is registered before any installed plugin, so a third party's firstresult hook wins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .runtime.hookspecs import hookimpl

if TYPE_CHECKING:
    import click

    from .demo import DemoAts
    from .runtime.connector import Connector
    from .runtime.store import Store

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
    from .runtime.config import resolve_builtin_secret

    return resolve_builtin_secret(scheme, reference)


@hookimpl(trylast=True)
def assessio_open_store(url: str) -> Store | None:
    """`sqlite:///path/to/state.db`."""
    from .runtime._sqlite_store import open_sqlite_store

    return open_sqlite_store(url)


@hookimpl
def assessio_register_connectors(register: Callable[[type[Connector]], None]) -> None:
    """The reference connector (a small JSON-over-HTTP ATS)."""
    from .reference import ReferenceConnector

    register(ReferenceConnector)


@hookimpl
def assessio_register_demos(register: Callable[[str, Callable[[], DemoAts]], None]) -> None:
    """The reference ATS, shown when no other connector offers a demo."""
    from .reference import ReferenceDemo

    register("reference", ReferenceDemo)


@hookimpl
def assessio_register_commands(cli: click.Group) -> None:
    """The daemon and operator commands."""
    from ._cli_events import register_commands as register_event_commands
    from ._cli_kit import register_commands as register_kit_commands
    from ._cli_runtime import register_commands

    register_commands(cli)
    register_event_commands(cli)
    register_kit_commands(cli)
