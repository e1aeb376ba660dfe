"""Assessment Partner mode end to end through a real daemon: the fake Greenhouse lists the
tenant's lenses as tests, sends a test, is told of the result with a completion PATCH and reads
it with test_status; plus the partner endpoints' authentication and error answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import urllib3
from greenhouse_world import GENERAL, KEYS, SALES, World, world

from assessio_connect.connector import recruitment_id
from assessio_connect_greenhouse.fake import FakeGreenhouse, TakeHomeTest

IN_PROGRESS = {
    "partner_status": "in_progress",
    "partner_profile_url": None,
    "partner_score": None,
    "metadata": None,
}


def partner_table(w: World) -> str:
    return f"""
[tenants.acme.ats.partner]
api_key = {w.secret("partner_key")}
completion_hosts = ["127.0.0.1"]
"""


def scored(score: int, completions: int) -> Any:
    def check(greenhouse: FakeGreenhouse) -> TakeHomeTest | None:
        for test in greenhouse.take_home_tests:
            status = test.status or {}
            if test.completions == completions and status.get("partner_score") == score:
                return test
        return None

    return check


def test_a_sent_test_is_ordered_completed_and_reported(tmp_path: Path) -> None:
    with world(tmp_path) as w, w.daemon(w.webhook_ats() + partner_table(w)) as daemon:
        w.greenhouse.connect_partner(f"{daemon.url}/connectors/acme", KEYS["partner_key"])
        tests = w.greenhouse.list_tests()
        assert {"partner_test_id": GENERAL, "partner_test_name": "General Performance"} in tests
        assert {"partner_test_id": SALES, "partner_test_name": "Sales"} in tests
        candidate, application = w.applicant("Ada", "ada@example.com", job=w.sales)
        interview = w.greenhouse.send_test(application, GENERAL)
        (order,) = w.wait_for_orders(1)
        assert order.order.lens_id == GENERAL  # the test Greenhouse sent, not the Sales rule
        assert order.order.candidate_details.email == "ada@example.com"
        assert order.order.recruitment.title == "Account Executive"  # read through Harvest
        assert order.order.recruitment.id == recruitment_id("acme", str(w.sales))
        assert w.greenhouse.test_status(interview) == (200, IN_PROGRESS)

        result_id = order.order.result_id
        result = w.sandbox.complete(result_id, score=64, provider_key=KEYS["provider_key"])
        test = w.greenhouse.wait_for(scored(64, 1))
        assert test.status == {
            "partner_status": "complete",
            "partner_profile_url": result.assessment_report_url,
            "partner_score": 64,
            "metadata": {**result.subscores, "Assessio result id": result_id},
        }
        (completion,) = w.greenhouse.writes
        assert (completion.kind, completion.target, completion.status) == (
            "completion",
            str(test.id),
            200,
        )
        assert w.greenhouse.notes(candidate) == []  # partner orders are not written as notes

        w.sandbox.complete(result_id, score=71, provider_key=KEYS["provider_key"])
        updated = w.greenhouse.wait_for(scored(71, 2))
        assert updated.status is not None
        assert updated.status["metadata"]["Result version"] == 2


def post(
    http: urllib3.PoolManager, url: str, body: Any, key: str | None = KEYS["partner_key"]
) -> tuple[int, Any, urllib3.BaseHTTPResponse]:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers.update(urllib3.make_headers(basic_auth=f"{key}:"))
    response = http.request("POST", url, body=json.dumps(body).encode(), headers=headers)
    return response.status, json.loads(response.data), response


def send_test_body(w: World, take_home_test: int, **changes: Any) -> dict[str, Any]:
    body = {
        "partner_test_id": GENERAL,
        "candidate": {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@example.com",
            "greenhouse_profile_url": "https://app.greenhouse.io/people/1",
        },
        "url": f"{w.greenhouse.url}/integrations/testing_partners/take_home_tests/{take_home_test}",
    }
    body.update(changes)
    return body


def test_partner_endpoints_check_the_key_and_explain_refusals(tmp_path: Path) -> None:
    with world(tmp_path) as w, w.daemon(partner_table(w), auth="none") as daemon:
        http = urllib3.PoolManager(retries=False)
        base = f"{daemon.url}/connectors/acme"
        anonymous = http.request("GET", f"{base}/list_tests")
        assert anonymous.status == 401
        assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
        wrong = http.request(
            "GET", f"{base}/list_tests", headers=urllib3.make_headers(basic_auth="nope:")
        )
        assert wrong.status == 401
        status, _, _ = post(http, f"{base}/send_test", send_test_body(w, 1), key="nope")
        assert status == 401
        assert w.sandbox.orders() == []
        assert http.request("POST", f"{base}/webhook", body=b"{}").status == 404  # not enabled

        status, data, _ = post(http, f"{base}/send_test", send_test_body(w, 7))
        assert (status, data) == (200, {"partner_interview_id": "gh-test-7"})
        status, data, _ = post(http, f"{base}/send_test", send_test_body(w, 7))  # a resend
        assert (status, data) == (200, {"partner_interview_id": "gh-test-7"})
        (order,) = w.wait_for_orders(1)
        # No Harvest credentials: one recruitment per test.
        assert order.order.recruitment.title == "General Performance (Greenhouse assessment)"

        status, data, _ = post(
            http,
            f"{base}/send_test",
            send_test_body(w, 8, url="https://evil.example/take_home_tests/8", candidate={}),
        )
        assert status == 422
        assert data["errors"] == [
            "host 'evil.example' is not allowed for completion (partner.completion_hosts) @ $.url",
            "required field missing @ $.candidate.email",
        ]
        status, data, _ = post(http, f"{base}/send_test", send_test_body(w, 9, partner_test_id="x"))
        assert status == 422
        assert "lens 'x' is not available" in data["errors"][0]

        auth = urllib3.make_headers(basic_auth=f"{KEYS['partner_key']}:")
        unknown = http.request(
            "GET", f"{base}/test_status?partner_interview_id=gh-test-99", headers=auth
        )
        assert unknown.status == 404
        missing = http.request("GET", f"{base}/test_status", headers=auth)
        assert missing.status == 400
        status, data, _ = post(
            http,
            f"{base}/request_errors",
            {
                "api_call": "test_status",
                "errors": ["partner_profile_url is required"],
                "partner_interview_id": "gh-test-7",
                "candidate_email": "ada@example.com",
            },
        )
        assert (status, data) == (200, {})
        line = next(x for x in w.log.getvalue().splitlines() if "partner_request_error" in x)
        assert "partner_profile_url is required" in line
        assert "ada@example.com" not in line
    assert len(w.sandbox.orders()) == 1
