"""`assessio-connect run` as a real process with a push connector on the inbound queue (issue
12): killed with SIGKILL after it accepted an event and while its handler waits for the ATS,
the next daemon handles the event; nothing acknowledged is lost, and the repeated delivery of
the same event id is stored once. The connector is found as an installed plugin would be."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import urllib3

from assessio_connect.sandbox import Sandbox
from daemon_harness import DaemonProcess, free_port, wait_until
from inbound_world import (
    INTEGRATOR_SECRET,
    PROVIDER_KEY,
    SIGNATURE_TOKEN,
    TRIGGER,
    GatedLever,
    config_text,
    install_entry_point,
    organisation,
)

TESTS = Path(__file__).resolve().parent
LEASE = 1.0
"""The daemon's lease: how long a killed daemon's claim keeps its event from the next one."""


@pytest.fixture
def plugin_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The queued Lever connector installed for the daemon processes the test starts."""
    site = install_entry_point(tmp_path / "site")
    monkeypatch.setenv("PYTHONPATH", f"{site}:{TESTS}")


def _post(http: urllib3.PoolManager, url: str, body: bytes) -> tuple[int, dict[str, str]]:
    response = http.request(
        "POST", url, body=body, headers={"Content-Type": "application/json"}, timeout=5.0
    )
    return response.status, json.loads(response.data)


def _events(config: Path) -> list[dict[str, object]]:
    """`assessio-connect events list --json`, as an operator runs it."""
    command = [sys.executable, "-m", "assessio_connect", "events", "list", "--json"]
    listed = subprocess.run(  # noqa: S603 - our own interpreter and module
        [*command, "--config", str(config)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    events: list[dict[str, object]] = json.loads(listed.stdout)
    return events


@pytest.mark.usefixtures("plugin_path")
def test_kill_9_between_accept_and_handling_loses_nothing(tmp_path: Path) -> None:
    port = free_port()
    with Sandbox([organisation()]) as sandbox, GatedLever() as lever:
        config = tmp_path / "assessio-connect.toml"
        config.write_text(
            config_text(
                tmp_path, assessio_url=sandbox.url, lever_url=lever.url, port=port, lease=LEASE
            )
        )
        url = f"http://127.0.0.1:{port}/connectors/acme/webhook"
        opportunity = lever.add_candidate(name="Ada", email="ada@example.com", job_title="QA")
        body = lever.stage_change(opportunity, TRIGGER).body
        http = urllib3.PoolManager(retries=False)
        first = DaemonProcess(config)
        second: DaemonProcess | None = None
        try:
            first.wait_for_event("daemon.started")
            lever.hold()
            assert _post(http, url, body) == (202, {"status": "accepted"})
            assert lever.held.wait(20), "the handler is waiting for Lever"
            first.kill9()  # accepted, not handled: only the store remembers it
            lever.release()
            assert sandbox.orders() == []

            second = DaemonProcess(config)
            second.wait_for_event("daemon.started")
            [order] = wait_until(sandbox.orders, timeout=20, what="the order from the new daemon")
            assert order.order.candidate_details.email == "ada@example.com"
            assert _post(http, url, body) == (202, {"status": "duplicate"})
            assert second.terminate() == 0
            second = None
        finally:
            http.clear()
            lever.release()
            for process in (first, second):
                if process is not None and process.proc.poll() is None:
                    process.kill9()
        [event] = _events(config)
        assert (event["state"], event["attempts"], event["key"]) == (
            "done",
            2,
            json.loads(body)["id"],
        )
        assert len(sandbox.orders()) == 1
    output = "".join(first.lines)
    for secret in (PROVIDER_KEY, INTEGRATOR_SECRET, SIGNATURE_TOKEN):
        assert secret not in output
