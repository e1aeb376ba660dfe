"""The Greenhouse connector passes assessio-connect's conformance suite against FakeGreenhouse
(Harvest v3 behind OAuth), once in web hook mode and once in Assessment Partner mode (both are
push style)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import pytest

from assessio_connect.sandbox import DEFAULT_LENSES
from assessio_connect.testing import (
    MISSING,
    AtsRequest,
    BackgroundServer,
    ConformanceHarness,
    ConnectorConformance,
    InvalidConfig,
)
from assessio_connect_greenhouse import SIGNATURE, GreenhouseConnector
from assessio_connect_greenhouse.fake import FakeGreenhouse, TakeHomeTest

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

WEBHOOK_SECRET = "gh-conformance-webhook-93a0"
PARTNER_KEY = "gh-conformance-partner-4c7d"
CLIENT_ID = "gh-conformance-client"
CLIENT_SECRET = "gh-conformance-client-secret-18b6"
GENERAL_ID = DEFAULT_LENSES[0].id
"""The emulator's "General Performance" lens, sent by Greenhouse as a partner test id."""
FAST_WINDOW = 0.05
"""`rate_limit_window`: after an injected 429 without Retry-After, Harvest calls pause this long
instead of Harvest's 30 s."""
_NOT_FORWARDED = {"host", "content-length", "connection", "transfer-encoding", "accept-encoding"}


@attrs.frozen
class HeldRequest:
    """A request the fake Greenhouse sent, held instead of reaching the connector."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes


class StandIn:
    """Where the fake Greenhouse sends web hooks and partner calls during these tests: it holds
    each request, so the suite can deliver it to the connector itself (through the harness or
    a daemon). Pings and `send_test` are acknowledged as a connector would; the `test_status`
    Greenhouse asks after a completion gets 404 (the result lives in the connector)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: list[HeldRequest] = []
        self._server = BackgroundServer(self._app)

    @property
    def url(self) -> str:
        return self._server.url

    def __enter__(self) -> StandIn:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()

    def take(self, path: str) -> AtsRequest:
        """The latest held request to `path`, as an `AtsRequest` for the connector."""
        with self._lock:
            for index in range(len(self._held) - 1, -1, -1):
                if self._held[index].path == path:
                    held = self._held.pop(index)
                    return AtsRequest(held.path, held.body, held.headers, held.method)
        raise AssertionError(f"the fake Greenhouse sent nothing to {path}")

    def _app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO") or "/")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {
            key[5:].replace("_", "-").title(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_") and key[5:].replace("_", "-").lower() not in _NOT_FORWARDED
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = str(environ["CONTENT_TYPE"])
        method = str(environ.get("REQUEST_METHOD", "GET"))
        with self._lock:
            self._held.append(HeldRequest(method, path, headers, body))
        if path == "/test_status":
            status, answer = "404 Not Found", {"message": "ask the connector"}
        elif path == "/send_test":
            status, answer = "200 OK", {"partner_interview_id": f"held-{len(self._held)}"}
        else:
            status, answer = "200 OK", {}
        start_response(status, [("Content-Type", "application/json")])
        return [json.dumps(answer).encode()]


@attrs.define
class GreenhouseUnderTest:
    """The fake Greenhouse (a recruiter, a job with an "Assessment" stage, the custom fields
    results go into) and the stand-in its web hooks and partner calls are sent to."""

    greenhouse: FakeGreenhouse
    stand_in: StandIn
    author: int
    job: int
    candidates: dict[str, int] = attrs.field(factory=dict)
    """Greenhouse application id (the connector's application_id) -> candidate id."""

    def applicant(self, index: int) -> int:
        """A new candidate with one application in the job; returns the application id."""
        candidate = self.greenhouse.add_candidate(
            "Candidate", str(index), f"candidate{index}@example.com"
        )
        application = self.greenhouse.add_application(candidate, self.job)
        self.candidates[str(application)] = candidate
        return application

    def fail_writes(self, status: int | None) -> None:
        if status is None:
            self.greenhouse.heal()
        else:
            self.greenhouse.fail_always(status)


class _GreenhouseSuite(ConnectorConformance):
    """What both modes share: the fake Greenhouse and its stand-in."""

    @pytest.fixture
    def fake_ats(self) -> Iterator[GreenhouseUnderTest]:
        with (
            FakeGreenhouse(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as greenhouse,
            StandIn() as stand_in,
        ):
            author = greenhouse.add_user("Robin", "Recruiter", "robin@acme.example")
            job = greenhouse.add_job("Backend Engineer", department="Engineering")
            greenhouse.add_custom_field("Assessio Score", value_type="number")
            greenhouse.add_custom_field("Assessio Report", value_type="url")
            greenhouse.configure_webhook(f"{stand_in.url}/webhook", WEBHOOK_SECRET)
            greenhouse.connect_partner(stand_in.url, PARTNER_KEY)
            yield GreenhouseUnderTest(greenhouse, stand_in, author, job)

    def fail_writes(self, fake_ats: GreenhouseUnderTest, status: int | None) -> None:
        fake_ats.fail_writes(status)


class TestGreenhouseWebhookConformance(_GreenhouseSuite):
    """Web hook mode: a signed `candidate_stage_change` orders; the result is written back as a
    Harvest v3 note (and custom fields) with a client-credentials token."""

    connector_class = GreenhouseConnector
    valid_config: ClassVar[Mapping[str, Any]] = {
        "oauth": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "user_id": 1},
        "custom_fields": {"score": "assessio_score", "report_url": "assessio_report"},
        "webhook": {"secret_key": WEBHOOK_SECRET, "stages": [{"name": "Assessment"}]},
    }
    invalid_configs: ClassVar[Sequence[InvalidConfig]] = (
        InvalidConfig({"api_key": "retired-key"}, "", "no longer accepted", id="retired-api-key"),
        InvalidConfig(
            {"oauth": MISSING}, "", "webhook mode writes results through Harvest v3", id="no-oauth"
        ),
        InvalidConfig(
            {"oauth": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}},
            "oauth",
            "oauth.user_id is required",
            id="no-user",
        ),
        InvalidConfig({"on_behalf_of": "robin"}, "on_behalf_of", "expected an integer"),
        InvalidConfig(
            {"note_visibility": "everyone"},
            "note_visibility",
            "note_visibility must be one of",
            id="visibility",
        ),
        InvalidConfig(
            {"harvest_url": "ftp://harvest.example"},
            "harvest_url",
            "harvest_url must be",
            id="harvest-url",
        ),
        InvalidConfig(
            {"harvest_url": "https://harvest.greenhouse.io/v1"},
            "harvest_url",
            "points at Harvest v1",
            id="harvest-v1",
        ),
        InvalidConfig(
            {"webhook": {"secret_key": WEBHOOK_SECRET, "stages": []}},
            "webhook",
            "at least one",
            id="webhook-no-stages",
        ),
        InvalidConfig(
            {"webhook": {"secret_key": WEBHOOK_SECRET, "stages": [{"name": "A", "id": 7}]}},
            "webhook.stages[0]",
            "exactly one of name",
            id="webhook-stage-name-and-id",
        ),
        InvalidConfig(
            {"custom_fields": {"score": "Assessio Score"}},
            "custom_fields.score",
            "immutable field key",
            id="custom-field-key",
        ),
        InvalidConfig({"colour": "blue"}, "", "unknown key 'colour'", id="unknown-key"),
    )

    def ats_config(self, fake_ats: GreenhouseUnderTest) -> Mapping[str, Any]:
        url = fake_ats.greenhouse.url
        oauth = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "user_id": fake_ats.author}
        return {
            "harvest_url": url,
            "auth_url": url,
            "oauth": oauth,
            "rate_limit_window": FAST_WINDOW,
        }

    def create_invitation(self, fake_ats: GreenhouseUnderTest, index: int) -> AtsRequest | None:
        application = fake_ats.applicant(index)
        fake_ats.greenhouse.move_to_stage(application, "Assessment")
        return fake_ats.stand_in.take("/webhook")

    push_credential_headers: ClassVar[Sequence[str]] = ("Signature",)
    push_signature_covers_body = True
    """`Signature: sha256 <hex>` is an HMAC-SHA256 of the entire raw body (grnhse/
    greenhouse-api-docs, source/includes/webhooks/_introduction.md)."""

    def bad_push_requests(
        self, fake_ats: GreenhouseUnderTest, good: AtsRequest
    ) -> Sequence[AtsRequest]:
        """The defaults (unsigned, the signature altered, the body changed after signing),
        plus signed with another key."""
        forged = {**good.headers, SIGNATURE.header: SIGNATURE.sign(good.body, "not-the-secret-key")}
        return [*super().bad_push_requests(fake_ats, good), attrs.evolve(good, headers=forged)]

    def written_results(self, fake_ats: GreenhouseUnderTest, application_id: str) -> Sequence[Any]:
        """The v3 notes on the application's candidate: the connector writes one per result
        version (custom fields are overwritten in place, so they cannot pile up)."""
        return fake_ats.greenhouse.notes(fake_ats.candidates[application_id])

    def visible_results(self, fake_ats: GreenhouseUnderTest, application_id: str) -> Any:
        """The notes and the candidate's custom field values: an older version must change
        neither."""
        candidate = fake_ats.candidates[application_id]
        greenhouse = fake_ats.greenhouse
        return [*greenhouse.notes(candidate), greenhouse.custom_field_values(candidate)]

    def test_another_event_for_one_application_orders_once(
        self, assessio_conformance: ConformanceHarness
    ) -> None:
        """The suite's repeat has the same Greenhouse-Event-ID (answered as a duplicate and
        queued once); a candidate moved into the stage again is a new event, queued, and must
        not order again either. A ping is acknowledged and invites nobody; a move into another
        stage is answered at once and queues nothing. Every answer is a 200: Greenhouse counts
        anything else as a failure."""
        harness = assessio_conformance
        fake: GreenhouseUnderTest = harness.fake
        greenhouse = fake.greenhouse
        greenhouse.configure_webhook(f"{fake.stand_in.url}/webhook", WEBHOOK_SECRET)
        ping = fake.stand_in.take("/webhook")
        assert harness.send(ping)[0] == 200
        assert harness.context.invited == []
        application = fake.applicant(0)
        sent = []
        for stage in ("Assessment", "Face to Face", "Assessment"):
            greenhouse.move_to_stage(application, stage)
            sent.append(fake.stand_in.take("/webhook"))
        answers = [harness.send(request) for request in sent]
        assert [status for status, _ in answers] == [200, 200, 200], answers
        assert [json.loads(body)["status"] for _, body in answers] == [
            "accepted",
            "ignored",
            "accepted",
        ]
        assert len(harness.context.queued) == 2
        assert list(harness.context.orders) == [str(application)]


class TestGreenhousePartnerConformance(_GreenhouseSuite):
    """Assessment Partner mode: Greenhouse's `send_test` orders; the result is announced with
    the completion PATCH. Harvest is reached with OAuth client credentials (to read the job)."""

    connector_class = GreenhouseConnector
    valid_config: ClassVar[Mapping[str, Any]] = {
        "oauth": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "user_id": 1},
        "partner": {
            "api_key": PARTNER_KEY,
            "completion_hosts": ["127.0.0.1"],
            "allow_http_completion": True,
        },
    }
    invalid_configs: ClassVar[Sequence[InvalidConfig]] = (
        InvalidConfig(
            {"partner": {"api_key": PARTNER_KEY, "enabled": False}},
            "",
            "enable webhook mode",
            id="no-mode-enabled",
        ),
        InvalidConfig({"partner": {}}, "partner.api_key", "required key missing"),
        InvalidConfig(
            {"partner": {"api_key": PARTNER_KEY, "completion_hosts": ["https://x.example/"]}},
            "partner",
            "is not a host name",
            id="completion-host",
        ),
        InvalidConfig(
            {"oauth": {"client_id": " ", "client_secret": CLIENT_SECRET, "user_id": 1}},
            "oauth",
            "oauth.client_id must not be empty",
            id="oauth-client-id",
        ),
        InvalidConfig(
            {"oauth": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "grant": "x"}},
            "oauth",
            "oauth.grant must be client_credentials",
            id="oauth-grant",
        ),
        InvalidConfig(
            {"oauth": {"client_id": CLIENT_ID}}, "oauth.client_secret", "required key missing"
        ),
        InvalidConfig(
            {"custom_fields": {"score": "assessio_score"}},
            "",
            "custom_fields are written in webhook mode only",
            id="custom-fields-without-webhook",
        ),
    )

    def ats_config(self, fake_ats: GreenhouseUnderTest) -> Mapping[str, Any]:
        url = fake_ats.greenhouse.url
        oauth = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "user_id": fake_ats.author}
        return {
            "harvest_url": url,
            "auth_url": url,
            "oauth": oauth,
            "rate_limit_window": FAST_WINDOW,
        }

    def create_invitation(self, fake_ats: GreenhouseUnderTest, index: int) -> AtsRequest | None:
        application = fake_ats.applicant(index)
        fake_ats.greenhouse.send_test(application, GENERAL_ID)
        return fake_ats.stand_in.take("/send_test")

    def bad_push_requests(
        self, fake_ats: GreenhouseUnderTest, good: AtsRequest
    ) -> Sequence[AtsRequest]:
        """No credentials, another key, the wrong method, a completion url outside
        `completion_hosts` (the partner key would be sent there) and no e-mail address.
        (A body changed in transit is no test here: partner calls are not signed.)"""
        content_type = {"Content-Type": "application/json"}
        wrong_key = {**content_type, "Authorization": "Basic bm90LXRoZS1rZXk6"}  # "not-the-key:"
        data = json.loads(good.body)
        elsewhere = {**data, "url": "https://collector.example/take_home_tests/1"}
        no_email = {**data, "candidate": {**data["candidate"], "email": None}}
        return [
            attrs.evolve(good, headers=content_type),
            attrs.evolve(good, headers=wrong_key),
            attrs.evolve(good, method="GET", body=b""),
            attrs.evolve(good, body=json.dumps(elsewhere).encode()),
            attrs.evolve(good, body=json.dumps(no_email).encode()),
        ]

    def written_results(self, fake_ats: GreenhouseUnderTest, application_id: str) -> Sequence[Any]:
        """The take-home test marked complete: Greenhouse keeps one result per test (it reads
        it with test_status after each completion PATCH), so a repeated PATCH cannot add a
        second one. The connector's `partner_interview_id` is `gh-test-<take-home test id>`."""
        found: list[TakeHomeTest] = [
            test
            for test in fake_ats.greenhouse.take_home_tests
            if f"gh-test-{test.id}" == application_id and test.completions > 0
        ]
        return found
