"""The example's `assessio_connect` plugin module: what its entry point would name."""

from __future__ import annotations

from collections.abc import Callable

from assessio_connect import Connector, hookimpl


@hookimpl
def assessio_register_connectors(register: Callable[[type[Connector]], None]) -> None:
    from .connector import LeverConnector

    register(LeverConnector)
