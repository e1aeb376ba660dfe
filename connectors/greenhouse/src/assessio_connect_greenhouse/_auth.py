"""Harvest v3 authentication: the `HarvestAuth` seam the Harvest client calls, and the custom
integration's client-credentials token, cached until shortly before it expires."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ._tokens import TokenEndpoint

__all__ = ["ClientCredentialsAuth", "HarvestAuth", "basic_header", "renew_at"]

MAX_EXPIRY_MARGIN = 60.0


def basic_header(username: str, password: str = "") -> str:
    """`Basic base64(username:password)`: OAuth client authentication and the partner API."""
    raw = f"{username}:{password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def renew_at(issued: float, expires_at: float) -> float:
    """When to stop using an access token: a little before it expires, so that a request
    does not set out with a token about to die."""
    lifetime = max(expires_at - issued, 0.0)
    return expires_at - min(MAX_EXPIRY_MARGIN, lifetime * 0.1)


class HarvestAuth(Protocol):
    """Produces the `Authorization` header of Harvest calls."""

    def authorization(self) -> str:
        """The header value; may fetch or refresh a token (raising `ConnectorError`)."""

    def rejected(self, authorization: str) -> None:
        """Harvest answered 401 to `authorization` (expired or revoked early): forget it."""


class ClientCredentialsAuth:
    """A custom integration's Bearer token (client credentials, `sub` = `user_id`), kept in
    memory until shortly before it expires; each replica fetches its own."""

    def __init__(
        self, endpoint: TokenEndpoint, user_id: int, *, clock: Callable[[], float]
    ) -> None:
        self._endpoint = endpoint
        self._user_id = user_id
        self._clock = clock
        self._lock = threading.Lock()
        self._header: str | None = None
        self._renew_at = 0.0

    def __repr__(self) -> str:
        return f"ClientCredentialsAuth({self._endpoint.url}, user {self._user_id})"

    def authorization(self) -> str:
        with self._lock:
            if self._header is None or self._clock() >= self._renew_at:
                issued = self._clock()
                grant = self._endpoint.client_credentials(self._user_id)
                self._header = f"Bearer {grant.access_token}"
                self._renew_at = renew_at(issued, grant.expires_at)
            return self._header

    def rejected(self, authorization: str) -> None:
        with self._lock:
            if self._header == authorization:
                self._header = None
