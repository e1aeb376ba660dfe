"""The configurations the connector READMEs' commands run against, written for the project's
fakes and the local PostgreSQL (used by test_documented_commands.py).

Each ATS table follows its README's example, with the vendor's address replaced by a fake's
and secrets kept in 0600 files or in the environment variables the README names.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from daemon_harness import Harness

__all__ = [
    "CONNECTOR_SECRETS",
    "GREENHOUSE_PARTNER_CLIENT_ID",
    "HIREBOARD_API_KEY_ENV",
    "PARTNER_SECRET_ENV",
    "WORKDAY_CLOSED_URL",
    "callback_uri",
    "greenhouse_toml",
    "hireboard_toml",
    "postgres_schema",
    "postgres_tables",
    "postgres_toml",
    "workday_toml",
]

CONNECTOR_SECRETS = {
    "greenhouse_partner_secret": "gh-partner-secret-documented-3e3e",
    "acme_greenhouse_webhook": "gh-webhook-secret-documented-7a7a",
    "acme_hireboard_api_key": "hb-api-key-documented-1d1d",
    "acme_hireboard_webhook": "hb-webhook-secret-documented-5c5c",
    "acme_workday_client_secret": "wd-client-secret-documented-2f2f",
    "acme_workday_refresh_token": "wd-refresh-token-documented-8b8b",
}
"""Secrets of the connector worlds; none may appear in any command's output."""

GREENHOUSE_PARTNER_CLIENT_ID = "your-partner-client-id"  # the README's partner `oauth` table
PARTNER_SECRET_ENV = "GREENHOUSE_PARTNER_SECRET"  # connectors/greenhouse/README.md
HIREBOARD_API_KEY_ENV = "ACME_HIREBOARD_API_KEY"  # examples/connector/README.md
WORKDAY_CLOSED_URL = "http://127.0.0.1:9"
"""`workday tests` reads Assessio only: a Workday address where nothing listens makes any call
to Workday fail the command instead of going unnoticed."""

POSTGRES_URL_ENV = "ASSESSIO_TEST_POSTGRES_URL"
POSTGRES_REQUIRED_ENV = "ASSESSIO_REQUIRE_POSTGRES"
POSTGRES_DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _secret(folder: Path, name: str) -> str:
    """The TOML reference to a connector secret, written to a 0600 file first."""
    path = folder / "secrets" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(CONNECTOR_SECRETS[name] + "\n")
    path.chmod(0o600)
    return f'{{ file = "secrets/{name}" }}'


def _assessio_tenant(harness: Harness) -> str:
    """Tenant acme's Assessio side: the harness's emulator organisation."""
    s = harness.secret_file
    return f"""
[tenants.acme]
base_url = "{harness.sandbox.url}"
provider_key = {{ file = "secrets/{s("acme_provider_key")}" }}
integrator_secret = {{ file = "secrets/{s("acme_integrator_secret")}" }}

[tenants.acme.webhook]
api_keys = [{{ file = "secrets/{s("acme_result_key")}" }}]

[tenants.acme.assessment]
lens = "General Performance"
locale = "en-GB"
"""


def callback_uri(port: int) -> str:
    """The redirect URI the daemon serves for tenant acme (connectors/greenhouse/README.md,
    "Connecting a partner integration's tenant"): registered with the fake Greenhouse."""
    return f"http://127.0.0.1:{port}/connectors/acme/oauth/callback"


def greenhouse_toml(harness: Harness, greenhouse_url: str, port: int) -> str:
    """daemon.toml with one partner integration's tenant, as connectors/greenhouse/README.md
    configures it, in web hook mode against the fake Greenhouse."""
    return f"""
[server]
listen = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}"

[store]
url = "sqlite:///state.db"
{_assessio_tenant(harness)}
[tenants.acme.ats]
kind = "greenhouse"
harvest_url = "{greenhouse_url}"
auth_url = "{greenhouse_url}"

[tenants.acme.ats.oauth]
grant = "authorization_code"
client_id = "{GREENHOUSE_PARTNER_CLIENT_ID}"
client_secret = {{ env = "{PARTNER_SECRET_ENV}" }}

[tenants.acme.ats.webhook]
secret_key = {_secret(harness.tmp, "acme_greenhouse_webhook")}
stages = [{{ name = "Assessment" }}]
"""


def workday_toml(harness: Harness) -> str:
    """assessio-connect.toml with connectors/workday/README.md's tenant: OAuth credentials,
    statuses and its `tests` table (General Performance by name, Leadership by lens id)."""
    return f"""
[store]
url = "sqlite:///workday-state.db"
{_assessio_tenant(harness)}
[tenants.acme.ats]
kind = "workday"
base_url = "{WORKDAY_CLOSED_URL}"
tenant = "acme_impl"
report = "ISU_Assessio/Assessio_Assessment_Candidates"
recruiting_version = "v42.2"
auth = "oauth"
client_id = "MzA2ZTU2"
client_secret = {_secret(harness.tmp, "acme_workday_client_secret")}
refresh_token = {_secret(harness.tmp, "acme_workday_refresh_token")}
status_completed = "ASSESSIO_COMPLETED"
status_in_progress = "ASSESSIO_IN_PROGRESS"

[tenants.acme.ats.tests]
"General Performance" = "ASSESSIO_GENERAL_PERFORMANCE"
"3f0c1c64-f3ad-4c4f-b1e0-5f83ddc68237" = "ASSESSIO_LEADERSHIP"
"""


def hireboard_toml(harness: Harness, hireboard_url: str) -> str:
    """daemon.toml with examples/connector/README.md's Hireboard tenant against FakeHireboard."""
    return f"""
[server]
listen = "127.0.0.1:0"

[store]
url = "sqlite:///state.db"
{_assessio_tenant(harness)}
[tenants.acme.ats]
kind = "hireboard"
base_url = "{hireboard_url}"
api_key = {{ env = "{HIREBOARD_API_KEY_ENV}" }}
webhook_secret = {_secret(harness.tmp, "acme_hireboard_webhook")}
trigger_stage = "assessment"
"""


def postgres_toml(harness: Harness, store_url: str) -> str:
    """The harness's two-tenant daemon.toml with its store in PostgreSQL."""
    sqlite = 'url = "sqlite:///state.db"'
    text = harness.config_text()
    assert sqlite in text, "the harness's configuration no longer names its SQLite store"
    return text.replace(sqlite, f'url = "{store_url}"')


def _postgres_server() -> str:
    """The local test server (plugins/postgres/README.md, "Tests"); skips the test when none
    answers, unless PostgreSQL is required (CI)."""
    url = os.environ.get(POSTGRES_URL_ENV) or POSTGRES_DEFAULT_URL
    try:
        with psycopg.connect(url, connect_timeout=3, autocommit=True) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as exc:
        reason = f"no PostgreSQL at {POSTGRES_URL_ENV} ({type(exc).__name__}); set it to a server"
        if os.environ.get(POSTGRES_REQUIRED_ENV) == "1":
            pytest.fail(f"{POSTGRES_REQUIRED_ENV}=1 but {reason}")
        pytest.skip(reason)
    return url


@contextmanager
def postgres_schema() -> Iterator[tuple[str, str]]:
    """(store URL, schema): a schema of its own on the test server, dropped afterwards."""
    server = _postgres_server()
    schema = f"documented_{uuid.uuid4().hex[:12]}"
    separator = "&" if "?" in server else "?"
    try:
        yield f"{server}{separator}schema={schema}", schema
    finally:
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            )


def postgres_tables(schema: str) -> set[str]:
    """The tables in `schema` on the test server."""
    with psycopg.connect(_postgres_server(), autocommit=True) as connection:
        rows = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        ).fetchall()
    return {str(row[0]) for row in rows}
