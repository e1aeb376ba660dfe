"""Shared helpers for the Workday connector's tests: a hand-made connector context, a settable
clock, configurations, and a world of the Assessio emulator, a fake Workday and the daemon."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from assessio_connect import (
    AssessioConfig,
    AtsCandidate,
    AtsJob,
    ConnectorState,
    Daemon,
    Invitation,
    MemoryState,
    Plugins,
    Pushback,
    Result,
    ResultRecord,
    Secret,
    StateEntry,
    StoreError,
    Transport,
    load_daemon_config,
    load_plugins,
)
from assessio_connect.sandbox import (
    DEFAULT_LENSES,
    DeliverySchedule,
    Organisation,
    ReceivedOrder,
    Sandbox,
)
from assessio_connect.testing import RecordingContext, wait_until
from assessio_connect_workday import WorkdayConfig
from assessio_connect_workday.fake import FakeWorkday

__all__ = [
    "CLIENT_SECRET",
    "GENERAL",
    "ISU_PASSWORD",
    "LEADERSHIP",
    "NOW",
    "REFRESH_TOKEN",
    "SECRETS",
    "Clock",
    "Context",
    "FlakyState",
    "World",
    "make_config",
    "pushback",
    "wait_until",
    "world",
]


NOW = 1_700_000_000.0
CLIENT_SECRET = "wd-client-secret-5a5a5a"
REFRESH_TOKEN = "wd-refresh-token-7b7b7b7b"
ISU_PASSWORD = "wd-isu-password-9c9c9c"
GENERAL = DEFAULT_LENSES[0]  # "General Performance"
LEADERSHIP = DEFAULT_LENSES[1]
SECRETS = {
    "provider_key": "pk-acme-wd-1234",
    "integrator_secret": "acme-wd-integrator-5678",
    "result_key": "acme-wd-result-9012",
    "client_secret": CLIENT_SECRET,
    "refresh_token": REFRESH_TOKEN,
}


@attrs.define
class Clock:
    """A settable clock shared by the fake Workday and the connector."""

    now: float = NOW

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def pushback(
    application_id: str,
    *,
    version: int = 1,
    score: int | None = 71,
    lens_id: str = GENERAL.id,
    metadata: dict[str, str] | None = None,
    result_id: str | None = None,
) -> Pushback:
    """A result version for the order of `application_id`, as the daemon hands it over; the
    report link holds characters XML must escape."""
    recorder = RecordingContext("acme", clock=lambda: NOW)
    try:
        order = recorder.invite(
            Invitation(
                application_id,
                AtsJob("JOB_REQUISITION-1", "Software Engineer"),
                AtsCandidate("CANDIDATE-1", "ada@example.com"),
                lens=lens_id,
                metadata=metadata or {},
            )
        )
    finally:
        recorder.close()
    result_id = result_id or f"result-of-{application_id}"
    order = attrs.evolve(
        order, result_id=result_id, order=attrs.evolve(order.order, result_id=result_id)
    )
    result = Result(
        result_id=result_id,
        score=score,
        subscores={"Driving Results": 80},
        recruitment_url="https://assessio.example/r/1",
        assessment_report_url="https://assessio.example/report/1?a=1&b=<2>",
    )
    return Pushback(order=order, result=result, version=version, attempt=1)


class FlakyState(MemoryState):
    """A connector's state in memory whose next `fail_writes[key] = n` writes of `key` fail,
    as an unreachable store's do."""

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__(owner="replica-1", clock=clock)
        self.fail_writes: dict[str, int] = {}

    def _put(self, key: str, value: str, expect_version: int | None) -> StateEntry | None:
        if self.fail_writes.get(key, 0) > 0:
            self.fail_writes[key] -= 1
            raise StoreError("the store is unavailable")
        return super()._put(key, value, expect_version)


class Context:
    """A `ConnectorContext` for tenant "acme" that records log lines; `state` is in memory
    (pass one to share it, as two replicas or a restarted daemon share the store's),
    `latest_result` answers from `results`, and `assessio_config` raises `config_error` when
    it is set. Invitations go to a `RecordingContext`."""

    tenant = "acme"

    def __init__(
        self, transport: Transport, clock: Clock, *, state: ConnectorState | None = None
    ) -> None:
        self.transport = transport
        self.clock = clock
        self.state: ConnectorState = (
            state if state is not None else MemoryState(owner="replica-1", clock=clock)
        )
        self.logs: list[tuple[str, dict[str, Any]]] = []
        self.config_error: Exception | None = None
        self.results: dict[str, ResultRecord] = {}
        self._recorder = RecordingContext(self.tenant, transport=transport, clock=clock)

    def now(self) -> float:
        return self.clock()

    def log(self, event: str, **fields: Any) -> None:
        self.logs.append((event, fields))

    def events(self, name: str) -> list[dict[str, Any]]:
        return [fields for event, fields in self.logs if event == name]

    def invite(self, invitation: Invitation) -> Any:
        return self._recorder.invite(invitation)

    def enqueue(self, key: str, payload: bytes, *, headers: Any = None) -> bool:
        return self._recorder.enqueue(key, payload, headers=headers)

    def find_order(self, application_id: str) -> Any:
        return self._recorder.find_order(application_id)

    def latest_result(self, result_id: str) -> Any:
        return self.results.get(result_id)

    def assessio_config(self) -> AssessioConfig:
        if self.config_error is not None:
            raise self.config_error
        return AssessioConfig([GENERAL.lens, LEADERSHIP.lens], ["en-GB"])


def make_config(fake: FakeWorkday, **options: Any) -> WorkdayConfig:
    """A configuration for `fake` (OAuth unless `auth="isu"`), overridable per key."""
    values: dict[str, Any] = {
        "base_url": fake.url,
        "tenant": fake.tenant,
        "report": fake.report,
        "client_id": fake.client_id,
        "client_secret": Secret("env:WD_CLIENT_SECRET", fake.client_secret),
        "refresh_token": Secret("env:WD_REFRESH", fake.refresh_token),
        "status_completed": "ASSESSIO_COMPLETED",
        "status_in_progress": "ASSESSIO_IN_PROGRESS",
        "tests": {"General Performance": "ASSESSIO_GENERAL_PERFORMANCE"},
        "look_back": 300.0,
        "page_size": 100,
    }
    if options.get("auth") == "isu":
        for key in ("client_id", "client_secret", "refresh_token"):
            values.pop(key)
        values["username"] = "ISU_Assessio"
        values["password"] = Secret("env:WD_ISU_PASSWORD", ISU_PASSWORD)
    values.update(options)
    return WorkdayConfig(**values)


# -- the daemon world ---------------------------------------------------------------------


@attrs.define
class World:
    """The emulator, a fake Workday and the plugins; `start_daemon()` runs the daemon."""

    tmp: Path
    sandbox: Sandbox
    workday: FakeWorkday
    plugins: Plugins
    daemons: list[Daemon] = attrs.Factory(list)

    def secret(self, name: str) -> str:
        path = self.tmp / "secrets" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(SECRETS[name] + "\n")
        return f'{{ file = "secrets/{name}" }}'

    def config_text(self, **ats: Any) -> str:
        extra = "".join(f"{key} = {_toml(value)}\n" for key, value in ats.items())
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
provider_key = {self.secret("provider_key")}
integrator_secret = {self.secret("integrator_secret")}

[tenants.acme.webhook]
api_keys = [{self.secret("result_key")}]

[tenants.acme.assessment]
lens = "General Performance"
locale = "en-GB"

[tenants.acme.ats]
kind = "workday"
base_url = "{self.workday.url}"
tenant = "{self.workday.tenant}"
report = "{self.workday.report}"
client_id = "{self.workday.client_id}"
client_secret = {self.secret("client_secret")}
refresh_token = {self.secret("refresh_token")}
status_completed = "ASSESSIO_COMPLETED"
poll_interval = 0.05
{extra}
[tenants.acme.ats.tests]
"General Performance" = "ASSESSIO_GENERAL_PERFORMANCE"
"""

    def write_config(self, **ats: Any) -> Path:
        path = self.tmp / "assessio-connect.toml"
        path.write_text(self.config_text(**ats))
        return path

    def start_daemon(self, **ats: Any) -> Daemon:
        config = load_daemon_config(self.plugins, self.write_config(**ats))
        daemon = Daemon(config, self.plugins).start()
        self.daemons.append(daemon)
        return daemon

    def wait_for_orders(self, count: int, timeout: float = 10.0) -> list[ReceivedOrder]:
        def enough() -> list[ReceivedOrder] | None:
            orders = self.sandbox.orders()
            return orders if len(orders) >= count else None

        return wait_until(enough, timeout, what=f"{count} order(s) at the emulator")


def _toml(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


@contextmanager
def world(tmp: Path, **workday: Any) -> Iterator[World]:
    """Start the emulator and a fake Workday; stop them (and any daemon) afterwards."""
    organisation = Organisation(
        provider_key=SECRETS["provider_key"],
        integrator_secret=SECRETS["integrator_secret"],
        result_api_key=SECRETS["result_key"],
    )
    workday.setdefault("client_secret", CLIENT_SECRET)
    workday.setdefault("refresh_token", REFRESH_TOKEN)
    schedule = DeliverySchedule(first_retry=0.05, max_interval=0.2, horizon=60.0)
    with (
        Sandbox([organisation], delivery=schedule) as sandbox,
        FakeWorkday(**workday) as fake,
    ):
        built = World(tmp, sandbox, fake, load_plugins())
        try:
            yield built
        finally:
            for daemon in built.daemons:
                daemon.stop()
