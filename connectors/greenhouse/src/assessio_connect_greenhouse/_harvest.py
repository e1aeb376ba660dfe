"""`HarvestClient`: calls to Greenhouse's Harvest v3 with a Bearer token, flat list reads
followed page by page through the `Link: <…?cursor=…>; rel="next"` header, pacing by
`X-RateLimit-*`, and errors mapped to `RetryableError` (429, 5xx, network) or
`PermanentError` (403, 404, 422, ...)."""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from assessio_connect.errors import (
    APIError,
    ConnectorError,
    PermanentError,
    RetryableError,
    TransportError,
)
from assessio_connect.transport import HTTPResponse, Transport

from ._auth import HarvestAuth, error_text

__all__ = [
    "API_PREFIX",
    "MAX_PAGES",
    "MAX_PER_PAGE",
    "HarvestClient",
    "Pacer",
    "header_value",
    "parse_link_header",
]

API_PREFIX = "/v3"
MAX_PER_PAGE = 500
MAX_PAGES = 1000
"""A guard against a `Link` chain that never ends."""
_LINK = re.compile(r"\s*<([^>]*)>(.*)", re.DOTALL)
_RESOURCE = re.compile(r"[a-z_]+")
_JSON = "application/json"


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """A response header by name, case-insensitively."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def _split_outside_brackets(value: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    in_url = in_quotes = False
    for char in value:
        if char == "<" and not in_quotes:
            in_url = True
        elif char == ">" and not in_quotes:
            in_url = False
        elif char == '"' and not in_url:
            in_quotes = not in_quotes
        if char == "," and not in_url and not in_quotes:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def parse_link_header(value: str | None) -> dict[str, str]:
    """`rel` -> URL from an RFC 8288 `Link` header (the first link of each rel wins)."""
    links: dict[str, str] = {}
    if not value:
        return links
    for part in _split_outside_brackets(value):
        found = _LINK.match(part)
        if found is None:
            continue
        url, params = found.group(1).strip(), found.group(2)
        for param in params.split(";"):
            name, _, raw = param.strip().partition("=")
            if name.strip().lower() != "rel":
                continue
            for rel in raw.strip().strip('"').split():
                links.setdefault(rel.lower(), url)
    return links


def _cursor(next_link: str) -> str | None:
    """The `cursor` of a next-page link (the only thing taken from it)."""
    try:
        values = parse_qs(urlsplit(next_link).query).get("cursor", [])
    except ValueError:
        return None
    return values[0] if len(values) == 1 and values[0] else None


class Pacer:
    """Spaces requests out when Harvest says few remain in its window; pauses after a 429.

    Shared by every thread of one tenant's connector: a wait holds the others back too."""

    def __init__(
        self,
        window: float,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window = window
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._next_at = 0.0
        self.waited = 0.0
        """Seconds spent waiting so far (diagnostics and tests)."""

    def wait(self) -> None:
        """Block until the next request may go."""
        with self._lock:
            delay = self._next_at - self._clock()
            if delay > 0:
                delay = min(delay, self.window)
                self.waited += delay
                self._sleep(delay)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Read `X-RateLimit-Limit`/`-Remaining`: when few requests remain, spread them over
        the window; when none remain, wait a whole window."""
        limit = _count(header_value(headers, "X-RateLimit-Limit"))
        remaining = _count(header_value(headers, "X-RateLimit-Remaining"))
        if limit is None or remaining is None or limit < 1:
            return
        if remaining <= 0:
            self.pause(self.window)
        elif remaining <= max(1, math.ceil(limit * 0.1)):
            self.pause(self.window / limit)

    def pause(self, seconds: float) -> None:
        """No request before `seconds` from now."""
        with self._lock:
            self._next_at = max(self._next_at, self._clock() + max(seconds, 0.0))


def _count(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())


class HarvestClient:
    """One tenant's Harvest v3 access through the daemon's shared transport."""

    def __init__(
        self,
        base_url: str,
        auth: HarvestAuth,
        transport: Transport,
        *,
        window: float,
        on_behalf_of: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url
        self.auth = auth
        self._transport = transport
        self._on_behalf_of = on_behalf_of
        self.pacer = Pacer(window, sleep=sleep, clock=clock)

    def __repr__(self) -> str:
        return f"HarvestClient({self.base_url}{API_PREFIX}, {self.auth!r})"

    def url(self, resource: str, query: Mapping[str, str] | None = None) -> str:
        """`{harvest_url}/v3/{resource}?{query}`."""
        if not _RESOURCE.fullmatch(resource.partition("/")[0]):
            raise ValueError(f"not a Harvest resource: {resource!r}")
        url = f"{self.base_url}{API_PREFIX}/{resource}"
        return f"{url}?{urlencode(dict(query))}" if query else url

    # Reading

    def read_all(
        self,
        resource: str,
        query: Mapping[str, str],
        *,
        action: str,
        per_page: int = MAX_PER_PAGE,
    ) -> list[Any]:
        """Every item of a filtered list: the filters and `per_page` on the first request,
        then each `rel="next"` page by its cursor alone, as Harvest v3 requires."""
        url = self.url(resource, {**query, "per_page": str(per_page)})
        items: list[Any] = []
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            response = self._request("GET", url, None, action=action)
            page = self._json(response, action)
            if not isinstance(page, list):
                raise PermanentError(f"could not {action}: Greenhouse answered a non-list page")
            items.extend(page)
            following = parse_link_header(header_value(response.headers, "Link")).get("next")
            if not following:
                return items
            cursor = _cursor(following)
            if cursor is None:
                raise PermanentError(
                    f"could not {action}: Greenhouse's next page link has no cursor"
                )
            if cursor in seen:
                raise PermanentError(f"could not {action}: Greenhouse's next page link loops")
            seen.add(cursor)
            url = self.url(resource, {"cursor": cursor})
        raise PermanentError(f"could not {action}: more than {MAX_PAGES} pages")

    def first_page(
        self, resource: str, query: Mapping[str, str], *, action: str, per_page: int
    ) -> list[Any]:
        """The first page of a filtered list only."""
        url = self.url(resource, {**query, "per_page": str(per_page)})
        page = self._json(self._request("GET", url, None, action=action), action)
        if not isinstance(page, list):
            raise PermanentError(f"could not {action}: Greenhouse answered a non-list page")
        return page

    def find(self, resource: str, item_id: str, *, action: str) -> dict[str, Any] | None:
        """One item by id (`?ids=`), or None when Harvest has no such item."""
        for item in self.first_page(resource, {"ids": item_id}, action=action, per_page=1):
            if isinstance(item, dict) and str(item.get("id")) == item_id:
                return item
        return None

    # Writing

    def write(self, method: str, path: str, body: Mapping[str, Any], *, action: str) -> Any:
        """POST/PATCH a JSON body to `/v3/{path}`; returns the answer's JSON (or None)."""
        encoded = json.dumps(dict(body), ensure_ascii=False, separators=(",", ":")).encode()
        response = self._request(method, self.url(path), encoded, action=action, write=True)
        return self._json(response, action) if response.body.strip() else None

    def item_path(self, resource: str, item_id: str) -> str:
        """`{resource}/{id}`, the id escaped."""
        return f"{resource}/{quote(item_id, safe='')}"

    # HTTP

    def _request(
        self,
        method: str,
        url: str,
        body: bytes | None,
        *,
        action: str,
        write: bool = False,
    ) -> HTTPResponse:
        for attempt in (1, 2):
            self.pacer.wait()
            authorization = self.auth.authorization()
            headers = {"Authorization": authorization, "Accept": _JSON}
            if body is not None:
                headers["Content-Type"] = _JSON
            if write and self._on_behalf_of is not None:
                headers["On-Behalf-Of"] = str(self._on_behalf_of)
            try:
                response = self._transport.send(method, url, body=body, headers=headers)
            except APIError as exc:
                if exc.status == 401 and attempt == 1 and self.auth.rejected(authorization):
                    continue  # an expired or revoked token: once more with another one
                raise self._failure(exc, action) from None
            except TransportError as exc:
                raise RetryableError(f"could not {action}: {exc}") from None
            self.pacer.observe(response.headers)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _json(self, response: HTTPResponse, action: str) -> Any:
        try:
            return json.loads(response.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise PermanentError(
                f"could not {action}: Greenhouse answered HTTP {response.status} without JSON"
            ) from None

    def _failure(self, exc: APIError, action: str) -> ConnectorError:
        status = exc.status
        detail = error_text(exc.body_excerpt)
        suffix = f": {detail}" if detail else ""
        if status == 429:
            wait = exc.retry_after if exc.retry_after is not None else self.pacer.window
            self.pacer.pause(wait)
            return RetryableError(
                f"could not {action}: Greenhouse is rate limiting this client (HTTP 429); "
                f"retrying after {wait:g} s",
                retry_after=wait,
            )
        if status in (408, 425) or status >= 500:
            return RetryableError(
                f"could not {action}: Greenhouse answered HTTP {status}{suffix}",
                retry_after=exc.retry_after,
            )
        if status == 401:
            return PermanentError(
                f"could not {action}: Greenhouse refused the OAuth token (HTTP 401{suffix}); "
                "check [...ats.oauth]"
            )
        if status == 403:
            return PermanentError(
                f"could not {action}: Greenhouse forbade it (HTTP 403{suffix}); the OAuth "
                "client needs the scope for this call and its user the permission"
            )
        return PermanentError(f"could not {action}: Greenhouse answered HTTP {status}{suffix}")
