"""`HarvestClient`: one tenant's calls to Greenhouse's Harvest v3 over the kit's `AtsHttp`,
with the OAuth token on each (a 401 is tried once more with a new token), list reads followed
through `Link: <…?cursor=…>; rel="next"`, and requests paced by `X-RateLimit-*`."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from assessio_connect import AtsHttp, LinkHeaderPages, RateLimiter, Transport
from assessio_connect.kit import (
    PageRequest,
    fetch_page,
    iterate_pages,
    retry_after_seconds,
    status_error,
)

from ._auth import HarvestAuth
from ._reading import error_text

__all__ = ["API_PREFIX", "MAX_PER_PAGE", "PAGES", "HarvestClient", "HarvestLimiter"]

API_PREFIX = "/v3"
MAX_PER_PAGE = 500
PAGES = LinkHeaderPages()
"""Harvest v3 pages only by `Link: <…?cursor=…>; rel="next"`, the cursor then being the only
query parameter (harvestdocs.greenhouse.io/docs/pagination): the link is followed as given,
on Harvest's own host."""
ACCESS_HINT = (
    "check [...ats.oauth]: the OAuth client needs the scope for this call and its user the "
    "permission"
)
FAILURES = range(400, 600)
"""Error answers, turned into the kit's errors here so that they carry Greenhouse's own words
(`message`, `errors[]`) rather than its JSON."""
CEILING = 100.0
"""Requests per second (and at once) before Harvest has said anything: a ceiling only, since
each answer's `X-RateLimit-*` then sets the pace."""


class HarvestLimiter(RateLimiter):
    """The kit's rate limiter, told Harvest's budget: Harvest reports `X-RateLimit-Limit` and
    `X-RateLimit-Remaining` but not when its window ends, so each answer is taken to open a
    whole `window` (`rate_limit_window`). The remaining requests are spread over it, none
    remaining (or a 429 without `Retry-After`) waits a window, and a wait longer than one
    window becomes a `RetryableError` for the daemon to come back later."""

    def __init__(
        self,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(
            CEILING,
            int(CEILING),
            max_wait=window,
            backoff_initial=window,
            name="Greenhouse",
            clock=clock,
            sleep=sleep,
        )
        self.window = window

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        if not any(name.lower() == "x-ratelimit-reset" for name in headers):
            headers = {**headers, "X-RateLimit-Reset": f"{self.window:g}"}
        super().observe(status, headers)


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
        self.limiter = HarvestLimiter(window, clock=clock, sleep=sleep)
        self.http = AtsHttp(
            transport, base_url + API_PREFIX, limiter=self.limiter, name="Greenhouse"
        )
        self._write_headers = {"On-Behalf-Of": str(on_behalf_of)} if on_behalf_of else {}

    def __repr__(self) -> str:
        return f"HarvestClient({self.base_url}{API_PREFIX}, {self.auth!r})"

    def read_all(
        self,
        resource: str,
        query: Mapping[str, str],
        *,
        action: str,
        per_page: int = MAX_PER_PAGE,
    ) -> list[Any]:
        """Every item of a filtered list: the filters and `per_page` on the first request,
        then each next page by its link alone, as Harvest v3 requires."""
        pages = iterate_pages(
            self._getter(action), PAGES, self._url(resource), {**query, "per_page": str(per_page)}
        )
        return [item for page in pages for item in page.items]

    def first_page(
        self, resource: str, query: Mapping[str, str], *, action: str, per_page: int
    ) -> list[Any]:
        """The first page of a filtered list only."""
        query = {**query, "per_page": str(per_page)}
        return list(fetch_page(self._getter(action), PAGES, self._url(resource), query).items)

    def find(self, resource: str, item_id: str, *, action: str) -> dict[str, Any] | None:
        """One item by id (`?ids=`), or None when Harvest has no such item."""
        for item in self.first_page(resource, {"ids": item_id}, action=action, per_page=1):
            if isinstance(item, dict) and str(item.get("id")) == item_id:
                return item
        return None

    def write(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any],
        *,
        action: str,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        """POST/PATCH a JSON body to `/v3{path}` (`{name}` filled from `params`); returns the
        answer's JSON, or None for an empty one."""
        response = self._send(
            method,
            path,
            what=action,
            params=params,
            json_body=dict(body),
            headers=self._write_headers,
        )
        return self.http.decode(response, action) if response.body.strip() else None

    def _url(self, resource: str) -> str:
        return self.http.url(f"/{resource}")

    def _getter(self, action: str) -> Callable[[PageRequest], Any]:
        return lambda request: self._send("GET", request.full_url, what=action)

    def _send(
        self,
        method: str,
        path_or_url: str,
        *,
        what: str,
        headers: Mapping[str, str] | None = None,
        **options: Any,
    ) -> Any:
        """One call with the tenant's token; a 401 (a token expired or revoked early) is tried
        once more with a new one. Returns the kit's response; a failure is the kit's error,
        in Greenhouse's own words."""
        for _ in range(2):
            authorization = self.auth.authorization()
            response = self.http.request(
                method,
                path_or_url,
                headers={**(headers or {}), "Authorization": authorization},
                what=what,
                accept=FAILURES,
                **options,
            )
            if response.status != 401:
                break
            self.auth.rejected(authorization)
        if response.status not in FAILURES:
            return response
        raise status_error(
            response.status,
            error_text(response.body).encode(),
            what=what,
            retry_after=retry_after_seconds(response.headers),
            secrets=[authorization],
            credentials_hint=ACCESS_HINT,
        )
