"""The conformance suite's additions (issue 12) at work: a push connector on the inbound queue
passes the whole suite, its optional checks included (Retry-After through the outbox, a write
found past the first page); a broken variant fails each new check, with a message that says
what to fix; the default bad push requests come from what the suite is told, and fail loudly
when nothing can be derived."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import attrs
import pytest

import inbound_world
from assessio_connect import ConnectorContext, Pushback, Request, load_plugins
from assessio_connect.contract.errors import RetryableError
from assessio_connect.kit import Answer
from assessio_connect.testing import (
    AtsRequest,
    ConformanceHarness,
    ConnectorConformance,
    InvalidConfig,
)
from inbound_world import API_KEY, SIGNATURE_TOKEN, TRIGGER, GatedLever, QueuedLever
from kit_example import LeverConfig, marker
from kit_example.connector import NOTES

PAGE = 100
"""Lever's largest page of notes ("Pagination": limit 1 to 100)."""


class TestQueuedLeverConformance(ConnectorConformance):
    connector_class = QueuedLever
    valid_config: ClassVar[Mapping[str, Any]] = {
        "api_key": API_KEY,
        "signature_tokens": [SIGNATURE_TOKEN],
        "trigger_stage": TRIGGER,
    }
    invalid_configs: ClassVar[Sequence[InvalidConfig]] = (
        InvalidConfig({"rate": 0.0}, "rate", "rate must be above 0"),
    )

    @pytest.fixture
    def fake_ats(self) -> Iterator[GatedLever]:
        with GatedLever() as fake:
            yield fake

    def ats_config(self, fake_ats: GatedLever) -> Mapping[str, Any]:
        return {"base_url": fake_ats.url + "/v1"}

    def create_invitation(self, fake_ats: GatedLever, index: int) -> AtsRequest:
        opportunity = fake_ats.add_candidate(
            name=f"Candidate {index}", email=f"c{index}@example.com", job_title="Engineer"
        )
        delivery = fake_ats.stage_change(opportunity, TRIGGER)
        return AtsRequest("/webhook", delivery.body, delivery.headers)

    def written_results(self, fake_ats: GatedLever, application_id: str) -> Sequence[Any]:
        return [n for n in fake_ats.notes_of(application_id) if "[assessio " in n.value]

    def fail_writes(self, fake_ats: GatedLever, status: int | None) -> None:
        fake_ats.fail_writes(status, retry_after=0)

    def fail_writes_with_retry_after(self, fake_ats: GatedLever, status: int, seconds: int) -> bool:
        fake_ats.fail_writes(status, retry_after=seconds)
        return True

    def spread_writes_over_pages(self, fake_ats: GatedLever, application_id: str) -> bool:
        with fake_ats._lock:  # the fake's own notes, reordered as a busy opportunity's are
            ours = [n for n in fake_ats.notes if n.opportunity_id == application_id]
            others = [
                attrs.evolve(ours[0], id=f"other-{n}", value="a recruiter's comment")
                for n in range(2 * PAGE + 50)
            ]
            fake_ats.notes[:] = [n for n in fake_ats.notes if n not in ours] + others + ours
        return True

    def bad_push_requests(self, fake_ats: GatedLever, good: AtsRequest) -> Sequence[AtsRequest]:
        # Lever signs fields inside the body (token + triggeredAt), not the body or a header.
        event = json.loads(good.body)
        return [
            attrs.evolve(good, body=json.dumps({**event, "token": event["token"][::-1]}).encode()),
            attrs.evolve(good, body=json.dumps({**event, "signature": None}).encode()),
        ]

    def test_plugin_registers_the_connector(self) -> None:
        # Not an installed distribution: its plugin module is registered as its entry point
        # would register it (tests/test_inbound_crash.py installs one for a real process).
        plugins = load_plugins(entry_points=False, extra=[("queuedlever", inbound_world)])
        assert plugins.connector(QueuedLever.kind) is QueuedLever


# -- broken variants fail the new checks -----------------------------------------------------


class ForgetfulLever(QueuedLever):
    """Remembers its notes in the instance, not in `context.state`: a restart forgets them."""

    def __init__(self, config: LeverConfig, context: ConnectorContext) -> None:
        super().__init__(config, context)
        self.written: dict[tuple[str, int], str] = {}

    def push_result(self, pushback: Pushback) -> None:
        order, key = pushback.order, (pushback.order.result_id, pushback.version)
        if key not in self.written:
            note = {"value": f"Assessio: {pushback.result.score} {marker(*key)}"}
            created = self.lever.send_json("POST", NOTES, note, params={"id": order.application_id})
            self.written[key] = str(created["data"]["noteId"])


class VersionBlindLever(QueuedLever):
    """Keeps a receipt per version in its state, but writes an older version anyway."""

    def push_result(self, pushback: Pushback) -> None:
        key = f"note/{pushback.order.result_id}/v{pushback.version}"
        if self.context.state.value(key) is None:
            note = {"value": f"Assessio: {pushback.result.score} [assessio v{pushback.version}]"}
            params = {"id": pushback.order.application_id}
            created = self.lever.send_json("POST", NOTES, note, params=params)
            self.context.state.put(key, str(created["data"]["noteId"]))


class RetryAfterLosingLever(QueuedLever):
    """Turns every failure into a RetryableError of its own, dropping Lever's Retry-After."""

    def push_result(self, pushback: Pushback) -> None:
        try:
            super().push_result(pushback)
        except RetryableError as exc:
            raise RetryableError(f"Lever failed: {exc}") from None


class FirstPageLever(QueuedLever):
    """Searches for its earlier note on the first page of the listing only."""

    def push_result(self, pushback: Pushback) -> None:
        tag = marker(pushback.order.result_id, pushback.version)
        ids = {"id": pushback.order.application_id}

        def create() -> str:
            note = {"value": f"Assessio: {pushback.result.score} {tag}"}
            return str(self.lever.send_json("POST", NOTES, note, params=ids)["data"]["noteId"])

        def find() -> str | None:
            page = self.lever.get_json(NOTES, params=ids, query={"limit": str(PAGE)})
            found = [n for n in page["data"] if tag in n["fields"][0]["value"]]
            return str(found[0]["id"]) if found else None

        self.notes.ensure(pushback.order.result_id, pushback.version, create, find=find)


class EagerLever(QueuedLever):
    """Queues the event before it checks the signature."""

    def webhook(self, request: Request) -> Answer:
        event = request.json()
        self.context.enqueue(str(event.get("id") or "none"), request.body)
        return super().webhook(request)


def _suite(connector: type[QueuedLever]) -> TestQueuedLeverConformance:
    suite_class = type(
        f"Suite{connector.__name__}", (TestQueuedLeverConformance,), {"connector_class": connector}
    )
    suite: TestQueuedLeverConformance = suite_class()
    return suite


@pytest.fixture
def lever() -> Iterator[GatedLever]:
    with GatedLever() as fake:
        yield fake


def _harness(
    connector: type[QueuedLever], fake: GatedLever, tmp_path: Path
) -> tuple[TestQueuedLeverConformance, ConformanceHarness]:
    suite = _suite(connector)
    return suite, ConformanceHarness(suite, fake, tmp_path / "harness")


def test_state_kept_outside_the_store_fails_the_restart_check(
    lever: GatedLever, tmp_path: Path
) -> None:
    suite, harness = _harness(ForgetfulLever, lever, tmp_path)
    try:
        suite.test_push_result_is_idempotent(harness)  # one instance: idempotent enough
        with pytest.raises(AssertionError, match=r"restarted connector .* left 2"):
            suite.test_push_result_is_idempotent_across_a_restart(harness, tmp_path)
    finally:
        harness.close()


def test_writing_an_older_version_fails_the_version_check(
    lever: GatedLever, tmp_path: Path
) -> None:
    suite, harness = _harness(VersionBlindLever, lever, tmp_path)
    try:
        with pytest.raises(AssertionError, match="version 1 pushed after version 2 changed"):
            suite.test_an_older_version_after_a_newer_one_changes_nothing(harness)
    finally:
        harness.close()


def test_dropping_retry_after_fails_the_outbox_check(lever: GatedLever, tmp_path: Path) -> None:
    suite, harness = _harness(RetryAfterLosingLever, lever, tmp_path)
    try:
        with pytest.raises(AssertionError, match="not after the ATS's Retry-After of 120 s"):
            suite.test_retry_after_from_the_ats_reaches_the_outbox(harness, tmp_path)
    finally:
        harness.close()


def test_reading_one_page_only_fails_the_paging_check(lever: GatedLever, tmp_path: Path) -> None:
    suite, harness = _harness(FirstPageLever, lever, tmp_path)
    try:
        with pytest.raises(AssertionError, match="look past the first page left 2"):
            suite.test_a_retried_write_finds_its_earlier_write_on_a_later_page(harness)
    finally:
        harness.close()


def test_queueing_before_the_signature_is_checked_fails_the_bad_request_check(
    lever: GatedLever, tmp_path: Path
) -> None:
    suite, harness = _harness(EagerLever, lever, tmp_path)
    try:
        with pytest.raises(AssertionError, match="a refused request still queued an event"):
            suite.test_bad_push_requests_are_refused(harness)
    finally:
        harness.close()


def test_a_failing_handler_fails_the_push_checks_with_what_it_raised(
    lever: GatedLever, tmp_path: Path
) -> None:
    suite, harness = _harness(QueuedLever, lever, tmp_path)
    try:
        lever.fail_reads(1)
        with pytest.raises(pytest.fail.Exception, match="handle_event of the queued event"):
            suite.test_push_request_invites(harness)
    finally:
        harness.close()


# -- the default bad push requests --------------------------------------------------------


def _good(headers: dict[str, str]) -> AtsRequest:
    return AtsRequest("/events", b'{"id":"evt-1"}', headers)


class _Declared(TestQueuedLeverConformance):
    push_credential_headers = ("Signature",)
    push_signature_covers_body = True


class _Derived(TestQueuedLeverConformance):
    pass


def test_declared_credentials_and_a_body_signature_make_the_bad_requests() -> None:
    # Source: Greenhouse webhook headers (grnhse/greenhouse-api-docs,
    # source/includes/webhooks/_introduction.md): `Signature: sha256 <hex>`.
    good = _good({"Content-Type": "application/json", "Signature": "sha256 abc"})
    bad = ConnectorConformance.bad_push_requests(_Declared(), None, good)
    assert [dict(r.headers) for r in bad] == [
        {"Content-Type": "application/json"},
        {"Content-Type": "application/json", "Signature": "sha256 abc0"},
        {"Content-Type": "application/json", "Signature": "sha256 abc"},
    ]
    assert [r.body for r in bad] == [good.body, good.body, good.body + b" "]


def test_undeclared_credentials_are_the_headers_besides_the_usual_ones() -> None:
    good = _good({"Content-Type": "application/json", "User-Agent": "x", "X-Token": "t"})
    [bad] = ConnectorConformance.bad_push_requests(_Derived(), None, good)
    assert dict(bad.headers) == {"Content-Type": "application/json", "User-Agent": "x"}
    assert bad.body == good.body, "no signature over the body is assumed"


def test_nothing_derivable_fails_with_what_to_do() -> None:
    good = _good({"Content-Type": "application/json", "User-Agent": "Lever-Webhooks"})
    with pytest.raises(pytest.fail.Exception, match="cannot derive the push requests to refuse"):
        ConnectorConformance.bad_push_requests(_Derived(), None, good)
    with pytest.raises(pytest.fail.Exception, match="names 'Signature', which the request lacks"):
        ConnectorConformance.bad_push_requests(_Declared(), None, good)
