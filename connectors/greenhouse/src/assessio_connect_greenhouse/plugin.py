"""The Greenhouse connector's plugin: registers the connector, its commands and its demo with
assessio-connect (found through the `assessio_connect` entry-point group, exactly as a third
party's would be)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from assessio_connect import hookimpl

if TYPE_CHECKING:
    import click

    from assessio_connect import Connector

    from ._demo import GreenhouseDemo

__all__ = [
    "assessio_register_commands",
    "assessio_register_connectors",
    "assessio_register_demos",
]


@hookimpl
def assessio_register_connectors(register: Callable[[type[Connector]], None]) -> None:
    """`kind = "greenhouse"`."""
    from ._connector import GreenhouseConnector

    register(GreenhouseConnector)


@hookimpl
def assessio_register_commands(cli: click.Group) -> None:
    """`assessio-connect greenhouse connect`."""
    from ._cli import register

    register(cli)


@hookimpl
def assessio_register_demos(
    register: Callable[[str, Callable[[], GreenhouseDemo]], None],
) -> None:
    """The fake Greenhouse moving candidates into an assessment stage."""
    from ._demo import GreenhouseDemo

    register("greenhouse", GreenhouseDemo)
