"""Logs an operator can search: a real `assessio-connect run --log-format json` through a busy
round trip writes one line per result webhook, `result_id` on every result, order and
delivery event, `reason` (never `why`), rejected webhooks at warning, and timestamps with
milliseconds; and the event log that writes them stays exact while it got cheaper (one pass
for every secret, credential shapes looked for only where one of their words is, lines
written in batches by concurrent threads)."""

from __future__ import annotations

import ast
import io
import json
import re
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assessio_connect.runtime._logging import _CREDENTIAL_SHAPES, REDACTED, EventLog, Scrubber
from assessio_connect.runtime.config import load_daemon_config
from daemon_harness import SECRETS, DaemonProcess, free_port, harness
from round_trip import run_round_trip

ROOT = Path(__file__).resolve().parent.parent
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
WEBHOOK_EVENTS = ("result.received", "result.rejected", "result.failed")


@pytest.fixture(scope="module")
def run_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], str, int]:
    """The JSON lines of a real daemon process through the round trip, the raw text, and how
    many requests went to result routes."""
    with harness(tmp_path_factory.mktemp("log-lines")) as world:
        config_path = world.write_config(port=free_port())
        config = load_daemon_config(world.plugins, config_path)
        daemon = DaemonProcess(config_path)
        try:
            started = daemon.wait_for_event("daemon.started")
            store = world.plugins.open_store(config.store_url)  # read beside the daemon
            try:
                trip = run_round_trip(world, str(started["url"]), store)
            finally:
                store.close()
        finally:
            assert daemon.terminate() == 0
    text = "".join(daemon.lines)
    return [json.loads(line) for line in daemon.lines], text, trip.result_requests


def test_every_line_is_json_with_a_millisecond_timestamp(
    run_log: tuple[list[dict[str, Any]], str, int],
) -> None:
    records, _text, _requests = run_log
    assert records
    for record in records:
        assert STAMP.fullmatch(record["ts"]), record
        assert record["level"] in ("debug", "info", "warning", "error", "critical"), record
        assert isinstance(record["event"], str)


def test_one_line_per_result_webhook(run_log: tuple[list[dict[str, Any]], str, int]) -> None:
    records, _text, requests = run_log
    webhooks = [r for r in records if r["event"] in WEBHOOK_EVENTS]
    assert len(webhooks) == requests
    outcomes = Counter(
        (r["event"], r.get("outcome"), r.get("status"), r["level"]) for r in webhooks
    )
    assert outcomes == {
        ("result.received", "stored", 200, "info"): 3,
        ("result.received", "duplicate", 200, "info"): 1,
        ("result.received", "orphan", 202, "warning"): 1,
        ("result.rejected", None, 401, "warning"): 2,
        ("result.rejected", None, 415, "warning"): 1,
    }
    for record in webhooks:
        assert record["result_id"], record
        assert record["tenant"], record
        if record["event"] == "result.rejected":
            assert record["reason"], record


def test_result_order_and_delivery_events_carry_the_result_id(
    run_log: tuple[list[dict[str, Any]], str, int],
) -> None:
    records, _text, _requests = run_log
    about_a_result = [
        r for r in records if r["event"].startswith(("result.", "order.", "delivery."))
    ]
    events = {r["event"] for r in about_a_result}
    assert {"order.recorded", "order.sent", "delivery.delivered", "delivery.dead"} <= events
    assert [r for r in about_a_result if "result_id" not in r] == []


def test_field_names_are_the_same_everywhere(
    run_log: tuple[list[dict[str, Any]], str, int],
) -> None:
    records, text, _requests = run_log
    for record in records:
        assert "why" not in record, record
        assert "exc_type" not in record, record
    for secret in SECRETS.values():
        assert secret not in text


def _log_calls_with_why(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in ("log", "_log", "_emit") and any(k.arg == "why" for k in node.keywords):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_no_log_call_in_the_project_names_a_field_why() -> None:
    sources = [
        path
        for folder in ("core", "connectors", "plugins", "examples")
        for path in (ROOT / folder).rglob("*.py")
        if ".venv" not in path.parts
    ]
    assert len(sources) > 50
    offenders = [place for path in sources for place in _log_calls_with_why(path)]
    assert offenders == []


# -- the event log itself ---------------------------------------------------------------------


def test_a_line_has_milliseconds_from_the_injected_clock() -> None:
    stream = io.StringIO()
    log = EventLog(stream, format="json", clock=lambda: 1_700_000_000.1239)
    log("daemon.started", tenants="acme")
    log.learn_secrets(["later-secret"])  # a new scrubber; the clock stays
    log("daemon.stopped")
    stamps = [json.loads(line)["ts"] for line in stream.getvalue().splitlines()]
    assert stamps == ["2023-11-14T22:13:20.123Z"] * 2


def test_fields_are_scrubbed_one_by_one_and_credential_fields_whole() -> None:
    stream = io.StringIO()
    log = EventLog(stream, format="json", secrets=["s3cret-value"])
    log(
        "upstream.answer",
        level="warning",
        error="the ATS said: s3cret-value is wrong",
        api_token="abc",
        webhook_secret=12345678,
        problems=["Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload"],
        attempts=3,
    )
    record = json.loads(stream.getvalue())
    assert record["error"] == f"the ATS said: {REDACTED} is wrong"
    assert record["api_token"] == REDACTED
    assert record["webhook_secret"] == REDACTED
    assert record["problems"] == [f"Authorization: Bearer {REDACTED}"]
    assert record["attempts"] == 3
    plain = io.StringIO()
    EventLog(plain, format="text")("x", message="a b")  # still quoted where it must be
    assert 'message="a b"' in plain.getvalue()


def test_lines_from_many_threads_are_each_written_whole_and_once() -> None:
    stream = io.StringIO()
    log = EventLog(stream, format="json")
    threads, per_thread = 8, 500
    start = threading.Barrier(threads)

    def write(n: int) -> None:
        start.wait()
        for i in range(per_thread):
            log("result.received", tenant=f"t{n}", result_id=f"r-{n}-{i}", outcome="stored")

    workers = [threading.Thread(target=write, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    lines = stream.getvalue().splitlines()
    ids = [json.loads(line)["result_id"] for line in lines]
    assert sorted(ids) == sorted(f"r-{n}-{i}" for n in range(threads) for i in range(per_thread))
    for n in range(threads):  # each thread's lines keep their order
        mine = [i for i in ids if i.startswith(f"r-{n}-")]
        assert mine == [f"r-{n}-{i}" for i in range(per_thread)]


class _FailingStream(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError("the disk is full")


def test_a_failed_write_raises_and_the_next_line_is_written_again() -> None:
    stream = _FailingStream()
    log = EventLog(stream, format="json")
    with pytest.raises(OSError, match="disk is full"):
        log("a")
    stream.write = io.StringIO.write.__get__(stream)  # type: ignore[method-assign]
    log("b")
    assert [json.loads(line)["event"] for line in stream.getvalue().splitlines()] == ["b"]


def _every_shape(text: str) -> str:
    """The scrubber as it was: every credential shape looked for in every text."""
    for pattern, replacement in _CREDENTIAL_SHAPES:
        text = pattern.sub(replacement, text)
    return text


WORDS = [
    "signature=",
    "Bearer ",
    "Basic ",
    "provider-key: ",
    "client_secret=",
    "refresh_token=",
    "x-api-key=",
    "password: ",
]
TWINS = {"k": "K\u212a", "s": "S\u017f", "i": "I\u0130\u0131"}
"""Letters and what the regex engine's case folding also takes for them (Kelvin sign, long s,
dotted and dotless i): a cheap check must not miss a shape written with them."""


def _any_case(word: str) -> st.SearchStrategy[str]:
    letters = [st.sampled_from([c, c.upper(), *TWINS.get(c.lower(), "")]) for c in word]
    return st.tuples(*letters).map("".join)


texts = st.lists(
    st.one_of(
        st.sampled_from(WORDS).flatmap(_any_case),
        st.text(st.characters(codec="utf-8"), max_size=12),
        st.from_regex(r"[0-9a-f]{16,24}|[A-Za-z0-9._~+/-]{8,16}[0-9]", fullmatch=True),
    ),
    max_size=8,
).map("".join)


@given(text=texts)
def test_credential_shapes_are_found_as_if_looked_for_everywhere(text: str) -> None:
    assert Scrubber()(text) == _every_shape(text)


@given(
    # Not made of the replacement's own characters, which would be found in "[redacted]".
    secrets=st.lists(
        st.text(st.characters(codec="utf-8", exclude_characters="[redacted]"), min_size=4),
        max_size=6,
    ),
    text=st.text(st.characters(codec="utf-8"), max_size=30),
    picks=st.lists(st.integers(0, 5), max_size=4),
)
def test_no_configured_secret_survives_among_many(
    secrets: list[str], text: str, picks: list[int]
) -> None:
    parts = [text] + [secrets[p % len(secrets)] for p in picks if secrets]
    mixed = "|".join(parts) + "".join(s[: len(s) // 2] for s in secrets)
    scrubbed = Scrubber(secrets)(mixed)
    for secret in secrets:
        assert secret not in scrubbed
