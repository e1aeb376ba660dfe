"""Authenticating Assessio's result webhook (the contract's decision 5) and reading its body.

A tenant secures its `resultUpdateUrl` with option A, an `integrator-api-key` header (or
`Authorization: Bearer <key>`), option B, a `Signature` header, or both. Several keys or
secrets may be valid at once so they can be rotated without downtime.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping

import attrs

from . import codec
from .errors import SignatureError, WebhookAuthenticationError
from .models import Result
from .signing import DEFAULT_TOLERANCE, SIGNATURE_HEADER, verify

__all__ = ["API_KEY_HEADER", "WebhookAuth", "parse_result"]

API_KEY_HEADER = "integrator-api-key"


def _as_tuple(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


@attrs.frozen
class WebhookAuth:
    """What a tenant's result webhook must present; the secrets never appear in its repr."""

    api_keys: tuple[str, ...] = attrs.field(default=(), converter=_as_tuple, repr=False)
    signing_secrets: tuple[str, ...] = attrs.field(default=(), converter=_as_tuple, repr=False)
    tolerance: int = DEFAULT_TOLERANCE

    def __attrs_post_init__(self) -> None:
        if not self.api_keys and not self.signing_secrets:
            raise ValueError(
                "a result webhook needs an integrator-api-key, a signing secret, or both"
            )

    def authenticate(
        self, headers: Mapping[str, str], body: bytes, *, now: float | None = None
    ) -> None:
        """Raise `WebhookAuthenticationError` unless every configured check passes."""
        if self.api_keys:
            presented = _header(headers, API_KEY_HEADER)
            if presented is None:
                bearer = _header(headers, "Authorization") or ""
                scheme, _, token = bearer.partition(" ")
                presented = token.strip() if scheme.lower() == "bearer" else None
            if not presented:
                raise WebhookAuthenticationError(f"no {API_KEY_HEADER} header")
            if not self.matches_api_key(presented):
                raise WebhookAuthenticationError(f"the {API_KEY_HEADER} is not valid")
        if self.signing_secrets:
            try:
                verify(
                    body,
                    _header(headers, SIGNATURE_HEADER),
                    self.signing_secrets,
                    tolerance=self.tolerance,
                    now=now,
                )
            except SignatureError as exc:
                raise WebhookAuthenticationError(str(exc)) from None

    def matches_api_key(self, presented: str) -> bool:
        """Constant-time check of `presented` against every configured key."""
        given = presented.encode("utf-8")
        matched = False
        for key in self.api_keys:
            matched |= hmac.compare_digest(given, key.encode("utf-8"))
        return matched


def parse_result(body: bytes) -> Result:
    """Read a result webhook's body, or raise `PayloadError` listing every problem."""
    return codec.loads(body, Result, what="result")
