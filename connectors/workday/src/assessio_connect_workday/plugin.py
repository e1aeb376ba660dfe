"""The entry point of the Workday connector: its connector kind, its commands and its demo."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import assessio_connect

if TYPE_CHECKING:
    import click

    from assessio_connect.connector import Connector
    from assessio_connect.demo import DemoAts

__all__ = [
    "assessio_register_commands",
    "assessio_register_connectors",
    "assessio_register_demos",
]


@assessio_connect.hookimpl
def assessio_register_connectors(register: Callable[[type[Connector]], None]) -> None:
    """`kind = "workday"`."""
    from ._connector import WorkdayConnector

    register(WorkdayConnector)


@assessio_connect.hookimpl
def assessio_register_commands(cli: click.Group) -> None:
    """`assessio-connect workday tests`."""
    from ._cli import register

    register(cli)


@assessio_connect.hookimpl
def assessio_register_demos(register: Callable[[str, Callable[[], DemoAts]], None]) -> None:
    """A fake Workday tenant for `assessio-connect demo`."""
    from ._demo import WorkdayDemo

    register("workday", WorkdayDemo)
