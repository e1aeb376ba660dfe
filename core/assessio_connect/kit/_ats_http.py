"""`AtsHttp`: a connector's calls to its ATS over the daemon's shared `Transport`, with the
tenant's credentials, its rate limiter, and failures as `RetryableError`/`PermanentError`."""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from assessio_connect.contract import codec
from assessio_connect.contract.errors import (
    PayloadError,
    PermanentError,
    RetryableError,
    TransportError,
)
from assessio_connect.contract.transport import HTTPResponse, Transport
from assessio_connect.runtime._logging import Scrubber

from ._http_errors import retry_after_seconds, status_error
from ._paging import Page, PageRequest, Paginator, fetch_page, iterate_pages
from ._rate_limit import RateLimiter

__all__ = ["AtsHttp"]

Headers = Mapping[str, str] | Callable[[], Mapping[str, str]]
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_CREDENTIAL_HEADER = re.compile(r"authorization|token|key|secret|signature|cookie", re.I)
_NO_JSON = object()


def _credential_values(headers: Mapping[str, str]) -> list[str]:
    """What to scrub from messages: credential headers' values, their token part, and the
    user name and password inside HTTP Basic credentials (an API key, for Lever)."""
    values: list[str] = []
    for name, value in headers.items():
        if not _CREDENTIAL_HEADER.search(name):
            continue
        scheme, _, token = value.strip().partition(" ")
        values += [value, token.strip()]
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                continue
            values += decoded.split(":", 1)
    return [value for value in values if len(value) >= 4]


class AtsHttp:
    """Calls to one ATS API for one tenant: `base_url` + a path, the `headers` (or a callable
    giving fresh ones per call, e.g. with an OAuth token) on every request, `limiter` asked
    before each request and told about each answer; a 429 is retried after waiting while
    that stays within the limiter's `max_wait`. Every failure is a `RetryableError` or a
    `PermanentError` saying what was being done, with no credential in it (`clock` dates a
    `Retry-After` given as an HTTP date)."""

    def __init__(
        self,
        transport: Transport,
        base_url: str,
        *,
        headers: Headers | None = None,
        limiter: RateLimiter | None = None,
        name: str = "the ATS",
        credentials_hint: str | None = None,
        secrets: Iterable[str] = (),
        rate_limited_attempts: int = 3,
        clock: Callable[[], float] = time.time,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url must be an http(s) URL, not {base_url!r}")
        self.transport = transport
        self.base_url = base_url.rstrip("/")
        self.name = name
        self.limiter = limiter
        self._headers = headers
        self._credentials_hint = credentials_hint
        self._secrets = tuple(secrets)
        self._attempts = max(1, rate_limited_attempts)
        self._clock = clock

    def __repr__(self) -> str:
        return f"AtsHttp({self.base_url!r})"

    def url(self, path: str, params: Mapping[str, str] | None = None) -> str:
        """`base_url` + `path`, each `{name}` replaced by `params[name]` percent-encoded (so an
        id can never add a path segment or a query)."""
        given = params or {}

        def fill(match: re.Match[str]) -> str:
            if match[1] not in given:
                raise KeyError(f"no value for {{{match[1]}}} in {path!r}")
            return quote(str(given[match[1]]), safe="")

        if not path.startswith("/"):
            raise ValueError(f"a path starts with '/', not {path!r}")
        return self.base_url + _PLACEHOLDER.sub(fill, path)

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        json_body: Any = _NO_JSON,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        what: str | None = None,
        accept: Collection[int] = (),
    ) -> HTTPResponse:
        """Send one request (`path_or_url` below `base_url`, or an absolute URL on its
        origin); a 2xx answer, or one whose status is in `accept`, is returned."""
        url = self._resolve(path_or_url, params)
        if query:
            url = PageRequest(url, query).full_url
        sent = dict(self._base_headers())
        if json_body is not _NO_JSON:
            body = json.dumps(json_body, ensure_ascii=False, separators=(",", ":")).encode()
            sent.setdefault("Content-Type", "application/json")
        sent.setdefault("Accept", "application/json")
        sent.update(headers or {})
        action = what or f"{method} {urlsplit(url).path} at {self.name}"
        secrets = [*self._secrets, *_credential_values(sent)]
        attempt = 0
        while True:
            attempt += 1
            if self.limiter is not None:
                self.limiter.acquire()
            try:
                response = self.transport.exchange(method, url, body=body, headers=sent)
            except TransportError as exc:
                detail = Scrubber(secrets)(str(exc))
                raise RetryableError(f"could not {action}: {detail}") from None
            if self.limiter is not None:
                self.limiter.observe(response.status, response.headers)
            if 200 <= response.status <= 299 or response.status in accept:
                return response
            if response.status == 429 and self.limiter is not None and attempt < self._attempts:
                continue  # the limiter now holds every request until Retry-After
            raise status_error(
                response.status,
                response.body,
                what=action,
                retry_after=retry_after_seconds(response.headers, self._clock()),
                secrets=secrets,
                credentials_hint=self._credentials_hint,
            )

    def get_json(
        self,
        path_or_url: str,
        *,
        params: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        what: str | None = None,
    ) -> Any:
        """GET and decode the JSON answer (not JSON: `PermanentError`)."""
        response = self.request("GET", path_or_url, params=params, query=query, what=what)
        return self.decode(response, what or f"GET {path_or_url}")

    def send_json(
        self,
        method: str,
        path_or_url: str,
        data: Any,
        *,
        params: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        what: str | None = None,
        accept: Collection[int] = (),
    ) -> Any:
        """Send `data` as JSON; the decoded answer, or None for an empty one."""
        response = self.request(
            method,
            path_or_url,
            params=params,
            query=query,
            json_body=data,
            what=what,
            accept=accept,
        )
        return self.decode(response, what or f"{method} {path_or_url}") if response.body else None

    def decode(self, response: HTTPResponse, what: str) -> Any:
        """The JSON of an answer, or `PermanentError` naming `what` when it is not JSON."""
        try:
            return codec.parse_json(response.body, what=f"answer of {self.name}")
        except PayloadError as exc:
            raise PermanentError(
                f"{self.name} answered {what} with something that is not JSON "
                f"({'; '.join(exc.problems)})"
            ) from None

    def page(
        self,
        path: str,
        paginator: Paginator,
        *,
        params: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        position: str | None = None,
        items: str | None = None,
    ) -> Page:
        """One page of a listing (see `fetch_page`): for a poll, save `page.next` as the
        cursor and pass it back as `position`."""
        return fetch_page(
            self._get_page, paginator, self.url(path, params), query, position=position, items=items
        )

    def pages(
        self,
        path: str,
        paginator: Paginator,
        *,
        params: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        items: str | None = None,
    ) -> Iterator[Page]:
        """Every page of a listing, first to last (see `iterate_pages`)."""
        return iterate_pages(self._get_page, paginator, self.url(path, params), query, items=items)

    def _get_page(self, request: PageRequest) -> HTTPResponse:
        return self.request("GET", request.full_url, what=f"read a page of {self.name}")

    def _resolve(self, path_or_url: str, params: Mapping[str, str] | None) -> str:
        if path_or_url.startswith("/"):
            return self.url(path_or_url, params)
        own, given = urlsplit(self.base_url), urlsplit(path_or_url)
        if (given.scheme.lower(), given.netloc.lower()) != (own.scheme.lower(), own.netloc.lower()):
            raise PermanentError(
                f"refusing to send {self.name}'s credentials to another host "
                f"({given.netloc or path_or_url[:50]})"
            )
        return path_or_url

    def _base_headers(self) -> Mapping[str, str]:
        headers = self._headers
        if headers is None:
            return {}
        return headers() if callable(headers) else headers
