"""The operators' status page, served by the daemon at `/status` (a WSGI app).

    GET  /status/                      every tenant, problems first (?tenant=…&health=…)
    GET  /status/tenants/{tenant}      one tenant: health, dead letters, waiting work, orders
    GET  /status/trace?q=…             one candidate end to end (application id, result id
                                       or e-mail; &tenant=… narrows it)
    GET  /status/deliveries/{id}       one delivery (a dead letter) with its attempts
    GET  /status/deliveries/{id}/retry asks for confirmation; POST queues it again
    GET  /status/login, POST           the sign-in form; POST /status/logout signs out

Every page but the style sheet needs the operator token (`[status] token`): a browser signs
in once and gets an HttpOnly, SameSite=Strict session cookie (an HMAC of an expiry under the
token, so every replica accepts it and changing the token ends every session); `curl` sends
`Authorization: Bearer <token>`. A POST signed in by cookie must carry the page's CSRF value.
Without a token the page is off (404). `?format=json` answers the overview, tenant, trace
and delivery pages as JSON for scripts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from typing import Any, Protocol
from urllib.parse import parse_qs, quote

import attrs

from assessio_connect.contract.errors import StoreError

from ._status import (
    CandidateTrace,
    TenantInfo,
    delivery_detail,
    find_traces,
    overview,
    running_tenant_infos,
    to_json,
)
from ._status_html import (
    STYLE,
    Html,
    Links,
    Listing,
    confirm_retry_page,
    delivery_page,
    login_page,
    message_page,
    overview_page,
    tenant_page,
    trace_page,
)
from ._wsgi import RequestBodyError, header, read_body
from .config import DaemonConfig
from .store import DeliveryRecord, DeliveryState, OrderRecord, Store

__all__ = ["SESSION_COOKIE", "PageSettings", "RunningDaemon", "StatusPage", "status_app"]

SESSION_COOKIE = "assessio_status"
SESSION_SECONDS = 12 * 3600
"""How long a sign-in lasts."""
FORM_LIMIT = 8 * 1024
LIST_ROWS = 50
"""Rows per list on a tenant's page (the rest are counted)."""
_DELIVERY_PATH = re.compile(r"/deliveries/([0-9]{1,18})(/retry)?")
_SECURITY_HEADERS = [
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
]

StartResponse = Callable[..., Any]
Scrub = Callable[[str], str]


@attrs.frozen
class PageSettings:
    """What the page needs from the configuration, read on every request (so a reloaded
    configuration applies at once)."""

    token: str | None = attrs.field(repr=False)
    tenants: Sequence[TenantInfo]
    scrub: Scrub = attrs.field(repr=False)
    secure_cookie: bool = False
    """Mark the session cookie `Secure` (browsers reach the page over HTTPS, e.g. through a
    TLS proxy the request itself does not reveal)."""


@attrs.frozen
class _Reply:
    status: int
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


def _page(markup: Html, status: int = 200, *headers: tuple[str, str]) -> _Reply:
    return _Reply(status, markup.encode("utf-8"), headers=headers)


def _json_reply(data: Any, status: int = 200) -> _Reply:
    body = json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8")
    return _Reply(status, body, "application/json")


def _redirect(location: str, *headers: tuple[str, str]) -> _Reply:
    return _Reply(303, b"", "text/plain; charset=utf-8", (("Location", location), *headers))


def _sign(token: str, message: str) -> str:
    return hmac.new(token.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def _session_value(token: str, expires: int) -> str:
    return f"{expires}.{_sign(token, f'assessio-connect status session {expires}')}"


def _valid_session(token: str, value: str, now: float) -> bool:
    expires_text, _, signature = value.partition(".")
    if not expires_text.isdigit() or len(expires_text) > 12 or int(expires_text) <= now:
        return False
    expected = _session_value(token, int(expires_text)).partition(".")[2]
    return hmac.compare_digest(signature.encode("ascii", "replace"), expected.encode("ascii"))


def _csrf_value(token: str, session: str) -> str:
    return _sign(token, f"assessio-connect status csrf {session}")


def _cookie(environ: dict[str, Any], name: str) -> str | None:
    raw = header(environ, "Cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except CookieError:
        return None
    morsel = jar.get(name)
    return None if morsel is None else morsel.value


def _bearer(environ: dict[str, Any]) -> str | None:
    raw = header(environ, "Authorization") or ""
    scheme, _, value = raw.strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _first(params: dict[str, list[str]], name: str) -> str:
    values = params.get(name)
    return values[0].strip() if values else ""


@attrs.frozen
class _Request:
    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    links: Links
    secure: bool

    def param(self, name: str) -> str:
        """A query parameter, trimmed ("" when absent)."""
        return _first(self.query, name)

    def field(self, name: str) -> str:
        """A form field of a POST, trimmed ("" when absent)."""
        return _first(self.form, name)

    @property
    def wants_json(self) -> bool:
        return self.param("format") == "json"


@attrs.frozen
class _Visitor:
    """Who is asking: signed in by cookie (with the CSRF value their forms carry) or Bearer."""

    csrf: str | None


class StatusPage:
    """The `/status` WSGI app over `store`; `settings` is read on every request."""

    def __init__(
        self,
        store: Store,
        settings: Callable[[], PageSettings],
        *,
        clock: Callable[[], float] = time.time,
        on_requeued: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._on_requeued = on_requeued

    def __repr__(self) -> str:
        return f"StatusPage({self._store!r})"

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        try:
            reply = self._handle(environ, method)
        except RequestBodyError as exc:
            reply = _Reply(exc.status, str(exc).encode(), "text/plain; charset=utf-8")
        status = HTTPStatus(reply.status)
        headers = [
            ("Content-Type", reply.content_type),
            ("Content-Length", str(len(reply.body))),
            ("Cache-Control", "no-store"),
            *_SECURITY_HEADERS,
            *reply.headers,
        ]
        start_response(f"{status.value} {status.phrase}", headers)
        return [b"" if method == "HEAD" else reply.body]

    # Requests

    def _request(self, environ: dict[str, Any], method: str) -> _Request:
        form: dict[str, list[str]] = {}
        if method == "POST":
            body = read_body(environ, FORM_LIMIT)
            form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        forwarded = (header(environ, "X-Forwarded-Proto") or "").lower()
        return _Request(
            method=method,
            path=str(environ.get("PATH_INFO") or "/"),
            query=parse_qs(str(environ.get("QUERY_STRING") or ""), keep_blank_values=True),
            form=form,
            links=Links(str(environ.get("SCRIPT_NAME") or "")),
            secure=environ.get("wsgi.url_scheme") == "https" or forwarded == "https",
        )

    def _handle(self, environ: dict[str, Any], method: str) -> _Reply:
        if method not in ("GET", "HEAD", "POST"):
            return _Reply(405, b"", headers=(("Allow", "GET, HEAD, POST"),))
        request = self._request(environ, method)
        if request.path == "/style.css":
            return _Reply(200, STYLE.encode(), "text/css; charset=utf-8")
        settings = self._settings()
        if settings.token is None:
            return _page(
                message_page(
                    request.links,
                    "Status page is off",
                    "Set [status] token in the daemon's configuration to turn it on "
                    "(see docs/operating.md).",
                ),
                404,
            )
        if request.path == "/login":
            return self._login(request, settings)
        visitor = self._visitor(environ, request, settings.token)
        if visitor is None:
            if method == "POST":
                return _Reply(403, b"sign in first", "text/plain; charset=utf-8")
            here = request.links.root + request.path
            query = str(environ.get("QUERY_STRING") or "")
            target = here + (f"?{query}" if query else "")
            return _redirect(f"{request.links.login()}?next={quote(target, safe='')}")
        csrf_missing = visitor.csrf is not None and not _same(request.field("csrf"), visitor.csrf)
        if method == "POST" and csrf_missing:
            return _Reply(403, b"the form expired: reload the page", "text/plain; charset=utf-8")
        try:
            return self._route(request, visitor, settings)
        except StoreError as exc:
            return _page(
                message_page(request.links, "Store unavailable", str(exc), csrf=visitor.csrf),
                503,
                ("Retry-After", "5"),
            )

    def _visitor(self, environ: dict[str, Any], request: _Request, token: str) -> _Visitor | None:
        bearer = _bearer(environ)
        if bearer is not None:
            return _Visitor(csrf=None) if _same(bearer, token) else None
        session = _cookie(environ, SESSION_COOKIE)
        if session and _valid_session(token, session, self._clock()):
            return _Visitor(csrf=_csrf_value(token, session))
        return None

    def _login(self, request: _Request, settings: PageSettings) -> _Reply:
        token = settings.token or ""
        next_url = self._safe_next(request.links, request.field("next") or request.param("next"))
        if request.method != "POST":
            return _page(login_page(request.links, next_url=next_url, failed=False))
        if not _same(request.field("token"), token):
            return _page(login_page(request.links, next_url=next_url, failed=True), 401)
        expires = int(self._clock()) + SESSION_SECONDS
        cookie = self._cookie_header(request, token, expires, secure=settings.secure_cookie)
        return _redirect(next_url, ("Set-Cookie", cookie))

    def _cookie_header(
        self, request: _Request, token: str, expires: int, *, secure: bool = False
    ) -> str:
        value = _session_value(token, expires) if expires else ""
        parts = [
            f"{SESSION_COOKIE}={value}",
            f"Path={request.links.root or '/'}",
            f"Max-Age={SESSION_SECONDS if expires else 0}",
            "HttpOnly",
            "SameSite=Strict",
        ]
        if request.secure or secure:
            parts.append("Secure")
        return "; ".join(parts)

    @staticmethod
    def _safe_next(links: Links, target: str) -> str:
        """Where to go after signing in: only a page of this app (no open redirect)."""
        home = links.home()
        if not target.startswith(links.root + "/") or "//" in target or "\\" in target:
            return home
        return target

    # Pages

    def _route(self, request: _Request, visitor: _Visitor, settings: PageSettings) -> _Reply:
        path = request.path
        if path == "/logout" and request.method == "POST":
            cookie = self._cookie_header(request, "", 0, secure=settings.secure_cookie)
            return _redirect(request.links.login(), ("Set-Cookie", cookie))
        if request.method == "POST":
            matched = _DELIVERY_PATH.fullmatch(path)
            if matched and matched[2]:
                return self._retry(request, int(matched[1]), settings.scrub)
            return _Reply(405, b"", headers=(("Allow", "GET, HEAD"),))
        if path in ("", "/"):
            return self._overview(request, visitor, settings)
        if path.startswith("/tenants/"):
            return self._tenant(request, visitor, settings, path[len("/tenants/") :])
        if path == "/trace":
            return self._trace(request, visitor, settings)
        matched = _DELIVERY_PATH.fullmatch(path)
        if matched:
            return self._delivery(
                request, visitor, settings.scrub, int(matched[1]), bool(matched[2])
            )
        return self._not_found(request, visitor, "No such page.")

    def _not_found(self, request: _Request, visitor: _Visitor, message: str) -> _Reply:
        if request.wants_json:
            return _json_reply({"error": message}, 404)
        return _page(message_page(request.links, "Not found", message, csrf=visitor.csrf), 404)

    def _overview(self, request: _Request, visitor: _Visitor, settings: PageSettings) -> _Reply:
        view = overview(self._store, settings.tenants, now=self._clock(), scrub=settings.scrub)
        if request.wants_json:
            return _json_reply(to_json(view))
        return _page(
            overview_page(
                request.links,
                view,
                csrf=visitor.csrf,
                name_filter=request.param("tenant"),
                health_filter=request.param("health"),
            )
        )

    def _tenant(
        self, request: _Request, visitor: _Visitor, settings: PageSettings, name: str
    ) -> _Reply:
        now = self._clock()
        view = overview(self._store, settings.tenants, now=now, scrub=settings.scrub, only=name)
        if not view.tenants:
            return self._not_found(request, visitor, f"No tenant named {name!r}.")
        row = view.tenants[0]
        if request.wants_json:
            return _json_reply(to_json(row))
        scrub = settings.scrub
        store = self._store
        dead = Listing(
            _scrubbed(
                store.list_deliveries(tenant=name, state=DeliveryState.DEAD, limit=LIST_ROWS), scrub
            ),
            row.deliveries_dead,
        )
        waiting_rows = store.list_deliveries(
            tenant=name, state=DeliveryState.PENDING, limit=LIST_ROWS
        )
        waiting = Listing(
            _scrubbed(waiting_rows, scrub),
            store.count_deliveries(tenant=name, state=DeliveryState.PENDING),
        )
        orders = Listing(
            _scrubbed_orders(store.list_orders(tenant=name, limit=LIST_ROWS), scrub),
            row.orders_pending + row.orders_sent + row.orders_failed + row.orders_link_unknown,
        )
        orphans = Listing(
            store.list_results(tenant=name, orphans=True, limit=LIST_ROWS), row.orphans
        )
        return _page(
            tenant_page(
                request.links,
                row,
                dead=dead,
                waiting=waiting,
                orders=orders,
                orphans=orphans,
                now=now,
                csrf=visitor.csrf,
            )
        )

    def _trace(self, request: _Request, visitor: _Visitor, settings: PageSettings) -> _Reply:
        query = request.param("q")
        tenant = request.param("tenant") or None
        traces: list[CandidateTrace] = []
        if query:
            traces = find_traces(self._store, query, scrub=settings.scrub, tenant=tenant)
        if request.wants_json:
            return _json_reply([to_json(trace) for trace in traces])
        return _page(trace_page(request.links, query, traces, tenant=tenant, csrf=visitor.csrf))

    def _delivery(
        self, request: _Request, visitor: _Visitor, scrub: Scrub, delivery_id: int, confirm: bool
    ) -> _Reply:
        detail = delivery_detail(self._store, delivery_id, scrub=scrub)
        if detail is None:
            return self._not_found(request, visitor, f"No delivery {delivery_id}.")
        if request.wants_json:
            return _json_reply(to_json(detail))
        links = request.links
        if confirm:
            if detail.delivery.state is not DeliveryState.DEAD or visitor.csrf is None:
                return _redirect(links.delivery(delivery_id))
            return _page(confirm_retry_page(links, detail, csrf=visitor.csrf))
        notice = {
            "1": "Queued for retry: the delivery is pending again and due now.",
            "0": "Nothing to retry: the delivery is not dead-lettered (any more).",
        }.get(request.param("retried"))
        return _page(
            delivery_page(links, detail, now=self._clock(), csrf=visitor.csrf, notice=notice)
        )

    def _retry(self, request: _Request, delivery_id: int, scrub: Scrub) -> _Reply:
        delivery = self._store.get_delivery(delivery_id)
        if delivery is None:
            return _Reply(404, b"no such delivery", "text/plain; charset=utf-8")
        queued = 0
        if delivery.state is DeliveryState.DEAD:
            queued = self._store.requeue_deliveries(
                ids=[delivery_id], tenant=delivery.tenant, now=self._clock()
            )
            if queued and self._on_requeued is not None:
                self._on_requeued()
        if request.wants_json:
            return _json_reply({"queued": queued})
        return _redirect(f"{request.links.delivery(delivery_id)}?retried={1 if queued else 0}")


def _scrubbed(deliveries: Sequence[DeliveryRecord], scrub: Scrub) -> list[DeliveryRecord]:
    return [
        d if d.last_error is None else attrs.evolve(d, last_error=scrub(d.last_error))
        for d in deliveries
    ]


def _scrubbed_orders(orders: Sequence[OrderRecord], scrub: Scrub) -> list[OrderRecord]:
    return [
        o if o.last_error is None else attrs.evolve(o, last_error=scrub(o.last_error))
        for o in orders
    ]


class RunningDaemon(Protocol):
    """What the page reads of the daemon that serves it (the daemon itself, which imports
    this module)."""

    @property
    def config(self) -> DaemonConfig: ...

    @property
    def tenants(self) -> Mapping[str, Any]: ...

    @property
    def store(self) -> Store: ...

    def scrub(self, text: str, /) -> str: ...


def status_app(daemon: RunningDaemon) -> StatusPage:
    """The page for a running daemon: its store, and its configuration as it stands."""

    def settings() -> PageSettings:
        config = daemon.config
        token = config.status.token
        return PageSettings(
            token=None if token is None else token.reveal(),
            tenants=running_tenant_infos(daemon.tenants),
            scrub=daemon.scrub,
            secure_cookie=(config.server.public_url or "").startswith("https://"),
        )

    def wake() -> None:
        worker = getattr(daemon, "worker", None)
        if worker is not None:
            worker.notify()

    return StatusPage(daemon.store, settings, on_requeued=wake)
