"""The `Signature` header: HMAC-SHA256 over `"<t>.<raw body>"`, sent as `t=<unix>,signature=<hex>`.

Assessio uses it on requests an integrator sends (keyed with the integrator-secret) and, where a
tenant chooses so, the integrator checks it on result webhooks. Only raw bytes are signed: sign
exactly what goes on the wire, never a re-serialisation.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Iterable

from .errors import (
    MalformedSignatureError,
    MissingSignatureError,
    SignatureMismatchError,
    TimestampOutOfToleranceError,
)

__all__ = [
    "DEFAULT_TOLERANCE",
    "MAX_HEADER_LENGTH",
    "SIGNATURE_HEADER",
    "compute_signature",
    "parse_header",
    "sign",
    "verify",
]

SIGNATURE_HEADER = "Signature"
DEFAULT_TOLERANCE = 300
MAX_HEADER_LENGTH = 4096
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")
MAX_TIMESTAMP = 10**15 - 1
_TIMESTAMP = re.compile(r"[0-9]{1,15}")

Secret = str | bytes


def _key(secret: Secret) -> bytes:
    if isinstance(secret, str):
        return secret.encode("utf-8")
    if isinstance(secret, (bytes, bytearray)):
        return bytes(secret)
    raise TypeError(f"a secret must be str or bytes, not {type(secret).__name__}")


def _require_bytes(body: object) -> bytes | bytearray | memoryview:
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise TypeError(
            f"body must be the raw bytes that are sent, not {type(body).__name__}; "
            "encode it once and send those same bytes"
        )
    return body


def compute_signature(secret: Secret, timestamp: int, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of `"<timestamp>.<body>"` keyed with `secret`."""
    # One-shot hmac.digest takes OpenSSL's fast path; the message is small enough to join.
    message = b"%d." % timestamp + _require_bytes(body)
    return hmac.digest(_key(secret), message, "sha256").hex()


def sign(secret: Secret, body: bytes, timestamp: int | None = None) -> str:
    """The `Signature` header value for `body`, timestamped now unless `timestamp` is given."""
    t = int(time.time()) if timestamp is None else timestamp
    if not 0 <= t <= MAX_TIMESTAMP:
        raise ValueError(
            f"timestamp must be a non-negative Unix time in seconds (0..{MAX_TIMESTAMP})"
        )
    return f"t={t},signature={compute_signature(secret, t, body)}"


def parse_header(header: str) -> tuple[int, tuple[str, ...]]:
    """Split a header value into its timestamp and its signatures; unknown keys are ignored."""
    if len(header) > MAX_HEADER_LENGTH:
        raise MalformedSignatureError(f"Signature header is longer than {MAX_HEADER_LENGTH} bytes")
    timestamp: int | None = None
    signatures: list[str] = []
    for raw_item in header.split(","):
        item = raw_item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise MalformedSignatureError(
                "Signature header must be 't=<unix seconds>,signature=<hex>'; "
                "found an item without '='"
            )
        if key == "t":
            if timestamp is not None:
                raise MalformedSignatureError("Signature header has more than one 't=' item")
            if not _TIMESTAMP.fullmatch(value):
                raise MalformedSignatureError(
                    "Signature header's 't=' is not a Unix time in seconds"
                )
            timestamp = int(value)
        elif key == "signature":
            if not _HEX_DIGEST.fullmatch(value):
                raise MalformedSignatureError(
                    "Signature header's 'signature=' is not a 64-digit hex HMAC-SHA256"
                )
            signatures.append(value.lower())
    if timestamp is None:
        raise MalformedSignatureError("Signature header has no 't=' item")
    if not signatures:
        raise MalformedSignatureError("Signature header has no 'signature=' item")
    return timestamp, tuple(signatures)


def verify(
    body: bytes,
    header: str | None,
    secrets: Secret | Iterable[Secret],
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> int:
    """Check `header` against `body`; return its timestamp or raise a `SignatureError`.

    Any of several `secrets` (rotation) may match any of several `signature=` entries.
    The timestamp must lie within `tolerance` seconds of `now`, in the past or the future.
    """
    _require_bytes(body)
    keys = [_key(secrets)] if isinstance(secrets, (str, bytes)) else [_key(s) for s in secrets]
    if not keys:
        raise ValueError("verify() needs at least one secret")
    if header is None or not header.strip():
        raise MissingSignatureError("the request has no Signature header")
    timestamp, signatures = parse_header(header)
    prefix = b"%d." % timestamp
    matched = False
    for key in keys:
        mac = hmac.new(key, prefix, hashlib.sha256)
        mac.update(body)
        expected = mac.hexdigest()
        for candidate in signatures:
            # Compare every pair so timing reveals neither which secret nor which entry matched.
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise SignatureMismatchError(
            "the Signature does not match the body under any configured secret "
            "(was the body re-serialised after signing, or is the secret out of date?)"
        )
    current = time.time() if now is None else now
    skew = current - timestamp
    if abs(skew) > tolerance:
        direction = "in the past" if skew > 0 else "in the future"
        raise TimestampOutOfToleranceError(
            f"the Signature's timestamp is {abs(int(skew))} s {direction}; at most {tolerance} s "
            "of clock skew is accepted (check the sender's clock, and sign each retry afresh)"
        )
    return timestamp
