"""`Routes`, `Request` and `Answer` over real HTTP on 127.0.0.1: routing, the body cap, strict
JSON, and every failure answered with its status, never with a traceback or a secret."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import attrs
import pytest
import urllib3
from werkzeug.test import EnvironBuilder

from assessio_connect import (
    Answer,
    BodyHmac,
    ConfigError,
    PermanentError,
    Request,
    RequestRefused,
    RetryableError,
    Routes,
    StoreUnavailableError,
)
from assessio_connect.testing import BackgroundServer

SECRET = "route-secret-5e1b7a"


@attrs.frozen
class Candidate:
    email_address: str
    score: int


@attrs.frozen
class Logged:
    event: str
    fields: dict[str, Any]


def _raise(exc: Exception) -> Callable[[Request], Answer]:
    def handler(_: Request) -> Answer:
        raise exc

    return handler


@pytest.fixture
def logged() -> list[Logged]:
    return []


@pytest.fixture
def routes(logged: list[Logged]) -> Routes:
    def log(event: str, **fields: Any) -> None:
        logged.append(Logged(event, fields))

    routes = Routes(max_body_bytes=64, log=log, name="demo")

    @routes.route("GET", "/items/{item_id}")
    def item(request: Request) -> Answer:
        return Answer.json(200, {"id": request.params["item_id"], "sort": request.arg("sort")})

    @routes.route(["POST", "PUT"], "/candidates")
    def candidates(request: Request) -> Answer:
        candidate = request.structure(Candidate, what="candidate")
        return Answer.json(201, {"email": candidate.email_address})

    @routes.route("POST", "/signed")
    def signed(request: Request) -> Answer:
        BodyHmac("X-Signature", prefix="sha256=").verify(request, ["old-key", SECRET])
        return Answer.empty(204)

    routes.add("POST", "/retry", _raise(RetryableError("Assessio is down", retry_after=2.2)))
    routes.add("POST", "/store", _raise(StoreUnavailableError("database is locked")))
    routes.add("POST", "/config", _raise(ConfigError(["no lens fits the job @ $.lens"])))
    routes.add("POST", "/permanent", _raise(PermanentError("opportunity 7 was not found")))
    routes.add("POST", "/bug", _raise(RuntimeError(f"Authorization: Bearer {SECRET}")))
    routes.add("POST", "/refused", _raise(RequestRefused(409, "taken", headers=[("X-A", "1")])))
    routes.add("GET", "/not-an-answer", lambda request: {"status": 200})  # type: ignore[arg-type,return-value]
    return routes


@pytest.fixture
def http() -> Iterator[urllib3.PoolManager]:
    pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5.0, read=10.0))
    yield pool
    pool.clear()


def _mounted(app: Routes, prefix: str) -> Callable[..., Iterable[bytes]]:
    """The app under `prefix`, as the daemon mounts a connector at /connectors/{tenant}."""

    def mounted(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        if not path.startswith(prefix + "/"):
            start_response("404 Not Found", [("Content-Length", "0")])
            return [b""]
        inner = {**environ, "SCRIPT_NAME": prefix, "PATH_INFO": path[len(prefix) :]}
        return app(inner, start_response)

    return mounted


@pytest.fixture
def base(routes: Routes) -> Iterator[str]:
    with BackgroundServer(_mounted(routes, "/connectors/acme")) as server:
        yield server.url + "/connectors/acme"


def _json(response: Any) -> Any:
    return json.loads(response.data)


def test_a_route_gets_its_decoded_variables_and_query(http: urllib3.PoolManager, base: str) -> None:
    response = http.request("GET", base + "/items/a%20b%C3%A9?sort=name")
    assert response.status == 200
    assert _json(response) == {"id": "a bé", "sort": "name"}
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"


def test_unknown_paths_and_methods(http: urllib3.PoolManager, base: str) -> None:
    response = http.request("GET", base + "/nowhere")
    assert (response.status, _json(response)) == (404, {"error": "no such route"})
    response = http.request("DELETE", base + "/candidates")
    assert response.status == 405
    assert response.headers["Allow"] == "POST, PUT"
    response = http.request("HEAD", base + "/items/1")
    assert (response.status, response.data) == (200, b"")


def test_a_repeated_query_parameter_is_refused(http: urllib3.PoolManager, base: str) -> None:
    response = http.request("GET", base + "/items/1?sort=a&sort=b")
    assert response.status == 400
    assert "given more than once" in _json(response)["error"]


def test_json_is_read_strictly_and_every_problem_has_its_path(
    http: urllib3.PoolManager, base: str
) -> None:
    def post(body: bytes, content_type: str = "application/json") -> Any:
        return http.request(
            "POST", base + "/candidates", body=body, headers={"Content-Type": content_type}
        )

    good = post(b'{"emailAddress": "ada@example.com", "score": 71}')
    assert (good.status, _json(good)) == (201, {"email": "ada@example.com"})
    ok_with_charset = post(
        b'{"emailAddress": "a@b.c", "score": 1}', "application/json; charset=utf-8"
    )
    assert ok_with_charset.status == 201
    response = post(b"email=ada", "application/x-www-form-urlencoded")
    assert (response.status, _json(response)["error"]) == (
        415,
        "send application/json, not application/x-www-form-urlencoded",
    )
    for body in (b"{", b'{"score": NaN}', b'"\xff"'):
        response = post(body)
        assert response.status == 400, body
        assert "@ $" in _json(response)["error"]
    response = post(b'{"emailAddress": 7, "score": "71"}')
    assert response.status == 422
    assert _json(response) == {
        "error": "invalid candidate",
        "problems": [
            "expected a string, got number @ $.emailAddress",
            "expected an integer, got string @ $.score",
        ],
    }


def test_a_body_over_the_cap_is_refused_before_it_is_read(
    http: urllib3.PoolManager, base: str
) -> None:
    response = http.request(
        "POST", base + "/candidates", body=b"x" * 65, headers={"Content-Type": "application/json"}
    )
    assert response.status == 413
    assert "exceeds the limit of 64 bytes" in _json(response)["error"]
    chunks = iter([b"x" * 40, b"y" * 40])
    response = http.request(
        "POST",
        base + "/candidates",
        body=chunks,
        headers={"Content-Type": "application/json"},
        chunked=True,
    )
    assert response.status == 413


def test_a_content_length_that_is_not_a_number_is_refused(routes: Routes) -> None:
    environ = EnvironBuilder(method="POST", path="/candidates", data=b"{}").get_environ()
    environ["CONTENT_LENGTH"] = "12abc"
    answer = routes.answer(environ)
    assert (answer.status, json.loads(answer.body)) == (
        400,
        {"error": "Content-Length is not a number"},
    )


def test_signatures_answer_401_and_accept_any_current_key(
    http: urllib3.PoolManager, base: str, logged: list[Logged]
) -> None:
    body = b'{"event": "x"}'
    signed = BodyHmac("X-Signature", prefix="sha256=").sign(body, SECRET)
    response = http.request("POST", base + "/signed", body=body, headers={"X-Signature": signed})
    assert response.status == 204
    tampered = http.request(
        "POST", base + "/signed", body=body + b" ", headers={"X-Signature": signed}
    )
    assert tampered.status == 401
    assert "X-Signature does not match" in _json(tampered)["error"]
    missing = http.request("POST", base + "/signed", body=body)
    assert (missing.status, _json(missing)) == (
        401,
        {"error": "the request has no X-Signature header"},
    )
    assert [entry.fields["status"] for entry in logged] == [401, 401]
    assert SECRET not in json.dumps([entry.fields for entry in logged])


def test_failures_are_answered_with_their_status(
    http: urllib3.PoolManager, base: str, logged: list[Logged]
) -> None:
    retry = http.request("POST", base + "/retry")
    assert (retry.status, retry.headers["Retry-After"]) == (503, "3")
    assert "Assessio is down" not in retry.data.decode()
    store = http.request("POST", base + "/store")
    assert (store.status, store.headers["Retry-After"]) == (503, "5")
    config = http.request("POST", base + "/config")
    assert (config.status, _json(config)["problems"]) == (422, ["no lens fits the job @ $.lens"])
    permanent = http.request("POST", base + "/permanent")
    assert permanent.status == 422
    refused = http.request("POST", base + "/refused")
    assert (refused.status, refused.headers["X-A"], _json(refused)) == (
        409,
        "1",
        {"error": "taken"},
    )
    events = [(entry.event, entry.fields["status"], entry.fields["level"]) for entry in logged]
    assert events == [
        ("demo.refused", 503, "warning"),
        ("demo.refused", 503, "warning"),
        ("demo.refused", 422, "error"),
        ("demo.refused", 422, "warning"),
    ]
    assert logged[0].fields["reason"] == "Assessio is down"


def test_a_bug_is_a_500_with_no_traceback_or_secret_but_is_logged(
    http: urllib3.PoolManager, base: str, logged: list[Logged]
) -> None:
    response = http.request("POST", base + "/bug")
    assert (response.status, _json(response)) == (
        500,
        {"error": "internal error (see the connector's log)"},
    )
    assert SECRET.encode() not in response.data
    assert b"Traceback" not in response.data
    (entry,) = logged
    assert (entry.event, entry.fields["level"], entry.fields["path"]) == (
        "demo.failed",
        "error",
        "/bug",
    )
    assert entry.fields["reason"].startswith("RuntimeError: ")
    wrong = http.request("GET", base + "/not-an-answer")
    assert wrong.status == 500
    assert "returned dict, not Answer" in logged[-1].fields["reason"]


def test_errors_can_be_worded_as_the_ats_reads_them(routes: Routes) -> None:
    def as_message(status: int, message: str, headers: Any = (), **extra: Any) -> Answer:
        return Answer.json(status, {"message": message}, headers=headers)

    greenhouse = Routes(error_answer=as_message)
    greenhouse.add("POST", "/webhook", _raise(RetryableError("later")))
    answer = greenhouse.dispatch(Request("GET", "/webhook"))
    assert (answer.status, answer.headers, json.loads(answer.body)) == (
        405,
        (("Allow", "POST"),),
        {"message": "use POST"},
    )
    answer = greenhouse.dispatch(Request("POST", "/webhook"))
    assert (answer.status, answer.headers) == (503, (("Retry-After", "5"),))


def test_dispatch_answers_a_request_built_in_a_test(routes: Routes) -> None:
    answer = routes.dispatch(Request("GET", "/items/42", query={"sort": "date"}))
    assert json.loads(answer.body) == {"id": "42", "sort": "date"}
    assert routes.dispatch(Request("POST", "/candidates", body=b"x" * 65)).status == 413


def test_request_headers_are_case_insensitive_and_never_shown() -> None:
    request = Request("POST", "/", headers={"X-Api-Key": SECRET})
    assert request.header("x-api-key") == SECRET
    assert request.headers["X-API-KEY"] == SECRET
    assert SECRET not in repr(request)


@pytest.mark.parametrize(
    "headers", [[("X-A", "1\r\nSet-Cookie: x")], [("Bad Name", "1")], [("", "1")]]
)
def test_an_answer_cannot_carry_a_broken_header(headers: list[tuple[str, str]]) -> None:
    with pytest.raises(ValueError, match="cannot be sent"):
        Answer.json(200, {}, headers=headers)


def test_routes_refuse_what_they_cannot_match() -> None:
    routes = Routes()
    with pytest.raises(ValueError, match="starts with '/'"):
        routes.add("GET", "items", _raise(RuntimeError()))
    with pytest.raises(ValueError, match="starts with '/'"):
        routes.add("GET", "/items/<int:id>", _raise(RuntimeError()))
    with pytest.raises(ValueError, match="upper-case HTTP methods"):
        routes.add("get", "/items", _raise(RuntimeError()))
