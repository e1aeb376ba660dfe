"""Harvest authentication: Basic with the API key (blank password), or OAuth 2.0 client
credentials whose Bearer token is cached until it expires and fetched again after a 401."""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlencode

from assessio_connect.config import Secret
from assessio_connect.errors import (
    APIError,
    ConnectorError,
    PermanentError,
    RetryableError,
    TransportError,
)
from assessio_connect.transport import Transport

from ._config import OAuthCredentials

__all__ = [
    "DEFAULT_TOKEN_LIFETIME",
    "BasicAuth",
    "ClientCredentialsAuth",
    "HarvestAuth",
    "basic_header",
    "error_text",
]

DEFAULT_TOKEN_LIFETIME = 3600.0
"""Seconds a token lives when the token endpoint does not say (Greenhouse documents 1 h)."""
MAX_EXPIRY_MARGIN = 60.0


def basic_header(username: str, password: str = "") -> str:
    """`Basic base64(username:password)`, as Harvest and the partner API expect."""
    raw = f"{username}:{password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def error_text(excerpt: str) -> str:
    """Greenhouse's own words from an error body: `message`, each `errors[]` entry as
    `field: message`, or an OAuth `error`/`error_description`; else the excerpt itself."""
    try:
        data: Any = json.loads(excerpt)
    except ValueError:
        return excerpt
    if not isinstance(data, dict):
        return excerpt
    parts: list[str] = []
    for key in ("message", "error", "error_description"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            parts.append(value.strip())
    errors = data.get("errors")
    if isinstance(errors, list):
        for item in errors:
            if isinstance(item, dict) and isinstance(item.get("message"), str):
                field = item.get("field")
                prefix = f"{field}: " if isinstance(field, str) and field else ""
                parts.append(prefix + item["message"])
            elif isinstance(item, str):
                parts.append(item)
    return "; ".join(parts) or excerpt


class HarvestAuth(Protocol):
    """Produces the `Authorization` header for Harvest calls."""

    def authorization(self) -> str:
        """The header value; may fetch a token (raising `ConnectorError` if that fails)."""

    def refresh(self) -> bool:
        """Forget a cached credential after a 401; True when trying again may help."""


class BasicAuth:
    """Harvest v1/v2: `Authorization: Basic base64("<api key>:")`."""

    def __init__(self, api_key: Secret) -> None:
        self._header = basic_header(api_key.reveal())
        self.reference = api_key.reference

    def __repr__(self) -> str:
        return f"BasicAuth({self.reference})"

    def authorization(self) -> str:
        return self._header

    def refresh(self) -> bool:
        return False


class ClientCredentialsAuth:
    """OAuth 2.0 client credentials: `POST token_url` with Basic `client_id:client_secret` and
    `grant_type=client_credentials` (plus `sub=<user_id>`); the Bearer token is reused until
    shortly before it expires."""

    def __init__(
        self,
        credentials: OAuthCredentials,
        transport: Transport,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._credentials = credentials
        self._transport = transport
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0
        self.fetches = 0
        """How many tokens were fetched (for tests and diagnostics)."""

    def __repr__(self) -> str:
        return f"ClientCredentialsAuth(client_id={self._credentials.client_id!r})"

    def authorization(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._refresh_at:
                self._fetch()
            return f"Bearer {self._token}"

    def refresh(self) -> bool:
        with self._lock:
            self._token = None
        return True

    def _fetch(self) -> None:
        credentials = self._credentials
        form = {"grant_type": "client_credentials"}
        if credentials.user_id is not None:
            form["sub"] = str(credentials.user_id)
        headers = {
            "Authorization": basic_header(
                credentials.client_id, credentials.client_secret.reveal()
            ),
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        try:
            response = self._transport.send(
                "POST", credentials.token_url, body=urlencode(form).encode(), headers=headers
            )
        except (APIError, TransportError) as exc:
            raise self._failure(exc) from None
        token, lifetime = self._parse(response.body)
        self.fetches += 1
        self._token = token
        # Renew a little early so a request does not set out with a token about to expire.
        self._refresh_at = self._clock() + lifetime - min(MAX_EXPIRY_MARGIN, lifetime * 0.1)

    def _parse(self, body: bytes) -> tuple[str, float]:
        url = self._credentials.token_url
        try:
            data: Any = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            data = None
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token.strip():
            raise PermanentError(
                f"the Greenhouse token endpoint {url} answered without an access_token"
            )
        assert isinstance(data, dict)
        token_type = data.get("token_type")
        if isinstance(token_type, str) and token_type.lower() != "bearer":
            raise PermanentError(
                f"the Greenhouse token endpoint {url} issued a {token_type!r} token, not Bearer"
            )
        lifetime = data.get("expires_in")
        if isinstance(lifetime, bool) or not isinstance(lifetime, (int, float)):
            return token, DEFAULT_TOKEN_LIFETIME
        if not math.isfinite(lifetime) or lifetime <= 0:
            return token, DEFAULT_TOKEN_LIFETIME
        return token, float(lifetime)

    def _failure(self, exc: APIError | TransportError) -> ConnectorError:
        url = self._credentials.token_url
        if isinstance(exc, TransportError):
            return RetryableError(f"could not fetch a Greenhouse OAuth token: {exc}")
        detail = error_text(exc.body_excerpt)
        suffix = f": {detail}" if detail else ""
        if exc.status == 429 or exc.status >= 500:
            return RetryableError(
                f"the Greenhouse token endpoint {url} answered HTTP {exc.status}{suffix}",
                retry_after=exc.retry_after,
            )
        return PermanentError(
            f"the Greenhouse token endpoint {url} refused the client credentials "
            f"(HTTP {exc.status}{suffix}); check ats.oauth.client_id and ats.oauth.client_secret"
        )
