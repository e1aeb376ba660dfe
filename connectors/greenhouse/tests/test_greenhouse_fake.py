"""The fake Greenhouse's contract on its own, over real HTTP: what Greenhouse's documentation says
Greenhouse does, checked against the fake without the connector.

Sources (the fake's modules cite the same): harvestdocs.greenhouse.io /docs/authentication,
/docs/harvest-partner-oauth, /docs/pagination; grnhse/greenhouse-api-docs
source/includes/webhooks/ and source/includes/assessment/; the Harvest v3 reference schemas (the
extract in fixtures/). The documented examples in fixtures/ are fed verbatim.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import urllib3
from hypothesis import given
from hypothesis import strategies as st

from assessio_connect.testing import BackgroundServer
from assessio_connect_greenhouse._fake_paging import Cursor, CursorError
from assessio_connect_greenhouse.fake import RETRY_DELAYS, FakeGreenhouse

FIXTURES = Path(__file__).parent / "fixtures"
PACKAGE_DATA = Path(__file__).parents[1] / "src" / "assessio_connect_greenhouse" / "_fake_data"
NOW = 1_790_000_000.0
CLIENT = ("custom-client-7", "custom-secret-7f7f")
PARTNER = ("partner-client-9", "partner-secret-9e9e")
REDIRECT = "https://connector.example/oauth/greenhouse/callback"
SCHEMAS: dict[str, Any] = json.loads((FIXTURES / "harvest_v3_schema_properties.json").read_text())


class Clock:
    """An injected clock the tests move by hand."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def http() -> Iterator[urllib3.PoolManager]:
    pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5.0, read=10.0))
    yield pool
    pool.clear()


def make_fake(clock: Clock, **options: Any) -> FakeGreenhouse:
    options.setdefault("client_id", CLIENT[0])
    options.setdefault("client_secret", CLIENT[1])
    options.setdefault("partner_client_id", PARTNER[0])
    options.setdefault("partner_client_secret", PARTNER[1])
    options.setdefault("partner_redirect_uris", (REDIRECT,))
    return FakeGreenhouse(clock=clock, **options)


@pytest.fixture
def greenhouse(clock: Clock) -> Iterator[FakeGreenhouse]:
    with make_fake(clock) as fake:
        yield fake


# -- small HTTP helpers -------------------------------------------------------------------


class Answer:
    def __init__(self, response: urllib3.BaseHTTPResponse) -> None:
        self.status = response.status
        self.headers = response.headers
        self.raw = response.data

    def json(self) -> Any:
        return json.loads(self.raw)


def token_request(
    http: urllib3.PoolManager,
    fake: FakeGreenhouse,
    form: dict[str, str],
    credentials: tuple[str, str] | None = CLIENT,
) -> Answer:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if credentials is not None:
        headers.update(urllib3.make_headers(basic_auth=f"{credentials[0]}:{credentials[1]}"))
    return Answer(http.request("POST", f"{fake.url}/token", body=urlencode(form), headers=headers))


def client_token(http: urllib3.PoolManager, fake: FakeGreenhouse, sub: int | None = None) -> str:
    form = {"grant_type": "client_credentials"}
    if sub is not None:
        form["sub"] = str(sub)
    answer = token_request(http, fake, form)
    assert answer.status == 200, answer.raw
    token: str = answer.json()["access_token"]
    return token


def get(http: urllib3.PoolManager, url: str, token: str | None) -> Answer:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return Answer(http.request("GET", url, headers=headers))


def send(http: urllib3.PoolManager, method: str, url: str, token: str, body: Any) -> Answer:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return Answer(http.request(method, url, body=json.dumps(body).encode(), headers=headers))


def authorize(http: urllib3.PoolManager, fake: FakeGreenhouse, **params: str) -> Answer:
    query = {"response_type": "code", "client_id": PARTNER[0], "redirect_uri": REDIRECT}
    query.update(params)
    url = f"{fake.url}/authorize?{urlencode(query)}"
    return Answer(http.request("GET", url, redirect=False))


def code_from(answer: Answer) -> dict[str, list[str]]:
    assert answer.status == 302, answer.raw
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return parse_qs(urlsplit(location).query)


def partner_tokens(http: urllib3.PoolManager, fake: FakeGreenhouse) -> dict[str, Any]:
    code = code_from(authorize(http, fake, state="s-1"))["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    answer = token_request(http, fake, form, PARTNER)
    assert answer.status == 200, answer.raw
    tokens: dict[str, Any] = answer.json()
    return tokens


def note_body(candidate: int, **changes: Any) -> dict[str, Any]:
    body = {"candidate_id": candidate, "body": "Assessio: 81", "visibility": "private"}
    body["note_type"] = "NOTE"
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


# -- the removed versions and the retired API keys ----------------------------------------


@pytest.mark.parametrize("path", ["/v1/users", "/v1/candidates/1/activity_feed", "/v2/jobs"])
def test_harvest_v1_and_v2_answer_404_even_with_a_valid_token(
    greenhouse: FakeGreenhouse, http: urllib3.PoolManager, path: str
) -> None:
    token = client_token(http, greenhouse)
    assert get(http, greenhouse.url + path, token).status == 404
    assert get(http, greenhouse.url + path, None).status == 404


def test_basic_api_keys_get_401_on_v3(
    greenhouse: FakeGreenhouse, http: urllib3.PoolManager
) -> None:
    basic = urllib3.make_headers(basic_auth="harvest-api-key-3a9b:")
    answer = Answer(http.request("GET", f"{greenhouse.url}/v3/users", headers=basic))
    assert answer.status == 401
    assert "Bearer" in answer.json()["message"]
    assert get(http, f"{greenhouse.url}/v3/users", None).status == 401
    assert get(http, f"{greenhouse.url}/v3/users", "not-a-token").status == 401
    assert {r.auth for r in greenhouse.requests} == {None}


# -- client credentials (custom integrations) ---------------------------------------------


def test_client_credentials_need_http_basic_client_authentication(
    greenhouse: FakeGreenhouse, http: urllib3.PoolManager
) -> None:
    form = {"grant_type": "client_credentials"}
    wrong = token_request(http, greenhouse, form, (CLIENT[0], "wrong"))
    assert (wrong.status, wrong.json()["error"]) == (401, "invalid_client")
    in_body = token_request(
        http, greenhouse, {**form, "client_id": CLIENT[0], "client_secret": CLIENT[1]}, None
    )
    assert (in_body.status, in_body.json()["error"]) == (401, "invalid_client")

    answer = token_request(http, greenhouse, form)
    assert answer.status == 200
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert "refresh_token" not in body  # client credentials have none
    assert greenhouse.tokens_issued == 1
    assert get(http, f"{greenhouse.url}/v3/users", body["access_token"]).status == 200


def test_sub_names_the_user_writes_are_attributed_to(
    greenhouse: FakeGreenhouse, http: urllib3.PoolManager
) -> None:
    robin = greenhouse.add_user("Robin", "Recruiter", "robin@acme.example")
    candidate = greenhouse.add_candidate("Ada", "Tester", "ada@example.com")
    token = client_token(http, greenhouse, sub=robin)
    created = send(http, "POST", f"{greenhouse.url}/v3/notes", token, note_body(candidate))
    assert created.status == 201
    assert created.json()["user_id"] == robin
    (write,) = greenhouse.writes
    assert (write.kind, write.target, write.status, write.user_id) == (
        "note",
        str(candidate),
        201,
        robin,
    )
    assert greenhouse.requests[-1].user_id == robin

    unknown = token_request(http, greenhouse, {"grant_type": "client_credentials", "sub": "999"})
    assert (unknown.status, unknown.json()["error"]) == (400, "invalid_request")


def test_access_tokens_live_an_hour_on_the_injected_clock(
    greenhouse: FakeGreenhouse, http: urllib3.PoolManager, clock: Clock
) -> None:
    token = client_token(http, greenhouse)
    clock.now += 3599
    assert get(http, f"{greenhouse.url}/v3/users", token).status == 200
    clock.now += 1
    assert get(http, f"{greenhouse.url}/v3/users", token).status == 401
    fresh = client_token(http, greenhouse)
    greenhouse.expire_tokens()
    assert get(http, f"{greenhouse.url}/v3/users", fresh).status == 401


def test_unknown_grant_types_are_refused(
    greenhouse: FakeGreenhouse, http: urllib3.PoolManager
) -> None:
    answer = token_request(http, greenhouse, {"grant_type": "password"})
    assert (answer.status, answer.json()["error"]) == (400, "unsupported_grant_type")
    assert token_request(http, greenhouse, {}).json()["error"] == "invalid_request"
    as_get = Answer(http.request("GET", f"{greenhouse.url}/token"))
    assert as_get.status == 405


# -- authorization code and refresh tokens (partner apps) ---------------------------------


def test_authorize_redirects_with_a_code_and_the_state(
    greenhouse: FakeGreenhouse, http: urllib3.PoolManager
) -> None:
    params = code_from(authorize(http, greenhouse, state="xyz 1", scope="harvest:notes:create"))
    assert params["state"] == ["xyz 1"]
    assert len(params["code"][0]) >= 20


@pytest.mark.parametrize(
    "params",
    [
        {"redirect_uri": "https://evil.example/callback"},
        {"client_id": "nobody"},
        {"client_id": CLIENT[0]},  # a custom integration is no partner app
    ],
)
def test_authorize_never_redirects_to_an_unregistered_uri(
    greenhouse: FakeGreenhouse, http: urllib3.PoolManager, params: dict[str, str]
) -> None:
    answer = authorize(http, greenhouse, state="s", **params)
    assert answer.status == 400
    assert "Location" not in answer.headers
    assert answer.headers["Content-Type"].startswith("text/html")


def test_authorize_reports_a_wrong_response_type_to_the_redirect_uri(
    greenhouse: FakeGreenhouse, http: urllib3.PoolManager
) -> None:
    params = code_from(authorize(http, greenhouse, response_type="token", state="s"))
    assert params == {"error": ["unsupported_response_type"], "state": ["s"]}


def test_a_code_is_traded_once_for_an_access_and_a_refresh_token(
    greenhouse: FakeGreenhouse, http: urllib3.PoolManager
) -> None:
    code = code_from(authorize(http, greenhouse, state="s"))["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    first = token_request(http, greenhouse, form, PARTNER)
    assert first.status == 200
    body = first.json()
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)
    assert body["refresh_token"]
    assert get(http, f"{greenhouse.url}/v3/users", body["access_token"]).status == 200
    again = token_request(http, greenhouse, form, PARTNER)
    assert (again.status, again.json()["error"]) == (400, "invalid_grant")
    assert greenhouse.refresh_tokens_issued == 1


def test_a_code_must_come_back_with_its_redirect_uri_and_its_client(
    greenhouse: FakeGreenhouse, http: urllib3.PoolManager
) -> None:
    code = code_from(authorize(http, greenhouse, state="s"))["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT + "/x"}
    assert token_request(http, greenhouse, form, PARTNER).json()["error"] == "invalid_grant"
    code = code_from(authorize(http, greenhouse, state="s"))["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    wrong_client = token_request(http, greenhouse, form, CLIENT)
    assert wrong_client.json()["error"] == "invalid_grant"


def test_a_code_lives_one_minute(
    greenhouse: FakeGreenhouse, http: urllib3.PoolManager, clock: Clock
) -> None:
    codes = [code_from(authorize(http, greenhouse, state="s"))["code"][0] for _ in range(2)]
    clock.now += 59.9
    form = {"grant_type": "authorization_code", "redirect_uri": REDIRECT}
    assert token_request(http, greenhouse, {**form, "code": codes[0]}, PARTNER).status == 200
    clock.now += 0.1
    late = token_request(http, greenhouse, {**form, "code": codes[1]}, PARTNER)
    assert (late.status, late.json()["error"]) == (400, "invalid_grant")


def test_partner_apps_cannot_use_client_credentials(
    greenhouse: FakeGreenhouse, http: urllib3.PoolManager
) -> None:
    answer = token_request(http, greenhouse, {"grant_type": "client_credentials"}, PARTNER)
    assert (answer.status, answer.json()["error"]) == (400, "unauthorized_client")


def test_a_refresh_rotates_the_refresh_token(
    greenhouse: FakeGreenhouse, http: urllib3.PoolManager
) -> None:
    old = partner_tokens(http, greenhouse)["refresh_token"]
    form = {"grant_type": "refresh_token", "refresh_token": old}
    renewed = token_request(http, greenhouse, form, PARTNER)
    assert renewed.status == 200
    new = renewed.json()["refresh_token"]
    assert new != old
    assert get(http, f"{greenhouse.url}/v3/users", renewed.json()["access_token"]).status == 200
    reused = token_request(http, greenhouse, form, PARTNER)
    assert (reused.status, reused.json()["error"]) == (400, "invalid_grant")
    assert token_request(http, greenhouse, {**form, "refresh_token": new}, PARTNER).status == 200
    assert greenhouse.refresh_tokens_issued == 3


def test_refresh_tokens_live_24_hours(
    greenhouse: FakeGreenhouse, http: urllib3.PoolManager, clock: Clock
) -> None:
    first = partner_tokens(http, greenhouse)["refresh_token"]
    second = partner_tokens(http, greenhouse)["refresh_token"]
    clock.now += 86399
    form = {"grant_type": "refresh_token"}
    assert token_request(http, greenhouse, {**form, "refresh_token": first}, PARTNER).status == 200
    clock.now += 1
    late = token_request(http, greenhouse, {**form, "refresh_token": second}, PARTNER)
    assert (late.status, late.json()["error"]) == (400, "invalid_grant")


def test_a_custom_integration_cannot_refresh(
    greenhouse: FakeGreenhouse, http: urllib3.PoolManager
) -> None:
    refresh = partner_tokens(http, greenhouse)["refresh_token"]
    form = {"grant_type": "refresh_token", "refresh_token": refresh}
    assert token_request(http, greenhouse, form, CLIENT).json()["error"] == "unauthorized_client"


def test_a_disconnected_partner_app_loses_its_tokens(
    greenhouse: FakeGreenhouse, http: urllib3.PoolManager
) -> None:
    tokens = partner_tokens(http, greenhouse)
    custom = client_token(http, greenhouse)
    greenhouse.revoke_refresh_tokens()
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    assert token_request(http, greenhouse, form, PARTNER).json()["error"] == "invalid_grant"
    assert get(http, f"{greenhouse.url}/v3/users", tokens["access_token"]).status == 401
    assert get(http, f"{greenhouse.url}/v3/users", custom).status == 200


def test_partner_writes_act_as_the_authorizing_user_or_a_service_account(
    greenhouse: FakeGreenhouse, http: urllib3.PoolManager
) -> None:
    candidate = greenhouse.add_candidate("Ada", "Tester", "ada@example.com")
    service = partner_tokens(http, greenhouse)["access_token"]
    greenhouse.authorizing_user = greenhouse.add_user("Site", "Admin", "admin@acme.example")
    person = partner_tokens(http, greenhouse)["access_token"]
    for token in (service, person):
        answer = send(http, "POST", f"{greenhouse.url}/v3/notes", token, note_body(candidate))
        assert answer.status == 201
    assert [n["user_id"] for n in greenhouse.notes(candidate)] == [
        None,
        greenhouse.authorizing_user,
    ]


# -- list reads, filters and cursor paging -------------------------------------------------


def follow(http: urllib3.PoolManager, url: str, token: str) -> tuple[list[Any], list[str]]:
    """Every item of a listing, following rel="next"; and the URLs requested."""
    items: list[Any] = []
    urls: list[str] = []
    next_url: str | None = url
    while next_url is not None:
        urls.append(next_url)
        answer = get(http, next_url, token)
        assert answer.status == 200, answer.raw
        items += answer.json()
        link = answer.headers.get("Link")
        next_url = None
        if link:
            assert link.endswith('>; rel="next"')  # only a next link, no prev or last
            next_url = link[1 : -len('>; rel="next"')]
    return items, urls


def test_lists_page_with_a_cursor_alone(clock: Clock, http: urllib3.PoolManager) -> None:
    with make_fake(clock, max_per_page=2) as fake:
        token = client_token(http, fake)
        candidates = [fake.add_candidate(f"C{i}", "T", f"c{i}@example.com") for i in range(5)]
        items, urls = follow(http, f"{fake.url}/v3/candidates?per_page=100", token)
        assert [c["id"] for c in items] == candidates
        assert len(urls) == 3
        assert all(list(parse_qs(urlsplit(u).query)) == ["cursor"] for u in urls[1:])

        second = urls[1]
        for extra in ("&per_page=50", "&ids=1"):
            refused = get(http, second + extra, token)
            assert refused.status == 422
            assert "only query parameter" in refused.json()["message"]
        garbage = get(http, f"{fake.url}/v3/candidates?cursor=bm9wZQ", token)
        assert garbage.status == 422


def test_a_cursor_keeps_the_first_requests_filters(clock: Clock, http: urllib3.PoolManager) -> None:
    with make_fake(clock, max_per_page=1) as fake:
        token = client_token(http, fake)
        ada, bo = (fake.add_candidate(n, "T", f"{n}@example.com") for n in ("ada", "bo"))
        for candidate in (ada, bo, ada, bo, ada):
            answer = send(http, "POST", f"{fake.url}/v3/notes", token, note_body(candidate))
            assert answer.status == 201
        notes, urls = follow(http, f"{fake.url}/v3/notes?candidate_ids={ada}", token)
        assert [n["candidate_id"] for n in notes] == [ada, ada, ada]
        assert len(urls) == 3


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("per_page=0", "per_page"),
        ("per_page=501", "per_page"),
        ("candidate_id=1", "candidate_id"),  # v3 filters are plural
        ("page=2", "page"),
        ("ids=" + ",".join(str(i) for i in range(51)), "ids"),
        ("ids=a,b", "ids"),
        ("ids=1&ids=2", "ids"),
    ],
)
def test_bad_query_parameters_get_422(
    greenhouse: FakeGreenhouse, http: urllib3.PoolManager, query: str, problem: str
) -> None:
    token = client_token(http, greenhouse)
    answer = get(http, f"{greenhouse.url}/v3/candidates?{query}", token)
    assert answer.status == 422
    assert answer.json()["message"].startswith("Invalid query params")
    assert problem in answer.json()["message"]


def test_reads_are_flat_lists_filtered_by_ids(
    greenhouse: FakeGreenhouse, http: urllib3.PoolManager
) -> None:
    token = client_token(http, greenhouse)
    robin = greenhouse.add_user("Robin", "Recruiter", "robin@acme.example")
    hana = greenhouse.add_user("Hana", "Manager", "hana@acme.example")
    job = greenhouse.add_job(
        "Backend Engineer",
        department="Engineering",
        notes="<p>Builds things</p>",
        hiring_team={"hiring_managers": [hana], "recruiters": [robin]},
    )
    other = greenhouse.add_job("Account Executive", department="Sales")
    ada = greenhouse.add_candidate("Ada", "Tester", [("ada@work.example", "work")])
    application = greenhouse.add_application(ada, job, stage="Assessment")
    url = greenhouse.url

    (found,) = get(http, f"{url}/v3/applications?ids={application}", token).json()
    assert (found["candidate_id"], found["job_id"]) == (ada, job)
    assert (found["stage_id"], found["stage_name"]) == (
        greenhouse.stage_id(job, "Assessment"),
        "Assessment",
    )
    assert found["status"] == "in_process"
    jobs = get(http, f"{url}/v3/jobs?ids={job},{other}", token).json()
    assert [j["name"] for j in jobs] == ["Backend Engineer", "Account Executive"]
    (department,) = get(http, f"{url}/v3/departments?ids={jobs[0]['department_id']}", token).json()
    assert department["name"] == "Engineering"
    (owner,) = get(http, f"{url}/v3/job_owners?job_ids={job}", token).json()
    assert (owner["user_id"], owner["type"], owner["responsible"]) == (robin, "recruiter", True)
    (manager,) = get(http, f"{url}/v3/job_hiring_managers?job_ids={job}", token).json()
    assert manager["user_id"] == hana
    users = get(http, f"{url}/v3/users?ids={robin}", token).json()
    assert [u["primary_email"] for u in users] == ["robin@acme.example"]
    assert get(http, f"{url}/v3/candidates?ids=424242", token).json() == []
    for path in (f"/v3/applications/{application}", f"/v3/candidates/{ada}", "/v3/nothing"):
        assert get(http, url + path, token).status in (404, 405)


def test_objects_have_the_shapes_of_the_v3_reference(
    greenhouse: FakeGreenhouse, http: urllib3.PoolManager
) -> None:
    token = client_token(http, greenhouse)
    greenhouse.seed_documented_stage_change()
    url = greenhouse.url
    greenhouse.add_custom_field("Assessio Score", value_type="number")
    greenhouse.add_job("Recruiter", hiring_team={"hiring_managers": [15]})
    created = send(http, "POST", f"{url}/v3/notes", token, note_body(265772))
    assert created.status == 201
    shapes = {
        "application": "applications",
        "candidate": "candidates",
        "custom_field": "custom_fields",
        "department": "departments",
        "job": "jobs",
        "job_hiring_manager": "job_hiring_managers",
        "job_interview_stage": "job_interview_stages",
        "job_owner": "job_owners",
        "note": "notes",
        "user": "users",
    }
    for schema, resource in shapes.items():
        items = get(http, f"{url}/v3/{resource}", token).json()
        assert items, resource
        for item in items:
            assert list(item) == SCHEMAS[schema], resource
    # The documented "List applications" example (harvestdocs.greenhouse.io reference, via the
    # OpenAPI copy named in fixtures/README.md) has exactly the fake's keys.
    (example,) = json.loads((FIXTURES / "harvest_v3_list_applications_example.json").read_text())
    (application,) = get(http, f"{url}/v3/applications?ids=265277", token).json()
    assert set(application) == set(example)
    assert application["status"] in SCHEMAS["enums"]["application.status"]
    assert created.json()["visibility"] in SCHEMAS["enums"]["note.visibility"]
    assert created.json()["type"] in SCHEMAS["enums"]["note.type"]


# -- notes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"candidate_id": None}, "candidate_id"),
        ({"candidate_id": "12"}, "candidate_id"),
        ({"body": None}, "body"),
        ({"body": "  "}, "body"),
        ({"visibility": None}, "visibility"),
        ({"visibility": "everyone"}, "visibility"),
        ({"visibility": "privately_visible"}, "visibility"),  # how reads show it, not a write value
        ({"note_type": None}, "note_type"),
        ({"note_type": "note"}, "note_type"),  # only the upper-case form is accepted
        ({"user_id": 424242}, "user_id"),
        ({"on_behalf_of": 1}, "on_behalf_of"),
    ],
)
def test_a_note_without_its_required_fields_gets_422(
    greenhouse: FakeGreenhouse, http: urllib3.PoolManager, changes: dict[str, Any], field: str
) -> None:
    token = client_token(http, greenhouse)
    candidate = greenhouse.add_candidate("Ada", "Tester", "ada@example.com")
    body = note_body(candidate, **changes)
    answer = send(http, "POST", f"{greenhouse.url}/v3/notes", token, body)
    assert answer.status == 422
    assert answer.json()["message"] == "Validation error"
    assert field in {e["field"] for e in answer.json()["errors"]}
    assert greenhouse.notes(candidate) == []
    (write,) = greenhouse.writes
    assert (write.kind, write.status, write.body) == ("note", 422, body)


def test_a_note_is_listed_by_candidate(
    greenhouse: FakeGreenhouse, http: urllib3.PoolManager
) -> None:
    token = client_token(http, greenhouse)
    ada = greenhouse.add_candidate("Ada", "Tester", "ada@example.com")
    bo = greenhouse.add_candidate("Bo", "Tester", "bo@example.com")
    for candidate, visibility in ((ada, "admin_only"), (bo, "public"), (ada, "private")):
        body = note_body(candidate, visibility=visibility, body=f"<b>{visibility}</b>")
        assert send(http, "POST", f"{greenhouse.url}/v3/notes", token, body).status == 201
    listed = get(http, f"{greenhouse.url}/v3/notes?candidate_ids={ada}", token).json()
    assert [(n["body"], n["visibility"]) for n in listed] == [
        ("<b>admin_only</b>", "admin_only_visible"),
        ("<b>private</b>", "privately_visible"),
    ]
    assert greenhouse.notes(ada) == listed
    not_json = Answer(
        http.request(
            "POST",
            f"{greenhouse.url}/v3/notes",
            body=b"{",
            headers={"Authorization": f"Bearer {token}"},
        )
    )
    assert not_json.status == 400


# -- custom fields ----------------------------------------------------------------------------


def test_candidate_custom_fields_are_listed_and_patched(
    greenhouse: FakeGreenhouse, http: urllib3.PoolManager
) -> None:
    token = client_token(http, greenhouse)
    score = greenhouse.add_custom_field("Assessio Score", value_type="number")
    greenhouse.add_custom_field("Assessio Report", value_type="url")
    greenhouse.add_custom_field("Budget", value_type="number", field_type="job")
    ada = greenhouse.add_candidate("Ada", "Tester", "ada@example.com")
    url = greenhouse.url

    fields = get(http, f"{url}/v3/custom_fields?field_type=candidate", token).json()
    assert [(f["name_key"], f["value_type"]) for f in fields] == [
        ("assessio_score", "number"),
        ("assessio_report", "url"),
    ]
    assert get(http, f"{url}/v3/custom_fields?field_type=nope", token).status == 422

    patch = {
        "custom_fields": [
            {"name_key": "assessio_score", "value": 81},
            {"name_key": "assessio_report", "value": "https://assessio.example/r/1"},
        ]
    }
    answer = send(http, "PATCH", f"{url}/v3/candidates/{ada}", token, patch)
    assert answer.status == 200
    assert answer.json()["custom_fields"]["assessio_score"] == {
        "name": "Assessio Score",
        "type": "number",
        "value": 81,
    }
    assert greenhouse.custom_field_values(ada) == {
        "assessio_score": 81,
        "assessio_report": "https://assessio.example/r/1",
    }
    clear = {"custom_fields": [{"custom_field_id": score, "value": None}]}
    assert send(http, "PATCH", f"{url}/v3/candidates/{ada}", token, clear).status == 200
    assert greenhouse.custom_field_values(ada) == {
        "assessio_report": "https://assessio.example/r/1"
    }


@pytest.mark.parametrize(
    "entry",
    [
        {"name_key": "assessio_score", "value": "eighty"},
        {"name_key": "assessio_score", "value": True},
        {"name_key": "budget", "value": 1},  # a job field
        {"name_key": "unknown", "value": 1},
        {"name_key": "assessio_score", "custom_field_id": 1, "value": 1},
        {"value": 1},
        {"name_key": "assessio_score", "delete_value": "true"},  # v1's way, gone in v3
    ],
)
def test_a_bad_custom_field_patch_gets_422_and_changes_nothing(
    greenhouse: FakeGreenhouse, http: urllib3.PoolManager, entry: dict[str, Any]
) -> None:
    token = client_token(http, greenhouse)
    greenhouse.add_custom_field("Assessio Score", value_type="number")
    greenhouse.add_custom_field("Budget", value_type="number", field_type="job")
    ada = greenhouse.add_candidate("Ada", "Tester", "ada@example.com")
    body = {"custom_fields": [{"name_key": "assessio_score", "value": 1}, entry]}
    answer = send(http, "PATCH", f"{greenhouse.url}/v3/candidates/{ada}", token, body)
    assert answer.status == 422
    assert greenhouse.custom_field_values(ada) == {}


def test_a_deleted_candidate_disappears_from_reads_and_cannot_be_patched(
    greenhouse: FakeGreenhouse, http: urllib3.PoolManager
) -> None:
    token = client_token(http, greenhouse)
    ada = greenhouse.add_candidate("Ada", "Tester", "ada@example.com")
    greenhouse.delete_candidate(ada)
    assert get(http, f"{greenhouse.url}/v3/candidates?ids={ada}", token).json() == []
    answer = send(http, "PATCH", f"{greenhouse.url}/v3/candidates/{ada}", token, {"title": "x"})
    assert (answer.status, answer.json()["message"]) == (404, "Resource not found")


# -- rate limits and injected faults -----------------------------------------------------------


def test_past_the_limit_harvest_answers_429_with_retry_after(
    clock: Clock, http: urllib3.PoolManager
) -> None:
    with make_fake(clock, rate_limit=3) as fake:
        token = client_token(http, fake)
        remaining = []
        for _ in range(3):
            answer = get(http, f"{fake.url}/v3/users", token)
            assert answer.headers["X-RateLimit-Limit"] == "3"
            remaining.append(answer.headers["X-RateLimit-Remaining"])
        assert remaining == ["2", "1", "0"]
        limited = get(http, f"{fake.url}/v3/users", token)
        assert (limited.status, limited.headers["Retry-After"]) == (429, "30")  # the v3 window
        clock.now += 10.5
        assert get(http, f"{fake.url}/v3/users", token).headers["Retry-After"] == "20"
        clock.now += 19.5
        assert get(http, f"{fake.url}/v3/users", token).status == 200


def test_retry_after_can_be_left_out(clock: Clock, http: urllib3.PoolManager) -> None:
    with make_fake(clock, rate_limit=1, rate_window=10.0, retry_after_on_429=False) as fake:
        token = client_token(http, fake)
        assert get(http, f"{fake.url}/v3/users", token).status == 200
        limited = get(http, f"{fake.url}/v3/users", token)
        assert limited.status == 429
        assert "Retry-After" not in limited.headers
        clock.now += 10
        assert get(http, f"{fake.url}/v3/users", token).status == 200


def test_injected_failures_hit_harvest_but_not_the_token_endpoint(
    greenhouse: FakeGreenhouse, http: urllib3.PoolManager
) -> None:
    greenhouse.fail_next(1, 503, retry_after=2)
    token = client_token(http, greenhouse)
    failed = get(http, f"{greenhouse.url}/v3/users", token)
    assert (failed.status, failed.headers["Retry-After"]) == (503, "2")
    assert get(http, f"{greenhouse.url}/v3/users", token).status == 200
    greenhouse.fail_always(500, path="/token")
    assert token_request(http, greenhouse, {"grant_type": "client_credentials"}).status == 500
    greenhouse.heal()
    assert client_token(http, greenhouse)


# -- web hooks ---------------------------------------------------------------------------------


class Receiver:
    """A web hook endpoint on 127.0.0.1 that records what it got and answers `statuses` in
    turn (then 200)."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.received: list[tuple[dict[str, str], bytes]] = []
        self._lock = threading.Lock()
        self.server = BackgroundServer(self)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        headers = {
            k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        headers["Content-Type"] = environ.get("CONTENT_TYPE", "")
        with self._lock:
            self.received.append((headers, body))
            status = self.statuses.pop(0) if self.statuses else 200
        start_response(f"{status} X", [("Content-Length", "0")])
        return [b""]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    endpoint = Receiver()
    with endpoint.server:
        yield endpoint


def hand_signature(secret: str, body: bytes) -> str:
    """The documented check, written out: HMAC-SHA256 of the raw body with the secret key."""
    return "sha256 " + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_web_hooks_are_signed_over_the_raw_body(
    greenhouse: FakeGreenhouse, receiver: Receiver
) -> None:
    assert greenhouse.configure_webhook(receiver.server.url, "gh-secret-e8e8") == 200
    event = greenhouse.send_webhook("candidate_stage_change", {"note": "<p>Ådå & co</p>"})
    (ping_headers, ping), (headers, body) = receiver.received
    assert json.loads(ping)["action"] == "ping"
    assert ping_headers["Signature"] == hand_signature("gh-secret-e8e8", ping)
    assert headers["Signature"] == hand_signature("gh-secret-e8e8", body)
    assert headers["Greenhouse-Event-Id"] == event
    assert headers["Content-Type"] == "application/json"
    assert b"\\u003cp\\u003e\\u00c5d\\u00e5 \\u0026 co\\u003c/p\\u003e" in body
    assert ping_headers["Greenhouse-Event-Id"] != event


def test_failed_web_hooks_are_retried_with_the_same_event_id() -> None:
    assert RETRY_DELAYS == (60.0, 900.0, 3600.0, 7200.0, 14400.0, 28800.0)  # 7 attempts in all
    endpoint = Receiver()
    with endpoint.server, make_fake(Clock(), retry_factor=0.0002) as fake:
        fake.configure_webhook(endpoint.server.url, "s")
        endpoint.statuses = [500, 503]
        event = fake.send_webhook("candidate_stage_change", {"x": 1})
        attempts = fake.wait_for(
            lambda f: [d for d in f.deliveries if d.event_id == event and d.status == 200]
        )
        tries = [d for d in fake.deliveries if d.event_id == event]
        assert [(d.attempt, d.status) for d in tries] == [(1, 500), (2, 503), (3, 200)]
        assert attempts[0].attempt == 3
        bodies = {body for headers, body in endpoint.received[1:]}
        assert len(bodies) == 1
        assert fake.redeliver(event) == 200
        assert endpoint.received[-1][0]["Greenhouse-Event-Id"] == event


def test_the_documented_stage_change_is_sent_verbatim_and_resolves_through_v3(
    greenhouse: FakeGreenhouse, receiver: Receiver, http: urllib3.PoolManager
) -> None:
    # grnhse/greenhouse-api-docs source/includes/webhooks/_candidate_events.md, verbatim
    # (commit eb73ea399396364d47c03d5ed9f365ff8a0dd33a; see fixtures/README.md).
    fixture = (FIXTURES / "candidate_stage_change.json").read_bytes()
    assert (PACKAGE_DATA / "candidate_stage_change.json").read_bytes() == fixture
    example = greenhouse.seed_documented_stage_change()
    assert example == json.loads(fixture)
    assert greenhouse.documented_stage_change_body() == fixture

    greenhouse.configure_webhook(receiver.server.url, "documented-secret")
    greenhouse.send_webhook_body(
        "candidate_stage_change", greenhouse.documented_stage_change_body()
    )
    headers, body = receiver.received[-1]
    assert body == fixture
    assert headers["Signature"] == hand_signature("documented-secret", fixture)

    application = example["payload"]["application"]
    candidate = application["candidate"]
    (job,) = application["jobs"]
    token = client_token(http, greenhouse)
    url = greenhouse.url
    (found,) = get(http, f"{url}/v3/applications?ids={application['id']}", token).json()
    assert found["candidate_id"] == candidate["id"]
    assert found["job_id"] == job["id"]
    assert (found["stage_id"], found["stage_name"]) == (
        application["current_stage"]["id"],
        application["current_stage"]["name"],
    )
    (person,) = get(http, f"{url}/v3/candidates?ids={candidate['id']}", token).json()
    assert person["email_addresses"] == candidate["email_addresses"]
    assert person["custom_fields"]["favorite_color"]["value"] == "Blue"
    (posting,) = get(http, f"{url}/v3/jobs?ids={job['id']}", token).json()
    assert (posting["name"], posting["notes"]) == (job["name"], job["notes"])
    (department,) = get(http, f"{url}/v3/departments?ids={posting['department_id']}", token).json()
    assert department["name"] == job["departments"][0]["name"]
    people = [application["credited_to"], candidate["recruiter"]]
    users = get(http, f"{url}/v3/users?ids={','.join(str(p['id']) for p in people)}", token).json()
    assert [(u["id"], u["primary_email"]) for u in users] == sorted(
        (p["id"], p["email"]) for p in people
    )
    owners = get(http, f"{url}/v3/job_owners?job_ids={job['id']}", token).json()
    assert {(o["type"], o["user_id"]) for o in owners} == {
        ("recruiter", candidate["recruiter"]["id"]),
        ("coordinator", candidate["coordinator"]["id"]),
    }


def test_moving_an_application_sends_the_documented_shape(
    greenhouse: FakeGreenhouse, receiver: Receiver
) -> None:
    # The documented example (fixtures/README.md) is the shape every stage change must have.
    documented = json.loads((FIXTURES / "candidate_stage_change.json").read_bytes())
    robin = greenhouse.add_user("Robin", "Recruiter", "robin@acme.example")
    job = greenhouse.add_job(
        "Designer", department="Community", hiring_team={"recruiters": [robin]}
    )
    ada = greenhouse.add_candidate("Ada", "Tester", "ada@example.com")
    application = greenhouse.add_application(ada, job)
    greenhouse.configure_webhook(receiver.server.url, "s")
    event = greenhouse.move_to_stage(application, "Assessment")
    headers, body = receiver.received[-1]
    assert headers["Greenhouse-Event-Id"] == event
    sent = json.loads(body)
    assert sent["action"] == documented["action"]
    ours, theirs = sent["payload"]["application"], documented["payload"]["application"]
    assert set(ours) == set(theirs)
    assert set(ours["candidate"]) == set(theirs["candidate"])
    assert set(ours["jobs"][0]) == set(theirs["jobs"][0])
    assert ours["current_stage"]["name"] == "Assessment"
    assert ours["candidate"]["recruiter"]["email"] == "robin@acme.example"
    assert ours["jobs"][0]["departments"][0]["name"] == "Community"


# -- the Assessment Partner API, Greenhouse's side ----------------------------------------------


class Partner:
    """A partner's four endpoints, answering what the test sets; records `request_errors`."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.status_answer: Any = {"partner_status": "in_progress"}
        self.errors: list[Any] = []
        self.server = BackgroundServer(self)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        expected = urllib3.make_headers(basic_auth=f"{self.key}:")["authorization"]
        if environ.get("HTTP_AUTHORIZATION") != expected:
            return self._answer(start_response, 401, {"error": "bad key"})
        path = environ["PATH_INFO"]
        if path == "/list_tests":
            return self._answer(
                start_response, 200, [{"partner_test_id": "t1", "partner_test_name": "T"}]
            )
        if path == "/send_test":
            return self._answer(start_response, 200, {"partner_interview_id": "i-1"})
        if path == "/test_status":
            return self._answer(start_response, 200, self.status_answer)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        self.errors.append(json.loads(environ["wsgi.input"].read(length)))
        return self._answer(start_response, 200, {"status": 200})

    @staticmethod
    def _answer(start_response: Callable[..., Any], status: int, data: Any) -> list[bytes]:
        body = json.dumps(data).encode()
        start_response(f"{status} X", [("Content-Type", "application/json")])
        return [body]


def test_complete_without_a_profile_url_is_refused_and_reported(
    greenhouse: FakeGreenhouse,
) -> None:
    partner = Partner("partner-key-5151")
    with partner.server:
        greenhouse.connect_partner(partner.server.url, partner.key)
        ada = greenhouse.add_candidate("Ada", "Tester", "ada@example.com")
        job = greenhouse.add_job("Designer")
        application = greenhouse.add_application(ada, job)
        assert greenhouse.list_tests() == [{"partner_test_id": "t1", "partner_test_name": "T"}]
        interview = greenhouse.send_test(application, "t1")

        partner.status_answer = {"partner_status": "complete", "partner_score": 81}
        assert greenhouse.test_status(interview) == (200, partner.status_answer)
        (test,) = greenhouse.take_home_tests
        assert test.status is None
        documented = "partner_status is 'complete' but partner_profile url is missing"
        assert test.errors == (documented,)
        (report,) = partner.errors
        assert report == {
            "api_call": "test_status",
            "errors": [documented],
            "partner_interview_id": interview,
        }

        good = {**partner.status_answer, "partner_profile_url": "https://p.example/r/1"}
        partner.status_answer = good
        greenhouse.test_status(interview)
        (test,) = greenhouse.take_home_tests
        assert (test.status, test.errors) == (good, ())


def test_the_completion_patch_needs_the_partner_key_and_asks_test_status(
    greenhouse: FakeGreenhouse, http: urllib3.PoolManager
) -> None:
    partner = Partner("partner-key-5151")
    with partner.server:
        greenhouse.connect_partner(partner.server.url, partner.key)
        ada = greenhouse.add_candidate("Ada", "Tester", "ada@example.com")
        application = greenhouse.add_application(ada, greenhouse.add_job("Designer"))
        greenhouse.send_test(application, "t1")
        (test,) = greenhouse.take_home_tests
        url = f"{greenhouse.url}/integrations/testing_partners/take_home_tests/{test.id}"
        assert http.request("PATCH", url).status == 401
        key = urllib3.make_headers(basic_auth=f"{partner.key}:")
        other = f"{greenhouse.url}/integrations/testing_partners/take_home_tests/424242"
        assert http.request("PATCH", other, headers=key).status == 404
        partner.status_answer = {"partner_status": "complete", "partner_profile_url": "https://p/1"}
        done = http.request("PATCH", url, headers=key)
        assert (done.status, done.data) == (200, b"")
        finished = greenhouse.wait_for(
            lambda f: [t for t in f.take_home_tests if t.status is not None]
        )
        assert finished[0].completions == 1
        assert [(w.kind, w.target, w.status) for w in greenhouse.writes] == [
            ("completion", "424242", 404),
            ("completion", str(test.id), 200),
        ]


# -- the fake's own cursor codec and its construction -------------------------------------------


@given(
    st.dictionaries(st.text(max_size=8), st.text(max_size=12), max_size=4),
    st.integers(1, 500),
    st.integers(0, 10**12),
)
def test_a_cursor_round_trips(filters: dict[str, str], per_page: int, after: int) -> None:
    cursor = Cursor(filters, per_page, after)
    encoded = cursor.encode()
    assert set(encoded) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert Cursor.decode(encoded) == cursor


@given(st.text(max_size=40))
def test_a_foreign_cursor_is_refused_cleanly(text: str) -> None:
    with contextlib.suppress(CursorError):
        Cursor.decode(text)


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        (
            {
                "client_id": None,
                "client_secret": None,
                "partner_client_id": None,
                "partner_client_secret": None,
            },
            "register",
        ),
        ({"client_secret": None}, "go together"),
        ({"partner_redirect_uris": ()}, "redirect"),
        ({"max_per_page": 501}, "max_per_page"),
        ({"code_ttl": 0}, "positive"),
    ],
)
def test_bad_construction_is_refused(options: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        make_fake(Clock(), **options)


def test_no_secret_shows_in_reprs(greenhouse: FakeGreenhouse, http: urllib3.PoolManager) -> None:
    client_token(http, greenhouse)
    shown = repr(greenhouse) + repr(greenhouse.requests) + repr(greenhouse.writes)
    assert CLIENT[1] not in shown
    assert PARTNER[1] not in shown
