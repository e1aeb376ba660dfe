"""The daemon's commands: `run`, `check`, `config show`, `plugins`, `invite` and the operator
views of the store (`orders`, `results`, `deliveries`). Registered by the built-in plugin."""

from __future__ import annotations

import csv
import json
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import attrs
import click

from ._logging import EventLog
from ._loops import OrderSender
from ._outbox import Backoff
from ._tenant import TenantRuntime
from .config import DaemonConfig, load_config, store_url_from_file
from .connector import AtsCandidate, AtsJob, Invitation
from .errors import AssessioError, ConfigError
from .plugins import Plugins
from .store import DeliveryRecord, DeliveryState, OrderRecord, OrderState, ResultRecord, Store
from .transport import Transport

__all__ = ["register_commands"]

CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="ASSESSIO_CONNECT_CONFIG",
    help="The daemon's TOML configuration  [env: ASSESSIO_CONNECT_CONFIG]",
)


def _plugins(ctx: click.Context) -> Plugins:
    plugins = ctx.find_object(Plugins)
    if plugins is None:  # pragma: no cover - the root group always provides it
        raise click.UsageError("plugins are not loaded")
    return plugins


def load_daemon_config(
    plugins: Plugins, path: Path, *, only_tenant: str | None = None
) -> DaemonConfig:
    """Load and validate `path`, resolving secrets through the plugins."""
    base = path.resolve().parent

    def resolve(scheme: str, reference: str) -> str | None:
        if scheme == "file" and not Path(reference).is_absolute():
            reference = str(base / reference)
        return plugins.resolve_secret(scheme, reference)

    return load_config(
        path,
        connector_config=plugins.connector_config,
        resolve_secret=resolve,
        known_kinds=sorted(plugins.connectors),
        only_tenant=only_tenant,
    )


def _require_config(path: Path | None) -> Path:
    if path is None:
        raise click.UsageError("give --config FILE (or set ASSESSIO_CONNECT_CONFIG)")
    return path


def _open_store(plugins: Plugins, config_path: Path | None, store_url: str | None) -> Store:
    if store_url is None:
        store_url = store_url_from_file(_require_config(config_path))
    store = plugins.open_store(store_url)
    store.migrate()
    return store


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def _stamp(value: float | None) -> str:
    if value is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    if not rows:
        click.echo("(none)")


STORE_OPTION = click.option(
    "--store",
    "store_url",
    envvar="ASSESSIO_CONNECT_STORE",
    help="Store URL instead of the one in --config, e.g. sqlite:///state.db.",
)
TENANT_FILTER = click.option("--tenant", help="Only this tenant.")
JSON_FLAG = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
LIMIT_OPTION = click.option(
    "--limit", type=click.IntRange(min=1), default=100, show_default=True, help="At most N rows."
)


def _order_data(order: OrderRecord) -> dict[str, Any]:
    return {
        "tenant": order.tenant,
        "application_id": order.application_id,
        "result_id": order.result_id,
        "job_id": order.job_id,
        "candidate_id": order.candidate_id,
        "lens_id": order.order.lens_id,
        "state": order.state.value,
        "reference": order.reference,
        "attempts": order.attempts,
        "last_error": order.last_error,
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


def _delivery_data(delivery: DeliveryRecord) -> dict[str, Any]:
    data = attrs.asdict(delivery)
    data["state"] = delivery.state.value
    return data


def register_commands(cli: click.Group) -> None:
    """Add the daemon and operator commands to `cli`."""
    for command in (run_command, check_command, config_group, plugins_command, invite_command):
        cli.add_command(command)
    for group in (orders_group, results_group, deliveries_group):
        cli.add_command(group)


@click.command("run")
@CONFIG_OPTION
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="One line per event, as key=value text or JSON.",
)
@click.pass_context
def run_command(ctx: click.Context, config_path: Path | None, log_format: str) -> None:
    """Run the daemon until SIGTERM/SIGINT: receiver, connector routes, pollers, workers."""
    from .daemon import Daemon

    plugins = _plugins(ctx)
    config = load_daemon_config(plugins, _require_config(config_path))
    log = EventLog(
        sys.stdout,
        format="json" if log_format == "json" else "text",
        secrets=config.secret_values(),
    )
    for failure in plugins.failures:
        log(
            "plugin.failed",
            level="warning",
            plugin=failure.name,
            distribution=failure.distribution,
            error=failure.error,
        )
    daemon = Daemon(config, plugins, log=log)
    ctx.exit(daemon.run())


def _tenant_runtimes(
    plugins: Plugins, config: DaemonConfig, store: Store, transport: Transport
) -> Iterator[TenantRuntime]:
    for tenant in config.tenants.values():
        connector_cls = plugins.connector(tenant.ats_kind)
        if connector_cls is None:
            raise ConfigError([f"no connector of kind {tenant.ats_kind!r}"], source=tenant.name)
        yield TenantRuntime(
            tenant,
            connector_cls=connector_cls,
            store=store,
            plugins=plugins,
            transport=transport,
            base_url=config.server.base_url,
            clock=time.time,
            log=lambda *_a, **_k: None,
            wake_orders=lambda: None,
            backoff=Backoff(),
        )


@click.command("check")
@CONFIG_OPTION
@click.option("--tenant", help="Check only this tenant.")
@click.pass_context
def check_command(ctx: click.Context, config_path: Path | None, tenant: str | None) -> None:
    """Validate the configuration, then test each tenant's Assessio credentials and ATS."""
    plugins = _plugins(ctx)
    config = load_daemon_config(plugins, _require_config(config_path), only_tenant=tenant)
    click.echo(f"configuration: ok ({len(config.tenants)} tenant(s))")
    store = plugins.open_store(config.store_url)
    failed = 0
    try:
        store.ping()
        click.echo(f"store: ok ({store.url})")
        transport = Transport(connect_timeout=5.0, read_timeout=15.0)
        for runtime in _tenant_runtimes(plugins, config, store, transport):
            name = runtime.tenant
            try:
                assessio = runtime.assessio_config()
                click.echo(
                    f"{name}: assessio ok ({len(assessio.available_lenses)} lenses, "
                    f"{len(assessio.available_locales)} locales)"
                )
            except AssessioError as exc:
                failed += 1
                click.echo(f"{name}: assessio FAILED: {exc}")
            try:
                click.echo(f"{name}: ats ok ({runtime.connector.check()})")
            except AssessioError as exc:
                failed += 1
                click.echo(f"{name}: ats FAILED: {exc}")
    finally:
        store.close()
    if failed:
        raise click.ClickException(f"{failed} check(s) failed")


@click.group("config")
def config_group() -> None:
    """Inspect the daemon configuration."""


@config_group.command("show")
@CONFIG_OPTION
@click.pass_context
def config_show(ctx: click.Context, config_path: Path | None) -> None:
    """Print the validated configuration as JSON, every secret redacted."""
    config = load_daemon_config(_plugins(ctx), _require_config(config_path))
    _echo_json(config.redacted())


@click.command("plugins")
@JSON_FLAG
@click.pass_context
def plugins_command(ctx: click.Context, as_json: bool) -> None:
    """List installed plugins, their hooks and connector kinds, and any that failed to load."""
    plugins = _plugins(ctx)
    if as_json:
        _echo_json(plugins.as_json())
        return
    for info in plugins.describe():
        origin = f"{info.distribution} {info.version}" if info.distribution else "(no distribution)"
        click.echo(f"{info.name}  [{origin}]")
        if info.connectors:
            click.echo(f"  connectors: {', '.join(info.connectors)}")
        click.echo(f"  hooks: {', '.join(info.hooks) or '-'}")
    for failure in plugins.failures:
        origin = failure.distribution or "(no distribution)"
        click.echo(f"FAILED {failure.name}  [{origin}]: {failure.error}")


@click.group("orders")
def orders_group() -> None:
    """Orders recorded by the daemon."""


@orders_group.command("list")
@CONFIG_OPTION
@STORE_OPTION
@TENANT_FILTER
@click.option("--state", type=click.Choice([s.value for s in OrderState]), help="Only this state.")
@LIMIT_OPTION
@JSON_FLAG
@click.pass_context
def orders_list(
    ctx: click.Context,
    config_path: Path | None,
    store_url: str | None,
    tenant: str | None,
    state: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List orders, newest first."""
    store = _open_store(_plugins(ctx), config_path, store_url)
    try:
        found = store.list_orders(
            tenant=tenant, state=OrderState(state) if state else None, limit=limit
        )
    finally:
        store.close()
    if as_json:
        _echo_json([_order_data(o) for o in found])
        return
    _table(
        ["TENANT", "APPLICATION", "RESULT ID", "STATE", "ATTEMPTS", "UPDATED", "LAST ERROR"],
        [
            [
                o.tenant,
                o.application_id,
                o.result_id,
                o.state.value,
                o.attempts,
                _stamp(o.updated_at),
                o.last_error or "",
            ]
            for o in found
        ],
    )


@click.group("results")
def results_group() -> None:
    """Results received from Assessio."""


def _list_results(
    ctx: click.Context,
    config_path: Path | None,
    store_url: str | None,
    tenant: str | None,
    orphans: bool | None,
    limit: int,
    as_json: bool,
) -> None:
    store = _open_store(_plugins(ctx), config_path, store_url)
    try:
        found = store.list_results(tenant=tenant, orphans=orphans, limit=limit)
    finally:
        store.close()
    if as_json:
        _echo_json([_result_data(r) for r in found])
        return
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


@results_group.command("list")
@CONFIG_OPTION
@STORE_OPTION
@TENANT_FILTER
@LIMIT_OPTION
@JSON_FLAG
@click.pass_context
def results_list(
    ctx: click.Context,
    config_path: Path | None,
    store_url: str | None,
    tenant: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List result versions, newest first."""
    _list_results(ctx, config_path, store_url, tenant, None, limit, as_json)


@results_group.command("orphans")
@CONFIG_OPTION
@STORE_OPTION
@TENANT_FILTER
@LIMIT_OPTION
@JSON_FLAG
@click.pass_context
def results_orphans(
    ctx: click.Context,
    config_path: Path | None,
    store_url: str | None,
    tenant: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List authenticated results whose resultId matches no order, for reconciliation."""
    _list_results(ctx, config_path, store_url, tenant, True, limit, as_json)


@click.group("deliveries")
def deliveries_group() -> None:
    """Result push-backs to the ATS (the outbox)."""


@deliveries_group.command("list")
@CONFIG_OPTION
@STORE_OPTION
@TENANT_FILTER
@click.option(
    "--state", type=click.Choice([s.value for s in DeliveryState]), help="Only this state."
)
@LIMIT_OPTION
@JSON_FLAG
@click.pass_context
def deliveries_list(
    ctx: click.Context,
    config_path: Path | None,
    store_url: str | None,
    tenant: str | None,
    state: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List deliveries, newest first."""
    store = _open_store(_plugins(ctx), config_path, store_url)
    try:
        found = store.list_deliveries(
            tenant=tenant, state=DeliveryState(state) if state else None, limit=limit
        )
    finally:
        store.close()
    if as_json:
        _echo_json([_delivery_data(d) for d in found])
        return
    _table(
        ["ID", "TENANT", "RESULT ID", "V", "STATE", "ATTEMPTS", "NEXT ATTEMPT", "LAST ERROR"],
        [
            [
                d.id,
                d.tenant,
                d.result_id,
                d.version,
                d.state.value,
                d.attempts,
                _stamp(d.next_attempt_at) if d.state is DeliveryState.PENDING else "-",
                d.last_error or "",
            ]
            for d in found
        ],
    )


@deliveries_group.command("retry")
@CONFIG_OPTION
@STORE_OPTION
@click.argument("ids", nargs=-1, type=int)
@click.option("--dead", is_flag=True, help="Retry every dead-lettered delivery.")
@click.pass_context
def deliveries_retry(
    ctx: click.Context,
    config_path: Path | None,
    store_url: str | None,
    ids: tuple[int, ...],
    dead: bool,
) -> None:
    """Make deliveries due again now (a running daemon picks them up)."""
    if not ids and not dead:
        raise click.UsageError("give delivery IDs or --dead")
    store = _open_store(_plugins(ctx), config_path, store_url)
    try:
        count = store.requeue_deliveries(ids=ids, dead=dead, now=time.time())
    finally:
        store.close()
    click.echo(f"{count} deliveries queued for retry")


INVITE_COLUMNS = ("application_id", "job_id", "job_title", "candidate_id", "email")
OPTIONAL_COLUMNS = ("name", "job_description", "department", "lens", "locale")


def _invitation(row: dict[str, str]) -> Invitation:
    return Invitation(
        application_id=row["application_id"].strip(),
        job=AtsJob(
            id=row["job_id"].strip(),
            title=row["job_title"].strip(),
            description=(row.get("job_description") or "").strip(),
            department=(row.get("department") or "").strip() or None,
        ),
        candidate=AtsCandidate(
            id=row["candidate_id"].strip(),
            email=row["email"].strip(),
            name=(row.get("name") or "").strip(),
        ),
        lens=(row.get("lens") or "").strip() or None,
        locale=(row.get("locale") or "").strip() or None,
    )


@click.command("invite")
@CONFIG_OPTION
@click.option("--tenant", required=True, help="The tenant whose candidates these are.")
@click.option(
    "--csv",
    "csv_file",
    required=True,
    type=click.File("r", encoding="utf-8-sig"),
    help=f"Columns: {', '.join(INVITE_COLUMNS)}; optional: {', '.join(OPTIONAL_COLUMNS)}.",
)
@click.pass_context
def invite_command(
    ctx: click.Context, config_path: Path | None, tenant: str, csv_file: IO[str]
) -> None:
    """Invite existing candidates in bulk; rerunning skips rows already ordered."""
    plugins = _plugins(ctx)
    config = load_daemon_config(plugins, _require_config(config_path), only_tenant=tenant)
    reader = csv.DictReader(csv_file)
    missing = [c for c in INVITE_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise click.ClickException(f"the CSV has no column {', '.join(missing)}")
    rows = list(reader)
    store = plugins.open_store(config.store_url)
    store.migrate()
    transport = Transport()
    try:
        runtime = next(_tenant_runtimes(plugins, config, store, transport))
        sender = OrderSender(
            store, {tenant: runtime}, owner=f"invite:{tenant}", clock=time.time, log=_quiet
        )
        invited = skipped = 0
        problems: list[str] = []
        with click.progressbar(rows, label=f"Inviting {len(rows)} candidates") as progress:
            for line, row in enumerate(progress, start=2):
                try:
                    invitation = _invitation(row)
                    if runtime.find_order(invitation.application_id) is not None:
                        skipped += 1
                        continue
                    runtime.invite(invitation)
                    invited += 1
                    while sender.run_once():
                        pass
                except (AssessioError, ValueError, TypeError, AttributeError) as exc:
                    problems.append(f"line {line}: {exc}")
        while sender.run_once():
            pass
        pending = store.list_orders(tenant=tenant, state=OrderState.PENDING, limit=1_000_000)
        failed = store.list_orders(tenant=tenant, state=OrderState.FAILED, limit=1_000_000)
    finally:
        store.close()
    click.echo(f"{invited} invited, {skipped} already ordered (skipped)")
    if pending:
        click.echo(f"{len(pending)} orders are waiting for a retry: a running daemon sends them")
    if failed:
        click.echo(f"{len(failed)} orders were rejected: see `orders list --state failed`")
    for problem in problems:
        click.echo(f"skipped {problem}", err=True)
    if problems:
        raise click.ClickException(f"{len(problems)} row(s) could not be invited")


def _quiet(event: str, /, **fields: Any) -> None:
    """No log lines from the `invite` command; it prints its own summary."""
