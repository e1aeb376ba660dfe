"""The reference connector against its fake ATS over real HTTP on 127.0.0.1: signed events in,
paged polling, result write-back with its status mapping, the connection check and the config."""

from __future__ import annotations

import email.utils
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
from hypothesis import given, settings
from hypothesis import strategies as st

from assessio_connect.contract.errors import (
    ConfigError,
    PayloadError,
    PermanentError,
    RetryableError,
    StoreUnavailableError,
)
from assessio_connect.contract.models import (
    AssessioConfig,
    AssessmentOrder,
    CandidateDetails,
    Lens,
    Recruitment,
    Result,
)
from assessio_connect.contract.transport import Transport
from assessio_connect.reference import (
    MAX_EVENT_BYTES,
    SIGNATURE_HEADER,
    AtsWrite,
    ReferenceAts,
    ReferenceConfig,
    ReferenceConnector,
    parse_invitation,
    sign,
)
from assessio_connect.runtime._routing import DaemonApp
from assessio_connect.runtime._server import BackgroundServer
from assessio_connect.runtime.config import Secret, parse_config
from assessio_connect.runtime.connector import Invitation, Pushback
from assessio_connect.runtime.connector_state import MemoryState
from assessio_connect.store import OrderRecord, OrderState, ResultRecord

TOKEN = "ats-token-5e5e5e"
WEBHOOK = "ats-webhook-secret-7a7a7a"
NOW = 1_700_000_000.0
JOB = {
    "id": "job-7",
    "title": "Backend Engineer",
    "description": "Builds things",
    "department": "Engineering",
    "hiring_team": ["lead@acme.example"],
}
CANDIDATE = {"id": "cand-1", "email": "ada@example.com", "name": "Ada Lovelace"}


# -- a hand-made ConnectorContext ---------------------------------------------------------


class Context:
    """Records invitations, queued events and log lines; makes one OrderRecord per
    application id."""

    tenant = "acme"

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.invited: list[Invitation] = []
        self.orders: dict[str, OrderRecord] = {}
        self.logs: list[tuple[str, dict[str, Any]]] = []
        self.invite_error: Exception | None = None
        self.queued: dict[str, bytes] = {}
        self.state = MemoryState(clock=lambda: NOW)

    def now(self) -> float:
        return NOW

    def log(self, event: str, **fields: Any) -> None:
        self.logs.append((event, fields))

    def invite(self, invitation: Invitation) -> OrderRecord:
        if self.invite_error is not None:
            raise self.invite_error
        self.invited.append(invitation)
        known = self.orders.get(invitation.application_id)
        if known is None:
            known = order_record(invitation.application_id, f"result-{len(self.orders) + 1}")
            self.orders[invitation.application_id] = known
        return known

    def enqueue(self, key: str, payload: bytes, *, headers: Any = None) -> bool:
        known = key in self.queued
        self.queued.setdefault(key, payload)
        return not known

    def find_order(self, application_id: str) -> OrderRecord | None:
        return self.orders.get(application_id)

    def latest_result(self, result_id: str) -> ResultRecord | None:
        return None

    def assessio_config(self) -> AssessioConfig:
        return AssessioConfig([Lens("lens-1", "General Performance")], ["en-GB"])


def order_record(application_id: str, result_id: str) -> OrderRecord:
    order = AssessmentOrder(
        recruitment=Recruitment(id="rec-1", title="Backend Engineer"),
        result_update_url=f"http://127.0.0.1:9/results/acme/{result_id}",
        result_id=result_id,
        lens_id="lens-1",
        locale="en-GB",
        candidate_details=CandidateDetails(email="ada@example.com"),
    )
    return OrderRecord(
        tenant="acme",
        application_id=application_id,
        result_id=result_id,
        job_id="job-7",
        candidate_id="cand-1",
        order=order,
        metadata={},
        state=OrderState.PENDING,
        reference=None,
        attempts=0,
        next_attempt_at=NOW,
        last_error=None,
        created_at=NOW,
        updated_at=NOW,
    )


def pushback(application_id: str, version: int = 1, score: int = 71) -> Pushback:
    record = order_record(application_id, f"result-of-{application_id}")
    result = Result(
        result_id=record.result_id,
        score=score,
        subscores={"drive": 80, "focus": 62},
        recruitment_url="https://assessio.example/r/1",
        assessment_report_url="https://assessio.example/report/1",
    )
    return Pushback(order=record, result=result, version=version, attempt=1)


# -- fixtures -----------------------------------------------------------------------------


@pytest.fixture
def transport() -> Iterator[Transport]:
    built = Transport(connect_timeout=2.0, read_timeout=5.0, clock=lambda: NOW)
    yield built
    built.close()


@pytest.fixture
def context(transport: Transport) -> Context:
    return Context(transport)


@pytest.fixture
def ats() -> Iterator[ReferenceAts]:
    with ReferenceAts(api_token=TOKEN, webhook_secret=WEBHOOK) as fake:
        yield fake


@pytest.fixture
def http() -> Iterator[urllib3.PoolManager]:
    pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2.0, read=5.0))
    yield pool
    pool.clear()


def make_config(base_url: str, **options: Any) -> ReferenceConfig:
    options.setdefault("webhook_secret", Secret("env:WEBHOOK", WEBHOOK))
    token = options.pop("token", TOKEN)
    return ReferenceConfig(base_url=base_url, api_token=Secret("env:TOKEN", token), **options)


def not_found(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not here"]


@pytest.fixture
def events_url(ats: ReferenceAts, context: Context) -> Iterator[str]:
    """The connector's events endpoint, mounted the way the daemon mounts it."""
    connector = ReferenceConnector(make_config(ats.url), context)
    with BackgroundServer(DaemonApp(not_found, {"acme": connector.wsgi_app()})) as server:
        yield f"{server.url}/connectors/acme/events"


def post(
    http: urllib3.PoolManager, url: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any], urllib3.BaseHTTPResponse]:
    response = http.request("POST", url, body=body, headers=headers or {})
    return response.status, json.loads(response.data), response


def signed(body: bytes, secret: str = WEBHOOK) -> dict[str, str]:
    return {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, secret)}


def event(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": "evt-1",
        "application_id": "app-1",
        "job": dict(JOB),
        "candidate": dict(CANDIDATE),
        "lens": "General Performance",
        "locale": "en-GB",
    }
    body.update(changes)
    return body


# -- push: the events endpoint ------------------------------------------------------------


def test_signed_event_invites_and_answers_202(
    ats: ReferenceAts, events_url: str, context: Context
) -> None:
    body = ats.add_invitation("app-1", job=JOB, candidate=CANDIDATE, lens="Leadership")
    assert ats.push_event(events_url, body) == 202
    assert len(context.invited) == 1
    invitation = context.invited[0]
    assert invitation.application_id == "app-1"
    assert invitation.job.id == "job-7"
    assert invitation.job.title == "Backend Engineer"
    assert invitation.job.description == "Builds things"
    assert invitation.job.department == "Engineering"
    assert invitation.job.hiring_team == ("lead@acme.example",)
    assert invitation.candidate.email == "ada@example.com"
    assert invitation.candidate.name == "Ada Lovelace"
    assert invitation.lens == "Leadership"
    assert invitation.locale is None


def test_repeated_event_answers_the_same_order(
    events_url: str, context: Context, http: urllib3.PoolManager
) -> None:
    raw = json.dumps(event()).encode()
    first = post(http, events_url, raw, signed(raw))
    again = post(http, events_url, raw, signed(raw))
    assert first[0] == again[0] == 202
    assert (
        first[1]
        == again[1]
        == {
            "application_id": "app-1",
            "result_id": "result-1",
            "state": "pending",
        }
    )
    assert len(context.orders) == 1


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({}, f"no {SIGNATURE_HEADER} header"),
        ({SIGNATURE_HEADER: "deadbeef"}, "must look like"),
        ({SIGNATURE_HEADER: "sha256=" + "0" * 64}, "does not match"),
        ({SIGNATURE_HEADER: "sha256=é"}, "is not hex"),
        ("wrong-secret", "does not match"),
    ],
)
def test_bad_or_missing_signature_is_401(
    events_url: str,
    context: Context,
    http: urllib3.PoolManager,
    headers: dict[str, str] | str,
    why: str,
) -> None:
    raw = json.dumps(event()).encode()
    sent = signed(raw, "another-secret") if headers == "wrong-secret" else headers
    assert isinstance(sent, dict)
    status, answer, _ = post(http, events_url, raw, sent)
    assert status == 401
    assert why in answer["error"]
    assert WEBHOOK not in answer["error"]
    assert context.invited == []
    assert ("reference.refused", 401, answer["error"]) in [
        (name, fields.get("status"), fields.get("reason")) for name, fields in context.logs
    ]


def test_signature_covers_the_exact_bytes(
    events_url: str, context: Context, http: urllib3.PoolManager
) -> None:
    raw = json.dumps(event()).encode()
    tampered = raw.replace(b"app-1", b"app-2")
    status, _, _ = post(http, events_url, tampered, signed(raw))
    assert status == 401
    assert context.invited == []


def test_bad_json_is_400(events_url: str, context: Context, http: urllib3.PoolManager) -> None:
    for raw in (b'{"event_id": ', b"\xff\xfe", b""):
        status, answer, _ = post(http, events_url, raw, signed(raw))
        assert status == 400, raw
        assert "not valid" in answer["error"]
    assert context.invited == []


def test_a_body_that_is_not_json_by_its_content_type_is_415(
    events_url: str, context: Context, http: urllib3.PoolManager
) -> None:
    raw = json.dumps(event()).encode()
    headers = {**signed(raw), "Content-Type": "text/plain"}
    status, answer, _ = post(http, events_url, raw, headers)
    assert status == 415
    assert "application/json" in answer["error"]
    assert context.invited == []


def test_missing_and_invalid_fields_are_422_with_every_problem(
    events_url: str, context: Context, http: urllib3.PoolManager
) -> None:
    body = event(candidate={"id": "cand-1", "email": "not-an-email"})
    del body["application_id"]
    del body["job"]["title"]
    body["job"]["hiring_team"] = ["ok@acme.example", 7]
    raw = json.dumps(body).encode()
    status, answer, _ = post(http, events_url, raw, signed(raw))
    assert status == 422
    problems = answer["problems"]
    assert "required field missing @ $.application_id" in problems
    assert "required field missing @ $.job.title" in problems
    assert any(p.endswith("@ $.candidate.email") for p in problems)
    assert any(p.endswith("@ $.job.hiring_team[1]") for p in problems)
    assert len(problems) == 4
    assert context.invited == []


def test_oversize_body_is_413_before_the_signature(
    events_url: str, context: Context, http: urllib3.PoolManager
) -> None:
    raw = json.dumps(event(padding="x" * MAX_EVENT_BYTES)).encode()
    status, answer, _ = post(http, events_url, raw, signed(raw))
    assert status == 413
    assert str(MAX_EVENT_BYTES) in answer["error"]
    assert context.invited == []


def test_other_routes_and_methods(events_url: str, http: urllib3.PoolManager) -> None:
    wrong_method = http.request("GET", events_url)
    assert wrong_method.status == 405
    assert wrong_method.headers["Allow"] == "POST"
    assert http.request("POST", events_url + "/more").status == 404


def test_invite_failures_map_to_503_and_422(
    events_url: str, context: Context, http: urllib3.PoolManager
) -> None:
    raw = json.dumps(event()).encode()
    context.invite_error = RetryableError("Assessio is down", retry_after=12.5)
    status, answer, response = post(http, events_url, raw, signed(raw))
    assert (status, response.headers["Retry-After"]) == (503, "13")
    assert "try again later" in answer["error"]
    assert ("reference.refused", "Assessio is down") in [
        (name, fields.get("reason")) for name, fields in context.logs
    ]
    context.invite_error = StoreUnavailableError("locked")
    status, _, response = post(http, events_url, raw, signed(raw))
    assert (status, response.headers["Retry-After"]) == (503, "5")
    context.invite_error = ConfigError(["lens 'Nope' is not available"], source="tenant acme")
    status, answer, _ = post(http, events_url, raw, signed(raw))
    assert status == 422
    assert answer["problems"] == ["lens 'Nope' is not available"]
    context.invite_error = RuntimeError("bug")
    status, answer, _ = post(http, events_url, raw, signed(raw))
    assert status == 500
    assert "bug" not in answer["error"]
    assert ("reference.failed", "RuntimeError: bug") in [
        (name, fields.get("reason")) for name, fields in context.logs
    ]


def test_wsgi_app_needs_a_webhook_secret(ats: ReferenceAts, context: Context) -> None:
    connector = ReferenceConnector(make_config(ats.url, webhook_secret=None, poll=True), context)
    assert not connector.is_push
    assert connector.is_pull
    with pytest.raises(ConfigError, match="webhook_secret"):
        connector.wsgi_app()


# -- pull: paging ---------------------------------------------------------------------------


def test_poll_pages_with_a_cursor_and_resumes(ats: ReferenceAts, context: Context) -> None:
    for n in range(5):
        ats.add_invitation(f"app-{n}", job=JOB, candidate={"id": f"c{n}", "email": f"c{n}@x.io"})
    config = make_config(ats.url, webhook_secret=None, poll=True, page_size=2)
    connector = ReferenceConnector(config, context)
    first = connector.poll(None)
    second = connector.poll(first.cursor)
    third = connector.poll(second.cursor)
    assert [[i.application_id for i in p.invitations] for p in (first, second, third)] == [
        ["app-0", "app-1"],
        ["app-2", "app-3"],
        ["app-4"],
    ]
    assert [p.more for p in (first, second, third)] == [True, True, False]
    assert [p.cursor for p in (first, second, third)] == ["2", "4", "5"]
    idle = connector.poll(third.cursor)
    assert (idle.invitations, idle.cursor, idle.more) == ((), "5", False)
    # A new connector (a restarted daemon) resumes from a saved cursor.
    resumed = ReferenceConnector(config, Context(context.transport)).poll(first.cursor)
    assert [i.application_id for i in resumed.invitations] == ["app-2", "app-3"]
    ats.add_invitation("app-5", job=JOB, candidate=CANDIDATE)
    later = connector.poll(idle.cursor)
    assert [i.application_id for i in later.invitations] == ["app-5"]
    assert later.cursor == "6"


def test_poll_skips_an_unreadable_item_and_moves_on(ats: ReferenceAts, context: Context) -> None:
    ats.add_invitation("app-bad", job={"id": "job-1"}, candidate=CANDIDATE)
    ats.add_invitation("app-good", job=JOB, candidate=CANDIDATE)
    connector = ReferenceConnector(make_config(ats.url, poll=True), context)
    page = connector.poll(None)
    assert [i.application_id for i in page.invitations] == ["app-good"]
    assert page.cursor == "2"
    skipped = [fields for name, fields in context.logs if name == "reference.invitation_skipped"]
    assert skipped[0]["application_id"] == "app-bad"
    assert "$.job.title" in skipped[0]["problems"]


def test_poll_with_a_refused_token_is_permanent(ats: ReferenceAts, context: Context) -> None:
    connector = ReferenceConnector(make_config(ats.url, poll=True, token="wrong"), context)
    with pytest.raises(PermanentError, match="api_token was refused") as caught:
        connector.poll(None)
    assert "401" in str(caught.value)


# -- write-back ---------------------------------------------------------------------------


def connector_for(ats: ReferenceAts, context: Context, **options: Any) -> ReferenceConnector:
    return ReferenceConnector(make_config(ats.url, **options), context)


def test_push_result_writes_the_result(ats: ReferenceAts, context: Context) -> None:
    ats.add_invitation("app/1 ü", job=JOB, candidate=CANDIDATE)  # ids travel percent-encoded
    connector_for(ats, context).push_result(pushback("app/1 ü"))
    assert ats.results["app/1 ü"] == {
        "result_id": "result-of-app/1 ü",
        "version": 1,
        "score": 71,
        "subscores": {"drive": 80, "focus": 62},
        "report_url": "https://assessio.example/report/1",
        "recruitment_url": "https://assessio.example/r/1",
    }
    assert [(w.status, w.changed) for w in ats.writes] == [(200, True)]


def test_same_version_twice_is_harmless(ats: ReferenceAts, context: Context) -> None:
    ats.add_invitation("app-1", job=JOB, candidate=CANDIDATE)
    connector = connector_for(ats, context)
    connector.push_result(pushback("app-1", version=1))
    connector.push_result(pushback("app-1", version=1))
    assert [(w.status, w.changed) for w in ats.writes] == [(200, True), (200, False)]
    assert ats.results["app-1"]["version"] == 1


def test_stale_version_counts_as_delivered(ats: ReferenceAts, context: Context) -> None:
    ats.add_invitation("app-1", job=JOB, candidate=CANDIDATE)
    connector = connector_for(ats, context)
    connector.push_result(pushback("app-1", version=2, score=90))
    connector.push_result(pushback("app-1", version=1, score=40))  # no exception
    assert [w.status for w in ats.writes] == [200, 409]
    assert ats.results["app-1"]["score"] == 90
    assert any(name == "reference.result_stale" for name, _ in context.logs)


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_overload_and_server_errors_are_retryable(
    ats: ReferenceAts, context: Context, status: int
) -> None:
    ats.add_invitation("app-1", job=JOB, candidate=CANDIDATE)
    ats.fail_next(1, status=status)
    connector = connector_for(ats, context)
    with pytest.raises(RetryableError, match=f"HTTP {status}") as caught:
        connector.push_result(pushback("app-1"))
    assert "injected failure" in str(caught.value)
    connector.push_result(pushback("app-1"))  # the failure was used up
    assert [w.status for w in ats.writes] == [status, 200]


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [(7, 7.0), (email.utils.formatdate(NOW + 30, usegmt=True), 30.0)],
)
def test_429_carries_retry_after_in_seconds_or_as_a_date(
    ats: ReferenceAts, context: Context, retry_after: float | str, expected: float
) -> None:
    ats.add_invitation("app-1", job=JOB, candidate=CANDIDATE)
    ats.fail_next(1, status=429, retry_after=retry_after)
    with pytest.raises(RetryableError) as caught:
        connector_for(ats, context).push_result(pushback("app-1"))
    assert caught.value.retry_after == expected


def test_503_carries_retry_after(ats: ReferenceAts, context: Context) -> None:
    ats.add_invitation("app-1", job=JOB, candidate=CANDIDATE)
    ats.fail_next(1, status=503, retry_after=7)
    with pytest.raises(RetryableError) as caught:
        connector_for(ats, context).push_result(pushback("app-1"))
    assert caught.value.retry_after == 7.0


def test_unreachable_ats_is_retryable(context: Context) -> None:
    with ReferenceAts(api_token=TOKEN) as gone:
        url = gone.url
    connector = ReferenceConnector(make_config(url), context)
    with pytest.raises(RetryableError, match="could not write the result back"):
        connector.push_result(pushback("app-1"))


def test_refused_token_is_permanent_without_the_token(ats: ReferenceAts, context: Context) -> None:
    ats.add_invitation("app-1", job=JOB, candidate=CANDIDATE)
    with pytest.raises(PermanentError, match="api_token was refused") as caught:
        connector_for(ats, context, token="wrong-token").push_result(pushback("app-1"))
    assert "HTTP 401" in str(caught.value)
    assert "wrong-token" not in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert ats.writes[0].status == 401


def test_unknown_application_is_permanent(ats: ReferenceAts, context: Context) -> None:
    with pytest.raises(PermanentError, match="HTTP 404") as caught:
        connector_for(ats, context).push_result(pushback("app-unknown"))
    assert "no application 'app-unknown'" in str(caught.value)


@pytest.mark.parametrize("status", [400, 403, 409, 422])
def test_client_errors_are_permanent_until_healed(
    ats: ReferenceAts, context: Context, status: int
) -> None:
    ats.add_invitation("app-1", job=JOB, candidate=CANDIDATE)
    ats.fail_always(status)
    connector = connector_for(ats, context)
    for _ in range(2):
        with pytest.raises(PermanentError, match=f"HTTP {status}"):
            connector.push_result(pushback("app-1"))
    ats.heal()
    connector.push_result(pushback("app-1"))
    assert [w.status for w in ats.writes] == [status, status, 200]


# -- check ----------------------------------------------------------------------------------


def test_check_ok_and_with_a_bad_token(ats: ReferenceAts, context: Context) -> None:
    assert connector_for(ats, context).check() == f"reference ATS at {ats.url} answered"
    with pytest.raises(PermanentError, match="the api_token was refused"):
        connector_for(ats, context, token="nope").check()


def test_check_with_a_wrong_base_url(ats: ReferenceAts, context: Context) -> None:
    connector = ReferenceConnector(make_config(ats.url + "/not-the-api"), context)
    with pytest.raises(PermanentError, match="HTTP 404"):
        connector.check()


# -- the fake itself ----------------------------------------------------------------------


def test_fake_wait_for_writes_times_out_and_matches(ats: ReferenceAts, context: Context) -> None:
    with pytest.raises(TimeoutError, match="1 write-back"):
        ats.wait_for_writes(1, timeout=0.05)
    ats.add_invitation("app-1", job=JOB, candidate=CANDIDATE)
    connector_for(ats, context).push_result(pushback("app-1"))

    def accepted(writes: list[AtsWrite]) -> bool:
        return any(w.status == 200 for w in writes)

    assert ats.wait_for_writes(accepted, timeout=1)[0].application_id == "app-1"


def test_fake_rejects_bad_pages_and_hides_its_token(
    ats: ReferenceAts, http: urllib3.PoolManager
) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert http.request("GET", f"{ats.url}/api/invitations?after=x", headers=auth).status == 400
    assert http.request("GET", f"{ats.url}/api/invitations?limit=0", headers=auth).status == 400
    assert http.request("GET", f"{ats.url}/api/invitations").status == 401
    assert TOKEN not in repr(ats)
    assert WEBHOOK not in repr(ats)


# -- configuration ------------------------------------------------------------------------


def test_config_needs_a_style_and_sane_values() -> None:
    token = Secret("env:T", TOKEN)
    with pytest.raises(ValueError, match="webhook_secret"):
        ReferenceConfig(base_url="http://ats.example", api_token=token)
    with pytest.raises(ValueError, match="http:// or https://"):
        ReferenceConfig(base_url="ftp://ats.example", api_token=token, poll=True)
    with pytest.raises(ValueError, match="credentials"):
        ReferenceConfig(base_url="http://u:p@ats.example", api_token=token, poll=True)
    with pytest.raises(ValueError, match="page_size"):
        ReferenceConfig(base_url="http://ats.example", api_token=token, poll=True, page_size=0)
    with pytest.raises(ValueError, match="poll_interval"):
        ReferenceConfig(base_url="http://a.example", api_token=token, poll=True, poll_interval=0)
    config = ReferenceConfig(base_url="http://ats.example/", api_token=token, poll=True)
    assert config.base_url == "http://ats.example"
    assert TOKEN not in repr(config)


def test_config_is_read_from_the_tenant_ats_table(tmp_path: Path) -> None:
    text = """
[tenants.acme]
base_url = "http://127.0.0.1:9"
provider_key = { env = "PK" }
[tenants.acme.webhook]
api_keys = [{ env = "RESULT_KEY" }]
[tenants.acme.ats]
kind = "reference"
base_url = "http://127.0.0.1:10/"
api_token = { env = "ATS_TOKEN" }
webhook_secret = { env = "ATS_WEBHOOK" }
page_size = 5
"""
    values = {"PK": "pk-1234", "RESULT_KEY": "rk-1234", "ATS_TOKEN": TOKEN, "ATS_WEBHOOK": WEBHOOK}

    def parse(source: str) -> Any:
        return parse_config(
            source,
            source="test.toml",
            base_dir=tmp_path,
            connector_config=lambda kind: ReferenceConfig if kind == "reference" else None,
            resolve_secret=lambda scheme, name: values.get(name),
            known_kinds=["reference"],
        )

    ats = parse(text).tenants["acme"].ats
    assert isinstance(ats, ReferenceConfig)
    assert ats.base_url == "http://127.0.0.1:10"
    assert ats.api_token.reveal() == TOKEN
    assert ats.webhook_secret is not None
    assert ats.webhook_secret.reveal() == WEBHOOK
    assert (ats.poll, ats.page_size) == (False, 5)
    broken = text.replace('webhook_secret = { env = "ATS_WEBHOOK" }', "page_size_typo = 1")
    with pytest.raises(ConfigError) as caught:
        parse(broken)
    assert "page_size_typo" in str(caught.value)


# -- parsing, fuzzed ------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
ids = st.text(st.characters(codec="utf-8"), min_size=1, max_size=20).filter(str.strip)
emails = st.from_regex(r"[a-z0-9]{1,8}@[a-z]{1,8}\.[a-z]{2,4}", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(data=json_values, key=st.sampled_from(["job", "candidate", "application_id", "lens"]))
def test_parse_invitation_raises_only_payload_errors(data: Any, key: str) -> None:
    for candidate in (data, event(**{key: data})):
        try:
            parse_invitation(candidate)
        except PayloadError as exc:
            problems = exc.problems
        else:
            continue
        assert problems
        assert all(" @ $" in problem for problem in problems)


@settings(max_examples=100, deadline=None)
@given(
    application_id=ids,
    job_id=ids,
    title=ids,
    team=st.lists(emails, max_size=3),
    email=emails,
    lens=st.none() | ids,
)
def test_parse_invitation_reads_every_valid_event(
    application_id: str, job_id: str, title: str, team: list[str], email: str, lens: str | None
) -> None:
    body = event(
        application_id=application_id,
        job={"id": job_id, "title": title, "hiring_team": team},
        candidate={"id": "c", "email": email},
        lens=lens,
    )
    invitation = parse_invitation(json.loads(json.dumps(body)))
    assert invitation.application_id == application_id
    assert (invitation.job.id, invitation.job.title) == (job_id, title)
    assert invitation.job.hiring_team == tuple(team)
    assert invitation.candidate.email == email
    assert invitation.lens == lens
