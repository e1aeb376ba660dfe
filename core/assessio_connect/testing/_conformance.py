"""`ConnectorConformance`: the tests every connector must pass, run against its own fake ATS."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import attrs
import pytest
import urllib3

from assessio_connect.contract.client import AssessioClient
from assessio_connect.contract.codec import dumps
from assessio_connect.contract.errors import (
    ConfigError,
    ConnectorError,
    PermanentError,
    RetryableError,
)
from assessio_connect.contract.models import AssessioConfig, AssessmentOrder, email_problem
from assessio_connect.runtime._outbox import Backoff, DeliveryWorker
from assessio_connect.runtime._routing import DaemonApp
from assessio_connect.runtime._server import BackgroundServer
from assessio_connect.runtime._sqlite_store import SQLiteStore
from assessio_connect.runtime._tenant import TenantRuntime
from assessio_connect.runtime.config import DaemonConfig, load_daemon_config
from assessio_connect.runtime.connector import (
    AssessmentChoice,
    Connector,
    Invitation,
    PollPage,
    Pushback,
    WSGIApplication,
)
from assessio_connect.runtime.plugins import load_plugins
from assessio_connect.runtime.store import DeliveryState, NewOrder, OrderRecord
from assessio_connect.sandbox import Organisation, Sandbox

from ._context import RecordingContext, make_pushback
from ._fixtures import (
    DaemonFactory,
    _daemon_settings,
    _tenant_text,
    new_organisation,
    plugins_with,
)
from ._toml import MISSING, SecretFiles, secret_values, toml_table, with_secret_files

__all__ = ["AtsRequest", "ConformanceHarness", "ConnectorConformance", "InvalidConfig", "Style"]

Style = Literal["push", "pull"]
TENANT = "conformance"
_PUSH_TESTS = (
    "test_push_request_invites",
    "test_repeated_push_is_harmless",
    "test_bad_push_requests_are_refused",
)
_PULL_TESTS = ("test_poll_pages_until_done", "test_poll_resumes_from_its_cursor")
_OPTIONAL_TESTS = {
    "test_retry_after_from_the_ats_reaches_the_outbox": "fail_writes_with_retry_after",
    "test_a_retried_write_finds_its_earlier_write_on_a_later_page": "spread_writes_over_pages",
}
"""Checks left out unless the suite implements the optional hook they need."""
_SHOWN = 300
_NOT_CREDENTIALS = frozenset(
    {"accept", "accept-encoding", "connection", "content-length", "content-type", "host"}
    | {"user-agent"}
)
"""Headers a push request carries that authenticate nothing (the others may)."""
_RETRY_AFTER = 120
"""Seconds of the `Retry-After` the Retry-After check makes the fake send: far beyond any
backoff the check's outbox would choose by itself."""


def _to_dict(value: Mapping[str, str]) -> dict[str, str]:
    return dict(value)


@attrs.frozen
class AtsRequest:
    """An HTTP request the ATS sends to a push connector.

    `path` is below the connector's mount point (the daemon serves it at
    `/connectors/{tenant}{path}`), e.g. `/events`."""

    path: str
    body: bytes = b""
    headers: Mapping[str, str] = attrs.field(factory=dict, converter=_to_dict)
    method: str = "POST"


@attrs.frozen
class InvalidConfig:
    """A configuration the connector must refuse, and where the problem must be reported.

    `changes` are applied to `valid_config` (`MISSING` removes a key); `path` is where the
    loader must report a problem, relative to the `ats` table ("base_url", "auth.client_id",
    or "" for the table itself); `message` is a fragment the problem must contain."""

    changes: Mapping[str, Any]
    path: str = ""
    message: str = ""
    id: str = ""
    """The test id; default: the path."""


def _infer_style(cls: type[Connector]) -> Style:
    push = cls.wsgi_app is not Connector.wsgi_app
    pull = cls.poll is not Connector.poll
    if push and pull:
        raise TypeError(
            f"{cls.__qualname__} implements both wsgi_app and poll: set style = 'push' or "
            "'pull' on the test class (one subclass per style)"
        )
    if not push and not pull:
        raise TypeError(f"{cls.__qualname__} implements neither wsgi_app (push) nor poll (pull)")
    return "push" if push else "pull"


def _merged(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        if value is MISSING:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _shown(body: bytes) -> str:
    text = body[:_SHOWN].decode("utf-8", errors="replace")
    return text + ("…" if len(body) > _SHOWN else "")


def _nothing() -> None:
    return None


class _RestartedTenant(TenantRuntime):
    """The daemon's tenant runtime (the connector's state in the store), answering Assessio's
    lenses and locales as `RecordingContext` does: the suite runs no Assessio there."""

    def __init__(self, assessio: AssessioConfig, *args: Any, **kwargs: Any) -> None:
        self._assessio = assessio  # before the connector is made, which may ask for it
        super().__init__(*args, **kwargs)

    def assessio_config(self) -> AssessioConfig:
        return self._assessio


def _not_found(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"only the connector's routes are served here"]


def _send(http: urllib3.PoolManager, base_url: str, request: AtsRequest) -> tuple[int, bytes]:
    response = http.request(
        request.method,
        base_url + request.path,
        body=request.body or None,
        headers=dict(request.headers),
    )
    return int(response.status), bytes(response.data)


class ConformanceHarness:
    """One test's connector: configured from the values the daemon would load, talking to the
    fake ATS through a `RecordingContext`; push requests reach it over HTTP as in the daemon,
    and the events a route queues (`context.enqueue`) are handed to `handle_event` at once."""

    def __init__(self, suite: ConnectorConformance, fake: Any, tmp_path: Path) -> None:
        self.suite = suite
        self.fake = fake
        self._directory = tmp_path
        self._variants = 0
        self.values = suite.config_values(fake)
        self.daemon_config = suite.load_config(self.values, tmp_path)
        self.config = self.daemon_config.tenants[TENANT].ats
        self.context = RecordingContext(TENANT)
        self.connector = suite.connector_class(self.config, self.context)
        self.cursor: str | None = None
        self.seen: set[str] = set()
        self._server: BackgroundServer | None = None
        self._http = urllib3.PoolManager(
            retries=False, timeout=urllib3.Timeout(connect=5.0, read=30.0)
        )
        name = suite.connector_class.__qualname__
        wrong = (suite.style == "push" and not self.connector.is_push) or (
            suite.style == "pull" and not self.connector.is_pull
        )
        if wrong:
            self.close()
            pytest.fail(f"{name} is tested as {suite.style} style, but this config turns it off")

    def new_connector(self, changes: Mapping[str, Any] | None = None) -> Connector:
        """Another instance with a fresh context (a restarted daemon), configured with
        `changes` applied to this one's values (`MISSING` removes a key), if given."""
        config = self.config
        if changes:
            self._variants += 1
            values = _merged(self.values, changes)
            directory = self._directory / f"variant-{self._variants}"
            config = self.suite.load_config(values, directory).tenants[TENANT].ats
        return self.suite.connector_class(
            config, RecordingContext(TENANT, transport=self.context.transport)
        )

    def send(self, request: AtsRequest, *, handle_queued: bool = True) -> tuple[int, bytes]:
        """Send an ATS request to the connector's app, mounted as the daemon mounts it; then,
        unless told not to, hand what it queued to `handle_event` (`handle_queued`)."""
        if self._server is None:
            app: WSGIApplication = self.connector.wsgi_app()
            routes = DaemonApp(_not_found, {TENANT: app})
            self._server = BackgroundServer(routes).start()
        answer = _send(self._http, f"{self._server.url}/connectors/{TENANT}", request)
        if handle_queued:
            self.handle_queued()
        return answer

    def handle_queued(self) -> None:
        """Hand every event the connector queued and did not handle yet to its
        `handle_event`, as the daemon's inbound worker would; fail with what it raised."""
        for event, raised in self.context.run_events(self.connector):
            if raised is not None:
                pytest.fail(
                    f"handle_event of the queued event {event.key!r} raised "
                    f"{type(raised).__name__}: {raised}"
                )

    def daemon_runtime(self, store: SQLiteStore) -> TenantRuntime:
        """The tenant as the daemon runs it on `store`: a new connector instance whose
        context keeps its state (`context.state`) in that store, as after a restart."""
        cls = self.suite.connector_class
        return _RestartedTenant(
            self.context.assessio_config(),
            self.daemon_config.tenants[TENANT],
            connector_cls=cls,
            store=store,
            plugins=plugins_with(cls),
            transport=self.context.transport,
            base_url="http://127.0.0.1:9",
            clock=time.time,
            log=self.context.log,
            wake_orders=_nothing,
            backoff=Backoff(),
        )

    def poll_until_done(
        self, limit: int, connector: Connector | None = None
    ) -> tuple[list[PollPage], list[Invitation]]:
        """Poll from the saved cursor until a page says `more=False`, inviting what is found as
        the daemon's poller does; returns the pages and the invitations not seen before."""
        connector = connector or self.connector
        pages: list[PollPage] = []
        new: list[Invitation] = []
        cursor = self.cursor
        for _ in range(limit):
            page = connector.poll(cursor)
            assert isinstance(page, PollPage), f"poll returned {page!r}, not a PollPage"
            pages.append(page)
            for invitation in page.invitations:
                self.context.invite(invitation)
                if invitation.application_id not in self.seen:
                    self.seen.add(invitation.application_id)
                    new.append(invitation)
            if page.cursor is not None:
                cursor = page.cursor
            if not page.more:
                break
        else:
            pytest.fail(f"poll still answered more=True after {limit} pages: it never ends")
        self.cursor = cursor
        return pages, new

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()
        self._http.clear()
        self.connector.close()
        self.context.close()


class ConnectorConformance:
    """The conformance suite: subclass it in a test module (named `Test...`) to run every check
    against your connector and its fake ATS.

    Set `connector_class`, `valid_config` and `invalid_configs`, and implement `fake_ats`,
    `ats_config`, `create_invitation`, `written_results` and `fail_writes`; every hook and
    setting, with what it must return and its default, is in the table of "The conformance
    suite" in docs/writing-a-connector.md. Tests that do not apply to the style are left out,
    and so is a check whose optional hook (`fail_writes_with_retry_after`,
    `spread_writes_over_pages`) the subclass does not implement. A subclass that needs its
    own `pytest_generate_tests` must call `super().pytest_generate_tests(metafunc)`.

    The checks: the plugin registers the class for its kind; the valid config loads (secrets
    never shown) and each invalid one is refused with its path; the connection check passes;
    an invitation maps to an order the Assessio emulator accepts; push: a valid request
    invites (what a route queues is handed to `handle_event`; repeats are harmless), bad
    requests get 4xx and neither invite nor queue anything; pull: paging ends and returns every
    invitation once, a poll from the returned cursor (also by a new instance) finds nothing old
    and what is new; pushing the same result twice leaves one result, also across a restart
    (a new instance on the same store, state in SQLite as in the daemon), and also when the
    write-back must find its earlier write on a later page of a list; an older result version
    pushed after a newer one changes nothing in the ATS; 429/503 raise `RetryableError` and 4xx
    `PermanentError`, with no secret in the message; a `Retry-After` from the ATS sets the
    delivery's next attempt in the outbox; and the whole loop through a real daemon writes the
    result back.
    """

    connector_class: ClassVar[type[Connector]]
    style: ClassVar[Style | None] = None
    valid_config: ClassVar[Mapping[str, Any]] = {}
    invalid_configs: ClassVar[Sequence[InvalidConfig]] = ()
    retryable_statuses: ClassVar[Sequence[int]] = (429, 503)
    permanent_statuses: ClassVar[Sequence[int]] = (400, 403, 404, 422)
    pagination_invitations: ClassVar[int] = 5
    expect_several_pages: ClassVar[bool] = True
    assessment_choice: ClassVar[AssessmentChoice] = AssessmentChoice(
        lens="General Performance", locale="en-GB"
    )
    push_credential_headers: ClassVar[Sequence[str] | None] = None
    """The headers that authenticate a push request (a signature, a token); None: every
    header of the valid request but Content-Type, User-Agent and the like."""
    push_signature_covers_body: ClassVar[bool | None] = None
    """True when a signature covers the raw body, so a body changed by one byte must be
    refused; False (or None: not said) when it does not (a signature over some fields)."""
    retry_after_status: ClassVar[int] = 503
    """The status the Retry-After check makes the fake answer a write-back with."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        connector = getattr(cls, "connector_class", None)
        if connector is None:
            return  # an intermediate base class
        style = cls.style or _infer_style(connector)
        if style not in ("push", "pull"):
            raise TypeError(f"style must be 'push' or 'pull', not {style!r}")
        cls.style = style
        keep, drop = (_PUSH_TESTS, _PULL_TESTS) if style == "push" else (_PULL_TESTS, _PUSH_TESTS)
        for name in drop:
            setattr(cls, name, None)  # pytest collects only callables
        for name in keep:
            if getattr(cls, name) is None:  # dropped by a base class of the other style
                setattr(cls, name, ConnectorConformance.__dict__[name])
        for name, hook in _OPTIONAL_TESTS.items():
            implemented = getattr(cls, hook) is not getattr(ConnectorConformance, hook)
            setattr(cls, name, ConnectorConformance.__dict__[name] if implemented else None)

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """One test per `invalid_configs` entry."""
        if "invalid_config" in metafunc.fixturenames:
            cases: list[InvalidConfig | None] = list(self.invalid_configs) or [None]
            ids = [
                (case.id or case.path or "table") if case is not None else "none-given"
                for case in cases
            ]
            metafunc.parametrize("invalid_config", cases, ids=ids)

    # -- hooks ----------------------------------------------------------------------------

    @pytest.fixture
    def fake_ats(self) -> Any:
        """Override: start the fake ATS, yield it, stop it."""
        pytest.fail(f"{type(self).__name__} must override the fake_ats fixture")

    def ats_config(self, fake_ats: Any) -> Mapping[str, Any]:
        """Override: config values pointing at the fake, merged over `valid_config`."""
        raise NotImplementedError(self._hook_missing("ats_config(fake_ats)"))

    def create_invitation(self, fake_ats: Any, index: int) -> AtsRequest | None:
        """Override: a new invitation in the fake; push: the request to send, pull: None."""
        raise NotImplementedError(self._hook_missing("create_invitation(fake_ats, index)"))

    def written_results(self, fake_ats: Any, application_id: str) -> Sequence[Any]:
        """Override: the results the fake holds for `application_id`."""
        raise NotImplementedError(self._hook_missing("written_results(fake_ats, application_id)"))

    def fail_writes(self, fake_ats: Any, status: int | None) -> None:
        """Override: answer every write-back with `status` from now on; None heals."""
        raise NotImplementedError(self._hook_missing("fail_writes(fake_ats, status)"))

    def bad_push_requests(self, fake_ats: Any, good: AtsRequest) -> Sequence[AtsRequest]:
        """Requests a push connector must refuse with 4xx. By default, from what the suite
        was told: `good` without its credential headers (`push_credential_headers`, or the
        headers it carries besides Content-Type and the like), each declared one missing and
        each altered, and `good` with a byte added to its body when
        `push_signature_covers_body`. Fails, saying what to do, when nothing can be derived
        (e.g. a signature inside the body): override it with your ATS's bad requests."""
        declared = self.push_credential_headers
        names = (
            [name for name in good.headers if name.lower() not in _NOT_CREDENTIALS]
            if declared is None
            else list(declared)
        )
        wanted = {name.lower() for name in names}
        kept = {k: v for k, v in good.headers.items() if k.lower() not in wanted}
        bad: list[AtsRequest] = []
        if names:
            bad.append(attrs.evolve(good, headers=kept))
        if declared is not None:
            for name in declared:
                value = next(
                    (v for k, v in good.headers.items() if k.lower() == name.lower()), None
                )
                if value is None:
                    pytest.fail(f"push_credential_headers names {name!r}, which the request lacks")
                others = {k: v for k, v in good.headers.items() if k.lower() != name.lower()}
                if len(declared) > 1:
                    bad.append(attrs.evolve(good, headers=others))
                bad.append(attrs.evolve(good, headers={**others, name: value + "0"}))
        if self.push_signature_covers_body:
            bad.append(attrs.evolve(good, body=good.body + b" "))
        if not bad:
            pytest.fail(
                f"{type(self).__name__} cannot derive the push requests to refuse: the valid "
                f"request carries no credential header ({sorted(good.headers)}) and "
                "push_signature_covers_body is not True. Override bad_push_requests(fake_ats, "
                "good) with the requests your ATS's documentation says must be refused (e.g. "
                "a signature field changed), or set push_credential_headers / "
                "push_signature_covers_body"
            )
        return bad

    def visible_results(self, fake_ats: Any, application_id: str) -> Any:
        """What the ATS shows of the results written for `application_id`, compared before
        and after an older version is pushed; default: `list(written_results(...))`. Override
        when those records hold what no user sees (a counter of writes, a timestamp)."""
        return list(self.written_results(fake_ats, application_id))

    def fail_writes_with_retry_after(self, fake_ats: Any, status: int, seconds: int) -> bool:
        """Optional: make the fake answer every write-back with `status` and a `Retry-After`
        of `seconds`, until `fail_writes(fake_ats, None)`; return True (False skips the
        check). Not implemented, the Retry-After check is left out."""
        return False

    def spread_writes_over_pages(self, fake_ats: Any, application_id: str) -> bool:
        """Optional, for a connector that lists what the ATS holds to find an earlier write
        (after a crash lost its receipt): put enough other items before what was written for
        `application_id` that it is not on the first page of any list the connector reads;
        return True (False skips the check). Not implemented, the paging check is left out."""
        return False

    def _hook_missing(self, signature: str) -> str:
        return (
            f"{type(self).__name__} must implement {signature} "
            "(see the hook table in docs/writing-a-connector.md)"
        )

    # -- helpers a subclass may use in its own tests --------------------------------------

    def config_values(self, fake_ats: Any) -> dict[str, Any]:
        """`valid_config` with `ats_config(fake_ats)` merged over it."""
        return _merged(self.valid_config, self.ats_config(fake_ats))

    def load_config(self, values: Mapping[str, Any], directory: Path) -> DaemonConfig:
        """Load a daemon configuration whose one tenant has `values` as its `ats` table, the
        way `assessio-connect run` loads it (secrets in files under `directory`)."""
        cls = self.connector_class
        directory.mkdir(parents=True, exist_ok=True)
        files = SecretFiles(directory / "secrets", prefix=f"{TENANT}-")
        ats = with_secret_files(cls.Config, values, files, "ats-")
        organisation = new_organisation()
        text = "\n".join(
            [
                _daemon_settings(0),
                _tenant_text(
                    TENANT,
                    "http://127.0.0.1:9",
                    organisation,
                    files,
                    result_auth="api-key",
                    order_endpoint="order",
                ),
                toml_table(f"tenants.{TENANT}.ats", {"kind": cls.kind, **ats}),
            ]
        )
        path = directory / "assessio-connect.toml"
        path.write_text(text, encoding="utf-8")
        return load_daemon_config(plugins_with(cls), path)

    def secrets_in(self, values: Mapping[str, Any]) -> list[str]:
        """The plain secret values in config `values` (long enough to search for)."""
        return [s for s in secret_values(self.connector_class.Config, values) if len(s) >= 4]

    def receive_invitation(self, harness: ConformanceHarness, index: int) -> Invitation:
        """Create invitation `index` in the fake and get it through the connector: sent to its
        app (push) or polled (pull). Returns the `Invitation` the connector produced."""
        request = self.create_invitation(harness.fake, index)
        if self.style == "push":
            assert request is not None, "create_invitation must return an AtsRequest (push)"
            before = len(harness.context.invited)
            status, body = harness.send(request)
            assert 200 <= status < 300, (
                f"the connector answered HTTP {status} to a valid request: {_shown(body)}"
            )
            assert len(harness.context.invited) > before, (
                f"the connector answered HTTP {status} but did not call context.invite"
            )
            return harness.context.invited[-1]
        assert request is None, "create_invitation must return None for a pull connector"
        _, new = harness.poll_until_done(self.pagination_invitations + 3)
        assert len(new) == 1, f"expected one new invitation from poll, found {len(new)}: {new}"
        return new[0]

    def receive_order(self, harness: ConformanceHarness, index: int) -> OrderRecord:
        """The order recorded for invitation `index` (see `receive_invitation`)."""
        invitation = self.receive_invitation(harness, index)
        order = harness.context.find_order(invitation.application_id)
        assert order is not None
        return order

    @pytest.fixture
    def assessio_conformance(self, fake_ats: Any, tmp_path: Path) -> Iterator[ConformanceHarness]:
        """The connector under test, configured against `fake_ats`."""
        harness = ConformanceHarness(self, fake_ats, tmp_path / "conformance")
        try:
            yield harness
        finally:
            harness.close()

    # -- the checks -----------------------------------------------------------------------

    def test_plugin_registers_the_connector(self) -> None:
        cls = self.connector_class
        assert cls.kind, f"{cls.__qualname__} needs a non-empty `kind`"
        assert attrs.has(cls.Config), f"{cls.__qualname__}.Config must be an attrs class"
        found = load_plugins().connector(cls.kind)
        assert found is cls, (
            f"no installed plugin registers {cls.__qualname__} for kind {cls.kind!r} (found "
            f"{found!r}); add [project.entry-points.assessio_connect] {cls.kind} = "
            '"<package>.plugin" to pyproject.toml and reinstall the package'
        )

    def test_valid_config_loads(self, tmp_path: Path) -> None:
        config = self.load_config(self.valid_config, tmp_path)
        ats = config.tenants[TENANT].ats
        assert isinstance(ats, self.connector_class.Config)
        shown = repr(ats) + json.dumps(config.redacted(), default=str)
        for secret in self.secrets_in(self.valid_config):
            assert secret not in shown, "a secret shows in the config's repr or redacted()"

    def test_invalid_config_is_refused_with_its_path(
        self, tmp_path: Path, invalid_config: InvalidConfig | None
    ) -> None:
        if invalid_config is None:
            pytest.fail("list at least one InvalidConfig in invalid_configs")
        values = _merged(self.valid_config, invalid_config.changes)
        with pytest.raises(ConfigError) as caught:
            self.load_config(values, tmp_path)
        where = f"$.tenants.{TENANT}.ats" + (
            f".{invalid_config.path}" if invalid_config.path else ""
        )
        problems = caught.value.problems
        at_path = [problem for problem in problems if problem.endswith(f" @ {where}")]
        assert at_path, f"expected a problem @ {where}, got: {list(problems)}"
        if invalid_config.message:
            assert any(invalid_config.message in problem for problem in at_path), (
                f"no problem @ {where} mentions {invalid_config.message!r}: {at_path}"
            )
        for secret in self.secrets_in(values):
            assert secret not in str(caught.value), "a secret shows in a config problem"

    def test_check_reaches_the_ats(self, assessio_conformance: ConformanceHarness) -> None:
        message = assessio_conformance.connector.check()
        assert isinstance(message, str), "check() must return what it checked, as text"
        assert message.strip()

    def test_invitation_maps_to_an_order_the_emulator_accepts(
        self,
        assessio_conformance: ConformanceHarness,
        assessio_sandbox: Sandbox,
        assessio_organisation: Organisation,
    ) -> None:
        harness = assessio_conformance
        invitation = self.receive_invitation(harness, 0)
        assert invitation.application_id.strip(), "an invitation needs an application_id"
        assert invitation.job.id.strip(), "an invitation's job needs an id"
        assert invitation.job.title.strip(), "an invitation's job needs a title"
        assert email_problem(invitation.candidate.email) is None
        draft = harness.connector.map_order(invitation, self.assessment_choice)
        assert harness.connector.map_order(invitation, self.assessment_choice) == draft, (
            "map_order must give the same order for the same invitation"
        )
        assert draft.candidate.email == invitation.candidate.email
        lens = assessio_sandbox.config.find_lens(draft.lens)
        assert lens is not None, f"map_order chose lens {draft.lens!r}, unknown to Assessio"
        result_id = str(uuid.uuid4())
        order = AssessmentOrder(
            recruitment=draft.recruitment,
            result_update_url=f"http://127.0.0.1:9/results/{TENANT}/{result_id}",
            result_id=result_id,
            lens_id=lens.id,
            locale=draft.locale,
            candidate_details=draft.candidate,
            additional_recruitment_collaborators_emails=draft.collaborators,
        )
        client = AssessioClient(
            assessio_organisation.provider_key,
            assessio_organisation.integrator_secret,
            base_url=assessio_sandbox.url,
            transport=harness.context.transport,
        )
        client.create_order(order)  # raises with the emulator's reason if it is refused
        [accepted] = assessio_sandbox.orders()
        assert accepted.order.candidate_details.email == invitation.candidate.email

    def test_push_request_invites(self, assessio_conformance: ConformanceHarness) -> None:
        harness = assessio_conformance
        invitation = self.receive_invitation(harness, 0)
        assert harness.context.find_order(invitation.application_id) is not None
        other = self.receive_invitation(harness, 1)
        assert other.application_id != invitation.application_id, (
            "two invitations (index 0 and 1) gave the same application_id"
        )

    def test_repeated_push_is_harmless(self, assessio_conformance: ConformanceHarness) -> None:
        harness = assessio_conformance
        request = self.create_invitation(harness.fake, 0)
        assert request is not None
        statuses = [harness.send(request)[0] for _ in range(2)]
        assert all(200 <= status < 300 for status in statuses), (
            f"a repeated request must be acknowledged (2xx); got {statuses}"
        )
        assert len(harness.context.orders) == 1
        assert len(harness.context.queued) <= 1, (
            f"a repeated request queued {len(harness.context.queued)} events: give enqueue the "
            "ATS's id of the event as its key, the same for a redelivery"
        )

    def test_bad_push_requests_are_refused(self, assessio_conformance: ConformanceHarness) -> None:
        harness = assessio_conformance
        good = self.create_invitation(harness.fake, 0)
        assert good is not None
        bad = self.bad_push_requests(harness.fake, good)
        assert bad, "bad_push_requests returned no request"
        for request in bad:
            status, body = harness.send(request, handle_queued=False)
            assert 400 <= status < 500, (
                f"a bad request was answered HTTP {status}, not 4xx: {request!r} -> {_shown(body)}"
            )
            for secret in self.secrets_in(harness.values):
                assert secret.encode() not in body, "a secret shows in an error answer"
        assert harness.context.invited == [], "a refused request still invited someone"
        assert harness.context.queued == {}, "a refused request still queued an event"
        status, body = harness.send(good)
        assert 200 <= status < 300, f"the good request got HTTP {status}: {_shown(body)}"

    def test_poll_pages_until_done(self, assessio_conformance: ConformanceHarness) -> None:
        harness = assessio_conformance
        count = self.pagination_invitations
        for index in range(count):
            assert self.create_invitation(harness.fake, index) is None
        pages, new = harness.poll_until_done(count + 3)
        ids = [i.application_id for page in pages for i in page.invitations]
        assert len(set(ids)) == count, f"expected {count} invitations, polled {ids}"
        assert len(new) == count
        if self.expect_several_pages:
            assert len(pages) >= 2, (
                f"{count} invitations fit one page: set a smaller page size in ats_config, "
                "raise pagination_invitations, or set expect_several_pages = False"
            )

    def test_poll_resumes_from_its_cursor(self, assessio_conformance: ConformanceHarness) -> None:
        harness = assessio_conformance
        for index in range(2):
            self.create_invitation(harness.fake, index)
        harness.poll_until_done(self.pagination_invitations + 3)
        assert len(harness.seen) == 2
        _, again = harness.poll_until_done(3)
        assert again == [], f"a poll from the returned cursor found old invitations: {again}"
        self.create_invitation(harness.fake, 2)
        _, new = harness.poll_until_done(3, connector=harness.new_connector())
        assert len(new) == 1, f"a new instance resuming from the cursor found {new}"

    def test_push_result_is_idempotent(self, assessio_conformance: ConformanceHarness) -> None:
        harness = assessio_conformance
        order = self.receive_order(harness, 0)
        pushback = make_pushback(order)
        harness.connector.push_result(pushback)
        harness.connector.push_result(pushback)
        written = self.written_results(harness.fake, order.application_id)
        assert len(written) == 1, f"the same result pushed twice left {len(written)}: {written}"

    def _daemon_store(self, path: Path, order: OrderRecord, *pushbacks: Pushback) -> SQLiteStore:
        """A store at `path` holding `order` and the results of `pushbacks`, as the daemon's
        holds them when it pushes those versions."""
        store = SQLiteStore(path)
        store.migrate()
        now = time.time()
        store.add_order(
            NewOrder(
                tenant=TENANT,
                application_id=order.application_id,
                job_id=order.job_id,
                candidate_id=order.candidate_id,
                order=order.order,
                metadata=order.metadata,
            ),
            now=now,
        )
        for pushback in pushbacks:
            store.record_result(TENANT, order.result_id, dumps(pushback.result), now=now)
        return store

    def test_push_result_is_idempotent_across_a_restart(
        self, assessio_conformance: ConformanceHarness, tmp_path: Path
    ) -> None:
        harness = assessio_conformance
        order = self.receive_order(harness, 0)
        pushback = make_pushback(order)
        path = tmp_path / "restarted.db"
        self._daemon_store(path, order, pushback).close()
        # The first push, then a restart (its delivery not yet marked done): a new store
        # handle on the same file, a new connector instance, the same version again.
        for attempt in (1, 2):
            store = SQLiteStore(path)
            runtime = harness.daemon_runtime(store)
            try:
                runtime.connector.push_result(attrs.evolve(pushback, attempt=attempt))
            finally:
                runtime.connector.close()
                store.close()
        written = self.written_results(harness.fake, order.application_id)
        assert len(written) == 1, (
            f"the same result pushed again by a restarted connector (state in the daemon's "
            f"store) left {len(written)}: {written}"
        )

    def test_an_older_version_after_a_newer_one_changes_nothing(
        self, assessio_conformance: ConformanceHarness
    ) -> None:
        harness = assessio_conformance
        order = self.receive_order(harness, 0)
        older = make_pushback(order, score=55, subscores={"Driving Results": 50}, version=1)
        newer = make_pushback(order, score=88, subscores={"Driving Results": 90}, version=2)
        for pushback in (older, newer):  # what latest_result answers, as the daemon's store
            harness.context.record_result(pushback)
        harness.connector.push_result(newer)
        before = self.visible_results(harness.fake, order.application_id)
        assert before, "the newer version was not written"
        harness.connector.push_result(older)  # its delivery was slower than the newer one's
        after = self.visible_results(harness.fake, order.application_id)
        assert after == before or repr(after) == repr(before), (
            "version 1 pushed after version 2 changed what the ATS holds (skip a version older "
            "than context.latest_result(...) or than a receipt of a newer one): "
            f"{before} became {after}"
        )

    def test_retry_after_from_the_ats_reaches_the_outbox(
        self, assessio_conformance: ConformanceHarness, tmp_path: Path
    ) -> None:
        harness = assessio_conformance
        order = self.receive_order(harness, 0)
        if not self.fail_writes_with_retry_after(
            harness.fake, self.retry_after_status, _RETRY_AFTER
        ):
            pytest.skip(
                "implement fail_writes_with_retry_after(fake_ats, status, seconds) to check that "
                "a Retry-After from the ATS sets the delivery's next attempt"
            )
        pushback = make_pushback(order)
        store = self._daemon_store(tmp_path / "outbox.db", order, pushback)
        try:
            [queued] = store.list_deliveries()
            now = queued.created_at

            def push(delivery: Any) -> None:
                harness.connector.push_result(attrs.evolve(pushback, attempt=delivery.attempts))

            worker = DeliveryWorker(
                store,
                push,
                owner="conformance",
                threads=1,
                backoff=Backoff(first_delay=0.01, max_delay=0.02, horizon=3600.0),
                clock=lambda: now,
            )
            assert worker.run_once(now) == 1
            waiting = store.get_delivery(queued.id)
            assert waiting is not None
            assert waiting.state is DeliveryState.PENDING, (
                f"HTTP {self.retry_after_status} with Retry-After left the delivery "
                f"{waiting.state.value}: {waiting.last_error}"
            )
            wait = waiting.next_attempt_at - now
            assert wait >= _RETRY_AFTER - 1, (
                f"the delivery is due again in {wait:.2f} s, not after the ATS's Retry-After "
                f"of {_RETRY_AFTER} s: raise RetryableError(..., retry_after=seconds)"
            )
            self.fail_writes(harness.fake, None)
            assert worker.run_once(waiting.next_attempt_at) == 1
            done = store.get_delivery(queued.id)
            assert done is not None
            assert done.state is DeliveryState.DELIVERED, done.last_error
        finally:
            store.close()

    def test_a_retried_write_finds_its_earlier_write_on_a_later_page(
        self, assessio_conformance: ConformanceHarness
    ) -> None:
        harness = assessio_conformance
        order = self.receive_order(harness, 0)
        harness.connector.push_result(make_pushback(order))
        if not self.spread_writes_over_pages(harness.fake, order.application_id):
            pytest.skip(
                "implement spread_writes_over_pages(fake_ats, application_id) if the connector "
                "lists what the ATS holds to find an earlier write"
            )
        # The process died after the ATS took the write, before anything was recorded: a
        # new instance with an empty state retries the same version.
        restarted = harness.new_connector()
        try:
            restarted.push_result(make_pushback(order, attempt=2))
        finally:
            restarted.close()
        written = self.written_results(harness.fake, order.application_id)
        assert len(written) == 1, (
            f"a retried write-back that had to look past the first page left {len(written)} "
            f"results (follow every page of the lists it reads): {written}"
        )

    def _expect_failure(
        self,
        harness: ConformanceHarness,
        order: OrderRecord,
        statuses: Sequence[int],
        expected: type[ConnectorError],
    ) -> None:
        secrets = self.secrets_in(harness.values)
        for status in statuses:
            self.fail_writes(harness.fake, status)
            raised: ConnectorError | None = None
            try:
                harness.connector.push_result(make_pushback(order))
            except ConnectorError as exc:
                raised = exc
            if raised is None:
                pytest.fail(f"push_result did not fail although the ATS answered HTTP {status}")
            assert isinstance(raised, expected), (
                f"HTTP {status} from the ATS must raise {expected.__name__}, "
                f"not {type(raised).__name__}: {raised}"
            )
            for secret in secrets:
                assert secret not in str(raised), "a secret shows in the error message"
        self.fail_writes(harness.fake, None)
        harness.connector.push_result(make_pushback(order))
        written = self.written_results(harness.fake, order.application_id)
        assert len(written) == 1, f"after healing, one result should be written: {written}"

    def test_retryable_failures_raise_retryable_error(
        self, assessio_conformance: ConformanceHarness
    ) -> None:
        harness = assessio_conformance
        order = self.receive_order(harness, 0)
        self._expect_failure(harness, order, self.retryable_statuses, RetryableError)

    def test_permanent_failures_raise_permanent_error(
        self, assessio_conformance: ConformanceHarness
    ) -> None:
        harness = assessio_conformance
        order = self.receive_order(harness, 0)
        self._expect_failure(harness, order, self.permanent_statuses, PermanentError)

    def test_full_loop_through_the_daemon(
        self, fake_ats: Any, assessio_daemon_factory: DaemonFactory
    ) -> None:
        values = self.config_values(fake_ats)
        choice = self.assessment_choice
        if self.style == "pull":
            assert self.create_invitation(fake_ats, 0) is None
        running = assessio_daemon_factory(
            self.connector_class.kind,
            values,
            {"lens": choice.lens, "locale": choice.locale},
            plugins=plugins_with(self.connector_class),
        )
        if self.style == "push":
            request = self.create_invitation(fake_ats, 0)
            assert request is not None
            http = urllib3.PoolManager(retries=False)
            try:
                status, body = _send(http, running.connector_url, request)
            finally:
                http.clear()
            assert 200 <= status < 300, f"the daemon answered HTTP {status}: {_shown(body)}"
        else:
            running.poll_now()
        running.complete_all(1)
        [order] = running.orders()
        running.wait_until(
            lambda: self.written_results(fake_ats, order.application_id),
            what=f"the result of {order.application_id} in the fake ATS",
        )
        running.wait_for_deliveries(1)
        log = running.log_text()
        organisation = running.organisation
        credentials = [organisation.provider_key, organisation.integrator_secret or ""]
        for secret in [*self.secrets_in(values), *credentials]:
            assert not secret or secret not in log, "a secret shows in the daemon's log"
