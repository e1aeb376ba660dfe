"""The inbound queue's pieces (issue 12): what `enqueue` accepts, `InboundEvent`, the kit's
`Answer.accepted`, `RecordingContext`'s queue, the inbound worker's retries over a real SQLite
store on a fixed clock (the outbox's backoff, `Retry-After`, horizon and dead letters), and
the operators' `events list` / `events retry`."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import generate_latest

from assessio_connect import Answer, InboundEvent, PayloadError, PermanentError, RetryableError
from assessio_connect.runtime._inbound import InboundWorker
from assessio_connect.runtime._metrics import DaemonMetrics
from assessio_connect.runtime._outbox import Backoff
from assessio_connect.runtime._reload import RunningTenants
from assessio_connect.runtime._sqlite_store import SQLiteStore
from assessio_connect.runtime.inbound import MAX_EVENT_KEY_LENGTH, checked_event
from assessio_connect.store import InboundState
from assessio_connect.testing import RecordingContext
from operator_cli import operated, run
from status_world import tenant_name

NOW = 1_800_000_000.0
SECRET = "lever-api-key-never-shown-3f1a"

# -- what enqueue accepts -----------------------------------------------------------------

_keys = st.text(
    alphabet=st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=80
).filter(lambda key: key.strip() != "")


@given(key=_keys, payload=st.binary(max_size=200))
def test_any_printable_key_and_bytes_are_accepted_unchanged(key: str, payload: bytes) -> None:
    assert checked_event(key, payload, {"X-Id": key}) == (key, payload, {"X-Id": key})


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("", "has no id"),
        ("   ", "has no id"),
        (None, "has no id"),
        ("a" * (MAX_EVENT_KEY_LENGTH + 1), "longer than 255"),
        ("evt\n1", "control character"),
        ("evt\x001", "control character"),
    ],
)
def test_a_key_that_cannot_identify_an_event_is_a_payload_error(key: Any, problem: str) -> None:
    with pytest.raises(PayloadError, match=problem) as caught:
        checked_event(key, b"{}", None)
    assert caught.value.what == "event"


def test_a_header_with_a_line_break_is_refused_and_wrong_types_are_bugs() -> None:
    with pytest.raises(PayloadError, match="header kept with the event"):
        checked_event("evt-1", b"{}", {"X-Id": "a\r\nInjected: 1"})
    with pytest.raises(TypeError, match="payload is bytes"):
        checked_event("evt-1", "{}", None)
    with pytest.raises(TypeError, match="headers are text"):
        checked_event("evt-1", b"{}", cast(Any, {"X-Count": 3}))
    with pytest.raises(TypeError, match="at most 32 headers"):
        checked_event("evt-1", b"{}", {f"X-{n}": "v" for n in range(33)})


# -- InboundEvent and Answer.accepted -----------------------------------------------------


def test_an_event_reads_its_headers_in_any_case_and_hides_them_and_its_payload() -> None:
    # Sources: grnhse/greenhouse-api-docs, source/includes/webhooks/_introduction.md ("Each
    # delivery will include a `Greenhouse-Event-ID` header"; `Signature: sha256 <hex>`); the
    # event id's value from prismatic.io's example Greenhouse delivery
    # (https://prismatic.io/docs/example-payloads/greenhouse/triggers/webhook.json).
    event = InboundEvent(
        "3ce5180d-9119-4ddc-9ef6-21edb6e76f8a",
        b'{"action":"ping"}',
        {"Greenhouse-Event-ID": "3ce5180d", "Signature": "sha256 c0ffee"},
    )
    assert event.header("greenhouse-event-id") == "3ce5180d"
    assert event.header("SIGNATURE") == "sha256 c0ffee"
    assert event.header("Content-Type") is None
    assert event.json() == {"action": "ping"}
    assert (event.attempt, event.received_at) == (1, 0.0)
    shown = repr(event)
    assert "c0ffee" not in shown
    assert "ping" not in shown


def test_an_event_that_is_not_json_is_a_permanent_error() -> None:
    with pytest.raises(PermanentError, match="event 'evt-9' is not JSON"):
        InboundEvent("evt-9", b"<xml/>").json()


def test_answer_accepted_says_whether_the_event_was_new() -> None:
    assert (Answer.accepted().status, json.loads(Answer.accepted().body)) == (
        202,
        {"status": "accepted"},
    )
    assert json.loads(Answer.accepted(False).body) == {"status": "duplicate"}
    assert Answer.accepted(headers=[("X-Request-Id", "r-1")]).headers == (("X-Request-Id", "r-1"),)


# -- RecordingContext ---------------------------------------------------------------------


class Handler:
    """A connector's `handle_event` that raises what it is given, one per call."""

    def __init__(self, *outcomes: Exception | None) -> None:
        self.outcomes = list(outcomes)
        self.seen: list[InboundEvent] = []

    def handle_event(self, event: InboundEvent) -> None:
        self.seen.append(event)
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome


def test_the_recording_context_queues_once_per_key_and_runs_events_like_the_worker() -> None:
    context = RecordingContext(clock=lambda: NOW)
    assert context.enqueue("evt-1", b'{"n":1}', headers={"X-Id": "evt-1"})
    assert not context.enqueue("evt-1", b'{"n":"again"}')
    assert context.enqueue("evt-2", b'{"n":2}')
    assert context.enqueued_keys == ["evt-1", "evt-1", "evt-2"]
    handler = Handler(RetryableError("Lever answered 503"), PermanentError("no such opportunity"))
    calls = context.run_events(cast(Any, handler), rounds=3)
    assert [(event.key, event.attempt) for event, _ in calls] == [
        ("evt-1", 1),
        ("evt-2", 1),
        ("evt-1", 2),
    ]
    assert [type(raised).__name__ for _, raised in calls] == [
        "RetryableError",
        "PermanentError",
        "NoneType",
    ]
    assert [e.key for e in context.events_in(InboundState.DONE)] == ["evt-1"]
    assert [e.key for e in context.events_in(InboundState.DEAD)] == ["evt-2"]
    assert context.queue_errors["evt-2"] == "PermanentError: no such opportunity"
    assert handler.seen[0].payload == b'{"n":1}'
    assert handler.seen[0].received_at == NOW
    assert context.run_events(cast(Any, handler)) == [], "nothing pending is left"


def test_the_recording_context_refuses_what_the_daemon_refuses() -> None:
    context = RecordingContext()
    with pytest.raises(PayloadError):
        context.enqueue("", b"{}")
    context.enqueue_error = RetryableError("the store is down")
    with pytest.raises(RetryableError):
        context.enqueue("evt-1", b"{}")
    assert context.queued == {}
    context.close()


# -- the inbound worker on a real store -----------------------------------------------------


Logs = list[tuple[str, dict[str, Any]]]


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "state.db")
    opened.migrate()
    yield opened
    opened.close()


def _worker(store: SQLiteStore, handler: Handler, clock: Clock, logs: Logs) -> InboundWorker:
    tenants = RunningTenants({"acme": cast(Any, SimpleNamespace(connector=handler))})

    def log(event: str, /, **fields: Any) -> None:
        logs.append((event, fields))

    return InboundWorker(
        store,
        tenants,
        owner="test",
        lease=30.0,
        backoff=Backoff(first_delay=1.0, max_delay=60.0, horizon=3600.0),
        clock=clock,
        rng=random.Random(7),  # noqa: S311 - jitter, not cryptography
        log=log,
        scrub=lambda text: text.replace(SECRET, "[redacted]"),
    )


def test_retry_after_is_honoured_and_errors_are_scrubbed(store: SQLiteStore) -> None:
    clock, logs = Clock(), Logs()
    handler = Handler(RetryableError(f"Lever 429 for key {SECRET}", retry_after=120.0))
    worker = _worker(store, handler, clock, logs)
    record, _ = store.enqueue_event("acme", "evt-1", b"{}", {}, now=NOW)
    assert worker.run_once(NOW) == 1
    waiting = store.get_event(record.id)
    assert waiting is not None
    assert waiting.state is InboundState.PENDING
    assert waiting.next_attempt_at == NOW + 120.0, "the backoff alone waits at most 1 s"
    assert waiting.last_error == "Lever 429 for key [redacted]"
    assert worker.run_once(NOW + 119) == 0
    assert worker.run_once(NOW + 120) == 1
    done = store.get_event(record.id)
    assert done is not None
    assert (done.state, done.attempts) == (InboundState.DONE, 2)
    assert [event for event, _ in logs] == ["event.retry", "event.done"]
    assert handler.seen[1].attempt == 2


def test_a_connector_bug_is_retried_and_the_horizon_dead_letters(store: SQLiteStore) -> None:
    clock, logs = Clock(), Logs()
    handler = Handler(*[KeyError("opportunityId")] * 500)
    worker = _worker(store, handler, clock, logs)
    record, _ = store.enqueue_event("acme", "evt-1", b"{}", {}, now=NOW)
    while (found := store.get_event(record.id)) is not None and found.state in (
        InboundState.PENDING,
        InboundState.IN_FLIGHT,
    ):
        clock.now = found.next_attempt_at
        assert worker.run_once() == 1
    assert found is not None
    assert found.state is InboundState.DEAD
    assert found.last_error is not None
    assert found.last_error.startswith(f"gave up after {found.attempts} attempts over 60 min")
    assert "KeyError: 'opportunityId'" in found.last_error
    assert any(event == "event.connector_bug" for event, _ in logs)
    assert worker.stats["dead"] == 1


def test_a_permanent_error_dead_letters_at_once(store: SQLiteStore) -> None:
    clock, logs = Clock(), Logs()
    worker = _worker(store, Handler(PermanentError("opportunity 42 was deleted")), clock, logs)
    record, _ = store.enqueue_event("acme", "evt-1", b"{}", {}, now=NOW)
    worker.run_once(NOW)
    dead = store.get_event(record.id)
    assert dead is not None
    assert (dead.state, dead.last_error) == (InboundState.DEAD, "opportunity 42 was deleted")


def test_events_of_a_tenant_not_running_wait_untouched(store: SQLiteStore) -> None:
    clock, logs = Clock(), Logs()
    handler = Handler()
    worker = _worker(store, handler, clock, logs)
    theirs, _ = store.enqueue_event("globex", "evt-1", b"{}", {}, now=NOW)
    assert worker.run_once(NOW) == 0
    waiting = store.get_event(theirs.id)
    assert waiting is not None
    assert (waiting.state, waiting.attempts) == (InboundState.PENDING, 0)
    assert handler.seen == []


# -- events list / events retry -------------------------------------------------------------


def test_events_list_shows_no_payload_and_says_how_many_there_are(tmp_path: Path) -> None:
    world = operated(tmp_path)
    store = world.open()
    try:
        acme = tenant_name(1)
        for n in range(3):
            store.enqueue_event(
                acme, f"evt-{n}", b'{"email":"ada@example.com"}', {"Signature": "s"}, now=NOW + n
            )
        [claimed] = store.claim_events(owner="w", now=NOW + 10, lease=30, limit=1)
        store.event_dead(claimed.id, owner="w", error="Lever said 404", now=NOW + 11)
    finally:
        store.close()
    listed = run("events", "list", "--config", str(world.config), "--limit", "2")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0].split()[:3] == ["ID", "TENANT", "KEY"]
    assert [line.split()[2] for line in lines[1:3]] == ["evt-2", "evt-1"]
    assert lines[-1] == "showing 2 of 3 events (newest first; --limit 0 lists all)"
    assert "ada@example.com" not in listed.output
    dead = run("events", "list", "--config", str(world.config), "--state", "dead", "--json")
    [row] = json.loads(dead.stdout)
    assert (row["key"], row["last_error"], row["headers"], row["payload_bytes"]) == (
        "evt-0",
        "Lever said 404",
        ["Signature"],
        27,
    )
    other = run("events", "list", "--config", str(world.config), "--tenant", tenant_name(2))
    assert (other.exit_code, other.output.splitlines()[-1]) == (0, "(none)")
    unknown = run("events", "list", "--config", str(world.config), "--tenant", "org-99")
    assert unknown.exit_code == 1
    assert "no tenant named 'org-99'" in unknown.output


def test_events_retry_requeues_dead_events_and_refuses_unknown_ids(tmp_path: Path) -> None:
    world = operated(tmp_path)
    store = world.open()
    try:
        record, _ = store.enqueue_event(tenant_name(3), "evt-1", b"{}", {}, now=NOW)
        store.claim_events(owner="w", now=NOW, lease=30, limit=1)
        store.event_dead(record.id, owner="w", error="gone", now=NOW)
    finally:
        store.close()
    other = run("events", "retry", "--config", str(world.config), "--dead", "--tenant", "org-01")
    assert other.output.startswith("0 events queued for retry")
    retried = run("events", "retry", "--config", str(world.config), "--dead")
    assert (retried.exit_code, retried.output.split(";")[0]) == (0, "1 event queued for retry")
    again = run("events", "retry", "--config", str(world.config), str(record.id), "4242")
    assert again.exit_code == 1
    assert "1 event of 2 could not be queued: unknown ID, or already done" in again.output
    store = world.open()
    try:
        back = store.get_event(record.id)
        assert back is not None
        assert (back.state, back.attempts) == (InboundState.PENDING, 0)
    finally:
        store.close()


# -- /metrics -----------------------------------------------------------------------------


def test_metrics_count_events_by_tenant_and_state(store: SQLiteStore) -> None:
    first, _ = store.enqueue_event("acme", "evt-1", b"{}", {}, now=NOW)
    store.enqueue_event("acme", "evt-2", b"{}", {}, now=NOW + 1)
    store.enqueue_event("gone", "evt-3", b"{}", {}, now=NOW)
    store.claim_events(owner="w", now=NOW, lease=30, limit=1, tenants=["acme"])
    store.event_dead(first.id, owner="w", error="x", now=NOW)
    text = generate_latest(DaemonMetrics(store, tenants=["acme", "idle"]).registry).decode()
    samples = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("assessio_connect_inbound_events{")
    }
    assert samples == {
        'assessio_connect_inbound_events{state="dead",tenant="acme"}': 1.0,
        'assessio_connect_inbound_events{state="done",tenant="acme"}': 0.0,
        'assessio_connect_inbound_events{state="in_flight",tenant="acme"}': 0.0,
        'assessio_connect_inbound_events{state="pending",tenant="acme"}': 1.0,
        'assessio_connect_inbound_events{state="pending",tenant="gone"}': 1.0,
        **{
            f'assessio_connect_inbound_events{{state="{state.value}",tenant="idle"}}': 0.0
            for state in InboundState
        },
    }
