"""Registers the Hireboard connector with assessio-connect; found through the package's
`assessio_connect` entry point."""

from __future__ import annotations

from collections.abc import Callable

from assessio_connect import Connector, hookimpl

__all__ = ["assessio_register_connectors"]


@hookimpl
def assessio_register_connectors(register: Callable[[type[Connector]], None]) -> None:
    """`kind = "hireboard"`."""
    from ._connector import HireboardConnector

    register(HireboardConnector)
