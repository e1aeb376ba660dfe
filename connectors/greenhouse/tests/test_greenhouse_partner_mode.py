"""Assessment Partner mode end to end through a real daemon: the fake Greenhouse lists the
tenant's lenses as tests, sends a test, is told of the result with a completion PATCH and reads
it with test_status; plus the partner endpoints' authentication and error answers, and
completion URLs that would carry the partner key to another host."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import urllib3
from greenhouse_parts import recruitment_of
from greenhouse_world import GENERAL, KEYS, SALES, World, world

from assessio_connect import (
    AtsCandidate,
    AtsJob,
    Invitation,
    PermanentError,
    RetryableError,
    Secret,
)
from assessio_connect.testing import BackgroundServer, RecordingContext, make_pushback
from assessio_connect_greenhouse import (
    GreenhouseConfig,
    GreenhouseConnector,
    OAuthSettings,
    PartnerSettings,
)
from assessio_connect_greenhouse.fake import FakeGreenhouse, TakeHomeTest

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

IN_PROGRESS = {
    "partner_status": "in_progress",
    "partner_profile_url": None,
    "partner_score": None,
    "metadata": None,
}


def partner_table(w: World, hosts: str = '["127.0.0.1"]') -> str:
    """The fake's completion URLs are http://127.0.0.1:PORT/…, hence the explicit http."""
    return f"""
[tenants.acme.ats.partner]
api_key = {w.secret("partner_key")}
completion_hosts = {hosts}
allow_http_completion = true
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
        assert order.order.recruitment.title == "Account Executive"  # read through Harvest v3
        assert order.order.recruitment.id == recruitment_of(w.sales)
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
        assert test.errors == ()
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


def send_test_body(url: str, **changes: Any) -> dict[str, Any]:
    """Greenhouse's documented `send_test` example (grnhse/greenhouse-api-docs,
    source/includes/assessment/_send_test.md), with our test id and completion url."""
    body = {
        "partner_test_id": GENERAL,
        "candidate": {
            "first_name": "Harry",
            "last_name": "Potter",
            "preferred_name": "The Chosen One",
            "resume_url": "https://hogwarts.com/resume",
            "phone_number": "123-456-7890",
            "email": "hpotter@hogwarts.edu",
            "greenhouse_profile_url": "https://app.greenhouse.io/people/17681532?application_id=26234709",
        },
        "sent_by": "test_sender@example.org",
        "url": url,
    }
    body.update(changes)
    return body


def test_partner_endpoints_check_the_key_and_explain_refusals(tmp_path: Path) -> None:
    with world(tmp_path) as w, w.daemon(partner_table(w), grant=None) as daemon:
        http = urllib3.PoolManager(retries=False)
        base = f"{daemon.url}/connectors/acme"
        anonymous = http.request("GET", f"{base}/list_tests")
        assert anonymous.status == 401
        assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
        wrong = http.request(
            "GET", f"{base}/list_tests", headers=urllib3.make_headers(basic_auth="nope:")
        )
        assert wrong.status == 401
        url = f"{w.greenhouse.url}/integrations/testing_partners/take_home_tests/1"
        status, _, _ = post(http, f"{base}/send_test", send_test_body(url), key="nope")
        assert status == 401
        assert w.sandbox.orders() == []


class Catcher:
    """A server on 127.0.0.1 that records every request it gets: where a bent completion url
    would send the partner key."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()
        self._server = BackgroundServer(self._app)

    def _app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        with self._lock:
            self.received.append(
                (
                    str(environ.get("REQUEST_METHOD")),
                    str(environ.get("PATH_INFO")),
                    str(environ.get("HTTP_AUTHORIZATION", "")),
                )
            )
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    @property
    def port(self) -> int:
        return int(self._server.url.rsplit(":", 1)[1])

    def __enter__(self) -> Catcher:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()


@pytest.fixture
def catcher() -> Iterator[Catcher]:
    with Catcher() as server:
        yield server


BENT = (
    # urllib.parse sees host tests.greenhouse.io; urllib3, which sends, sees 127.0.0.1.
    "http://127.0.0.1:{port}\\@tests.greenhouse.io/integrations/testing_partners/take_home_tests/7",
    "http://tests.greenhouse.io@127.0.0.1:{port}/take_home_tests/7",
    "http://127.0.0.1:{port}#@tests.greenhouse.io/take_home_tests/7",
)


@pytest.mark.parametrize("template", BENT)
def test_send_test_refuses_a_completion_url_bent_to_another_host(
    tmp_path: Path, catcher: Catcher, template: str
) -> None:
    """Issue 11 item 7: the allow-list must judge the URL as the sender will parse it."""
    bent = template.format(port=catcher.port)
    hosts = '["*.greenhouse.io"]'
    with world(tmp_path) as w, w.daemon(partner_table(w, hosts), grant=None) as daemon:
        http = urllib3.PoolManager(retries=False)
        status, data, _ = post(
            http, f"{daemon.url}/connectors/acme/send_test", send_test_body(bent)
        )
        assert status == 422, data
        assert any("@ $.url" in problem for problem in data["errors"]), data
        assert daemon.store.list_orders() == []
    assert catcher.received == []


def test_a_stored_bent_completion_url_is_refused_when_the_result_comes(
    catcher: Catcher,
) -> None:
    """An order recorded before the check existed never sends the partner key elsewhere."""
    bent = BENT[0].format(port=catcher.port)
    config = GreenhouseConfig(
        partner=PartnerSettings(
            api_key=Secret("test", KEYS["partner_key"]),
            completion_hosts=("*.greenhouse.io",),
            allow_http_completion=True,
        )
    )
    context = RecordingContext("acme")
    connector = GreenhouseConnector(config, context)
    try:
        order = context.invite(
            Invitation(
                application_id="gh-test-7",
                job=AtsJob(id="test-x", title="x"),
                candidate=AtsCandidate(id="1", email="ada@example.com"),
                metadata={"mode": "partner", "completion_url": bent},
            )
        )
        with pytest.raises(PermanentError, match="partner key is not sent there"):
            connector.push_result(make_pushback(order))
    finally:
        connector.close()
        context.close()
    assert catcher.received == []


def test_send_test_is_answered_before_harvest_is_read_and_ordered_from_the_queue() -> None:
    """Greenhouse gets its `partner_interview_id` without waiting for Harvest; `test_status`
    says in_progress while the order is queued; the queued event reads the job (Harvest's
    503 makes it try again) and orders. A test that is not one of the lenses is refused at
    once and queues nothing."""
    with FakeGreenhouse(client_id=KEYS["client_id"], client_secret=KEYS["client_secret"]) as gh:
        recruiter = gh.add_user("Robin", "Recruiter", "robin@acme.example")
        job = gh.add_job("Account Executive", department="Sales")
        application = gh.add_application(gh.add_candidate("Ada", "L", "ada@example.com"), job)
        config = GreenhouseConfig(
            harvest_url=gh.url,
            auth_url=gh.url,
            oauth=OAuthSettings(
                client_id=KEYS["client_id"],
                client_secret=Secret("env:CS", KEYS["client_secret"]),
                user_id=recruiter,
            ),
            partner=PartnerSettings(
                api_key=Secret("test", KEYS["partner_key"]),
                completion_hosts=("127.0.0.1",),
                allow_http_completion=True,
            ),
        )
        context = RecordingContext("acme")
        connector = GreenhouseConnector(config, context)
        try:
            with BackgroundServer(connector.wsgi_app()) as server:
                gh.connect_partner(server.url, KEYS["partner_key"])
                gh.fail_next(1, 503, path="/v3/applications")
                interview = gh.send_test(application, GENERAL)
                assert gh.requests == []  # answered before Harvest was called
                assert list(context.queued) == [f"send_test:{interview}"]
                assert gh.test_status(interview) == (200, IN_PROGRESS)
                [(_, failed)] = context.run_events(connector)
                assert isinstance(failed, RetryableError)
                assert context.invited == []
                [(_, handled)] = context.run_events(connector)
                assert handled is None
                (invitation,) = context.invited
                assert invitation.application_id == interview
                assert (invitation.job.title, invitation.job.department) == (
                    "Account Executive",
                    "Sales",
                )
                assert invitation.lens == GENERAL
                assert gh.test_status(interview) == (200, IN_PROGRESS)

                http = urllib3.PoolManager(retries=False)
                url = f"{gh.url}/integrations/testing_partners/take_home_tests/99"
                body = send_test_body(url, partner_test_id="no-such-test")
                status, data, _ = post(http, f"{server.url}/send_test", body)
                assert status == 422, data
                assert data["errors"] == [
                    "no test 'no-such-test' (list_tests lists them) @ $.partner_test_id"
                ]
                assert len(context.queued) == 1
        finally:
            connector.close()
            context.close()
