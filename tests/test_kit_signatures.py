"""The kit's webhook signature schemes: documented vectors, round trips, and that any change to
what is signed, or an unknown key, or an old timestamp, is refused (hypothesis)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from assessio_connect import BodyHmac, FieldsHmac, Request, Secret, TimestampedHmac
from assessio_connect.contract.errors import (
    MalformedSignatureError,
    MissingSignatureError,
    SignatureError,
    SignatureMismatchError,
    TimestampOutOfToleranceError,
)

keys = st.text(min_size=1, max_size=40)
bodies = st.binary(max_size=300)
GITHUB = BodyHmac("X-Hub-Signature-256", prefix="sha256=")
GREENHOUSE = BodyHmac("Signature", prefix="sha256 ")
LEVER = FieldsHmac(
    ("token", "triggeredAt"), timestamp_field="triggeredAt", timestamp_unit="ms", max_age=300
)
STRIPE_LIKE = TimestampedHmac("Hireboard-Signature", max_age=300)


def _signed(scheme: BodyHmac, body: bytes, value: str) -> Request:
    return Request("POST", "/", headers={scheme.header: value}, body=body)


def test_the_documented_github_vector_verifies() -> None:
    # Source: GitHub Docs, "Validating webhook deliveries", "Testing the webhook payload
    # validation" (https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries):
    # secret "It's a Secret to Everybody", payload "Hello, World!".
    secret = "It's a Secret to Everybody"
    body = b"Hello, World!"
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert GITHUB.sign(body, secret) == expected
    GITHUB.verify(_signed(GITHUB, body, expected), secret)
    GITHUB.verify(_signed(GITHUB, body, expected.upper().replace("SHA256", "sha256")), secret)


def test_levers_documented_algorithm() -> None:
    # Source: Lever's API documentation, "Securing webhooks" (https://hire.lever.co/developer/
    # documentation): concatenate token and triggeredAt, HMAC-SHA256 keyed with the signature
    # token, compare the hexdigest to `signature`. The fields below are the page's example
    # delivery's; its signing token is not published, so this one is ours.
    token = "be58f711f349c7780e4579cd7c63341ac6f881e4dccc3154"
    triggered_at = 1431454330072
    key = "our-signature-token"
    expected = hmac.new(key.encode(), f"{token}{triggered_at}".encode(), hashlib.sha256)
    body = {"token": token, "triggeredAt": triggered_at, "signature": expected.hexdigest()}
    assert LEVER.sign(body, key) == expected.hexdigest()
    LEVER.verify(body, [key], now=triggered_at / 1000 + 299)
    with pytest.raises(TimestampOutOfToleranceError, match="is 301 s old"):
        LEVER.verify(body, [key], now=triggered_at / 1000 + 301)
    with pytest.raises(TimestampOutOfToleranceError, match="in the future"):
        LEVER.verify(body, [key], now=triggered_at / 1000 - 301)


@given(keys, bodies, st.sampled_from(["hex", "base64"]), st.sampled_from(["sha256", "sha512"]))
def test_a_body_signature_verifies_and_any_change_is_refused(
    key: str, body: bytes, encoding: Any, algorithm: str
) -> None:
    scheme = BodyHmac("X-Sig", prefix="v=", encoding=encoding, algorithm=algorithm)
    value = scheme.sign(body, key)
    scheme.verify(_signed(scheme, body, value), key)
    with pytest.raises(SignatureMismatchError, match="X-Sig does not match"):
        scheme.verify(_signed(scheme, body + b"!", value), key)
    with pytest.raises(SignatureMismatchError):
        scheme.verify(_signed(scheme, body, value), key + "x")


@given(keys, bodies, st.data())
def test_any_flipped_bit_of_a_signature_is_refused(key: str, body: bytes, data: Any) -> None:
    digest = bytearray(hmac.digest(key.encode(), body, "sha256"))
    bit = data.draw(st.integers(0, len(digest) * 8 - 1))
    digest[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(SignatureMismatchError):
        GREENHOUSE.verify(_signed(GREENHOUSE, body, "sha256 " + digest.hex()), key)


@given(st.lists(keys, min_size=1, max_size=4, unique=True), st.data(), bodies)
def test_rotation_accepts_any_configured_key_and_no_other(
    configured: list[str], data: Any, body: bytes
) -> None:
    signer = data.draw(st.sampled_from(configured))
    value = GREENHOUSE.sign(body, signer)
    GREENHOUSE.verify(_signed(GREENHOUSE, body, value), configured)
    GREENHOUSE.verify(_signed(GREENHOUSE, body, value), [Secret("env:K", k) for k in configured])
    stranger = data.draw(keys.filter(lambda k: k not in configured))
    with pytest.raises(SignatureMismatchError):
        GREENHOUSE.verify(_signed(GREENHOUSE, body, GREENHOUSE.sign(body, stranger)), configured)


@given(
    st.text(max_size=60),
    st.integers(min_value=0, max_value=2**53),
    keys,
    st.integers(0, 299),
)
def test_fields_signatures_round_trip_and_cover_each_field(
    token: str, triggered_at: int, key: str, age: int
) -> None:
    body: dict[str, Any] = {"token": token, "triggeredAt": triggered_at, "data": {"x": 1}}
    body["signature"] = LEVER.sign(body, key)
    now = triggered_at / 1000 + age
    LEVER.verify(body, key, now=now)
    LEVER.verify({**body, "data": {"changed": True}}, key, now=now)  # not signed, as Lever says
    with pytest.raises(SignatureMismatchError, match="'signature' does not match"):
        LEVER.verify({**body, "token": token + "x"}, key, now=now)
    with pytest.raises(SignatureError):
        LEVER.verify({**body, "triggeredAt": triggered_at + 1}, key, now=now)


@given(bodies, keys, st.integers(0, 10**10), st.integers(-300, 300))
def test_timestamped_signatures_round_trip_within_their_age(
    body: bytes, key: str, timestamp: int, skew: int
) -> None:
    value = STRIPE_LIKE.sign(body, key, timestamp)
    request = _signed(BodyHmac(STRIPE_LIKE.header), body, value)
    STRIPE_LIKE.verify(request, key, now=timestamp + skew)
    with pytest.raises(TimestampOutOfToleranceError):
        STRIPE_LIKE.verify(request, key, now=timestamp + 301 * (1 if skew >= 0 else -1))
    other = STRIPE_LIKE.sign(body, key, timestamp + 1)
    mixed = other.split(",")[0] + "," + value.split(",")[1]
    with pytest.raises(SignatureMismatchError):
        STRIPE_LIKE.verify(_signed(BodyHmac(STRIPE_LIKE.header), body, mixed), key, now=timestamp)


def test_a_timestamped_header_may_carry_several_signatures() -> None:
    body = b"{}"
    value = STRIPE_LIKE.sign(body, "new-key", 1_700_000_000)
    stamp, signature = value.split(",")
    old = STRIPE_LIKE.sign(body, "old-key", 1_700_000_000).split(",")[1]
    header = f"{stamp},{old},{signature}"
    request = _signed(BodyHmac(STRIPE_LIKE.header), body, header)
    STRIPE_LIKE.verify(request, "new-key", now=1_700_000_000)
    STRIPE_LIKE.verify(request, "old-key", now=1_700_000_000)


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ("", MissingSignatureError, "has no X-Hub-Signature-256 header"),
        ("md5=abc", MalformedSignatureError, "must look like 'sha256=<hex HMAC-SHA256"),
        ("sha256=xyz", MalformedSignatureError, "is not hex"),
        ("sha256=abcd", MalformedSignatureError, "is not a 256-bit hex digest"),
        ("sha256=" + "a" * 5000, MalformedSignatureError, "must look like"),
    ],
)
def test_malformed_headers_say_what_is_wrong(
    value: str, error: type[SignatureError], message: str
) -> None:
    with pytest.raises(error, match=message.replace("(", r"\(")):
        GITHUB.verify(_signed(GITHUB, b"{}", value), "key")


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        ([], MalformedSignatureError, "must be a JSON object"),
        ({"token": "t", "triggeredAt": 1}, MissingSignatureError, "no 'signature' field"),
        ({"triggeredAt": 1, "signature": "ab"}, MissingSignatureError, "no 'token' field"),
        (
            {"token": 1.5, "triggeredAt": 1, "signature": "a" * 64},
            MalformedSignatureError,
            "'token' must be a string or integer",
        ),
        (
            {"token": "t", "triggeredAt": True, "signature": "a" * 64},
            MalformedSignatureError,
            "'triggeredAt' must be a string or integer",
        ),
    ],
)
def test_malformed_bodies_say_what_is_wrong(
    body: Any, error: type[SignatureError], message: str
) -> None:
    with pytest.raises(error, match=message):
        LEVER.verify(body, "key", now=0)


def test_no_message_shows_a_key_or_the_expected_digest() -> None:
    key = "the-real-signing-key-42"
    body = b'{"a": 1}'
    expected = hmac.digest(key.encode(), body, "sha256")
    for value in ("sha256=" + "0" * 64, "sha256=" + base64.b64encode(expected).decode()):
        with pytest.raises(SignatureError) as caught:
            GITHUB.verify(_signed(GITHUB, body, value), ["another-key", key])
        assert key not in str(caught.value)
        assert expected.hex() not in str(caught.value)


def test_schemes_refuse_weak_or_impossible_settings() -> None:
    with pytest.raises(ValueError, match="not a usable HMAC digest"):
        BodyHmac("X", algorithm="md5")
    with pytest.raises(ValueError, match="together"):
        FieldsHmac(("token",), timestamp_field="at")
    with pytest.raises(ValueError, match="at least one secret"):
        GITHUB.verify(_signed(GITHUB, b"", "sha256=" + "0" * 64), [])
    with pytest.raises(ValueError, match="non-empty"):
        GITHUB.verify(_signed(GITHUB, b"", "sha256=" + "0" * 64), [""])


@given(st.text(max_size=80))
def test_any_header_text_is_either_verified_or_refused_with_a_signature_error(
    value: str,
) -> None:
    assume("\n" not in value)
    for scheme in (GITHUB, STRIPE_LIKE):
        try:
            request = _signed(BodyHmac(scheme.header), b"{}", value)
            if isinstance(scheme, TimestampedHmac):
                scheme.verify(request, "key", now=0)
            else:
                scheme.verify(request, "key")
        except SignatureError:
            pass
