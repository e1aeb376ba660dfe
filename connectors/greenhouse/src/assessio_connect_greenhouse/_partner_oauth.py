"""A partner integration's connection to one customer's Greenhouse (authorization code grant).

Access tokens live an hour and refresh tokens a day, and each refresh replaces the refresh
token. So the newest tokens are kept in the tenant's connector state (shared by every replica,
surviving restarts) the moment they are issued; one replica at a time refreshes, holding a
lease; and the refresh token is renewed when half its life is gone, even while the tenant is
idle (`keep_alive`). When Greenhouse refuses the refresh token (it lapsed, or the customer
disconnected the app) the connection is marked lapsed, and every use says how to reconnect.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from assessio_connect import (
    ConnectorState,
    PayloadError,
    PermanentError,
    RetryableError,
    dumps,
    loads,
)

from ._auth import renew_at
from ._tokens import GrantRefused, TokenEndpoint, TokenGrant

if TYPE_CHECKING:
    from ._config import OAuthSettings

__all__ = [
    "CONNECTION_KEY",
    "REFRESH_LEASE",
    "ConnectionContext",
    "PartnerConnection",
    "StoredTokens",
    "reconnect_command",
]

CONNECTION_KEY = "oauth.connection"
REFRESH_LEASE = "oauth.refresh"
LEASE_SECONDS = 60.0
"""Longer than a token request can take, so a lease never ends under a refresh in flight."""
WAIT_FOR_OTHER_REPLICA = 10.0
"""Seconds a call waits for another replica's refresh before asking to be retried."""
RETRY_WHILE_DISCONNECTED = 300.0


def reconnect_command(tenant: str) -> str:
    """The command that (re)connects `tenant` to Greenhouse."""
    return f"assessio-connect greenhouse connect --config <daemon.toml> --tenant {tenant}"


def _when(timestamp: float) -> str:
    moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


class ConnectionContext(Protocol):
    """What a connection needs of the connector's context (a `ConnectorContext` has it)."""

    @property
    def tenant(self) -> str: ...

    @property
    def state(self) -> ConnectorState: ...

    def now(self) -> float: ...

    def log(self, event: str, **fields: Any) -> None: ...


@attrs.frozen
class StoredTokens:
    """The tenant's newest tokens as kept in its connector state."""

    access_token: str = attrs.field(repr=False)
    access_expires_at: float
    refresh_token: str = attrs.field(repr=False)
    refresh_expires_at: float
    issued_at: float
    lapsed: str | None = None
    """Why the connection stopped working, once Greenhouse refused the refresh token."""

    def describe(self) -> str:
        """What an operator needs to know, without a secret."""
        if self.lapsed is not None:
            return f"lapsed: {self.lapsed}"
        return (
            f"connected; tokens renewed {_when(self.issued_at)}, refresh token valid until "
            f"{_when(self.refresh_expires_at)}"
        )


class PartnerConnection:
    """The tenant's authorization-code tokens, used as Harvest's `HarvestAuth`."""

    def __init__(
        self,
        settings: OAuthSettings,
        endpoint: TokenEndpoint,
        context: ConnectionContext,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._endpoint = endpoint
        self._context = context
        self._sleep = sleep
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._cached: StoredTokens | None = None
        self._rejected: str | None = None
        self._reported_version = -1

    def __repr__(self) -> str:
        return f"PartnerConnection({self._context.tenant!r})"

    # HarvestAuth

    def authorization(self) -> str:
        """`Bearer <access token>`, refreshed first when it is (about to be) expired."""
        with self._lock:
            tokens = self._cached
            if tokens is None or not self._access_usable(tokens):
                tokens = self._refresh(self._access_usable)
            return f"Bearer {tokens.access_token}"

    def rejected(self, authorization: str) -> None:
        """Harvest refused `authorization` (revoked early?): use another access token."""
        with self._lock:
            self._rejected = authorization.removeprefix("Bearer ")
            self._cached = None

    # Connecting, keeping alive

    def connect(self, code: str, redirect_uri: str) -> StoredTokens:
        """Exchange the code Greenhouse sent to `redirect_uri` and keep the tokens."""
        issued = self._context.now()
        grant = self._endpoint.authorization_code(code, redirect_uri)
        if grant.refresh_token is None:
            raise PermanentError(
                "Greenhouse issued no refresh token for the authorization code, so the "
                "connection could not be kept alive"
            )
        tokens = self._tokens(grant, issued, grant.refresh_token)
        with self._lock:
            self._save(tokens)
            self._cached = tokens
            self._rejected = None
        self._context.log(
            "greenhouse.oauth_connected",
            refresh_token_valid_until=_when(tokens.refresh_expires_at),
        )
        return tokens

    def keep_alive(self) -> None:
        """Renew the refresh token when half of its life is gone (idle tenants too), and say
        in the log when the tenant is not connected."""
        with self._lock:
            tokens = self.stored()
            if tokens is None or tokens.lapsed is not None:
                self._report(tokens)
                return
            self._refresh(self._refresh_token_fresh)

    def stored(self) -> StoredTokens | None:
        """The tokens in the connector state, if the tenant was ever connected."""
        entry = self._context.state.get(CONNECTION_KEY)
        if entry is None:
            return None
        try:
            return loads(entry.value.encode("utf-8"), StoredTokens)
        except PayloadError:
            return None

    def problem(self) -> str | None:
        """Why Harvest cannot be called for this tenant now, with the command that fixes it."""
        tokens = self.stored()
        command = reconnect_command(self._context.tenant)
        if tokens is None:
            return (
                f"tenant {self._context.tenant} is not connected to Greenhouse yet: run {command}"
            )
        if tokens.lapsed is not None:
            return (
                f"the Greenhouse connection of tenant {self._context.tenant} lapsed "
                f"({tokens.lapsed}): reconnect with {command}"
            )
        return None

    # Internals (called holding self._lock)

    def _access_usable(self, tokens: StoredTokens) -> bool:
        fresh = self._context.now() < renew_at(tokens.issued_at, tokens.access_expires_at)
        return fresh and tokens.lapsed is None and tokens.access_token != self._rejected

    def _refresh_token_fresh(self, tokens: StoredTokens) -> bool:
        left = tokens.refresh_expires_at - self._context.now()
        return left > self._settings.refresh_token_lifetime / 2 and tokens.lapsed is None

    def _refresh(self, good: Callable[[StoredTokens], bool]) -> StoredTokens:
        """Tokens that satisfy `good`: the stored ones, or new ones from a refresh made under
        the tenant's refresh lease (another replica's refresh is waited for)."""
        state = self._context.state
        deadline = self._monotonic() + WAIT_FOR_OTHER_REPLICA
        while True:
            tokens = self._usable_stored()
            if good(tokens):
                self._cached = tokens
                return tokens
            if state.try_lease(REFRESH_LEASE, seconds=LEASE_SECONDS):
                try:
                    return self._refresh_holding_lease(good)
                finally:
                    state.release_lease(REFRESH_LEASE)
            if self._monotonic() >= deadline:
                raise RetryableError(
                    "another replica is refreshing the Greenhouse token and has not finished",
                    retry_after=5.0,
                )
            self._sleep(0.05)

    def _refresh_holding_lease(self, good: Callable[[StoredTokens], bool]) -> StoredTokens:
        tokens = self._usable_stored()
        if good(tokens):  # another replica refreshed while we waited for the lease
            self._cached = tokens
            return tokens
        issued = self._context.now()
        try:
            grant = self._endpoint.refresh(tokens.refresh_token)
        except GrantRefused as exc:
            self._save(attrs.evolve(tokens, lapsed=f"Greenhouse refused the refresh token: {exc}"))
            self._report(self.stored())
            raise self._unavailable() from None
        renewed = self._tokens(grant, issued, grant.refresh_token or tokens.refresh_token)
        if grant.refresh_token is None:  # not rotated: the old one keeps its expiry
            renewed = attrs.evolve(renewed, refresh_expires_at=tokens.refresh_expires_at)
        self._save(renewed)  # at once: the refresh token we sent no longer works
        self._cached = renewed
        self._rejected = None
        self._context.log(
            "greenhouse.oauth_refreshed",
            refresh_token_valid_until=_when(renewed.refresh_expires_at),
        )
        return renewed

    def _usable_stored(self) -> StoredTokens:
        tokens = self.stored()
        if tokens is None or tokens.lapsed is not None:
            self._report(tokens)
            raise self._unavailable()
        return tokens

    def _unavailable(self) -> RetryableError:
        problem = self.problem() or "the Greenhouse connection is unavailable"
        return RetryableError(problem, retry_after=RETRY_WHILE_DISCONNECTED)

    def _tokens(self, grant: TokenGrant, issued: float, refresh_token: str) -> StoredTokens:
        lifetime = self._settings.refresh_token_lifetime
        return StoredTokens(
            access_token=grant.access_token,
            access_expires_at=grant.expires_at,
            refresh_token=refresh_token,
            refresh_expires_at=grant.refresh_expires_at or issued + lifetime,
            issued_at=issued,
        )

    def _save(self, tokens: StoredTokens) -> None:
        self._context.state.put(CONNECTION_KEY, dumps(tokens).decode("utf-8"))

    def _report(self, tokens: StoredTokens | None) -> None:
        """Log, once per stored state, that the tenant cannot reach Harvest and why."""
        entry = self._context.state.get(CONNECTION_KEY)
        version = 0 if entry is None else entry.version
        if version == self._reported_version:
            return
        self._reported_version = version
        lapsed = tokens is not None and tokens.lapsed is not None
        self._context.log(
            "greenhouse.oauth_lapsed" if lapsed else "greenhouse.oauth_not_connected",
            level="error" if lapsed else "warning",
            reason=self.problem(),
            reconnect=reconnect_command(self._context.tenant),
        )
