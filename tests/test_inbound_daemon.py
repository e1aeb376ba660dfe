"""The inbound queue through a real daemon over HTTP (issue 12): a push connector answers its
ATS 202 at once while the callback it makes to the ATS is held or fails, handles the event in
the background with retries, and a repeated event id is stored and handled once."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import urllib3

import inbound_world
from assessio_connect import Daemon, load_daemon_config, load_plugins
from assessio_connect.sandbox import Sandbox
from assessio_connect.store import InboundRecord, InboundState
from assessio_connect.testing import wait_until
from inbound_world import TRIGGER, GatedLever, config_text, organisation

# Source: Lever's API documentation, "Receiving webhooks" → "Example delivery"
# (https://hire.lever.co/developer/documentation), verbatim: not valid JSON as published.
DOCUMENTED_STAGE_CHANGE = b"""{
  "triggeredAt": 1431454330072,
  "event": "candidateStageChange",
  "data": {
    "opportunityId": "3410c8b9-5c31-4bab-b7e9-9f710206d647",
    "candidateId": "daeaa038-cddb-4d69-9b8c-74b6c23be3f3",
    "contactId": "05c248f9-ccb1-435f-bab5-0ec608aec263",
    "toStageId": "7c2690d8-6308-4ed9-ae2a-cbfe7db26593"
    "fromStageId": "992f01a9-ee19-41d2-ae79-1040701b195c",
  },
  "signature": "28e3fbb90ce869c3695c4a9559ff43eae998389a48b42c509d1adbeea0897c16",
  "token": "be58f711f349c7780e4579cd7c63341ac6f881e4dccc3154"
}"""
# Source: the same page, "Integrations webhooks settings": the test POST Lever sends, verbatim
# (its signature is masked, not hex: it verifies under no token).
DOCUMENTED_TEST_REQUEST = b"""{
 "triggeredAt": 1431458021951,
 "event": "candidateHired",
 "data": {},
 "signature": "m3e73080553bcbf65f66c90b6m4ac0mb664c6am763efb1899653808864456b36",
 "token": "657fd5a0759c87d35660b096dbc388d1d31058869f08ce3f"
}"""
READ_TIMEOUT = 5.0
"""The ATS's patience in these tests: far above a 202 from the queue, far below a held read."""


@attrs.define
class World:
    daemon: Daemon
    lever: GatedLever
    sandbox: Sandbox
    logs: list[tuple[str, dict[str, Any]]]
    http: urllib3.PoolManager

    def webhook(self, body: bytes) -> tuple[int, dict[str, Any], float]:
        """POST a Lever delivery to the tenant's route: status, JSON answer, seconds taken."""
        began = time.monotonic()
        response = self.http.request(
            "POST",
            f"{self.daemon.url}/connectors/acme/webhook",
            body=body,
            headers={"Content-Type": "application/json", "User-Agent": "Lever-Webhooks"},
        )
        return response.status, json.loads(response.data), time.monotonic() - began

    def stage_change(self, name: str = "Ada") -> tuple[str, bytes]:
        opportunity = self.lever.add_candidate(
            name=name, email=f"{name.lower()}@example.com", job_title="Engineer"
        )
        return opportunity, self.lever.stage_change(opportunity, TRIGGER).body

    def events(self) -> list[InboundRecord]:
        return list(self.daemon.store.list_events(limit=None))

    def logged(self, name: str) -> list[dict[str, Any]]:
        return [fields for event, fields in list(self.logs) if event == name]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    logs: list[tuple[str, dict[str, Any]]] = []

    def log(event: str, /, **fields: Any) -> None:
        logs.append((event, fields))

    plugins = load_plugins(entry_points=False, extra=[("queuedlever", inbound_world)])
    with Sandbox([organisation()]) as sandbox, GatedLever() as lever:
        path = tmp_path / "assessio-connect.toml"
        path.write_text(config_text(tmp_path, assessio_url=sandbox.url, lever_url=lever.url))
        config = load_daemon_config(plugins, path)
        config = attrs.evolve(config, store_url=f"sqlite:///{tmp_path / 'state.db'}")
        daemon = Daemon(config, plugins, log=log).start()
        http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(5.0, READ_TIMEOUT))
        try:
            yield World(daemon, lever, sandbox, logs, http)
        finally:
            lever.release()
            http.clear()
            daemon.stop()


def test_the_ats_is_answered_at_once_while_its_callback_is_held(world: World) -> None:
    world.lever.hold()
    opportunity, body = world.stage_change()
    status, answer, _ = world.webhook(body)
    assert (status, answer) == (202, {"status": "accepted"})
    assert world.lever.held.wait(READ_TIMEOUT), "the worker calls Lever back in the background"
    [event] = world.events()
    assert (event.tenant, event.key) == ("acme", json.loads(body)["id"])
    assert event.payload == body, "the body is kept exactly as Lever sent it"
    assert event.state is InboundState.IN_FLIGHT
    assert world.sandbox.orders() == [], "nothing is ordered before Lever answered"

    world.lever.release()
    [order] = wait_until(world.sandbox.orders, what="the order at the emulator")
    assert order.order.candidate_details.email == "ada@example.com"
    done = wait_until(
        lambda: [e for e in world.events() if e.state is InboundState.DONE],
        what="the event marked done",
    )
    assert (done[0].attempts, done[0].last_error) == (1, None)
    [recorded] = world.daemon.store.list_orders()
    assert recorded.application_id == opportunity


def test_a_failing_callback_is_retried_and_the_answer_never_waits_for_it(world: World) -> None:
    world.lever.fail_reads(2)
    _, body = world.stage_change()
    status, answer, _ = world.webhook(body)
    assert (status, answer["status"]) == (202, "accepted")
    wait_until(world.sandbox.orders, what="the order, after two refused reads")
    assert world.lever.reads == 3
    [event] = wait_until(
        lambda: [e for e in world.events() if e.state is InboundState.DONE],
        what="the event marked done",
    )
    assert event.attempts == 3
    retries = world.logged("event.retry")
    assert [fields["attempts"] for fields in retries] == [1, 2]
    assert all("503" in str(fields["error"]) for fields in retries)


def test_a_repeated_event_id_is_stored_and_handled_once(world: World) -> None:
    _, body = world.stage_change()
    first = world.webhook(body)
    again = world.webhook(body)  # Lever retries a delivery it thinks failed
    assert (first[0], first[1]) == (202, {"status": "accepted"})
    assert (again[0], again[1]) == (202, {"status": "duplicate"})
    wait_until(world.sandbox.orders, what="the order")
    wait_until(
        lambda: all(e.state is InboundState.DONE for e in world.events()),
        what="the event handled",
    )
    assert len(world.events()) == 1
    assert len(world.sandbox.orders()) == 1
    assert len(world.logged("event.duplicate")) == 1


def test_a_permanent_failure_dead_letters_and_the_operator_can_retry(world: World) -> None:
    opportunity, body = world.stage_change()
    with world.lever._lock:  # Lever lost the opportunity: 404, a PermanentError
        removed = world.lever.opportunities.pop(opportunity)
    assert world.webhook(body)[0] == 202
    [dead] = wait_until(
        lambda: [e for e in world.events() if e.state is InboundState.DEAD],
        what="the event dead-lettered",
    )
    assert dead.attempts == 1
    assert dead.last_error is not None
    assert "404" in dead.last_error
    assert inbound_world.API_KEY not in dead.last_error
    with world.lever._lock:
        world.lever.opportunities[opportunity] = removed
    assert world.daemon.store.requeue_events(dead=True, now=time.time()) == 1
    world.daemon.inbound.notify()
    wait_until(world.sandbox.orders, what="the order after the operator's retry")


def test_a_bad_signature_is_refused_and_nothing_is_queued(world: World) -> None:
    _, body = world.stage_change()
    event = json.loads(body)
    event["token"] = event["token"][::-1]
    status, _, _ = world.webhook(json.dumps(event).encode())
    assert status == 401
    missing = dict(event, id="")
    missing["token"] = json.loads(body)["token"]
    assert world.events() == []
    status, answer, _ = world.webhook(json.dumps(missing).encode())
    assert status == 422, answer
    assert world.events() == []


def test_levers_documented_deliveries_are_refused_and_queue_nothing(world: World) -> None:
    status, answer, _ = world.webhook(DOCUMENTED_STAGE_CHANGE)
    assert (status, "not valid JSON" in answer["error"]) == (400, True)
    status, answer, _ = world.webhook(DOCUMENTED_TEST_REQUEST)
    assert status == 401, answer
    assert world.events() == []
