"""`assessio-connect run` as a real process: kill -9 it while results arrive and deliveries are
in flight, start it again, and every acknowledged result still reaches the ATS; SIGTERM exits 0."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon_harness import SECRETS, DaemonProcess, Harness, free_port, harness, wait_until

JOB = {"id": "job-42", "title": "Data Analyst"}
COUNT = 10


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Harness]:
    with harness(tmp_path) as built:
        yield built


def test_kill_9_while_results_arrive_loses_nothing(world: Harness) -> None:
    port = free_port()
    config = world.write_config(port=port)
    first = DaemonProcess(config)
    second: DaemonProcess | None = None
    try:
        first.wait_for_event("daemon.started")
        url = f"http://127.0.0.1:{port}"
        for n in range(COUNT):
            candidate = {"id": f"c{n}", "email": f"c{n}@acme.example"}
            body = world.acme_ats.add_invitation(f"acme-{n}", job=JOB, candidate=candidate)
            assert world.acme_ats.push_event(f"{url}/connectors/acme/events", body) == 202
            world.globex_ats.add_invitation(
                f"globex-{n}", job=JOB, candidate={"id": f"g{n}", "email": f"g{n}@globex.example"}
            )
        orders = world.wait_for_orders(2 * COUNT, timeout=20)
        # Keep deliveries in the outbox: the ATSs refuse the first writes.
        world.acme_ats.fail_next(COUNT // 2, status=503)
        world.globex_ats.fail_next(COUNT // 2, status=503)
        for order in orders:
            world.sandbox.complete(order.order.result_id, provider_key=order.provider_key)
        wait_until(
            lambda: sum(1 for a in world.sandbox.deliveries() if a.outcome == "delivered") >= 5,
            what="some results acknowledged",
        )
        first.kill9()
        acknowledged = {a.result_id for a in world.sandbox.deliveries() if a.outcome == "delivered"}
        assert acknowledged

        second = DaemonProcess(config)
        second.wait_for_event("daemon.started")

        def everything_written() -> bool:
            return len(world.acme_ats.results) == COUNT and len(world.globex_ats.results) == COUNT

        wait_until(everything_written, timeout=30, what="every result in the ATSs")
        written = {
            body["result_id"]
            for ats in (world.acme_ats, world.globex_ats)
            for body in ats.results.values()
        }
        assert acknowledged <= written
        assert written == {o.order.result_id for o in orders}
        assert second.terminate() == 0
        second = None
    finally:
        for process in (first, second):
            if process is not None and process.proc.poll() is None:
                process.kill9()
    output = "".join(first.lines)
    for secret in SECRETS.values():
        assert secret not in output
