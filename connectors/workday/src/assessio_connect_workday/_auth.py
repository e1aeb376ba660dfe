"""How the connector authenticates to Workday: an OAuth 2.0 access token obtained with the
tenant's refresh token, or the integration system user's name and password.

OAuth: `POST {base}/ccx/oauth2/{tenant}/token` with the form `grant_type=refresh_token` and
`refresh_token=...`, the API client's id and secret as HTTP Basic; the access token is sent as
`Authorization: Bearer ...` to RaaS and to SOAP, cached until shortly before it expires (or for
`DEFAULT_TOKEN_TTL` when the answer has no `expires_in`), and renewed once when Workday answers
401. A new `refresh_token` in the answer replaces the old one durably (`RefreshTokens`). ISU:
HTTP Basic `user@tenant:password` for RaaS and a WS-Security UsernameToken in the SOAP header.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from typing import Protocol
from urllib.parse import urlencode

from assessio_connect import AtsHttp, PermanentError, RetryableError, Transport
from assessio_connect.kit import status_error

from ._config import WorkdayConfig
from ._refresh_token import RefreshTokens, StateSource

__all__ = ["Auth", "IsuAuth", "OAuthSession", "make_auth"]

DEFAULT_TOKEN_TTL = 900.0
"""Seconds an access token is trusted when Workday does not say (`expires_in` is optional, and
WSDL-generated clients such as go-workday read no such field); a 401 renews it sooner."""
LEASE_BUSY_RETRY = 2.0
"""Seconds to wait when another replica is renewing the refresh token."""
EARLY_REFRESH = 60.0
"""Renew this many seconds before expiry (at most a fifth of the token's lifetime)."""


def _basic(user: str, password: str) -> str:
    pair = f"{user}:{password}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


class Auth(Protocol):
    """What the connector asks of either way of authenticating."""

    mode: str

    def http_headers(self, *, soap: bool) -> dict[str, str]:
        """Headers for one request (may fetch an access token first)."""

    def username_token(self) -> tuple[str, str] | None:
        """(user@tenant, password) for a WS-Security header, or None."""

    def renew(self, used: dict[str, str]) -> bool:
        """After a 401 to a request sent with `used`: True when a retry may succeed."""

    def refused(self) -> str:
        """What to tell the operator when Workday keeps refusing the credentials."""


class IsuAuth:
    """An integration system user: Basic for RaaS, WS-Security for SOAP; nothing to renew."""

    mode = "isu"

    def __init__(self, config: WorkdayConfig) -> None:
        if config.password is None:
            raise ValueError('auth = "isu" needs a password')
        self._user = config.isu_username
        self._password = config.password

    def http_headers(self, *, soap: bool) -> dict[str, str]:
        if soap:
            return {}
        return {"Authorization": _basic(self._user, self._password.reveal())}

    def username_token(self) -> tuple[str, str] | None:
        return (self._user, self._password.reveal())

    def renew(self, used: dict[str, str]) -> bool:
        return False

    def refused(self) -> str:
        return (
            f"Workday refused the integration system user {self._user}: check ats.username and "
            "ats.password, and that the account is active and its password has not expired"
        )


class OAuthSession:
    """Access tokens from the tenant's token endpoint, cached and renewed; thread-safe."""

    mode = "oauth"

    def __init__(
        self,
        config: WorkdayConfig,
        transport: Transport,
        *,
        clock: Callable[[], float],
        log: Callable[..., None],
        state: StateSource = lambda: None,
    ) -> None:
        if config.client_id is None or config.client_secret is None:
            raise ValueError('auth = "oauth" needs client_id and client_secret')
        if config.refresh_token is None:
            raise ValueError('auth = "oauth" needs refresh_token')
        self._url = config.oauth_token_url
        self._client_id = config.client_id
        self._client_secret = config.client_secret
        self._refresh_tokens = RefreshTokens(config.refresh_token.reveal(), state, log=log)
        self._transport = transport
        self._clock = clock
        self._log = log
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0
        self.issued = 0
        """Access tokens obtained so far."""

    def __repr__(self) -> str:
        return f"OAuthSession({self._url})"

    def http_headers(self, *, soap: bool) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}

    def username_token(self) -> tuple[str, str] | None:
        return None

    def renew(self, used: dict[str, str]) -> bool:
        with self._lock:
            if self._token is not None and used.get("Authorization") == f"Bearer {self._token}":
                self._token = None  # refused: fetch another on the next request
        return True

    def refused(self) -> str:
        return (
            "Workday refused a freshly issued access token: check that the API client's scopes "
            "cover Recruiting and the report, and that the refresh token's account may use them"
        )

    def token(self) -> str:
        """A current access token, fetched when there is none or it is about to expire."""
        with self._lock:
            if self._token is None or self._clock() >= self._renew_at:
                self._fetch()
            assert self._token is not None
            return self._token

    def _fetch(self) -> None:
        if not self._refresh_tokens.try_lease():
            raise RetryableError(
                "another replica is renewing the Workday access token; trying again shortly",
                retry_after=LEASE_BUSY_RETRY,
            )
        try:
            self._fetch_leased(self._refresh_tokens.current())
        finally:
            self._refresh_tokens.release_lease()

    def _fetch_leased(self, refresh_token: str) -> None:
        body = urlencode({"grant_type": "refresh_token", "refresh_token": refresh_token}).encode(
            "ascii"
        )
        headers = {
            "Authorization": _basic(self._client_id, self._client_secret.reveal()),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        # No answer, 429 and 5xx are retryable errors from AtsHttp; refusals are read here.
        what = "get a Workday access token"
        secrets = [refresh_token, self._client_secret.reveal()]
        http = AtsHttp(
            self._transport, self._url, name="Workday", secrets=secrets, clock=self._clock
        )
        response = http.request(
            "POST", self._url, body=body, headers=headers, what=what, accept=(400, 401, 403)
        )
        if response.status in (400, 401, 403):
            which = (
                "the refresh token Workday issued last (kept in the daemon's store)"
                if self._refresh_tokens.from_state
                else "ats.refresh_token"
            )
            refused = status_error(response.status, response.body, what=what, secrets=secrets)
            raise PermanentError(
                f"{refused}; check ats.client_id and ats.client_secret; if {which} was revoked, "
                "generate a new refresh token in Workday (Manage Refresh Tokens for "
                "Integrations) and put it in ats.refresh_token"
            )
        data = http.decode(response, "the token request")
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise PermanentError(
                f"Workday's token endpoint {self._url} answered without an access_token; "
                "check ats.token_url"
            )
        expires_in = data.get("expires_in")
        ttl = DEFAULT_TOKEN_TTL
        if isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool):
            ttl = max(float(expires_in), 0.0)
        rotated = data.get("refresh_token")
        if isinstance(rotated, str) and rotated:
            self._refresh_tokens.rotated(rotated)
        self._token = token
        self._renew_at = self._clock() + ttl - min(EARLY_REFRESH, ttl / 5)
        self.issued += 1
        self._log("workday.token_issued", expires_in=round(ttl, 3))


def make_auth(
    config: WorkdayConfig,
    transport: Transport,
    *,
    clock: Callable[[], float],
    log: Callable[..., None],
    state: StateSource = lambda: None,
) -> Auth:
    """The `Auth` that `config.auth` asks for (`state` gives where a rotated refresh token
    is kept)."""
    if config.auth == "isu":
        return IsuAuth(config)
    return OAuthSession(config, transport, clock=clock, log=log, state=state)
