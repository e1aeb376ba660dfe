"""A small world for the Greenhouse connector's tests: the Assessio emulator, a fake Greenhouse
(Harvest v3 behind OAuth) with users, jobs and custom fields, secrets in files, a daemon
configuration, and the clock both may share."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import urllib3

import assessio_connect_greenhouse.plugin as greenhouse_plugin
from assessio_connect import Daemon, DaemonConfig, Plugins, load_daemon_config, load_plugins
from assessio_connect.sandbox import DeliverySchedule, Organisation, ReceivedOrder, Sandbox
from assessio_connect.testing import wait_until
from assessio_connect_greenhouse.fake import FakeGreenhouse

__all__ = [
    "GENERAL",
    "KEYS",
    "SALES",
    "FakeClock",
    "TextLog",
    "World",
    "free_port",
    "wait_until",
    "world",
]


KEYS = {
    "provider_key": "pk-acme-gh-41d2",
    "integrator_secret": "acme-integrator-gh-9c1e",
    "result_key": "acme-result-gh-7f70",
    "webhook_secret": "gh-webhook-secret-e8e8",
    "partner_key": "gh-partner-key-5151",
    "client_id": "gh-client-77",
    "client_secret": "gh-client-secret-0d0d",
    "partner_client_id": "gh-partner-client-31",
    "partner_client_secret": "gh-partner-client-secret-a4a4",
}
GENERAL = "7922dd91-1b44-43e4-a740-7c4d9c2fba41"
"""The emulator's "General Performance" lens id."""
SALES = "1650ccfe-5e70-4732-89e6-123af02f2a6d"
CLIENT_CREDENTIALS = "client_credentials"
AUTHORIZATION_CODE = "authorization_code"


class FakeClock:
    """Epoch seconds that start now, pass as real time does, and jump when the test says."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0

    def __call__(self) -> float:
        with self._lock:
            return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds


class TextLog:
    """The daemon's log as `level=… event=… name=value` lines, unscrubbed: what the tests read,
    and where a secret the daemon logs would show."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lines: list[str] = []

    def __call__(self, event: str, /, level: str = "info", **fields: Any) -> None:
        shown = " ".join(f"{name}={value}" for name, value in fields.items() if value is not None)
        with self._lock:
            self._lines.append(f"level={level} event={event} {shown}")

    def getvalue(self) -> str:
        with self._lock:
            return "\n".join(self._lines)


def free_port() -> int:
    """A port nothing listens on right now: the partner app's redirect URI must name the
    daemon's address before the daemon (configured with the fake's address) exists."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@attrs.define
class World:
    """The emulator, the fake Greenhouse and its data; `daemon(...)` runs a configured daemon."""

    tmp: Path
    sandbox: Sandbox
    greenhouse: FakeGreenhouse
    plugins: Plugins
    author: int
    manager: int
    engineering: int
    sales: int
    daemon_port: int
    clock: FakeClock
    log: TextLog = attrs.field(factory=TextLog)

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.daemon_port}/connectors/acme/oauth/callback"

    def secret(self, name: str) -> str:
        """The TOML reference to a secret, written to a file first."""
        path = self.tmp / "secrets" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(KEYS[name] + "\n")
        return f'{{ file = "secrets/{name}" }}'

    def oauth_table(self, grant: str) -> str:
        """`oauth = {…}` for a custom integration or the partner app."""
        s = self.secret
        if grant == CLIENT_CREDENTIALS:
            return (
                f'oauth = {{ client_id = "{KEYS["client_id"]}", '
                f"client_secret = {s('client_secret')}, user_id = {self.author} }}"
            )
        return (
            f'oauth = {{ grant = "authorization_code", client_id = "{KEYS["partner_client_id"]}", '
            f"client_secret = {s('partner_client_secret')}, keep_alive_interval = 0.05 }}"
        )

    def config_text(self, ats: str, *, grant: str | None = CLIENT_CREDENTIALS) -> str:
        """The daemon's TOML; `ats` is appended inside `[tenants.acme.ats]` (keys first, then
        sub-tables written as `[tenants.acme.ats.NAME]`)."""
        s = self.secret
        oauth = self.oauth_table(grant) if grant is not None else ""
        return f"""
[server]
listen = "127.0.0.1:{self.daemon_port}"

[store]
url = "sqlite:///state.db"

[delivery]
workers = 2
first_delay = 0.02
max_delay = 0.2
lease = 5

[tenants.acme]
base_url = "{self.sandbox.url}"
provider_key = {s("provider_key")}
integrator_secret = {s("integrator_secret")}

[tenants.acme.webhook]
api_keys = [{s("result_key")}]

[tenants.acme.assessment]
lens = "General Performance"
locale = "en-GB"

[[tenants.acme.assessment.rules]]
department = "Sales"
lens = "Sales"

[tenants.acme.ats]
kind = "greenhouse"
harvest_url = "{self.greenhouse.url}"
auth_url = "{self.greenhouse.url}"
rate_limit_window = 0.2
{oauth}
{ats}
"""

    def webhook_ats(self, extra: str = "", stages: str = '[{ name = "Assessment" }]') -> str:
        """Web hook mode writing score and report into custom fields."""
        return f"""custom_fields = {{ score = "assessio_score", report_url = "assessio_report" }}
{extra}
[tenants.acme.ats.webhook]
secret_key = {self.secret("webhook_secret")}
stages = {stages}
"""

    def config_path(
        self, ats: str | None = None, *, grant: str | None = CLIENT_CREDENTIALS
    ) -> Path:
        path = self.tmp / "assessio-connect.toml"
        path.write_text(self.config_text(self.webhook_ats() if ats is None else ats, grant=grant))
        return path

    def load(self, ats: str, *, grant: str | None = CLIENT_CREDENTIALS) -> DaemonConfig:
        return load_daemon_config(self.plugins, self.config_path(ats, grant=grant))

    @contextmanager
    def daemon(
        self,
        ats: str | None = None,
        *,
        grant: str | None = CLIENT_CREDENTIALS,
        clock: FakeClock | None = None,
        configure_webhook: bool = True,
    ) -> Iterator[Daemon]:
        """A started daemon (web hook mode by default) with web hooks pointed at it."""
        config = load_daemon_config(self.plugins, self.config_path(ats, grant=grant))
        daemon = Daemon(config, self.plugins, log=self.log, clock=clock or time.time)
        daemon.start()
        try:
            if configure_webhook and config.tenants["acme"].ats.webhook_enabled:
                self.greenhouse.configure_webhook(
                    f"{daemon.url}/connectors/acme/webhook", KEYS["webhook_secret"]
                )
            yield daemon
        finally:
            daemon.stop()

    def applicant(self, first: str, email: str, job: int | None = None) -> tuple[int, int]:
        """(candidate id, application id) of a new applicant in the first stage."""
        candidate = self.greenhouse.add_candidate(
            first, "Tester", [(f"work.{email}", "work"), (email, "personal")]
        )
        return candidate, self.greenhouse.add_application(candidate, job or self.engineering)

    def wait_for_orders(self, count: int, timeout: float = 10.0) -> list[ReceivedOrder]:
        def enough() -> list[ReceivedOrder] | None:
            orders = self.sandbox.orders()
            return orders if len(orders) >= count else None

        return wait_until(enough, timeout, what=f"{count} orders at the emulator")

    def approve_in_browser(self, authorization_url: str) -> urllib3.BaseHTTPResponse:
        """What a person's browser does: open Greenhouse's page (which approves at once, as
        `authorizing_user`), then follow its redirect back to the daemon."""
        http = urllib3.PoolManager(retries=False)
        at_greenhouse = http.request("GET", authorization_url, redirect=False)
        assert at_greenhouse.status == 302, at_greenhouse.data
        return http.request("GET", at_greenhouse.headers["Location"], redirect=False)


@contextmanager
def world(tmp: Path, **greenhouse_options: Any) -> Iterator[World]:
    """The emulator and a fake Greenhouse (a custom integration's client and a partner app)
    with a recruiter (who approves the partner app), a hiring manager, an engineering and a
    sales job, and two candidate custom fields."""
    clock = greenhouse_options.setdefault("clock", FakeClock())
    daemon_port = free_port()
    greenhouse_options.setdefault("client_id", KEYS["client_id"])
    greenhouse_options.setdefault("client_secret", KEYS["client_secret"])
    greenhouse_options.setdefault("partner_client_id", KEYS["partner_client_id"])
    greenhouse_options.setdefault("partner_client_secret", KEYS["partner_client_secret"])
    greenhouse_options.setdefault(
        "partner_redirect_uris",
        [f"http://127.0.0.1:{daemon_port}/connectors/acme/oauth/callback"],
    )
    organisation = Organisation(
        provider_key=KEYS["provider_key"],
        integrator_secret=KEYS["integrator_secret"],
        result_api_key=KEYS["result_key"],
    )
    schedule = DeliverySchedule(first_retry=0.05, max_interval=0.2, horizon=60.0)
    with (
        Sandbox([organisation], delivery=schedule) as sandbox,
        FakeGreenhouse(**greenhouse_options) as greenhouse,
    ):
        author = greenhouse.add_user("Robin", "Recruiter", "robin@acme.example")
        greenhouse.authorizing_user = author
        manager = greenhouse.add_user("Hana", "Manager", "hana@acme.example")
        engineering = greenhouse.add_job(
            "Backend Engineer",
            department="Engineering",
            notes="<p>Builds <b>things</b> &amp; more</p>",
            hiring_team={"hiring_managers": [manager], "recruiters": [author]},
        )
        sales = greenhouse.add_job("Account Executive", department="Sales")
        greenhouse.add_custom_field("Assessio Score", value_type="number")
        greenhouse.add_custom_field("Assessio Report", value_type="url")
        plugins = load_plugins(entry_points=False, extra=[("greenhouse", greenhouse_plugin)])
        yield World(
            tmp,
            sandbox,
            greenhouse,
            plugins,
            author,
            manager,
            engineering,
            sales,
            daemon_port,
            clock,
        )
