"""The Greenhouse connector's parts against the fake over real HTTP on 127.0.0.1, without the
daemon: the Harvest client (auth, pagination, pacing, error mapping), the web hook endpoint
(signature, stage rules, payload problems), the write-back's idempotence, the configuration,
`check()`, plugin discovery and the demo."""

from __future__ import annotations

import importlib.metadata
import io
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
from greenhouse_world import GENERAL, KEYS, Context, order_record, world
from hypothesis import given, settings
from hypothesis import strategies as st

import assessio_connect_greenhouse.plugin as greenhouse_plugin
from assessio_connect._routing import DaemonApp
from assessio_connect._server import BackgroundServer
from assessio_connect.config import Secret
from assessio_connect.connector import Pushback
from assessio_connect.errors import ConfigError, PayloadError, PermanentError, RetryableError
from assessio_connect.models import Result
from assessio_connect.plugins import load_plugins
from assessio_connect.transport import Transport
from assessio_connect_greenhouse import (
    SIGNATURE_HEADER,
    CustomFieldMap,
    GreenhouseConfig,
    GreenhouseConnector,
    HarvestClient,
    OAuthCredentials,
    StageTrigger,
    WebhookSettings,
    parse_link_header,
    parse_stage_change,
    sign,
)
from assessio_connect_greenhouse._webhook import RecentEvents, signature_problem
from assessio_connect_greenhouse._writeback import custom_field_entries, written_versions
from assessio_connect_greenhouse.fake import FakeGreenhouse, greenhouse_json

SECRET = KEYS["webhook_secret"]


class FakeTime:
    """A clock the test moves: `sleep` advances it instantly."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def transport() -> Iterator[Transport]:
    built = Transport(connect_timeout=2.0, read_timeout=5.0)
    yield built
    built.close()


@pytest.fixture
def greenhouse() -> Iterator[FakeGreenhouse]:
    with FakeGreenhouse(
        api_key=KEYS["harvest_key"],
        client_id=KEYS["client_id"],
        client_secret=KEYS["client_secret"],
    ) as fake:
        yield fake


def make_config(url: str, author: int | None = 1, **changes: Any) -> GreenhouseConfig:
    options: dict[str, Any] = {
        "harvest_url": url,
        "api_key": Secret("env:HARVEST", KEYS["harvest_key"]),
        "on_behalf_of": author,
        "webhook": WebhookSettings(
            secret_key=Secret("env:WEBHOOK", SECRET), stages=(StageTrigger(name="Assessment"),)
        ),
    }
    options.update(changes)
    return GreenhouseConfig(**options)


# -- Link headers -------------------------------------------------------------------------


def test_greenhouses_documented_link_header_is_read() -> None:
    value = (
        '<https://harvest.greenhouse.io/v1/candidates?page=2&per_page=2>; rel="next",\n'
        '<https://harvest.greenhouse.io/v1/candidates?page=474&per_page=2>; rel="last"'
    )
    assert parse_link_header(value) == {
        "next": "https://harvest.greenhouse.io/v1/candidates?page=2&per_page=2",
        "last": "https://harvest.greenhouse.io/v1/candidates?page=474&per_page=2",
    }
    assert parse_link_header(None) == {}
    assert parse_link_header("garbage, <x>; foo=bar") == {}


urls = st.builds(
    "https://h.example/v1/{}?page={}&q={}".format,
    st.text(alphabet="abcxyz", min_size=1, max_size=8),
    st.integers(min_value=1, max_value=999),
    st.text(alphabet="ab,;=", max_size=6),
)


@settings(max_examples=150, deadline=None)
@given(links=st.dictionaries(st.sampled_from(["next", "prev", "last", "first"]), urls))
def test_link_headers_round_trip(links: dict[str, str]) -> None:
    value = ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links.items())
    assert parse_link_header(value) == links


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_link_header_text_parses_without_error(value: str) -> None:
    assert isinstance(parse_link_header(value), dict)


# -- the Harvest client -------------------------------------------------------------------


def test_collections_are_read_page_by_page_through_link_headers(transport: Transport) -> None:
    with FakeGreenhouse(api_key=KEYS["harvest_key"], max_per_page=2) as fake:
        users = [fake.add_user(f"U{n}", "Ser", f"u{n}@example.com") for n in range(5)]
        for n in range(3):
            fake.add_custom_field(f"Field {n}")
        client = HarvestClient(make_config(fake.url), transport)
        listed = client.get_all("/v1/users", action="list users")
        assert [user["id"] for user in listed] == users
        fields = client.get_all("/v1/custom_fields/candidate", action="list fields")
        assert [f["name_key"] for f in fields] == ["field_0", "field_1", "field_2"]
        pages = [r for r in fake.requests if r.path == "/v1/custom_fields/candidate"]
        assert len(pages) == 2  # a next-only Link, as Greenhouse's newer paging gives


def test_a_next_link_to_another_host_is_not_followed(transport: Transport) -> None:
    seen: list[str] = []

    def elsewhere(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        seen.append(str(environ.get("HTTP_AUTHORIZATION")))
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"[]"]

    with BackgroundServer(elsewhere) as other:

        def harvest(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            link = f'<{other.url}/v1/users?page=2>; rel="next"'
            start_response("200 OK", [("Content-Type", "application/json"), ("Link", link)])
            return [b"[]"]

        with BackgroundServer(harvest) as server:
            client = HarvestClient(make_config(server.url), transport)
            with pytest.raises(PermanentError, match="points outside"):
                client.get_all("/v1/users", action="list users")
    assert seen == []


def test_pacing_by_rate_limit_headers_avoids_429s(transport: Transport) -> None:
    clock = FakeTime()
    with FakeGreenhouse(
        api_key=KEYS["harvest_key"], rate_limit=4, rate_window=10.0, clock=clock
    ) as fake:
        fake.add_user("A", "B", "a@example.com")
        config = make_config(fake.url, rate_limit_window=10.0)
        client = HarvestClient(config, transport, sleep=clock.sleep, clock=clock)
        for _ in range(12):
            client.get("/v1/users?per_page=1", action="read users")
        assert [r.status for r in fake.requests] == [200] * 12
        assert clock.slept == [2.5, 10.0] * 2 + [2.5]
        http = urllib3.PoolManager(retries=False)
        auth = urllib3.make_headers(basic_auth=f"{KEYS['harvest_key']}:")
        statuses = []
        for _ in range(5):
            response = http.request("GET", f"{fake.url}/v1/users", headers=auth)
            statuses.append(response.status)
        assert statuses[-1] == 429
        assert response.headers["Retry-After"] == "8"  # the window opened 2.5 s ago
        assert "X-RateLimit-Remaining" not in response.headers


@pytest.mark.parametrize(
    ("status", "kind", "words"),
    [
        (500, RetryableError, "HTTP 500"),
        (503, RetryableError, "HTTP 503"),
        (404, PermanentError, "HTTP 404: injected failure"),
        (422, PermanentError, "HTTP 422: Validation error; body: injected failure"),
        (403, PermanentError, "forbade it (HTTP 403: injected failure)"),
    ],
)
def test_harvest_errors_are_retryable_or_permanent(
    greenhouse: FakeGreenhouse,
    transport: Transport,
    status: int,
    kind: type[Exception],
    words: str,
) -> None:
    client = HarvestClient(make_config(greenhouse.url), transport)
    greenhouse.fail_next(1, status)
    with pytest.raises(kind, match="could not read users") as caught:
        client.get("/v1/users", action="read users")
    assert words in str(caught.value)


def test_429_retry_after_and_network_failures_are_retryable(
    greenhouse: FakeGreenhouse, transport: Transport
) -> None:
    client = HarvestClient(make_config(greenhouse.url), transport, sleep=lambda _: None)
    greenhouse.fail_next(1, 429, retry_after=7)
    with pytest.raises(RetryableError) as caught:
        client.get("/v1/users", action="read users")
    assert caught.value.retry_after == 7
    dead = HarvestClient(make_config("http://127.0.0.1:9"), transport)
    with pytest.raises(RetryableError, match="could not read users"):
        dead.get("/v1/users", action="read users")


def test_credentials_and_writes_are_checked(
    greenhouse: FakeGreenhouse, transport: Transport
) -> None:
    candidate = greenhouse.add_candidate("Ada", "Lovelace", "ada@example.com")
    wrong = make_config(greenhouse.url, api_key=Secret("env:BAD", "not-the-key"))
    with pytest.raises(PermanentError, match="refused the Harvest credentials") as caught:
        HarvestClient(wrong, transport).get("/v1/users", action="read users")
    assert "not-the-key" not in str(caught.value)
    anonymous = HarvestClient(make_config(greenhouse.url, author=999), transport)
    with pytest.raises(PermanentError, match="On-Behalf-Of user 999 was not found"):
        anonymous.write(
            "POST",
            f"/v1/candidates/{candidate}/activity_feed/notes",
            {"user_id": 999, "body": "x", "visibility": "public"},
            action="add a note",
        )


def test_oauth_tokens_are_cached_and_replaced_after_a_401(
    greenhouse: FakeGreenhouse, transport: Transport
) -> None:
    user = greenhouse.add_user("Robin", "Recruiter", "robin@example.com")
    oauth = OAuthCredentials(
        client_id=KEYS["client_id"],
        client_secret=Secret("env:CS", KEYS["client_secret"]),
        token_url=f"{greenhouse.url}/token",
        user_id=user,
    )
    client = HarvestClient(make_config(greenhouse.url, api_key=None, oauth=oauth), transport)
    for _ in range(3):
        client.get("/v1/users", action="read users")
    assert greenhouse.tokens_issued == 1
    greenhouse.expire_tokens()
    client.get("/v1/users", action="read users")
    assert greenhouse.tokens_issued == 2
    assert [r.status for r in greenhouse.requests if r.path == "/v1/users"] == [200] * 3 + [
        401,
        200,
    ]
    refused = OAuthCredentials(
        client_id=KEYS["client_id"],
        client_secret=Secret("env:CS", "wrong-secret"),
        token_url=f"{greenhouse.url}/token",
    )
    bad = HarvestClient(make_config(greenhouse.url, api_key=None, oauth=refused), transport)
    with pytest.raises(PermanentError, match="invalid_client") as caught:
        bad.get("/v1/users", action="read users")
    assert "check ats.oauth.client_id" in str(caught.value)
    assert "wrong-secret" not in str(caught.value)


# -- web hooks ----------------------------------------------------------------------------


def test_signatures_follow_greenhouses_scheme() -> None:
    body = greenhouse_json({"action": "ping", "payload": {"note": "<p>hé</p>"}})
    assert b"\\u003cp\\u003eh\\u00e9\\u003c/p\\u003e" in body
    signature = sign(body, SECRET)
    assert signature.startswith("sha256 ")
    assert len(signature) == len("sha256 ") + 64
    assert signature_problem(body, signature, SECRET) is None
    assert signature_problem(body, signature.upper().replace("SHA256", "sha256"), SECRET) is None
    assert "missing" in (signature_problem(body, None, SECRET) or "")
    assert "must look like" in (signature_problem(body, "sha1 abc", SECRET) or "")
    assert "does not match" in (signature_problem(body + b" ", signature, SECRET) or "")
    assert "does not match" in (signature_problem(body, sign(body, "other"), SECRET) or "")


def test_recent_events_forget_the_oldest() -> None:
    events = RecentEvents(size=2)
    for event in ("a", "b", "c"):
        events.add(event)
    assert "a" not in events
    assert "b" in events
    assert "c" in events
    assert len(events) == 2


def stage_change(**application: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": 265277,
        "prospect": False,
        "current_stage": {"id": 71416, "name": "Assessment"},
        "candidate": {
            "id": 265772,
            "first_name": "Giuseppe",
            "last_name": "Hurley",
            "email_addresses": [
                {"value": "work@example.com", "type": "work"},
                {"value": "giuseppe@example.com", "type": "personal"},
            ],
        },
        "jobs": [
            {
                "id": 3485,
                "name": "Designer",
                "notes": "<p>Digital &amp; print</p>",
                "departments": [{"id": 237, "name": "Community"}],
            }
        ],
    }
    base.update(application)
    return {"action": "candidate_stage_change", "payload": {"application": base}}


def test_a_stage_change_payload_is_read() -> None:
    change = parse_stage_change(stage_change())
    assert (change.application_id, change.candidate_id, change.job_id) == (
        "265277",
        "265772",
        "3485",
    )
    assert (change.stage_id, change.stage_name) == ("71416", "Assessment")
    assert change.email == "giuseppe@example.com"
    assert change.candidate_name == "Giuseppe Hurley"
    assert (change.job_name, change.job_description, change.department) == (
        "Designer",
        "Digital & print",
        "Community",
    )
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
def endpoint(transport: Transport) -> Iterator[tuple[str, Context]]:
    """The connector's routes mounted as the daemon mounts them, with a hand-made context."""
    context = Context(transport)
    stages = (StageTrigger(name="Assessment"), StageTrigger(id=5, jobs=(3485,)))
    config = make_config(
        "http://127.0.0.1:9",
        webhook=WebhookSettings(secret_key=Secret("env:WEBHOOK", SECRET), stages=stages),
    )
    connector = GreenhouseConnector(config, context)

    def not_found(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("404 Not Found", [])
        return [b""]

    with BackgroundServer(DaemonApp(not_found, {"acme": connector.wsgi_app()})) as server:
        yield f"{server.url}/connectors/acme", context


def deliver(url: str, data: Any, method: str = "POST") -> tuple[int, Any]:
    body = data if isinstance(data, bytes) else greenhouse_json(data)
    response = urllib3.PoolManager(retries=False).request(
        method, f"{url}/webhook", body=body, headers={SIGNATURE_HEADER: sign(body, SECRET)}
    )
    return response.status, json.loads(response.data)


def test_the_web_hook_endpoint_orders_only_for_assessment_stages(
    endpoint: tuple[str, Context],
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
    assert (status, data["status"], data["result_id"]) == (200, "ordered", "result-1")
    status, data = deliver(url, stage_change())  # the same application again
    assert (status, data["result_id"]) == (200, "result-1")
    (invitation,) = context.invited
    assert invitation.application_id == "265277"
    assert invitation.job.department == "Community"
    assert invitation.candidate.email == "giuseppe@example.com"
    assert invitation.metadata == {"mode": "webhook", "stage": "Take Home"}


def test_the_web_hook_endpoint_explains_what_it_cannot_use(
    endpoint: tuple[str, Context],
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
    assert context.invited == []


# -- write-back ---------------------------------------------------------------------------


def pushback(candidate: int, version: int, score: int, mode: str = "webhook") -> Pushback:
    record = order_record("app-1", "result-1", candidate_id=str(candidate), metadata={"mode": mode})
    result = Result(
        result_id="result-1",
        score=score,
        subscores={"Driving Results": 80, "Collaborating": 62},
        recruitment_url="https://assessio.example/r/1",
        assessment_report_url="https://assessio.example/report/1",
    )
    return Pushback(order=record, result=result, version=version, attempt=1)


def test_write_back_is_idempotent_per_version_and_never_goes_backwards(
    greenhouse: FakeGreenhouse, transport: Transport
) -> None:
    author = greenhouse.add_user("Robin", "Recruiter", "robin@example.com")
    greenhouse.add_custom_field("Assessio Score", value_type="number")
    greenhouse.add_custom_field("Assessio Subscores", value_type="long_text")
    candidate = greenhouse.add_candidate("Ada", "Lovelace", "ada@example.com")
    fields = CustomFieldMap(score="assessio_score", subscores="assessio_subscores")
    config = make_config(greenhouse.url, author=author, custom_fields=fields)
    connector = GreenhouseConnector(config, Context(transport))
    connector.push_result(pushback(candidate, 1, 50))
    connector.push_result(pushback(candidate, 1, 50))  # a repeat after a crash
    (note,) = greenhouse.notes(candidate)
    assert "Subscores: Collaborating 62, Driving Results 80" in note["body"]
    assert greenhouse.custom_field_values(candidate) == {
        "assessio_score": 50,
        "assessio_subscores": "Collaborating 62, Driving Results 80",
    }
    connector.push_result(pushback(candidate, 2, 60))
    connector.push_result(pushback(candidate, 1, 50))  # an old version arriving late
    assert len(greenhouse.notes(candidate)) == 2
    assert greenhouse.custom_field_values(candidate)["assessio_score"] == 60
    kinds = [w.kind for w in greenhouse.writes]
    assert kinds == ["note", "custom_fields", "custom_fields", "note", "custom_fields"]


def test_custom_field_problems_are_found_before_anything_is_written(
    greenhouse: FakeGreenhouse, transport: Transport
) -> None:
    author = greenhouse.add_user("Robin", "Recruiter", "robin@example.com")
    greenhouse.add_custom_field("Assessio Score", value_type="date")
    candidate = greenhouse.add_candidate("Ada", "Lovelace", "ada@example.com")
    fields = CustomFieldMap(score="assessio_score", report_url="assessio_link")
    config = make_config(greenhouse.url, author=author, custom_fields=fields)
    connector = GreenhouseConnector(config, Context(transport))
    with pytest.raises(PermanentError) as caught:
        connector.push_result(pushback(candidate, 1, 50))
    assert str(caught.value) == (
        "cannot write the result into the candidate's custom fields: custom_fields.score: "
        "field 'assessio_score' is of type date, which cannot hold the score (use a text or "
        "number field); custom_fields.report_url: 'assessio_link' is not a candidate custom "
        "field in Greenhouse (fix ats.custom_fields, then requeue the delivery)"
    )
    assert greenhouse.writes == []
    with pytest.raises(PermanentError, match="assessio_link"):
        connector.check()


def test_notes_written_for_other_results_do_not_count() -> None:
    notes = [
        {"body": "assessio-result: result-10 v3"},
        {"body": "hello\n\nassessio-result: result-1 v2"},
        {"body": None},
        "junk",
    ]
    assert written_versions(notes, "result-1") == {2}
    entries, problems = custom_field_entries(
        Result(result_id="r", score=None), [("score", "s")], {"s": "number"}
    )
    assert (entries, problems) == ([], [])


def test_check_names_what_it_verified(greenhouse: FakeGreenhouse, transport: Transport) -> None:
    author = greenhouse.add_user("Robin", "Recruiter", "robin@example.com")
    greenhouse.add_custom_field("Assessio Score", value_type="number")
    config = make_config(
        greenhouse.url, author=author, custom_fields=CustomFieldMap(score="assessio_score")
    )
    said = GreenhouseConnector(config, Context(transport)).check()
    assert said == (
        f"Harvest at {greenhouse.url} accepted the credentials; on_behalf_of is user {author} "
        "(Robin Recruiter); custom fields assessio_score exist; web hooks are received at "
        "/webhook"
    )


# -- configuration, discovery, demo -------------------------------------------------------


def test_configuration_problems_are_reported_with_their_path(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        with pytest.raises(ConfigError) as caught:
            w.load(
                'note_visibility = "everyone"\n[tenants.acme.ats.webhook]\nenabled = false\n'
                f"secret_key = {w.secret('webhook_secret')}"
            )
        problems = caught.value.problems
        assert problems == (
            "note_visibility must be one of admin_only, private, public, not 'everyone' "
            "@ $.tenants.acme.ats",
        )
        with pytest.raises(ConfigError) as caught:
            w.load(
                f"[tenants.acme.ats.webhook]\nsecret_key = {w.secret('webhook_secret')}\n"
                'stages = [{ name = "Assessment", id = 4 }]',
                auth="none",
            )
        assert caught.value.problems == (
            "each webhook.stages entry needs exactly one of name (a stage name) or id "
            "(a stage id) @ $.tenants.acme.ats.webhook.stages[0]",
        )
        with pytest.raises(ConfigError) as caught:
            w.load(
                f"[tenants.acme.ats.webhook]\nsecret_key = {w.secret('webhook_secret')}\n"
                'stages = [{ name = "Assessment" }]',
                auth="none",
            )
        (problem,) = caught.value.problems
        assert problem == (
            "webhook mode writes results through Harvest: set api_key or [...ats.oauth]; "
            "webhook mode needs on_behalf_of (the Greenhouse user id that writes the notes) "
            "@ $.tenants.acme.ats"
        )
        assert KEYS["webhook_secret"] not in str(caught.value)


def test_the_plugin_is_found_through_its_entry_point() -> None:
    found = [
        entry
        for entry in importlib.metadata.entry_points(group="assessio_connect")
        if entry.name == "greenhouse"
    ]
    plugins = load_plugins(entry_points=False)
    plugins.load_entry_points(found)
    plugins.collect_connectors()
    assert plugins.connector("greenhouse") is GreenhouseConnector
    assert plugins.connector_config("greenhouse") is GreenhouseConfig


def test_the_demo_runs_the_whole_loop() -> None:
    from assessio_connect._cli_runtime import load_daemon_config
    from assessio_connect.demo import run_demo

    plugins = load_plugins(entry_points=False, extra=[("greenhouse", greenhouse_plugin)])
    out = io.StringIO()

    def echo(line: str) -> None:
        out.write(line + "\n")

    rows = run_demo(
        plugins,
        candidates=2,
        kinds=["greenhouse"],
        echo=echo,
        timeout=20,
        load=lambda path: load_daemon_config(plugins, path),
    )
    assert [row.written_to.startswith("activity note on candidate") for row in rows] == [
        True,
        True,
    ]
    assert sorted(row.lens for row in rows) == ["General Performance", "Sales"]
    assert GENERAL  # the default lens is the emulator's General Performance


def test_the_readme_example_configuration_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readme = Path(__file__).parent.parent / "README.md"
    text = readme.read_text(encoding="utf-8")
    example = text.split("```toml\n", 1)[1].split("```", 1)[0]
    for name in ("ACME_HARVEST_KEY", "ACME_GH_WEBHOOK_SECRET", "ACME_GH_PARTNER_KEY", "PK", "IS"):
        monkeypatch.setenv(name, f"value-of-{name.lower()}")
    path = tmp_path / "assessio-connect.toml"
    path.write_text(
        '[tenants.acme]\nenvironment = "sandbox"\nprovider_key = { env = "PK" }\n'
        'integrator_secret = { env = "IS" }\n'
        '[tenants.acme.webhook]\napi_keys = [{ env = "PK" }]\n'
        '[tenants.acme.assessment]\nlens = "General Performance"\nlocale = "en-GB"\n' + example
    )
    plugins = load_plugins(entry_points=False, extra=[("greenhouse", greenhouse_plugin)])
    from assessio_connect._cli_runtime import load_daemon_config

    config = load_daemon_config(plugins, path).tenants["acme"].ats
    assert isinstance(config, GreenhouseConfig)
    assert config.webhook is not None
    assert [(s.name, s.id, s.jobs) for s in config.webhook.stages] == [
        ("Assessment", None, ()),
        (None, 71416, ()),
        ("Take Home", None, (3485, 3490)),
    ]
    assert config.partner_enabled
    assert config.custom_fields == CustomFieldMap(
        score="assessio_score", report_url="assessio_report"
    )
