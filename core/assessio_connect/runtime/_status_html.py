"""The status page's HTML: server-rendered, no JavaScript, every value escaped.

Markup is built with `html(template, *values)`: the template is trusted, each value is escaped
unless it is itself `Html` (markup built the same way), so forgetting to escape is not
possible. This keeps the core free of a template engine for a handful of small pages.
"""

from __future__ import annotations

import html as _stdlib_html
import math
import time
from collections.abc import Iterable, Sequence
from typing import Generic, TypeVar
from urllib.parse import quote, urlencode

import attrs

from ._status import (
    CandidateTrace,
    DeliveryDetail,
    DeliveryView,
    Health,
    Overview,
    TenantSummary,
    TraceEvent,
)
from .store import DeliveryRecord, DeliveryState, OrderRecord, ResultRecord

T = TypeVar("T")

__all__ = [
    "STYLE",
    "Html",
    "Links",
    "Listing",
    "confirm_retry_page",
    "delivery_page",
    "html",
    "login_page",
    "message_page",
    "overview_page",
    "tenant_page",
    "trace_page",
]


class Html(str):
    """Markup that is safe to send as it is."""

    __slots__ = ()


def _escape(value: object) -> str:
    if isinstance(value, Html):
        return value
    return _stdlib_html.escape("" if value is None else str(value), quote=True)


def html(template: str, *values: object) -> Html:
    """`template` with each `{}` replaced by a value, escaped unless it is `Html`."""
    return Html(template.format(*(_escape(value) for value in values)))


def join(parts: Iterable[Html], separator: str = "") -> Html:
    """Markup pieces one after another."""
    return Html(separator.join(parts))


# Small pieces


def stamp(at: float | None) -> str:
    """A time in UTC, to the second."""
    if at is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))


def ago(at: float | None, now: float) -> Html:
    """How long ago, with the exact time on hover."""
    if at is None:
        return html('<span class="muted">never</span>')
    seconds = max(0.0, now - at)
    for unit, size in (("d", 86_400.0), ("h", 3_600.0), ("min", 60.0)):
        if seconds >= size:
            return html(
                '<time title="{}">{} {} ago</time>', stamp(at), math.floor(seconds / size), unit
            )
    return html('<time title="{}">{} s ago</time>', stamp(at), math.floor(seconds))


def badge(health: Health | DeliveryState | str) -> Html:
    value = health.value if isinstance(health, (Health, DeliveryState)) else health
    return html(
        '<span class="badge badge-{}">{}</span>', value.replace("_", "-"), value.replace("_", " ")
    )


def number(count: int, *, bad: bool = False) -> Html:
    if count == 0:
        return html('<span class="zero">0</span>')
    return html('<span class="{}">{}</span>', "bad" if bad else "num", count)


def error_text(text: str | None, width: int = 160) -> Html:
    if not text:
        return html('<span class="muted">-</span>')
    flat = " ".join(text.split())
    short = flat if len(flat) <= width else flat[: width - 1] + "…"
    return html('<span class="error" title="{}">{}</span>', flat, short)


class Links:
    """URLs under the page's mount point (e.g. `/status`)."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/")

    def home(self, **query: str) -> str:
        kept = {k: v for k, v in query.items() if v}
        return f"{self.root}/" + (f"?{urlencode(kept)}" if kept else "")

    def tenant(self, name: str) -> str:
        return f"{self.root}/tenants/{quote(name, safe='')}"

    def trace(self, query: str, tenant: str | None = None) -> str:
        params = {"q": query, **({"tenant": tenant} if tenant else {})}
        return f"{self.root}/trace?{urlencode(params)}"

    def delivery(self, delivery_id: int) -> str:
        return f"{self.root}/deliveries/{delivery_id}"

    def retry(self, delivery_id: int) -> str:
        return f"{self.root}/deliveries/{delivery_id}/retry"

    def login(self) -> str:
        return f"{self.root}/login"

    def logout(self) -> str:
        return f"{self.root}/logout"

    def style(self) -> str:
        return f"{self.root}/style.css"


def layout(
    links: Links,
    title: str,
    body: Html,
    *,
    csrf: str | None = None,
    crumbs: Sequence[tuple[str, str]] = (),
    search: str = "",
) -> Html:
    """The page around `body`: header with the trace search, breadcrumbs, sign-out."""
    trail = join(
        html('<a href="{}">{}</a> <span class="sep">/</span> ', href, label)
        for label, href in crumbs
    )
    signout = (
        html(
            '<form method="post" action="{}" class="signout"><input type="hidden" name="csrf" '
            'value="{}"><button type="submit" class="link">Sign out</button></form>',
            links.logout(),
            csrf,
        )
        if csrf
        else Html("")
    )
    return html(
        """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{} · assessio-connect</title>
<link rel="stylesheet" href="{}"></head>
<body><header class="top"><a class="brand" href="{}">assessio-connect <span>status</span></a>
<form class="search" method="get" action="{}"><label for="trace-q" class="visually-hidden">Trace a
candidate</label><input id="trace-q" name="q" value="{}" size="42"
placeholder="Trace: application id, result id or e-mail"><button type="submit">Trace</button>
</form>{}</header>
<main><nav class="crumbs">{}</nav><h1>{}</h1>
{}</main></body></html>
""",
        title,
        links.style(),
        links.home(),
        f"{links.root}/trace",
        search,
        signout,
        trail,
        title,
        body,
    )


# Pages


def login_page(links: Links, *, next_url: str, failed: bool) -> Html:
    problem = (
        html('<p class="notice notice-bad" role="alert">That token is not the operator token.</p>')
        if failed
        else Html("")
    )
    body = html(
        """<section class="card narrow">{}
<p>Sign in with the operator token: the value of <code>[status] token</code> in the daemon's
configuration.</p>
<form method="post" action="{}"><input type="hidden" name="next" value="{}">
<label for="token">Operator token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Sign in</button></form></section>""",
        problem,
        links.login(),
        next_url,
    )
    return html(
        """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · assessio-connect</title><link rel="stylesheet" href="{}"></head>
<body><header class="top"><span class="brand">assessio-connect <span>status</span></span></header>
<main><h1>Sign in</h1>{}</main></body></html>
""",
        links.style(),
        body,
    )


def message_page(links: Links, title: str, message: str, *, csrf: str | None = None) -> Html:
    """A page that only says something (not found, store unavailable)."""
    return layout(links, title, html('<p class="notice">{}</p>', message), csrf=csrf)


_HEALTH_FILTERS = (
    ("", "all tenants"),
    ("problems", "with problems"),
    ("failing", "failing"),
    ("delayed", "delayed"),
    ("ok", "ok"),
)


def _keep(row: TenantSummary, name_filter: str, health_filter: str) -> bool:
    if name_filter and name_filter.casefold() not in row.tenant.casefold():
        return False
    if health_filter == "problems":
        return row.health is not Health.OK
    if health_filter in ("failing", "delayed", "ok"):
        return row.health.value == health_filter
    return True


def _tenant_row(links: Links, row: TenantSummary, now: float) -> Html:
    kind = row.ats_kind or "not configured"
    style = f" · {row.style}" if row.style else ""
    polled = row.style is not None and "pull" in row.style
    problems = join(html("<li>{}</li>", p) for p in row.problems)
    error = row.last_error or row.last_order_error
    return html(
        """<tr class="row-{}"><td>{}</td><th scope="row"><a href="{}">{}</a>{}</th>
<td class="nowrap">{}<span class="muted">{}</span></td><td class="nowrap">{}</td>
<td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td>
<td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="nowrap">{}</td>
<td>{}</td></tr>""",
        row.health.value,
        badge(row.health),
        links.tenant(row.tenant),
        row.tenant,
        html('<ul class="problems">{}</ul>', problems) if row.problems else Html(""),
        kind,
        style,
        ago(row.last_poll_at, now) if polled else html('<span class="muted">-</span>'),
        number(row.orders_pending),
        number(row.orders_sent),
        number(row.orders_failed + row.orders_link_unknown, bad=True),
        number(row.results),
        number(row.deliveries_pending),
        number(row.deliveries_retrying),
        number(row.deliveries_dead, bad=True),
        ago(row.oldest_pending_at, now)
        if row.oldest_pending_at
        else html('<span class="muted">-</span>'),
        error_text(error, 90),
    )


def overview_page(
    links: Links,
    view: Overview,
    *,
    csrf: str | None,
    name_filter: str = "",
    health_filter: str = "",
) -> Html:
    """Every tenant in one compact table, problems first, with a filter that needs no JS."""
    rows = [row for row in view.tenants if _keep(row, name_filter, health_filter)]
    summary = html(
        '<p class="totals"><span class="badge badge-failing">{} failing</span> '
        '<span class="badge badge-delayed">{} delayed</span> '
        '<span class="badge badge-ok">{} ok</span> '
        '<span class="muted">of {} tenants · {}</span></p>',
        view.count(Health.FAILING),
        view.count(Health.DELAYED),
        view.count(Health.OK),
        len(view.tenants),
        stamp(view.generated_at),
    )
    options = join(
        html(
            '<option value="{}"{}>{}</option>',
            value,
            Html(" selected") if value == health_filter else Html(""),
            label,
        )
        for value, label in _HEALTH_FILTERS
    )
    filters = html(
        """<form class="filters" method="get" action="{}">
<label for="tenant-filter">Tenant</label>
<input id="tenant-filter" name="tenant" value="{}" placeholder="name contains…">
<label for="health-filter">Show</label><select id="health-filter" name="health">{}</select>
<button type="submit">Filter</button>{}</form>""",
        links.home(),
        name_filter,
        options,
        html(' <a href="{}">clear</a>', links.home()) if name_filter or health_filter else Html(""),
    )
    shown = (
        html('<p class="muted">Showing {} of {} tenants.</p>', len(rows), len(view.tenants))
        if len(rows) != len(view.tenants)
        else Html("")
    )
    body_rows = join(_tenant_row(links, row, view.generated_at) for row in rows) or html(
        '<tr><td colspan="13" class="muted">No tenant matches.</td></tr>'
    )
    table = html(
        """<div class="table-wrap"><table class="tenants">
<thead><tr><th rowspan="2">Health</th><th rowspan="2">Tenant</th><th rowspan="2">ATS</th>
<th rowspan="2">Last poll</th><th colspan="3" class="group">Orders</th>
<th rowspan="2" class="n">Results</th><th colspan="3" class="group">Deliveries</th>
<th rowspan="2">Oldest pending</th><th rowspan="2">Last error</th></tr>
<tr><th class="n">pending</th><th class="n">sent</th><th class="n">failed</th>
<th class="n">pending</th><th class="n">retrying</th><th class="n">dead</th></tr></thead>
<tbody>{}</tbody></table></div>""",
        body_rows,
    )
    return layout(links, "Tenants", join([summary, filters, shown, table]), csrf=csrf)


@attrs.frozen
class Listing(Generic[T]):
    """Some rows of a longer list, and how many there are in all."""

    rows: Sequence[T]
    total: int

    def caption(self, noun: str) -> Html:
        """Says "showing 20 of 352" when rows were left out."""
        if self.total > len(self.rows):
            return html(
                '<p class="muted">Showing the latest {} of {} {}.</p>',
                len(self.rows),
                self.total,
                noun,
            )
        return Html("")


def _facts(pairs: Sequence[tuple[str, object]]) -> Html:
    items = join(html("<dt>{}</dt><dd>{}</dd>", label, value) for label, value in pairs)
    return html('<dl class="facts">{}</dl>', items)


def _section(title: str, count: int, content: Html) -> Html:
    return html(
        '<section class="card"><h2>{} <span class="count">{}</span></h2>{}</section>',
        title,
        count,
        content,
    )


def _deliveries_table(links: Links, listing: Listing[DeliveryRecord], scrub_note: str) -> Html:
    if not listing.rows:
        return html('<p class="muted">{}</p>', scrub_note)
    rows = join(
        html(
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td>'
            '<td class="n">{}</td><td>{}</td><td>{}</td></tr>',
            links.delivery(d.id),
            d.id,
            html('<a href="{}">{}</a>', links.trace(d.result_id, d.tenant), d.result_id),
            d.version,
            badge(d.state),
            d.attempts,
            stamp(d.updated_at),
            error_text(d.last_error, 120),
        )
        for d in listing.rows
    )
    return html(
        '{}<div class="table-wrap"><table><thead><tr><th>Delivery</th><th>Result id</th>'
        '<th>Version</th><th>State</th><th class="n">Attempts</th><th>Updated</th>'
        "<th>Last error</th></tr></thead><tbody>{}</tbody></table></div>",
        listing.caption("deliveries"),
        rows,
    )


def tenant_page(
    links: Links,
    row: TenantSummary,
    *,
    dead: Listing[DeliveryRecord],
    waiting: Listing[DeliveryRecord],
    orders: Listing[OrderRecord],
    orphans: Listing[ResultRecord],
    now: float,
    csrf: str | None,
) -> Html:
    """One tenant: its health and why, dead letters, waiting deliveries, latest orders."""
    problems = join(html("<li>{}</li>", p) for p in row.problems)
    facts = _facts(
        [
            ("Health", badge(row.health)),
            ("ATS", f"{row.ats_kind or 'not configured'} ({row.style or '-'})"),
            ("Last poll", ago(row.last_poll_at, now) if row.style and "pull" in row.style else "-"),
            (
                "Orders",
                f"{row.orders_pending} pending, {row.orders_sent} sent, "
                f"{row.orders_failed} refused, {row.orders_link_unknown} without link",
            ),
            ("Results", f"{row.results} versions, {row.orphans} orphans"),
            (
                "Deliveries",
                f"{row.deliveries_pending} pending ({row.deliveries_retrying} "
                f"retrying), {row.deliveries_dead} dead",
            ),
            ("Oldest pending", ago(row.oldest_pending_at, now) if row.oldest_pending_at else "-"),
            ("Last delivery error", error_text(row.last_error, 400)),
            ("Last order error", error_text(row.last_order_error, 400)),
        ]
    )
    head = html(
        '<section class="card">{}{}</section>',
        html('<ul class="problems big">{}</ul>', problems) if row.problems else Html(""),
        facts,
    )
    order_rows = join(
        html(
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>'
            "<td>{}</td></tr>",
            links.trace(o.result_id, o.tenant),
            o.application_id,
            o.result_id,
            badge(o.state.value),
            o.order.candidate_details.email,
            stamp(o.created_at),
            error_text(o.last_error, 100),
        )
        for o in orders.rows
    )
    orders_html = (
        html(
            '{}<div class="table-wrap"><table><thead><tr><th>Application</th><th>Result id</th>'
            "<th>State</th><th>E-mail</th><th>Created</th><th>Last error</th></tr></thead>"
            "<tbody>{}</tbody></table></div>",
            orders.caption("orders"),
            order_rows,
        )
        if orders.rows
        else html('<p class="muted">No orders yet.</p>')
    )
    orphan_rows = join(
        html(
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td></tr>',
            links.trace(r.result_id, r.tenant),
            r.result_id,
            r.version,
            stamp(r.received_at),
        )
        for r in orphans.rows
    )
    orphans_html = html(
        '{}<div class="table-wrap"><table><thead><tr><th>Result id</th><th>Version</th>'
        "<th>Received</th></tr></thead><tbody>{}</tbody></table></div>",
        orphans.caption("orphans"),
        orphan_rows,
    )
    body = join(
        [
            head,
            _section(
                "Dead letters",
                dead.total,
                _deliveries_table(links, dead, "No dead letters."),
            ),
            _section(
                "Waiting deliveries",
                waiting.total,
                _deliveries_table(links, waiting, "Nothing waiting."),
            ),
            _section("Latest orders", orders.total, orders_html),
            _section("Orphan results", orphans.total, orphans_html) if orphans.rows else Html(""),
        ]
    )
    return layout(links, row.tenant, body, csrf=csrf, crumbs=[("Tenants", links.home())])


def _event_row(links: Links, event: TraceEvent) -> Html:
    delivery = (
        html(' <a href="{}">delivery {}</a>', links.delivery(event.delivery_id), event.delivery_id)
        if event.delivery_id is not None
        else Html("")
    )
    error = html('<div class="error-block">{}</div>', event.error) if event.error else Html("")
    return html(
        '<li class="event event-{}"><time>{}</time><span class="kind">{}</span>'
        '<div class="what">{}{}{}</div></li>',
        event.kind.replace(".", "-"),
        stamp(event.at),
        event.kind,
        event.summary,
        delivery,
        error,
    )


def _trace_card(links: Links, trace: CandidateTrace) -> Html:
    link: object = "-"
    if trace.link:
        link = html('<a href="{}" rel="noreferrer noopener">{}</a>', trace.link, trace.link)
    facts = _facts(
        [
            ("Tenant", html('<a href="{}">{}</a>', links.tenant(trace.tenant), trace.tenant)),
            ("Application", trace.application_id or "- (orphan result)"),
            ("Result id", trace.result_id),
            ("Candidate", f"{trace.candidate_id or '-'} · {trace.email or '-'}"),
            ("Job", trace.job_id or "-"),
            ("Order", badge(trace.order_state.value) if trace.order_state else "no order"),
            ("Assessment link", link),
            ("Assessio reference", trace.reference or "-"),
        ]
    )
    deliveries = join(
        html(
            '<li><a href="{}">delivery {}</a> version {}: {} after {} attempt(s){}</li>',
            links.delivery(d.id),
            d.id,
            d.version,
            badge(d.state),
            d.attempts,
            html(", next attempt {}", stamp(d.next_attempt_at)) if d.next_attempt_at else Html(""),
        )
        for d in trace.deliveries
    )
    events = join(_event_row(links, event) for event in trace.events)
    return html(
        '<section class="card trace"><h2>{} <span class="muted">in {}</span></h2>{}'
        '<ul class="deliveries">{}</ul><ol class="timeline">{}</ol></section>',
        trace.application_id or trace.result_id,
        trace.tenant,
        facts,
        deliveries,
        events,
    )


def trace_page(
    links: Links,
    query: str,
    traces: Sequence[CandidateTrace],
    *,
    tenant: str | None,
    csrf: str | None,
) -> Html:
    """Each candidate the search found, end to end, in time order."""
    if not query:
        body = html(
            '<p class="notice">Type an application id, a result id or an e-mail address in '
            "the search box above.</p>"
        )
    elif not traces:
        where = f" in tenant {tenant}" if tenant else ""
        body = html(
            '<p class="notice">Nothing found for <strong>{}</strong>{} (application ids, '
            "result ids and e-mail addresses were searched).</p>",
            query,
            where,
        )
    else:
        count = html(
            '<p class="muted">{} candidate(s) match <strong>{}</strong>.</p>', len(traces), query
        )
        body = join([count, *(_trace_card(links, trace) for trace in traces)])
    return layout(
        links,
        "Trace",
        body,
        csrf=csrf,
        crumbs=[("Tenants", links.home())],
        search=query,
    )


def _delivery_facts(links: Links, detail: DeliveryDetail, now: float) -> Html:
    d: DeliveryView = detail.delivery
    return _facts(
        [
            ("State", badge(d.state)),
            ("Tenant", html('<a href="{}">{}</a>', links.tenant(detail.tenant), detail.tenant)),
            (
                "Result",
                html(
                    '<a href="{}">{}</a> version {}',
                    links.trace(detail.result_id, detail.tenant),
                    detail.result_id,
                    d.version,
                ),
            ),
            ("Attempts", d.attempts),
            ("Queued", stamp(d.created_at)),
            ("Updated", ago(d.updated_at, now)),
            ("Next attempt", stamp(d.next_attempt_at) if d.next_attempt_at else "-"),
            ("Last error", html('<div class="error-block">{}</div>', d.last_error or "-")),
        ]
    )


def delivery_page(
    links: Links,
    detail: DeliveryDetail,
    *,
    now: float,
    csrf: str | None,
    notice: str | None = None,
) -> Html:
    """A delivery (a dead letter, typically): its state, its attempts, its candidate."""
    d = detail.delivery
    banner = (
        html('<p class="notice notice-good" role="status">{}</p>', notice) if notice else Html("")
    )
    action = (
        html(
            '<p><a class="button danger" href="{}">Retry this delivery…</a></p>',
            links.retry(d.id),
        )
        if d.state is DeliveryState.DEAD
        else Html("")
    )
    attempts = join(_event_row(links, event) for event in detail.attempts) or html(
        '<li class="muted">No attempt recorded yet.</li>'
    )
    body = join(
        [
            banner,
            html(
                '<section class="card">{}{}</section>', _delivery_facts(links, detail, now), action
            ),
            html(
                '<section class="card attempts"><h2>Attempts</h2>'
                '<ol class="timeline">{}</ol></section>',
                attempts,
            ),
            _trace_card(links, detail.trace),
        ]
    )
    title = f"Dead letter {d.id}" if d.state is DeliveryState.DEAD else f"Delivery {d.id}"
    return layout(
        links,
        title,
        body,
        csrf=csrf,
        crumbs=[("Tenants", links.home()), (detail.tenant, links.tenant(detail.tenant))],
    )


def confirm_retry_page(links: Links, detail: DeliveryDetail, *, csrf: str) -> Html:
    """Asks before a dead letter is queued again."""
    d = detail.delivery
    body = html(
        """<section class="card narrow confirm"><p>Queue delivery <strong>{}</strong> of result
<strong>{}</strong> (version {}, tenant <strong>{}</strong>) again?</p>
<p>It becomes pending and due now, its attempts start again from zero and the retry horizon is
counted from now; a running daemon writes it into the ATS within seconds.</p>
<p class="muted">Last error: {}</p>
<form method="post" action="{}"><input type="hidden" name="csrf" value="{}">
<button type="submit" class="danger">Yes, retry delivery {}</button>
<a class="button secondary" href="{}">Cancel</a></form></section>""",
        d.id,
        detail.result_id,
        d.version,
        detail.tenant,
        d.last_error or "-",
        links.retry(d.id),
        csrf,
        d.id,
        links.delivery(d.id),
    )
    return layout(
        links,
        f"Retry delivery {d.id}?",
        body,
        csrf=csrf,
        crumbs=[("Tenants", links.home()), (f"Delivery {d.id}", links.delivery(d.id))],
    )


STYLE = """
:root{--bg:#f6f7f9;--card:#fff;--ink:#1d2330;--muted:#667085;--line:#e4e7ec;--brand:#2a3f75;
--bad:#b42318;--bad-bg:#fef3f2;--warn:#b54708;--warn-bg:#fffaeb;--good:#067647;--good-bg:#ecfdf3;
--link:#1f4fd1}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
a{color:var(--link);text-decoration:none}a:hover{text-decoration:underline}
code{font:13px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.top{display:flex;align-items:center;gap:24px;padding:10px 24px;background:var(--brand);color:#fff}
.brand{color:#fff;font-weight:650;font-size:16px;white-space:nowrap}
.brand span{font-weight:400;opacity:.75}
.top .search{display:flex;gap:6px;flex:1;max-width:560px}
.top .search input{flex:1}
.signout{margin-left:auto}
.signout .link{background:none;border:0;color:#fff;opacity:.85;padding:4px 0;cursor:pointer}
main{max-width:1480px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:22px;margin:4px 0 12px}h2{font-size:16px;margin:0 0 10px}
.crumbs{color:var(--muted);font-size:13px;min-height:18px}.crumbs .sep{opacity:.6}
input,select{font:inherit;padding:5px 8px;border:1px solid #cfd4dc;border-radius:6px;
background:#fff;color:var(--ink)}
button,.button{font:inherit;font-weight:600;padding:5px 14px;border-radius:6px;
border:1px solid #2a3f75;background:#2a3f75;color:#fff;cursor:pointer;display:inline-block}
.button:hover{text-decoration:none}
button.danger,.button.danger{background:var(--bad);border-color:var(--bad)}
.button.secondary{background:#fff;color:var(--ink);border-color:#cfd4dc;margin-left:8px}
.visually-hidden{position:absolute;left:-9999px}
.totals{display:flex;gap:8px;align-items:center;margin:0 0 10px}
.filters{display:flex;gap:8px;align-items:center;margin:0 0 12px;flex-wrap:wrap}
.filters label{color:var(--muted)}
.table-wrap{overflow-x:auto;background:var(--card);border:1px solid var(--line);border-radius:8px}
table{border-collapse:collapse;width:100%}
th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
td.nowrap,th.nowrap,thead th{white-space:nowrap}
thead th{background:#f9fafb;color:var(--muted);font-size:12px;font-weight:600;
text-transform:uppercase;letter-spacing:.02em;position:sticky;top:0}
thead th.group{text-align:center;border-bottom:1px solid var(--line)}
tbody tr:hover{background:#f9fafb}
tbody th{font-weight:600}
table.tenants tbody th{min-width:190px}
table.tenants td:last-child{min-width:280px}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
tr.row-failing{box-shadow:inset 3px 0 var(--bad)}
tr.row-delayed{box-shadow:inset 3px 0 var(--warn)}
.zero{color:#c0c5cf}.bad{color:var(--bad);font-weight:700}.num{font-weight:500}
.muted{color:var(--muted)}
.error{color:var(--bad);font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;
font-size:12px;word-break:break-word}
.error-block{margin-top:4px;padding:6px 8px;background:var(--bad-bg);color:var(--bad);
border-radius:6px;font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;
white-space:pre-wrap;word-break:break-word}
.badge{display:inline-block;padding:1px 8px;border-radius:999px;font-size:12px;font-weight:600;
background:#f2f4f7;color:#344054;white-space:nowrap}
.badge-failing,.badge-dead,.badge-failed,.badge-link-unknown{background:var(--bad-bg);
color:var(--bad)}
.badge-delayed,.badge-pending,.badge-in-flight{background:var(--warn-bg);color:var(--warn)}
.badge-ok,.badge-delivered,.badge-sent{background:var(--good-bg);color:var(--good)}
.problems{margin:2px 0 0;padding:0;list-style:none;font-weight:400;font-size:12px;
color:var(--muted)}
.problems li{display:inline}.problems li+li:before{content:" · "}
.problems.big{font-size:14px;color:var(--ink);margin-bottom:12px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:14px 16px;
margin:0 0 14px}
.card .table-wrap{border:0}
.narrow{max-width:560px}
.card.narrow form{display:flex;flex-direction:column;gap:8px;align-items:flex-start}
.confirm form{flex-direction:row!important;align-items:center!important}
.count{color:var(--muted);font-weight:400}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}
.facts dt{color:var(--muted)}.facts dd{margin:0;word-break:break-word}
.notice{padding:10px 12px;border-radius:8px;background:#eef4ff;border:1px solid #c7d7fe}
.notice-bad{background:var(--bad-bg);border-color:#fecdca;color:var(--bad)}
.notice-good{background:var(--good-bg);border-color:#abefc6;color:var(--good)}
.timeline{list-style:none;margin:12px 0 0;padding:0;border-left:2px solid var(--line)}
.event{position:relative;padding:4px 0 8px 16px;display:grid;
grid-template-columns:190px 150px 1fr;gap:8px}
.event:before{content:"";position:absolute;left:-6px;top:9px;width:10px;height:10px;
border-radius:50%;background:#98a2b3}
.event time{color:var(--muted);font-variant-numeric:tabular-nums;white-space:nowrap}
.event .kind{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;color:#344054}
.event-delivery-delivered:before,.event-order-sent:before{background:var(--good)}
.event-delivery-dead:before,.event-order-failed:before,.event-order-link-unknown:before,
.event-result-orphan:before{background:var(--bad)}
.event-delivery-retry:before,.event-order-retrying:before{background:var(--warn)}
.deliveries{margin:10px 0 0;padding-left:18px}
"""
