"""The status page over HTTP on 127.0.0.1: who may see it (operator token, session cookie,
Bearer), CSRF on its forms, escaping, security headers and JSON, over a seeded store."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import attrs
import pytest
import urllib3

from assessio_connect.runtime._logging import Scrubber
from assessio_connect.runtime._server import BackgroundServer
from assessio_connect.runtime._sqlite_store import SQLiteStore
from assessio_connect.runtime._status import TenantInfo
from assessio_connect.runtime._status_page import (
    SESSION_COOKIE,
    SESSION_SECONDS,
    PageSettings,
    StatusPage,
)
from assessio_connect.store import DeliveryState
from status_world import ATS_TOKEN, OPERATOR_TOKEN, Seeded, seed_history, tenant_name

TENANTS = 12
NOW = time.time()


@attrs.define
class Clock:
    now: float = NOW

    def __call__(self) -> float:
        return self.now


@attrs.define
class Page:
    url: str
    store: SQLiteStore
    seeded: Seeded
    clock: Clock
    settings: list[PageSettings]
    """The settings the page reads on each request (the last one)."""
    requeued: list[int]
    http: urllib3.PoolManager = attrs.field(factory=lambda: urllib3.PoolManager(retries=False))

    def get(self, path: str, **headers: str) -> urllib3.BaseHTTPResponse:
        return self.http.request("GET", self.url + path, headers=headers, redirect=False)

    def post(self, path: str, fields: dict[str, str], **headers: str) -> urllib3.BaseHTTPResponse:
        return self.http.request(
            "POST",
            self.url + path,
            fields=fields,
            encode_multipart=False,
            headers=headers,
            redirect=False,
        )

    def sign_in(self) -> str:
        """The session cookie's `name=value`."""
        answer = self.post("/status/login", {"token": OPERATOR_TOKEN, "next": "/status/"})
        assert answer.status == 303
        return answer.headers["Set-Cookie"].split(";")[0]


def infos() -> list[TenantInfo]:
    return [
        TenantInfo(
            tenant_name(n), "reference", "pull" if n == 2 else "push", 30.0 if n == 2 else None
        )
        for n in range(1, TENANTS + 1)
    ]


def serve(tmp_path: Path, settings: PageSettings) -> Iterator[Page]:
    store = SQLiteStore(tmp_path / "state.db")
    store.migrate()
    seeded = seed_history(store, tenants=TENANTS, now=NOW)
    clock = Clock()
    requeued: list[int] = []
    current = [settings]
    page = StatusPage(
        store, lambda: current[-1], clock=clock, on_requeued=lambda: requeued.append(1)
    )

    def mounted(environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/status"):
            start_response("404 Not Found", [("Content-Length", "0")])
            return [b""]
        environ = {**environ, "SCRIPT_NAME": "/status", "PATH_INFO": path[len("/status") :]}
        return page(environ, start_response)

    with BackgroundServer(mounted, "127.0.0.1", 0) as server:
        try:
            yield Page(server.url, store, seeded, clock, current, requeued)
        finally:
            store.close()


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Page]:
    settings = PageSettings(
        token=OPERATOR_TOKEN, tenants=infos(), scrub=Scrubber([ATS_TOKEN, OPERATOR_TOKEN])
    )
    yield from serve(tmp_path, settings)


def html(answer: urllib3.BaseHTTPResponse) -> str:
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    return answer.data.decode("utf-8")


def csrf_of(text: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', text)
    assert found is not None
    return found[1]


# -- who may see it ---------------------------------------------------------------------------


def test_without_a_token_the_page_is_off(tmp_path: Path) -> None:
    settings = PageSettings(token=None, tenants=infos(), scrub=Scrubber())
    for served in serve(tmp_path, settings):
        answer = served.get("/status/", Authorization="Bearer anything")
        assert answer.status == 404
        assert "Set [status] token" in html(answer)
        assert served.post("/status/login", {"token": ""}).status == 404


def test_a_visitor_is_sent_to_sign_in_and_back(page: Page) -> None:
    answer = page.get("/status/tenants/org-03?format=json")
    assert answer.status == 303
    assert (
        answer.headers["Location"]
        == "/status/login?next=%2Fstatus%2Ftenants%2Forg-03%3Fformat%3Djson"
    )
    form = page.get(answer.headers["Location"])
    assert form.status == 200
    assert 'name="next" value="/status/tenants/org-03?format=json"' in html(form)
    signed = page.post(
        "/status/login", {"token": OPERATOR_TOKEN, "next": "/status/tenants/org-03?format=json"}
    )
    assert signed.status == 303
    assert signed.headers["Location"] == "/status/tenants/org-03?format=json"
    cookie = signed.headers["Set-Cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    for flag in ("HttpOnly", "SameSite=Strict", "Path=/status", f"Max-Age={SESSION_SECONDS}"):
        assert flag in cookie
    assert OPERATOR_TOKEN not in cookie
    follow = page.get("/status/tenants/org-03?format=json", Cookie=cookie.split(";")[0])
    assert follow.status == 200
    assert follow.json()["tenant"] == "org-03"


def test_a_wrong_token_is_refused_and_said_so(page: Page) -> None:
    answer = page.post("/status/login", {"token": OPERATOR_TOKEN[:-1] + "x"})
    assert answer.status == 401
    assert "That token is not the operator token." in html(answer)
    assert "Set-Cookie" not in answer.headers
    assert OPERATOR_TOKEN not in html(answer)


def test_sign_in_goes_only_to_pages_of_the_status_page(page: Page) -> None:
    for target in ("https://evil.example/", "//evil.example/status/", "/statusx", "/status/\\x"):
        answer = page.post("/status/login", {"token": OPERATOR_TOKEN, "next": target})
        assert answer.headers["Location"] == "/status/", target


def test_a_session_expires_and_a_forged_one_is_refused(page: Page) -> None:
    cookie = page.sign_in()
    assert page.get("/status/", Cookie=cookie).status == 200
    name, _, value = cookie.partition("=")
    expires, _, signature = value.partition(".")
    forged = f"{name}={int(expires) + 3600}.{signature}"
    assert page.get("/status/", Cookie=forged).status == 303
    assert page.get("/status/", Cookie=f"{name}=garbage").status == 303
    page.clock.now = NOW + SESSION_SECONDS + 1
    assert page.get("/status/", Cookie=cookie).status == 303


def test_changing_the_token_ends_every_session(page: Page) -> None:
    cookie = page.sign_in()
    assert page.get("/status/", Cookie=cookie).status == 200
    page.settings.append(attrs.evolve(page.settings[-1], token="another-operator-token-42"))
    assert page.get("/status/", Cookie=cookie).status == 303
    assert page.get("/status/", Authorization=f"Bearer {OPERATOR_TOKEN}").status == 303


def test_bearer_for_scripts(page: Page) -> None:
    answer = page.get("/status/?format=json", Authorization=f"Bearer {OPERATOR_TOKEN}")
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "application/json"
    data = answer.json()
    assert [t["tenant"] for t in data["tenants"]][:2] == ["org-03", "org-08"]
    assert page.get("/status/", Authorization="Bearer wrong-token-0123456789").status == 303
    wrong = page.post(
        f"/status/deliveries/{page.seeded.dead_delivery}/retry",
        {},
        Authorization="Bearer wrong-token-0123456789",
    )
    assert wrong.status == 403


# -- what it shows ----------------------------------------------------------------------------


def test_every_answer_carries_the_security_headers(page: Page) -> None:
    cookie = page.sign_in()
    for path in ("/status/", "/status/login", "/status/trace?q=x", "/status/nowhere"):
        answer = page.get(path, Cookie=cookie)
        assert answer.headers["Cache-Control"] == "no-store"
        assert "default-src 'none'" in answer.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert page.get("/status/nowhere", Cookie=cookie).status == 404
    assert page.get("/status/style.css").status == 200  # the sign-in form needs it


def test_markup_from_an_ats_is_shown_as_text(page: Page) -> None:
    cookie = page.sign_in()
    hostile = page.seeded.hostile_application
    tenant = html(page.get(f"/status/tenants/{page.seeded.hostile_tenant}", Cookie=cookie))
    assert hostile not in tenant
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in tenant
    trace = html(page.get("/status/trace?" + urlencode({"q": hostile}), Cookie=cookie))
    assert "1 candidate(s) match" in trace
    assert "<img" not in trace
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in trace


def test_no_secret_is_shown(page: Page) -> None:
    cookie = page.sign_in()
    seeded = page.seeded
    for path in (
        "/status/",
        f"/status/tenants/{seeded.dead_tenant}",
        f"/status/deliveries/{seeded.dead_delivery}",
        f"/status/trace?q={seeded.dead_result}",
        "/status/?format=json",
    ):
        text = page.get(path, Cookie=cookie).data.decode()
        assert ATS_TOKEN not in text, path
        assert OPERATOR_TOKEN not in text, path
    assert (
        "Bearer [redacted]"
        in page.get(f"/status/deliveries/{seeded.dead_delivery}", Cookie=cookie).data.decode()
    )


def test_an_unknown_tenant_or_delivery_is_not_found(page: Page) -> None:
    cookie = page.sign_in()
    assert page.get("/status/tenants/nobody", Cookie=cookie).status == 404
    assert page.get("/status/deliveries/999999", Cookie=cookie).status == 404
    assert page.get("/status/deliveries/999999?format=json", Cookie=cookie).json() == {
        "error": "No delivery 999999."
    }


# -- retrying a dead letter -------------------------------------------------------------------


def test_a_retry_needs_the_pages_csrf_value(page: Page) -> None:
    cookie = page.sign_in()
    dead = page.seeded.dead_delivery
    confirm = html(page.get(f"/status/deliveries/{dead}/retry", Cookie=cookie))
    assert "Yes, retry delivery" in confirm
    csrf = csrf_of(confirm)
    for forged in ({}, {"csrf": "0" * 64}):
        refused = page.post(f"/status/deliveries/{dead}/retry", forged, Cookie=cookie)
        assert refused.status == 403
    still = page.store.get_delivery(dead)
    assert still is not None
    assert still.state is DeliveryState.DEAD
    assert page.requeued == []
    done = page.post(f"/status/deliveries/{dead}/retry", {"csrf": csrf}, Cookie=cookie)
    assert done.status == 303
    assert done.headers["Location"] == f"/status/deliveries/{dead}?retried=1"
    delivery = page.store.get_delivery(dead)
    assert delivery is not None
    assert (delivery.state, delivery.attempts) == (DeliveryState.PENDING, 0)
    assert page.requeued == [1]
    shown = html(page.get(done.headers["Location"], Cookie=cookie))
    assert "Queued for retry" in shown
    assert "delivery.requeued" in shown
    # Only a dead letter is retried from here: again is nothing to do.
    again = page.post(f"/status/deliveries/{dead}/retry", {"csrf": csrf}, Cookie=cookie)
    assert again.headers["Location"] == f"/status/deliveries/{dead}?retried=0"
    assert page.get(f"/status/deliveries/{dead}/retry", Cookie=cookie).status == 303


def test_a_script_retries_with_bearer_and_no_form(page: Page) -> None:
    dead = page.seeded.dead_delivery
    answer = page.post(
        f"/status/deliveries/{dead}/retry?format=json",
        {},
        Authorization=f"Bearer {OPERATOR_TOKEN}",
    )
    assert answer.status == 200
    assert answer.json() == {"queued": 1}


def test_signing_out_needs_the_form_and_clears_the_cookie(page: Page) -> None:
    cookie = page.sign_in()
    csrf = csrf_of(html(page.get("/status/", Cookie=cookie)))
    assert page.post("/status/logout", {}, Cookie=cookie).status == 403
    out = page.post("/status/logout", {"csrf": csrf}, Cookie=cookie)
    assert out.status == 303
    assert "Max-Age=0" in out.headers["Set-Cookie"]


def test_the_session_cookie_is_secure_when_the_page_is_reached_over_https(page: Page) -> None:
    assert (
        "Secure" not in page.post("/status/login", {"token": OPERATOR_TOKEN}).headers["Set-Cookie"]
    )
    page.settings.append(attrs.evolve(page.settings[-1], secure_cookie=True))
    cookie = page.post("/status/login", {"token": OPERATOR_TOKEN}).headers["Set-Cookie"]
    assert cookie.endswith("; Secure")
