"""Which OAuth refresh token to present to Workday, and where a rotated one is kept.

When Workday answers a refresh with a new `refresh_token`, the old one may be revoked, so the
new one is written to the connector's durable state (shared by every replica) together with a
digest of the configured token it replaced. On start, and before every refresh, the stored
token wins over the configured one unless the configured one has changed since (an operator
put in a fresh token). A lease lets one replica at a time refresh.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from assessio_connect import ConnectorState, StoreError

__all__ = ["LEASE_KEY", "LEASE_SECONDS", "STATE_KEY", "RefreshTokens", "StateSource"]

STATE_KEY = "oauth.refresh_token"
"""State key of the rotated refresh token, as JSON `{"v", "refresh_token", "configured"}`."""
LEASE_KEY = "oauth.refresh_lease"
LEASE_SECONDS = 60.0
"""How long a replica may hold the refresh lease (longer than one token request can take)."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


StateSource = Callable[[], "ConnectorState | None"]
"""Gives the connector's state when asked (None: the context has none)."""


class RefreshTokens:
    """The refresh token to present: the configured one, or the rotated one in the state.

    `state` is asked for the state at each use, since a daemon may attach it to the context
    after the connector is made; without one, a rotated token is kept in memory only.
    Not thread-safe on its own: `OAuthSession` calls it under its lock."""

    def __init__(
        self,
        configured: str,
        state: StateSource,
        *,
        log: Callable[..., None],
    ) -> None:
        self._configured_digest = _digest(configured)
        self._state_source = state
        self._log = log
        self._token = configured
        self._version = 0
        """Version of the state entry `_token` came from (0: none)."""
        self._unsaved = False
        """A rotated token that could not be written yet (it is newer than the stored one)."""

    def __repr__(self) -> str:
        return f"RefreshTokens(durable={self._state is not None})"

    @property
    def _state(self) -> ConnectorState | None:
        return self._state_source()

    @property
    def from_state(self) -> bool:
        """Whether the current token is a rotated one (stored or unsaved), not the configured."""
        return self._version > 0 or self._unsaved

    def try_lease(self) -> bool:
        """Take the refresh lease; False while another replica holds it. Without a state, or
        when the store cannot be reached, there is nothing to coordinate with: True."""
        state = self._state
        if state is None:
            return True
        try:
            return state.try_lease(LEASE_KEY, seconds=LEASE_SECONDS)
        except StoreError as exc:
            self._log("workday.refresh_lease_unavailable", level="warning", error=str(exc))
            return True

    def release_lease(self) -> None:
        """Give the refresh lease back (best effort: it expires anyway)."""
        state = self._state
        if state is None:
            return
        try:
            state.release_lease(LEASE_KEY)
        except StoreError as exc:
            self._log("workday.refresh_lease_unavailable", level="warning", error=str(exc))

    def current(self) -> str:
        """The token to present now, re-read from the state (another replica may have rotated
        it); an unsaved rotated token is written first."""
        state = self._state
        if state is None:
            return self._token
        if self._unsaved:
            self._save()
            return self._token
        try:
            entry = state.get(STATE_KEY)
        except StoreError as exc:
            self._log("workday.refresh_token_unread", level="warning", error=str(exc))
            return self._token
        stored = _parse(entry.value) if entry is not None else None
        if entry is None or stored is None:
            return self._token
        if stored.get("configured") != self._configured_digest:
            # ats.refresh_token was replaced since this token was stored: the new one wins.
            return self._token
        if entry.version != self._version:
            self._token = str(stored["refresh_token"])
            self._version = entry.version
        return self._token

    def rotated(self, token: str) -> None:
        """Workday answered the refresh with a new refresh token: use it from now on, durably."""
        if token == self._token:
            return
        self._token = token
        if self._state is None:
            self._log(
                "workday.refresh_token_rotated",
                level="warning",
                durable=False,
                advice="Workday issued a new refresh token; without the daemon's store it is "
                "kept in memory only, so a restart goes back to ats.refresh_token",
            )
            return
        self._unsaved = True
        self._save()

    def _save(self) -> None:
        state = self._state
        assert state is not None
        value = json.dumps(
            {"v": 1, "refresh_token": self._token, "configured": self._configured_digest},
            separators=(",", ":"),
        )
        try:
            entry = state.swap(STATE_KEY, value, expect_version=self._version)
            if entry is None:  # written meanwhile by a replica whose lease had expired:
                entry = state.put(STATE_KEY, value)  # ours is the newest Workday issued
        except StoreError as exc:
            self._log(
                "workday.refresh_token_unsaved",
                level="error",
                error=str(exc),
                advice="Workday issued a new refresh token that could not be stored; it is "
                "kept in memory and stored as soon as the store answers",
            )
            return
        self._version = entry.version
        self._unsaved = False
        self._log("workday.refresh_token_rotated", durable=True)


def _parse(value: str) -> dict[str, Any] | None:
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if (
        not isinstance(data, dict)
        or data.get("v") != 1
        or not isinstance(data.get("refresh_token"), str)
        or not data["refresh_token"]
    ):
        return None
    return data
