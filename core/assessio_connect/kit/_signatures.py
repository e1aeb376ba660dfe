"""Webhook signature schemes ATSs use, verified against several secrets (rotation), with every
comparison in constant time:

- `BodyHmac`: an HMAC of the raw body in one header, after a prefix
  (Greenhouse `Signature: sha256 <hex>`, `X-Hub-Signature-256: sha256=<hex>`);
- `FieldsHmac`: an HMAC of selected body fields, the signature in the body too
  (Lever: hex HMAC-SHA256 of `token + triggeredAt` in `signature`), with a maximum age;
- `TimestampedHmac`: `t=<unix>,v1=<hex>` over `"<t>.<body>"`, with a maximum age.

Each raises a `SignatureError` subclass (answered 401 by `Routes`) whose message names the
header or field and never holds a secret or the expected digest.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import time
from collections.abc import Iterable, Mapping
from typing import Any, Literal, Protocol

import attrs

from assessio_connect.contract.errors import (
    MalformedSignatureError,
    MissingSignatureError,
    SignatureMismatchError,
    TimestampOutOfToleranceError,
)

__all__ = ["BodyHmac", "FieldsHmac", "SecretValue", "SignedRequest", "TimestampedHmac"]

Encoding = Literal["hex", "base64"]
MAX_SIGNATURE_LENGTH = 4096


class _Revealable(Protocol):
    def reveal(self) -> str: ...


SecretValue = str | bytes | _Revealable
"""A key: text, bytes, or a configuration `Secret` (read with `reveal()`)."""


class SignedRequest(Protocol):
    """What a header scheme reads: a kit `Request` is one."""

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def body(self) -> bytes: ...


def _keys(secrets: SecretValue | Iterable[SecretValue]) -> list[bytes]:
    items: Iterable[Any] = (
        [secrets] if isinstance(secrets, (str, bytes)) or hasattr(secrets, "reveal") else secrets
    )
    keys = []
    for item in items:
        value = item.reveal() if hasattr(item, "reveal") else item
        if isinstance(value, str):
            value = value.encode("utf-8")
        if not isinstance(value, bytes) or not value:
            raise ValueError("a signing secret must be non-empty text or bytes")
        keys.append(value)
    if not keys:
        raise ValueError("give at least one secret to verify with")
    return keys


def _check_algorithm(_inst: object, _attribute: attrs.Attribute[Any], value: str) -> None:
    if value not in hashlib.algorithms_guaranteed or value.startswith(("shake_", "md5")):
        raise ValueError(f"{value!r} is not a usable HMAC digest (e.g. sha256, sha512, sha1)")


def _check_age(_inst: object, _attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and not (value > 0 and math.isfinite(value)):
        raise ValueError(f"max_age must be a positive number of seconds, not {value!r}")


def _names(value: Iterable[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _encode(digest: bytes, encoding: Encoding) -> str:
    return digest.hex() if encoding == "hex" else base64.b64encode(digest).decode("ascii")


def _decode(text: str, encoding: Encoding, size: int, where: str) -> bytes:
    try:
        if encoding == "hex":
            raw = bytes.fromhex(text)
        else:
            raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, binascii.Error, UnicodeEncodeError):
        raise MalformedSignatureError(f"{where} is not {encoding}") from None
    if len(raw) != size:
        raise MalformedSignatureError(f"{where} is not a {size * 8}-bit {encoding} digest")
    return raw


def _matches(keys: list[bytes], message: bytes, algorithm: str, presented: list[bytes]) -> bool:
    # Every key against every signature, so timing tells neither which key nor which entry.
    matched = False
    for key in keys:
        expected = hmac.digest(key, message, algorithm)
        for candidate in presented:
            matched |= hmac.compare_digest(expected, candidate)
    return matched


def _check_age_of(timestamp: float, max_age: float, now: float | None, where: str) -> None:
    current = time.time() if now is None else now
    skew = current - timestamp
    if abs(skew) > max_age:
        direction = "old" if skew > 0 else "in the future"
        raise TimestampOutOfToleranceError(
            f"{where} is {abs(int(skew))} s {direction}; at most {max_age:g} s is accepted "
            "(a replay, or a clock that is off)"
        )


def _mismatch(where: str) -> SignatureMismatchError:
    return SignatureMismatchError(
        f"{where} does not match under any configured secret "
        "(is the secret out of date, or was the body changed after signing?)"
    )


@attrs.frozen
class BodyHmac:
    """`<header>: <prefix><digest>`, the digest an HMAC of the raw body.

    Greenhouse: `BodyHmac("Signature", prefix="sha256 ")`; GitHub-style:
    `BodyHmac("X-Hub-Signature-256", prefix="sha256=")`."""

    header: str
    prefix: str = ""
    algorithm: str = attrs.field(default="sha256", validator=_check_algorithm)
    encoding: Encoding = "hex"

    def sign(self, body: bytes, secret: SecretValue) -> str:
        """The header's value for `body` (for your own tests and for senders)."""
        (key,) = _keys(secret)
        return self.prefix + _encode(hmac.digest(key, body, self.algorithm), self.encoding)

    def verify(self, request: SignedRequest, secrets: SecretValue | Iterable[SecretValue]) -> None:
        """Raise a `SignatureError` unless the header signs the body under one of `secrets`."""
        keys = _keys(secrets)
        value = request.headers.get(self.header)
        if value is None or not value.strip():
            raise MissingSignatureError(f"the request has no {self.header} header")
        value = value.strip()
        if len(value) > MAX_SIGNATURE_LENGTH or not value.lower().startswith(self.prefix.lower()):
            shape = f"{self.prefix}<{self.encoding} HMAC-{self.algorithm.upper()} of the body>"
            raise MalformedSignatureError(f"{self.header} must look like '{shape}'")
        size = hashlib.new(self.algorithm).digest_size
        presented = _decode(value[len(self.prefix) :].strip(), self.encoding, size, self.header)
        if not _matches(keys, bytes(request.body), self.algorithm, [presented]):
            raise _mismatch(self.header)


@attrs.frozen
class FieldsHmac:
    """An HMAC of body fields joined by `separator`, compared with the body's
    `signature_field`; with `timestamp_field`, a signature older (or newer) than `max_age`
    seconds is refused as well.

    Lever: `FieldsHmac(("token", "triggeredAt"), timestamp_field="triggeredAt",
    timestamp_unit="ms", max_age=300)`. Strings are used as they are and integers in
    decimal, as JavaScript's `token + triggeredAt` joins them; any other type is refused."""

    fields: tuple[str, ...] = attrs.field(converter=_names)
    signature_field: str = "signature"
    separator: str = ""
    algorithm: str = attrs.field(default="sha256", validator=_check_algorithm)
    encoding: Encoding = "hex"
    timestamp_field: str | None = None
    timestamp_unit: Literal["s", "ms"] = "s"
    max_age: float | None = attrs.field(default=None, validator=_check_age)

    def __attrs_post_init__(self) -> None:
        if not self.fields:
            raise ValueError("name at least one signed field")
        if (self.timestamp_field is None) != (self.max_age is None):
            raise ValueError("give timestamp_field and max_age together")

    def message(self, data: Mapping[str, Any]) -> bytes:
        """The signed text: each field's value, joined by the separator."""
        parts = []
        for name in self.fields:
            value = data.get(name)
            if value is None:
                raise MissingSignatureError(f"the body has no {name!r} field to verify")
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                raise MalformedSignatureError(f"the body's {name!r} must be a string or integer")
            parts.append(str(value))
        return self.separator.join(parts).encode("utf-8")

    def sign(self, data: Mapping[str, Any], secret: SecretValue) -> str:
        """The signature of `data`'s fields (for your own tests and for senders)."""
        (key,) = _keys(secret)
        return _encode(hmac.digest(key, self.message(data), self.algorithm), self.encoding)

    def verify(
        self,
        data: Any,
        secrets: SecretValue | Iterable[SecretValue],
        *,
        now: float | None = None,
    ) -> None:
        """Raise a `SignatureError` unless `data` (the parsed JSON body) is signed under one of
        `secrets` and, with a timestamp field, recent enough at `now` (default: the clock)."""
        keys = _keys(secrets)
        if not isinstance(data, Mapping):
            raise MalformedSignatureError("a signed body must be a JSON object")
        given = data.get(self.signature_field)
        if given is None or given == "":
            raise MissingSignatureError(f"the body has no {self.signature_field!r} field")
        if not isinstance(given, str) or len(given) > MAX_SIGNATURE_LENGTH:
            raise MalformedSignatureError(f"the body's {self.signature_field!r} is not a digest")
        message = self.message(data)
        size = hashlib.new(self.algorithm).digest_size
        where = f"the body's {self.signature_field!r}"
        presented = _decode(given.strip(), self.encoding, size, where)
        if not _matches(keys, message, self.algorithm, [presented]):
            raise _mismatch(where)
        if self.timestamp_field is not None and self.max_age is not None:
            stamp = data.get(self.timestamp_field)
            if isinstance(stamp, bool) or not isinstance(stamp, (int, float)):
                raise MalformedSignatureError(
                    f"the body's {self.timestamp_field!r} is not a number"
                )
            seconds = stamp / 1000 if self.timestamp_unit == "ms" else float(stamp)
            _check_age_of(seconds, self.max_age, now, f"the body's {self.timestamp_field!r}")


@attrs.frozen
class TimestampedHmac:
    """`<header>: t=<unix seconds>,v1=<digest>` where the digest is an HMAC of
    `"<t>.<raw body>"`; several `v1=` entries may be sent (the sender's own rotation). A
    timestamp more than `max_age` seconds from now, either way, is refused."""

    header: str
    timestamp_key: str = "t"
    signature_key: str = "v1"
    max_age: float = attrs.field(default=300.0, validator=_check_age)
    algorithm: str = attrs.field(default="sha256", validator=_check_algorithm)
    encoding: Encoding = "hex"

    def sign(self, body: bytes, secret: SecretValue, timestamp: int) -> str:
        """The header's value for `body` at `timestamp` (for your own tests and senders)."""
        (key,) = _keys(secret)
        digest = _encode(hmac.digest(key, b"%d." % timestamp + body, self.algorithm), self.encoding)
        return f"{self.timestamp_key}={timestamp},{self.signature_key}={digest}"

    def verify(
        self,
        request: SignedRequest,
        secrets: SecretValue | Iterable[SecretValue],
        *,
        now: float | None = None,
    ) -> None:
        """Raise a `SignatureError` unless the header signs the body under one of `secrets`
        with a timestamp within `max_age` of `now` (default: the clock)."""
        keys = _keys(secrets)
        value = request.headers.get(self.header)
        if value is None or not value.strip():
            raise MissingSignatureError(f"the request has no {self.header} header")
        if len(value) > MAX_SIGNATURE_LENGTH:
            raise MalformedSignatureError(f"{self.header} is longer than {MAX_SIGNATURE_LENGTH}")
        timestamps: list[str] = []
        signatures: list[str] = []
        for item in value.split(","):
            key, _, text = item.strip().partition("=")
            if key == self.timestamp_key:
                timestamps.append(text.strip())
            elif key == self.signature_key:
                signatures.append(text.strip())
        shape = f"{self.timestamp_key}=<unix seconds>,{self.signature_key}=<{self.encoding}>"
        stamp = timestamps[0] if len(timestamps) == 1 else ""
        if not (stamp.isascii() and stamp.isdigit()) or not signatures:
            raise MalformedSignatureError(f"{self.header} must look like '{shape}'")
        if len(stamp) > 15:
            raise MalformedSignatureError(f"{self.header}'s timestamp is not a Unix time")
        size = hashlib.new(self.algorithm).digest_size
        presented = [_decode(s, self.encoding, size, self.header) for s in signatures]
        message = stamp.encode("ascii") + b"." + bytes(request.body)
        if not _matches(keys, message, self.algorithm, presented):
            raise _mismatch(self.header)
        _check_age_of(int(stamp), self.max_age, now, f"{self.header}'s timestamp")
