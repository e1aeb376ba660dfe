"""The daemon's commands: `run`, `check`, `config show`, `plugins`, `invite` and the operator
views of the store (`orders`, `results`, `deliveries`). Registered by the built-in plugin."""

from __future__ import annotations

import csv
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import attrs
import click

from assessio_connect.contract.errors import AssessioError, ConfigError
from assessio_connect.contract.models import AssessioConfig, email_problem
from assessio_connect.contract.transport import Transport
from assessio_connect.runtime._logging import EventLog, Scrubber
from assessio_connect.runtime._outbox import Backoff
from assessio_connect.runtime._tenant import TenantRuntime
from assessio_connect.runtime.config import DaemonConfig, TenantConfig, load_daemon_config
from assessio_connect.runtime.connector import AtsCandidate, AtsJob, Invitation
from assessio_connect.runtime.daemon import Daemon
from assessio_connect.runtime.plugins import Plugins
from assessio_connect.runtime.store import OrderRecord, OrderState, Store

__all__ = ["register_commands"]

CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="ASSESSIO_CONNECT_CONFIG",
    help="The daemon's TOML configuration  [env: ASSESSIO_CONNECT_CONFIG]",
)


class _Failed(click.ClickException):
    """An expected failure of a command: one `error: …` line on stderr, exit code 1."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def _plural(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def _plugins(ctx: click.Context) -> Plugins:
    plugins = ctx.find_object(Plugins)
    if plugins is None:  # pragma: no cover - the root group always provides it
        raise click.UsageError("plugins are not loaded")
    return plugins


def _require_config(path: Path | None) -> Path:
    if path is None:
        raise click.UsageError("give --config FILE (or set ASSESSIO_CONNECT_CONFIG)")
    return path


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


JSON_FLAG = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def register_commands(cli: click.Group) -> None:
    """Add the daemon's commands (run, check, config, plugins, invite) to `cli`."""
    for command in (run_command, check_command, config_group, plugins_command, invite_command):
        cli.add_command(command)


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
    """Run the daemon until SIGTERM/SIGINT: receiver, connector routes, pollers, workers.

    SIGHUP reads the configuration again and applies its tenants without a restart."""
    plugins = _plugins(ctx)
    path = _require_config(config_path)
    config = load_daemon_config(plugins, path)
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
    for warning in config.warnings:
        log("config.warning", level="warning", message=warning)
    # Warnings of libraries (waitress, urllib3) become log lines of the same format.
    handler = log.handler()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        try:
            daemon = Daemon(config, plugins, log=log)
        except OSError as exc:
            raise _Failed(
                f"cannot listen on {config.server.listen}: {exc.strerror or exc} "
                f"(change [server] listen in {config.source}, or stop what uses the port)"
            ) from None

        def reload_config() -> DaemonConfig:
            fresh = load_daemon_config(plugins, path)
            log.learn_secrets(fresh.secret_values())
            return fresh

        code = daemon.run(reload_config=reload_config)
    finally:
        root.removeHandler(handler)
    ctx.exit(code)


def _runtime(
    plugins: Plugins,
    config: DaemonConfig,
    tenant: TenantConfig,
    store: Store,
    transport: Transport,
    *,
    base_url: str,
) -> TenantRuntime:
    """A tenant as the daemon runs it, for commands that act for it outside the daemon."""
    connector_cls = plugins.connector(tenant.ats_kind)
    if connector_cls is None:
        raise ConfigError(
            [f"no connector of kind {tenant.ats_kind!r} @ $.tenants.{tenant.name}.ats.kind"],
            source=config.source,
        )
    delivery = config.delivery
    return TenantRuntime(
        tenant,
        connector_cls=connector_cls,
        store=store,
        plugins=plugins,
        transport=transport,
        base_url=base_url,
        clock=time.time,
        log=_quiet,
        wake_orders=_nothing,
        backoff=Backoff(
            first_delay=delivery.first_delay, max_delay=delivery.max_delay, horizon=delivery.horizon
        ),
    )


def _describe(exc: BaseException) -> str:
    """An error for a person: our own errors say enough; anything else names its type."""
    return str(exc) if isinstance(exc, AssessioError) else f"{type(exc).__name__}: {exc}"


def _assessment_problems(tenant: TenantConfig, assessio: AssessioConfig) -> list[str]:
    """Lenses and locales the tenant's rules name that the organisation cannot order."""
    path = f"$.tenants.{tenant.name}.assessment"
    rules = tenant.assessment
    named = [(rules.lens, rules.locale, path)]
    named += [(r.lens, r.locale, f"{path}.rules[{i}]") for i, r in enumerate(rules.rules)]
    problems: list[str] = []
    for lens, locale, where in named:
        if lens is not None and assessio.find_lens(lens) is None:
            problems.append(f"lens {lens!r} is not available @ {where}.lens")
        if locale is not None and locale not in assessio.available_locales:
            problems.append(f"locale {locale!r} is not available @ {where}.locale")
    return problems


def _check_integrator_secret(runtime: TenantRuntime, echo: Callable[[str], None]) -> bool:
    """Print whether Assessio verified the tenant's integrator-secret; False when Assessio
    refused it (or its absence) or could not be asked. Where there is nothing to prove (no
    secret and none needed, or an organisation whose signatures Assessio does not check),
    that is said plainly and passes."""
    name = runtime.tenant
    try:
        proof = runtime.client.prove_integrator_secret()
    except AssessioError as exc:
        echo(f"{name}: integrator-secret FAILED: not proven: {exc}")
        return False
    if proof.verdict == "proven":
        echo(f"{name}: integrator-secret proven ({proof.reason})")
        return True
    if proof.verdict == "refused":
        fix = "set" if runtime.config.integrator_secret is None else "correct"
        echo(
            f"{name}: integrator-secret FAILED: not proven: {proof.reason}; the provider-key "
            f"was accepted, so {fix} the secret @ $.tenants.{name}.integrator_secret"
        )
        return False
    echo(f"{name}: integrator-secret not proven: {proof.reason}")
    return True


def _check_tenant(runtime: TenantRuntime, echo: Callable[[str], None]) -> Iterator[str]:
    """Print one line per check of a tenant; yields the name of each check that failed."""
    name = runtime.tenant
    tenant = runtime.config
    try:
        assessio = runtime.assessio_config()
    except AssessioError as exc:
        echo(f"{name}: assessio FAILED: {exc}")
        yield f"{name} assessio"
    else:
        echo(
            f"{name}: assessio ok (provider-key accepted; "
            f"{_plural(len(assessio.available_lenses), 'lens', 'lenses')}, "
            f"{_plural(len(assessio.available_locales), 'locale')})"
        )
        if not _check_integrator_secret(runtime, echo):
            yield f"{name} integrator-secret"
        problems = _assessment_problems(tenant, assessio)
        if problems:
            echo(f"{name}: assessment FAILED: " + "; ".join(problems))
            yield f"{name} assessment"
    try:
        echo(f"{name}: ats ok ({runtime.connector.check()})")
    except Exception as exc:  # a connector's bug is a failed check, not a traceback
        echo(f"{name}: ats FAILED: {_describe(exc)}")
        yield f"{name} ats"


@click.command("check")
@CONFIG_OPTION
@click.option("--tenant", help="Check only this tenant.")
@click.pass_context
def check_command(ctx: click.Context, config_path: Path | None, tenant: str | None) -> None:
    """Validate the configuration, then test the store and each tenant's Assessio credentials,
    lenses and locales, and ATS; exit code 1 names every check that failed."""
    plugins = _plugins(ctx)
    config = load_daemon_config(plugins, _require_config(config_path), only_tenant=tenant)
    scrub = Scrubber(config.secret_values())

    def echo(line: str) -> None:
        click.echo(scrub(line))

    echo(f"configuration: ok ({_plural(len(config.tenants), 'tenant')})")
    for warning in config.warnings:
        echo(f"configuration: warning: {warning}")
    failed: list[str] = []
    store = plugins.open_store(config.store_url)
    transport = Transport(connect_timeout=5.0, read_timeout=15.0)
    try:
        try:
            store.ping()
            echo(f"store: ok ({store.url})")
        except AssessioError as exc:
            echo(f"store: FAILED: {exc}")
            failed.append("store")
        for tenant_config in config.tenants.values():
            name = tenant_config.name
            try:
                runtime = _runtime(
                    plugins,
                    config,
                    tenant_config,
                    store,
                    transport,
                    base_url=config.server.base_url,
                )
            except Exception as exc:  # a connector that cannot start fails its check
                echo(f"{name}: FAILED: cannot set up the tenant: {_describe(exc)}")
                failed.append(name)
                continue
            try:
                failed.extend(_check_tenant(runtime, echo))
            finally:
                runtime.connector.close()
    finally:
        store.close()
        transport.close()
    if failed:
        raise _Failed(scrub(f"{_plural(len(failed), 'check')} failed: {', '.join(failed)}"))


@click.group("config")
def config_group() -> None:
    """Inspect the daemon configuration."""


@config_group.command("show")
@CONFIG_OPTION
@click.pass_context
def config_show(ctx: click.Context, config_path: Path | None) -> None:
    """Print the validated configuration as JSON, every secret redacted."""
    config = load_daemon_config(_plugins(ctx), _require_config(config_path))
    scrub = Scrubber(config.secret_values())  # belt and braces: redacted() holds no value
    click.echo(scrub(json.dumps(config.redacted(), indent=2, default=str)))


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


INVITE_COLUMNS = ("application_id", "job_id", "job_title", "candidate_id", "email")
OPTIONAL_COLUMNS = ("name", "job_description", "department", "lens", "locale")
_Row = dict[str | None, Any]
"""A CSV row as `csv.DictReader` gives it: surplus cells are a list under None."""
_UNSPECIFIED_HOSTS = ("0.0.0.0", "::", "")  # noqa: S104 - compared with, never bound


def _public_base_url(config: DaemonConfig) -> str:
    """Where Assessio sends results for orders made outside the daemon: the daemon's address."""
    server = config.server
    if server.public_url:
        return server.public_url
    if server.port == 0 or server.host in _UNSPECIFIED_HOSTS:
        raise _Failed(
            f"invite needs the daemon's address for each order's resultUpdateUrl, but listen = "
            f"{server.listen!r} is not one Assessio can reach: set [server] public_url in "
            f"{config.source}"
        )
    return server.base_url


def _read_rows(csv_file: IO[str]) -> list[tuple[int, _Row]]:
    """The CSV's rows with the line each ends on; header names are matched case-insensitively."""
    reader = csv.DictReader(csv_file)
    try:
        header = reader.fieldnames or []
        reader.fieldnames = [name.strip().lower() for name in header]
        missing = [column for column in INVITE_COLUMNS if column not in reader.fieldnames]
        if missing:
            raise _Failed(
                f"the CSV's header has no column {', '.join(missing)} (it needs "
                f"{', '.join(INVITE_COLUMNS)}; optional: {', '.join(OPTIONAL_COLUMNS)})"
            )
        return [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise _Failed(f"the CSV cannot be read at line {reader.line_num}: {exc}") from None
    except UnicodeDecodeError:
        raise _Failed("the CSV is not UTF-8 text") from None


def _cell(row: _Row, column: str) -> str:
    value = row.get(column)
    return value.strip() if isinstance(value, str) else ""


def _invitation(row: _Row) -> tuple[Invitation | None, list[str]]:
    """The row's invitation, or every problem of the row (each naming its column)."""
    problems = [f"{column} is empty" for column in INVITE_COLUMNS if not _cell(row, column)]
    email = _cell(row, "email")
    if email:
        problem = email_problem(email)
        if problem:
            problems.append(f"email: {problem}")
    if row.get(None):  # DictReader keeps surplus cells under None
        problems.append("more cells than the header has columns")
    if problems:
        return None, problems
    invitation = Invitation(
        application_id=_cell(row, "application_id"),
        job=AtsJob(
            id=_cell(row, "job_id"),
            title=_cell(row, "job_title"),
            description=_cell(row, "job_description"),
            department=_cell(row, "department") or None,
        ),
        candidate=AtsCandidate(id=_cell(row, "candidate_id"), email=email, name=_cell(row, "name")),
        lens=_cell(row, "lens") or None,
        locale=_cell(row, "locale") or None,
    )
    return invitation, []


def _row_error(exc: Exception) -> str:
    if isinstance(exc, ConfigError):
        return "; ".join(exc.problems)
    return _describe(exc)


@attrs.define
class _Invites:
    """What `invite` did, row by row; the states are the orders' states at the end."""

    invited: int = 0
    skipped: int = 0
    resent: int = 0
    states: dict[str, OrderState] = attrs.field(factory=dict)
    problems: list[str] = attrs.field(factory=list)
    stalled: bool = False
    """Assessio did not take an order: the rest are only recorded, for the daemon to send."""


def _send(runtime: TenantRuntime, record: OrderRecord, done: _Invites) -> None:
    state = runtime.send(record)
    done.states[record.application_id] = state
    if state is OrderState.PENDING:
        done.stalled = True


def _invite_rows(
    runtime: TenantRuntime, rows: Sequence[tuple[int, Invitation]], done: _Invites
) -> None:
    waiting: list[OrderRecord] = []
    with click.progressbar(
        rows, label=f"Inviting {_plural(len(rows), 'candidate')}", file=sys.stderr
    ) as progress:
        for line, invitation in progress:
            try:
                known = runtime.find_order(invitation.application_id)
                if known is not None:
                    done.skipped += 1
                    done.states[known.application_id] = known.state
                    if known.state is OrderState.PENDING:
                        waiting.append(known)
                    continue
                record = runtime.invite(invitation)
                done.invited += 1
                done.states[record.application_id] = record.state
                if not done.stalled and record.state is OrderState.PENDING:
                    _send(runtime, record, done)
            except (AssessioError, ValueError, TypeError) as exc:
                done.problems.append(f"line {line}: {_row_error(exc)}")
    # Orders an earlier run left waiting: the operator asked again, so send them now.
    for record in waiting:
        if done.stalled:
            break
        try:
            _send(runtime, record, done)
            done.resent += done.states[record.application_id] is OrderState.SENT
        except AssessioError as exc:
            done.problems.append(f"application {record.application_id}: {exc}")


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
    """Invite existing candidates in bulk; rerunning skips rows already ordered and sends the
    orders an earlier run left waiting.

    Exit code 1 when a row cannot be invited or Assessio rejects an order. Orders Assessio
    did not take (an outage) are kept and sent by a running daemon or the next run.
    """
    plugins = _plugins(ctx)
    config = load_daemon_config(plugins, _require_config(config_path), only_tenant=tenant)
    base_url = _public_base_url(config)
    scrub = Scrubber(config.secret_values())
    done = _Invites()
    valid: list[tuple[int, Invitation]] = []
    for line, row in _read_rows(csv_file):
        if not any(_cell(row, column) for column in row if column is not None):
            continue  # a blank line
        invitation, problems = _invitation(row)
        if invitation is None:
            done.problems.append(f"line {line}: " + "; ".join(problems))
        else:
            valid.append((line, invitation))
    store = plugins.open_store(config.store_url)
    transport = Transport()
    runtime: TenantRuntime | None = None
    try:
        store.migrate()
        runtime = _runtime(
            plugins, config, config.tenants[tenant], store, transport, base_url=base_url
        )
        if valid:
            try:
                runtime.assessio_config()
            except AssessioError as exc:
                raise _Failed(
                    scrub(f"nothing was invited: cannot read the lenses from Assessio: {exc}")
                ) from None
        _invite_rows(runtime, valid, done)
        pending = [a for a, s in done.states.items() if s is OrderState.PENDING]
        failed = [a for a, s in done.states.items() if s is OrderState.FAILED]
        reason = ""
        if pending:
            waiting = runtime.find_order(pending[0])
            if waiting is not None and waiting.last_error:
                reason = f" (Assessio: {waiting.last_error})"
    finally:
        if runtime is not None:
            runtime.connector.close()
        store.close()
        transport.close()
    summary = f"{done.invited} invited, {done.skipped} already ordered (skipped)"
    if done.resent:
        summary += f", {_plural(done.resent, 'waiting order')} sent now"
    click.echo(summary)
    if pending:
        click.echo(
            scrub(
                f"{_plural(len(pending), 'order')} not sent yet{reason}: they are kept and a "
                "running daemon sends them, or run this command again"
            )
        )
    if failed:
        click.echo(
            f"{_plural(len(failed), 'order')} rejected by Assessio: "
            f"see `orders list --tenant {tenant} --state failed`"
        )
    for problem in done.problems:
        click.echo(scrub(f"skipped {problem}"), err=True)
    if done.problems or failed:
        parts = []
        if done.problems:
            parts.append(f"{_plural(len(done.problems), 'row')} could not be invited")
        if failed:
            parts.append(f"{_plural(len(failed), 'order')} rejected")
        raise _Failed(", ".join(parts))


def _quiet(event: str, /, **fields: Any) -> None:
    """No log lines from the commands that act outside the daemon; they print summaries."""


def _nothing() -> None:
    """No order sender to wake: `invite` sends its orders itself."""
