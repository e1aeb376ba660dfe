"""The integrator kit's pytest plugin: the reference connector passes `ConnectorConformance` in
both styles, a broken connector fails it, and the fixtures do what they promise."""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import attrs
import pytest

from assessio_connect.contract.errors import RetryableError
from assessio_connect.contract.models import Result
from assessio_connect.reference import ReferenceAts, ReferenceConnector, sign
from assessio_connect.runtime.connector import PollPage, Pushback
from assessio_connect.runtime.plugins import Plugins
from assessio_connect.sandbox import Organisation, Sandbox
from assessio_connect.testing import (
    MISSING,
    AtsRequest,
    ConnectorConformance,
    DaemonFactory,
    InvalidConfig,
    RecordingContext,
    ResultSender,
    make_pushback,
    toml_value,
    with_secret_files,
)
from assessio_connect.testing._toml import SecretFiles

PLUGIN_INSTALLED = any(
    entry.value == "assessio_connect.testing"
    for entry in importlib.metadata.entry_points(group="pytest11")
)
# Until the core's pytest11 entry point is installed, the plugin is loaded explicitly.
PLUGIN_ARGS = [] if PLUGIN_INSTALLED else ["-p", "assessio_connect.testing"]
pytest_plugins = ["pytester"] + ([] if PLUGIN_INSTALLED else ["assessio_connect.testing"])

TOKEN = "reference-ats-token-4b1d"
WEBHOOK = "reference-webhook-secret-93ce"
JOB = {"id": "job-7", "title": "Backend Engineer", "department": "Engineering"}


def candidate(index: int) -> dict[str, str]:
    return {"id": f"cand-{index}", "email": f"candidate{index}@example.com", "name": f"C {index}"}


# -- the reference connector passes the suite, as push and as pull ------------------------


class _ReferenceSuite(ConnectorConformance):
    """What both styles share: the fake, the write-back hooks and the invalid configs."""

    valid_config: ClassVar[Mapping[str, Any]] = {
        "base_url": "https://ats.example.com",
        "api_token": TOKEN,
        "webhook_secret": WEBHOOK,
    }
    invalid_configs: ClassVar[Sequence[InvalidConfig]] = (
        # A field's attrs validator is reported at the field; a cross-field check in
        # __attrs_post_init__ (webhook_secret or poll) at the table.
        InvalidConfig({"base_url": "ftp://ats.example.com"}, "base_url", "must be an http://"),
        InvalidConfig({"api_token": MISSING}, "api_token", "required key missing"),
        InvalidConfig({"api_token": ""}, "api_token", "is empty", id="empty-token"),
        InvalidConfig({"page_size": 0}, "page_size", "page_size must be from 1 to"),
        InvalidConfig({"poll": "yes"}, "poll", "expected true or false"),
        InvalidConfig({"webhook_secret": MISSING, "poll": False}, "", "needs webhook_secret"),
        InvalidConfig({"colour": "blue"}, "", "unknown key 'colour'"),
    )

    @pytest.fixture
    def fake_ats(self) -> Iterator[ReferenceAts]:
        with ReferenceAts(api_token=TOKEN, webhook_secret=WEBHOOK) as fake:
            yield fake

    def written_results(self, fake_ats: ReferenceAts, application_id: str) -> Sequence[Any]:
        stored = fake_ats.results.get(application_id)
        return [stored] if stored is not None else []

    def fail_writes(self, fake_ats: ReferenceAts, status: int | None) -> None:
        if status is None:
            fake_ats.heal()
        else:
            fake_ats.fail_always(status)

    def fail_writes_with_retry_after(
        self, fake_ats: ReferenceAts, status: int, seconds: int
    ) -> bool:
        fake_ats.fail_next(1_000_000, status, retry_after=seconds)  # until heal()
        return True


class TestReferencePushConformance(_ReferenceSuite):
    connector_class = ReferenceConnector
    style = "push"
    push_credential_headers = ("X-Reference-Signature",)
    push_signature_covers_body = True  # HMAC-SHA256 of the raw body (docs/reference-ats.md)

    def ats_config(self, fake_ats: ReferenceAts) -> Mapping[str, Any]:
        return {"base_url": fake_ats.url}

    def create_invitation(self, fake_ats: ReferenceAts, index: int) -> AtsRequest | None:
        body = fake_ats.add_invitation(f"app-{index}", job=JOB, candidate=candidate(index))
        raw = json.dumps(body).encode()
        return AtsRequest(
            "/events",
            raw,
            {"Content-Type": "application/json", "X-Reference-Signature": sign(raw, WEBHOOK)},
        )


class TestReferencePullConformance(_ReferenceSuite):
    connector_class = ReferenceConnector
    style = "pull"

    def ats_config(self, fake_ats: ReferenceAts) -> Mapping[str, Any]:
        return {
            "base_url": fake_ats.url,
            "webhook_secret": MISSING,
            "poll": True,
            "page_size": 2,
            "poll_interval": 0.05,
        }

    def create_invitation(self, fake_ats: ReferenceAts, index: int) -> AtsRequest | None:
        fake_ats.add_invitation(f"app-{index}", job=JOB, candidate=candidate(index))
        return None


def test_style_decides_which_checks_exist() -> None:
    push_only = "test_bad_push_requests_are_refused"
    pull_only = "test_poll_pages_until_done"
    assert callable(getattr(TestReferencePushConformance, push_only))
    assert getattr(TestReferencePushConformance, pull_only) is None
    assert callable(getattr(TestReferencePullConformance, pull_only))
    assert getattr(TestReferencePullConformance, push_only) is None
    with pytest.raises(TypeError, match="both wsgi_app and poll"):

        class Ambiguous(ConnectorConformance):  # a connector of both styles needs `style`
            connector_class = ReferenceConnector


# -- a broken connector fails the suite ---------------------------------------------------


class SloppyConnector(ReferenceConnector):
    """Treats every failure as retryable: a bug the suite must catch."""

    kind: ClassVar[str] = "sloppy"

    def push_result(self, pushback: Pushback) -> None:
        try:
            super().push_result(pushback)
        except Exception as exc:
            raise RetryableError(f"failed: {exc}") from None


class _SloppySuite(TestReferencePushConformance):
    connector_class = SloppyConnector


@pytest.fixture
def sloppy_suite(tmp_path: Path) -> Iterator[tuple[_SloppySuite, Any]]:
    from assessio_connect.testing import ConformanceHarness

    suite = _SloppySuite()
    with ReferenceAts(api_token=TOKEN, webhook_secret=WEBHOOK) as fake:
        harness = ConformanceHarness(suite, fake, tmp_path)
        try:
            yield suite, harness
        finally:
            harness.close()


def test_the_suite_catches_a_wrong_error_class(sloppy_suite: tuple[_SloppySuite, Any]) -> None:
    suite, harness = sloppy_suite
    with pytest.raises(AssertionError, match="must raise PermanentError, not RetryableError"):
        suite.test_permanent_failures_raise_permanent_error(harness)


def test_the_suite_catches_a_missing_plugin_registration() -> None:
    with pytest.raises(AssertionError, match="no installed plugin registers SloppyConnector"):
        _SloppySuite().test_plugin_registers_the_connector()


def test_the_suite_catches_an_accepted_invalid_config(tmp_path: Path) -> None:
    lenient = InvalidConfig({"poll_interval": 5.0}, "poll_interval")
    with pytest.raises(pytest.fail.Exception, match="DID NOT RAISE"):
        _SloppySuite().test_invalid_config_is_refused_with_its_path(tmp_path, lenient)
    wrong_path = InvalidConfig({"page_size": 0}, "base_url")
    with pytest.raises(AssertionError, match=r"expected a problem @ \$.tenants.conformance.ats"):
        _SloppySuite().test_invalid_config_is_refused_with_its_path(tmp_path, wrong_path)


class EndlessPoller(ReferenceConnector):
    kind: ClassVar[str] = "endless"

    def poll(self, cursor: str | None) -> PollPage:
        return attrs.evolve(super().poll(cursor), more=True)


def test_the_suite_catches_endless_paging(tmp_path: Path) -> None:
    from assessio_connect.testing import ConformanceHarness

    class Endless(TestReferencePullConformance):
        connector_class = EndlessPoller

    suite = Endless()
    with ReferenceAts(api_token=TOKEN) as fake:
        harness = ConformanceHarness(suite, fake, tmp_path)
        try:
            with pytest.raises(pytest.fail.Exception, match="never ends"):
                suite.test_poll_pages_until_done(harness)
        finally:
            harness.close()


# -- the fixtures -------------------------------------------------------------------------


def test_sandbox_knows_the_organisation(
    assessio_sandbox: Sandbox, assessio_organisation: Organisation
) -> None:
    assert assessio_sandbox.url.startswith("http://127.0.0.1:")
    assert assessio_sandbox.organisations == (assessio_organisation,)
    assert assessio_organisation.result_api_key
    assert assessio_organisation.result_signing_secret


@pytest.fixture
def pushing_ats() -> Iterator[ReferenceAts]:
    with ReferenceAts(api_token=TOKEN, webhook_secret=WEBHOOK) as fake:
        yield fake


def push_one(fake: ReferenceAts, daemon_url: str, index: int = 1) -> None:
    body = fake.add_invitation(f"app-{index}", job=JOB, candidate=candidate(index))
    assert fake.push_event(f"{daemon_url}/connectors/acme/events", body) == 202


def test_daemon_factory_runs_the_whole_loop(
    assessio_daemon_factory: DaemonFactory, pushing_ats: ReferenceAts
) -> None:
    running = assessio_daemon_factory(
        "reference",
        {"base_url": pushing_ats.url, "api_token": TOKEN, "webhook_secret": WEBHOOK},
    )
    push_one(pushing_ats, running.url)
    [result] = running.complete_all(1)
    [order] = running.orders()
    assert order.application_id == "app-1"
    pushing_ats.wait_for_writes(1)
    assert pushing_ats.results["app-1"]["score"] == result.score
    [delivered] = running.wait_for_deliveries(1)
    assert delivered.result_id == order.result_id
    assert running.complete_all() == []  # nothing left without a result
    assert any(e.event == "order.sent" for e in running.events)
    config_text = running.config_path.read_text()
    for secret in (TOKEN, WEBHOOK, running.organisation.provider_key):
        assert secret not in config_text  # secrets live in files
        assert secret not in running.log_text()


def test_daemon_factory_takes_toml_text_and_restarts_on_the_same_store(
    assessio_daemon_factory: DaemonFactory, pushing_ats: ReferenceAts
) -> None:
    ats = f"""
base_url = {toml_value(pushing_ats.url)}
api_token = {assessio_daemon_factory.secret("token", TOKEN)}
webhook_secret = {assessio_daemon_factory.secret("webhook", WEBHOOK)}
"""
    running = assessio_daemon_factory(
        "reference", ats, 'lens = "Leadership"\nlocale = "sv-SE"', tenant="globex"
    )
    assert running.connector_url.endswith("/connectors/globex")
    body = pushing_ats.add_invitation("app-1", job=JOB, candidate=candidate(1))
    assert pushing_ats.push_event(f"{running.connector_url}/events", body) == 202
    [sent] = running.wait_for_orders(1)
    assert sent.order.locale == "sv-SE"
    url = running.url
    running.restart()
    assert running.url == url
    assert [o.application_id for o in running.orders()] == ["app-1"]
    running.complete_all()
    pushing_ats.wait_for_writes(1)


def test_daemon_factory_refuses_an_unknown_kind(assessio_daemon_factory: DaemonFactory) -> None:
    with pytest.raises(LookupError, match="no connector of kind 'nope'"):
        assessio_daemon_factory("nope", {})


def test_daemon_factory_polls_on_request(assessio_daemon_factory: DaemonFactory) -> None:
    with ReferenceAts(api_token=TOKEN) as fake:
        running = assessio_daemon_factory(
            "reference", {"base_url": fake.url, "api_token": TOKEN, "poll": True}
        )
        running.wait_until(
            lambda: any(e.event == "daemon.started" for e in running.events), what="start"
        )
        fake.add_invitation("app-9", job=JOB, candidate=candidate(9))
        running.poll_now()  # the interval is 30 s: only the wake-up can find it in time
        running.wait_for_orders(1, timeout=5)
        running.stop()


@pytest.mark.parametrize("result_auth", ["api-key", "signature", "both"])
def test_result_sender_credentials(
    assessio_daemon_factory: DaemonFactory,
    assessio_result_sender: ResultSender,
    pushing_ats: ReferenceAts,
    result_auth: Any,
) -> None:
    running = assessio_daemon_factory(
        "reference",
        {"base_url": pushing_ats.url, "api_token": TOKEN, "webhook_secret": WEBHOOK},
        result_auth=result_auth,
    )
    push_one(pushing_ats, running.url)
    [order] = running.wait_until(running.orders, what="an order")
    result = Result(result_id=order.result_id, score=55)
    send = assessio_result_sender
    assert send(running, result, api_key="wrong", signing_secret="wrong").status == 401
    if result_auth != "signature":
        assert send(running, result, api_key=None).status == 401
    if result_auth != "api-key":
        assert send(running, result, signing_secret=None).status == 401
    stored = send(running, result)
    assert (stored.status, stored.json()) == (200, {"status": "stored", "version": 1})
    again = send(running.url, {"resultId": order.result_id, "score": 55}, tenant="acme")
    assert again.status == 401  # to a bare URL no credential is sent by default
    pushing_ats.wait_for_writes(1)
    assert pushing_ats.results["app-1"]["score"] == 55


def test_result_sender_raw_bytes_need_a_result_id(
    assessio_daemon_factory: DaemonFactory,
    assessio_result_sender: ResultSender,
    pushing_ats: ReferenceAts,
) -> None:
    running = assessio_daemon_factory(
        "reference", {"base_url": pushing_ats.url, "api_token": TOKEN, "webhook_secret": WEBHOOK}
    )
    with pytest.raises(ValueError, match="result_id"):
        assessio_result_sender(running, b"{}")
    answer = assessio_result_sender(running, b"{not json", result_id="r-1")
    assert answer.status == 400
    assert running.deliveries() == []


MARKED_TEST = """
from typing import ClassVar

import attrs
import pytest

from assessio_connect import Connector, hookimpl


class Marked(Connector):
    kind: ClassVar[str] = "marked"

    @attrs.frozen
    class Config:
        url: str


class MarkedPlugin:
    @hookimpl
    def assessio_register_connectors(self, register):
        register(Marked)


@pytest.mark.assessio_plugins(("marked-plugin", MarkedPlugin()), entry_points=False)
def test_marked(assessio_plugins):
    assert assessio_plugins.connector("marked") is Marked
    assert assessio_plugins.connector("reference") is not None
    assert all(info.name != "greenhouse" for info in assessio_plugins.describe())


def test_unmarked(assessio_plugins):
    assert assessio_plugins.connector("marked") is None
"""


def test_plugins_fixture_takes_extra_plugins_from_a_marker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_marked=MARKED_TEST)
    result = pytester.runpytest_inprocess(
        *PLUGIN_ARGS, "--strict-markers", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=2)


def test_plugins_fixture_is_fresh_and_loads_installed_plugins(assessio_plugins: Plugins) -> None:
    assert assessio_plugins.connector("marked") is None
    assert assessio_plugins.connector("reference") is ReferenceConnector


# -- the helpers --------------------------------------------------------------------------


def test_secrets_become_files(tmp_path: Path) -> None:
    @attrs.frozen
    class Nested:
        token: str

    files = SecretFiles(tmp_path, prefix="t-")
    values = {"base_url": "http://x", "api_token": "s3cret-1", "webhook_secret": MISSING}
    converted = with_secret_files(ReferenceConnector.Config, values, files)
    assert converted["base_url"] == "http://x"
    assert "webhook_secret" not in converted
    path = Path(converted["api_token"]["file"])
    assert path.read_text() == "s3cret-1\n"
    assert files.written == {"t-api_token": "s3cret-1"}
    kept = with_secret_files(ReferenceConnector.Config, {"api_token": {"env": "X"}}, files)
    assert kept == {"api_token": {"env": "X"}}
    assert toml_value({"a b": [1, 2.5, True, "é\n"]}) == '{ "a b" = [1, 2.5, true, "\\u00e9\\n"] }'


def test_recording_context_and_pushback() -> None:
    context = RecordingContext("acme")
    try:
        assert context.assessio_config().find_lens("General Performance") is not None
        context.log("x.y", a=1)
        assert context.events("x.y") == [{"a": 1}]
        context.invite_error = RetryableError("down")
        with pytest.raises(RetryableError):
            context.invite(_invitation())
        context.invite_error = None
        first = context.invite(_invitation())
        assert context.invite(_invitation()) == first
        assert len(context.invited) == 2
        assert context.find_order("app-1") == first
        pushback = make_pushback(first, version=2)
        assert (pushback.version, pushback.result.result_id) == (2, first.result_id)
    finally:
        context.close()


def _invitation() -> Any:
    from assessio_connect.runtime.connector import AtsCandidate, AtsJob, Invitation

    return Invitation(
        "app-1", AtsJob("job-1", "Engineer"), AtsCandidate("c-1", "ada@example.com", "Ada")
    )


def test_the_suite_refuses_a_config_of_the_other_style(tmp_path: Path) -> None:
    from assessio_connect.testing import ConformanceHarness

    class PullConfigForPush(TestReferencePushConformance):
        def ats_config(self, fake_ats: ReferenceAts) -> Mapping[str, Any]:
            return {"base_url": fake_ats.url, "webhook_secret": MISSING, "poll": True}

    with (
        ReferenceAts(api_token=TOKEN) as fake,
        pytest.raises(pytest.fail.Exception, match="tested as push style"),
    ):
        ConformanceHarness(PullConfigForPush(), fake, tmp_path)
