"""Reloading the configuration of a running daemon: SIGHUP to the real `assessio-connect run`
adds, removes and changes tenants without a restart and refuses a broken file (the old tenants
keep working); in process, work in progress on a replaced tenant finishes first and a removed
tenant's work waits in the store, untouched, until the tenant comes back."""

from __future__ import annotations

import io
import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import urllib3

from assessio_connect import Connector, Pushback, hookimpl
from assessio_connect.contract.errors import ConfigError
from assessio_connect.contract.signing import sign
from assessio_connect.reference import ReferenceConnector
from assessio_connect.runtime._logging import EventLog
from assessio_connect.runtime._reload import plan_reload
from assessio_connect.runtime.config import DaemonConfig, load_daemon_config
from assessio_connect.runtime.daemon import Daemon
from assessio_connect.runtime.plugins import Plugins, load_plugins
from assessio_connect.store import DeliveryState, OrderState
from daemon_harness import SECRETS, DaemonProcess, Harness, free_port, harness, wait_until

JOB = {"id": "job-9", "title": "Support Engineer"}
CONSOLE_SCRIPT = [str(Path(sys.executable).with_name("assessio-connect")), "run"]
GLOBEX = "\n[tenants.globex]\n"
HTTP = urllib3.PoolManager(retries=False, timeout=10.0)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Harness]:
    with harness(tmp_path) as built:
        yield built


def sections(world: Harness, **options: Any) -> tuple[str, str, str]:
    """The harness configuration as (server/store/delivery, acme's tables, globex's tables)."""
    text = world.config_text(**options)
    before, _, globex = text.partition(GLOBEX)
    head, marker, acme = before.partition("\n[tenants.acme]\n")
    return head, marker + acme, GLOBEX + globex


def write(world: Harness, *parts: str) -> Path:
    path = world.tmp / "assessio-connect.toml"
    path.write_text("".join(parts))
    return path


def candidate(name: str, tenant: str) -> dict[str, str]:
    return {"id": f"cand-{name}", "email": f"{name}@{tenant}.example"}


def post_result(url: str, tenant: str, result_id: str) -> int:
    """POST a result with the tenant's credentials, as Assessio does; returns the status."""
    body = json.dumps({"resultId": result_id, "score": 50}).encode()
    headers = {
        "Content-Type": "application/json",
        "integrator-api-key": SECRETS[f"{tenant}_result_key"],
    }
    signing = SECRETS.get(f"{tenant}_result_signing")
    if signing is not None:
        headers["Signature"] = sign(signing, body, int(time.time()))
    response = HTTP.request(
        "POST", f"{url}/results/{tenant}/{result_id}", body=body, headers=headers
    )
    return response.status


def complete_and_wait_for_write(world: Harness, application_id: str, ats: Any) -> None:
    """Complete the candidate's assessment at the emulator; wait for the result in the ATS."""

    def ordered() -> Any:
        for order in world.sandbox.orders():
            if order.order.candidate_details.email.startswith(f"{application_id}@"):
                return order
        return None

    order = wait_until(ordered, timeout=20, what=f"the order of {application_id}")
    world.sandbox.complete(order.order.result_id, provider_key=order.provider_key)
    wait_until(
        lambda: ats.results.get(application_id, {}).get("result_id") == order.order.result_id,
        timeout=20,
        what=f"the result of {application_id} in its ATS",
    )


# -- what a reload changes ----------------------------------------------------------------------


def test_plan_names_added_removed_changed_tenants_and_settings_that_need_a_restart(
    world: Harness,
) -> None:
    head, acme, globex = sections(world)
    running = load_daemon_config(world.plugins, write(world, head, acme, globex))
    changed_acme = acme.replace('locale = "en-GB"', 'locale = "sv-SE"')
    moved = (
        head.replace('listen = "127.0.0.1:0"', 'listen = "127.0.0.1:9"')
        .replace("workers = 2", "workers = 3")
        .replace("sqlite:///state.db", "sqlite:///elsewhere.db")
    )
    wanted = load_daemon_config(world.plugins, write(world, moved, changed_acme))
    plan = plan_reload(running, wanted)
    assert plan.added == ()
    assert plan.removed == ("globex",)
    assert plan.changed == ("acme",)
    assert plan.needs_restart == ("$.server.listen", "$.store.url", "$.delivery.workers")
    same = load_daemon_config(world.plugins, write(world, head, acme, globex))
    assert plan_reload(running, same).kept == ("acme", "globex")
    # A secret whose value changed behind the same reference changes the tenant.
    (world.tmp / "secrets" / "acme_result_key").write_text("acme-result-key-ROTATED\n")
    rotated = load_daemon_config(world.plugins, world.tmp / "assessio-connect.toml")
    assert plan_reload(running, rotated).changed == ("acme",)


# -- in process -----------------------------------------------------------------------------------


class HeldConnector(ReferenceConnector):
    """The reference connector, whose pushes wait for the test to let them through."""

    kind: ClassVar[str] = "held"
    release: ClassVar[threading.Event]
    pushing: ClassVar[threading.Event]
    closed: ClassVar[list[HeldConnector]]

    def push_result(self, pushback: Pushback) -> None:
        type(self).pushing.set()
        assert type(self).release.wait(20), "the test never released the push"
        super().push_result(pushback)

    def close(self) -> None:
        type(self).closed.append(self)
        super().close()


class PickyConnector(ReferenceConnector):
    """The reference connector, refusing to start on a page size of 13 (as a connector may
    refuse settings its Config type cannot)."""

    kind: ClassVar[str] = "picky"
    opened: ClassVar[list[PickyConnector]] = []
    closed: ClassVar[list[PickyConnector]] = []

    def __init__(self, config: Any, context: Any) -> None:
        super().__init__(config, context)
        type(self).opened.append(self)

    def wsgi_app(self) -> Any:
        if self.config.page_size == 13:
            raise ConfigError(["13 is unlucky @ ats.page_size"], source="picky")
        return super().wsgi_app()

    def close(self) -> None:
        type(self).closed.append(self)
        super().close()


class HeldPlugin:
    @hookimpl
    def assessio_register_connectors(self, register: Callable[[type[Connector]], None]) -> None:
        register(HeldConnector)
        register(PickyConnector)


@pytest.fixture
def held() -> Iterator[type[HeldConnector]]:
    HeldConnector.release = threading.Event()
    HeldConnector.pushing = threading.Event()
    HeldConnector.closed = []
    yield HeldConnector
    HeldConnector.release.set()


class Events:
    """The daemon's log as a list of (event, fields)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, event: str, /, **fields: Any) -> None:
        self.seen.append((event, fields))

    def named(self, name: str) -> list[dict[str, Any]]:
        return [fields for event, fields in self.seen if event == name]


def start(config: DaemonConfig, plugins: Plugins, log: Events | None = None) -> Daemon:
    return Daemon(config, plugins, log=log or EventLog(io.StringIO())).start()


def test_a_push_in_progress_finishes_on_the_old_connector_when_its_tenant_changes(
    world: Harness, held: type[HeldConnector]
) -> None:
    plugins = load_plugins(entry_points=False, extra=[("held", HeldPlugin())])
    head, acme, _ = sections(world)
    acme = acme.replace('kind = "reference"', 'kind = "held"')
    daemon = start(load_daemon_config(plugins, write(world, head, acme)), plugins)
    try:
        old = daemon.tenants["acme"]
        body = world.acme_ats.add_invitation("a-1", job=JOB, candidate=candidate("a-1", "acme"))
        assert world.acme_ats.push_event(f"{daemon.url}/connectors/acme/events", body) == 202
        (order,) = world.wait_for_orders(1)
        world.sandbox.complete(order.order.result_id, provider_key=order.provider_key)
        assert held.pushing.wait(20), "the delivery never started"

        changed = acme.replace('locale = "en-GB"', 'locale = "sv-SE"')
        wanted = load_daemon_config(plugins, write(world, head, changed))
        outcome: list[object] = []
        reloading = threading.Thread(target=lambda: outcome.append(daemon.reload(wanted)))
        reloading.start()
        # The new runtime serves at once; the old one is not closed under the push it runs.
        wait_until(lambda: daemon.tenants["acme"] is not old, what="the new acme runtime")
        assert daemon.tenants["acme"].config.assessment.locale == "sv-SE"
        assert old.connector not in held.closed
        assert reloading.is_alive()

        held.release.set()
        reloading.join(20)
        assert not reloading.is_alive()
        assert old.connector in held.closed
        assert daemon.tenants["acme"].connector not in held.closed
        written = world.acme_ats.results["a-1"]  # by the old connector
        assert written["result_id"] == order.order.result_id
        wait_until(
            lambda: (
                [d.state for d in daemon.store.list_deliveries(tenant="acme")]
                == [DeliveryState.DELIVERED]
            ),
            what="the delivery recorded as delivered",
        )
        plan = outcome[0]
        assert getattr(plan, "changed", None) == ("acme",)
        # The changed tenant's events route reaches the new connector.
        body = world.acme_ats.add_invitation("a-2", job=JOB, candidate=candidate("a-2", "acme"))
        assert world.acme_ats.push_event(f"{daemon.url}/connectors/acme/events", body) == 202
        assert daemon.store.find_order("acme", "a-2") is not None
    finally:
        held.release.set()
        daemon.stop()


def test_a_removed_tenant_stops_taking_work_which_waits_untouched_until_it_returns(
    world: Harness,
) -> None:
    head, acme, globex = sections(world)
    events = Events()
    daemon = start(
        load_daemon_config(world.plugins, write(world, head, acme, globex)), world.plugins, events
    )
    try:
        world.acme_ats.fail_always(503)
        body = world.acme_ats.add_invitation("a-1", job=JOB, candidate=candidate("a-1", "acme"))
        assert world.acme_ats.push_event(f"{daemon.url}/connectors/acme/events", body) == 202
        (order,) = world.wait_for_orders(1)
        result_id = order.order.result_id
        world.sandbox.complete(result_id, provider_key=order.provider_key)
        wait_until(
            lambda: events.named("delivery.retry"), what="acme's delivery failing and retrying"
        )

        daemon.reload(load_daemon_config(world.plugins, write(world, head, globex)))
        assert sorted(daemon.tenants) == ["globex"]
        assert events.named("config.reloaded")[-1]["removed"] == "acme"
        # No route, no credentials, no poller for acme any more.
        assert post_result(daemon.url, "acme", result_id) == 401
        gone = HTTP.request("POST", f"{daemon.url}/connectors/acme/events", body=b"{}")
        assert gone.status == 404
        # Its delivery waits, untouched; an order recorded for it now is not sent.
        before = daemon.store.list_deliveries(tenant="acme")
        daemon.store.add_order(
            world_order(daemon, "acme", "a-late", result_id="r-late"), now=time.time()
        )
        pushes = len(world.acme_ats.writes)
        wait_until(
            lambda: time.time() > max(d.next_attempt_at for d in before) + 0.1,
            what="acme's delivery to come due",
        )
        # Work of the remaining tenant flows past it (claims take the oldest due first).
        world.globex_ats.add_invitation("g-1", job=JOB, candidate=candidate("g-1", "globex"))
        complete_and_wait_for_write(world, "g-1", world.globex_ats)
        assert daemon.store.list_deliveries(tenant="acme") == before
        assert len(world.acme_ats.writes) == pushes
        late = daemon.store.get_order("acme", "r-late")
        assert late is not None
        assert (late.state, late.attempts) == (OrderState.PENDING, 0)

        # Configured again, its work resumes where it stood.
        world.acme_ats.heal()
        daemon.reload(load_daemon_config(world.plugins, write(world, head, acme, globex)))
        wait_until(lambda: "a-1" in world.acme_ats.results, what="acme's result delivered")
        wait_until(
            lambda: daemon.store.get_order("acme", "r-late").state is not OrderState.PENDING,  # type: ignore[union-attr]
            what="acme's waiting order sent",
        )
    finally:
        daemon.stop()


def world_order(daemon: Daemon, tenant: str, application_id: str, *, result_id: str) -> Any:
    """An order as a tenant's runtime would record it (to put into the store by hand)."""
    from assessio_connect.contract.models import AssessmentOrder, CandidateDetails, Recruitment
    from assessio_connect.store import NewOrder

    return NewOrder(
        tenant=tenant,
        application_id=application_id,
        job_id=JOB["id"],
        candidate_id=f"cand-{application_id}",
        order=AssessmentOrder(
            recruitment=Recruitment(JOB["id"], JOB["title"], ""),
            result_update_url=f"{daemon.url}/results/{tenant}/{result_id}",
            result_id=result_id,
            lens_id="7922dd91-1b44-43e4-a740-7c4d9c2fba41",
            locale="en-GB",
            candidate_details=CandidateDetails(f"{application_id}@{tenant}.example"),
        ),
    )


def test_an_added_tenant_polls_and_takes_results_and_its_secrets_are_scrubbed(
    world: Harness,
) -> None:
    head, acme, globex = sections(world)
    daemon = start(load_daemon_config(world.plugins, write(world, head, acme)), world.plugins)
    token = SECRETS["globex_ats_token"]
    try:
        assert post_result(daemon.url, "globex", "r-x") == 401
        assert token in daemon.scrub(f"echoed {token}")  # not a secret of this daemon yet
        daemon.reload(load_daemon_config(world.plugins, write(world, head, acme, globex)))
        assert [p._tenant.tenant for p in daemon.pollers] == ["globex"]
        world.globex_ats.add_invitation("g-1", job=JOB, candidate=candidate("g-1", "globex"))
        world.wait_for_orders(1)
        assert post_result(daemon.url, "globex", "r-x") == 202
        # What the runtime stores or logs as an error is scrubbed of the new tenant's secrets.
        assert token not in daemon.scrub(f"echoed {token}")
    finally:
        daemon.stop()


def test_the_event_log_learns_a_reloaded_configurations_secrets() -> None:
    stream = io.StringIO()
    log = EventLog(stream, format="json", secrets=[SECRETS["acme_ats_token"]])
    secret = SECRETS["globex_integrator_secret"]
    log("probe", message=f"echoed {secret}")
    log.learn_secrets([secret])
    log("probe", message=f"echoed {secret} and {SECRETS['acme_ats_token']}")
    first, second = stream.getvalue().splitlines()
    assert secret in first  # the line before: not known yet
    assert secret not in second
    assert SECRETS["acme_ats_token"] not in second  # none forgotten


def test_a_tenant_that_cannot_be_set_up_refuses_the_reload_and_changes_nothing(
    world: Harness, held: type[HeldConnector]
) -> None:
    head, acme, globex = sections(world)
    events = Events()
    daemon = start(
        load_daemon_config(world.plugins, write(world, head, acme)), world.plugins, events
    )
    try:
        # Loaded where the "held" kind exists, applied to a daemon that has no such connector.
        plugins = load_plugins(entry_points=False, extra=[("held", HeldPlugin())])
        wanted = load_daemon_config(
            plugins, write(world, head, acme, globex.replace('"reference"', '"held"'))
        )
        running = daemon.tenants["acme"]
        with pytest.raises(ConfigError, match=r"no connector of kind 'held' @ \$\.tenants\.globex"):
            daemon.reload(wanted)
        assert dict(daemon.tenants) == {"acme": running}
        assert daemon.pollers == []
        assert not events.named("config.reloaded")
    finally:
        daemon.stop()


def test_a_connector_refusing_its_settings_refuses_the_reload_and_closes_what_it_opened(
    world: Harness,
) -> None:
    plugins = load_plugins(entry_points=False, extra=[("held", HeldPlugin())])
    head, acme, globex = sections(world)
    acme = acme.replace('kind = "reference"', 'kind = "picky"')
    daemon = start(load_daemon_config(plugins, write(world, head, acme)), plugins)
    try:
        running = daemon.tenants["acme"]
        unlucky = acme.replace('kind = "picky"', 'kind = "picky"\npage_size = 13')
        wanted = load_daemon_config(plugins, write(world, head, unlucky, globex))
        with pytest.raises(ConfigError, match=r"13 is unlucky .* @ \$\.tenants\.acme"):
            daemon.reload(wanted)
        assert dict(daemon.tenants) == {"acme": running}
        assert daemon.pollers == []
        # The runtime built for the refused file was closed again; the running one was not.
        refused = [c for c in PickyConnector.opened if c is not running.connector]
        assert refused
        assert all(c in PickyConnector.closed for c in refused)
        assert running.connector not in PickyConnector.closed
        body = world.acme_ats.add_invitation("a-1", job=JOB, candidate=candidate("a-1", "acme"))
        assert world.acme_ats.push_event(f"{daemon.url}/connectors/acme/events", body) == 202
    finally:
        daemon.stop()


def test_settings_that_need_a_restart_are_logged_and_ignored(world: Harness) -> None:
    head, acme, _ = sections(world)
    events = Events()
    daemon = start(
        load_daemon_config(world.plugins, write(world, head, acme)), world.plugins, events
    )
    try:
        port = free_port()
        moved = head.replace('listen = "127.0.0.1:0"', f'listen = "127.0.0.1:{port}"')
        daemon.reload(load_daemon_config(world.plugins, write(world, moved, acme)))
        (restart,) = events.named("config.needs_restart")
        assert restart["path"] == "$.server.listen"
        assert daemon.config.server.port == 0  # still where it listened
        assert HTTP.request("GET", f"{daemon.url}/healthz").status == 200
    finally:
        daemon.stop()


# -- the real process -----------------------------------------------------------------------------


def hang_up(process: DaemonProcess, outcome: str) -> dict[str, object]:
    """SIGHUP the daemon and wait for the reload's outcome event; the process stays up."""
    process.proc.send_signal(signal.SIGHUP)
    event = process.wait_for_event(outcome)
    assert process.proc.poll() is None, "SIGHUP stopped the daemon"
    return event


def test_sighup_reloads_the_running_console_script(world: Harness) -> None:
    port = free_port()
    head, acme, globex = sections(world, port=port)
    config = write(world, head, acme)
    daemon = DaemonProcess(config, command=CONSOLE_SCRIPT)
    url = f"http://127.0.0.1:{port}"
    try:
        daemon.wait_for_event("daemon.started")

        # Add globex: it is polled, ordered, and its result goes through to its ATS.
        write(world, head, acme, globex)
        reloaded = hang_up(daemon, "config.reloaded")
        assert reloaded["added"] == "globex"
        assert reloaded["tenants"] == "acme,globex"
        world.globex_ats.add_invitation("g-1", job=JOB, candidate=candidate("g-1", "globex"))
        complete_and_wait_for_write(world, "g-1", world.globex_ats)

        # Remove acme: its results are refused (Assessio retries them for 36 h).
        write(world, head, globex)
        assert hang_up(daemon, "config.reloaded")["removed"] == "acme"
        assert post_result(url, "acme", "r-acme") == 401

        # A broken file is refused with every problem's path; the running tenants go on.
        write(world, head, globex.replace('kind = "reference"', 'kind = "nope"'), "\n[bogus]\n")
        daemon.proc.send_signal(signal.SIGHUP)
        problems = [daemon.wait_for_event("config.problem") for _ in range(2)]
        refused = daemon.wait_for_event("config.reload_refused")
        assert daemon.proc.poll() is None
        assert refused["tenants"] == "globex"
        paths = " ".join(str(p["problem"]) for p in problems)
        assert "@ $.tenants.globex.ats.kind" in paths
        assert "unknown table 'bogus'" in paths
        world.globex_ats.add_invitation("g-2", job=JOB, candidate=candidate("g-2", "globex"))
        complete_and_wait_for_write(world, "g-2", world.globex_ats)

        assert daemon.terminate() == 0
    finally:
        if daemon.proc.poll() is None:
            daemon.kill9()
    output = "".join(daemon.lines)
    assert '"event": "daemon.stopped"' in output
    for secret in SECRETS.values():
        assert secret not in output
