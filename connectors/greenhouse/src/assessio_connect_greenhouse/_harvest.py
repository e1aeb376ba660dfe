"""`HarvestClient`: calls to Greenhouse's Harvest API with its authentication, `On-Behalf-Of`
on writes, `Link` pagination, pacing by `X-RateLimit-*`, and errors mapped to
`RetryableError` (429, 5xx, network) or `PermanentError` (401, 403, 404, 422, ...)."""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from assessio_connect.errors import (
    APIError,
    ConnectorError,
    PermanentError,
    RetryableError,
    TransportError,
)
from assessio_connect.transport import HTTPResponse, Transport

from ._auth import BasicAuth, ClientCredentialsAuth, HarvestAuth, error_text
from ._config import GreenhouseConfig

__all__ = [
    "MAX_PAGES",
    "MAX_PER_PAGE",
    "HarvestClient",
    "Pacer",
    "header_value",
    "parse_link_header",
]

MAX_PER_PAGE = 500
MAX_PAGES = 1000
"""A guard against a `Link` chain that never ends."""
_LINK = re.compile(r"\s*<([^>]*)>(.*)", re.DOTALL)
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
    """`rel` -> URL from an RFC 5988 `Link` header (the first link of each rel wins)."""
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


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port


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
    """One tenant's Harvest API access through the daemon's shared transport."""

    def __init__(
        self,
        config: GreenhouseConfig,
        transport: Transport,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = config.harvest_url
        self._origin = _origin(config.harvest_url)
        self._transport = transport
        self._author = config.author
        self.auth: HarvestAuth
        if config.oauth is not None:
            self.auth = ClientCredentialsAuth(config.oauth, transport, clock=clock)
        elif config.api_key is not None:
            self.auth = BasicAuth(config.api_key)
        else:
            raise ValueError("Harvest needs api_key or oauth credentials")
        self.pacer = Pacer(config.rate_limit_window, sleep=sleep, clock=clock)

    def __repr__(self) -> str:
        return f"HarvestClient({self.base_url}, {self.auth!r})"

    # Reading

    def get(self, path: str, *, action: str) -> Any:
        """One JSON document from `path` (e.g. `/v1/jobs/7/hiring_team`)."""
        return self._json(self._request("GET", self.base_url + path, None, action=action), action)

    def pages(self, path: str, *, action: str, per_page: int | None = None) -> Iterator[Any]:
        """Each page's JSON, following `Link: <…>; rel="next"` until there is none."""
        url = self.base_url + path
        if per_page is not None:
            url += ("&" if "?" in url else "?") + f"per_page={per_page}"
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            seen.add(url)
            response = self._request("GET", url, None, action=action)
            yield self._json(response, action)
            following = parse_link_header(header_value(response.headers, "Link")).get("next")
            if not following:
                return
            if _origin(following) != self._origin:
                raise PermanentError(
                    f"could not {action}: Greenhouse's next page link points outside "
                    f"{self.base_url} ({following}); refusing to send the credentials there"
                )
            if following in seen:
                raise PermanentError(f"could not {action}: Greenhouse's next page link loops")
            url = following
        raise PermanentError(f"could not {action}: more than {MAX_PAGES} pages")

    def get_all(self, path: str, *, action: str, per_page: int = MAX_PER_PAGE) -> list[Any]:
        """Every item of a paginated collection."""
        items: list[Any] = []
        for page in self.pages(path, action=action, per_page=per_page):
            if not isinstance(page, list):
                raise PermanentError(f"could not {action}: Greenhouse answered a non-list page")
            items.extend(page)
        return items

    # Writing

    def write(self, method: str, path: str, body: Mapping[str, Any], *, action: str) -> Any:
        """POST/PATCH a JSON body with `On-Behalf-Of`; returns the answer's JSON (or None)."""
        encoded = json.dumps(dict(body), ensure_ascii=False, separators=(",", ":")).encode()
        response = self._request(method, self.base_url + path, encoded, action=action, write=True)
        return self._json(response, action) if response.body.strip() else None

    # HTTP

    def _request(
        self, method: str, url: str, body: bytes | None, *, action: str, write: bool = False
    ) -> HTTPResponse:
        for attempt in (1, 2):
            self.pacer.wait()
            headers = {"Authorization": self.auth.authorization(), "Accept": _JSON}
            if body is not None:
                headers["Content-Type"] = _JSON
            if write and self._author is not None:
                headers["On-Behalf-Of"] = str(self._author)
            try:
                response = self._transport.send(method, url, body=body, headers=headers)
            except APIError as exc:
                if exc.status == 401 and attempt == 1 and self.auth.refresh():
                    continue  # an expired or revoked token: fetch a new one, once
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
        where = f" to {exc.method} {exc.url}" if exc.method else ""
        if status == 429:
            wait = exc.retry_after if exc.retry_after is not None else self.pacer.window
            self.pacer.pause(wait)
            return RetryableError(
                f"could not {action}: Greenhouse is rate limiting this API key (HTTP 429); "
                f"retrying after {wait:g} s",
                retry_after=wait,
            )
        if status in (408, 425) or status >= 500:
            return RetryableError(
                f"could not {action}: Greenhouse answered HTTP {status}{where}{suffix}",
                retry_after=exc.retry_after,
            )
        if status == 401:
            return PermanentError(
                f"could not {action}: Greenhouse refused the Harvest credentials "
                f"(HTTP 401{suffix}); check ats.api_key or ats.oauth"
            )
        if status == 403:
            return PermanentError(
                f"could not {action}: Greenhouse forbade it (HTTP 403{suffix}); check the API "
                "key's endpoint permissions and that ats.on_behalf_of is a user allowed to write"
            )
        return PermanentError(f"could not {action}: Greenhouse answered HTTP {status}{suffix}")
