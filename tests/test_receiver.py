"""The result webhook receiver over real HTTP on 127.0.0.1, backed by the SQLite store."""

from __future__ import annotations

import http.client
import io
import json
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.util import setup_testing_defaults

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assessio_connect.contract.errors import StoreError, StoreUnavailableError
from assessio_connect.contract.models import AssessmentOrder, CandidateDetails, Recruitment
from assessio_connect.contract.signing import sign
from assessio_connect.contract.webhook import WebhookAuth
from assessio_connect.runtime._server import BackgroundServer
from assessio_connect.runtime._sqlite_store import SQLiteStore
from assessio_connect.runtime.config import ServerConfig
from assessio_connect.runtime.receiver import ResultReceiver
from assessio_connect.store import (
    DeliveryState,
    NewOrder,
    RecordedResult,
    ResultOutcome,
    ResultRecord,
    Store,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

NOW = 1_700_000_000
ACME_OLD, ACME_NEW = "acme-key-old-7f3a9c", "acme-key-new-2b8d41"
GLOBEX_OLD, GLOBEX_NEW = "globex-sign-old-c4e1", "globex-sign-new-9a07"
INITECH_KEY, INITECH_SECRET = "initech-key-51d2e8", "initech-sign-0be6f3"
UMBRELLA_KEY = "umbrella-key-e9c7a2"
WRONG_KEY = "wrong-key-presented-4411"
WRONG_SECRET = "wrong-secret-presented-8822"
SECRETS = (
    ACME_OLD,
    ACME_NEW,
    GLOBEX_OLD,
    GLOBEX_NEW,
    INITECH_KEY,
    INITECH_SECRET,
    UMBRELLA_KEY,
    WRONG_KEY,
    WRONG_SECRET,
)
TENANTS = {
    "acme": WebhookAuth(api_keys=[ACME_OLD, ACME_NEW]),
    "globex": WebhookAuth(signing_secrets=[GLOBEX_OLD, GLOBEX_NEW]),
    "initech": WebhookAuth(api_keys=[INITECH_KEY], signing_secrets=[INITECH_SECRET]),
    "umbrella": WebhookAuth(api_keys=[UMBRELLA_KEY]),
}
BODY = b'{"resultId":"r-1","score":71,"subscores":{"Driving Leadership":73}}'
JSON = {"Content-Type": "application/json"}
ACME = {**JSON, "integrator-api-key": ACME_NEW}
BATTERY_LIMIT = 4096

Log = list[tuple[str, dict[str, Any]]]


# -- helpers ------------------------------------------------------------------------------


@attrs.frozen
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def send(
    port: int,
    path: str,
    body: bytes | None = BODY,
    headers: Mapping[str, str] = ACME,
    *,
    method: str = "POST",
    content_length: str | None = None,
    chunked: bool = False,
) -> Reply:
    """One request on a fresh connection; `content_length` is sent as given, without the body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        if content_length is not None:
            conn.putheader("Content-Length", content_length)
        elif chunked:
            conn.putheader("Transfer-Encoding", "chunked")
        elif body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        if chunked and body is not None:
            for start in range(0, len(body), 1000):
                piece = body[start : start + 1000]
                conn.send(b"%x\r\n%b\r\n" % (len(piece), piece))
            conn.send(b"0\r\n\r\n")
        elif content_length is None and body:
            conn.send(body)
        response = conn.getresponse()
        data = response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        conn.close()


def signed(
    secret: str, body: bytes = BODY, t: int = NOW, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    return {**JSON, "Signature": sign(secret, body, t), **(extra or {})}


def order(tenant: str, result_id: str) -> NewOrder:
    return NewOrder(
        tenant=tenant,
        application_id=f"app-{result_id}",
        job_id="job-1",
        candidate_id=f"cand-{result_id}",
        order=AssessmentOrder(
            recruitment=Recruitment("job-1", "Developer"),
            result_update_url=f"https://connect.example/results/{tenant}/{result_id}",
            result_id=result_id,
            lens_id="lens-1",
            locale="sv-SE",
            candidate_details=CandidateDetails("ada@example.com"),
        ),
    )


def new_store(path: Path, orders: bool = True) -> SQLiteStore:
    store = SQLiteStore(str(path))
    store.migrate()
    if orders:
        for tenant in TENANTS:
            for result_id in ("r-1", "r-2"):
                store.add_order(order(tenant, result_id), now=NOW)
    return store


class CountingInput:
    """A `wsgi.input` that counts the bytes the app reads."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._stream.read(size)
        self.read_bytes += len(data)
        return data


class Counting:
    """Middleware remembering how many body bytes the wrapped app read per request."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app
        self.inputs: list[CountingInput] = []

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        counted = CountingInput(environ["wsgi.input"])
        self.inputs.append(counted)
        environ["wsgi.input"] = counted
        return self.app(environ, start_response)


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class StreamingServer:
    """wsgiref on 127.0.0.1: unlike waitress it calls the app before the body has arrived."""

    def __init__(self, app: WSGIApplication) -> None:
        self._server: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=QuietHandler)
        self.port: int = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> StreamingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@attrs.frozen
class Harness:
    store: SQLiteStore
    app: ResultReceiver
    port: int
    logs: Log
    recorded: list[tuple[str, ResultRecord | None, RecordedResult]]


def logger(into: Log) -> Callable[..., None]:
    def log(event: str, **fields: Any) -> None:
        into.append((event, fields))

    return log


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    store = new_store(tmp_path / "state.db")
    logs: Log = []
    recorded: list[tuple[str, ResultRecord | None, RecordedResult]] = []

    def on_recorded(tenant: str, record: ResultRecord | None, result: RecordedResult) -> None:
        recorded.append((tenant, record, result))

    app = ResultReceiver(
        TENANTS, store, clock=lambda: NOW, on_recorded=on_recorded, log=logger(logs)
    )
    with BackgroundServer(app) as server:
        yield Harness(store, app, server.port, logs, recorded)
    store.close()


def call_app(
    app: WSGIApplication,
    path: str,
    body: bytes = BODY,
    headers: Mapping[str, str] = ACME,
    env: Mapping[str, Any] | None = None,
) -> Reply:
    """Call a WSGI app directly with a wsgiref-built environ."""
    environ: dict[str, Any] = {}
    setup_testing_defaults(environ)
    environ.update(
        REQUEST_METHOD="POST",
        PATH_INFO=path,
        CONTENT_LENGTH=str(len(body)),
        CONTENT_TYPE="",
    )
    environ["wsgi.input"] = io.BytesIO(body)
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        environ[key if key == "CONTENT_TYPE" else "HTTP_" + key] = value
    environ.update(env or {})
    answer: list[Any] = []

    def start_response(status: str, response_headers: list[tuple[str, str]], _: Any = None) -> Any:
        answer.extend([int(status.split()[0]), dict(response_headers)])
        return lambda _data: None

    data = b"".join(app(environ, start_response))
    return Reply(answer[0], {k.lower(): v for k, v in answer[1].items()}, data)


# -- happy paths --------------------------------------------------------------------------


def test_a_new_result_is_stored_and_queued_for_delivery(harness: Harness) -> None:
    reply = send(harness.port, "/results/acme/r-1")
    assert (reply.status, reply.json()) == (200, {"status": "stored", "version": 1})
    assert reply.headers["content-type"] == "application/json"
    [stored] = harness.store.list_results()
    assert stored == ResultRecord("acme", "r-1", 1, BODY, stored.digest, NOW, orphan=False)
    [delivery] = harness.store.list_deliveries()
    assert (delivery.result_id, delivery.version) == ("r-1", 1)
    assert delivery.state is DeliveryState.PENDING
    # on_recorded gets what was committed, after the commit.
    assert harness.recorded == [("acme", stored, RecordedResult(ResultOutcome.NEW, 1, delivery.id))]
    assert (
        "result.received",
        {
            "level": "info",
            "tenant": "acme",
            "result_id": "r-1",
            "status": 200,
            "outcome": "stored",
            "version": 1,
        },
    ) in harness.logs


def test_the_same_payload_again_is_a_duplicate_with_no_new_delivery(harness: Harness) -> None:
    assert send(harness.port, "/results/acme/r-1").status == 200
    respaced = b'{ "subscores": {"Driving Leadership": 73}, "score": 71, "resultId": "r-1" }'
    reply = send(harness.port, "/results/acme/r-1", respaced)
    assert (reply.status, reply.json()) == (200, {"status": "duplicate"})
    assert len(harness.store.list_results()) == 1
    assert len(harness.store.list_deliveries()) == 1
    assert harness.recorded[-1][1] is None
    assert harness.recorded[-1][2].outcome is ResultOutcome.DUPLICATE


def test_a_changed_payload_is_a_new_version_with_a_new_delivery(harness: Harness) -> None:
    assert send(harness.port, "/results/acme/r-1").status == 200
    changed = b'{"resultId":"r-1","score":72,"subscores":{"Driving Leadership":73}}'
    reply = send(harness.port, "/results/acme/r-1", changed)
    assert (reply.status, reply.json()) == (200, {"status": "updated", "version": 2})
    latest = harness.store.list_results()[0]
    assert (latest.version, latest.payload) == (2, changed)
    deliveries = {d.version: d.state for d in harness.store.list_deliveries()}
    assert deliveries == {1: DeliveryState.SUPERSEDED, 2: DeliveryState.PENDING}
    record = harness.recorded[-1][1]
    assert record is not None
    assert record.version == 2


def test_a_result_without_an_order_is_kept_as_an_orphan(harness: Harness) -> None:
    body = b'{"resultId":"r-404","score":10,"futureField":{"x":1}}'
    reply = send(harness.port, "/results/acme/r-404", body)
    assert (reply.status, reply.json()) == (202, {"status": "orphan"})
    [orphan] = harness.store.list_results(orphans=True)
    assert (orphan.result_id, orphan.payload, orphan.orphan) == ("r-404", body, True)
    assert harness.store.list_deliveries() == []
    record = harness.recorded[-1][1]
    assert record is not None
    assert record.orphan


@pytest.mark.parametrize(
    ("tenant", "headers"),
    [
        pytest.param("acme", {**JSON, "integrator-api-key": ACME_OLD}, id="api-key-old"),
        pytest.param("acme", {**JSON, "Integrator-Api-Key": ACME_NEW}, id="api-key-new"),
        pytest.param("acme", {**JSON, "Authorization": f"Bearer {ACME_NEW}"}, id="bearer"),
        pytest.param("globex", signed(GLOBEX_OLD), id="signature-old-secret"),
        pytest.param("globex", signed(GLOBEX_NEW), id="signature-new-secret"),
        pytest.param("globex", signed(GLOBEX_NEW, t=NOW - 300), id="signature-at-tolerance"),
        pytest.param(
            "initech",
            signed(INITECH_SECRET, extra={"integrator-api-key": INITECH_KEY}),
            id="key-and-signature",
        ),
        pytest.param(
            "acme",
            {
                "Content-Type": "application/vnd.assessio+json; charset=UTF-8",
                "integrator-api-key": ACME_NEW,
            },
            id="json-suffix-media-type",
        ),
    ],
)
def test_every_configured_credential_is_accepted(
    harness: Harness, tenant: str, headers: dict[str, str]
) -> None:
    reply = send(harness.port, f"/results/{tenant}/r-1", BODY, headers)
    assert (reply.status, reply.json()) == (200, {"status": "stored", "version": 1})
    assert [r.tenant for r in harness.store.list_results()] == [tenant]


def test_rotation_accepts_old_and_new_keys_until_the_old_one_is_removed(tmp_path: Path) -> None:
    store = new_store(tmp_path / "state.db")
    both = ResultReceiver({"acme": WebhookAuth(api_keys=[ACME_OLD, ACME_NEW])}, store)
    rotated = ResultReceiver({"acme": WebhookAuth(api_keys=[ACME_NEW])}, store)
    old = {**JSON, "integrator-api-key": ACME_OLD}
    assert call_app(both, "/results/acme/r-1", BODY, old).status == 200
    assert call_app(both, "/results/acme/r-2", BODY.replace(b"r-1", b"r-2"), ACME).status == 200
    assert call_app(rotated, "/results/acme/r-1", BODY, old).status == 401
    assert call_app(rotated, "/results/acme/r-1", BODY, ACME).json() == {"status": "duplicate"}
    store.close()


def test_a_chunked_body_within_the_limit_is_accepted(harness: Harness) -> None:
    reply = send(harness.port, "/results/acme/r-1", BODY, chunked=True)
    assert (reply.status, reply.json()) == (200, {"status": "stored", "version": 1})
    assert harness.store.list_results()[0].payload == BODY


def test_health_and_readiness(harness: Harness) -> None:
    assert send(harness.port, "/healthz", None, {}, method="GET").json() == {"status": "ok"}
    assert send(harness.port, "/readyz", None, {}, method="GET").json() == {"status": "ok"}
    head = send(harness.port, "/healthz", None, {}, method="HEAD")
    assert (head.status, head.body) == (200, b"")


# -- the bad-input battery ----------------------------------------------------------------


@attrs.frozen
class Bad:
    status: int
    body: bytes | None = BODY
    headers: Mapping[str, str] = ACME
    path: str = "/results/acme/r-1"
    method: str = "POST"
    content_length: str | None = None
    chunked: bool = False
    streaming: bool = False
    """Served by wsgiref, which (unlike waitress) calls the app before the body arrives."""


def body_with(**fields: Any) -> bytes:
    data: dict[str, Any] = {"resultId": "r-1", "score": 71}
    data.update(fields)
    return json.dumps({k: v for k, v in data.items() if v is not ...}).encode()


OTHER_BODY = b'{"resultId":"r-1","score":99}'
LONG = "x" * 201
BATTERY = [
    # 400: not a JSON object
    pytest.param(Bad(400, b'{"resultId": "r-1", "score":'), id="malformed-json"),
    pytest.param(Bad(400, b'[{"resultId":"r-1"}]'), id="json-array"),
    pytest.param(Bad(400, b'"r-1"'), id="json-string"),
    pytest.param(Bad(400, b"null"), id="json-null"),
    pytest.param(Bad(400, b'{"resultId":"r-1","score":NaN}'), id="json-nan"),
    pytest.param(Bad(400, b'{"resultId":"r-\xff1"}'), id="not-utf8"),
    pytest.param(Bad(400, b""), id="empty-body"),
    pytest.param(Bad(400, b"[" * 2000 + b"]" * 2000), id="deep-nesting"),
    # 422: contract problems
    pytest.param(Bad(422, body_with(score=101)), id="score-101"),
    pytest.param(Bad(422, body_with(score=-1)), id="score-minus-1"),
    pytest.param(Bad(422, body_with(score=50.5)), id="score-50.5"),
    pytest.param(Bad(422, body_with(score="71")), id="score-string"),
    pytest.param(Bad(422, body_with(score=True)), id="score-boolean"),
    pytest.param(Bad(422, body_with(subscores=[73])), id="subscores-array"),
    pytest.param(Bad(422, body_with(subscores={"A": "7"})), id="subscore-string"),
    pytest.param(Bad(422, body_with(subscores={"A": 101})), id="subscore-101"),
    pytest.param(Bad(422, body_with(resultId=...)), id="missing-result-id"),
    pytest.param(Bad(422, body_with(resultId=1)), id="result-id-number"),
    pytest.param(Bad(422, body_with(recruitmentUrl=5)), id="recruitment-url-number"),
    pytest.param(Bad(422, body_with(resultId="r-2")), id="path-body-mismatch"),
    # 401: credentials (one answer for all, tenant known or not)
    pytest.param(Bad(401, headers=JSON), id="no-credentials"),
    pytest.param(Bad(401, headers={**JSON, "integrator-api-key": WRONG_KEY}), id="wrong-key"),
    pytest.param(Bad(401, headers={**JSON, "integrator-api-key": ""}), id="empty-key"),
    pytest.param(Bad(401, headers={**JSON, "Authorization": f"Basic {ACME_NEW}"}), id="basic-auth"),
    pytest.param(Bad(401, headers={**JSON, "integrator-api-key": ACME_NEW[:-1]}), id="key-prefix"),
    pytest.param(
        Bad(401, headers={**JSON, "integrator-api-key": ACME_NEW}, path="/results/umbrella/r-1"),
        id="other-tenants-key",
    ),
    pytest.param(Bad(401, path="/results/nobody/r-1"), id="unknown-tenant"),
    pytest.param(
        Bad(401, headers=signed(GLOBEX_NEW, t=NOW - 301), path="/results/globex/r-1"),
        id="stale-signature",
    ),
    pytest.param(
        Bad(401, headers=signed(GLOBEX_NEW, t=NOW + 301), path="/results/globex/r-1"),
        id="future-signature",
    ),
    pytest.param(
        Bad(401, OTHER_BODY, signed(GLOBEX_NEW), path="/results/globex/r-1"), id="tampered-body"
    ),
    pytest.param(
        Bad(401, headers=signed(WRONG_SECRET), path="/results/globex/r-1"),
        id="wrong-signing-secret",
    ),
    pytest.param(
        Bad(401, headers=signed(INITECH_SECRET), path="/results/globex/r-1"),
        id="other-tenants-signature",
    ),
    pytest.param(
        Bad(401, headers={**JSON, "Signature": "t=1,signature=zz"}, path="/results/globex/r-1"),
        id="malformed-signature",
    ),
    pytest.param(
        Bad(401, headers={**JSON, "integrator-api-key": INITECH_KEY}, path="/results/initech/r-1"),
        id="both-required-key-only",
    ),
    pytest.param(
        Bad(401, headers=signed(INITECH_SECRET), path="/results/initech/r-1"),
        id="both-required-signature-only",
    ),
    # 400/413: framing and size
    pytest.param(Bad(413, content_length=str(10**9), streaming=True), id="huge-content-length"),
    pytest.param(
        Bad(413, content_length=str(BATTERY_LIMIT + 1), streaming=True),
        id="content-length-one-over",
    ),
    pytest.param(Bad(413, b" " * BATTERY_LIMIT + BODY), id="body-over-limit"),
    pytest.param(Bad(413, b" " * BATTERY_LIMIT + BODY, chunked=True), id="chunked-over-limit"),
    pytest.param(Bad(400, content_length="12abc", streaming=True), id="bad-content-length"),
    pytest.param(Bad(400, content_length="-5", streaming=True), id="negative-content-length"),
    # 415: content type
    pytest.param(Bad(415, headers={"integrator-api-key": ACME_NEW}), id="no-content-type"),
    pytest.param(Bad(415, headers={**ACME, "Content-Type": "text/plain"}), id="text-plain"),
    pytest.param(
        Bad(415, headers={**ACME, "Content-Type": "application/x-www-form-urlencoded"}),
        id="form-encoded",
    ),
    pytest.param(
        Bad(415, headers={**ACME, "Content-Type": "application/json; charset=latin-1"}),
        id="latin-1-charset",
    ),
    pytest.param(
        Bad(415, headers={"Content-Type": "text/plain"}, path="/results/nobody/r-1"),
        id="unknown-tenant-answers-like-a-known-one",
    ),
    # 405/404: routing
    pytest.param(Bad(405, None, method="GET"), id="get-on-result-route"),
    pytest.param(Bad(405, method="PUT"), id="put-on-result-route"),
    pytest.param(Bad(405, method="DELETE", path="/results/nobody/r-1"), id="delete-unknown-tenant"),
    pytest.param(Bad(405, method="POST", path="/healthz"), id="post-healthz"),
    pytest.param(Bad(404, path="/"), id="root"),
    pytest.param(Bad(404, path="/unknown"), id="unknown-path"),
    pytest.param(Bad(404, path="/results"), id="results-only"),
    pytest.param(Bad(404, path="/results/acme"), id="no-result-id"),
    pytest.param(Bad(404, path="/results/acme/"), id="empty-result-id"),
    pytest.param(Bad(404, path="/results//r-1"), id="empty-tenant"),
    pytest.param(Bad(404, path="/results/acme/r-1/"), id="trailing-slash"),
    pytest.param(Bad(404, path="/results/acme/r-1/extra"), id="extra-segment"),
    pytest.param(Bad(404, path="/results/acme/r%2F1"), id="percent-encoded-slash"),
    pytest.param(Bad(404, path="/results/acme%2Fr-1"), id="percent-encoded-slash-in-tenant"),
    pytest.param(Bad(404, path=f"/results/acme/{LONG}"), id="long-result-id"),
    pytest.param(Bad(404, path=f"/results/{LONG}/r-1"), id="long-tenant"),
    pytest.param(Bad(404, path="/results/acme/r%001"), id="nul-in-segment"),
    pytest.param(Bad(404, path="/results/acme/r%FF1"), id="invalid-utf8-segment"),
    pytest.param(Bad(404, path="/RESULTS/acme/r-1"), id="wrong-case-prefix"),
]


@pytest.fixture(scope="module")
def battery(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Harness, Counting, int]]:
    store = new_store(tmp_path_factory.mktemp("battery") / "state.db", orders=False)
    logs: Log = []
    recorded: list[tuple[str, ResultRecord | None, RecordedResult]] = []

    def on_recorded(tenant: str, record: ResultRecord | None, result: RecordedResult) -> None:
        recorded.append((tenant, record, result))

    app = ResultReceiver(
        TENANTS,
        store,
        max_body_bytes=BATTERY_LIMIT,
        clock=lambda: NOW,
        on_recorded=on_recorded,
        log=logger(logs),
    )
    counting = Counting(app)
    with BackgroundServer(app) as server, StreamingServer(counting) as streaming:
        yield Harness(store, app, server.port, logs, recorded), counting, streaming.port
    store.close()


def test_the_battery_has_enough_distinct_requests() -> None:
    assert len({p.id for p in BATTERY}) == len(BATTERY) >= 30


@pytest.mark.parametrize("bad", BATTERY)
def test_bad_input_is_refused_with_json_and_nothing_is_stored(
    battery: tuple[Harness, Counting, int], bad: Bad
) -> None:
    harness, counting, streaming_port = battery
    seen_logs = len(harness.logs)
    port = streaming_port if bad.streaming else harness.port
    counting.inputs.clear()
    reply = send(
        port,
        bad.path,
        bad.body,
        bad.headers,
        method=bad.method,
        content_length=bad.content_length,
        chunked=bad.chunked,
    )

    new_logs = harness.logs[seen_logs:]
    assert reply.status == bad.status, reply.body
    assert reply.headers["content-type"] == "application/json"
    error = reply.json()
    assert isinstance(error, dict)
    assert isinstance(error["error"], str)
    assert error["error"]
    assert harness.store.list_results() == []
    assert harness.store.list_deliveries() == []
    assert harness.recorded == []
    if bad.status == 401:
        reference = send(
            harness.port, "/results/acme/r-1", BODY, {**JSON, "integrator-api-key": WRONG_KEY}
        )
        assert reply.body == reference.body
        assert reply.headers["www-authenticate"] == reference.headers["www-authenticate"]
    if bad.status == 405:
        assert reply.headers["allow"] in ("POST", "GET, HEAD")
    if bad.streaming:
        # The answer came although the body was never sent, and the app read none of it.
        assert [counted.read_bytes for counted in counting.inputs] == [0]
    if bad.status == 422:
        assert error["problems"]
    # A request to a result route is a rejected webhook (warning); other routes' refusals are
    # plain requests (a path that is not UTF-8 names no route at all).
    webhook = bad.path.startswith("/results/") and "%FF" not in bad.path
    assert [event for event, _ in new_logs] == [
        "result.rejected" if webhook else "request.rejected"
    ]
    assert new_logs[0][1].get("level") == ("warning" if webhook else None)
    assert new_logs[0][1]["status"] == bad.status
    exposed = reply.body.decode("utf-8", "replace") + repr(new_logs)
    for secret in SECRETS:
        assert secret not in exposed
    assert "Traceback" not in exposed
    for signature in [v for k, v in bad.headers.items() if k == "Signature"]:
        assert signature.rsplit("=", 1)[-1] not in exposed
    assert send(harness.port, "/healthz", None, {}, method="GET").status == 200
    if bad.streaming:
        assert send(streaming_port, "/healthz", None, {}, method="GET").status == 200


# -- failures around the store and the hooks ----------------------------------------------


class DownStore(SQLiteStore):
    """A store whose writes fail the way a lost database does."""

    error: type[Exception] = StoreUnavailableError

    def ping(self) -> None:
        raise StoreUnavailableError("cannot reach the database at /secret/path")

    def record_result(
        self, tenant: str, result_id: str, payload: bytes, *, now: float
    ) -> RecordedResult:
        raise self.error("database is locked")


@pytest.mark.parametrize("error", [StoreUnavailableError, StoreError])
def test_an_unavailable_store_answers_503_with_retry_after(
    tmp_path: Path, error: type[Exception]
) -> None:
    store = DownStore(str(tmp_path / "state.db"))
    store.migrate()
    store.error = error
    logs: Log = []
    app = ResultReceiver(TENANTS, store, clock=lambda: NOW, log=logger(logs))
    with BackgroundServer(app) as server:
        reply = send(server.port, "/results/acme/r-1")
        ready = send(server.port, "/readyz", None, {}, method="GET")
        healthy = send(server.port, "/healthz", None, {}, method="GET")
    assert reply.status == 503
    assert reply.headers["retry-after"] == "5"
    assert "retry" in reply.json()["error"]
    assert "locked" not in reply.body.decode()
    assert (ready.status, ready.json()) == (503, {"status": "unavailable"})
    assert healthy.status == 200
    assert store.list_results() == []
    assert (
        "result.failed",
        {
            "level": "error",
            "tenant": "acme",
            "result_id": "r-1",
            "status": 503,
            "error": f"{error.__name__}: database is locked",
        },
    ) in logs
    store.close()


def test_an_unexpected_error_is_a_generic_500_without_traceback(tmp_path: Path) -> None:
    class Broken(SQLiteStore):
        def record_result(
            self, tenant: str, result_id: str, payload: bytes, *, now: float
        ) -> RecordedResult:
            raise RuntimeError(f"boom with {ACME_NEW}")

    store = Broken(str(tmp_path / "state.db"))
    store.migrate()
    logs: Log = []
    app = ResultReceiver(TENANTS, store, clock=lambda: NOW, log=logger(logs))
    with BackgroundServer(app) as server:
        reply = send(server.port, "/results/acme/r-1")
    assert reply.status == 500
    assert set(reply.json()) == {"error"}
    for text in (reply.body.decode(), repr(logs)):
        assert "boom" not in text
        assert ACME_NEW not in text
        assert "Traceback" not in text
    expected = {"level": "error", "status": 500, "error": "RuntimeError"}
    assert ("result.failed", expected) in logs
    store.close()


def test_a_failing_on_recorded_or_logger_does_not_change_the_answer(tmp_path: Path) -> None:
    store = new_store(tmp_path / "state.db")
    logs: Log = []

    def on_recorded(*_: object) -> None:
        raise RuntimeError("the hook failed")

    app = ResultReceiver(
        TENANTS, store, clock=lambda: NOW, on_recorded=on_recorded, log=logger(logs)
    )
    with BackgroundServer(app) as server:
        reply = send(server.port, "/results/acme/r-1")
    assert (reply.status, reply.json()) == (200, {"status": "stored", "version": 1})
    assert len(store.list_results()) == 1
    assert (
        "result.hook_failed",
        {"level": "error", "tenant": "acme", "result_id": "r-1", "error": "RuntimeError"},
    ) in logs

    def broken_log(event: str, **fields: Any) -> None:
        raise RuntimeError("the logger failed")

    quiet = ResultReceiver(TENANTS, store, clock=lambda: NOW, log=broken_log)
    assert call_app(quiet, "/results/acme/r-2", BODY.replace(b"r-1", b"r-2")).status == 200
    assert call_app(quiet, "/results/acme/r-2", b"[]").status == 400
    store.close()


# -- direct WSGI calls --------------------------------------------------------------------


def test_mounted_under_a_script_name_prefix(tmp_path: Path) -> None:
    store = new_store(tmp_path / "state.db")
    app = ResultReceiver(TENANTS, store, clock=lambda: NOW)
    mounted = {"SCRIPT_NAME": "/hooks/assessio"}
    reply = call_app(app, "/results/acme/r-1", env=mounted)
    assert (reply.status, reply.json()) == (200, {"status": "stored", "version": 1})
    health = call_app(app, "/healthz", b"", {}, env={**mounted, "REQUEST_METHOD": "GET"})
    assert (health.status, health.json()) == (200, {"status": "ok"})
    assert call_app(app, "/hooks/assessio/results/acme/r-1", env=mounted).status == 404
    assert call_app(app, "", env=mounted).status == 404
    store.close()


def test_a_body_without_content_length_is_read_only_up_to_the_limit(tmp_path: Path) -> None:
    store = new_store(tmp_path / "state.db")
    app = ResultReceiver(TENANTS, store, max_body_bytes=100, clock=lambda: NOW)
    endless = CountingInput(io.BytesIO(b" " * 10_000))
    chunked: dict[str, Any] = {"CONTENT_LENGTH": "", "HTTP_TRANSFER_ENCODING": "chunked"}
    reply = call_app(app, "/results/acme/r-1", env={**chunked, "wsgi.input": endless})
    assert reply.status == 413
    assert endless.read_bytes == 101
    small = CountingInput(io.BytesIO(BODY))
    reply = call_app(app, "/results/acme/r-1", env={**chunked, "wsgi.input": small})
    assert (reply.status, reply.json()) == (200, {"status": "stored", "version": 1})
    assert store.list_results()[0].payload == BODY
    store.close()


@pytest.fixture
def shared_store(tmp_path: Path) -> Iterator[SQLiteStore]:
    """One store for every example of a hypothesis test (results accumulate; tests count)."""
    store = new_store(tmp_path / "state.db")
    yield store
    store.close()


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 200)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
_result_like = st.fixed_dictionaries(
    {"resultId": st.sampled_from(["r-1", "r-2", ""]) | _json_values},
    optional={
        "score": st.integers(-5, 105) | _json_values,
        "subscores": st.dictionaries(st.text(max_size=5), st.integers(-5, 105)) | _json_values,
        "assessmentReportUrl": st.text(max_size=10) | _json_values,
    },
).map(lambda d: json.dumps(d).encode())
_bodies = _result_like | st.binary(max_size=64) | _json_values.map(lambda v: json.dumps(v).encode())


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(body=_bodies)
def test_any_authenticated_body_is_stored_or_refused_never_a_crash(
    shared_store: SQLiteStore, body: bytes
) -> None:
    store = shared_store
    app = ResultReceiver(TENANTS, store, clock=lambda: NOW)
    before = len(store.list_results(limit=10_000))
    reply = call_app(app, "/results/acme/r-1", body)
    after = len(store.list_results(limit=10_000))
    assert reply.status in (200, 400, 422), reply.body
    assert isinstance(reply.json(), dict)
    if reply.status == 200:
        assert after - before == (0 if reply.json()["status"] == "duplicate" else 1)
    else:
        assert after == before


@settings(max_examples=150, deadline=None)
@given(path=st.text(max_size=30).map(lambda s: "/results/" + s) | st.text(max_size=30))
def test_any_path_is_routed_or_refused_never_a_crash(path: str) -> None:
    # Any use of the store would fail with AttributeError, hence a 500: none of these may reach it.
    app = ResultReceiver(TENANTS, cast("Store", object()), clock=lambda: NOW)
    wsgi_path = path.encode("utf-8", "surrogatepass").decode("latin-1")
    reply = call_app(app, wsgi_path, b"", {"integrator-api-key": WRONG_KEY})
    assert reply.status in (401, 404, 405, 415), reply.body
    assert isinstance(reply.json()["error"], str)


# -- Expect: 100-continue through the daemon's own server -----------------------------------


def _expecting(port: int, content_length: int | str, body: bytes | None = None) -> list[bytes]:
    """Send headers with `Expect: 100-continue`; return each answer read before the socket
    closes or goes quiet for 2 s. The body is sent only after a `100 Continue`."""
    answers: list[bytes] = []
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(
            b"POST /results/acme/r-1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nintegrator-api-key: " + ACME_NEW.encode() + b"\r\n"
            b"Content-Length: " + str(content_length).encode() + b"\r\n"
            b"Expect: 100-continue\r\nConnection: close\r\n\r\n"
        )
        try:
            while data := sock.recv(65536):
                answers.append(data)
                if data.startswith(b"HTTP/1.1 100 ") and body is not None:
                    sock.sendall(body)
        except TimeoutError:
            answers.append(b"<no answer within 2 s>")
    return answers


def test_expect_100_continue_over_the_limit_is_refused_without_inviting_the_body(
    tmp_path: Path,
) -> None:
    """Issue 11 item 10: a client that announces too big a body gets 413 at once, not a
    `100 Continue` it would answer by uploading, nor a wait for a body never read."""
    limit = ServerConfig().max_body_bytes
    store = new_store(tmp_path / "state.db")
    app = ResultReceiver(TENANTS, store, max_body_bytes=limit, clock=lambda: NOW)
    # As the daemon serves it: waitress refuses a body of `limit + 1` bytes or more itself.
    with BackgroundServer(app, max_request_body_size=limit + 1) as server:
        refused = _expecting(server.port, limit + 1)
        malformed = _expecting(server.port, "12x")
        accepted = _expecting(server.port, len(BODY), BODY)
    assert b"".join(refused).startswith(b"HTTP/1.1 413 "), refused
    assert b"".join(malformed).startswith(b"HTTP/1.1 400 "), malformed
    for answers in (refused, malformed):
        assert b"100 Continue" not in b"".join(answers)
        assert b"<no answer" not in answers[-1]
    answer = b"".join(accepted)
    assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 "), accepted
    assert [r.result_id for r in store.list_results()] == ["r-1"]
    store.close()
