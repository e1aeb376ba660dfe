"""The `assessio-connect` command line."""

from __future__ import annotations

import click

from ._version import __version__


@click.group()
@click.version_option(__version__, prog_name="assessio-connect")
def cli() -> None:
    """Connect Applicant Tracking Systems to Assessio's Recruitment API."""


def main() -> None:
    """Console-script entry point."""
    cli()
