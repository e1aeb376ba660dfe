"""A two-tenant world on 127.0.0.1 for daemon tests: the Assessio emulator, two reference ATSs
(one pushing events, one polled), secrets in files, and a TOML configuration for the daemon."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import attrs

from assessio_connect.reference import ReferenceAts
from assessio_connect.runtime.config import DaemonConfig, load_daemon_config
from assessio_connect.runtime.plugins import Plugins, load_plugins
from assessio_connect.sandbox import DeliverySchedule, Organisation, ReceivedOrder, Sandbox
from assessio_connect.testing import wait_until

__all__ = ["RUN", "SECRETS", "DaemonProcess", "Harness", "free_port", "harness", "wait_until"]

RUN = [sys.executable, "-m", "assessio_connect", "run"]


SECRETS = {
    "acme_provider_key": "pk-acme-5f1c9a",
    "acme_integrator_secret": "acme-integrator-secret-8d2e",
    "acme_result_key": "acme-result-key-77aa01",
    "acme_ats_token": "acme-ats-token-c0ffee",
    "acme_ats_webhook": "acme-ats-webhook-secret-9b9b",
    "globex_provider_key": "pk-globex-2b7d41",
    "globex_integrator_secret": "globex-integrator-secret-4e4e",
    "globex_result_key": "globex-result-key-31f0",
    "globex_result_signing": "globex-result-signing-6a6a",
    "globex_ats_token": "globex-ats-token-beef42",
}


def free_port() -> int:
    """A TCP port that was free a moment ago (for a daemon that must come back on the same one)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@attrs.define
class Harness:
    """Everything a daemon test needs; `config_text()` renders the daemon's TOML."""

    tmp: Path
    sandbox: Sandbox
    acme_ats: ReferenceAts
    globex_ats: ReferenceAts
    plugins: Plugins

    def wait_for_orders(self, count: int, timeout: float = 10.0) -> list[ReceivedOrder]:
        """Every order the emulator accepted, once there are `count` of them."""

        def enough() -> list[ReceivedOrder] | None:
            orders = self.sandbox.orders()
            return orders if len(orders) >= count else None

        return wait_until(enough, timeout, what=f"{count} orders at the emulator")

    def secret_file(self, name: str) -> str:
        path = self.tmp / "secrets" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(SECRETS[name] + "\n")
        path.chmod(0o600)  # as an operator keeps them: readable by the daemon's user only
        return path.name

    def config_text(self, *, port: int = 0, workers: int = 2, poll_interval: float = 0.05) -> str:
        s = self.secret_file
        return f"""
[server]
listen = "127.0.0.1:{port}"
{f'public_url = "http://127.0.0.1:{port}"' if port else ""}

[store]
url = "sqlite:///state.db"

[delivery]
workers = {workers}
first_delay = 0.02
max_delay = 0.2
lease = 5

[tenants.acme]
base_url = "{self.sandbox.url}"
provider_key = {{ file = "secrets/{s("acme_provider_key")}" }}
integrator_secret = {{ file = "secrets/{s("acme_integrator_secret")}" }}

[tenants.acme.webhook]
api_keys = [{{ file = "secrets/{s("acme_result_key")}" }}]

[tenants.acme.assessment]
lens = "General Performance"
locale = "en-GB"

[tenants.acme.ats]
kind = "reference"
base_url = "{self.acme_ats.url}"
api_token = {{ file = "secrets/{s("acme_ats_token")}" }}
webhook_secret = {{ file = "secrets/{s("acme_ats_webhook")}" }}

[tenants.globex]
base_url = "{self.sandbox.url}"
provider_key = {{ file = "secrets/{s("globex_provider_key")}" }}
integrator_secret = {{ file = "secrets/{s("globex_integrator_secret")}" }}
order_endpoint = "link"

[tenants.globex.webhook]
api_keys = [{{ file = "secrets/{s("globex_result_key")}" }}]
signing_secrets = [{{ file = "secrets/{s("globex_result_signing")}" }}]

[tenants.globex.assessment]
lens = "General Performance"
locale = "sv-SE"

[tenants.globex.ats]
kind = "reference"
base_url = "{self.globex_ats.url}"
api_token = {{ file = "secrets/{s("globex_ats_token")}" }}
poll = true
poll_interval = {poll_interval}
page_size = 2
"""

    def write_config(self, **options: Any) -> Path:
        path = self.tmp / "assessio-connect.toml"
        path.write_text(self.config_text(**options))
        return path

    def load(self, **options: Any) -> DaemonConfig:
        return load_daemon_config(self.plugins, self.write_config(**options))


@contextmanager
def harness(tmp: Path, **sandbox_options: Any) -> Iterator[Harness]:
    """Start the emulator (two organisations) and both reference ATSs; stop them afterwards."""
    organisations = [
        Organisation(
            provider_key=SECRETS["acme_provider_key"],
            integrator_secret=SECRETS["acme_integrator_secret"],
            result_api_key=SECRETS["acme_result_key"],
        ),
        Organisation(
            provider_key=SECRETS["globex_provider_key"],
            integrator_secret=SECRETS["globex_integrator_secret"],
            result_api_key=SECRETS["globex_result_key"],
            result_signing_secret=SECRETS["globex_result_signing"],
        ),
    ]
    sandbox_options.setdefault(
        "delivery", DeliverySchedule(first_retry=0.05, max_interval=0.2, horizon=60.0)
    )
    with (
        Sandbox(organisations, **sandbox_options) as sandbox,
        ReferenceAts(
            api_token=SECRETS["acme_ats_token"], webhook_secret=SECRETS["acme_ats_webhook"]
        ) as acme_ats,
        ReferenceAts(api_token=SECRETS["globex_ats_token"]) as globex_ats,
    ):
        yield Harness(tmp, sandbox, acme_ats, globex_ats, load_plugins(entry_points=False))


class DaemonProcess:
    """`python -m assessio_connect run` with its JSON log lines collected from stdout."""

    def __init__(self, config: Path, command: Sequence[str] = RUN) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ASSESSIO_")}
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [*command, "--config", str(config), "--log-format", "json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self._events: queue.Queue[dict[str, object]] = queue.Queue()
        assert self.proc.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.append(line)
            try:
                self._events.put(json.loads(line))
            except ValueError:
                self._events.put({"event": "unparsed", "line": line})

    def wait_for_event(self, name: str, timeout: float = 20.0) -> dict[str, object]:
        def found() -> dict[str, object] | None:
            while not self._events.empty():
                event = self._events.get_nowait()
                if event.get("event") == name:
                    return event
            return None

        return wait_until(found, timeout, what=f"log event {name}; got {self.lines[-5:]}")

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._close()

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=40)  # stopping waits up to 10 s per loop
        self._close()
        return code

    def _close(self) -> None:
        self._reader.join(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
