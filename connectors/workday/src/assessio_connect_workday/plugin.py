"""The entry point of the Workday connector: its connector kind, its commands and its demo."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from assessio_connect import Connector, hookimpl

if TYPE_CHECKING:
    import click

    from ._demo import WorkdayDemo

__all__ = [
    "assessio_register_commands",
    "assessio_register_connectors",
    "assessio_register_demos",
]


@hookimpl
def assessio_register_connectors(register: Callable[[type[Connector]], None]) -> None:
    """`kind = "workday"`."""
    from ._connector import WorkdayConnector

    register(WorkdayConnector)


@hookimpl
def assessio_register_commands(cli: click.Group) -> None:
    """`assessio-connect workday tests`."""
    from ._cli import register

    register(cli)


@hookimpl
def assessio_register_demos(register: Callable[[str, Callable[[], WorkdayDemo]], None]) -> None:
    """A fake Workday tenant for `assessio-connect demo`."""
    from ._demo import WorkdayDemo

    register("workday", WorkdayDemo)
