"""Every hook a plugin can implement, one short function each.

Plugins implement them with `@assessio_connect.hookimpl` and are found through the
`assessio_connect` entry-point group. Built-in behaviour is registered first, so a third-party
implementation of a *firstresult* hook takes precedence over the built-in one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from .connector import AssessmentChoice, Connector, Invitation
    from .store import DeliveryRecord, OrderRecord, RecordedResult, ResultRecord, Store

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]

PROJECT_NAME = "assessio_connect"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# Registration


@hookspec
def assessio_register_connectors(register: Callable[[type[Connector]], None]) -> None:
    """Call `register(ConnectorClass)` for each connector kind the plugin provides.

    Registering a kind that another plugin already registered is an error naming both."""


@hookspec
def assessio_register_commands(cli: click.Group) -> None:
    """Add commands (or groups) to the `assessio-connect` command line."""


@hookspec
def assessio_register_demos(register: Callable[[str, Callable[[], object]], None]) -> None:
    """Call `register(kind, factory)` to let `assessio-connect demo` run a connector against its
    fake ATS; `factory()` returns a fresh `assessio_connect.demo.DemoAts` (the demo kit, a
    layer above the runtime, so named here only in words)."""


# Providers (firstresult: the first non-None answer wins)


@hookspec(firstresult=True)
def assessio_resolve_secret(scheme: str, reference: str) -> str | None:
    """Resolve a secret reference `{scheme = reference}` from the configuration.

    firstresult. Built in: `env` (environment variable) and `file` (file contents, stripped of
    one trailing newline). Return None for schemes the plugin does not handle."""


@hookspec(firstresult=True)
def assessio_open_store(url: str) -> Store | None:
    """Open the store for `url` (e.g. `sqlite:///path/state.db`), or None for other schemes.

    firstresult. Built in: `sqlite`."""


@hookspec(firstresult=True)
def assessio_choose_assessment(
    tenant: str, invitation: Invitation, choice: AssessmentChoice
) -> AssessmentChoice | None:
    """Override the lens, locale and collaborators the tenant's rules chose for an invitation.

    firstresult. Return None to keep `choice`."""


# Lifecycle notifications (every implementation is called; return values are ignored)


@hookspec
def assessio_order_sent(tenant: str, order: OrderRecord) -> None:
    """An order was accepted by Assessio (or was already there: 409). `order.state` is `sent`,
    or `link_unknown` when a resent link order was answered 409 and its link was never
    recorded (`order.reference` is then None: the link must be found in the Assessio Platform)."""


@hookspec
def assessio_result_received(tenant: str, result: ResultRecord, recorded: RecordedResult) -> None:
    """A result webhook was durably stored: new, updated or orphan (a duplicate stores nothing)."""


@hookspec
def assessio_result_delivered(tenant: str, delivery: DeliveryRecord, order: OrderRecord) -> None:
    """A result version was written back into the ATS."""


@hookspec
def assessio_delivery_failed(tenant: str, delivery: DeliveryRecord, error: str, dead: bool) -> None:
    """A push-back attempt failed; `dead` when it was dead-lettered (no more retries)."""
