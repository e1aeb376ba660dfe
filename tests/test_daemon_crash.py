"""`assessio-connect run` as a real process: kill -9 it while results arrive and deliveries are
in flight, start it again, and every acknowledged result still reaches the ATS; SIGTERM exits 0."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from daemon_harness import SECRETS, Harness, free_port, harness, wait_until

JOB = {"id": "job-42", "title": "Data Analyst"}
COUNT = 10
RUN = [sys.executable, "-m", "assessio_connect", "run"]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Harness]:
    with harness(tmp_path) as built:
        yield built


class DaemonProcess:
    """`python -m assessio_connect run` with its JSON log lines collected from stdout."""

    def __init__(self, config: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ASSESSIO_")}
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [*RUN, "--config", str(config), "--log-format", "json"],
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
        code = self.proc.wait(timeout=20)
        self._close()
        return code

    def _close(self) -> None:
        self._reader.join(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


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
