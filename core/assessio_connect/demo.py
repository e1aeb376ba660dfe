"""The demo kit: what a connector's fake ATS needs to take part in `assessio-connect demo`.

A connector offers a demo through the `assessio_register_demos` hook: a factory of `DemoAts`.
These helpers give its tenant an emulator organisation with fresh credentials, secrets written
as owner-only files, and the Assessio half of its configuration. The demo itself (emulator,
daemon, progress) is run by the command line.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from assessio_connect.sandbox import Organisation

__all__ = ["DemoAts", "assessio_tables", "demo_organisation", "secret_writer"]


class DemoAts(Protocol):
    """A connector's fake ATS, driven by the demo."""

    def start(self) -> None:
        """Start the fake ATS on 127.0.0.1."""

    def stop(self) -> None:
        """Stop it."""

    def organisation(self) -> Organisation:
        """The Assessio organisation (credentials) the emulator should know for this tenant."""

    def tenant_toml(self, tenant: str, sandbox_url: str, secrets_dir: Path) -> str:
        """The `[tenants.<tenant>]` tables, secrets written as files under `secrets_dir`."""

    def trigger(self, daemon_url: str, candidates: list[tuple[str, str]]) -> None:
        """Move each (name, email) candidate into the assessment stage."""

    def write_backs(self) -> list[tuple[str, str, float]]:
        """(candidate email, where the result was written, when) for each result written."""


def demo_organisation(label: str) -> Organisation:
    """An emulator organisation with fresh random credentials, for one demo tenant."""
    return Organisation(
        provider_key=f"demo-{label}-{secrets.token_hex(4)}",
        integrator_secret=secrets.token_urlsafe(16),
        result_api_key=secrets.token_urlsafe(16),
    )


def secret_writer(secrets_dir: Path, tenant: str) -> Callable[[str, str], str]:
    """`ref(name, value)`: writes a demo tenant's secret to a file, returns its TOML reference."""

    def ref(name: str, value: str) -> str:
        path = secrets_dir / f"{tenant}-{name}"
        # Readable by this user only, as an operator keeps a secret file.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(value)
        return f'{{ file = "{path.as_posix()}" }}'

    return ref


def assessio_tables(
    tenant: str,
    sandbox_url: str,
    organisation: Organisation,
    ref: Callable[[str, str], str],
    *,
    department_lenses: Mapping[str, str] | None = None,
) -> str:
    """The Assessio half of a demo tenant's configuration: the emulator, the organisation's
    credentials, the result key, and "General Performance" in en-GB unless a department rule
    picks another lens."""
    rules = "".join(
        f"""
[[tenants.{tenant}.assessment.rules]]
department = "{department}"
lens = "{lens}"
"""
        for department, lens in (department_lenses or {}).items()
    )
    return f"""
[tenants.{tenant}]
base_url = "{sandbox_url}"
provider_key = {ref("provider-key", organisation.provider_key)}
integrator_secret = {ref("integrator-secret", organisation.integrator_secret or "")}

[tenants.{tenant}.webhook]
api_keys = [{ref("result-key", organisation.result_api_key or "")}]

[tenants.{tenant}.assessment]
lens = "General Performance"
locale = "en-GB"
{rules}"""
