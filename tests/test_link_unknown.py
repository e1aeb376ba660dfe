"""A link order whose link was lost is never recorded as sent: after a crash between Assessio
accepting it and the daemon committing the answer, the resend is answered 409 and the order
becomes `link_unknown`: listed, logged at warning and announced to the observers."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from assessio_connect import hookimpl, load_plugins
from assessio_connect.runtime._logging import EventLog
from assessio_connect.runtime.daemon import Daemon
from assessio_connect.store import OrderRecord, OrderState
from assessio_connect.tools.cli import cli
from daemon_harness import Harness, harness, wait_until

LINK_PATH = "/recruitment/v1/assessment-link-order"


class Observer:
    """Records what `assessio_order_sent` is told."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, OrderState, str | None]] = []

    @hookimpl
    def assessio_order_sent(self, tenant: str, order: OrderRecord) -> None:
        self.sent.append((tenant, order.state, order.reference))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Harness]:
    with harness(tmp_path) as built:
        yield built


def cli_output(*args: str) -> str:
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("ASSESSIO_")}
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_resent_link_order_answered_409_is_link_unknown_not_sent(world: Harness) -> None:
    observer = Observer()
    plugins = load_plugins(entry_points=False, extra=[("observer", observer)])
    config = world.load()
    world.globex_ats.add_invitation(
        "globex-app-0",
        job={"id": "job-7", "title": "Backend Engineer"},
        candidate={"id": "cand-0", "email": "cand0@globex.example"},
    )
    daemon = Daemon(config, plugins, log=EventLog(io.StringIO())).start()
    try:
        [accepted] = world.wait_for_orders(1)
        wait_until(
            lambda: [o.state for o in daemon.store.list_orders()] == [OrderState.SENT],
            what="the link order recorded as sent",
        )
    finally:
        daemon.stop()
    result_id = accepted.order.result_id
    # As if the daemon had died after Assessio accepted the order and before it committed the
    # answer: the order is still pending, without its link.
    with sqlite3.connect(world.tmp / "state.db") as raw:
        raw.execute(
            "UPDATE orders SET state = 'pending', reference = NULL, next_attempt_at = ?",
            (time.time(),),
        )
    raw.close()
    observer.sent.clear()
    # Assessio answers the resend 409: the candidate is already in the recruitment.
    world.sandbox.faults.api_errors(409, path=LINK_PATH)
    log = io.StringIO()
    restarted = Daemon(config, plugins, log=EventLog(log, format="json")).start()
    try:
        wait_until(
            lambda: [o.state for o in restarted.store.list_orders()] == [OrderState.LINK_UNKNOWN],
            what="the resent order recorded as link_unknown",
        )
        [order] = restarted.store.list_orders()
    finally:
        restarted.stop()
    assert order.reference is None
    assert order.last_error is not None
    assert "409" in order.last_error
    assert "Assessio Platform" in order.last_error
    assert observer.sent == [("globex", OrderState.LINK_UNKNOWN, None)]
    events = [json.loads(line) for line in log.getvalue().splitlines()]
    [warning] = [e for e in events if e["event"] == "order.link_unknown"]
    assert (warning["level"], warning["tenant"], warning["result_id"]) == (
        "warning",
        "globex",
        result_id,
    )
    assert not [e for e in events if e["event"] == "order.sent"]
    config_path = str(world.tmp / "assessio-connect.toml")
    [listed] = json.loads(cli_output("orders", "list", "--config", config_path, "--json"))
    assert (listed["result_id"], listed["state"], listed["reference"]) == (
        result_id,
        "link_unknown",
        None,
    )
    table = cli_output("orders", "list", "--config", config_path, "--state", "link_unknown")
    assert result_id in table
    assert "link_unknown" in table
