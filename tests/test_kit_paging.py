"""Paginators against small paging servers on 127.0.0.1, and the RFC 8288 `Link` parser
(hypothesis: what is formatted is parsed back, and no text makes it raise)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assessio_connect import (
    Answer,
    AtsHttp,
    CursorPages,
    LinkHeaderPages,
    OffsetPages,
    PermanentError,
    Request,
    Routes,
    Transport,
)
from assessio_connect.kit import Link, next_link, parse_link_header
from assessio_connect.testing import ServedApp

ITEMS = [{"id": index} for index in range(23)]


class PagingServer(ServedApp):
    """Three listings of ITEMS: Greenhouse-style `Link` headers, Lever-style `next`/`hasNext`,
    and plain limit/offset. It refuses what those APIs refuse."""

    def __init__(self) -> None:
        super().__init__()
        self.queries: list[dict[str, str]] = []
        self.next_host: str | None = None
        self.repeat_cursor = False

    def wsgi_app(self) -> Routes:
        routes = Routes()
        routes.add("GET", "/links", self._links)
        routes.add("GET", "/cursor", self._cursor)
        routes.add("GET", "/offset", self._offset)
        return routes

    def _query(self, request: Request) -> dict[str, str]:
        query = {key: values[0] for key, values in request.query.items()}
        self.queries.append(query)
        return query

    def _links(self, request: Request) -> Answer:
        query = self._query(request)
        # Greenhouse Harvest v3 (docs /docs/pagination): the next page's URL carries only the
        # cursor; anything else beside it is refused.
        if "cursor" in query and len(query) > 1:
            return Answer.error(422, "cursor must be the only parameter")
        start = int(query.get("cursor", "0"))
        size = int(query.get("per_page", "10")) if "cursor" not in query else 10
        headers = []
        if start + size < len(ITEMS):
            host = self.next_host or self.url
            headers.append(("Link", f'<{host}/links?cursor={start + size}>; rel="next"'))
        return Answer.json(200, ITEMS[start : start + size], headers=headers)

    def _cursor(self, request: Request) -> Answer:
        query = self._query(request)
        start = int(query.get("offset", "0").removeprefix("token-"))
        size = int(query.get("limit", "100"))
        page = ITEMS[start : start + size]
        more = start + size < len(ITEMS)
        following = "token-0" if self.repeat_cursor else f"token-{start + size}"
        # Lever sends `next` on the last page too; `hasNext` is what says there is more.
        return Answer.json(200, {"data": page, "next": following, "hasNext": more})

    def _offset(self, request: Request) -> Answer:
        query = self._query(request)
        start, size = int(query["offset"]), int(query["limit"])
        return Answer.json(200, {"results": ITEMS[start : start + size]})


@pytest.fixture
def server() -> Iterator[PagingServer]:
    with PagingServer() as running:
        yield running


@pytest.fixture
def api(server: PagingServer) -> Iterator[AtsHttp]:
    transport = Transport(connect_timeout=2.0, read_timeout=5.0)
    yield AtsHttp(transport, server.url, name="the paging server")
    transport.close()


def _ids(pages: Any) -> list[int]:
    return [item["id"] for page in pages for item in page.items]


def test_link_header_pages_follow_the_next_url_as_it_is(api: AtsHttp, server: PagingServer) -> None:
    pages = list(api.pages("/links", LinkHeaderPages(), query={"per_page": "10"}))
    assert _ids(pages) == list(range(23))
    assert server.queries == [{"per_page": "10"}, {"cursor": "10"}, {"cursor": "20"}]
    assert pages[-1].next is None


def test_a_poll_resumes_from_the_saved_position(api: AtsHttp) -> None:
    first = api.page("/links", LinkHeaderPages(), query={"per_page": "10"})
    assert first.next is not None
    resumed = api.page("/links", LinkHeaderPages(), query={"per_page": "10"}, position=first.next)
    assert _ids([resumed]) == list(range(10, 20))


def test_a_next_link_to_another_host_is_refused(api: AtsHttp, server: PagingServer) -> None:
    server.next_host = "http://evil.example"
    with pytest.raises(PermanentError, match="another host"):
        list(api.pages("/links", LinkHeaderPages()))
    with pytest.raises(PermanentError, match="another host"):
        api.page("/links", LinkHeaderPages(), position="http://evil.example/links?cursor=10")


def test_cursor_pages_stop_when_has_next_is_false(api: AtsHttp, server: PagingServer) -> None:
    lever = CursorPages(cursor_field="next", param="offset", has_more_field="hasNext")
    pages = list(api.pages("/cursor", lever, query={"limit": "10"}, items="data"))
    assert _ids(pages) == list(range(23))
    assert [q.get("offset") for q in server.queries] == [None, "token-10", "token-20"]
    assert all(q["limit"] == "10" for q in server.queries)


def test_a_cursor_sent_twice_stops_the_listing(api: AtsHttp, server: PagingServer) -> None:
    server.repeat_cursor = True
    lever = CursorPages(cursor_field="next", param="offset", has_more_field="hasNext")
    with pytest.raises(PermanentError, match="same next page twice"):
        list(api.pages("/cursor", lever, query={"limit": "5"}, items="data"))


def test_offset_pages_end_on_a_short_page(api: AtsHttp, server: PagingServer) -> None:
    pages = list(api.pages("/offset", OffsetPages(page_size=10), items="results"))
    assert _ids(pages) == list(range(23))
    assert [q["offset"] for q in server.queries] == ["0", "10", "20"]


def test_items_that_are_not_a_list_are_a_permanent_error(api: AtsHttp) -> None:
    with pytest.raises(PermanentError, match="'data' is not a list"):
        api.page("/offset", OffsetPages(page_size=5), items="data")


# -- the Link header -------------------------------------------------------------------------


def test_documented_link_headers() -> None:
    # Source: RFC 8288 section 3.5 (https://www.rfc-editor.org/rfc/rfc8288#section-3.5),
    # its examples with their folded lines joined (a folded header line reads as one space).
    (chapter,) = parse_link_header(
        '<http://example.com/TheBook/chapter2>; rel="previous"; title="previous chapter"'
    )
    assert chapter == Link(
        "http://example.com/TheBook/chapter2", {"rel": "previous", "title": "previous chapter"}
    )
    (root,) = parse_link_header('</>; rel="http://example.net/foo"')
    assert (root.url, root.rels) == ("/", ("http://example.net/foo",))
    (terms,) = parse_link_header('</terms>; rel="copyright"; anchor="#foo"')
    assert terms.params == {"rel": "copyright", "anchor": "#foo"}
    previous, following = parse_link_header(
        "</TheBook/chapter2>; rel=\"previous\"; title*=UTF-8'de'letztes%20Kapitel, "
        "</TheBook/chapter4>; rel=\"next\"; title*=UTF-8'de'n%c3%a4chstes%20Kapitel"
    )
    assert (previous.url, previous.rels, following.url, following.rels) == (
        "/TheBook/chapter2",
        ("previous",),
        "/TheBook/chapter4",
        ("next",),
    )
    assert following.params["title*"] == "UTF-8'de'n%c3%a4chstes%20Kapitel"
    (start,) = parse_link_header(
        '<http://example.org/>; rel="start http://example.net/relation/other"'
    )
    assert start.rels == ("start", "http://example.net/relation/other")


def test_the_next_link_is_resolved_against_the_request() -> None:
    # The shape Greenhouse Harvest v3 documents (/docs/pagination): `next` and `last` links.
    header = (
        '<https://harvest.greenhouse.io/v3/candidates?cursor=eyJ0Ijo>; rel="next", '
        '<https://harvest.greenhouse.io/v3/candidates?cursor=eyJ9>; rel="last"'
    )
    assert next_link(header, "https://harvest.greenhouse.io/v3/candidates?per_page=100") == (
        "https://harvest.greenhouse.io/v3/candidates?cursor=eyJ0Ijo"
    )
    assert next_link("</v3/x?cursor=2>; rel=next", "https://h.example/v3/x") == (
        "https://h.example/v3/x?cursor=2"
    )
    assert next_link('<https://h.example/x?c=3>; rel="prev"', "https://h.example/x") is None
    assert next_link(None, "https://h.example/x") is None


_URL = st.text(
    alphabet=st.characters(blacklist_characters="<>", blacklist_categories=("Cs", "Cc")),
    min_size=1,
    max_size=40,
).map(lambda text: "https://ats.example/" + quote(text, safe="/?=&;,\"' "))
_NAME = st.from_regex(r"[a-z][a-z0-9\-]{0,8}", fullmatch=True).filter(lambda n: n != "rel")
_VALUE = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=20)
_RELS = st.lists(st.sampled_from(["next", "prev", "last", "first", "self"]), min_size=1, max_size=3)


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@given(st.lists(st.tuples(_URL, _RELS, st.dictionaries(_NAME, _VALUE, max_size=3)), max_size=5))
def test_formatted_links_parse_back(links: list[tuple[str, list[str], dict[str, str]]]) -> None:
    header = ", ".join(
        f"<{url}>; rel={_quoted(' '.join(rels))}"
        + "".join(f"; {name}={_quoted(value)}" for name, value in params.items())
        for url, rels, params in links
    )
    parsed = parse_link_header(header)
    assert [(link.url, list(link.rels)) for link in parsed] == [
        (url.strip(), rels) for url, rels, _ in links
    ]
    for link, (_, _, params) in zip(parsed, links, strict=True):
        assert {k: v for k, v in link.params.items() if k != "rel"} == params


@given(st.text(max_size=200))
def test_any_text_parses_without_raising(text: str) -> None:
    for link in parse_link_header(text):
        assert isinstance(link.url, str)
        assert all(re.fullmatch(r"[^=;, \t]*", name) for name in link.params)


def test_paging_positions_and_query_strings() -> None:
    assert urlsplit(LinkHeaderPages().request("https://a.example/x", {}, None).url).path == "/x"
    request = CursorPages("next", "offset").request("https://a.example/x?y=1", {"z": "2"}, "t")
    assert request.full_url == "https://a.example/x?y=1&z=2&offset=t"
    assert dict(parse_qsl(urlsplit(request.full_url).query)) == {"y": "1", "z": "2", "offset": "t"}
    with pytest.raises(PermanentError, match="not an offset"):
        OffsetPages(10).request("https://a.example/x", {}, "ten")
    with pytest.raises(ValueError, match="at least 1"):
        OffsetPages(0)
