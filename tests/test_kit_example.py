"""The Lever-style example connector (tests/kit_example), written with public names only,
passes the conformance suite against its fake; and what the kit does for it shows: the
documented deliveries are refused as Lever's own examples deserve, receipts keep write-backs
single without listing notes, the crash window is closed by a marker search over pages, and
the rate limiter keeps to Lever's documented budget."""

from __future__ import annotations

import ast
import json
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import attrs
import pytest

from assessio_connect import Request, load_plugins
from assessio_connect.testing import (
    MISSING,
    AtsRequest,
    ConnectorConformance,
    InvalidConfig,
    RecordingContext,
    make_pushback,
)
from kit_example import FakeLever, LeverConnector, marker, plugin

API_KEY = "lever-api-key-7d0c1f"
SIGNATURE_TOKEN = "be58f711f349c7780e4579cd7c63341ac6f881e4dccc3154"
TRIGGER = "assessio-stage"
EXAMPLE = Path(__file__).parent / "kit_example"

# Source: Lever's API documentation, "Receiving webhooks" → "Example delivery"
# (https://hire.lever.co/developer/documentation), verbatim: it is not valid JSON as
# published (a comma is missing after "toStageId" and one is left after "fromStageId").
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
# Source: the same page, "Integrations webhooks settings": the test POST Lever sends, verbatim;
# its signature is not hex (the page masks it), so it cannot verify under any token.
DOCUMENTED_TEST_REQUEST = b"""{
 "triggeredAt": 1431458021951,
 "event": "candidateHired",
 "data": {},
 "signature": "m3e73080553bcbf65f66c90b6m4ac0mb664c6am763efb1899653808864456b36",
 "token": "657fd5a0759c87d35660b096dbc388d1d31058869f08ce3f"
}"""


def _request(delivery: Any) -> AtsRequest:
    return AtsRequest("/webhook", delivery.body, delivery.headers)


def _resigned(fake_ats: FakeLever, good: AtsRequest, **changes: Any) -> AtsRequest:
    event = json.loads(good.body)
    event.update(changes)
    return attrs.evolve(good, body=json.dumps(event).encode())


class TestKitLeverConformance(ConnectorConformance):
    connector_class = LeverConnector
    valid_config: ClassVar[Mapping[str, Any]] = {
        "api_key": API_KEY,
        "signature_tokens": [SIGNATURE_TOKEN],
        "trigger_stage": TRIGGER,
    }
    invalid_configs: ClassVar[Sequence[InvalidConfig]] = (
        InvalidConfig({"base_url": "ftp://lever"}, "base_url", "must be an http(s) URL"),
        InvalidConfig({"rate": 0.0}, "rate", "rate must be above 0"),
        InvalidConfig({"trigger_stage": MISSING}, "trigger_stage", "required key missing"),
        InvalidConfig({"colour": "blue"}, "", "unknown key 'colour'"),
    )

    @pytest.fixture
    def fake_ats(self) -> Iterator[FakeLever]:
        with FakeLever(api_key=API_KEY, signature_token=SIGNATURE_TOKEN) as fake:
            yield fake

    def ats_config(self, fake_ats: FakeLever) -> Mapping[str, Any]:
        return {"base_url": fake_ats.url + "/v1"}

    def create_invitation(self, fake_ats: FakeLever, index: int) -> AtsRequest:
        opportunity = fake_ats.add_candidate(
            name=f"Candidate {index}", email=f"c{index}@example.com", job_title="Engineer"
        )
        return _request(fake_ats.stage_change(opportunity, TRIGGER))

    def written_results(self, fake_ats: FakeLever, application_id: str) -> Sequence[Any]:
        return [n for n in fake_ats.notes_of(application_id) if "[assessio " in n.value]

    def fail_writes(self, fake_ats: FakeLever, status: int | None) -> None:
        fake_ats.fail_writes(status, retry_after=0)

    def bad_push_requests(self, fake_ats: FakeLever, good: AtsRequest) -> Sequence[AtsRequest]:
        event = json.loads(good.body)
        return [
            _resigned(fake_ats, good, signature=None),
            _resigned(fake_ats, good, token=event["token"][::-1]),
            _resigned(fake_ats, good, triggeredAt=event["triggeredAt"] - 3_600_000),
            attrs.evolve(good, headers={"Content-Type": "text/plain"}),
            attrs.evolve(good, body=DOCUMENTED_STAGE_CHANGE),
            attrs.evolve(good, body=DOCUMENTED_TEST_REQUEST),
        ]

    def test_plugin_registers_the_connector(self) -> None:
        # The example is not an installed distribution: its plugin module is registered the
        # way its entry point would register it.
        plugins = load_plugins(entry_points=False, extra=[("kitlever", plugin)])
        assert plugins.connector("kitlever") is LeverConnector


# -- Lever's own examples, receipts, the crash window and the rate limit ---------------------


class _FakeTime:
    """One clock for the fake's bucket and the connector's limiter; sleeping advances it."""

    def __init__(self) -> None:
        self._now = 1_800_000_000.0
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self._now += seconds


@attrs.define
class _World:
    lever: FakeLever
    context: RecordingContext
    tmp_path: Path

    def connector(
        self, cls: type[LeverConnector] = LeverConnector, **changes: Any
    ) -> LeverConnector:
        suite = TestKitLeverConformance()
        values = {**suite.config_values(self.lever), **changes}
        config = suite.load_config(values, self.tmp_path / f"config-{len(changes)}")
        return cls(config.tenants["conformance"].ats, self.context)


@pytest.fixture
def clock() -> _FakeTime:
    return _FakeTime()


@pytest.fixture
def world(tmp_path: Path, clock: _FakeTime) -> Iterator[_World]:
    context = RecordingContext(clock=clock.now)
    with FakeLever(api_key=API_KEY, signature_token=SIGNATURE_TOKEN, clock=clock.now) as fake:
        yield _World(fake, context, tmp_path)
    context.close()


def test_the_documented_deliveries_are_refused(world: _World) -> None:
    app = world.connector().wsgi_app()
    headers = {"Content-Type": "application/json", "User-Agent": "Lever-Webhooks"}
    for body, status, reason in [
        (DOCUMENTED_STAGE_CHANGE, 400, b"not valid JSON"),
        (DOCUMENTED_TEST_REQUEST, 401, b"'signature' is not hex"),
    ]:
        answer = app.dispatch(Request("POST", "/webhook", headers=headers, body=body))
        assert (answer.status, reason in answer.body) == (status, True), answer.body
    assert world.context.invited == []


def test_a_receipt_spares_the_listing_and_a_retry_finds_the_note_by_its_marker(
    world: _World,
) -> None:
    lever, connector = world.lever, world.connector()
    opportunity = lever.add_candidate(name="Ada", email="ada@example.com", job_title="Engineer")
    order = world.context.invite(connector.invitation(opportunity))
    connector.push_result(make_pushback(order))
    lever.requests.clear()
    connector.push_result(make_pushback(order, attempt=2))  # the receipt answers
    assert lever.requests == [], "no listing and no second note"

    # The crash window: Lever created the note, the receipt was never written. 250 other
    # notes push it onto the third page of Lever's listing (100 a page).
    ours = lever.notes.pop(0)
    lever.notes.extend(attrs.evolve(ours, id=f"other-{i}", value="a comment") for i in range(250))
    lever.notes.append(ours)
    world.context.state.entries.clear()
    connector.push_result(make_pushback(order, attempt=2))
    assert [method for method, _ in lever.requests] == ["GET", "GET", "GET"]
    assert connector.notes.get(order.result_id, 1) == ours.id
    assert sum(marker(order.result_id, 1) in n.value for n in lever.notes_of(opportunity)) == 1


def test_a_first_attempt_creates_without_listing(world: _World) -> None:
    lever, connector = world.lever, world.connector()
    opportunity = lever.add_candidate(name="Ada", email="ada@example.com", job_title="Engineer")
    order = world.context.invite(connector.invitation(opportunity))
    lever.requests.clear()
    connector.push_result(make_pushback(order, version=1))
    connector.push_result(make_pushback(order, score=80, version=2))
    assert [method for method, _ in lever.requests] == ["POST", "POST"]
    values = [note.value for note in lever.notes_of(opportunity)]
    assert len(values) == 2
    assert "Assessio: 80" in values[1]


def test_the_limiter_keeps_to_levers_budget(world: _World, clock: _FakeTime) -> None:
    class PacedLever(LeverConnector):
        sleep = staticmethod(clock.sleep)

    lever, connector = world.lever, world.connector(PacedLever)
    opportunity = lever.add_candidate(name="Ada", email="a@example.com", job_title="X")
    order = world.context.invite(connector.invitation(opportunity))
    for version in range(1, 41):
        connector.push_result(make_pushback(order, version=version))
    assert lever.rate_limited == 0, "the limiter kept below Lever's 10/s with bursts of 20"
    assert len(lever.notes_of(opportunity)) == 40
    assert sum(clock.slept) == pytest.approx(24 / 9), "42 requests: 18 at once, 24 at 9/s"


def test_a_limiter_set_too_fast_backs_off_on_429(world: _World, clock: _FakeTime) -> None:
    class HastyLever(LeverConnector):
        sleep = staticmethod(clock.sleep)

    lever = world.lever
    connector = world.connector(HastyLever, rate=1000.0, burst=1000)
    opportunity = lever.add_candidate(name="Ada", email="a@example.com", job_title="X")
    order = world.context.invite(connector.invitation(opportunity))
    for version in range(1, 31):
        connector.push_result(make_pushback(order, version=version))
    assert lever.rate_limited > 0, "Lever's bucket refused the 21st request in a row"
    assert len(lever.notes_of(opportunity)) == 30, "every 429 was waited out and retried"
    assert max(clock.slept) >= 1.0, "the first 429 without Retry-After waits backoff_initial"


def test_the_example_uses_only_public_names() -> None:
    allowed = {"assessio_connect", "assessio_connect.kit", "assessio_connect.testing"}
    for path in sorted(EXAMPLE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
                continue
            top = node.module.split(".")[0]
            where = f"{path.name} imports {node.module}"
            if top == "assessio_connect":
                assert node.module in allowed, where
                assert not any(alias.name.startswith("_") for alias in node.names), where
            else:
                assert top in sys.stdlib_module_names or top == "attrs", where
    fake = ast.parse((EXAMPLE / "fake.py").read_text(encoding="utf-8"))
    relative = [n.module for n in ast.walk(fake) if isinstance(n, ast.ImportFrom) and n.level]
    assert relative == [], "the fake imports nothing of its connector"
