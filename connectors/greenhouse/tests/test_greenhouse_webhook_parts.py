"""The web hook side without the daemon: Greenhouse's signature scheme, reading
`candidate_stage_change` (Greenhouse's documented example verbatim, broken and arbitrary
payloads), stage rules, the endpoint's answers over HTTP on 127.0.0.1 (a stage change that
orders is queued once per `Greenhouse-Event-ID` and answered 200 at once), and the queued
event's handling (the hiring team read through Harvest then, retried when Harvest fails)."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest
import urllib3
from greenhouse_parts import SECRET, make_config
from greenhouse_world import KEYS
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from assessio_connect import (
    ConfigError,
    InboundEvent,
    MalformedSignatureError,
    MissingSignatureError,
    PayloadError,
    PermanentError,
    Request,
    RetryableError,
    Secret,
    SignatureMismatchError,
)
from assessio_connect.testing import BackgroundServer, RecordingContext
from assessio_connect_greenhouse import (
    EVENT_ID_HEADER,
    SIGNATURE,
    GreenhouseConfig,
    GreenhouseConnector,
    StageTrigger,
    WebhookSettings,
    parse_stage_change,
)
from assessio_connect_greenhouse.fake import FakeGreenhouse

FIXTURES = Path(__file__).parent / "fixtures"


def documented_example() -> bytes:
    """Greenhouse's `candidate_stage_change` example, byte for byte (grnhse/greenhouse-api-docs,
    source/includes/webhooks/_candidate_events.md; see fixtures/README.md)."""
    return (FIXTURES / "candidate_stage_change.json").read_bytes()


def signed(body: bytes, signature: str | None) -> Request:
    headers = {} if signature is None else {SIGNATURE.header: signature}
    return Request("POST", "/webhook", headers=headers, body=body)


def test_signatures_follow_greenhouses_scheme() -> None:
    # Greenhouse signs the body as sent, \u-escaped unicode included
    # (grnhse/greenhouse-api-docs, source/includes/webhooks/_introduction.md).
    body = b'{"action":"ping","payload":{"note":"\\u003cp\\u003eh\\u00e9\\u003c/p\\u003e"}}'
    signature = SIGNATURE.sign(body, SECRET)
    assert SIGNATURE.header == "Signature"
    # Greenhouse's formula: OpenSSL::HMAC.hexdigest(sha256, secret_key, body), after "sha256 ".
    assert signature == "sha256 " + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    SIGNATURE.verify(signed(body, signature), SECRET)
    SIGNATURE.verify(signed(body, signature.upper().replace("SHA256", "sha256")), SECRET)
    with pytest.raises(MissingSignatureError, match="no Signature header"):
        SIGNATURE.verify(signed(body, None), SECRET)
    with pytest.raises(MalformedSignatureError, match="must look like"):
        SIGNATURE.verify(signed(body, "sha1 abc"), SECRET)
    with pytest.raises(SignatureMismatchError, match="does not match"):
        SIGNATURE.verify(signed(body + b" ", signature), SECRET)
    with pytest.raises(SignatureMismatchError, match="does not match"):
        SIGNATURE.verify(signed(body, SIGNATURE.sign(body, "other")), SECRET)


def test_greenhouses_documented_stage_change_is_read() -> None:
    change = parse_stage_change(json.loads(documented_example()))
    assert (change.application_id, change.candidate_id, change.job_id) == (
        "265277",
        "265772",
        "3485",
    )
    assert (change.stage_id, change.stage_name) == ("71416", "Assessment")
    assert change.email == "giuseppe.hurley@example.com"
    assert change.candidate_name == "Giuseppe Hurley"
    assert (change.job_name, change.department) == ("Designer", "Community")
    assert not change.prospect


def stage_change(**application: Any) -> dict[str, Any]:
    """The documented example with `application` keys replaced."""
    data: dict[str, Any] = json.loads(documented_example())
    data["payload"]["application"].update(application)
    return data


def test_the_personal_address_wins_and_an_invalid_one_is_skipped() -> None:
    both = stage_change()
    both["payload"]["application"]["candidate"]["email_addresses"] = [
        {"value": "work@example.com", "type": "work"},
        {"value": "giuseppe@example.com", "type": "personal"},
    ]
    assert parse_stage_change(both).email == "giuseppe@example.com"
    only_work = stage_change()
    only_work["payload"]["application"]["candidate"]["email_addresses"] = [
        {"value": "not an address", "type": "personal"},
        {"value": "work@example.com", "type": "work"},
    ]
    assert parse_stage_change(only_work).email == "work@example.com"


def test_a_broken_stage_change_lists_every_problem() -> None:
    with pytest.raises(PayloadError) as caught:
        parse_stage_change(
            stage_change(id=True, candidate={"first_name": 3}, jobs={"id": 1}, current_stage=[])
        )
    assert caught.value.problems == (
        "expected an id, got boolean @ $.payload.application.id",
        "expected an object, got array @ $.payload.application.current_stage",
        "required field missing @ $.payload.application.candidate.id",
        "expected a string, got number @ $.payload.application.candidate.first_name",
        "expected an array, got object @ $.payload.application.jobs",
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["payload", "application", "id", "candidate", "jobs", "current_stage"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_any_json_is_read_or_refused_with_payload_error(data: Any) -> None:
    problems: tuple[str, ...] = ()
    try:
        parse_stage_change(data)
    except PayloadError as exc:
        problems = exc.problems
        if not problems:
            raise AssertionError("a PayloadError without a problem") from exc
    assert all(" @ $" in problem for problem in problems)


def test_stage_triggers_match_by_name_id_and_job() -> None:
    by_name = StageTrigger(name=" assessment ")
    assert by_name.matches("1", "Assessment", "7")
    assert not by_name.matches("1", "Assessments", "7")
    by_id = StageTrigger(id=71416, jobs=(7, 8))
    assert by_id.matches("71416", "Anything", "8")
    assert not by_id.matches("71416", "Anything", "9")
    assert not by_id.matches("71417", "Assessment", "7")
    with pytest.raises(ValueError, match="exactly one of name"):
        StageTrigger(name="A", id=1)
    with pytest.raises(ValueError, match="exactly one of name"):
        StageTrigger()


@attrs.define
class Endpoint:
    """The connector's routes mounted as the daemon mounts them, with a recording context."""

    url: str
    context: RecordingContext
    connector: GreenhouseConnector

    def handle_queued(self) -> list[Exception | None]:
        """Hand the queued events to `handle_event`, as the inbound worker would; what each
        call raised."""
        return [raised for _, raised in self.context.run_events(self.connector)]


@contextmanager
def serving(config: GreenhouseConfig) -> Iterator[Endpoint]:
    context = RecordingContext("acme")
    connector = GreenhouseConnector(config, context)

    def not_found(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("404 Not Found", [])
        return [b""]

    mounted = DispatcherMiddleware(not_found, {"/connectors/acme": connector.wsgi_app()})
    try:
        with BackgroundServer(mounted) as server:
            yield Endpoint(f"{server.url}/connectors/acme", context, connector)
    finally:
        connector.close()
        context.close()


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    """Web hook mode with two stage rules; Harvest is never reached (nothing listens)."""
    stages = (StageTrigger(name="Assessment"), StageTrigger(id=5, jobs=(3485,)))
    config = make_config(
        "http://127.0.0.1:9",
        webhook=WebhookSettings(secret_key=Secret("env:WEBHOOK", SECRET), stages=stages),
    )
    with serving(config) as served:
        yield served


def deliver(
    url: str, data: Any, method: str = "POST", *, event_id: str | None = None
) -> tuple[int, Any]:
    """Send `data` as Greenhouse does: signed, with a new `Greenhouse-Event-ID` unless given
    ("" sends none)."""
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    headers = {SIGNATURE.header: SIGNATURE.sign(body, SECRET)}
    event_id = str(uuid.uuid4()) if event_id is None else event_id
    if event_id:
        headers[EVENT_ID_HEADER] = event_id
    response = urllib3.PoolManager(retries=False).request(
        method, f"{url}/webhook", body=body, headers=headers
    )
    return response.status, json.loads(response.data)


def test_the_web_hook_endpoint_orders_only_for_assessment_stages(endpoint: Endpoint) -> None:
    url, context = endpoint.url, endpoint.context
    assert deliver(url, {"action": "ping", "payload": {"web_hook_id": 1}}) == (
        200,
        {"status": "ok"},
    )
    status, data = deliver(url, {"action": "hire_candidate", "payload": {}})
    assert (status, data["status"]) == (200, "ignored")
    screen = stage_change(current_stage={"id": 4, "name": "Phone Screen"})
    assert deliver(url, screen)[1] == {
        "status": "ignored",
        "reason": "stage 'Phone Screen' does not order an assessment",
    }
    other_job = stage_change(current_stage={"id": 5, "name": "Take Home"})
    other_job["payload"]["application"]["jobs"][0]["id"] = 1
    assert deliver(url, other_job)[1]["status"] == "ignored"
    prospect = stage_change(prospect=True, jobs=[])
    assert deliver(url, prospect)[1]["reason"] == "a prospect application (no job stage)"
    assert context.queued == {}  # what orders nothing is not queued

    status, data = deliver(
        url, stage_change(current_stage={"id": 5, "name": "Take Home"}), event_id="evt-1"
    )
    assert (status, data) == (200, {"status": "accepted", "event_id": "evt-1"})
    assert context.invited == []  # ordered later, by the queued event's handler
    assert endpoint.handle_queued() == [None]
    (order,) = context.orders.values()
    status, data = deliver(url, documented_example(), event_id="evt-2")  # the same application
    assert (status, data["status"]) == (200, "accepted")
    assert endpoint.handle_queued() == [None]
    (invitation,) = context.invited  # the second event found the order: nothing invited
    assert invitation.application_id == "265277"
    assert invitation.job.department == "Community"
    assert invitation.candidate.email == "giuseppe.hurley@example.com"
    assert invitation.metadata == {"mode": "webhook", "stage": "Take Home"}
    assert [e["result_id"] for e in context.events("greenhouse.stage_change")] == [
        order.result_id,
        order.result_id,
    ]


def test_a_redelivered_event_is_queued_once(endpoint: Endpoint) -> None:
    url, context = endpoint.url, endpoint.context
    first = deliver(url, documented_example(), event_id="evt-7")
    again = deliver(url, documented_example(), event_id="evt-7")
    assert (first, again) == (
        (200, {"status": "accepted", "event_id": "evt-7"}),
        (200, {"status": "duplicate", "event_id": "evt-7"}),
    )
    assert list(context.queued) == ["evt-7"]
    assert len(context.events("greenhouse.webhook_duplicate")) == 1
    assert endpoint.handle_queued() == [None]
    assert len(context.orders) == 1


def test_the_web_hook_endpoint_explains_what_it_cannot_use(endpoint: Endpoint) -> None:
    url, context = endpoint.url, endpoint.context
    no_email = stage_change()
    no_email["payload"]["application"]["candidate"]["email_addresses"] = []
    status, data = deliver(url, no_email)
    assert (status, data["message"]) == (
        422,
        "candidate 265772 has no valid e-mail address to invite",
    )
    status, data = deliver(url, documented_example(), event_id="")
    assert (status, data["errors"]) == (422, ["the event has no id (its key is empty)"])
    status, data = deliver(url, b"{not json")
    assert status == 400
    assert "not valid JSON" in data["message"]
    status, data = deliver(url, {"action": "candidate_stage_change", "payload": {}})
    assert (status, data["errors"]) == (
        422,
        ["required field missing @ $.payload.application"],
    )
    assert deliver(url, {}, method="PUT")[0] == 405
    http = urllib3.PoolManager(retries=False)
    assert http.request("GET", f"{url}/nowhere").status == 404
    assert http.request("GET", f"{url}/list_tests").status == 404  # partner mode is off
    assert http.request("GET", f"{url}/oauth/callback").status == 404  # not a partner app
    assert context.invited == []
    assert context.queued == {}


def test_greenhouse_is_answered_before_harvest_is_read_and_harvest_failures_are_retried() -> None:
    """With `hiring_team_collaborators`, the route answers Greenhouse 200 without a Harvest
    call; the queued event reads the hiring team, and Harvest's 503 makes it try again."""
    with FakeGreenhouse(client_id=KEYS["client_id"], client_secret=KEYS["client_secret"]) as gh:
        recruiter = gh.add_user("Robin", "Recruiter", "robin@acme.example")
        manager = gh.add_user("Hana", "Manager", "hana@acme.example")
        job = gh.add_job(
            "Backend Engineer",
            hiring_team={"hiring_managers": [manager], "recruiters": [recruiter]},
        )
        application = gh.add_application(gh.add_candidate("Ada", "L", "ada@example.com"), job)
        config = make_config(gh.url, user_id=recruiter, hiring_team_collaborators=True)
        with serving(config) as endpoint:
            gh.configure_webhook(f"{endpoint.url}/webhook", SECRET)
            gh.fail_next(1, 503, path="/v3/job_hiring_managers")
            event_id = gh.move_to_stage(application, "Assessment")
            assert [(d.event_id, d.status) for d in gh.deliveries][-1] == (event_id, 200)
            assert gh.requests == []  # Greenhouse was answered before Harvest was called
            context = endpoint.context
            assert list(context.queued) == [event_id]
            [failed] = endpoint.handle_queued()
            assert isinstance(failed, RetryableError)
            assert "HTTP 503" in str(failed)
            assert context.invited == []
            assert endpoint.handle_queued() == [None]
            (invitation,) = context.invited
            assert sorted(invitation.job.hiring_team) == ["hana@acme.example", "robin@acme.example"]
            assert endpoint.handle_queued() == []  # handled: nothing pending


def test_a_queued_event_that_cannot_order_is_dead_lettered_with_what_to_do(
    endpoint: Endpoint,
) -> None:
    """The tenant's rules fit no lens, or the queued bytes are unreadable: retrying cannot
    help, so `PermanentError` says what to fix."""
    connector, context = endpoint.connector, endpoint.context
    context.invite_error = ConfigError(["no lens fits job 3485"])
    event = InboundEvent("evt-9", documented_example())
    with pytest.raises(PermanentError, match="fix the tenant's \\[assessment\\] rules"):
        connector.handle_event(event)
    with pytest.raises(PermanentError, match="queued Greenhouse web hook evt-10"):
        connector.handle_event(InboundEvent("evt-10", b'{"payload": {}}'))
