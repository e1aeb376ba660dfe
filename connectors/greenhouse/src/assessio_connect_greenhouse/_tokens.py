"""Greenhouse's OAuth token endpoint (`POST {auth_url}/token`): client credentials, an
authorization code, or a refresh token in, an access token (and for the last two a new
refresh token) out. The client authenticates with HTTP Basic `client_id:client_secret`."""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

import attrs

from assessio_connect import AtsHttp, PermanentError, Secret, Transport

from ._auth import basic_header
from ._reading import error_text

__all__ = ["DEFAULT_ACCESS_LIFETIME", "GrantRefused", "TokenEndpoint", "TokenGrant"]

DEFAULT_ACCESS_LIFETIME = 3600.0
"""Seconds an access token lives when the answer does not say (Greenhouse documents 1 h)."""
REFUSALS = (400, 401, 403)
"""The statuses of an OAuth error answer (RFC 6749 §5.2), read here for what to tell the
operator; the kit turns every other failure into a retryable or permanent error."""


class GrantRefused(PermanentError):
    """The token endpoint refused the grant itself (`invalid_grant`): the code or refresh token
    is used, expired or revoked, and only a new authorization helps."""


@attrs.frozen
class TokenGrant:
    """What the token endpoint issued; times are on the connector's clock."""

    access_token: str = attrs.field(repr=False)
    expires_at: float
    refresh_token: str | None = attrs.field(default=None, repr=False)
    refresh_expires_at: float | None = None
    """Only when the answer says how long the refresh token lives."""


def _seconds(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) and value > 0 else None


_EPOCH_FLOOR = 1e9
"""A number at least this big is a moment (epoch seconds), below it a lifetime in seconds."""


def _instant(value: object, now: float) -> float | None:
    """When a token expires, from an `expires_at` or `expires` value: an ISO 8601 time, epoch
    seconds, or seconds from now. Greenhouse's v3 reference names `expires` (a string) in its
    `access_token` schema, integrators report `expires_at`, and RFC 6749 has `expires_in`."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value) or value <= 0:
            return None
        return float(value) if value >= _EPOCH_FLOOR else now + float(value)
    if not isinstance(value, str):
        return None
    if value.strip().isdigit():
        return _instant(int(value.strip()), now)
    try:
        when = datetime.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.timestamp()


class TokenEndpoint:
    """Asks `{auth_url}/token` for tokens on behalf of one OAuth client."""

    def __init__(
        self,
        url: str,
        client_id: str,
        client_secret: Secret,
        transport: Transport,
        *,
        clock: Callable[[], float],
    ) -> None:
        self.url = url
        self._http = AtsHttp(
            transport,
            url,
            headers={"Authorization": basic_header(client_id, client_secret.reveal())},
            name="the Greenhouse token endpoint",
        )
        self._clock = clock

    def __repr__(self) -> str:
        return f"TokenEndpoint({self.url})"

    def client_credentials(self, user_id: int) -> TokenGrant:
        """A custom integration's token, acting as Greenhouse user `user_id` (`sub`)."""
        form = {"grant_type": "client_credentials", "sub": str(user_id)}
        return self._request(form, hide=(), what="a token")

    def authorization_code(self, code: str, redirect_uri: str) -> TokenGrant:
        """The tokens for an authorization code that came back to `redirect_uri`."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        return self._request(form, hide=(code,), what="tokens for the authorization code")

    def refresh(self, refresh_token: str) -> TokenGrant:
        """New tokens for a refresh token (which stops working once they are issued)."""
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return self._request(form, hide=(refresh_token,), what="a token with the refresh token")

    def _request(self, form: Mapping[str, str], *, hide: tuple[str, ...], what: str) -> TokenGrant:
        response = self._http.request(
            "POST",
            self.url,
            body=urlencode(form).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            what=f"ask Greenhouse for {what}",
            accept=REFUSALS,
        )
        if response.status in REFUSALS:
            raise self._refusal(response.status, response.body, hide, what)
        return self._grant(response.body)

    def _refusal(
        self, status: int, body: bytes, hide: tuple[str, ...], what: str
    ) -> PermanentError:
        detail = error_text(body)
        for secret in hide:
            detail = detail.replace(secret, "[redacted]")
        said = f"the Greenhouse token endpoint {self.url} answered HTTP {status}: {detail}"
        if status == 401 or "invalid_client" in detail:
            return PermanentError(
                f"{said}; it refused the client credentials: check ats.oauth.client_id and "
                "ats.oauth.client_secret"
            )
        if "invalid_grant" in detail:
            return GrantRefused(f"{said}; the grant is used, expired or revoked")
        return PermanentError(f"could not get {what}: {said}")

    def _grant(self, body: bytes) -> TokenGrant:
        try:
            data: Any = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            data = None
        if not isinstance(data, dict):
            raise PermanentError(
                f"the Greenhouse token endpoint {self.url} answered no JSON object"
            )
        token = data.get("access_token")
        if not isinstance(token, str) or not token.strip():
            raise PermanentError(
                f"the Greenhouse token endpoint {self.url} answered without an access_token"
            )
        token_type = data.get("token_type")
        if isinstance(token_type, str) and token_type.lower() != "bearer":
            raise PermanentError(
                f"the Greenhouse token endpoint {self.url} issued a {token_type!r} token, "
                "not Bearer"
            )
        now = self._clock()
        lifetime = _seconds(data.get("expires_in"))
        expires_at = now + lifetime if lifetime else None
        for key in ("expires_at", "expires"):
            if expires_at is None:
                expires_at = _instant(data.get(key), now)
        refresh = data.get("refresh_token")
        refresh_lifetime = _seconds(data.get("refresh_token_expires_in"))
        return TokenGrant(
            access_token=token,
            expires_at=expires_at if expires_at is not None else now + DEFAULT_ACCESS_LIFETIME,
            refresh_token=refresh if isinstance(refresh, str) and refresh.strip() else None,
            refresh_expires_at=now + refresh_lifetime if refresh_lifetime else None,
        )
