"""An ATS's HTTP failures as connector errors: which statuses are retried, `Retry-After`
carried along, credentials scrubbed from every message; and `AtsHttp` over a real server."""

from __future__ import annotations

import base64
import email.utils
import socket
from collections.abc import Iterator

import pytest

from assessio_connect import (
    Answer,
    AtsHttp,
    PermanentError,
    Request,
    RetryableError,
    Routes,
    Transport,
    as_connector_errors,
)
from assessio_connect.contract.errors import APIError, ServerError, TransportError
from assessio_connect.kit import connector_error, is_retryable_status, status_error
from assessio_connect.testing import ServedApp

TOKEN = "ats-token-c0ffee-1234"
NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (408, True),
        (409, False),
        (422, False),
        (425, True),
        (429, True),
        (500, True),
        (501, False),
        (502, True),
        (503, True),
        (504, True),
        (599, True),
    ],
)
def test_which_statuses_are_worth_another_try(status: int, retryable: bool) -> None:
    assert is_retryable_status(status) is retryable
    error = status_error(status, b"", what="write the note", retry_after=7.0)
    assert isinstance(error, RetryableError if retryable else PermanentError)
    if retryable:
        assert isinstance(error, RetryableError)
        assert error.retry_after == 7.0


def test_a_message_says_what_failed_with_a_scrubbed_excerpt() -> None:
    body = (
        b'{"message": "token ' + TOKEN.encode() + b' is not valid",'
        b' "Authorization": "Bearer abcdefghijkl12345", "detail": "' + b"x" * 500 + b'"}'
    )
    error = status_error(
        401,
        body,
        what="write the note to Lever",
        secrets=[TOKEN],
        credentials_hint="check ats.api_key",
    )
    text = str(error)
    assert text.startswith("could not write the note to Lever: HTTP 401 Unauthorized: ")
    assert text.endswith("… (check ats.api_key)")
    assert TOKEN not in text
    assert "abcdefghijkl12345" not in text
    assert len(text) < 400


def test_transport_failures_and_api_errors_convert() -> None:
    refused = connector_error(
        TransportError(f"could not connect for GET http://x/?key={TOKEN}"),
        what="read",
        secrets=[TOKEN],
    )
    assert isinstance(refused, RetryableError)
    assert TOKEN not in str(refused)
    api = connector_error(ServerError(503, b"busy", retry_after=12.0), what="read")
    assert isinstance(api, RetryableError)
    assert api.retry_after == 12.0
    with (
        pytest.raises(PermanentError, match="could not post: HTTP 422"),
        as_connector_errors("post"),
    ):
        raise APIError(422, b'{"error": "bad"}')


@pytest.fixture
def transport() -> Iterator[Transport]:
    shared = Transport(connect_timeout=2.0, read_timeout=5.0, clock=lambda: NOW)
    yield shared
    shared.close()


class Ats(ServedApp):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Request] = []

    def wsgi_app(self) -> Routes:
        routes = Routes()
        routes.add(["GET", "POST", "PUT"], "/items/{item}", self._item)
        return routes

    def _item(self, request: Request) -> Answer:
        self.seen.append(request)
        item = request.params["item"]
        if item == "echo-auth":
            return Answer.json(401, {"message": f"bad {request.header('Authorization')}"})
        if item == "echo-basic":
            _, _, encoded = (request.header("Authorization") or "").partition(" ")
            key = base64.b64decode(encoded).decode().rstrip(":")
            return Answer.json(401, {"message": f"unknown api key {key}"})
        if item == "stale":
            return Answer.json(409, {"error": "stale version"})
        if item == "busy":
            later = email.utils.formatdate(NOW + 30, usegmt=True)
            return Answer.json(503, {"error": "busy"}, headers=[("Retry-After", later)])
        if item == "html":
            return Answer.text(200, "<html>", content_type="text/html")
        return Answer.json(200, {"item": item, "query": dict(request.query)})


@pytest.fixture
def ats() -> Iterator[Ats]:
    with Ats() as running:
        yield running


@pytest.fixture
def api(transport: Transport, ats: Ats) -> AtsHttp:
    return AtsHttp(
        transport,
        ats.url + "/",
        headers=lambda: {"Authorization": f"Bearer {TOKEN}"},
        name="MyATS",
        credentials_hint="check ats.api_token",
        clock=lambda: NOW,
    )


def test_ids_are_encoded_into_one_path_segment(api: AtsHttp, ats: Ats) -> None:
    data = api.get_json("/items/{id}", params={"id": "é b?x=1#y"}, query={"a": "b c"})
    assert data == {"item": "é b?x=1#y", "query": {"a": ["b c"]}}
    assert api.url("/items/{id}", {"id": "a/b"}) == ats.url + "/items/a%2Fb"
    with pytest.raises(KeyError, match="no value for"):
        api.url("/items/{id}")


def test_json_is_sent_and_read(api: AtsHttp, ats: Ats) -> None:
    assert api.send_json("PUT", "/items/7", {"score": 71})["item"] == "7"
    sent = ats.seen[-1]
    assert (sent.header("Content-Type"), sent.body) == ("application/json", b'{"score":71}')
    assert sent.header("Authorization") == f"Bearer {TOKEN}"
    with pytest.raises(PermanentError, match="MyATS answered GET /items/html with something"):
        api.get_json("/items/html")


def test_an_accepted_status_is_returned_and_others_raise_without_the_token(
    api: AtsHttp,
) -> None:
    response = api.request("PUT", "/items/stale", json_body={}, accept=(409,))
    assert response.status == 409
    with pytest.raises(PermanentError) as caught:
        api.get_json("/items/echo-auth")
    message = str(caught.value)
    assert message.startswith("could not GET /items/echo-auth at MyATS: HTTP 401")
    assert message.endswith("(check ats.api_token)")
    assert TOKEN not in message
    with pytest.raises(RetryableError) as busy:
        api.get_json("/items/busy", what="read the busy item")
    assert str(busy.value).startswith("could not read the busy item: HTTP 503")
    assert busy.value.retry_after == pytest.approx(30.0)


def test_a_basic_api_key_echoed_back_is_scrubbed(transport: Transport, ats: Ats) -> None:
    basic = base64.b64encode(f"{TOKEN}:".encode()).decode()
    lever_like = AtsHttp(transport, ats.url, headers={"Authorization": f"Basic {basic}"})
    with pytest.raises(PermanentError) as caught:
        lever_like.get_json("/items/echo-basic")
    assert "401" in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert basic not in str(caught.value)


def test_credentials_never_leave_for_another_host(api: AtsHttp, ats: Ats) -> None:
    with pytest.raises(PermanentError, match="another host"):
        api.request("GET", "http://elsewhere.example/items/1")
    assert ats.seen == []
    assert api.request("GET", ats.url + "/items/1").status == 200


def test_no_answer_at_all_is_retryable(transport: Transport) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api = AtsHttp(transport, f"http://127.0.0.1:{port}", name="MyATS")
    with pytest.raises(RetryableError, match="could not GET /ping at MyATS: could not connect"):
        api.request("GET", "/ping")


def test_a_base_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="http"):
        AtsHttp(Transport(), "ftp://ats.example")
