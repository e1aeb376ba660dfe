"""The web hook side without the daemon: Greenhouse's signature scheme, the memory of event
ids, reading `candidate_stage_change` (Greenhouse's documented example verbatim, broken and
arbitrary payloads), stage rules, and the endpoint's answers over HTTP on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
from greenhouse_parts import SECRET, make_config
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from assessio_connect import (
    MalformedSignatureError,
    MissingSignatureError,
    PayloadError,
    Request,
    Secret,
    SignatureMismatchError,
)
from assessio_connect.testing import BackgroundServer, RecordingContext
from assessio_connect_greenhouse import (
    SIGNATURE,
    GreenhouseConnector,
    StageTrigger,
    WebhookSettings,
    parse_stage_change,
)
from assessio_connect_greenhouse._webhook import RecentEvents

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


def test_recent_events_forget_the_oldest() -> None:
    events = RecentEvents(size=2)
    for event in ("a", "b", "c"):
        events.add(event)
    assert "a" not in events
    assert "b" in events
    assert "c" in events
    assert len(events) == 2


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


@pytest.fixture
def endpoint() -> Iterator[tuple[str, RecordingContext]]:
    """The connector's routes mounted as the daemon mounts them, with a recording context."""
    context = RecordingContext("acme")
    stages = (StageTrigger(name="Assessment"), StageTrigger(id=5, jobs=(3485,)))
    config = make_config(
        "http://127.0.0.1:9",
        webhook=WebhookSettings(secret_key=Secret("env:WEBHOOK", SECRET), stages=stages),
    )
    connector = GreenhouseConnector(config, context)

    def not_found(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("404 Not Found", [])
        return [b""]

    mounted = DispatcherMiddleware(not_found, {"/connectors/acme": connector.wsgi_app()})
    with BackgroundServer(mounted) as server:
        yield f"{server.url}/connectors/acme", context
    connector.close()
    context.close()


def deliver(url: str, data: Any, method: str = "POST") -> tuple[int, Any]:
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    response = urllib3.PoolManager(retries=False).request(
        method,
        f"{url}/webhook",
        body=body,
        headers={SIGNATURE.header: SIGNATURE.sign(body, SECRET)},
    )
    return response.status, json.loads(response.data)


def test_the_web_hook_endpoint_orders_only_for_assessment_stages(
    endpoint: tuple[str, RecordingContext],
) -> None:
    url, context = endpoint
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
    assert context.invited == []

    status, data = deliver(url, stage_change(current_stage={"id": 5, "name": "Take Home"}))
    (order,) = context.orders.values()
    assert (status, data["status"], data["result_id"]) == (200, "ordered", order.result_id)
    status, data = deliver(url, documented_example())  # the same application again
    assert (status, data["result_id"]) == (200, order.result_id)
    (invitation,) = context.invited
    assert invitation.application_id == "265277"
    assert invitation.job.department == "Community"
    assert invitation.candidate.email == "giuseppe.hurley@example.com"
    assert invitation.metadata == {"mode": "webhook", "stage": "Take Home"}


def test_the_web_hook_endpoint_explains_what_it_cannot_use(
    endpoint: tuple[str, RecordingContext],
) -> None:
    url, context = endpoint
    no_email = stage_change()
    no_email["payload"]["application"]["candidate"]["email_addresses"] = []
    status, data = deliver(url, no_email)
    assert (status, data["message"]) == (
        422,
        "candidate 265772 has no valid e-mail address to invite",
    )
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
