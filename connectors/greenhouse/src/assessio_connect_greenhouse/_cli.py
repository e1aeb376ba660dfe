"""`assessio-connect greenhouse connect`: start a partner integration's connection to one
tenant's Greenhouse by printing the authorization link a customer's user opens."""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

import click

from assessio_connect import DaemonConfig, Plugins, StoreState, load_daemon_config

from ._authorization import AuthorizationRequests, authorization_url, callback_url
from ._config import GreenhouseConfig

__all__ = ["greenhouse_group", "register"]

_UNSPECIFIED_HOSTS = ("0.0.0.0", "::", "")  # noqa: S104 - compared with, never bound


def _public_url(config: DaemonConfig) -> str:
    """Where a browser reaches the daemon: `[server] public_url`, else its own address."""
    server = config.server
    if server.public_url:
        return server.public_url.rstrip("/")
    if server.port == 0 or server.host in _UNSPECIFIED_HOSTS:
        raise click.ClickException(
            "the redirect URI is built from the daemon's public address, but listen = "
            f"{server.listen!r} is not one a browser can reach: set [server] public_url in "
            f"{config.source}"
        )
    return server.base_url


@click.group("greenhouse")
def greenhouse_group() -> None:
    """Greenhouse helpers."""


@greenhouse_group.command("connect")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="ASSESSIO_CONNECT_CONFIG",
    help="The daemon's TOML configuration  [env: ASSESSIO_CONNECT_CONFIG]",
)
@click.option("--tenant", required=True, help="The tenant to connect.")
def connect_command(config_path: Path, tenant: str) -> None:
    """Print the link that connects TENANT's Greenhouse (a partner integration, grant =
    "authorization_code"). A user of the customer's Greenhouse opens it and approves; Greenhouse
    then sends the browser back to the running daemon, which keeps the tokens.

    The link is printed on stdout, the explanation on stderr. It can be used once, within
    oauth.authorization_lifetime (10 minutes by default). Run it again to reconnect a tenant
    whose connection lapsed."""
    plugins = click.get_current_context().find_object(Plugins)
    if plugins is None:
        raise click.UsageError("plugins are not loaded; run this through assessio-connect")
    config = load_daemon_config(plugins, config_path, only_tenant=tenant)
    tenant_config = config.tenants[tenant]
    ats = tenant_config.ats
    if not isinstance(ats, GreenhouseConfig):
        raise click.ClickException(
            f"tenant {tenant} is connected to {tenant_config.ats_kind!r}, not to Greenhouse"
        )
    oauth = ats.oauth
    if oauth is None or not oauth.partner:
        raise click.ClickException(
            f"tenant {tenant} is not a partner integration: `connect` is for "
            '[tenants.NAME.ats.oauth] with grant = "authorization_code" (client credentials '
            "need no connection step)"
        )
    redirect_uri = callback_url(_public_url(config), tenant)
    store = plugins.open_store(config.store_url)
    try:
        store.migrate()
        owner = f"{socket.gethostname()}:{os.getpid()}:connect"
        state = StoreState(store, tenant, tenant_config.ats_kind, owner=owner, clock=time.time)
        token = AuthorizationRequests(state, time.time).begin(
            redirect_uri, oauth.authorization_lifetime
        )
    finally:
        store.close()
    minutes = max(1, round(oauth.authorization_lifetime / 60))
    click.echo(
        f"To connect tenant {tenant}, a user of its Greenhouse opens this link and approves "
        "(a Site Admin may authorize with a service account). It works once, within "
        f"{minutes} min. Greenhouse then sends the browser to {redirect_uri}, which the "
        f"daemon serves: keep it running, and have that redirect URI registered with "
        f"Greenhouse for client {oauth.client_id}.",
        err=True,
    )
    click.echo(
        authorization_url(ats.authorize_url, oauth.client_id, redirect_uri, token, oauth.scopes)
    )
    sys.stdout.flush()


def register(cli: click.Group) -> None:
    """Add the `greenhouse` group to the command line."""
    cli.add_command(greenhouse_group)
