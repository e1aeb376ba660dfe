"""Hostile input against the whole daemon over HTTP: every malformed, unauthenticated, oversized,
mis-typed or cross-tenant request gets its documented status, stores nothing, leaks no secret."""

from __future__ import annotations

import http.client
import io
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs
import pytest

from assessio_connect.contract.signing import sign as sign_result
from assessio_connect.reference import MAX_EVENT_BYTES, SIGNATURE_HEADER
from assessio_connect.reference import sign as sign_event
from assessio_connect.runtime._logging import EventLog
from assessio_connect.runtime.daemon import Daemon
from assessio_connect.store import DeliveryState, OrderState, Store
from daemon_harness import SECRETS, Harness, harness, wait_until

JOB = {"id": "job-7", "title": "Backend Engineer", "department": "Engineering"}
JSON = {"Content-Type": "application/json"}
API_KEY = "integrator-api-key"
HUGE = str(10**12)
Snapshot = tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...]]


@attrs.frozen
class Request:
    method: str
    path: str
    body: bytes | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    content_length: str | None = None
    """Sent as given, and then no body (the server must answer from the headers alone)."""


@attrs.frozen
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes


class _LibraryLog(logging.Handler):
    """Every library log record, unscrubbed (message and any traceback text)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = f"{record.name} {record.levelname} {record.getMessage()}"
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(text)


@attrs.define
class World:
    """One daemon for the whole module, with one real order per tenant."""

    harness: Harness
    daemon: Daemon
    log: io.StringIO
    library: _LibraryLog
    acme_id: str
    globex_id: str
    baseline: Snapshot
    unauthorized: Reply
    replies: list[Reply] = attrs.field(factory=list)

    def send(self, request: Request) -> Reply:
        reply = _send(self.daemon.server.port, request)
        self.replies.append(reply)
        return reply


def _send(port: int, request: Request) -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.putrequest(request.method, request.path, skip_accept_encoding=True)
        for name, value in request.headers.items():
            conn.putheader(name, value)
        if request.content_length is not None:
            conn.putheader("Content-Length", request.content_length)
        elif request.body is not None:
            conn.putheader("Content-Length", str(len(request.body)))
        conn.endheaders()
        if request.content_length is None and request.body:
            conn.send(request.body)
        response = conn.getresponse()
        data = response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        conn.close()


def snapshot(store: Store) -> Snapshot:
    return (
        tuple(store.list_orders(limit=10_000)),
        tuple(store.list_results(limit=10_000)),
        tuple(store.list_deliveries(limit=10_000)),
    )


def leaked(text: str) -> list[str]:
    return [name for name, value in SECRETS.items() if value in text]


def every_text(world: World) -> str:
    """Everything an attacker or an operator could read: logs, answer bodies and headers."""
    parts = [world.log.getvalue(), *world.library.lines]
    for reply in world.replies:
        parts.append(reply.body.decode("latin-1"))
        parts.extend(f"{name}: {value}" for name, value in reply.headers.items())
    return "\n".join(parts)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    library = _LibraryLog()
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(library)
    root.setLevel(logging.DEBUG)
    stream = io.StringIO()
    try:
        with harness(tmp_path_factory.mktemp("bad-input")) as built:
            daemon = Daemon(built.load(), built.plugins, log=EventLog(stream)).start()
            try:
                yield _prepare(built, daemon, stream, library)
            finally:
                daemon.stop()
    finally:
        root.removeHandler(library)
        root.setLevel(previous_level)


def _prepare(built: Harness, daemon: Daemon, stream: io.StringIO, library: _LibraryLog) -> World:
    """Record a real order per tenant (acme pushed, globex polled) and wait until both are sent."""
    candidate = {"id": "cand-1", "email": "ada@acme.example", "name": "Ada"}
    pushed = built.acme_ats.add_invitation("acme-app-1", job=JOB, candidate=candidate)
    assert built.acme_ats.push_event(f"{daemon.url}/connectors/acme/events", pushed) == 202
    candidate = {"id": "cand-2", "email": "grace@globex.example", "name": "Grace"}
    built.globex_ats.add_invitation("globex-app-1", job=JOB, candidate=candidate)
    tenant_of = {SECRETS["acme_provider_key"]: "acme", SECRETS["globex_provider_key"]: "globex"}
    ids = {tenant_of[o.provider_key]: o.order.result_id for o in built.wait_for_orders(2)}
    store = daemon.store
    wait_until(
        lambda: {o.state for o in store.list_orders()} == {OrderState.SENT},
        what="both orders sent",
    )
    assert len(store.list_orders()) == 2
    world = World(
        harness=built,
        daemon=daemon,
        log=stream,
        library=library,
        acme_id=ids["acme"],
        globex_id=ids["globex"],
        baseline=snapshot(store),
        unauthorized=Reply(0, {}, b""),
    )
    wrong = _send(daemon.server.port, acme(world, result(world.acme_id), key="wrong-key"))
    assert wrong.status == 401
    world.unauthorized = wrong
    unsigned = _send(daemon.server.port, event(invitation("probe"), secret=None))
    assert unsigned.status == 401
    world.replies.extend((wrong, unsigned))
    return world


# -- request builders -------------------------------------------------------------------------


def result(result_id: str | None, **fields: Any) -> bytes:
    data: dict[str, Any] = {"score": 64, "subscores": {"Driving Leadership": 70}, **fields}
    if result_id is not None:
        data["resultId"] = result_id
    return json.dumps(data).encode()


def acme(
    world: World,
    body: bytes,
    *,
    key: str | None = SECRETS["acme_result_key"],
    path: str | None = None,
    headers: Mapping[str, str] = JSON,
    method: str = "POST",
) -> Request:
    """A result POST to acme's webhook (API key only), by default with acme's key."""
    sent = dict(headers)
    if key is not None:
        sent[API_KEY] = key
    return Request(method, path or f"/results/acme/{world.acme_id}", body, sent)


def globex(
    world: World,
    body: bytes,
    *,
    key: str | None = SECRETS["globex_result_key"],
    secret: str | None = SECRETS["globex_result_signing"],
    signed: bytes | None = None,
    age: int = 0,
    path: str | None = None,
) -> Request:
    """A result POST to globex's webhook (API key and Signature), by default fully valid."""
    headers = dict(JSON)
    if key is not None:
        headers[API_KEY] = key
    if secret is not None:
        timestamp = int(time.time()) - age
        headers["Signature"] = sign_result(secret, body if signed is None else signed, timestamp)
    return Request("POST", path or f"/results/globex/{world.globex_id}", body, headers)


def invitation(application_id: str, **fields: Any) -> dict[str, Any]:
    candidate = {"id": f"c-{application_id}", "email": f"{application_id}@acme.example"}
    return {
        "event_id": f"evt-{application_id}",
        "application_id": application_id,
        "job": JOB,
        "candidate": candidate,
        **fields,
    }


def event(
    body: bytes | Mapping[str, Any],
    *,
    tenant: str = "acme",
    secret: str | None = SECRETS["acme_ats_webhook"],
    signature: str | None = None,
    path: str | None = None,
    method: str = "POST",
    content_length: str | None = None,
) -> Request:
    """An event POST to a tenant's reference connector, signed with acme's webhook secret."""
    raw = body if isinstance(body, bytes) else json.dumps(dict(body)).encode()
    headers = dict(JSON)
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    elif secret is not None:
        headers[SIGNATURE_HEADER] = sign_event(raw, secret)
    return Request(
        method, path or f"/connectors/{tenant}/events", raw, headers, content_length=content_length
    )


@attrs.frozen
class Case:
    name: str
    status: int
    build: Callable[[World], Request]
    by_server: bool = False
    """Answered by the HTTP server (waitress) from the headers, before any app code runs."""


CASES = [
    # -- the result webhook: bodies (authenticated, so the body checks are reached) -------------
    Case("malformed-json", 400, lambda w: acme(w, b'{"resultId": "')),
    Case("json-array", 400, lambda w: acme(w, b"[" + result(w.acme_id) + b"]")),
    Case("json-string", 400, lambda w: acme(w, b'"a result"')),
    Case("json-null", 400, lambda w: acme(w, b"null")),
    Case("not-utf8", 400, lambda w: acme(w, b'{"resultId": "\xff\xfe"}')),
    Case("nan-score", 400, lambda w: acme(w, result(w.acme_id)[:-1] + b', "x": NaN}')),
    Case("deep-nesting", 400, lambda w: acme(w, b"[" * 200_000 + b"]" * 200_000)),
    Case("empty-body", 400, lambda w: acme(w, b"")),
    Case("score-string", 422, lambda w: acme(w, result(w.acme_id, score="high"))),
    Case("score-bool", 422, lambda w: acme(w, result(w.acme_id, score=True))),
    Case("score-float", 422, lambda w: acme(w, result(w.acme_id, score=50.5))),
    Case("score-over-100", 422, lambda w: acme(w, result(w.acme_id, score=101))),
    Case("score-negative", 422, lambda w: acme(w, result(w.acme_id, score=-1))),
    Case("subscore-out-of-range", 422, lambda w: acme(w, result(w.acme_id, subscores={"A": 999}))),
    Case("subscores-array", 422, lambda w: acme(w, result(w.acme_id, subscores=[70]))),
    Case("result-id-number", 422, lambda w: acme(w, b'{"resultId": 7, "score": 5}')),
    Case("missing-result-id", 422, lambda w: acme(w, result(None))),
    Case("body-id-differs-from-url", 422, lambda w: acme(w, result(w.acme_id + "-other"))),
    Case("other-tenants-id-in-body", 422, lambda w: acme(w, result(w.globex_id))),
    # -- the result webhook: credentials ------------------------------------------------------
    Case("no-credentials", 401, lambda w: acme(w, result(w.acme_id), key=None)),
    Case("wrong-key", 401, lambda w: acme(w, result(w.acme_id), key="pk-acme-5f1c9b")),
    Case("empty-key", 401, lambda w: acme(w, result(w.acme_id), key="")),
    Case(
        "wrong-bearer",
        401,
        lambda w: acme(
            w, result(w.acme_id), key=None, headers={**JSON, "Authorization": "Bearer nope"}
        ),
    ),
    Case(
        "acme-key-on-globex-url",
        401,
        lambda w: globex(w, result(w.globex_id), key=SECRETS["acme_result_key"]),
    ),
    Case(
        "globex-key-on-acme-url",
        401,
        lambda w: acme(w, result(w.acme_id), key=SECRETS["globex_result_key"]),
    ),
    Case(
        "globex-signature-for-acme",
        401,
        lambda w: globex(w, result(w.acme_id), path=f"/results/acme/{w.acme_id}"),
    ),
    Case("globex-unsigned", 401, lambda w: globex(w, result(w.globex_id), secret=None)),
    Case("globex-signature-only", 401, lambda w: globex(w, result(w.globex_id), key=None)),
    Case("globex-stale-signature", 401, lambda w: globex(w, result(w.globex_id), age=3600)),
    Case("globex-future-signature", 401, lambda w: globex(w, result(w.globex_id), age=-3600)),
    Case(
        "globex-tampered-body",
        401,
        lambda w: globex(w, result(w.globex_id, score=99), signed=result(w.globex_id)),
    ),
    Case(
        "globex-signed-with-wrong-secret",
        401,
        lambda w: globex(w, result(w.globex_id), secret=SECRETS["globex_integrator_secret"]),
    ),
    Case(
        "raw-secret-as-signature",
        401,
        lambda w: Request(
            "POST",
            f"/results/globex/{w.globex_id}",
            result(w.globex_id),
            {
                **JSON,
                API_KEY: SECRETS["globex_result_key"],
                "Signature": SECRETS["globex_result_signing"],
            },
        ),
    ),
    Case(
        "unknown-tenant",
        401,
        lambda w: acme(w, result(w.acme_id), path=f"/results/initech/{w.acme_id}"),
    ),
    Case(
        "dot-dot-tenant",
        401,
        lambda w: acme(w, result(w.acme_id), path=f"/results/%2E%2E/{w.acme_id}"),
    ),
    # -- the result webhook: framing and media type --------------------------------------------
    Case(
        "huge-content-length",
        413,
        lambda w: attrs.evolve(acme(w, b""), content_length=HUGE),
        by_server=True,
    ),
    Case(
        "bad-content-length",
        400,
        lambda w: attrs.evolve(acme(w, b""), content_length="12abc"),
        by_server=True,
    ),
    Case(
        "negative-content-length",
        400,
        lambda w: attrs.evolve(acme(w, b""), content_length="-1"),
        by_server=True,
    ),
    Case(
        "text-plain",
        415,
        lambda w: acme(w, result(w.acme_id), headers={"Content-Type": "text/plain"}),
    ),
    Case(
        "latin1-charset",
        415,
        lambda w: acme(
            w, result(w.acme_id), headers={"Content-Type": "application/json; charset=latin-1"}
        ),
    ),
    Case("no-content-type", 415, lambda w: acme(w, result(w.acme_id), headers={})),
    Case("form-unauthenticated", 415, lambda w: acme(w, b"a=1", key=None, headers={})),
    # -- methods and paths ----------------------------------------------------------------------
    Case("get-result-route", 405, lambda w: acme(w, b"", method="GET")),
    Case("put-result-route", 405, lambda w: acme(w, result(w.acme_id), method="PUT")),
    Case("post-healthz", 405, lambda w: Request("POST", "/healthz", b"{}", JSON)),
    Case("delete-readyz", 405, lambda w: Request("DELETE", "/readyz")),
    Case("root", 404, lambda w: Request("GET", "/")),
    Case("unknown-path", 404, lambda w: acme(w, result(w.acme_id), path="/admin")),
    Case("results-without-id", 404, lambda w: acme(w, result(w.acme_id), path="/results/acme")),
    Case(
        "results-extra-segment",
        404,
        lambda w: acme(w, result(w.acme_id), path=f"/results/acme/{w.acme_id}/x"),
    ),
    Case(
        "encoded-traversal",
        404,
        lambda w: acme(
            w, result(w.globex_id), path=f"/results/acme/..%2F..%2Fglobex%2F{w.globex_id}"
        ),
    ),
    Case(
        "encoded-slash-in-id",
        404,
        lambda w: acme(w, result(w.acme_id), path=f"/results/acme/{w.acme_id}%2Fx"),
    ),
    Case("nul-in-id", 404, lambda w: acme(w, result(w.acme_id), path="/results/acme/r%00")),
    Case("non-utf8-id", 404, lambda w: acme(w, result(w.acme_id), path="/results/acme/%FF%FE")),
    Case(
        "long-result-id",
        404,
        lambda w: acme(w, result("r" * 201), path="/results/acme/" + "r" * 201),
    ),
    Case(
        "long-tenant",
        404,
        lambda w: acme(w, result(w.acme_id), path=f"/results/{'t' * 8000}/{w.acme_id}"),
    ),
    # -- the reference connector's events endpoint ----------------------------------------------
    Case("event-unsigned", 401, lambda w: event(invitation("e-1"), secret=None)),
    Case(
        "event-wrong-secret",
        401,
        lambda w: event(invitation("e-2"), secret=SECRETS["acme_ats_token"]),
    ),
    Case(
        "event-globex-secret",
        401,
        lambda w: event(invitation("e-3"), secret=SECRETS["globex_result_signing"]),
    ),
    Case("event-malformed-signature", 401, lambda w: event(invitation("e-4"), signature="md5=0")),
    Case(
        "event-raw-secret-as-signature",
        401,
        lambda w: event(invitation("e-5"), signature=SECRETS["acme_ats_webhook"]),
    ),
    Case(
        "event-tampered",
        401,
        lambda w: event(
            json.dumps(invitation("e-6")).encode(),
            signature=sign_event(
                json.dumps(invitation("e-7")).encode(), SECRETS["acme_ats_webhook"]
            ),
        ),
    ),
    Case("event-bad-json", 400, lambda w: event(b'{"event_id": ')),
    Case("event-not-utf8", 400, lambda w: event(b'{"event_id": "\xff"}')),
    Case("event-empty", 400, lambda w: event(b"")),
    Case("event-missing-fields", 422, lambda w: event({"event_id": "e-8"})),
    Case("event-array", 422, lambda w: event(b"[]")),
    Case("event-wrong-types", 422, lambda w: event(invitation("e-9", job=["x"], lens=7))),
    Case(
        "event-bad-email",
        422,
        lambda w: event(invitation("e-10", candidate={"id": "c", "email": "not-an-email"})),
    ),
    Case("event-unknown-lens", 422, lambda w: event(invitation("e-11", lens="Telepathy"))),
    Case(
        "event-oversize",
        413,
        lambda w: event(invitation("e-12", padding="x" * MAX_EVENT_BYTES)),
    ),
    Case(
        "event-huge-content-length",
        413,
        lambda w: event(b"", content_length=HUGE),
        by_server=True,
    ),
    Case(
        "event-bad-content-length",
        400,
        lambda w: event(b"", content_length="0x10"),
        by_server=True,
    ),
    Case("event-get", 405, lambda w: event(b"", method="GET")),
    Case(
        "event-unknown-route", 404, lambda w: event(invitation("e-13"), path="/connectors/acme/x")
    ),
    Case(
        "event-encoded-traversal",
        404,
        lambda w: event(invitation("e-14"), path="/connectors/acme/..%2Fevents"),
    ),
    Case(
        "event-encoded-slash",
        404,
        lambda w: event(invitation("e-18"), path="/connectors/acme%2Fevents"),
    ),
    Case("event-pull-only-tenant", 404, lambda w: event(invitation("e-15"), tenant="globex")),
    Case("event-unknown-tenant", 404, lambda w: event(invitation("e-16"), tenant="initech")),
    Case(
        "event-empty-tenant", 404, lambda w: event(invitation("e-17"), path="/connectors//events")
    ),
]


def test_the_battery_is_big_and_covers_every_status() -> None:
    assert len(CASES) >= 30
    assert len({case.name for case in CASES}) == len(CASES)
    assert {case.status for case in CASES} == {400, 401, 404, 405, 413, 415, 422}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_request_gets_its_status_stores_nothing_and_the_daemon_keeps_serving(
    world: World, case: Case
) -> None:
    request = case.build(world)
    reply = world.send(request)
    assert reply.status == case.status, reply.body[:300]
    if not case.by_server:
        assert reply.headers["content-type"] == "application/json"
        assert json.loads(reply.body)["error"]
    if reply.status == 405:
        assert reply.headers["allow"]
    if reply.status == 401 and request.path.startswith("/results/"):
        # One answer for a wrong credential and an unknown tenant alike: nothing to probe with.
        assert reply.body == world.unauthorized.body
        assert reply.headers["www-authenticate"] == world.unauthorized.headers["www-authenticate"]
    assert snapshot(world.daemon.store) == world.baseline
    health = world.send(Request("GET", "/healthz"))
    assert (health.status, json.loads(health.body)) == (200, {"status": "ok"})
    assert not leaked(every_text(world))


def test_after_the_battery_a_valid_result_still_gets_through_and_no_secret_leaked(
    world: World,
) -> None:
    store = world.daemon.store
    assert snapshot(store) == world.baseline
    harness = world.harness
    harness.sandbox.complete(world.acme_id, score=42, provider_key=SECRETS["acme_provider_key"])
    harness.sandbox.complete(world.globex_id, score=58, provider_key=SECRETS["globex_provider_key"])
    acme_writes = harness.acme_ats.wait_for_writes(1, timeout=5)
    globex_writes = harness.globex_ats.wait_for_writes(1, timeout=5)
    assert [(w.application_id, w.status, w.body["score"]) for w in acme_writes] == [
        ("acme-app-1", 200, 42)
    ]
    assert [(w.application_id, w.status, w.body["score"]) for w in globex_writes] == [
        ("globex-app-1", 200, 58)
    ]
    wait_until(
        lambda: len(store.list_deliveries(state=DeliveryState.DELIVERED)) == 2,
        timeout=5,
        what="both deliveries marked delivered",
    )
    assert len(store.list_results()) == 2
    world.baseline = snapshot(store)  # so a battery case run after this one still compares
    log = world.log.getvalue()
    # The captures saw the rejections and the library chatter, so a leak would have shown.
    assert "event=result.rejected" in log
    assert "event=reference.refused" in log
    assert any(line.startswith("urllib3.") for line in world.library.lines)
    assert not leaked(every_text(world))


def test_a_body_of_exactly_max_body_bytes_reaches_the_receiver(world: World) -> None:
    limit = world.daemon.config.server.max_body_bytes
    try:
        reply = world.send(acme(world, b" " * limit))
    except OSError:  # waitress answered 413 and closed before the whole body was sent
        pytest.fail("the server refused the body before reading it")
    assert reply.status == 400  # the receiver's answer: whitespace is not a JSON object
    assert snapshot(world.daemon.store) == world.baseline
