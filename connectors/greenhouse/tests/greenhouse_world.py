"""A small world for the Greenhouse connector's tests: the Assessio emulator, a fake Greenhouse
with users, jobs and custom fields, secrets in files, a daemon configuration, and a hand-made
`ConnectorContext` for tests that drive the connector without the daemon."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

import assessio_connect_greenhouse.plugin as greenhouse_plugin
from assessio_connect._cli_runtime import load_daemon_config
from assessio_connect._logging import EventLog
from assessio_connect.config import DaemonConfig
from assessio_connect.connector import Invitation
from assessio_connect.daemon import Daemon
from assessio_connect.models import (
    AssessioConfig,
    AssessmentOrder,
    CandidateDetails,
    Lens,
    Recruitment,
)
from assessio_connect.plugins import Plugins, load_plugins
from assessio_connect.sandbox import DeliverySchedule, Organisation, ReceivedOrder, Sandbox
from assessio_connect.store import OrderRecord, OrderState, ResultRecord
from assessio_connect.testing import wait_until
from assessio_connect.transport import Transport
from assessio_connect_greenhouse.fake import FakeGreenhouse

__all__ = [
    "GENERAL",
    "KEYS",
    "NOW",
    "SALES",
    "Context",
    "World",
    "order_record",
    "wait_until",
    "world",
]


KEYS = {
    "provider_key": "pk-acme-gh-41d2",
    "integrator_secret": "acme-integrator-gh-9c1e",
    "result_key": "acme-result-gh-7f70",
    "harvest_key": "harvest-key-3a9b5c",
    "webhook_secret": "gh-webhook-secret-e8e8",
    "partner_key": "gh-partner-key-5151",
    "client_id": "gh-client-77",
    "client_secret": "gh-client-secret-0d0d",
}
GENERAL = "7922dd91-1b44-43e4-a740-7c4d9c2fba41"
"""The emulator's "General Performance" lens id."""
SALES = "1650ccfe-5e70-4732-89e6-123af02f2a6d"
NOW = 1_700_000_000.0


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
    log: io.StringIO = attrs.field(factory=io.StringIO)

    def secret(self, name: str) -> str:
        """The TOML reference to a secret, written to a file first."""
        path = self.tmp / "secrets" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(KEYS[name] + "\n")
        return f'{{ file = "secrets/{name}" }}'

    def config_text(self, ats: str, *, auth: str = "basic") -> str:
        """The daemon's TOML; `ats` is appended inside `[tenants.acme.ats]` (keys first, then
        sub-tables written as `[tenants.acme.ats.NAME]`)."""
        s = self.secret
        if auth == "basic":
            credentials = f"api_key = {s('harvest_key')}"
        elif auth == "oauth":
            credentials = (
                f'oauth = {{ client_id = "{KEYS["client_id"]}", '
                f"client_secret = {s('client_secret')}, "
                f'token_url = "{self.greenhouse.url}/token", user_id = {self.author} }}'
            )
        else:
            credentials = ""
        return f"""
[server]
listen = "127.0.0.1:0"

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
{credentials}
{ats}
"""

    def webhook_ats(self, extra: str = "", stages: str = '[{ name = "Assessment" }]') -> str:
        """Web hook mode writing score and report into custom fields."""
        return f"""on_behalf_of = {self.author}
custom_fields = {{ score = "assessio_score", report_url = "assessio_report" }}
{extra}
[tenants.acme.ats.webhook]
secret_key = {self.secret("webhook_secret")}
stages = {stages}
"""

    def load(self, ats: str, *, auth: str = "basic") -> DaemonConfig:
        path = self.tmp / "assessio-connect.toml"
        path.write_text(self.config_text(ats, auth=auth))
        return load_daemon_config(self.plugins, path)

    @contextmanager
    def daemon(self, ats: str | None = None, *, auth: str = "basic") -> Iterator[Daemon]:
        """A started daemon (web hook mode by default) with web hooks pointed at it."""
        config = self.load(self.webhook_ats() if ats is None else ats, auth=auth)
        daemon = Daemon(config, self.plugins, log=EventLog(self.log, secrets=KEYS.values()))
        daemon.start()
        try:
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


@contextmanager
def world(tmp: Path, **greenhouse_options: Any) -> Iterator[World]:
    """The emulator and a fake Greenhouse with a recruiter, a hiring manager, an engineering
    and a sales job, and two candidate custom fields."""
    greenhouse_options.setdefault("api_key", KEYS["harvest_key"])
    greenhouse_options.setdefault("client_id", KEYS["client_id"])
    greenhouse_options.setdefault("client_secret", KEYS["client_secret"])
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
        yield World(tmp, sandbox, greenhouse, plugins, author, manager, engineering, sales)


# -- a hand-made ConnectorContext ---------------------------------------------------------


class Context:
    """Records invitations and log lines; one OrderRecord per application id; results set by
    the test."""

    tenant = "acme"

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.invited: list[Invitation] = []
        self.orders: dict[str, OrderRecord] = {}
        self.results: dict[str, ResultRecord] = {}
        self.logs: list[tuple[str, dict[str, Any]]] = []

    def now(self) -> float:
        return NOW

    def log(self, event: str, **fields: Any) -> None:
        self.logs.append((event, fields))

    def invite(self, invitation: Invitation) -> OrderRecord:
        self.invited.append(invitation)
        known = self.orders.get(invitation.application_id)
        if known is None:
            known = order_record(
                invitation.application_id,
                f"result-{len(self.orders) + 1}",
                candidate_id=invitation.candidate.id,
                metadata=invitation.metadata,
            )
            self.orders[invitation.application_id] = known
        return known

    def find_order(self, application_id: str) -> OrderRecord | None:
        return self.orders.get(application_id)

    def latest_result(self, result_id: str) -> ResultRecord | None:
        return self.results.get(result_id)

    def assessio_config(self) -> AssessioConfig:
        return AssessioConfig(
            [Lens(GENERAL, "General Performance"), Lens(SALES, "Sales")], ["en-GB"]
        )


def order_record(
    application_id: str,
    result_id: str,
    *,
    candidate_id: str = "cand-1",
    metadata: Any = None,
) -> OrderRecord:
    order = AssessmentOrder(
        recruitment=Recruitment(id="rec-1", title="Backend Engineer"),
        result_update_url=f"http://127.0.0.1:9/results/acme/{result_id}",
        result_id=result_id,
        lens_id=GENERAL,
        locale="en-GB",
        candidate_details=CandidateDetails(email="ada@example.com"),
    )
    return OrderRecord(
        tenant="acme",
        application_id=application_id,
        result_id=result_id,
        job_id="job-7",
        candidate_id=candidate_id,
        order=order,
        metadata=dict(metadata or {}),
        state=OrderState.SENT,
        reference=None,
        attempts=1,
        next_attempt_at=NOW,
        last_error=None,
        created_at=NOW,
        updated_at=NOW,
    )
