"""Hireboard's documented examples, fed verbatim to the connector and to the fake.

The connector and `FakeHireboard` are written separately from `HIREBOARD-API.md`; these tests
hold each of them to the document itself (its example event, signature and result request),
so neither can agree with the other on something the document does not say.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import urllib3
from assessio_connect_hireboard import HireboardConfig, HireboardConnector, sign
from assessio_connect_hireboard.fake import FakeHireboard
from hypothesis import given
from hypothesis import strategies as st

from assessio_connect import ConnectorContext, Secret
from assessio_connect.testing import BackgroundServer, RecordingContext

API_DOCUMENT = Path(__file__).resolve().parent.parent / "HIREBOARD-API.md"
API_KEY = "hb-api-key-3f9c21"

# source: HIREBOARD-API.md § 4.4 (the example event, byte for byte)
DOCUMENTED_EVENT = b"""{
  "id": "evt_01HB7Q4M2X",
  "type": "application.stage_changed",
  "created_at": 1700000000,
  "data": {
    "application": {"id": "apl_5T2x9", "stage": "assessment", "previous_stage": "screening"},
    "job": {"id": "job_88", "title": "Backend Engineer", "department": "Engineering"},
    "candidate": {
      "id": "cnd_301",
      "email": "ada.lovelace@example.com",
      "first_name": "Ada",
      "last_name": "Lovelace"
    }
  }
}"""
# source: HIREBOARD-API.md § 4.2 (the example's secret, delivery time and header)
DOCUMENTED_SECRET = "whsec_example_5bd1f0"
DOCUMENTED_SIGNED_AT = 1700000060
DOCUMENTED_SIGNATURE = (
    "t=1700000060,v1=b422e467098a19d7fbefec039226c8de10c65fea429412b468627e6aca0d7006"
)
# source: HIREBOARD-API.md § 3.2 (the example request's path, key and body)
DOCUMENTED_RESULT_PATH = "/v1/applications/apl_5T2x9/assessment-results"
DOCUMENTED_IDEMPOTENCY_KEY = "4f1d2c7a-0b9e-4d55-9a43-5b8e6f0c2d11"
DOCUMENTED_RESULT = b"""{
  "provider": "acme-assessments",
  "external_id": "asmt_7781",
  "version": 1,
  "score": 71,
  "subscores": [
    {"name": "Problem solving", "score": 80},
    {"name": "Collaboration", "score": 62}
  ],
  "report_url": "https://assessments.example.com/reports/asmt_7781"
}"""
# source: HIREBOARD-API.md § 3.2 (the example answer, 201 Created)
DOCUMENTED_ANSWER = b"""\
{"id": "res_1", "application_id": "apl_5T2x9", "provider": "acme-assessments",
 "external_id": "asmt_7781", "version": 1, "score": 71,
 "subscores": [{"name": "Problem solving", "score": 80}, {"name": "Collaboration", "score": 62}],
 "report_url": "https://assessments.example.com/reports/asmt_7781"}"""


def documented_json_blocks() -> list[bytes]:
    text = API_DOCUMENT.read_text(encoding="utf-8")
    return [m[1].encode() for m in re.finditer(r"^```json\n(.*?)\n```$", text, re.M | re.S)]


def test_the_examples_here_are_the_documents_own() -> None:
    blocks = documented_json_blocks()
    for example in (DOCUMENTED_EVENT, DOCUMENTED_RESULT, DOCUMENTED_ANSWER):
        assert example in blocks, "an example no longer matches HIREBOARD-API.md; copy it again"
    text = API_DOCUMENT.read_text(encoding="utf-8")
    assert f"Hireboard-Signature: {DOCUMENTED_SIGNATURE}" in text
    assert f"`{DOCUMENTED_SECRET}`" in text


# -- the webhook (§ 4) ----------------------------------------------------------------------


def test_the_fake_signs_the_documented_event_as_documented() -> None:
    fake = FakeHireboard(api_key=API_KEY, webhook_secret=DOCUMENTED_SECRET)
    headers = fake.webhook_headers(
        DOCUMENTED_EVENT, event_id="evt_01HB7Q4M2X", timestamp=DOCUMENTED_SIGNED_AT
    )
    assert headers["Hireboard-Signature"] == DOCUMENTED_SIGNATURE
    assert headers["Hireboard-Event-Id"] == "evt_01HB7Q4M2X"


def test_the_connector_signs_the_documented_event_as_documented() -> None:
    assert sign(DOCUMENTED_EVENT, DOCUMENTED_SECRET, DOCUMENTED_SIGNED_AT) == DOCUMENTED_SIGNATURE


def deliver(now: float, body: bytes, signature: str) -> tuple[int, RecordingContext]:
    """POST one webhook delivery to a Hireboard connector whose clock reads `now`."""
    context = RecordingContext("acme", clock=lambda: now)
    config = HireboardConfig(
        api_key=Secret("env:HIREBOARD_API_KEY", API_KEY),
        webhook_secret=Secret("env:HIREBOARD_WEBHOOK_SECRET", DOCUMENTED_SECRET),
    )
    # RecordingContext.state is a MemoryState; mypy wants the protocol's exact attribute type.
    connector = HireboardConnector(config, cast("ConnectorContext", context))
    headers = {"Content-Type": "application/json", "Hireboard-Signature": signature}
    try:
        with BackgroundServer(connector.wsgi_app()) as server:
            answer = urllib3.request("POST", f"{server.url}/webhook", body=body, headers=headers)
    finally:
        context.close()
    return answer.status, context


def test_the_connector_accepts_the_documented_delivery() -> None:
    status, context = deliver(DOCUMENTED_SIGNED_AT + 1, DOCUMENTED_EVENT, DOCUMENTED_SIGNATURE)
    assert status == 202
    [invitation] = context.invited
    assert invitation.application_id == "apl_5T2x9"
    assert (invitation.job.id, invitation.job.title) == ("job_88", "Backend Engineer")
    assert invitation.job.department == "Engineering"
    assert invitation.candidate.id == "cnd_301"
    assert invitation.candidate.email == "ada.lovelace@example.com"
    assert invitation.candidate.name == "Ada Lovelace"


@pytest.mark.parametrize(
    ("now", "body"),
    [
        # § 4.2: "refuse a `t` more than 300 seconds away from your clock"
        (DOCUMENTED_SIGNED_AT + 301, DOCUMENTED_EVENT),
        (DOCUMENTED_SIGNED_AT - 301, DOCUMENTED_EVENT),
        # § 4.2: the HMAC is over "the raw request body exactly as sent"
        (DOCUMENTED_SIGNED_AT, DOCUMENTED_EVENT.replace(b"apl_5T2x9", b"apl_5T2x8")),
        (DOCUMENTED_SIGNED_AT, json.dumps(json.loads(DOCUMENTED_EVENT)).encode()),
    ],
    ids=["replayed-late", "from-the-future", "tampered", "re-serialised"],
)
def test_the_connector_refuses_what_the_document_says_to_refuse(now: float, body: bytes) -> None:
    status, context = deliver(now, body, DOCUMENTED_SIGNATURE)
    assert status == 401
    assert context.invited == []


# source: HIREBOARD-API.md § 4.3: every event has the envelope `id`, `type`, `created_at` and
# `data`; `candidate.updated` carries only `candidate`; "subscribers must ignore event types
# they do not know"
EVENTS_NOT_ACTED_ON = {
    "candidate-updated": b"""{"id": "evt_2", "type": "candidate.updated", "created_at": 1700000000,
 "data": {"candidate": {"id": "cnd_301", "email": "ada.lovelace@example.com"}}}""",
    "unknown-type": b"""{"id": "evt_3", "type": "job.archived", "created_at": 1700000000,
 "data": {"job": {"id": "job_88"}}}""",
    "other-stage": DOCUMENTED_EVENT.replace(b'"stage": "assessment"', b'"stage": "offer"'),
}


@pytest.mark.parametrize("body", EVENTS_NOT_ACTED_ON.values(), ids=EVENTS_NOT_ACTED_ON.keys())
def test_the_connector_acknowledges_the_events_it_does_not_act_on(body: bytes) -> None:
    fake = FakeHireboard(api_key=API_KEY, webhook_secret=DOCUMENTED_SECRET)
    headers = fake.webhook_headers(body, event_id="evt_2", timestamp=DOCUMENTED_SIGNED_AT)
    status, context = deliver(DOCUMENTED_SIGNED_AT, body, headers["Hireboard-Signature"])
    assert status == 200  # anything else, and Hireboard sends it 6 more times (§ 4.1)
    assert context.invited == []


@given(
    body=st.binary(max_size=2048),
    secret=st.text(min_size=1, max_size=64),
    signed_at=st.integers(min_value=0, max_value=2**40),
)
def test_connector_and_fake_sign_alike(body: bytes, secret: str, signed_at: int) -> None:
    """Two implementations of § 4.2, written apart, give the same header for any input."""
    fake = FakeHireboard(api_key=API_KEY, webhook_secret=secret)
    headers = fake.webhook_headers(body, event_id="evt_1", timestamp=signed_at)
    assert headers["Hireboard-Signature"] == sign(body, secret, signed_at)


# -- writing results (§ 3.2) ----------------------------------------------------------------


@pytest.fixture
def hireboard() -> Iterator[FakeHireboard]:
    with FakeHireboard(api_key=API_KEY, webhook_secret=DOCUMENTED_SECRET) as fake:
        fake.add_application(
            "apl_5T2x9",
            job={"id": "job_88", "title": "Backend Engineer"},
            candidate={"id": "cnd_301", "email": "ada.lovelace@example.com"},
        )
        yield fake


def documented_headers(**changes: str | None) -> dict[str, str]:
    """The example request's headers (§ 3.2), with some changed or (None) left out."""
    headers: dict[str, str | None] = {
        "Authorization": f"Bearer {API_KEY}",
        "Content-Type": "application/json",
        "Idempotency-Key": DOCUMENTED_IDEMPOTENCY_KEY,
        **changes,
    }
    return {name: value for name, value in headers.items() if value is not None}


def call(
    fake: FakeHireboard,
    path: str = DOCUMENTED_RESULT_PATH,
    body: bytes | None = DOCUMENTED_RESULT,
    method: str = "POST",
    **header_changes: str | None,
) -> urllib3.BaseHTTPResponse:
    headers = documented_headers(**header_changes)
    return urllib3.request(method, f"{fake.url}{path}", body=body, headers=headers)


def test_the_fake_answers_the_documented_request_with_the_documented_answer(
    hireboard: FakeHireboard,
) -> None:
    answer = call(hireboard)
    assert answer.status == 201
    assert answer.json() == json.loads(DOCUMENTED_ANSWER)
    assert hireboard.results("apl_5T2x9") == [json.loads(DOCUMENTED_ANSWER)]


def test_the_same_idempotency_key_stores_once(hireboard: FakeHireboard) -> None:
    first, again = call(hireboard), call(hireboard)
    assert (first.status, again.status) == (201, 200)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    changed = DOCUMENTED_RESULT.replace(b'"score": 71', b'"score": 72')
    reused = call(hireboard, body=changed)
    assert (reused.status, error_code(reused)) == (409, "idempotency_key_reused")
    assert len(hireboard.results("apl_5T2x9")) == 1


def error_code(answer: urllib3.BaseHTTPResponse) -> str:
    data: dict[str, Any] = answer.json()
    return str(data["error"]["code"])


def without(field: str) -> bytes:
    data = json.loads(DOCUMENTED_RESULT)
    del data[field]
    return json.dumps(data).encode()


def with_field(field: str, value: object) -> bytes:
    return json.dumps({**json.loads(DOCUMENTED_RESULT), field: value}).encode()


REFUSALS: list[tuple[str, dict[str, Any], int, str]] = [
    # (case, changes to the documented request, status, error code); each from § 1.2 and § 3.2
    ("wrong-key", {"Authorization": "Bearer not-the-key"}, 401, "unauthorized"),
    ("no-key", {"Authorization": None}, 401, "unauthorized"),
    ("basic-auth", {"Authorization": f"Basic {API_KEY}"}, 401, "unauthorized"),
    ("wrong-key-unknown-path", {"path": "/v1/nowhere", "Authorization": None}, 401, "unauthorized"),
    ("unknown-path", {"path": "/v1/applications/apl_5T2x9/notes"}, 404, "not_found"),
    ("unversioned-path", {"path": "/applications/apl_5T2x9/assessment-results"}, 404, "not_found"),
    ("wrong-method", {"method": "PUT"}, 405, "method_not_allowed"),
    ("form-body", {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
    ("no-content-type", {"Content-Type": None}, 415, "unsupported_media_type"),
    ("no-idempotency-key", {"Idempotency-Key": None}, 400, "idempotency_key_required"),
    ("long-idempotency-key", {"Idempotency-Key": "k" * 256}, 400, "idempotency_key_required"),
    (
        "unknown-application",
        {"path": "/v1/applications/apl_nobody/assessment-results"},
        404,
        "application_not_found",
    ),
    ("not-json", {"body": b"provider=acme"}, 400, "invalid_json"),
    ("no-provider", {"body": without("provider")}, 422, "$.provider"),
    ("no-external-id", {"body": without("external_id")}, 422, "$.external_id"),
    ("no-version", {"body": without("version")}, 422, "$.version"),
    ("version-zero", {"body": with_field("version", 0)}, 422, "$.version"),
    ("score-over-100", {"body": with_field("score", 101)}, 422, "$.score"),
    ("score-as-text", {"body": with_field("score", "71")}, 422, "$.score"),
    ("subscores-as-object", {"body": with_field("subscores", {"A": 1})}, 422, "$.subscores"),
    ("subscore-unnamed", {"body": with_field("subscores", [{"score": 1}])}, 422, "name"),
    ("relative-report-url", {"body": with_field("report_url", "/r/1")}, 422, "$.report_url"),
    ("unknown-field", {"body": with_field("note", "hello")}, 422, "$.note"),
]


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [case[1:] for case in REFUSALS],
    ids=[case[0] for case in REFUSALS],
)
def test_the_fake_refuses_what_hireboard_refuses(
    hireboard: FakeHireboard, changes: dict[str, Any], status: int, code: str
) -> None:
    request = dict(changes)
    path = request.pop("path", DOCUMENTED_RESULT_PATH)
    body = request.pop("body", DOCUMENTED_RESULT)
    method = request.pop("method", "POST")
    answer = call(hireboard, path, body, method, **request)
    assert answer.status == status
    if status == 422:
        fields = [item["field"] for item in answer.json()["error"]["fields"]]
        assert any(code in field for field in fields), fields
    elif code:
        assert error_code(answer) == code
    assert hireboard.results("apl_5T2x9") == []


def test_a_key_the_fake_accepts_reads_the_account(hireboard: FakeHireboard) -> None:
    assert call(hireboard, "/v1/me", None, "GET").status == 200
    assert call(hireboard, "/v1/me", None, "GET", Authorization="Bearer nope").status == 401
