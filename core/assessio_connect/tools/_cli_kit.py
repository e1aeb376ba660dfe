"""The integrator kit's commands: `new-connector` scaffolds a connector package."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import click

from ._cli_runtime import _Failed
from ._scaffold import AUTHS, STYLES, Auth, ScaffoldStyle, name_problem, new_connector

__all__ = ["register_commands"]


def register_commands(cli: click.Group) -> None:
    """Add the kit's commands to the `assessio-connect` group."""
    cli.add_command(new_connector_command)


def _check_name(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    problem = name_problem(value)
    if problem:
        raise click.BadParameter(problem)
    return value


@click.command("new-connector")
@click.argument("name", callback=_check_name)
@click.option(
    "--style",
    type=click.Choice(STYLES),
    default="push",
    show_default=True,
    help="push: the ATS calls the connector (web hooks); pull: the connector polls the ATS.",
)
@click.option(
    "--auth",
    type=click.Choice(AUTHS),
    default="api-key",
    show_default=True,
    help="How the connector authenticates to the ATS's API.",
)
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    help="Folder to create assessio-connect-NAME/ in  [default: the current folder]",
)
def new_connector_command(name: str, style: str, auth: str, output: Path) -> None:
    """Generate a connector package assessio-connect-NAME/ whose tests pass as generated.

    NAME is the connector's kind: lowercase letters, digits and underscores (e.g. my_ats).
    The package holds the connector, its plugin registration, a fake ATS and tests that
    subclass the conformance suite."""
    try:
        root = new_connector(
            name, style=cast(ScaffoldStyle, style), auth=cast(Auth, auth), output=output
        )
    except FileExistsError as exc:
        raise _Failed(str(exc)) from None
    except OSError as exc:
        raise _Failed(f"cannot write the package: {exc.strerror or exc}") from None
    click.echo(f"Created {root} ({style} style, {auth} authentication).")
    click.echo("Next:")
    click.echo(f"  pip install -e '{root}[test]'")
    click.echo(f"  cd {root} && pytest")
    click.echo(
        "Then replace the placeholder protocol in _connector.py and fake.py with your ATS's."
    )
