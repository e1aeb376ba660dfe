"""Operators' commands over the store: `status`, `trace` and the lists of `orders`, `results`
and `deliveries` (with `deliveries retry`).

They read the store named in the configuration (or `--store`) and never create one: a store
that does not exist yet is an error. A list that stops at `--limit` says how many there are in
all (`--limit 0` lists everything); `--tenant` must name a configured tenant (or one the store
holds rows of).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import click

from assessio_connect.contract.errors import AssessioError, StoreError
from assessio_connect.runtime._logging import Scrubber
from assessio_connect.runtime._status import (
    CandidateTrace,
    Health,
    TenantInfo,
    TenantSummary,
    find_traces,
    overview,
    tenant_infos,
    to_json,
)
from assessio_connect.runtime.config import (
    load_daemon_config,
    store_url_from_file,
    tenant_kinds_from_file,
)
from assessio_connect.runtime.plugins import Plugins
from assessio_connect.runtime.store import (
    DeliveryRecord,
    DeliveryState,
    OrderRecord,
    OrderState,
    ResultRecord,
    SchemaCheck,
    Store,
)

from ._cli_runtime import CONFIG_OPTION, _Failed, _plugins, _plural, _require_config

__all__ = ["register_commands"]

STORE_OPTION = click.option(
    "--store",
    "store_url",
    envvar="ASSESSIO_CONNECT_STORE",
    help="Store URL instead of the one in --config, e.g. sqlite:///state.db.",
)
TENANT_FILTER = click.option("--tenant", help="Only this tenant (a name from the configuration).")
JSON_FLAG = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
LIMIT_OPTION = click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=100,
    show_default=True,
    help="At most N rows, newest first; 0 lists all.",
)
RESULT_ID_FILTER = click.option("--result-id", help="Only this result id.")
APPLICATION_FILTER = click.option(
    "--application-id", help="Only the candidate of this ATS application."
)
EMAIL_FILTER = click.option(
    "--email", help="Only candidates with this e-mail address (any case of its letters)."
)


@attrs.frozen
class _Filters:
    """What every list can be narrowed to."""

    tenant: str | None
    result_id: str | None
    application_id: str | None
    email: str | None

    def as_kwargs(self) -> dict[str, str | None]:
        return attrs.asdict(self)


def register_commands(cli: click.Group) -> None:
    """Add `status`, `trace` and the `orders`, `results` and `deliveries` groups."""
    for command in (status_command, trace_command, orders_group, results_group, deliveries_group):
        cli.add_command(command)


# Opening the store, checking the tenant


def _store_url(config_path: Path | None, store_url: str | None) -> str:
    return store_url or store_url_from_file(_require_config(config_path))


def open_existing_store(plugins: Plugins, url: str) -> Store:
    """The store at `url`, upgraded to this release's schema where this user may; never a
    new one."""
    store = plugins.open_store(url)
    try:
        if isinstance(store, SchemaCheck) and not store.has_schema():
            raise _Failed(
                f"there is no store at {store.url} yet (nothing was created): the daemon makes "
                "it when it first runs; check [store] url in the configuration, or --store"
            )
        # A read-only user or file cannot upgrade: reads work on a current schema (and say
        # what is missing on an older one).
        with contextlib.suppress(StoreError):
            store.migrate()
    except BaseException:
        store.close()
        raise
    return store


def _configured(plugins: Plugins, config_path: Path | None) -> tuple[list[TenantInfo], Scrubber]:
    """The configured tenants and a scrubber with the configuration's secrets; where the
    secrets cannot be read here, the tenants' names and kinds alone and the credential shapes."""
    if config_path is None:
        return [], Scrubber()
    try:
        config = load_daemon_config(plugins, config_path)
    except AssessioError:
        kinds = tenant_kinds_from_file(config_path)
        return [TenantInfo(name, kind, "?") for name, kind in kinds.items()], Scrubber()
    return tenant_infos(config.tenants, plugins.connector), Scrubber(config.secret_values())


def _check_tenant(tenant: str | None, configured: Sequence[str], store: Store) -> None:
    """Exit 1 when `tenant` is neither configured nor in the store (a typo lists nothing)."""
    if tenant is None or tenant in configured:
        return
    stored = {activity.tenant for activity in store.tenant_activity()}
    if tenant in stored:
        return
    known = sorted(set(configured) | stored)
    close = difflib.get_close_matches(tenant, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    shown = ", ".join(known[:10]) + (f" and {len(known) - 10} more" if len(known) > 10 else "")
    raise _Failed(f"no tenant named {tenant!r}{hint} (known: {shown or 'none'})")


@attrs.define
class _Session:
    """An operator command's store and what it knows of the configuration."""

    store: Store
    tenants: list[TenantInfo]
    scrub: Scrubber

    def close(self) -> None:
        self.store.close()


def _session(
    ctx: click.Context, config_path: Path | None, store_url: str | None, tenant: str | None
) -> _Session:
    plugins = _plugins(ctx)
    url = _store_url(config_path, store_url)
    tenants, scrub = _configured(plugins, config_path)
    store = open_existing_store(plugins, url)
    try:
        configured = [info.name for info in tenants]
        if config_path is None and tenant is not None:
            configured = []
        _check_tenant(tenant, configured, store)
    except BaseException:
        store.close()
        raise
    return _Session(store, tenants, scrub)


# Printing


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def _stamp(value: float | None) -> str:
    if value is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))


def _ago(value: float | None, now: float) -> str:
    if value is None:
        return "-"
    seconds = max(0.0, now - value)
    for unit, size in (("d", 86_400.0), ("h", 3_600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return f"{int(seconds)} s ago"


def _short(text: str | None, width: int = 80) -> str:
    """One line of at most `width` characters for a table cell (`--json` has it whole)."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[" ".join(str(cell).split()) for cell in row] for row in rows]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    if not rows:
        click.echo("(none)")


def _listed(shown: int, limit: int, count: Callable[[], int], noun: str, *, as_json: bool) -> None:
    """After a list: "showing 100 of 352 …" when it stopped at the limit (on stderr under
    --json, so the JSON stays a plain array)."""
    if limit == 0 or shown < limit:
        return
    total = count()
    if total > shown:
        click.echo(
            f"showing {shown} of {total} {noun} (newest first; --limit 0 lists all)",
            err=as_json,
        )


def _limit(limit: int) -> int | None:
    return None if limit == 0 else limit


# status


def _summary_rows(rows: Sequence[TenantSummary], now: float) -> list[list[Any]]:
    return [
        [
            row.health.value,
            row.tenant,
            f"{row.ats_kind or 'not configured'}{f' ({row.style})' if row.style else ''}",
            _ago(row.last_poll_at, now) if row.style and "pull" in row.style else "-",
            f"{row.orders_pending}/{row.orders_sent}/{row.orders_failed + row.orders_link_unknown}",
            row.results,
            f"{row.deliveries_pending}/{row.deliveries_retrying}/{row.deliveries_dead}",
            _ago(row.oldest_pending_at, now),
            _short("; ".join(row.problems), 60) or "-",
            _short(row.last_error or row.last_order_error, 60) or "-",
        ]
        for row in rows
    ]


def _print_tenant(row: TenantSummary, now: float) -> None:
    facts = [
        (
            "health",
            f"{row.health.value}" + (f": {'; '.join(row.problems)}" if row.problems else ""),
        ),
        ("ats", f"{row.ats_kind or 'not configured'} ({row.style or '-'})"),
        ("last poll", _ago(row.last_poll_at, now) if row.style and "pull" in row.style else "-"),
        (
            "orders",
            f"{row.orders_pending} pending, {row.orders_sent} sent, {row.orders_failed} refused, "
            f"{row.orders_link_unknown} without link",
        ),
        ("results", f"{row.results} versions, {row.orphans} orphans"),
        (
            "deliveries",
            f"{row.deliveries_pending} pending ({row.deliveries_retrying} retrying), "
            f"{row.deliveries_dead} dead",
        ),
        ("oldest pending", _ago(row.oldest_pending_at, now)),
        ("last delivery error", row.last_error or "-"),
        ("last order error", row.last_order_error or "-"),
    ]
    click.echo(row.tenant)
    for label, value in facts:
        click.echo(f"  {label + ':':<21}{value}")


@click.command("status")
@CONFIG_OPTION
@STORE_OPTION
@TENANT_FILTER
@JSON_FLAG
@click.pass_context
def status_command(
    ctx: click.Context,
    config_path: Path | None,
    store_url: str | None,
    tenant: str | None,
    as_json: bool,
) -> None:
    """Every tenant's health, problems first: orders, results, deliveries (pending, retrying,
    dead), the oldest waiting work, the last error and the last poll. The same summary as the
    status page."""
    _require_config(config_path)
    session = _session(ctx, config_path, store_url, tenant)
    now = time.time()
    try:
        view = overview(session.store, session.tenants, now=now, scrub=session.scrub, only=tenant)
    finally:
        session.close()
    if as_json:
        _echo_json(to_json(view) if tenant is None else to_json(view.tenants[0]))
        return
    if tenant is not None:
        _print_tenant(view.tenants[0], now)
        return
    click.echo(
        f"{view.count(Health.FAILING)} failing, {view.count(Health.DELAYED)} delayed, "
        f"{view.count(Health.OK)} ok ({_plural(len(view.tenants), 'tenant')})"
    )
    _table(
        [
            "HEALTH",
            "TENANT",
            "ATS",
            "LAST POLL",
            "ORDERS P/S/F",
            "RESULTS",
            "DELIVERIES P/R/D",
            "OLDEST PENDING",
            "PROBLEMS",
            "LAST ERROR",
        ],
        _summary_rows(view.tenants, now),
    )


# trace


def _print_trace(trace: CandidateTrace) -> None:
    who = f"application {trace.application_id}" if trace.application_id else "orphan result"
    click.echo(f"{trace.tenant} · {who} · result {trace.result_id}")
    if trace.application_id is not None:
        click.echo(
            f"  candidate {trace.candidate_id} <{trace.email}>, job {trace.job_id}; order "
            f"{trace.order_state.value if trace.order_state else '-'}"
            + (f", assessment link {trace.link}" if trace.link else "")
            + (f", Assessio reference {trace.reference}" if trace.reference else "")
        )
    for delivery in trace.deliveries:
        due = (
            f", next attempt {_stamp(delivery.next_attempt_at)}" if delivery.next_attempt_at else ""
        )
        click.echo(
            f"  delivery {delivery.id} (version {delivery.version}): {delivery.state.value} after "
            f"{_plural(delivery.attempts, 'attempt')}{due}"
        )
    width = max((len(event.kind) for event in trace.events), default=0)
    for event in trace.events:
        where = f"  [delivery {event.delivery_id}]" if event.delivery_id is not None else ""
        click.echo(f"  {_stamp(event.at)}  {event.kind:<{width}}  {event.summary}{where}")
        if event.error:
            click.echo(f"  {'':19}  {'':<{width}}  error: {_short(event.error, 400)}")


@click.command("trace")
@click.argument("query", metavar="APPLICATION-ID|RESULT-ID|EMAIL")
@CONFIG_OPTION
@STORE_OPTION
@TENANT_FILTER
@JSON_FLAG
@click.pass_context
def trace_command(
    ctx: click.Context,
    query: str,
    config_path: Path | None,
    store_url: str | None,
    tenant: str | None,
    as_json: bool,
) -> None:
    """One candidate end to end, in time order: the order (and its link or reference), every
    result version, every delivery attempt with its error. Exit code 1 when nothing matches."""
    session = _session(ctx, config_path, store_url, tenant)
    try:
        traces = find_traces(session.store, query, scrub=session.scrub, tenant=tenant)
    finally:
        session.close()
    if not traces:
        where = f" in tenant {tenant}" if tenant else ""
        raise _Failed(
            f"nothing found for {query!r}{where} (application ids, result ids and e-mail "
            "addresses were searched)"
        )
    if as_json:
        _echo_json([to_json(trace) for trace in traces])
        return
    for index, trace in enumerate(traces):
        if index:
            click.echo("")
        _print_trace(trace)


# orders, results, deliveries


def _order_data(order: OrderRecord, scrub: Scrubber) -> dict[str, Any]:
    return {
        "tenant": order.tenant,
        "application_id": order.application_id,
        "result_id": order.result_id,
        "job_id": order.job_id,
        "candidate_id": order.candidate_id,
        "email": order.order.candidate_details.email,
        "lens_id": order.order.lens_id,
        "state": order.state.value,
        "reference": order.reference,
        "attempts": order.attempts,
        "last_error": None if order.last_error is None else scrub(order.last_error),
        "created_at": order.created_at,
        "updated_at": order.updated_at,
    }


def _result_data(result: ResultRecord) -> dict[str, Any]:
    parsed = result.result
    return {
        "tenant": result.tenant,
        "result_id": result.result_id,
        "version": result.version,
        "score": parsed.score,
        "orphan": result.orphan,
        "received_at": result.received_at,
        "digest": result.digest,
    }


def _delivery_data(delivery: DeliveryRecord, scrub: Scrubber) -> dict[str, Any]:
    data = attrs.asdict(delivery)
    data["state"] = delivery.state.value
    if delivery.last_error is not None:
        data["last_error"] = scrub(delivery.last_error)
    return data


def _list_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        (
            CONFIG_OPTION,
            STORE_OPTION,
            TENANT_FILTER,
            RESULT_ID_FILTER,
            APPLICATION_FILTER,
            EMAIL_FILTER,
            LIMIT_OPTION,
            JSON_FLAG,
        )
    ):
        command = option(command)
    return command


@click.group("orders")
def orders_group() -> None:
    """Orders recorded by the daemon."""


@orders_group.command("list")
@_list_options
@click.option("--state", type=click.Choice([s.value for s in OrderState]), help="Only this state.")
@click.pass_context
def orders_list(
    ctx: click.Context,
    config_path: Path | None,
    store_url: str | None,
    tenant: str | None,
    result_id: str | None,
    application_id: str | None,
    email: str | None,
    limit: int,
    as_json: bool,
    state: str | None,
) -> None:
    """List orders, newest first."""
    filters = _Filters(tenant, result_id, application_id, email)
    chosen = OrderState(state) if state else None
    session = _session(ctx, config_path, store_url, tenant)
    store = session.store
    try:
        found = store.list_orders(state=chosen, limit=_limit(limit), **filters.as_kwargs())
        scrub = session.scrub
        if as_json:
            _echo_json([_order_data(o, scrub) for o in found])
        else:
            _table(
                [
                    "TENANT",
                    "APPLICATION",
                    "RESULT ID",
                    "STATE",
                    "ATTEMPTS",
                    "UPDATED",
                    "LAST ERROR",
                ],
                [
                    [
                        o.tenant,
                        o.application_id,
                        o.result_id,
                        o.state.value,
                        o.attempts,
                        _stamp(o.updated_at),
                        _short(scrub(o.last_error or "")),
                    ]
                    for o in found
                ],
            )
        _listed(
            len(found),
            limit,
            lambda: store.count_orders(state=chosen, **filters.as_kwargs()),
            "orders",
            as_json=as_json,
        )
    finally:
        session.close()


@click.group("results")
def results_group() -> None:
    """Results received from Assessio."""


def _list_results(
    ctx: click.Context,
    config_path: Path | None,
    store_url: str | None,
    filters: _Filters,
    orphans: bool | None,
    limit: int,
    as_json: bool,
) -> None:
    session = _session(ctx, config_path, store_url, filters.tenant)
    store = session.store
    try:
        found = store.list_results(orphans=orphans, limit=_limit(limit), **filters.as_kwargs())
        if as_json:
            _echo_json([_result_data(r) for r in found])
        else:
            _table(
                ["TENANT", "RESULT ID", "VERSION", "SCORE", "ORPHAN", "RECEIVED"],
                [
                    [
                        r.tenant,
                        r.result_id,
                        r.version,
                        "-" if r.result.score is None else r.result.score,
                        "yes" if r.orphan else "no",
                        _stamp(r.received_at),
                    ]
                    for r in found
                ],
            )
        noun = "orphans" if orphans else "result versions"
        _listed(
            len(found),
            limit,
            lambda: store.count_results(orphans=orphans, **filters.as_kwargs()),
            noun,
            as_json=as_json,
        )
    finally:
        session.close()


@results_group.command("list")
@_list_options
@click.pass_context
def results_list(
    ctx: click.Context,
    config_path: Path | None,
    store_url: str | None,
    tenant: str | None,
    result_id: str | None,
    application_id: str | None,
    email: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List result versions, newest first."""
    filters = _Filters(tenant, result_id, application_id, email)
    _list_results(ctx, config_path, store_url, filters, None, limit, as_json)


@results_group.command("orphans")
@_list_options
@click.pass_context
def results_orphans(
    ctx: click.Context,
    config_path: Path | None,
    store_url: str | None,
    tenant: str | None,
    result_id: str | None,
    application_id: str | None,
    email: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List authenticated results whose resultId matches no order, for reconciliation."""
    filters = _Filters(tenant, result_id, application_id, email)
    _list_results(ctx, config_path, store_url, filters, True, limit, as_json)


@click.group("deliveries")
def deliveries_group() -> None:
    """Result push-backs to the ATS (the outbox)."""


@deliveries_group.command("list")
@_list_options
@click.option(
    "--state", type=click.Choice([s.value for s in DeliveryState]), help="Only this state."
)
@click.pass_context
def deliveries_list(
    ctx: click.Context,
    config_path: Path | None,
    store_url: str | None,
    tenant: str | None,
    result_id: str | None,
    application_id: str | None,
    email: str | None,
    limit: int,
    as_json: bool,
    state: str | None,
) -> None:
    """List deliveries, newest first."""
    filters = _Filters(tenant, result_id, application_id, email)
    chosen = DeliveryState(state) if state else None
    session = _session(ctx, config_path, store_url, tenant)
    store = session.store
    try:
        found = store.list_deliveries(state=chosen, limit=_limit(limit), **filters.as_kwargs())
        scrub = session.scrub
        if as_json:
            _echo_json([_delivery_data(d, scrub) for d in found])
        else:
            _table(
                [
                    "ID",
                    "TENANT",
                    "RESULT ID",
                    "V",
                    "STATE",
                    "ATTEMPTS",
                    "NEXT ATTEMPT",
                    "LAST ERROR",
                ],
                [
                    [
                        d.id,
                        d.tenant,
                        d.result_id,
                        d.version,
                        d.state.value,
                        d.attempts,
                        _stamp(d.next_attempt_at) if d.state is DeliveryState.PENDING else "-",
                        _short(scrub(d.last_error or "")),
                    ]
                    for d in found
                ],
            )
        _listed(
            len(found),
            limit,
            lambda: store.count_deliveries(state=chosen, **filters.as_kwargs()),
            "deliveries",
            as_json=as_json,
        )
    finally:
        session.close()


@deliveries_group.command("retry")
@CONFIG_OPTION
@STORE_OPTION
@click.argument("ids", nargs=-1, type=int)
@click.option("--dead", is_flag=True, help="Retry every dead-lettered delivery.")
@click.option("--tenant", help="Only this tenant's deliveries (with --dead: its dead letters).")
@click.pass_context
def deliveries_retry(
    ctx: click.Context,
    config_path: Path | None,
    store_url: str | None,
    ids: tuple[int, ...],
    dead: bool,
    tenant: str | None,
) -> None:
    """Make deliveries due again now, attempts reset (a running daemon picks them up).

    Exit code 1 when one of the given IDs is unknown, delivered, superseded or of another
    tenant than --tenant."""
    if not ids and not dead:
        raise click.UsageError("give delivery IDs or --dead")
    session = _session(ctx, config_path, store_url, tenant)
    try:
        count = session.store.requeue_deliveries(ids=ids, dead=dead, tenant=tenant, now=time.time())
    finally:
        session.close()
    report_requeued(
        count,
        ids,
        dead=dead,
        tenant=tenant,
        noun=("delivery", "deliveries"),
        handled="sends them",
        finished="delivered or superseded",
        list_command="deliveries list",
    )


def report_requeued(
    count: int,
    ids: Sequence[int],
    *,
    dead: bool,
    tenant: str | None,
    noun: tuple[str, str],
    handled: str,
    finished: str,
    list_command: str,
) -> None:
    """What a `retry` command queued; exit 1 naming why when some of the given IDs were not."""
    click.echo(
        f"{_plural(count, *noun)} queued for retry; "
        f"a running daemon {handled} within seconds, or the next one to start"
    )
    wanted = len(set(ids))
    if not dead and count < wanted:
        other = ", or of another tenant" if tenant else ""
        raise _Failed(
            f"{_plural(wanted - count, *noun)} of {wanted} could not be "
            f"queued: unknown ID, or already {finished}{other} (see `{list_command}`)"
        )
