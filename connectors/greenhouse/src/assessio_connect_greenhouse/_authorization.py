"""Starting a partner connection: the authorization URL a customer opens, and its `state`.

A `state` is unguessable, bound to the tenant (it lives in the tenant's connector state),
single-use (taken with a compare-and-set) and expires. Only its SHA-256 is stored, so the
store cannot replay a link that is still valid.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Sequence
from urllib.parse import urlencode

import attrs

from assessio_connect import ConnectorState, dumps, loads

__all__ = [
    "PENDING_KEY",
    "AuthorizationRequests",
    "PendingAuthorization",
    "authorization_url",
    "callback_url",
]

PENDING_KEY = "oauth.pending"
CALLBACK_PATH = "/oauth/callback"
MAX_PENDING = 20
"""Unused links kept at once; starting more forgets the oldest."""


def callback_url(public_url: str, tenant: str) -> str:
    """The redirect URI the daemon serves for `tenant`: register it with Greenhouse."""
    return f"{public_url.rstrip('/')}/connectors/{tenant}{CALLBACK_PATH}"


def authorization_url(
    authorize_url: str,
    client_id: str,
    redirect_uri: str,
    state: str,
    scopes: Sequence[str],
) -> str:
    """Greenhouse's authorization page for this client, coming back to `redirect_uri`."""
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": state,
    }
    if scopes:
        query["scope"] = " ".join(scopes)
    return f"{authorize_url}?{urlencode(query)}"


def _digest(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


@attrs.frozen
class PendingAuthorization:
    """A link handed out and not used yet."""

    digest: str
    redirect_uri: str
    expires_at: float


@attrs.frozen
class _Pending:
    links: tuple[PendingAuthorization, ...] = ()


class AuthorizationRequests:
    """The tenant's outstanding authorization links, in its connector state."""

    def __init__(self, state: ConnectorState, clock: Callable[[], float]) -> None:
        self._state = state
        self._clock = clock

    def begin(self, redirect_uri: str, lifetime: float) -> str:
        """A new `state` for a link coming back to `redirect_uri`, valid for `lifetime` s."""
        token = secrets.token_urlsafe(32)
        link = PendingAuthorization(_digest(token), redirect_uri, self._clock() + lifetime)
        while True:
            version, links = self._load()
            kept = [item for item in links if item.expires_at > self._clock()]
            kept = [*kept[-(MAX_PENDING - 1) :], link]
            if self._save(tuple(kept), version):
                return token

    def take(self, state: str) -> PendingAuthorization | None:
        """The link `state` belongs to, removed so it cannot be used again; None when it is
        unknown, used or expired."""
        wanted = _digest(state)
        while True:
            version, links = self._load()
            found = next(
                (item for item in links if hmac.compare_digest(item.digest, wanted)),
                None,
            )
            if found is None:
                return None
            rest = tuple(item for item in links if item is not found)
            if self._save(rest, version):
                return found if found.expires_at > self._clock() else None

    def _load(self) -> tuple[int, tuple[PendingAuthorization, ...]]:
        entry = self._state.get(PENDING_KEY)
        if entry is None:
            return 0, ()
        try:
            pending = loads(entry.value.encode("utf-8"), _Pending)
        except ValueError:
            return (
                entry.version,
                (),
            )  # unreadable: start afresh rather than lock the tenant out
        return entry.version, pending.links

    def _save(self, links: tuple[PendingAuthorization, ...], version: int) -> bool:
        value = dumps(_Pending(links)).decode("utf-8")
        return self._state.swap(PENDING_KEY, value, expect_version=version) is not None
