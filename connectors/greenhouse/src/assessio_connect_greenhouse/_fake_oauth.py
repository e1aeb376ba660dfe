"""Greenhouse's OAuth 2.0 server (auth.greenhouse.io) as its documentation describes it.

- Custom integrations use the client credentials grant: `POST /token`, HTTP Basic
  `client_id:client_secret`, form `grant_type=client_credentials&sub=<user id>`; the token acts
  as that user (harvestdocs.greenhouse.io/docs/authentication).
- Partner integrations cannot use client credentials; they send the customer's browser to
  `GET /authorize?response_type=code&client_id&redirect_uri&state[&scope]`, get `code` (valid
  1 minute) and `state` back on the registered redirect URI, and trade the code at `POST /token`
  (`grant_type=authorization_code`); access tokens live 1 hour, refresh tokens 24 hours, and a
  refresh (`grant_type=refresh_token`) issues a new refresh token in place of the old one
  (harvestdocs.greenhouse.io/docs/harvest-partner-oauth, RFC 6749 §4.1, §5.2, §6).

Access tokens are JWTs signed with a key of this fake's own; Harvest looks them up, it does not
trust their claims.
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
from collections.abc import Callable, Mapping
from hashlib import sha256
from urllib.parse import parse_qs, urlencode

import attrs

from ._fake_http import Reply, html_reply, json_reply
from ._fake_state import FakeData, iso

__all__ = ["SERVICE_ACCOUNT", "Client", "Grant", "OAuthServer"]

SERVICE_ACCOUNT = None
"""The user a token acts as when no `sub` was given or the customer authorised with a service
account: Greenhouse's integration service user, which the fake does not model as a user."""

NO_STORE = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))


@attrs.frozen
class Client:
    """A registered OAuth client: a custom integration or a partner app."""

    client_id: str
    secret: str = attrs.field(repr=False)
    partner: bool
    redirect_uris: tuple[str, ...] = ()


@attrs.define
class Grant:
    """An access token's, refresh token's or authorization code's meaning."""

    client_id: str
    user_id: int | None
    expires_at: float
    scope: str | None = None
    redirect_uri: str | None = None
    """Authorization codes only: the redirect URI they were issued for."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class OAuthServer:
    """`/authorize` and `/token`, and the access tokens Harvest checks (state under `data.lock`)."""

    def __init__(
        self,
        data: FakeData,
        clients: Mapping[str, Client],
        *,
        clock: Callable[[], float],
        token_ttl: float,
        refresh_token_ttl: float,
        code_ttl: float,
        authorizing_user: Callable[[], int | None],
    ) -> None:
        self._data = data
        self._clients = dict(clients)
        self._clock = clock
        self._token_ttl = token_ttl
        self._refresh_ttl = refresh_token_ttl
        self._code_ttl = code_ttl
        self._authorizing_user = authorizing_user
        self._key = secrets.token_bytes(32)
        self.access: dict[str, Grant] = {}
        self.refresh: dict[str, Grant] = {}
        self.codes: dict[str, Grant] = {}
        self.refresh_tokens_issued = 0

    # -- GET /authorize -------------------------------------------------------------------

    def authorize(self, method: str, query: Mapping[str, list[str]]) -> Reply:
        """The customer approves the partner app: redirect to its URI with a code and the state."""
        if method != "GET":
            return html_reply(405, "use GET").with_headers(("Allow", "GET"))
        client_id = _one(query, "client_id")
        redirect_uri = _one(query, "redirect_uri")
        client = self._clients.get(client_id or "")
        # RFC 6749 §4.1.2.1: never redirect to a URI that is not the client's.
        if client is None or not client.partner:
            return html_reply(400, "Unknown client_id: this is not a registered partner app.")
        if redirect_uri is None or redirect_uri not in client.redirect_uris:
            return html_reply(400, "The redirect_uri is not registered for this app.")
        state = _one(query, "state")
        if _one(query, "response_type") != "code":
            return _redirect(redirect_uri, error="unsupported_response_type", state=state)
        code = secrets.token_urlsafe(24)
        with self._data.lock:
            self.codes[code] = Grant(
                client.client_id,
                self._authorizing_user(),
                self._clock() + self._code_ttl,
                scope=_one(query, "scope"),
                redirect_uri=redirect_uri,
            )
        return _redirect(redirect_uri, code=code, state=state)

    # -- POST /token ----------------------------------------------------------------------

    def token(
        self, method: str, client: tuple[str, str] | None, form: Mapping[str, list[str]]
    ) -> Reply:
        """Issue tokens for a client authenticated with HTTP Basic; `form` is the request's
        form body (parameters in the query string count too)."""
        if method != "POST":
            return _oauth_error(405, "invalid_request", "use POST").with_headers(("Allow", "POST"))
        known = self._client(client)
        if known is None:
            return _oauth_error(
                401, "invalid_client", "client authentication failed (HTTP Basic client_id:secret)"
            ).with_headers(("WWW-Authenticate", 'Basic realm="Greenhouse"'))
        grant_type = _one(form, "grant_type")
        if grant_type == "client_credentials":
            return self._client_credentials(known, form)
        if grant_type == "authorization_code":
            return self._authorization_code(known, form)
        if grant_type == "refresh_token":
            return self._refresh(known, form)
        if grant_type is None:
            return _oauth_error(400, "invalid_request", "grant_type is required")
        return _oauth_error(400, "unsupported_grant_type", f"grant_type {grant_type!r}")

    def _client(self, credentials: tuple[str, str] | None) -> Client | None:
        if credentials is None:
            return None
        client_id, secret = credentials
        client = self._clients.get(client_id)
        if client is None or not hmac.compare_digest(secret.encode(), client.secret.encode()):
            return None
        return client

    def _client_credentials(self, client: Client, form: Mapping[str, list[str]]) -> Reply:
        if client.partner:
            return _oauth_error(
                400,
                "unauthorized_client",
                "partner apps use the authorization code grant, not client credentials",
            )
        sub = _one(form, "sub")
        user_id: int | None = SERVICE_ACCOUNT
        if sub is not None:
            user_id = int(sub) if sub.isdigit() and len(sub) < 19 else None
            with self._data.lock:
                if user_id not in self._data.users:
                    return _oauth_error(400, "invalid_request", f"sub {sub!r} is not a user id")
        return self._issue(client, user_id, _one(form, "scope"), refresh=False)

    def _authorization_code(self, client: Client, form: Mapping[str, list[str]]) -> Reply:
        code = _one(form, "code") or ""
        with self._data.lock:
            grant = self.codes.pop(code, None)  # single use, whatever happens next
        if grant is None or grant.client_id != client.client_id:
            return _oauth_error(400, "invalid_grant", "the code is unknown or already used")
        if self._clock() >= grant.expires_at:
            return _oauth_error(400, "invalid_grant", "the code has expired")
        if _one(form, "redirect_uri") != grant.redirect_uri:
            return _oauth_error(400, "invalid_grant", "redirect_uri does not match the code's")
        return self._issue(client, grant.user_id, grant.scope, refresh=True)

    def _refresh(self, client: Client, form: Mapping[str, list[str]]) -> Reply:
        if not client.partner:
            return _oauth_error(400, "unauthorized_client", "this client has no refresh tokens")
        token = _one(form, "refresh_token") or ""
        with self._data.lock:
            grant = self.refresh.get(token)
            if grant is None or grant.client_id != client.client_id:
                return _oauth_error(400, "invalid_grant", "the refresh token is not valid")
            if self._clock() >= grant.expires_at:
                del self.refresh[token]
                return _oauth_error(400, "invalid_grant", "the refresh token has expired")
            del self.refresh[token]  # rotated: the old one stops working
        return self._issue(client, grant.user_id, grant.scope, refresh=True)

    def _issue(
        self, client: Client, user_id: int | None, scope: str | None, *, refresh: bool
    ) -> Reply:
        now = self._clock()
        access = self._jwt(client.client_id, user_id, scope, now)
        body: dict[str, object] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": int(self._token_ttl),
            "expires_at": iso(now + self._token_ttl),
        }
        with self._data.lock:
            self.access[access] = Grant(client.client_id, user_id, now + self._token_ttl, scope)
            if refresh:
                refresh_token = secrets.token_urlsafe(32)
                self.refresh[refresh_token] = Grant(
                    client.client_id, user_id, now + self._refresh_ttl, scope
                )
                self.refresh_tokens_issued += 1
                body["refresh_token"] = refresh_token
            self._data.changed()
        if scope is not None:
            body["scope"] = scope
        return json_reply(200, body, NO_STORE)

    def _jwt(self, client_id: str, user_id: int | None, scope: str | None, now: float) -> str:
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
        claims = {
            "iss": "https://auth.greenhouse.io",
            "sub": "service_account" if user_id is None else str(user_id),
            "client_id": client_id,
            "iat": int(now),
            "exp": int(now + self._token_ttl),
            "jti": secrets.token_hex(8),
        }
        if scope is not None:
            claims["scope"] = scope
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signature = hmac.new(self._key, f"{header}.{payload}".encode(), sha256).digest()
        return f"{header}.{payload}.{_b64(signature)}"

    # -- for Harvest and the controls -----------------------------------------------------

    def check(self, token: str | None) -> Grant | None:
        """The grant of a live access token, or None."""
        if token is None:
            return None
        with self._data.lock:
            grant = self.access.get(token)
        if grant is None or self._clock() >= grant.expires_at:
            return None
        return grant

    def expire_access_tokens(self) -> None:
        with self._data.lock:
            for grant in self.access.values():
                grant.expires_at = float("-inf")

    def revoke_partner_tokens(self) -> None:
        """The customer disconnected the partner app: its refresh and access tokens die."""
        with self._data.lock:
            partners = {c.client_id for c in self._clients.values() if c.partner}
            self.refresh = {t: g for t, g in self.refresh.items() if g.client_id not in partners}
            for grant in self.access.values():
                if grant.client_id in partners:
                    grant.expires_at = float("-inf")


def _one(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _oauth_error(status: int, error: str, description: str) -> Reply:
    return json_reply(status, {"error": error, "error_description": description}, NO_STORE)


def _redirect(uri: str, **params: str | None) -> Reply:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    location = f"{uri}{'&' if '?' in uri else '?'}{query}"
    return Reply(302, b"", "text/plain", (("Location", location),))


def parse_form(raw: bytes) -> dict[str, list[str]]:
    """An `application/x-www-form-urlencoded` body (RFC 6749 §4.1.3, §4.4.2, §6)."""
    return parse_qs(raw.decode("utf-8"), keep_blank_values=True)
