"""`assessio-connect workday tests`: the assessment tests a customer creates by hand in Workday,
one per Assessio lens, with the Reference ID to give each and whether it is mapped already."""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs
import click

from assessio_connect import Lens, Plugins, load_daemon_config

from ._config import WorkdayConfig

__all__ = ["AssessmentTestRow", "planned_tests", "register", "unmatched_keys", "workday_group"]

CSV_HEADER = ("Test Name", "Reference ID", "Assessio Lens ID", "Assessio Lens", "Mapped")


@attrs.frozen
class AssessmentTestRow:
    """One assessment test to create in Workday."""

    test_name: str
    reference_id: str
    """The mapped Reference ID, or a suggestion when the lens is not mapped yet."""
    lens_id: str
    lens_name: str
    mapped: bool


def _suggestion(name: str) -> str:
    slug = re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_") or "LENS"
    return f"ASSESSIO_{slug}"


def _mapped(config: WorkdayConfig, lens: Lens) -> str | None:
    if lens.id in config.tests:
        return config.tests[lens.id]
    folded = lens.name.casefold()
    return next((test for key, test in config.tests.items() if key.casefold() == folded), None)


def planned_tests(lenses: Sequence[Lens], config: WorkdayConfig) -> list[AssessmentTestRow]:
    """A row per lens: the mapped test's Reference ID, or a unique suggestion."""
    taken = set(config.tests.values())
    rows: list[AssessmentTestRow] = []
    for lens in lenses:
        reference = _mapped(config, lens)
        mapped = reference is not None
        if reference is None:
            base = _suggestion(lens.name)
            reference, counter = base, 2
            while reference in taken:
                reference, counter = f"{base}_{counter}", counter + 1
        taken.add(reference)
        rows.append(
            AssessmentTestRow(f"Assessio {lens.name}", reference, lens.id, lens.name, mapped)
        )
    return rows


def unmatched_keys(lenses: Iterable[Lens], config: WorkdayConfig) -> list[str]:
    """Keys of `tests` that name no lens of the organisation (typos, retired lenses)."""
    ids = {lens.id for lens in lenses}
    names = {lens.name.casefold() for lens in lenses}
    return [key for key in config.tests if key not in ids and key.casefold() not in names]


@click.group("workday")
def workday_group() -> None:
    """Workday Recruiting helpers."""


@workday_group.command("tests")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="ASSESSIO_CONNECT_CONFIG",
    help="The daemon's TOML configuration  [env: ASSESSIO_CONNECT_CONFIG]",
)
@click.option("--tenant", required=True, help="The tenant whose Workday this is.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV (Test Name, Reference ID, ...).")
def tests_command(config_path: Path, tenant: str, as_csv: bool) -> None:
    """List the assessment tests to create in Workday, one per Assessio lens.

    Create each in Maintain Recruiting Assessment Tests (linked to the integration system)
    with the Reference ID shown, then map the unmapped ones under the tenant's ats.tests."""
    plugins = click.get_current_context().find_object(Plugins)
    if plugins is None:
        raise click.UsageError("plugins are not loaded; run this through assessio-connect")
    config = load_daemon_config(plugins, config_path, only_tenant=tenant)
    tenant_config = config.tenants[tenant]
    if not isinstance(tenant_config.ats, WorkdayConfig):
        raise click.ClickException(
            f"tenant {tenant} is connected to {tenant_config.ats_kind!r}, not to Workday"
        )
    workday = tenant_config.ats
    lenses = tenant_config.client().get_config().available_lenses
    rows = planned_tests(lenses, workday)
    if as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(CSV_HEADER)
        for row in rows:
            writer.writerow(
                [
                    row.test_name,
                    row.reference_id,
                    row.lens_id,
                    row.lens_name,
                    "yes" if row.mapped else "no",
                ]
            )
    else:
        _table(rows)
        missing = [row for row in rows if not row.mapped]
        click.echo("")
        if missing:
            click.echo(
                f"{len(missing)} lens(es) not mapped yet: create the tests in Workday, then add "
                f"to [tenants.{tenant}.ats.tests]:"
            )
            for row in missing:
                click.echo(f'  "{row.lens_id}" = "{row.reference_id}"   # {row.lens_name}')
        else:
            click.echo("every lens is mapped to a Workday assessment test")
    for key in unmatched_keys(lenses, workday):
        click.echo(f"warning: ats.tests key {key!r} matches no lens of this organisation", err=True)


def _table(rows: Sequence[AssessmentTestRow]) -> None:
    headers = ("TEST NAME", "REFERENCE ID", "ASSESSIO LENS ID", "MAPPED")
    cells = [
        (row.test_name, row.reference_id, row.lens_id, "yes" if row.mapped else "no")
        for row in rows
    ]
    widths = [max([len(h), *(len(c[i]) for c in cells)]) for i, h in enumerate(headers)]
    for line in (headers, *cells):
        click.echo(
            "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
        )


def register(cli: click.Group) -> None:
    """Add the `workday` group to the command line."""
    cli.add_command(workday_group)
