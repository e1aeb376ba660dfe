"""Paginators for the three ways ATS list endpoints page, and the RFC 8288 `Link` parser.

A paginator turns a *position* (a string the connector may save as its poll cursor; None for
the first page) into the request for that page, and reads the next position from the answer:

- `LinkHeaderPages`: `Link: <…>; rel="next"`; the next URL is requested as it is (Greenhouse
  Harvest v3: the cursor must then be the only query parameter) and must stay on the same
  origin, so credentials never go to another host;
- `CursorPages`: a token in the body sent back as a query parameter (Lever: `next` → `offset`,
  until `hasNext` is false);
- `OffsetPages`: a numeric offset advanced by the items received, until a short page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import urlencode, urljoin, urlsplit

import attrs

from assessio_connect.contract import codec
from assessio_connect.contract.errors import PayloadError, PermanentError
from assessio_connect.contract.transport import HTTPResponse

__all__ = [
    "CursorPages",
    "Link",
    "LinkHeaderPages",
    "OffsetPages",
    "Page",
    "PageRequest",
    "Paginator",
    "fetch_page",
    "iterate_pages",
    "next_link",
    "parse_link_header",
]

MAX_PAGES = 10_000


def _to_dict(value: Mapping[str, str]) -> dict[str, str]:
    return dict(value)


# -- RFC 8288 Link headers -------------------------------------------------------------------


@attrs.frozen
class Link:
    """One link of a `Link` header: its target and parameters (names lower-cased)."""

    url: str
    params: Mapping[str, str] = attrs.field(factory=dict, converter=_to_dict)

    @property
    def rels(self) -> tuple[str, ...]:
        """The relation types (`rel="next last"` → ("next", "last")), lower-cased."""
        return tuple(self.params.get("rel", "").lower().split())


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    def skip_space(self) -> None:
        while self.at < len(self.text) and self.text[self.at] in " \t":
            self.at += 1

    def peek(self) -> str:
        return self.text[self.at] if self.at < len(self.text) else ""

    def until(self, stops: str) -> str:
        start = self.at
        while self.at < len(self.text) and self.text[self.at] not in stops:
            self.at += 1
        return self.text[start : self.at]

    def quoted(self) -> str | None:
        """A quoted-string after its opening quote, unescaped; None if it never closes."""
        out: list[str] = []
        while self.at < len(self.text):
            char = self.text[self.at]
            self.at += 1
            if char == "\\" and self.at < len(self.text):
                out.append(self.text[self.at])
                self.at += 1
            elif char == '"':
                return "".join(out)
            else:
                out.append(char)
        return None


def parse_link_header(value: str) -> tuple[Link, ...]:
    """Every well-formed link in a `Link` header value, in order; a malformed link is skipped
    up to the next comma outside `<…>` and quotes, and nothing raises."""
    scanner = _Scanner(value)
    links: list[Link] = []
    while True:
        scanner.until("<")
        if not scanner.peek():
            return tuple(links)
        scanner.at += 1
        url = scanner.until(">")
        if scanner.peek() != ">":
            return tuple(links)  # an unclosed target: nothing more can be read
        scanner.at += 1
        params: dict[str, str] = {}
        well_formed = True
        while True:
            scanner.skip_space()
            char = scanner.peek()
            if char in ("", ","):
                scanner.at += 1
                break
            if char != ";":
                well_formed = False
                _skip_to_next_link(scanner)
                break
            scanner.at += 1
            scanner.skip_space()
            name = scanner.until("=;, \t").lower()
            scanner.skip_space()
            text = ""
            if scanner.peek() == "=":
                scanner.at += 1
                scanner.skip_space()
                if scanner.peek() == '"':
                    scanner.at += 1
                    quoted = scanner.quoted()
                    if quoted is None:
                        return tuple(links)
                    text = quoted
                else:
                    text = scanner.until(";, \t")
            if not name:
                well_formed = False
                _skip_to_next_link(scanner)
                break
            params.setdefault(name, text)  # RFC 8288: only the first occurrence counts
        if well_formed:
            links.append(Link(url.strip(), params))


def _skip_to_next_link(scanner: _Scanner) -> None:
    while scanner.peek():
        char = scanner.peek()
        scanner.at += 1
        if char == ",":
            return
        if char == '"':
            scanner.quoted()
        elif char == "<":
            scanner.until(">")
            scanner.at += 1


def next_link(value: str | None, base_url: str) -> str | None:
    """The `rel="next"` target of a `Link` header, resolved against `base_url`, or None."""
    for link in parse_link_header(value or ""):
        if "next" in link.rels and link.url:
            return urljoin(base_url, link.url)
    return None


# -- pages -----------------------------------------------------------------------------------


@attrs.frozen
class PageRequest:
    """The GET that fetches one page: `url` plus `query` (added to any query `url` has)."""

    url: str
    query: Mapping[str, str] = attrs.field(factory=dict, converter=_to_dict)

    @property
    def full_url(self) -> str:
        """`url` with `query` appended."""
        if not self.query:
            return self.url
        joiner = "&" if urlsplit(self.url).query else ("" if self.url.endswith("?") else "?")
        return self.url + joiner + urlencode(self.query)


@attrs.frozen
class Page:
    """One page: its items, the whole decoded body, and the position of the next page (None
    on the last one)."""

    items: tuple[Any, ...]
    data: Any
    next: str | None


class Paginator(Protocol):
    """How an endpoint pages (see the module's docstring)."""

    def request(self, url: str, query: Mapping[str, str], position: str | None) -> PageRequest:
        """The request for the page at `position` of the listing `url` + `query`."""

    def next_position(
        self, request: PageRequest, response: HTTPResponse, data: Any, items: Sequence[Any]
    ) -> str | None:
        """Where the page after this one (with `items` in it) starts, or None."""


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


@attrs.frozen
class LinkHeaderPages:
    """Pages linked by `Link: <url>; rel="next"`: positions are the next URLs themselves."""

    def request(self, url: str, query: Mapping[str, str], position: str | None) -> PageRequest:
        if position is None:
            return PageRequest(url, query)
        if _origin(position) != _origin(url):
            raise PermanentError(
                "a saved next-page URL points to another host than the listing; refusing to "
                "send credentials there"
            )
        return PageRequest(position)  # as it is: the cursor must stay the only parameter

    def next_position(
        self, request: PageRequest, response: HTTPResponse, data: Any, items: Sequence[Any]
    ) -> str | None:
        header = next((v for k, v in response.headers.items() if k.lower() == "link"), None)
        found = next_link(header, request.full_url)
        if found is not None and _origin(found) != _origin(request.url):
            raise PermanentError(
                f"the next page is on another host ({urlsplit(found).netloc}); refusing to "
                "send credentials there"
            )
        return found


def _field(data: Any, name: str) -> Any:
    return data.get(name) if isinstance(data, dict) else None


@attrs.frozen
class CursorPages:
    """A token in the body (`cursor_field`) sent back as the query parameter `param`; with
    `has_more_field`, a false value there ends the listing even if a token is present.

    Lever: `CursorPages(cursor_field="next", param="offset", has_more_field="hasNext")`."""

    cursor_field: str
    param: str
    has_more_field: str | None = None

    def request(self, url: str, query: Mapping[str, str], position: str | None) -> PageRequest:
        return PageRequest(url, {**query, self.param: position} if position else query)

    def next_position(
        self, request: PageRequest, response: HTTPResponse, data: Any, items: Sequence[Any]
    ) -> str | None:
        if self.has_more_field is not None and _field(data, self.has_more_field) is not True:
            return None
        token = _field(data, self.cursor_field)
        if token is None or token == "":
            return None
        if isinstance(token, bool) or not isinstance(token, (str, int)):
            raise PermanentError(f"the answer's {self.cursor_field!r} is not a page token")
        return str(token)


@attrs.frozen
class OffsetPages:
    """`limit_param=<page_size>&offset_param=<n>`, advanced by the number of items received;
    a page shorter than `page_size` is the last."""

    page_size: int
    offset_param: str = "offset"
    limit_param: str = "limit"

    def __attrs_post_init__(self) -> None:
        if self.page_size < 1:
            raise ValueError("page_size must be at least 1")

    def request(self, url: str, query: Mapping[str, str], position: str | None) -> PageRequest:
        offset = position or "0"
        if not (offset.isascii() and offset.isdigit()):
            raise PermanentError(f"{offset!r} is not an offset")
        paging = {self.limit_param: str(self.page_size), self.offset_param: offset}
        return PageRequest(url, {**query, **paging})

    def next_position(
        self, request: PageRequest, response: HTTPResponse, data: Any, items: Sequence[Any]
    ) -> str | None:
        if len(items) < self.page_size:
            return None
        return str(int(request.query[self.offset_param]) + len(items))


def _items(data: Any, field: str | None) -> list[Any]:
    found = data if field is None else _field(data, field)
    if not isinstance(found, list):
        where = "the answer" if field is None else f"the answer's {field!r}"
        raise PermanentError(f"{where} is not a list of items")
    return found


Get = Callable[[PageRequest], HTTPResponse]
"""Sends the GET for a page and returns its 2xx response (raising connector errors)."""


def fetch_page(
    get: Get,
    paginator: Paginator,
    url: str,
    query: Mapping[str, str] | None = None,
    *,
    position: str | None = None,
    items: str | None = None,
) -> Page:
    """The page at `position` (None: the first) of the listing `url` + `query`; its items are
    the body's `items` field (None: the body is the list)."""
    request = paginator.request(url, dict(query or {}), position)
    response = get(request)
    try:
        data = codec.parse_json(response.body, what="page")
    except PayloadError as exc:
        raise PermanentError(f"a page of {url} is not JSON: {'; '.join(exc.problems)}") from None
    found = _items(data, items)
    return Page(tuple(found), data, paginator.next_position(request, response, data, found))


def iterate_pages(
    get: Get,
    paginator: Paginator,
    url: str,
    query: Mapping[str, str] | None = None,
    *,
    items: str | None = None,
    max_pages: int = MAX_PAGES,
) -> Iterator[Page]:
    """Every page from the first to the last; a position seen twice (an ATS sending the same
    page again and again) or more than `max_pages` pages raise `PermanentError`."""
    position: str | None = None
    seen: set[str] = set()
    for _ in range(max_pages):
        page = fetch_page(get, paginator, url, query, position=position, items=items)
        yield page
        if page.next is None:
            return
        if page.next in seen:
            raise PermanentError(f"{url} sent the same next page twice; stopping")
        seen.add(page.next)
        position = page.next
    raise PermanentError(f"{url} has more than {max_pages} pages; stopping")
