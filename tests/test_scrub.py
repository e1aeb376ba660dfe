"""No credential reaches the store or the operator's screen: the logs' scrubber knows the
configured secrets and the shapes of credentials (a Signature's HMAC, bearer and basic tokens,
named keys), and every error goes through it before it is stored or printed."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from assessio_connect.runtime._logging import REDACTED, Scrubber
from assessio_connect.runtime.config import load_daemon_config
from assessio_connect.runtime.daemon import Daemon
from assessio_connect.store import DeliveryState, OrderState
from assessio_connect.tools.cli import cli
from daemon_harness import SECRETS, Harness, harness, wait_until
from store_contract import new_order, payload

# Assessio's documented answer to GET /recruitment/v1/config (docs/assessio-contract.md), its
# one long line split in two.
DOCUMENTED_CONFIG = b"""{
  "availableLenses": [
    {"id": "7922dd91-1b44-43e4-a740-7c4d9c2fba41", "name": "General Performance"}],
  "availableLocales": ["en-US", "sv-SE", "nl-NL", "nn-NO"]
}"""
HMAC = "d4ac43f53240c27b4729b088e9cff14b0dddbd5246ce0f4c48b6a73529d3724a"


# -- the scrubber ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (f"Signature: t=1539756759,signature={HMAC}", "Signature: t=1539756759,signature="),
        (f'{{"Signature": "t=1,signature={HMAC},signature={HMAC[::-1]}"}}', '"Signature": "t=1'),
        (
            "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
            "Authorization: Bearer",
        ),
        ("Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic"),
        ("provider-key: pk-elsewhere-0001", "provider-key: "),
        ('{"refresh_token": "rt.9f8e7d6c5b4a", "expires_in": 3600}', '"expires_in": 3600'),
        ("grant_type=refresh_token&client_secret=s3cr3t-v4lue&x=1", "&x=1"),
        ("integrator-api-key=k-123456", "integrator-api-key="),
    ],
)
def test_credential_shapes_are_redacted(text: str, kept: str) -> None:
    scrubbed = Scrubber()(text)
    assert REDACTED in scrubbed
    assert kept in scrubbed
    for secret in (HMAC, "eyJhbGciOiJIUzI1NiJ9", "dXNlcjpwYXNz", "pk-elsewhere", "rt.9f8e"):
        assert secret not in scrubbed
    assert "s3cr3t" not in scrubbed
    assert "k-123456" not in scrubbed


@pytest.mark.parametrize(
    "text",
    [
        "use basic authentication, or a bearer token.",
        '{"provider_key": {"env": "ACME_KEY"}, "integrator_secret": null}',
        "acme: assessio ok (provider-key and integrator-secret accepted; 1 lens)",
        "cannot read password_file '/run/secrets/pg' (No such file)",
        "t=1539756759,signature=abc",  # too short to be an HMAC
        "delivery 42 of result r-1 v2 dead: ATS said 404",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert Scrubber()(text) == text


@given(
    secret=st.text(st.characters(codec="utf-8"), min_size=4),
    before=st.text(),
    after=st.text(),
)
def test_a_known_secret_never_survives(secret: str, before: str, after: str) -> None:
    assert secret not in Scrubber([secret])(before + secret + after)


@given(token=st.from_regex(r"[A-Za-z0-9._~+/-]{6,40}[0-9][A-Za-z0-9._~+/-]{1,20}", fullmatch=True))
def test_any_bearer_token_is_redacted(token: str) -> None:
    scrubbed = Scrubber()(f"upstream said: Authorization: Bearer {token}")
    assert token not in scrubbed


# -- echoed by an upstream, then stored and printed -----------------------------------------


class EchoingUpstream:
    """An HTTP server that answers like a broken gateway: 503 for every POST or PUT, with an
    error that quotes the request's credentials back; GET of the Assessio configuration works."""

    def __init__(self) -> None:
        self.received: list[dict[str, str]] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer(200, DOCUMENTED_CONFIG)

            def do_POST(self) -> None:
                self._echo()

            def do_PUT(self) -> None:
                self._echo()

            def _echo(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                upstream.received.append(headers)
                quoted = "; ".join(
                    f"{name}: {headers[name]}"
                    for name in ("provider-key", "signature", "authorization")
                    if name in headers
                )
                body = json.dumps({"error": f"backend down, your request had {quoted}"})
                self._answer(503, body.encode())

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> EchoingUpstream:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Harness]:
    with harness(tmp_path) as built:
        yield built


def forbidden(upstream: EchoingUpstream) -> list[str]:
    """Every credential the daemon sent, as the upstream saw it."""
    found = list(SECRETS.values())
    for headers in upstream.received:
        signature = headers.get("signature", "")
        found.extend(part.split("=", 1)[1] for part in signature.split(",") if "=" in part)
        found.extend(headers.get(name, "") for name in ("provider-key", "authorization"))
    return [value for value in found if len(value) >= 16 or value in SECRETS.values()]


def behind(world: Harness, upstream: EchoingUpstream) -> Path:
    """The two-tenant configuration with globex's Assessio and acme's ATS behind `upstream`."""
    text = world.config_text()
    for before in (
        f'[tenants.globex]\nbase_url = "{world.sandbox.url}"',
        f'[tenants.acme.ats]\nkind = "reference"\nbase_url = "{world.acme_ats.url}"',
    ):
        assert before in text
        text = text.replace(before, before.rsplit('"', 2)[0] + f'"{upstream.url}"')
    path = world.tmp / "assessio-connect.toml"
    path.write_text(text)
    return path


def test_credentials_an_upstream_echoes_are_neither_stored_nor_printed(world: Harness) -> None:
    with EchoingUpstream() as upstream:
        config_path = behind(world, upstream)
        config = load_daemon_config(world.plugins, config_path)
        store = world.plugins.open_store(config.store_url)
        store.migrate()
        store.add_order(new_order("r-1", tenant="acme"), now=time.time())
        store.record_result("acme", "r-1", payload("r-1"), now=time.time())
        store.close()
        world.globex_ats.add_invitation(
            "globex-app-1",
            job={"id": "job-1", "title": "Analyst"},
            candidate={"id": "c1", "email": "c1@globex.example"},
        )
        daemon = Daemon(config, world.plugins).start()
        try:

            def both_refused() -> bool:
                orders = daemon.store.list_orders(tenant="globex")
                deliveries = daemon.store.list_deliveries(tenant="acme")
                return bool(orders and orders[0].last_error and deliveries[0].last_error)

            wait_until(both_refused, 20, what="an order and a delivery refused by the gateway")
            [order] = daemon.store.list_orders(tenant="globex")
            [delivery] = daemon.store.list_deliveries(tenant="acme")
        finally:
            daemon.stop()
        secrets = forbidden(upstream)
    assert order.state is OrderState.PENDING
    assert delivery.state is DeliveryState.PENDING
    assert any("signature" in headers for headers in upstream.received)
    for stored in (order.last_error, delivery.last_error):
        assert stored is not None
        assert REDACTED in stored
        assert "backend down" in stored  # the rest of the error is still there to read
        for secret in secrets:
            assert secret not in stored
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("ASSESSIO_")}
    for args in (
        ["orders", "list"],
        ["orders", "list", "--json"],
        ["deliveries", "list", "--json"],
    ):
        result = CliRunner().invoke(cli, [*args, "--config", str(config_path)], env=env)
        assert result.exit_code == 0, result.output
        assert REDACTED in result.output or "--json" not in args  # a table cell is cut short
        for secret in secrets:
            assert secret not in result.output
