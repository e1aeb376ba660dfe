"""Transport and client behaviour against scripted servers on 127.0.0.1: retries, caps, headers."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from assessio_connect import (
    AssessmentOrder,
    AuthenticationError,
    CandidateDetails,
    ConflictError,
    RateLimitedError,
    Recruitment,
    ServerError,
    TransportError,
    UnexpectedResponseError,
    ValidationError,
    codec,
    signing,
)
from assessio_connect.contract.client import AssessioClient, ClientSettings
from assessio_connect.contract.transport import (
    USER_AGENT,
    RetryPolicy,
    Transport,
    parse_retry_after,
)
from assessio_connect.runtime._server import BackgroundServer

SECRET = "integrator-secret-value"
KEY = "provider-key-value"

Reply = tuple[int, dict[str, str], bytes]


class Scripted:
    """A WSGI app that answers from a script and records every request it saw."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.default: Reply = (200, {"Content-Type": "application/json"}, b'"ok"')
        self.seen: list[dict[str, Any]] = []
        self.block = threading.Event()
        self.block.set()
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        with self.lock:
            self.seen.append(
                {
                    "method": environ["REQUEST_METHOD"],
                    "path": environ["PATH_INFO"],
                    "headers": headers,
                    "body": body,
                    "port": environ.get("REMOTE_PORT"),
                }
            )
            status, reply_headers, reply_body = (
                self.replies.pop(0) if self.replies else self.default
            )
        self.block.wait(5)
        start_response(f"{status} X", list(reply_headers.items()))
        return [reply_body]


@pytest.fixture
def scripted() -> Iterator[tuple[Scripted, str]]:
    app = Scripted()
    with BackgroundServer(app) as server:
        yield app, server.url
        app.block.set()


class Sleeps:
    """Records the delays a transport asks for instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def _transport(sleeps: Sleeps, **kwargs: Any) -> Transport:
    return Transport(sleep=sleeps, **kwargs)


def _order(**changes: Any) -> AssessmentOrder:
    values: dict[str, Any] = {
        "recruitment": Recruitment("job-1", "Developer", "Builds things"),
        "result_update_url": "http://127.0.0.1:9/results/acme/r-1",
        "result_id": "r-1",
        "lens_id": "7922dd91-1b44-43e4-a740-7c4d9c2fba41",
        "locale": "sv-SE",
        "candidate_details": CandidateDetails("åsa.öberg@example.se"),
    }
    values.update(changes)
    return AssessmentOrder(**values)


def _client(url: str, transport: Transport, **kwargs: Any) -> AssessioClient:
    return AssessioClient(KEY, SECRET, base_url=url, transport=transport, **kwargs)


def test_get_is_retried_on_5xx_and_429_then_succeeds(scripted: tuple[Scripted, str]) -> None:
    app, url = scripted
    app.replies = [(503, {}, b"busy"), (500, {}, b"oops"), (429, {"Retry-After": "2"}, b"")]
    app.default = (200, {}, b'{"availableLenses":[],"availableLocales":["sv-SE"]}')
    sleeps = Sleeps()
    config = _client(url, _transport(sleeps)).get_config()
    assert config.available_locales == ("sv-SE",)
    assert len(app.seen) == 4
    assert sleeps.delays[2] == 2.0  # Retry-After honoured exactly
    assert all(0 < d <= 10 for d in sleeps.delays)


def test_post_is_not_retried_on_500_because_the_order_may_exist(
    scripted: tuple[Scripted, str],
) -> None:
    app, url = scripted
    app.replies = [(500, {}, b'{"error":"boom"}')]
    sleeps = Sleeps()
    with pytest.raises(ServerError) as caught:
        _client(url, _transport(sleeps)).create_order(_order())
    assert caught.value.status == 500
    assert "boom" in caught.value.body_excerpt
    assert len(app.seen) == 1
    assert sleeps.delays == []


def test_post_is_retried_on_503_and_429_with_a_fresh_signature(
    scripted: tuple[Scripted, str],
) -> None:
    app, url = scripted
    app.replies = [(503, {}, b""), (429, {"Retry-After": "1"}, b"")]
    app.default = (200, {}, b'"ref-123"')
    ticks = iter([1_700_000_000, 1_700_000_007, 1_700_000_011])
    client = _client(url, _transport(Sleeps()), clock=lambda: float(next(ticks)))
    assert client.create_order(_order()) == "ref-123"
    assert len(app.seen) == 3
    stamps = []
    for request in app.seen:
        body = request["body"]
        assert body == codec.dumps(_order())
        header = request["headers"]["signature"]
        stamps.append(signing.verify(body, header, [SECRET], now=1_700_000_011))
    assert stamps == [1_700_000_000, 1_700_000_007, 1_700_000_011]


def test_retry_after_is_capped(scripted: tuple[Scripted, str]) -> None:
    app, url = scripted
    app.replies = [(429, {"Retry-After": "86400"}, b"")]
    sleeps = Sleeps()
    app.default = (200, {}, b'{"availableLenses":[],"availableLocales":[]}')
    _client(url, _transport(sleeps), retry=RetryPolicy(retry_after_cap=7)).get_config()
    assert sleeps.delays == [7]


def test_rate_limit_surfaces_after_the_last_attempt(scripted: tuple[Scripted, str]) -> None:
    app, url = scripted
    app.default = (429, {"Retry-After": "3"}, b'{"error":"slow down"}')
    sleeps = Sleeps()
    with pytest.raises(RateLimitedError) as caught:
        _client(url, _transport(sleeps), retry=RetryPolicy(max_attempts=3)).create_order(_order())
    assert caught.value.retry_after == 3
    assert len(app.seen) == 3
    assert sleeps.delays == [3, 3]


def test_post_read_timeout_is_not_retried(scripted: tuple[Scripted, str]) -> None:
    app, url = scripted
    app.block.clear()
    sleeps = Sleeps()
    transport = _transport(sleeps, read_timeout=0.3)
    with pytest.raises(TransportError, match="no complete response"):
        _client(url, transport).create_order(_order())
    app.block.set()
    assert len(app.seen) == 1
    assert sleeps.delays == []


def test_connect_errors_are_retried_even_for_post_then_reported() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps = Sleeps()
    client = _client(f"http://127.0.0.1:{port}", _transport(sleeps))
    with pytest.raises(TransportError, match="could not connect") as caught:
        client.create_order(_order())
    assert len(sleeps.delays) == RetryPolicy().max_attempts - 1
    assert SECRET not in str(caught.value)


def test_response_size_is_capped(scripted: tuple[Scripted, str]) -> None:
    app, url = scripted
    app.default = (200, {}, b'"' + b"x" * 5000 + b'"')
    transport = _transport(Sleeps(), max_response_bytes=1000)
    with pytest.raises(TransportError, match="larger than 1000 bytes"):
        _client(url, transport).create_order(_order())


def test_response_size_cap_without_content_length() -> None:
    def chunked(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])
        return (b"x" * 600 for _ in range(10))

    with BackgroundServer(chunked) as server:
        transport = _transport(Sleeps(), max_response_bytes=1000)
        with pytest.raises(TransportError, match="larger than 1000 bytes"):
            transport.send("GET", server.url + "/")


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, ValidationError),
        (422, ValidationError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (409, ConflictError),
        (502, ServerError),
        (418, UnexpectedResponseError),
    ],
)
def test_status_maps_to_one_error_type(
    scripted: tuple[Scripted, str], status: int, error: type[Exception]
) -> None:
    app, url = scripted
    app.default = (status, {}, json.dumps({"error": "lensId is unknown"}).encode())
    with pytest.raises(error) as caught:
        _client(url, _transport(Sleeps()), retry=RetryPolicy(max_attempts=1)).create_order(_order())
    message = str(caught.value)
    assert f"HTTP {status}" in message
    assert "lensId is unknown" in message
    assert SECRET not in message
    assert KEY not in message


def test_unreadable_success_body_is_an_unexpected_response(scripted: tuple[Scripted, str]) -> None:
    app, url = scripted
    app.default = (200, {}, b'{"availableLenses": "nope"}')
    with pytest.raises(UnexpectedResponseError, match="availableLenses"):
        _client(url, _transport(Sleeps())).get_config()


def test_headers_user_agent_keep_alive_and_unsigned_get(scripted: tuple[Scripted, str]) -> None:
    app, url = scripted
    app.default = (200, {}, b'{"availableLenses":[],"availableLocales":[]}')
    client = _client(url, _transport(Sleeps()))
    for _ in range(3):
        client.get_config()
    headers = app.seen[0]["headers"]
    assert headers["provider-key"] == KEY
    assert headers["user-agent"] == USER_AGENT
    assert USER_AGENT.startswith("assessio-connect/")
    assert "signature" not in headers
    assert app.seen[0]["path"] == "/recruitment/v1/config"
    assert len({request["port"] for request in app.seen}) == 1, "connection was not reused"


def test_settings_bearer_key_signed_get_and_link_path(scripted: tuple[Scripted, str]) -> None:
    app, url = scripted
    settings = ClientSettings(
        provider_key_header="Authorization", sign_get=True, link_path="/custom/link"
    )
    client = _client(url, _transport(Sleeps()), settings=settings)
    app.replies = [(200, {}, b'{"availableLenses":[],"availableLocales":[]}')]
    client.get_config()
    app.default = (200, {}, b'{"assessmentPackageLink":"https://take.example/abc"}')
    link = client.create_order_link(_order())
    assert link.assessment_package_link == "https://take.example/abc"
    get, post = app.seen
    assert get["headers"]["authorization"] == f"Bearer {KEY}"
    signing.verify(b"", get["headers"]["signature"], [SECRET])
    assert post["path"] == "/custom/link"
    assert post["headers"]["content-type"] == "application/json"


def test_client_repr_and_errors_hide_secrets() -> None:
    client = AssessioClient(KEY, SECRET, environment="production")
    assert SECRET not in repr(client)
    assert KEY not in repr(client)
    assert client.base_url == "https://api.assessio.online"
    with pytest.raises(ValueError, match="unknown environment"):
        AssessioClient(KEY, environment="staging")  # type: ignore[arg-type]


def test_infinite_timeouts_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        Transport(read_timeout=0)


def test_parse_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after("5", now=0) == 5
    assert parse_retry_after("Thu, 01 Jan 1970 00:00:30 GMT", now=10) == 20
    assert parse_retry_after("soon", now=0) is None
    assert parse_retry_after(None, now=0) is None


def test_exchange_returns_any_status_with_the_whole_body_once(
    scripted: tuple[Scripted, str],
) -> None:
    app, url = scripted
    fault = b"<Fault>" + b"v" * 2000 + b"</Fault>"
    app.replies = [(500, {"Content-Type": "text/xml"}, fault)]
    sleeps = Sleeps()
    response = _transport(sleeps).exchange("POST", url + "/soap", body=b"<x/>")
    assert (response.status, response.body) == (500, fault)
    assert len(app.seen) == 1
    assert app.seen[0]["headers"]["user-agent"].startswith("assessio-connect/")
    assert sleeps.delays == []


def test_exchange_raises_transport_errors_for_no_or_oversized_responses(
    scripted: tuple[Scripted, str],
) -> None:
    app, url = scripted
    app.default = (500, {}, b"x" * 5000)
    with pytest.raises(TransportError, match="larger than 1000 bytes"):
        _transport(Sleeps(), max_response_bytes=1000).exchange("GET", url)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TransportError, match="could not connect"):
        _transport(Sleeps()).exchange("GET", f"http://127.0.0.1:{port}/")
