"""`assessio-connect events list|retry`: the inbound queue of push connectors, for operators.

Like the other lists they read the store of the configuration (or `--store`) and never create
one, say "showing N of M" when they stop at `--limit`, and show no payload: an event's body
holds a candidate's data, so a list shows its size and the names of the headers kept with it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from assessio_connect.runtime._logging import Scrubber
from assessio_connect.runtime.store import InboundRecord, InboundState

from ._cli_operator import (
    JSON_FLAG,
    LIMIT_OPTION,
    STORE_OPTION,
    TENANT_FILTER,
    _check_tenant,
    _echo_json,
    _limit,
    _listed,
    _Session,
    _session,
    _short,
    _stamp,
    _table,
    report_requeued,
)
from ._cli_runtime import CONFIG_OPTION

__all__ = ["register_commands"]


def register_commands(cli: click.Group) -> None:
    """Add the `events` group."""
    cli.add_command(events_group)


def _event_data(event: InboundRecord, scrub: Scrubber) -> dict[str, Any]:
    return {
        "id": event.id,
        "tenant": event.tenant,
        "key": event.key,
        "state": event.state.value,
        "attempts": event.attempts,
        "next_attempt_at": event.next_attempt_at,
        "last_error": None if event.last_error is None else scrub(event.last_error),
        "created_at": event.created_at,
        "updated_at": event.updated_at,
        "lease_owner": event.lease_owner,
        "lease_expires_at": event.lease_expires_at,
        "payload_bytes": len(event.payload),
        "headers": sorted(event.headers),
    }


def _opened(
    ctx: click.Context, config_path: Path | None, store_url: str | None, tenant: str | None
) -> _Session:
    """The store, with `tenant` checked as the other lists check it (a tenant that only has
    events, not yet an order, is known too)."""
    session = _session(ctx, config_path, store_url, None)
    try:
        if tenant is not None and not session.store.count_events(tenant=tenant):
            configured = [info.name for info in session.tenants] if config_path else []
            _check_tenant(tenant, configured, session.store)
    except BaseException:
        session.close()
        raise
    return session


@click.group("events")
def events_group() -> None:
    """Events push connectors accepted from their ATS, handled in the background."""


@events_group.command("list")
@CONFIG_OPTION
@STORE_OPTION
@TENANT_FILTER
@click.option(
    "--state", type=click.Choice([s.value for s in InboundState]), help="Only this state."
)
@LIMIT_OPTION
@JSON_FLAG
@click.pass_context
def events_list(
    ctx: click.Context,
    config_path: Path | None,
    store_url: str | None,
    tenant: str | None,
    state: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List accepted events, newest first (no payload: its size and the kept headers)."""
    chosen = InboundState(state) if state else None
    session = _opened(ctx, config_path, store_url, tenant)
    store = session.store
    try:
        found = store.list_events(tenant=tenant, state=chosen, limit=_limit(limit))
        scrub = session.scrub
        if as_json:
            _echo_json([_event_data(e, scrub) for e in found])
        else:
            _table(
                [
                    "ID",
                    "TENANT",
                    "KEY",
                    "STATE",
                    "ATTEMPTS",
                    "ACCEPTED",
                    "NEXT ATTEMPT",
                    "LAST ERROR",
                ],
                [
                    [
                        e.id,
                        e.tenant,
                        _short(e.key, 40),
                        e.state.value,
                        e.attempts,
                        _stamp(e.created_at),
                        _stamp(e.next_attempt_at) if e.state is InboundState.PENDING else "-",
                        _short(scrub(e.last_error or "")),
                    ]
                    for e in found
                ],
            )
        _listed(
            len(found),
            limit,
            lambda: store.count_events(tenant=tenant, state=chosen),
            "events",
            as_json=as_json,
        )
    finally:
        session.close()


@events_group.command("retry")
@CONFIG_OPTION
@STORE_OPTION
@click.argument("ids", nargs=-1, type=int)
@click.option("--dead", is_flag=True, help="Retry every dead-lettered event.")
@click.option("--tenant", help="Only this tenant's events (with --dead: its dead letters).")
@click.pass_context
def events_retry(
    ctx: click.Context,
    config_path: Path | None,
    store_url: str | None,
    ids: tuple[int, ...],
    dead: bool,
    tenant: str | None,
) -> None:
    """Make events due again now, attempts reset (a running daemon handles them).

    Exit code 1 when one of the given IDs is unknown, done or of another tenant than
    --tenant."""
    if not ids and not dead:
        raise click.UsageError("give event IDs or --dead")
    session = _opened(ctx, config_path, store_url, tenant)
    try:
        count = session.store.requeue_events(ids=ids, dead=dead, tenant=tenant, now=time.time())
    finally:
        session.close()
    report_requeued(
        count,
        ids,
        dead=dead,
        tenant=tenant,
        noun=("event", "events"),
        handled="handles them",
        finished="done",
        list_command="events list",
    )
