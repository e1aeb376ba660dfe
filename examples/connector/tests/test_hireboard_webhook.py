"""What the conformance suite cannot know about Hireboard: which events order an assessment,
the signature's replay window, and the shape of the results written back."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import urllib3
from assessio_connect_hireboard import idempotency_key, parse_event
from assessio_connect_hireboard.fake import FakeHireboard

from assessio_connect import PayloadError
from assessio_connect.testing import DaemonFactory, RunningDaemon

API_KEY = "hb-api-key-3f9c21"
SIGNING_KEY = "hb-webhook-secret-77d0e4"
JOB = {"id": "job_1", "title": "Account Executive", "department": "Sales"}


@pytest.fixture
def hireboard() -> Iterator[FakeHireboard]:
    with FakeHireboard(api_key=API_KEY, webhook_secret=SIGNING_KEY) as fake:
        fake.add_application(
            "apl_1", job=JOB, candidate={"id": "cnd_1", "email": "ada@example.com"}
        )
        yield fake


@pytest.fixture
def daemon(assessio_daemon_factory: DaemonFactory, hireboard: FakeHireboard) -> RunningDaemon:
    return assessio_daemon_factory(
        "hireboard",
        {"base_url": hireboard.url, "api_key": API_KEY, "webhook_secret": SIGNING_KEY},
        {
            "lens": "General Performance",
            "locale": "en-GB",
            "rules": [{"department": "Sales", "lens": "Sales"}],
        },
    )


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    return int(urllib3.request("POST", url, body=body, headers=headers).status)


def test_only_a_move_into_the_trigger_stage_orders(
    daemon: RunningDaemon, hireboard: FakeHireboard
) -> None:
    url = f"{daemon.connector_url}/webhook"
    assert hireboard.send_webhook(url, "apl_1", "phone-screen") == 200
    assert daemon.orders() == []
    assert hireboard.send_webhook(url, "apl_1", "assessment") == 202
    [order] = daemon.wait_for_orders(1)
    sales = daemon.sandbox.config.find_lens("Sales")
    assert sales is not None
    assert order.order.lens_id == sales.id  # the tenant's rule for the Sales department


def test_an_old_signature_is_refused_as_a_replay(
    daemon: RunningDaemon, hireboard: FakeHireboard
) -> None:
    body, headers = hireboard.stage_changed("apl_1", "assessment", timestamp=int(time.time()) - 600)
    assert post(f"{daemon.connector_url}/webhook", body, headers) == 401
    assert daemon.orders() == []


def test_the_result_lands_on_the_application_once_per_version(
    daemon: RunningDaemon, hireboard: FakeHireboard
) -> None:
    assert hireboard.send_webhook(f"{daemon.connector_url}/webhook", "apl_1", "assessment") == 202
    [first] = daemon.complete_all(1, score=64)
    daemon.wait_until(lambda: hireboard.results("apl_1"), what="the first result")
    daemon.sandbox.complete(first.result_id, score=70)  # Assessio sends an update
    daemon.wait_for_deliveries(2)
    stored = hireboard.results("apl_1")
    assert [(r["version"], r["score"]) for r in stored] == [(1, 64), (2, 70)]
    assert stored[0]["external_id"] == first.result_id
    assert idempotency_key(first.result_id, 2) == f"assessio-{first.result_id}-v2"


def test_parse_event_lists_every_problem() -> None:
    with pytest.raises(PayloadError, match="invalid Hireboard event") as caught:
        parse_event({"type": "application.stage_changed", "data": {"job": {"id": 7}}})
    problems = json.dumps(caught.value.problems)
    for path in ("$.data.application", "$.data.job.id", "$.data.job.title", "$.data.candidate"):
        assert path in problems
