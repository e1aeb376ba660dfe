"""The reference ATS's documented examples, fed verbatim to the connector and to its fake.

`docs/reference-ats.md` plays the reference ATS's public documentation. The connector
(`reference/_connector.py`) and the fake (`reference/_fake.py`) are written from it separately;
these tests hold each of them to the page itself (its example delivery and signature, its
paged feed, its write-back request and answers, its refusals), so neither can agree with the
other on something the page does not say.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import attrs
import pytest
import urllib3
from hypothesis import given, settings
from hypothesis import strategies as st

from assessio_connect import ConnectorContext, Secret
from assessio_connect.contract.errors import PermanentError
from assessio_connect.contract.models import Result
from assessio_connect.reference import (
    ReferenceAts,
    ReferenceConfig,
    ReferenceConnector,
    parse_invitation,
    sign,
)
from assessio_connect.runtime.connector import Pushback
from assessio_connect.testing import BackgroundServer, RecordingContext

DOCUMENT = Path(__file__).resolve().parent.parent / "docs" / "reference-ats.md"
API_TOKEN = "ref-api-token-81c2d4"

# source: docs/reference-ats.md § Example delivery (the body, byte for byte)
DOCUMENTED_EVENT = b"""{
  "event_id": "evt-1",
  "application_id": "app-1",
  "job": {
    "id": "job-7",
    "title": "Backend Engineer",
    "description": "Builds and runs the payment services.",
    "department": "Engineering",
    "hiring_team": ["lead@acme.example"]
  },
  "candidate": {"id": "cand-1", "email": "ada@example.com", "name": "Ada Lovelace"},
  "lens": "General Performance",
  "locale": "en-GB"
}"""
# source: docs/reference-ats.md § Example delivery (the secret and the header)
DOCUMENTED_SECRET = "whsec_reference_4c7e21"
DOCUMENTED_SIGNATURE = "sha256=7d7056548e7e1b0db1d0a9ec98615c3a8476b0573c384fd363fdde0c4f0b129e"
# source: docs/reference-ats.md § Invitations feed (the two example answers)
DOCUMENTED_PAGE = b"""{
  "invitations": [
    {"event_id": "evt-1", "application_id": "app-1",
     "job": {"id": "job-7", "title": "Backend Engineer", "department": "Engineering"},
     "candidate": {"id": "cand-1", "email": "ada@example.com", "name": "Ada Lovelace"},
     "lens": "General Performance", "locale": "en-GB"},
    {"event_id": "evt-2", "application_id": "app-2",
     "job": {"id": "job-7", "title": "Backend Engineer", "department": "Engineering"},
     "candidate": {"id": "cand-2", "email": "grace@example.com"}}
  ],
  "next": "2"
}"""
DOCUMENTED_LAST_PAGE = b"""{"invitations": [], "next": null}"""
# source: docs/reference-ats.md § Invitations feed (a refused limit)
DOCUMENTED_BAD_LIMIT = b"""{"error": "limit must be an integer from 1 to 1000"}"""
# source: docs/reference-ats.md § Ping
DOCUMENTED_PING = b"""{"ok": true}"""
# source: docs/reference-ats.md § Authentication
DOCUMENTED_UNAUTHORIZED = b"""{"error": "missing or invalid bearer token"}"""
DOCUMENTED_CHALLENGE = 'Bearer realm="reference-ats"'
# source: docs/reference-ats.md § Write-back (the example request's path and body)
DOCUMENTED_WRITE_PATH = "/api/applications/app-1/assessment"
DOCUMENTED_WRITE = b"""{
  "result_id": "3f0c6b1e-8d2a-4c55-9e71-2b6f4d8a1c09",
  "version": 1,
  "score": 71,
  "subscores": {"Drive": 80, "Focus": 62},
  "report_url": "https://app.assessio.example/reports/3f0c6b1e",
  "recruitment_url": "https://app.assessio.example/recruitments/job-7"
}"""
# source: docs/reference-ats.md § Write-back (the example answers, in the page's order)
DOCUMENTED_STORED = b"""{"status": "stored", "version": 1}"""
DOCUMENTED_UNCHANGED = b"""{"status": "unchanged", "version": 1}"""
DOCUMENTED_STALE = b"""{"error": "stale version", "current_version": 2}"""
DOCUMENTED_INVALID = b"""\
{"error": "invalid assessment result: required field missing @ $.version; \
expected an integer from 0 to 100 or null @ $.score",
 "problems": ["required field missing @ $.version",
              "expected an integer from 0 to 100 or null @ $.score"]}"""
DOCUMENTED_UNKNOWN_APPLICATION = b"""{"error": "no application 'app-9'"}"""
DOCUMENTED_NOT_JSON_TYPE = b"""{"error": "Content-Type must be application/json"}"""
DOCUMENTED_WRONG_METHOD = b"""{"error": "use PUT"}"""

EXAMPLES = (
    DOCUMENTED_EVENT,
    DOCUMENTED_PAGE,
    DOCUMENTED_LAST_PAGE,
    DOCUMENTED_BAD_LIMIT,
    DOCUMENTED_PING,
    DOCUMENTED_UNAUTHORIZED,
    DOCUMENTED_WRITE,
    DOCUMENTED_STORED,
    DOCUMENTED_UNCHANGED,
    DOCUMENTED_STALE,
    DOCUMENTED_INVALID,
    DOCUMENTED_UNKNOWN_APPLICATION,
    DOCUMENTED_NOT_JSON_TYPE,
    DOCUMENTED_WRONG_METHOD,
)


def documented(example: bytes) -> Any:
    return json.loads(example)


def test_the_examples_here_are_the_documents_own() -> None:
    text = DOCUMENT.read_text(encoding="utf-8")
    blocks = [m[1].encode() for m in re.finditer(r"^```json\n(.*?)\n```$", text, re.M | re.S)]
    for example in EXAMPLES:
        assert example in blocks, f"no longer in docs/reference-ats.md, copy it again: {example!r}"
    assert f"X-Reference-Signature: {DOCUMENTED_SIGNATURE}\n" in text
    assert f"`{DOCUMENTED_SECRET}`" in text
    assert f"{len(DOCUMENTED_EVENT)} bytes" in text
    assert f"PUT {DOCUMENTED_WRITE_PATH} HTTP/1.1" in text
    assert f"`WWW-Authenticate: {DOCUMENTED_CHALLENGE}`" in text


# -- the webhook: § Webhook delivery, § Webhook signature, § Example delivery --------------


def test_the_fake_signs_the_documented_event_as_documented() -> None:
    fake = ReferenceAts(api_token=API_TOKEN, webhook_secret=DOCUMENTED_SECRET)
    assert fake.webhook_headers(DOCUMENTED_EVENT) == {
        "Content-Type": "application/json",
        "X-Reference-Signature": DOCUMENTED_SIGNATURE,
    }


def test_the_connector_signs_the_documented_event_as_documented() -> None:
    assert sign(DOCUMENTED_EVENT, DOCUMENTED_SECRET) == DOCUMENTED_SIGNATURE


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=2048), secret=st.text(min_size=1, max_size=64))
def test_connector_and_fake_sign_alike(body: bytes, secret: str) -> None:
    """Two implementations of § Webhook signature, written apart, agree on any input."""
    fake = ReferenceAts(api_token=API_TOKEN, webhook_secret=secret)
    assert fake.webhook_headers(body)["X-Reference-Signature"] == sign(body, secret)


@pytest.fixture
def http() -> Iterator[urllib3.PoolManager]:
    pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2.0, read=5.0))
    yield pool
    pool.clear()


@pytest.fixture
def context() -> Iterator[RecordingContext]:
    recording = RecordingContext("acme")
    yield recording
    recording.close()


def connector(context: RecordingContext, base_url: str, **options: Any) -> ReferenceConnector:
    options.setdefault("webhook_secret", Secret("env:REFERENCE_WEBHOOK", DOCUMENTED_SECRET))
    token = Secret("env:REFERENCE_API_TOKEN", API_TOKEN)
    config = ReferenceConfig(base_url=base_url, api_token=token, **options)
    # RecordingContext.state is a MemoryState; mypy wants the protocol's exact attribute type.
    return ReferenceConnector(config, cast("ConnectorContext", context))


@pytest.fixture
def events_url(context: RecordingContext) -> Iterator[str]:
    """The connector's events endpoint (the ATS's subscribed URL), on 127.0.0.1."""
    with BackgroundServer(connector(context, "http://127.0.0.1:9").wsgi_app()) as server:
        yield f"{server.url}/events"


def test_the_connector_accepts_the_documented_delivery(
    events_url: str, context: RecordingContext, http: urllib3.PoolManager
) -> None:
    headers = {"Content-Type": "application/json", "X-Reference-Signature": DOCUMENTED_SIGNATURE}
    answer = http.request("POST", events_url, body=DOCUMENTED_EVENT, headers=headers)
    assert answer.status == 202
    [invitation] = context.invited
    assert invitation.application_id == "app-1"
    assert (invitation.job.id, invitation.job.title) == ("job-7", "Backend Engineer")
    assert invitation.job.description == "Builds and runs the payment services."
    assert invitation.job.department == "Engineering"
    assert invitation.job.hiring_team == ("lead@acme.example",)
    assert (invitation.candidate.id, invitation.candidate.email) == ("cand-1", "ada@example.com")
    assert invitation.candidate.name == "Ada Lovelace"
    assert (invitation.lens, invitation.locale) == ("General Performance", "en-GB")


def test_the_fake_delivers_the_documented_event_to_the_connector(
    events_url: str, context: RecordingContext
) -> None:
    with ReferenceAts(api_token=API_TOKEN, webhook_secret=DOCUMENTED_SECRET) as fake:
        assert fake.push_event(events_url, DOCUMENTED_EVENT) == 202
    assert [i.application_id for i in context.invited] == ["app-1"]


@pytest.mark.parametrize(
    ("body", "signature"),
    [
        # § Webhook signature: the HMAC covers "the raw request body, exactly as sent"
        (DOCUMENTED_EVENT.replace(b"app-1", b"app-2"), DOCUMENTED_SIGNATURE),
        (json.dumps(json.loads(DOCUMENTED_EVENT)).encode(), DOCUMENTED_SIGNATURE),
        (DOCUMENTED_EVENT + b"\n", DOCUMENTED_SIGNATURE),
        # ... keyed with the webhook secret, and written `sha256=<hex>`
        (DOCUMENTED_EVENT, sign(DOCUMENTED_EVENT, "another-secret")),
        (DOCUMENTED_EVENT, DOCUMENTED_SIGNATURE.removeprefix("sha256=")),
        (DOCUMENTED_EVENT, None),
    ],
    ids=["tampered", "re-serialised", "final-newline", "other-secret", "bare-hex", "unsigned"],
)
def test_the_connector_refuses_deliveries_the_signature_does_not_cover(
    events_url: str,
    context: RecordingContext,
    http: urllib3.PoolManager,
    body: bytes,
    signature: str | None,
) -> None:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Reference-Signature"] = signature
    assert http.request("POST", events_url, body=body, headers=headers).status == 401
    assert context.invited == []


def test_the_fake_sends_no_event_over_the_documented_size() -> None:
    # § Webhook delivery: "at most 256 KiB (262 144 bytes)"
    fake = ReferenceAts(api_token=API_TOKEN, webhook_secret=DOCUMENTED_SECRET)
    with pytest.raises(ValueError, match="262144"):
        fake.push_event("http://127.0.0.1:9/events", b" " * (262_144 + 1))


# -- the feed: § Invitations feed ----------------------------------------------------------


@pytest.fixture
def ats() -> Iterator[ReferenceAts]:
    """The fake, holding the documented page's invitations (so also application app-1)."""
    with ReferenceAts(api_token=API_TOKEN, webhook_secret=DOCUMENTED_SECRET) as fake:
        for item in documented(DOCUMENTED_PAGE)["invitations"]:
            options = {key: item[key] for key in ("lens", "locale") if key in item}
            fake.add_invitation(
                item["application_id"], job=item["job"], candidate=item["candidate"], **options
            )
        yield fake


AUTHORIZED = {"Authorization": f"Bearer {API_TOKEN}"}


def get(http: urllib3.PoolManager, ats: ReferenceAts, path: str, **headers: str) -> Any:
    return http.request("GET", f"{ats.url}{path}", headers={**AUTHORIZED, **headers})


def test_the_fake_answers_the_documented_pages(
    ats: ReferenceAts, http: urllib3.PoolManager
) -> None:
    first = get(http, ats, "/api/invitations?limit=2")
    assert (first.status, first.json()) == (200, documented(DOCUMENTED_PAGE))
    last = get(http, ats, "/api/invitations?after=2&limit=2")
    assert (last.status, last.json()) == (200, documented(DOCUMENTED_LAST_PAGE))


def test_the_connector_reads_the_documented_pages(
    ats: ReferenceAts, context: RecordingContext
) -> None:
    for item in documented(DOCUMENTED_PAGE)["invitations"]:
        assert parse_invitation(item).application_id == item["application_id"]
    polling = connector(context, ats.url, webhook_secret=None, poll=True, page_size=2)
    first = polling.poll(None)
    assert [i.application_id for i in first.invitations] == ["app-1", "app-2"]
    assert (first.cursor, first.more) == ("2", True)
    last = polling.poll(first.cursor)
    assert (last.invitations, last.cursor, last.more) == ((), "2", False)


def test_the_page_size_limit_is_the_documented_one(
    ats: ReferenceAts, context: RecordingContext, http: urllib3.PoolManager
) -> None:
    # § Invitations feed: `limit` is "an integer from 1 to 1000"
    assert get(http, ats, "/api/invitations?limit=1000").status == 200
    assert get(http, ats, "/api/invitations?limit=1001").json() == documented(DOCUMENTED_BAD_LIMIT)
    largest = connector(context, ats.url, webhook_secret=None, poll=True, page_size=1000)
    assert len(largest.poll(None).invitations) == 2
    with pytest.raises(ValueError, match="page_size"):
        connector(context, ats.url, webhook_secret=None, poll=True, page_size=1001)


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=1001",
        "limit=ten",
        "limit=",
        "after=x",
        "after=",
        "after=-1",
        "cursor=2",
        "page=1&limit=2",
        "limit=2&limit=3",
        "after=1&after=2",
        "limit",
    ],
)
def test_the_fake_refuses_a_bad_query_with_400(
    ats: ReferenceAts, http: urllib3.PoolManager, query: str
) -> None:
    # § Invitations feed: a value that is not digits, a limit outside 1 to 1000, any other
    # parameter, or a parameter given twice is refused with 400
    answer = get(http, ats, f"/api/invitations?{query}")
    assert answer.status == 400
    assert isinstance(answer.json()["error"], str)


# -- authentication and ping: § Authentication, § Ping -------------------------------------


def test_the_fake_answers_the_documented_ping(
    ats: ReferenceAts, context: RecordingContext, http: urllib3.PoolManager
) -> None:
    answer = get(http, ats, "/api/ping")
    assert (answer.status, answer.json()) == (200, documented(DOCUMENTED_PING))
    assert connector(context, ats.url).check() == f"reference ATS at {ats.url} answered"


@pytest.mark.parametrize("path", ["/api/ping", "/api/invitations", "/api/nowhere", "/"])
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer not-the-token", f"Basic {API_TOKEN}", API_TOKEN, f"Bearer {API_TOKEN}x"],
)
def test_the_fake_refuses_a_missing_or_wrong_token_first(
    ats: ReferenceAts, http: urllib3.PoolManager, path: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    answer = http.request("GET", f"{ats.url}{path}", headers=headers)
    assert (answer.status, answer.json()) == (401, documented(DOCUMENTED_UNAUTHORIZED))
    assert answer.headers["WWW-Authenticate"] == DOCUMENTED_CHALLENGE


def test_the_scheme_is_case_insensitive_the_token_is_not(
    ats: ReferenceAts, http: urllib3.PoolManager
) -> None:
    assert get(http, ats, "/api/ping", Authorization=f"bearer {API_TOKEN}").status == 200
    assert get(http, ats, "/api/ping", Authorization=f"Bearer {API_TOKEN.upper()}").status == 401


def test_the_connector_reports_a_refused_token_without_it(
    ats: ReferenceAts, context: RecordingContext
) -> None:
    config = ReferenceConfig(
        base_url=ats.url, api_token=Secret("env:T", "wrong-token-77"), poll=True
    )
    refused = ReferenceConnector(config, cast("ConnectorContext", context))
    with pytest.raises(PermanentError, match="api_token was refused") as caught:
        refused.poll(None)
    assert "wrong-token-77" not in str(caught.value)


# -- writing results: § Write-back ---------------------------------------------------------


def put(
    http: urllib3.PoolManager,
    ats: ReferenceAts,
    path: str = DOCUMENTED_WRITE_PATH,
    body: bytes = DOCUMENTED_WRITE,
    method: str = "PUT",
    **header_changes: str | None,
) -> urllib3.BaseHTTPResponse:
    """The documented example request, with some headers changed or (None) left out."""
    headers: dict[str, str | None] = {
        **AUTHORIZED,
        "Content-Type": "application/json",
        **header_changes,
    }
    sent = {name: value for name, value in headers.items() if value is not None}
    return http.request(method, f"{ats.url}{path}", body=body, headers=sent)


def with_field(field: str, value: object) -> bytes:
    return json.dumps({**documented(DOCUMENTED_WRITE), field: value}).encode()


def without(field: str) -> bytes:
    data = documented(DOCUMENTED_WRITE)
    del data[field]
    return json.dumps(data).encode()


def test_the_fake_answers_the_documented_request_with_the_documented_answers(
    ats: ReferenceAts, http: urllib3.PoolManager
) -> None:
    first = put(http, ats)
    assert (first.status, first.json()) == (200, documented(DOCUMENTED_STORED))
    assert ats.results == {"app-1": documented(DOCUMENTED_WRITE)}
    again = put(http, ats, body=with_field("score", 12))
    assert (again.status, again.json()) == (200, documented(DOCUMENTED_UNCHANGED))
    assert ats.results["app-1"]["score"] == 71  # the result first written under version 1
    assert [(w.status, w.changed) for w in ats.writes] == [(200, True), (200, False)]


def test_the_fake_answers_an_older_version_with_the_documented_409(
    ats: ReferenceAts, http: urllib3.PoolManager
) -> None:
    assert put(http, ats, body=with_field("version", 2)).status == 200
    stale = put(http, ats)
    assert (stale.status, stale.json()) == (409, documented(DOCUMENTED_STALE))
    assert ats.results["app-1"]["version"] == 2


@pytest.mark.parametrize(
    ("request_changes", "status", "answer"),
    [
        (
            {"body": json.dumps({**documented(without("version")), "score": 101}).encode()},
            422,
            DOCUMENTED_INVALID,
        ),
        ({"path": "/api/applications/app-9/assessment"}, 404, DOCUMENTED_UNKNOWN_APPLICATION),
        ({"Content-Type": "text/plain"}, 415, DOCUMENTED_NOT_JSON_TYPE),
        ({"method": "GET"}, 405, DOCUMENTED_WRONG_METHOD),
    ],
    ids=["invalid", "unknown-application", "text-plain", "get"],
)
def test_the_fake_answers_the_documented_refusals(
    ats: ReferenceAts,
    http: urllib3.PoolManager,
    request_changes: dict[str, Any],
    status: int,
    answer: bytes,
) -> None:
    changes = dict(request_changes)
    path = changes.pop("path", DOCUMENTED_WRITE_PATH)
    body = changes.pop("body", DOCUMENTED_WRITE)
    method = changes.pop("method", "PUT")
    refused = put(http, ats, path, body, method, **changes)
    assert (refused.status, refused.json()) == (status, documented(answer))
    if status == 405:
        assert refused.headers["Allow"] == "PUT"
    assert ats.results == {}


REFUSALS: list[tuple[str, dict[str, Any], int, str]] = [
    # (case, changes to the documented request, status, part of the answer); § Errors and
    # § Write-back say each
    ("no-token", {"Authorization": None}, 401, "bearer token"),
    ("basic-auth", {"Authorization": f"Basic {API_TOKEN}"}, 401, "bearer token"),
    ("no-token-and-not-json", {"Authorization": None, "body": b"{"}, 401, "bearer token"),
    ("unknown-path", {"path": "/api/applications/app-1/results"}, 404, "no such endpoint"),
    ("unencoded-slash", {"path": "/api/applications/app/1/assessment"}, 404, "no such endpoint"),
    ("no-application-segment", {"path": "/api/applications//assessment"}, 404, "endpoint"),
    ("trailing-slash", {"path": f"{DOCUMENTED_WRITE_PATH}/"}, 404, "no such endpoint"),
    ("post", {"method": "POST"}, 405, "use PUT"),
    ("no-content-type", {"Content-Type": None}, 415, "application/json"),
    ("form", {"Content-Type": "application/x-www-form-urlencoded"}, 415, "application/json"),
    (
        "text-before-application",
        {"Content-Type": "text/plain", "path": "/api/applications/app-9/assessment"},
        415,
        "application/json",
    ),
    (
        "application-before-json",
        {"path": "/api/applications/app-9/assessment", "body": b"{"},
        404,
        "no application",
    ),
    ("not-json", {"body": b"result_id=1"}, 400, "not UTF-8 JSON"),
    ("not-utf-8", {"body": b'{"result_id": "\xff"}'}, 400, "not UTF-8 JSON"),
    ("nan", {"body": DOCUMENTED_WRITE.replace(b"71", b"NaN")}, 400, "not UTF-8 JSON"),
    ("array", {"body": b"[]"}, 422, "expected an object, got an array @ $"),
    ("no-result-id", {"body": without("result_id")}, 422, "missing @ $.result_id"),
    ("blank-result-id", {"body": with_field("result_id", " ")}, 422, "@ $.result_id"),
    ("no-version", {"body": without("version")}, 422, "missing @ $.version"),
    ("version-zero", {"body": with_field("version", 0)}, 422, "@ $.version"),
    ("version-as-text", {"body": with_field("version", "1")}, 422, "@ $.version"),
    ("version-true", {"body": with_field("version", True)}, 422, "@ $.version"),
    ("no-score", {"body": without("score")}, 422, "missing @ $.score"),
    ("score-101", {"body": with_field("score", 101)}, 422, "@ $.score"),
    ("score-fraction", {"body": with_field("score", 7.5)}, 422, "@ $.score"),
    ("no-subscores", {"body": without("subscores")}, 422, "missing @ $.subscores"),
    ("subscores-array", {"body": with_field("subscores", [80])}, 422, "@ $.subscores"),
    ("subscore-101", {"body": with_field("subscores", {"Drive": 101})}, 422, "$.subscores.Drive"),
    ("subscore-null", {"body": with_field("subscores", {"Two words": None})}, 422, "['Two"),
    ("no-report-url", {"body": without("report_url")}, 422, "missing @ $.report_url"),
    ("report-url-number", {"body": with_field("report_url", 7)}, 422, "@ $.report_url"),
    ("no-recruitment-url", {"body": without("recruitment_url")}, 422, "@ $.recruitment_url"),
    ("unknown-field", {"body": with_field("note", "hello")}, 422, "unknown field @ $.note"),
    ("too-large", {"body": b" " * (1024 * 1024 + 1)}, 413, "1048576"),
]


@pytest.mark.parametrize(
    ("request_changes", "status", "said"),
    [case[1:] for case in REFUSALS],
    ids=[case[0] for case in REFUSALS],
)
def test_the_fake_refuses_what_the_reference_ats_refuses(
    ats: ReferenceAts,
    http: urllib3.PoolManager,
    request_changes: dict[str, Any],
    status: int,
    said: str,
) -> None:
    changes = dict(request_changes)
    path = changes.pop("path", DOCUMENTED_WRITE_PATH)
    body = changes.pop("body", DOCUMENTED_WRITE)
    method = changes.pop("method", "PUT")
    refused = put(http, ats, path, body, method, **changes)
    assert refused.status == status
    data = refused.json()
    assert said in data["error"]
    if status == 422:
        assert data["problems"]
        assert all(" @ $" in problem for problem in data["problems"])
    assert ats.results == {}


def test_an_encoded_slash_stays_inside_the_application_id(
    ats: ReferenceAts, http: urllib3.PoolManager
) -> None:
    # § Conventions: "a `/` inside an identifier is sent as `%2F`"
    ats.add_invitation("app/1 ü", job={"id": "j", "title": "t"}, candidate={"id": "c"})
    path = "/api/applications/app%2F1%20%C3%BC/assessment"
    assert put(http, ats, path).status == 200
    assert list(ats.results) == ["app/1 ü"]


def documented_pushback(order_of: RecordingContext, version: int = 1) -> Pushback:
    """The documented write-back (§ Write-back) as the daemon would hand it to the connector."""
    record = order_of.orders["app-1"]
    data = documented(DOCUMENTED_WRITE)
    result = Result(
        result_id=data["result_id"],
        score=data["score"],
        subscores=data["subscores"],
        recruitment_url=data["recruitment_url"],
        assessment_report_url=data["report_url"],
    )
    order = attrs.evolve(record, result_id=data["result_id"])
    return Pushback(order=order, result=result, version=version, attempt=1)


@pytest.fixture
def invited(context: RecordingContext) -> RecordingContext:
    """A context whose order for app-1 came from the documented delivery."""
    context.invite(parse_invitation(documented(DOCUMENTED_EVENT)))
    return context


def test_the_connector_sends_the_documented_request(
    ats: ReferenceAts, invited: RecordingContext
) -> None:
    connector(invited, ats.url).push_result(documented_pushback(invited))
    [write] = ats.writes
    assert (write.application_id, write.status, write.changed) == ("app-1", 200, True)
    assert write.body == documented(DOCUMENTED_WRITE)


def test_the_connector_counts_the_documented_409_as_delivered(
    ats: ReferenceAts, invited: RecordingContext
) -> None:
    writing = connector(invited, ats.url)
    writing.push_result(documented_pushback(invited, version=2))
    writing.push_result(documented_pushback(invited, version=1))  # answered 409 stale version
    assert [w.status for w in ats.writes] == [200, 409]
    assert invited.events("reference.result_stale")


def test_the_connector_reports_the_documented_404(
    ats: ReferenceAts, invited: RecordingContext
) -> None:
    elsewhere = attrs.evolve(
        documented_pushback(invited),
        order=attrs.evolve(invited.orders["app-1"], application_id="app-9"),
    )
    with pytest.raises(PermanentError, match="HTTP 404") as caught:
        connector(invited, ats.url).push_result(elsewhere)
    assert "no application 'app-9'" in str(caught.value)


# -- the fake's rules, fuzzed (mounted as a plain WSGI app) --------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=12,
)
scores = st.integers(min_value=0, max_value=100)
valid_writes = st.fixed_dictionaries(
    {
        "result_id": st.text(min_size=1).filter(str.strip),
        "version": st.integers(min_value=1, max_value=2**53),
        "score": st.none() | scores,
        "subscores": st.dictionaries(st.text(), scores, max_size=4),
        "report_url": st.none() | st.text(),
        "recruitment_url": st.none() | st.text(),
    }
)


def call_wsgi(
    fake: ReferenceAts, body: bytes, content_length: str | None = None
) -> tuple[int, Any]:
    """A write-back of `body` to the fake's WSGI app, as another server would mount it."""
    environ = {
        "REQUEST_METHOD": "PUT",
        "PATH_INFO": DOCUMENTED_WRITE_PATH,
        "QUERY_STRING": "",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)) if content_length is None else content_length,
        "HTTP_AUTHORIZATION": f"Bearer {API_TOKEN}",
        "wsgi.input": io.BytesIO(body),
    }
    statuses: list[str] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], object]:
        statuses.append(status)
        return lambda data: None

    chunks = fake.wsgi_app()(environ, start_response)
    return int(statuses[0].split()[0]), json.loads(b"".join(chunks))


@settings(max_examples=150, deadline=None)
@given(data=json_values, field=st.sampled_from(["", "result_id", "version", "score", "subscores"]))
def test_any_json_body_is_stored_or_refused_with_every_problem(data: Any, field: str) -> None:
    fake = ReferenceAts(api_token=API_TOKEN)
    fake.add_invitation("app-1", job={"id": "j", "title": "t"}, candidate={"id": "c"})
    body = {**documented(DOCUMENTED_WRITE), field: data} if field else data
    status, answer = call_wsgi(fake, json.dumps(body).encode())
    assert status in (200, 422), answer
    if status == 422:
        assert answer["problems"]
        assert all(" @ $" in problem for problem in answer["problems"])
        assert fake.results == {}


@settings(max_examples=100, deadline=None)
@given(body=valid_writes)
def test_every_body_the_table_allows_is_stored(body: dict[str, Any]) -> None:
    fake = ReferenceAts(api_token=API_TOKEN)
    fake.add_invitation("app-1", job={"id": "j", "title": "t"}, candidate={"id": "c"})
    status, answer = call_wsgi(fake, json.dumps(body).encode())
    assert (status, answer) == (200, {"status": "stored", "version": body["version"]})
    assert fake.results == {"app-1": body}


@pytest.mark.parametrize(
    ("content_length", "status"),
    [("\u00b2", 400), ("-1", 400), ("1e3", 400), ("9" * 5000, 413), ("0" * 30 + "5", 422)],
)
def test_the_fake_reads_content_length_as_ascii_digits(content_length: str, status: int) -> None:
    fake = ReferenceAts(api_token=API_TOKEN)
    fake.add_invitation("app-1", job={"id": "j", "title": "t"}, candidate={"id": "c"})
    assert call_wsgi(fake, b"[1,2]", content_length)[0] == status
