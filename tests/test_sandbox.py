"""The Assessio emulator over real HTTP on 127.0.0.1, driven with bare urllib3."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
import urllib3

from assessio_connect import codec, signing
from assessio_connect.contract.models import Result
from assessio_connect.runtime._server import BackgroundServer
from assessio_connect.sandbox import (
    DEFAULT_LENSES,
    MAX_BODY_BYTES,
    USER_AGENT,
    DeliveryAttempt,
    DeliverySchedule,
    Organisation,
    Sandbox,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

ORDER = "/recruitment/v1/assessment-order"
LINK = "/recruitment/v1/assessment-link-order"
CONFIG = "/recruitment/v1/config"
LENS = DEFAULT_LENSES[0]

ACME = Organisation(
    "pk-acme-000000001",
    integrator_secret="acme-integrator-secret",
    result_api_key="acme-result-api-key",
    result_signing_secret="acme-result-signing-secret",
)
OPEN = Organisation("pk-open-000000002")  # no secret: requests need no signature
FAST = DeliverySchedule(first_retry=0.02, factor=2.0, horizon=1.0, jitter=0.0)


# -- helpers ------------------------------------------------------------------------------


class Receiver:
    """An integrator's result webhook: records each POST and answers the next queued status."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        self.default_status = 200
        self._lock = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body: bytes = environ["wsgi.input"].read(length)
        headers = {
            key[5:].replace("_", "-").lower(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        headers["content-type"] = str(environ.get("CONTENT_TYPE", ""))
        with self._lock:
            self.calls.append((headers, body))
            status = self.statuses.pop(0) if self.statuses else self.default_status
        start_response(f"{status} Whatever", [("Content-Type", "text/plain")])
        return [b"stored" if status < 300 else b"receiver says no"]


@pytest.fixture
def http() -> Iterator[urllib3.PoolManager]:
    pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2.0, read=5.0))
    yield pool
    pool.clear()


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    app = Receiver()
    server = BackgroundServer(app).start()
    try:
        yield app, f"{server.url}/results"
    finally:
        server.stop()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox([ACME, OPEN], delivery=FAST) as sb:
        yield sb


def order_body(
    result_id: str = "res-1",
    *,
    email: str = "ada@example.com",
    recruitment_id: str = "job-1",
    url: str = "http://127.0.0.1:9/results",
    **overrides: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "recruitment": {"id": recruitment_id, "title": "Developer", "description": "Backend"},
        "additionalRecruitmentCollaboratorsEmails": ["recruiter@example.com"],
        "resultUpdateUrl": url,
        "resultId": result_id,
        "lensId": LENS.id,
        "locale": "sv-SE",
        "candidateDetails": {"email": email},
    }
    body.update(overrides)
    return body


def call(
    http: urllib3.PoolManager,
    sandbox: Sandbox,
    method: str,
    path: str,
    data: Any = None,
    *,
    org: Organisation | None = ACME,
    raw: bytes | None = None,
    sign: bool = True,
    headers: dict[str, str] | None = None,
) -> urllib3.BaseHTTPResponse:
    """Call the emulator as an integrator would: provider-key, JSON body, Signature."""
    body = raw if raw is not None else (b"" if data is None else json.dumps(data).encode())
    sent: dict[str, str] = {}
    if method == "POST":
        sent["Content-Type"] = "application/json"
    if org is not None:
        sent["provider-key"] = org.provider_key
        if sign and org.integrator_secret and method == "POST":
            sent["Signature"] = signing.sign(org.integrator_secret, body)
    sent.update(headers or {})
    return http.request(method, sandbox.url + path, body=body or None, headers=sent)


def as_json(response: urllib3.BaseHTTPResponse) -> Any:
    assert response.headers["Content-Type"].startswith("application/json")
    return json.loads(response.data)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def delivered(attempts: list[DeliveryAttempt]) -> bool:
    return any(a.delivered for a in attempts)


# -- the Recruitment API ------------------------------------------------------------------


def test_config_lists_lenses_and_locales(http: urllib3.PoolManager, sandbox: Sandbox) -> None:
    response = call(http, sandbox, "GET", CONFIG)
    assert response.status == 200
    data = as_json(response)
    assert data["availableLenses"][0] == {
        "id": "7922dd91-1b44-43e4-a740-7c4d9c2fba41",
        "name": "General Performance",
    }
    assert len(data["availableLenses"]) == len(DEFAULT_LENSES) >= 4
    assert {"en-US", "sv-SE", "nl-NL", "nn-NO"} <= set(data["availableLocales"])
    assert all(4 <= len(lens.competencies) <= 6 for lens in DEFAULT_LENSES)


def test_orders_create_a_recruitment_then_add_candidates(
    http: urllib3.PoolManager, sandbox: Sandbox
) -> None:
    first = call(http, sandbox, "POST", ORDER, order_body("r1", email="ada@example.com"))
    assert first.status == 200
    reference = as_json(first)
    assert isinstance(reference, str)
    assert reference
    second = order_body(
        "r2",
        email="bob@example.com",
        locale="en-US",  # only the first order's locale counts
        additionalRecruitmentCollaboratorsEmails=["boss@example.com"],
    )
    assert call(http, sandbox, "POST", ORDER, second).status == 200
    other_lens = order_body("r3", email="cy@example.com", lensId=DEFAULT_LENSES[1].id)
    assert call(http, sandbox, "POST", ORDER, other_lens).status == 200

    recruitments = sandbox.recruitments(ACME.provider_key)
    assert [(r.id, r.lens_id) for r in recruitments] == [
        ("job-1", LENS.id),
        ("job-1", DEFAULT_LENSES[1].id),
    ]
    job = recruitments[0]
    assert job.locale == "sv-SE"
    assert job.title == "Developer"
    assert job.description == "Backend"
    assert job.candidates == ("ada@example.com", "bob@example.com")
    assert job.collaborators == ("recruiter@example.com", "boss@example.com")
    assert sandbox.recruitments(OPEN.provider_key) == []

    orders = sandbox.orders(ACME.provider_key)
    assert [o.order.result_id for o in orders] == ["r1", "r2", "r3"]
    assert orders[0].reference == reference
    assert orders[0].endpoint == "order"
    assert orders[0].order.candidate_details.email == "ada@example.com"
    assert sandbox.orders(OPEN.provider_key) == []


def test_link_order_answers_a_link_and_409_for_a_known_candidate(
    http: urllib3.PoolManager, sandbox: Sandbox
) -> None:
    response = call(http, sandbox, "POST", LINK, order_body("r1", email="Ada@Example.com"))
    assert response.status == 200
    link = as_json(response)["assessmentPackageLink"]
    assert link.startswith(f"{sandbox.url}/_sandbox/take/")

    again = call(http, sandbox, "POST", LINK, order_body("r2", email="ada@EXAMPLE.com"))
    assert again.status == 409
    assert "already exists" in as_json(again)["error"]

    resend = call(http, sandbox, "POST", LINK, order_body("r1", email="Ada@Example.com"))
    assert resend.status == 200
    assert as_json(resend)["assessmentPackageLink"] == link
    assert [o.endpoint for o in sandbox.orders()] == ["link"]
    assert sandbox.orders()[0].assessment_link == link


def test_resending_an_order_is_idempotent_but_new_content_conflicts(
    http: urllib3.PoolManager, sandbox: Sandbox
) -> None:
    first = as_json(call(http, sandbox, "POST", ORDER, order_body("r1")))
    assert as_json(call(http, sandbox, "POST", ORDER, order_body("r1"))) == first
    assert len(sandbox.orders()) == 1
    assert sandbox.recruitments(ACME.provider_key)[0].candidates == ("ada@example.com",)

    changed = call(http, sandbox, "POST", ORDER, order_body("r1", email="eve@example.com"))
    assert changed.status == 409
    assert "different order" in as_json(changed)["error"]
    # Another organisation has its own resultId namespace.
    assert call(http, sandbox, "POST", ORDER, order_body("r1"), org=OPEN).status == 200


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing provider-key"),
        ({"provider-key": "pk-nobody-here"}, "unknown provider-key"),
    ],
)
def test_missing_or_unknown_provider_key_is_401(
    http: urllib3.PoolManager, sandbox: Sandbox, headers: dict[str, str], reason: str
) -> None:
    response = call(http, sandbox, "GET", CONFIG, org=None, headers=headers)
    assert response.status == 401
    assert reason in as_json(response)["error"]
    assert sandbox.requests()[-1].status == 401
    assert sandbox.requests()[-1].reason is not None
    assert reason in (sandbox.requests()[-1].reason or "")


def test_bearer_provider_key_when_enabled(http: urllib3.PoolManager) -> None:
    with Sandbox([OPEN], accept_bearer=True) as sb:
        bearer = {"Authorization": f"Bearer {OPEN.provider_key}"}
        assert call(http, sb, "GET", CONFIG, org=None, headers=bearer).status == 200
    with Sandbox([OPEN]) as sb:
        assert call(http, sb, "GET", CONFIG, org=None, headers=bearer).status == 401


def test_tampered_body_fails_the_signature(http: urllib3.PoolManager, sandbox: Sandbox) -> None:
    body = json.dumps(order_body()).encode()
    header = signing.sign("acme-integrator-secret", body)
    tampered = body.replace(b"ada@", b"eve@")
    response = call(http, sandbox, "POST", ORDER, raw=tampered, headers={"Signature": header})
    assert response.status == 401
    error = as_json(response)["error"]
    assert "does not match" in error
    assert "acme-integrator-secret" not in response.data.decode()
    unsigned = call(http, sandbox, "POST", ORDER, order_body(), sign=False)
    assert unsigned.status == 401
    assert "no Signature header" in as_json(unsigned)["error"]
    assert sandbox.orders() == []


def test_stale_timestamp_is_401(http: urllib3.PoolManager) -> None:
    with Sandbox([ACME], clock=lambda: time.time() + 1000) as sb:
        response = call(http, sb, "POST", ORDER, order_body())
        assert response.status == 401
        assert "in the past" in as_json(response)["error"]


def test_signing_can_be_switched_off(http: urllib3.PoolManager) -> None:
    relaxed = Organisation("pk-relaxed-0003", integrator_secret="x", require_signature=False)
    with Sandbox([relaxed, OPEN]) as sb:
        assert call(http, sb, "POST", ORDER, order_body("a"), org=relaxed, sign=False).status == 200
        assert call(http, sb, "POST", ORDER, order_body("b"), org=OPEN).status == 200


def test_signed_gets_when_required(http: urllib3.PoolManager) -> None:
    with Sandbox([ACME], require_signed_get=True) as sb:
        assert call(http, sb, "GET", CONFIG).status == 401
        signed = {"Signature": signing.sign("acme-integrator-secret", b"")}
        assert call(http, sb, "GET", CONFIG, headers=signed).status == 200


@pytest.mark.parametrize(
    ("overrides", "path", "words"),
    [
        ({"candidateDetails": {"email": "not-an-email"}}, "$.candidateDetails.email", "email"),
        ({"lensId": "no-such-lens"}, "$.lensId", LENS.id),
        ({"locale": "xx-XX"}, "$.locale", "sv-SE"),
        ({"resultUpdateUrl": "ftp://example.com/x"}, "$.resultUpdateUrl", "http"),
        ({"resultId": 7}, "$.resultId", "string"),
        (
            {"additionalRecruitmentCollaboratorsEmails": ""},
            "$.additionalRecruitmentCollaboratorsEmails",
            "array",
        ),
        ({"resultId": "\ud800"}, "$.resultId", "surrogate"),
    ],
)
def test_invalid_orders_are_400_with_paths(
    http: urllib3.PoolManager,
    sandbox: Sandbox,
    overrides: dict[str, Any],
    path: str,
    words: str,
) -> None:
    response = call(http, sandbox, "POST", ORDER, order_body(**overrides))
    assert response.status == 400
    data = as_json(response)
    assert any(problem.endswith(f"@ {path}") for problem in data["problems"]), data
    assert words in json.dumps(data)
    assert sandbox.orders() == []


def test_unknown_lens_message_names_the_field_and_valid_values(
    http: urllib3.PoolManager, sandbox: Sandbox
) -> None:
    data = as_json(call(http, sandbox, "POST", ORDER, order_body(lensId="nope", locale="xx")))
    assert "lensId" in data["error"]
    assert "locale" in data["error"]
    assert data["validValues"]["lensId"] == [lens.id for lens in DEFAULT_LENSES]
    assert "nn-NO" in data["validValues"]["locale"]


def test_malformed_json_is_400(http: urllib3.PoolManager, sandbox: Sandbox) -> None:
    response = call(http, sandbox, "POST", ORDER, raw=b'{"resultId": ')
    assert response.status == 400
    data = as_json(response)
    assert data["error"] == "invalid assessment order"
    assert "not valid JSON" in data["problems"][0]


def test_content_type_must_be_json(http: urllib3.PoolManager, sandbox: Sandbox) -> None:
    text = {"Content-Type": "text/plain"}
    response = call(http, sandbox, "POST", ORDER, order_body(), headers=text)
    assert response.status == 415
    assert "application/json" in as_json(response)["error"]


def test_oversized_body_is_413(http: urllib3.PoolManager, sandbox: Sandbox) -> None:
    response = call(http, sandbox, "POST", ORDER, raw=b" " * (MAX_BODY_BYTES + 1))
    assert response.status == 413
    assert as_json(response)["limit"] == MAX_BODY_BYTES


def test_unknown_path_and_wrong_method(http: urllib3.PoolManager, sandbox: Sandbox) -> None:
    missing = call(http, sandbox, "GET", "/recruitment/v1/nope")
    assert missing.status == 404
    assert "error" in as_json(missing)
    wrong = call(http, sandbox, "GET", ORDER)
    assert wrong.status == 405
    assert wrong.headers["Allow"] == "POST"
    assert "error" in as_json(wrong)


# -- faults -------------------------------------------------------------------------------


def test_api_error_fault_with_retry_after(http: urllib3.PoolManager, sandbox: Sandbox) -> None:
    sandbox.faults.api_errors(503, count=2, retry_after=2, path=ORDER)
    assert call(http, sandbox, "GET", CONFIG).status == 200  # another path is untouched
    for _ in range(2):
        response = call(http, sandbox, "POST", ORDER, order_body())
        assert response.status == 503
        assert response.headers["Retry-After"] == "2"
        assert as_json(response)["injected"] is True
    assert sandbox.orders() == []  # the faulted calls were not processed
    assert call(http, sandbox, "POST", ORDER, order_body()).status == 200
    assert [r.status for r in sandbox.requests()] == [200, 503, 503, 200]

    sandbox.faults.api_errors(429, retry_after=0.25)
    limited = call(http, sandbox, "GET", CONFIG)
    assert limited.status == 429
    assert limited.headers["Retry-After"] == "0.25"


def test_latency_fault_delays_answers(http: urllib3.PoolManager, sandbox: Sandbox) -> None:
    sandbox.faults.latency(0.1)
    started = time.monotonic()
    assert call(http, sandbox, "GET", CONFIG).status == 200
    assert time.monotonic() - started >= 0.1
    sandbox.faults.reset()
    assert sandbox.faults.current_latency() == 0.0


# -- completion and delivery --------------------------------------------------------------


def test_completion_is_delivered_with_api_key_and_signature(
    http: urllib3.PoolManager, sandbox: Sandbox, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    assert call(http, sandbox, "POST", ORDER, order_body("r1", url=url)).status == 200
    result = sandbox.complete("r1")
    [attempt] = sandbox.wait_for_deliveries(1)

    assert attempt.delivered
    assert (attempt.status, attempt.attempt, attempt.url) == (200, 1, url)
    assert attempt.response_excerpt == "stored"
    [(headers, body)] = app.calls
    assert body == attempt.payload == codec.dumps(result)
    assert headers["integrator-api-key"] == "acme-result-api-key"
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == USER_AGENT
    signing.verify(body, headers["signature"], "acme-result-signing-secret")

    received = codec.loads(body, Result)
    assert received == result
    assert received.result_id == "r1"
    assert received.score is not None
    assert 0 <= received.score <= 100
    assert set(received.subscores) == set(LENS.competencies)
    assert all(0 <= v <= 100 for v in received.subscores.values())
    assert (received.recruitment_url or "").startswith(f"{sandbox.url}/_sandbox/recruitments/")
    report = http.request("GET", received.assessment_report_url or "")
    assert as_json(report)["score"] == received.score
    recruitment = http.request("GET", received.recruitment_url or "")
    assert as_json(recruitment)["candidates"] == ["ada@example.com"]
    assert sandbox.orders()[0].results == (result,)


def test_simulated_results_are_deterministic_and_overridable(
    http: urllib3.PoolManager, receiver: tuple[Receiver, str]
) -> None:
    _, url = receiver
    scores = []
    for _ in range(2):
        with Sandbox([OPEN], seed=7) as sb:
            call(http, sb, "POST", ORDER, order_body("same", url=url), org=OPEN)
            scores.append(sb.complete("same"))
            sb.wait_for_deliveries(1)
    assert scores[0].score == scores[1].score
    assert scores[0].subscores == scores[1].subscores
    with Sandbox([OPEN]) as sb:
        call(http, sb, "POST", ORDER, order_body("x", url=url), org=OPEN)
        chosen = sb.complete("x", score=88, subscores={"Collaborating": 90})
        assert (chosen.score, dict(chosen.subscores)) == (88, {"Collaborating": 90})
        with pytest.raises(ValueError, match="outside"):
            sb.complete("x", score=101)
        with pytest.raises(KeyError):
            sb.complete("unknown")


def test_completion_delay_completes_on_its_own(
    http: urllib3.PoolManager, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    with Sandbox([OPEN], completion_delay=0.0) as sb:
        assert call(http, sb, "POST", ORDER, order_body("auto", url=url), org=OPEN).status == 200
        [attempt] = sb.wait_for_deliveries(delivered)
        assert attempt.result_id == "auto"
        assert len(app.calls) == 1
        assert "integrator-api-key" not in app.calls[0][0]  # OPEN secures nothing
        assert "signature" not in app.calls[0][0]


def test_injected_delivery_failures_are_retried(
    http: urllib3.PoolManager, sandbox: Sandbox, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    call(http, sandbox, "POST", ORDER, order_body("r1", url=url))
    sandbox.faults.fail_deliveries(2)
    sandbox.complete("r1")
    attempts = sandbox.wait_for_deliveries(delivered)
    assert [(a.attempt, a.outcome, a.error) for a in attempts] == [
        (1, "failed", "injected failure"),
        (2, "failed", "injected failure"),
        (3, "delivered", None),
    ]
    assert attempts[0].retry_in == pytest.approx(0.02)
    assert attempts[1].retry_in == pytest.approx(0.04)
    assert len(app.calls) == 1  # the injected failures never reached the receiver


def test_failing_receiver_is_retried_until_the_horizon_then_abandoned(
    http: urllib3.PoolManager, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    app.default_status = 500
    schedule = DeliverySchedule(first_retry=0.02, factor=2.0, horizon=0.1, jitter=0.0)
    with Sandbox([ACME], delivery=schedule) as sb:
        call(http, sb, "POST", ORDER, order_body("r1", url=url))
        sb.complete("r1")
        attempts = sb.wait_for_deliveries(
            lambda found: any(a.outcome == "abandoned" for a in found)
        )
    # Attempts at about 0, 0.02 and 0.06 s; the next (0.14 s) would lie beyond the horizon.
    # A slow machine may give up one attempt earlier, never later.
    assert 2 <= len(attempts) <= 3
    assert [a.attempt for a in attempts] == list(range(1, len(attempts) + 1))
    assert [a.outcome for a in attempts] == ["failed"] * (len(attempts) - 1) + ["abandoned"]
    assert {a.status for a in attempts} == {500}
    assert attempts[-1].retry_in is None
    assert attempts[0].response_excerpt == "receiver says no"
    assert len(app.calls) == len(attempts)
    for headers, body in app.calls:  # every attempt carries its own valid Signature
        signing.verify(body, headers["signature"], "acme-result-signing-secret")


def test_unreachable_receiver_records_the_connection_error(http: urllib3.PoolManager) -> None:
    schedule = DeliverySchedule(first_retry=0.02, horizon=0.0, jitter=0.0)
    with Sandbox([OPEN], delivery=schedule) as sb:
        url = f"http://127.0.0.1:{free_port()}/results"
        call(http, sb, "POST", ORDER, order_body("r1", url=url), org=OPEN)
        sb.complete("r1")
        [attempt] = sb.wait_for_deliveries(1)
    assert attempt.status is None
    assert attempt.outcome == "abandoned"
    assert "Connection" in (attempt.error or "")


def test_duplicate_deliveries_post_the_same_bytes_twice(
    http: urllib3.PoolManager, sandbox: Sandbox, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    call(http, sandbox, "POST", ORDER, order_body("r1", url=url))
    sandbox.faults.duplicate_deliveries(True)
    sandbox.complete("r1")
    attempts = sandbox.wait_for_deliveries(2)
    assert [(a.attempt, a.duplicate, a.outcome) for a in attempts] == [
        (1, False, "delivered"),
        (1, True, "delivered"),
    ]
    assert len(app.calls) == 2
    assert app.calls[0] == app.calls[1]


def test_wait_for_deliveries_times_out_with_a_useful_message(sandbox: Sandbox) -> None:
    with pytest.raises(TimeoutError, match=r"waiting for 1 delivery attempt.*0 attempt"):
        sandbox.wait_for_deliveries(1, timeout=0.05)


# -- the control plane --------------------------------------------------------------------


def test_inspection_endpoints_over_http(
    http: urllib3.PoolManager, sandbox: Sandbox, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    call(http, sandbox, "POST", ORDER, order_body("r1", url=url))
    call(http, sandbox, "GET", "/recruitment/v1/nope")
    base = f"{sandbox.url}/_sandbox"

    index = as_json(http.request("GET", base))
    assert "only in this emulator" in index["note"]
    orders = as_json(http.request("GET", f"{base}/orders"))
    assert [o["order"]["resultId"] for o in orders] == ["r1"]
    assert orders[0]["order"]["candidateDetails"] == {"email": "ada@example.com"}
    requests = as_json(http.request("GET", f"{base}/requests"))
    assert [(r["path"], r["status"]) for r in requests] == [
        (ORDER, 200),
        ("/recruitment/v1/nope", 404),
    ]
    recruitments = as_json(http.request("GET", f"{base}/recruitments"))
    assert recruitments[0]["candidates"] == ["ada@example.com"]

    faults = {"failDeliveries": 1, "apiErrors": {"status": 502, "count": 1}, "latency": 0}
    set_faults = http.request("POST", f"{base}/faults", body=json.dumps(faults).encode())
    assert as_json(set_faults)["failDeliveries"] == 1
    assert call(http, sandbox, "GET", CONFIG).status == 502
    bad = http.request("POST", f"{base}/faults", body=b'{"explode": true}')
    assert bad.status == 400

    body = json.dumps({"score": 77, "subscores": {"Collaborating": 80}}).encode()
    completed = http.request("POST", f"{base}/results/r1/complete", body=body)
    assert as_json(completed)["score"] == 77
    sandbox.wait_for_deliveries(delivered)
    deliveries = as_json(http.request("GET", f"{base}/deliveries"))
    assert [d["outcome"] for d in deliveries] == ["failed", "delivered"]
    assert deliveries[-1]["payload"]["score"] == 77
    assert http.request("POST", f"{base}/results/nope/complete").status == 404
    assert http.request("GET", f"{base}/nope").status == 404

    everything = b"".join(
        http.request("GET", f"{base}/{what}").data
        for what in ("orders", "requests", "recruitments", "deliveries")
    )
    assert ACME.provider_key.encode() not in everything
    assert http.request("DELETE", f"{base}/faults").status == 200
    assert sandbox.faults.snapshot()["failDeliveries"] == 0
    assert len(app.calls) == 1


def test_take_page_completes_the_assessment(
    http: urllib3.PoolManager, sandbox: Sandbox, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    response = call(
        http, sandbox, "POST", LINK, order_body("r1", email="a<b>@example.com", url=url)
    )
    link = as_json(response)["assessmentPackageLink"]
    page = http.request("GET", link)
    assert page.status == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert b"Assessment for a&lt;b&gt;@example.com" in page.data
    assert b'<form method="post">' in page.data
    done = http.request("POST", link)
    assert done.status == 200
    assert b"complete" in done.data
    sandbox.wait_for_deliveries(delivered)
    assert codec.loads(app.calls[0][1], Result).result_id == "r1"
    assert http.request("GET", f"{sandbox.url}/_sandbox/take/nope").status == 404


# -- construction -------------------------------------------------------------------------


def test_repr_never_shows_secrets() -> None:
    text = repr(ACME)
    for secret in ("acme-integrator-secret", "acme-result-api-key", "acme-result-signing-secret"):
        assert secret not in text
    assert "pk-acme" in text
    with pytest.raises(ValueError, match="integrator_secret"):
        Organisation("pk", integrator_secret="")


def test_constructor_rejects_inconsistent_settings() -> None:
    with pytest.raises(ValueError, match="provider_key"):
        Sandbox([OPEN, Organisation(OPEN.provider_key)])
    with pytest.raises(ValueError, match="link_path"):
        Sandbox([OPEN], link_path=ORDER)
    with pytest.raises(ValueError, match="first_retry"):
        DeliverySchedule(first_retry=0)
    with pytest.raises(RuntimeError, match="start"):
        _ = Sandbox([OPEN]).url


def test_custom_link_path_and_mounted_app(http: urllib3.PoolManager) -> None:
    sb = Sandbox([OPEN], link_path="/recruitment/v1/links")
    # The WSGI app can be served by someone else; links then use the request's host.
    server = BackgroundServer(sb.wsgi_app).start()
    try:
        body = json.dumps(order_body()).encode()
        response = http.request(
            "POST",
            f"{server.url}/recruitment/v1/links",
            body=body,
            headers={"provider-key": OPEN.provider_key, "Content-Type": "application/json"},
        )
        assert response.status == 200
        assert json.loads(response.data)["assessmentPackageLink"].startswith(server.url)
    finally:
        server.stop()
        sb.stop()


def test_control_plane_accepts_any_result_id(
    http: urllib3.PoolManager, sandbox: Sandbox, receiver: tuple[Receiver, str]
) -> None:
    _, url = receiver
    result_id = "résumé/42"
    assert call(http, sandbox, "POST", ORDER, order_body(result_id, url=url)).status == 200
    quoted = urllib.parse.quote(result_id, safe="")
    response = http.request("POST", f"{sandbox.url}/_sandbox/results/{quoted}/complete")
    assert response.status == 200
    assert as_json(response)["resultId"] == result_id
    assert sandbox.wait_for_deliveries(delivered)[0].result_id == result_id


def test_serve_forever_after_start_returns_on_stop() -> None:
    sandbox = Sandbox([OPEN]).start()
    stopper = threading.Timer(0.01, sandbox.stop)
    stopper.start()
    sandbox.serve_forever()  # returns once stop() ran
    stopper.join()
    with pytest.raises(RuntimeError):
        _ = sandbox.url
