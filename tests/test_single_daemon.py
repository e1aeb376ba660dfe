"""One daemon per SQLite file: a second `assessio-connect run` on the same store exits 1 naming
the file and the holder's pid, operator commands still work beside the running one, and no
start-up ever releases a lease that has not expired."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assessio_connect.runtime._logging import EventLog
from assessio_connect.runtime.daemon import Daemon
from assessio_connect.store import DeliveryState
from daemon_harness import DaemonProcess, Harness, free_port, harness, wait_until
from store_contract import new_order, payload

CLI = [sys.executable, "-m", "assessio_connect"]
JOB = {"id": "job-7", "title": "Backend Engineer"}
TIMEOUT = 30.0


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Harness]:
    with harness(tmp_path) as built:
        yield built


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSESSIO_")}
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [*CLI, *args], capture_output=True, text=True, env=env, timeout=TIMEOUT, check=False
    )


def test_a_second_daemon_on_the_same_file_exits_1_naming_the_file_and_the_holder(
    world: Harness,
) -> None:
    config = world.write_config(port=free_port())
    store_path = world.tmp / "state.db"
    first = DaemonProcess(config)
    try:
        first.wait_for_event("daemon.started")
        # Same configuration, so also the same port: the store is refused before the port.
        second = run_cli("run", "--config", str(config))
        assert second.returncode == 1
        assert second.stdout == ""
        lines = second.stderr.splitlines()
        assert len(lines) == 1, second.stderr
        assert lines[0].startswith("error: ")
        assert str(store_path) in lines[0]
        assert f"pid {first.proc.pid}" in lines[0]
        # Read-only operator commands work beside the running daemon.
        listed = run_cli("orders", "list", "--config", str(config), "--json")
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.strip() == "[]"
        deliveries = run_cli("deliveries", "list", "--config", str(config))
        assert deliveries.returncode == 0, deliveries.stderr
        assert first.proc.poll() is None  # the running daemon was not disturbed
        assert first.terminate() == 0
    finally:
        if first.proc.poll() is None:
            first.kill9()


def test_the_lock_dies_with_its_holder(world: Harness) -> None:
    config = world.write_config(port=0)
    first = DaemonProcess(config)
    try:
        first.wait_for_event("daemon.started")
    finally:
        first.kill9()  # no chance to clean up: the operating system drops the lock
    again = DaemonProcess(config)
    try:
        again.wait_for_event("daemon.started")
        assert again.terminate() == 0
    finally:
        if again.proc.poll() is None:
            again.kill9()


def test_start_up_releases_expired_leases_only(world: Harness) -> None:
    config = world.load()
    store = world.plugins.open_store(config.store_url)
    store.migrate()
    now = time.time()
    leases = {
        "r-dead": ("crashed-process", now - 3600, 60.0),
        "r-live": ("other", now - 3590, 7200.0),
    }
    claimed = {}
    for result_id, (owner, at, lease) in leases.items():
        world.acme_ats.add_invitation(
            f"app-{result_id}", job=JOB, candidate={"id": result_id, "email": "c@acme.example"}
        )
        store.add_order(new_order(result_id, tenant="acme"), now=at)
        store.order_sent("acme", result_id, "reference", now=at)
        store.record_result("acme", result_id, payload(result_id), now=at)
        [claimed[result_id]] = store.claim_deliveries(owner=owner, now=at, lease=lease, limit=1)
    dead, live = claimed["r-dead"], claimed["r-live"]
    assert live.lease_expires_at is not None
    assert live.lease_expires_at > now  # a replica still pushing it
    store.close()
    log = io.StringIO()
    daemon = Daemon(config, world.plugins, log=EventLog(log, format="json")).start()
    try:

        def written_back() -> bool:
            states = {d.id: d.state for d in daemon.store.list_deliveries()}
            return states[dead.id] is DeliveryState.DELIVERED

        wait_until(written_back, TIMEOUT, what="the expired lease's delivery written back")
        still = next(d for d in daemon.store.list_deliveries() if d.id == live.id)
        assert (still.state, still.lease_owner) == (DeliveryState.IN_FLIGHT, "other")
        assert len(world.acme_ats.writes) == 1  # the live lease's delivery was not pushed
    finally:
        daemon.stop()
    assert '"event": "deliveries.recovered", "count": 1' in log.getvalue()


def test_run_is_refused_while_an_in_process_daemon_holds_the_file(world: Harness) -> None:
    daemon = Daemon(world.load(), world.plugins, log=EventLog(io.StringIO())).start()
    try:
        refused = run_cli("run", "--config", str(world.write_config(port=0)))
    finally:
        daemon.stop()
    assert refused.returncode == 1
    assert f"pid {os.getpid()}" in refused.stderr
