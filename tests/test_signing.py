"""Tests for `assessio_connect.signing`: the `Signature` header (`t=<unix>,signature=<hex>`).

Every digest the module produces is checked against an independent reference computed here with
`hmac`/`hashlib` directly, and every "this verifies" test has a negative twin that proves the same
code path rejects a wrong digest.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from assessio_connect.contract.errors import (
    MalformedSignatureError,
    MissingSignatureError,
    SignatureError,
    SignatureMismatchError,
    TimestampOutOfToleranceError,
)
from assessio_connect.contract.signing import (
    DEFAULT_TOLERANCE,
    MAX_HEADER_LENGTH,
    compute_signature,
    parse_header,
    sign,
    verify,
)

# The contract's worked example (from Assessio's Java sample).
EXAMPLE_SECRET = "TODO"
EXAMPLE_T = 1539756759
EXAMPLE_BODY = b"{}"
EXAMPLE_SIGNATURE = "d4ac43f53240c27b4729b088e9cff14b0dddbd5246ce0f4c48b6a73529d3724a"

SECRET = "s3cr3t-Åsa-rotation-key-0001"
OTHER_SECRET = "a-completely-different-secret"
T = 1_700_000_000
BODY = b'{"resultId":"6ef46985-9ca2-4c65-a184-47fa0d332246","score":71}'

HEX_DIGITS = "0123456789abcdef"

# Timestamps well inside what the header grammar carries.
timestamps = st.integers(min_value=0, max_value=10**12 - 1)
secrets_text = st.text(min_size=1)


def reference_signature(secret: str | bytes, t: int, body: bytes) -> str:
    """Independent HMAC-SHA256 over `"<t>.<body>"`, written from the contract, not the module."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    return hmac.new(key, str(t).encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def header_for(signature: str, t: int = T) -> str:
    return f"t={t},signature={signature}"


def hmac_effective_key(secret: str) -> bytes:
    """The key block HMAC-SHA256 really uses (RFC 2104): long keys hashed, then NUL-padded.

    Two secrets with the same effective key (e.g. "a" and "a\\x00") give identical MACs; that is
    a property of HMAC, not of the module, so the "different secret" property excludes them.
    """
    key = secret.encode("utf-8")
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    return key.ljust(64, b"\x00")


def assert_message_clean(
    exc: BaseException, *secrets: str | bytes, digests: tuple[str, ...]
) -> None:
    """No secret and no expected digest may leak into an error message."""
    texts = (str(exc), repr(exc), *(str(arg) for arg in exc.args))
    for text in texts:
        for secret in secrets:
            shown = secret.decode("utf-8", "replace") if isinstance(secret, bytes) else secret
            assert shown not in text
        for digest in digests:
            assert digest not in text
            assert digest.upper() not in text


def verify_fails(
    exc_type: type[SignatureError],
    body: bytes | bytearray | memoryview,
    header: str,
    secrets: Sequence[str | bytes],
    **kwargs: Any,
) -> SignatureError:
    """`verify` raises exactly `exc_type`, and its message leaks no secret and no digest."""
    with pytest.raises(exc_type) as info:
        verify(body, header, secrets, **kwargs)  # type: ignore[arg-type]
    match = re.search(r"t\s*=\s*([0-9]+)", header)
    t = int(match.group(1)) if match else T
    raw = bytes(body)
    digests = tuple(reference_signature(secret, t, raw) for secret in secrets)
    assert_message_clean(info.value, *distinctive(*secrets), digests=digests)
    return info.value


def _baseline_messages() -> str:
    """The messages verify() gives for a secret that cannot appear in them by chance."""
    key = "🗝-baseline-key-🗝"
    header = f"t={T},signature={reference_signature(key, T, BODY)}"
    messages = []
    for body, now in ((b"other", T), (BODY, T + 10_000), (BODY, T - 10_000)):
        try:
            verify(body, header, [key], now=now)
        except SignatureError as exc:
            messages.append(repr(exc))  # the class name is fixed text too
    assert len(messages) == 3
    assert all(key not in message for message in messages)
    return "\n".join(messages)


BASELINE_MESSAGES = _baseline_messages()


def distinctive(*secrets: str | bytes) -> tuple[str | bytes, ...]:
    """The secrets whose presence in a message would be a leak, not a coincidence.

    Hypothesis also draws strings from this file's own literals (e.g. "Signatur"), which may
    be words of a fixed message; a secret that is part of the secret-free baseline messages
    proves nothing either way, nor does one shorter than four characters.
    """
    return tuple(
        s
        for s in secrets
        if len(s) >= 4
        and (s.decode("utf-8", "replace") if isinstance(s, bytes) else s) not in BASELINE_MESSAGES
    )


# --- the contract's worked example ------------------------------------------------------------


def test_worked_example_sign_produces_exact_header() -> None:
    assert sign(EXAMPLE_SECRET, EXAMPLE_BODY, EXAMPLE_T) == (
        f"t={EXAMPLE_T},signature={EXAMPLE_SIGNATURE}"
    )


def test_worked_example_matches_independent_reference() -> None:
    assert reference_signature(EXAMPLE_SECRET, EXAMPLE_T, EXAMPLE_BODY) == EXAMPLE_SIGNATURE
    assert compute_signature(EXAMPLE_SECRET, EXAMPLE_T, EXAMPLE_BODY) == EXAMPLE_SIGNATURE


def test_worked_example_verifies() -> None:
    header = f"t={EXAMPLE_T},signature={EXAMPLE_SIGNATURE}"
    assert verify(EXAMPLE_BODY, header, [EXAMPLE_SECRET], now=EXAMPLE_T) == EXAMPLE_T
    assert verify(EXAMPLE_BODY, header, EXAMPLE_SECRET, now=EXAMPLE_T) == EXAMPLE_T


def test_worked_example_negative_twin() -> None:
    header = f"t={EXAMPLE_T},signature={EXAMPLE_SIGNATURE}"
    verify_fails(SignatureMismatchError, b"{ }", header, [EXAMPLE_SECRET], now=EXAMPLE_T)
    verify_fails(SignatureMismatchError, EXAMPLE_BODY, header, ["TODO2"], now=EXAMPLE_T)


def test_sign_without_timestamp_uses_now() -> None:
    import time

    before = int(time.time())
    header = sign(SECRET, BODY)
    after = int(time.time())
    t, (signature,) = parse_header(header)
    assert before <= t <= after
    assert signature == reference_signature(SECRET, t, BODY)
    assert verify(BODY, header, [SECRET]) == t


def test_sign_rejects_negative_timestamp() -> None:
    with pytest.raises(ValueError, match="negative"):
        sign(SECRET, BODY, -1)


# --- non-ASCII and arbitrary bodies against the reference --------------------------------------

NON_ASCII_BODIES = [
    pytest.param(
        json.dumps({"name": "Åsa Öberg"}, ensure_ascii=False).encode("utf-8"), id="asa-oberg"
    ),
    pytest.param(json.dumps({"name": "Björn"}, ensure_ascii=False).encode("utf-8"), id="bjorn"),
    pytest.param("Åsa Öberg och Björn 🎉👩🏽‍💻".encode(), id="emoji"),
    pytest.param(bytes(range(256)), id="all-bytes"),
    pytest.param(b"\xff\xfe\x00\x80 not utf-8 \xc3", id="invalid-utf8"),
    pytest.param(b"", id="empty"),
]


@pytest.mark.parametrize("body", NON_ASCII_BODIES)
def test_non_ascii_bodies_match_reference_and_verify(body: bytes) -> None:
    expected = reference_signature(SECRET, T, body)
    header = sign(SECRET, body, T)
    assert header == f"t={T},signature={expected}"
    assert compute_signature(SECRET, T, body) == expected
    assert verify(body, header, [SECRET], now=T) == T
    # Negative twin: one byte more makes the same header fail.
    verify_fails(SignatureMismatchError, body + b" ", header, [SECRET], now=T)


@pytest.mark.parametrize("secret", ["Åsa-Öberg-hemlighet", "🔑🔑", "Björn"])
def test_non_ascii_secret_is_keyed_as_utf8(secret: str) -> None:
    expected = reference_signature(secret.encode("utf-8"), T, BODY)
    assert sign(secret, BODY, T) == header_for(expected)
    # The same secret given as UTF-8 bytes is the same key.
    assert sign(secret.encode("utf-8"), BODY, T) == header_for(expected)
    assert verify(BODY, header_for(expected), [secret.encode("utf-8")], now=T) == T
    verify_fails(
        SignatureMismatchError,
        BODY,
        header_for(expected),
        [secret.encode("latin-1", "replace")],
        now=T,
    )


# --- body types -------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["{}", {"a": 1}], ids=["str", "dict"])
def test_sign_rejects_non_bytes_body(body: Any) -> None:
    with pytest.raises(TypeError):
        sign(SECRET, body, T)


@pytest.mark.parametrize("body", ["{}", {"a": 1}], ids=["str", "dict"])
def test_verify_rejects_non_bytes_body(body: Any) -> None:
    header = sign(SECRET, b"{}", T)
    with pytest.raises(TypeError):
        verify(body, header, [SECRET], now=T)


def test_bytearray_and_memoryview_accepted() -> None:
    expected = header_for(reference_signature(SECRET, T, BODY))
    assert sign(SECRET, bytearray(BODY), T) == expected  # type: ignore[arg-type]
    assert sign(SECRET, memoryview(BODY), T) == expected  # type: ignore[arg-type]
    assert verify(bytearray(BODY), expected, [SECRET], now=T) == T  # type: ignore[arg-type]
    assert verify(memoryview(BODY), expected, [SECRET], now=T) == T  # type: ignore[arg-type]
    tampered = bytearray(BODY)
    tampered[0] ^= 0x01
    verify_fails(SignatureMismatchError, tampered, expected, [SECRET], now=T)
    verify_fails(SignatureMismatchError, memoryview(bytes(tampered)), expected, [SECRET], now=T)


# --- missing and malformed headers ------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "", "   "])
def test_missing_header(header: str | None) -> None:
    with pytest.raises(MissingSignatureError):
        verify(BODY, header, [SECRET], now=T)


GOOD = reference_signature(SECRET, T, BODY)


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(f"signature={GOOD}", id="no-t"),
        pytest.param(f"t={T},t={T},signature={GOOD}", id="two-t"),
        pytest.param(f"t=abc,signature={GOOD}", id="non-numeric-t"),
        pytest.param(f"t=-{T},signature={GOOD}", id="negative-t"),
        pytest.param(f"t={T}.5,signature={GOOD}", id="fractional-t"),
        pytest.param(f"t=,signature={GOOD}", id="empty-t"),
        pytest.param(f"t={T}", id="no-signature"),
        pytest.param(f"t={T},v0={GOOD}", id="only-unknown-key"),
        pytest.param(f"t={T},signature={'g' * 64}", id="non-hex-signature"),
        pytest.param(f"t={T},signature={GOOD[:-1]}", id="signature-too-short"),
        pytest.param(f"t={T},signature={GOOD}0", id="signature-too-long"),
        pytest.param(f"t={T},signature=", id="empty-signature"),
        pytest.param(f"t={T},signature={GOOD},garbage", id="item-without-equals"),
        pytest.param(f"t={T},={GOOD}", id="empty-key"),
        pytest.param(f"t={T};signature={GOOD}", id="wrong-separator"),
        pytest.param(f"t={T},signature={GOOD},signature=xyz", id="one-bad-among-good"),
    ],
)
def test_malformed_header(header: str) -> None:
    with pytest.raises(MalformedSignatureError) as info:
        verify(BODY, header, [SECRET], now=T)
    assert_message_clean(info.value, SECRET, digests=(GOOD,))


def test_header_over_max_length_rejected_even_if_valid() -> None:
    valid = header_for(GOOD)
    padded = valid + "," + "x=" + "a" * (MAX_HEADER_LENGTH - len(valid) - 2)
    assert len(padded) == MAX_HEADER_LENGTH + 1
    with pytest.raises(MalformedSignatureError):
        verify(BODY, padded, [SECRET], now=T)
    spaced = valid + " " * (MAX_HEADER_LENGTH + 1 - len(valid))
    with pytest.raises(MalformedSignatureError):
        verify(BODY, spaced, [SECRET], now=T)


def test_header_at_max_length_accepted() -> None:
    valid = header_for(GOOD)
    padded = valid + "," + "x=" + "a" * (MAX_HEADER_LENGTH - len(valid) - 3)
    assert len(padded) == MAX_HEADER_LENGTH
    assert verify(BODY, padded, [SECRET], now=T) == T
    verify_fails(SignatureMismatchError, BODY + b"x", padded, [SECRET], now=T)


# --- mismatches -------------------------------------------------------------------------------


def test_wrong_secret() -> None:
    header = sign(OTHER_SECRET, BODY, T)
    with pytest.raises(SignatureMismatchError) as info:
        verify(BODY, header, [SECRET], now=T)
    assert_message_clean(
        info.value,
        SECRET,
        OTHER_SECRET,
        digests=(reference_signature(SECRET, T, BODY),),
    )
    assert verify(BODY, header, [OTHER_SECRET], now=T) == T


@pytest.mark.parametrize("index", [0, len(BODY) // 2, len(BODY) - 1])
def test_tampered_body_one_byte_flipped(index: int) -> None:
    header = sign(SECRET, BODY, T)
    tampered = bytearray(BODY)
    tampered[index] ^= 0x20
    with pytest.raises(SignatureMismatchError) as info:
        verify(bytes(tampered), header, [SECRET], now=T)
    assert_message_clean(
        info.value, SECRET, digests=(reference_signature(SECRET, T, bytes(tampered)),)
    )
    assert verify(BODY, header, [SECRET], now=T) == T


def test_tampered_timestamp() -> None:
    signature = reference_signature(SECRET, T, BODY)
    tampered = header_for(signature, T + 1)
    with pytest.raises(SignatureMismatchError) as info:
        verify(BODY, tampered, [SECRET], now=T)
    assert_message_clean(info.value, SECRET, digests=(reference_signature(SECRET, T + 1, BODY),))
    assert verify(BODY, header_for(signature, T), [SECRET], now=T) == T


def test_signature_over_reserialised_body() -> None:
    data = {"resultId": "6ef46985", "score": 71, "name": "Åsa Öberg"}
    sent = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    reserialised = json.dumps(data).encode("utf-8")  # spaces and \\u escapes
    assert json.loads(sent) == json.loads(reserialised)
    header = sign(SECRET, reserialised, T)
    with pytest.raises(SignatureMismatchError) as info:
        verify(sent, header, [SECRET], now=T)
    assert_message_clean(info.value, SECRET, digests=(reference_signature(SECRET, T, sent),))
    assert verify(reserialised, header, [SECRET], now=T) == T


# --- timestamp tolerance ----------------------------------------------------------------------


def test_default_tolerance_is_300() -> None:
    assert DEFAULT_TOLERANCE == 300


@pytest.mark.parametrize("skew", [-DEFAULT_TOLERANCE, 0, DEFAULT_TOLERANCE])
def test_timestamp_within_tolerance_accepted(skew: int) -> None:
    header = sign(SECRET, BODY, T)
    assert verify(BODY, header, [SECRET], now=T + skew) == T


@pytest.mark.parametrize(
    ("skew", "direction"),
    [(DEFAULT_TOLERANCE + 1, "past"), (-(DEFAULT_TOLERANCE + 1), "future"), (300.5, "past")],
)
def test_timestamp_out_of_tolerance(skew: float, direction: str) -> None:
    header = sign(SECRET, BODY, T)
    with pytest.raises(TimestampOutOfToleranceError, match=direction) as info:
        verify(BODY, header, [SECRET], now=T + skew)
    assert_message_clean(info.value, SECRET, digests=(reference_signature(SECRET, T, BODY),))


def test_custom_tolerance() -> None:
    header = sign(SECRET, BODY, T)
    assert verify(BODY, header, [SECRET], now=T + 10, tolerance=10) == T
    assert verify(BODY, header, [SECRET], now=T - 10, tolerance=10) == T
    for now in (T + 11, T - 11):
        with pytest.raises(TimestampOutOfToleranceError) as info:
            verify(BODY, header, [SECRET], now=now, tolerance=10)
        assert_message_clean(info.value, SECRET, digests=(reference_signature(SECRET, T, BODY),))
    # A wider tolerance accepts what the default refuses.
    assert verify(BODY, header, [SECRET], now=T + 3600, tolerance=3600) == T
    verify_fails(TimestampOutOfToleranceError, BODY, header, [SECRET], now=T + 3600)
    assert verify(BODY, header, [SECRET], now=T, tolerance=0) == T
    verify_fails(TimestampOutOfToleranceError, BODY, header, [SECRET], now=T + 1, tolerance=0)


def test_mismatch_wins_over_tolerance() -> None:
    """A forged header is reported as a mismatch, whatever its timestamp."""
    header = sign(OTHER_SECRET, BODY, T)
    verify_fails(SignatureMismatchError, BODY, header, [SECRET], now=T + 10_000)


# --- rotation and header grammar --------------------------------------------------------------


@pytest.mark.parametrize("container", [list, tuple])
def test_rotation_several_secrets_valid_one_last(container: type[Any]) -> None:
    header = sign(SECRET, BODY, T)
    secrets = container(["old-1", b"old-2-bytes", OTHER_SECRET, SECRET])
    assert verify(BODY, header, secrets, now=T) == T
    without_valid = container(["old-1", b"old-2-bytes", OTHER_SECRET])
    with pytest.raises(SignatureMismatchError) as info:
        verify(BODY, header, without_valid, now=T)
    assert_message_clean(
        info.value,
        "old-1",
        b"old-2-bytes",
        OTHER_SECRET,
        SECRET,
        digests=(reference_signature(SECRET, T, BODY), reference_signature(OTHER_SECRET, T, BODY)),
    )


def test_rotation_generator_of_secrets() -> None:
    header = sign(SECRET, BODY, T)
    assert verify(BODY, header, (s for s in [OTHER_SECRET, SECRET]), now=T) == T


@pytest.mark.parametrize("position", [0, 1, 2])
def test_several_signature_entries_one_valid(position: int) -> None:
    good = reference_signature(SECRET, T, BODY)
    entries = [reference_signature("decoy-1", T, BODY), reference_signature("decoy-2", T, BODY)]
    entries.insert(position, good)
    header = f"t={T}," + ",".join(f"signature={e}" for e in entries)
    assert verify(BODY, header, [SECRET], now=T) == T
    entries.pop(position)
    header = f"t={T}," + ",".join(f"signature={e}" for e in entries)
    verify_fails(SignatureMismatchError, BODY, header, [SECRET], now=T)


def test_several_signature_entries_and_several_secrets() -> None:
    header = (
        f"t={T},signature={reference_signature('decoy', T, BODY)},"
        f"signature={reference_signature(SECRET, T, BODY)}"
    )
    assert verify(BODY, header, [OTHER_SECRET, SECRET, "third"], now=T) == T
    verify_fails(SignatureMismatchError, BODY, header, [OTHER_SECRET, "third"], now=T)


def test_unknown_keys_ignored() -> None:
    good = reference_signature(SECRET, T, BODY)
    header = f"v0=abc,t={T},scheme=hmac-sha256,signature={good},v1={'0' * 64}"
    assert verify(BODY, header, [SECRET], now=T) == T
    bad = f"v0=abc,t={T},signature={reference_signature(OTHER_SECRET, T, BODY)},v1={good}"
    verify_fails(SignatureMismatchError, BODY, bad, [SECRET], now=T)


def test_whitespace_around_items_tolerated() -> None:
    good = reference_signature(SECRET, T, BODY)
    header = f"  t = {T} ,\tsignature= {good} , "
    assert verify(BODY, header, [SECRET], now=T) == T
    bad = f"  t = {T} ,\tsignature= {reference_signature(SECRET, T + 1, BODY)} , "
    verify_fails(SignatureMismatchError, BODY, bad, [SECRET], now=T)


def test_uppercase_hex_accepted() -> None:
    good = reference_signature(SECRET, T, BODY)
    assert verify(BODY, header_for(good.upper()), [SECRET], now=T) == T
    assert parse_header(header_for(good.upper())) == (T, (good,))
    forged = header_for(reference_signature(OTHER_SECRET, T, BODY).upper())
    verify_fails(SignatureMismatchError, BODY, forged, [SECRET], now=T)


def test_sign_emits_lowercase_hex() -> None:
    _, (signature,) = parse_header(sign(SECRET, BODY, T))
    assert signature == signature.lower()
    assert sign(SECRET, BODY, T).split("signature=")[1] == reference_signature(SECRET, T, BODY)


@pytest.mark.parametrize("secrets", [[], ()], ids=["list", "tuple"])
def test_verify_needs_a_secret(secrets: list[str] | tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="secret"):
        verify(BODY, sign(SECRET, BODY, T), secrets, now=T)


def test_every_signature_error_is_a_signature_error() -> None:
    for exc_type in (
        MissingSignatureError,
        MalformedSignatureError,
        SignatureMismatchError,
        TimestampOutOfToleranceError,
    ):
        assert issubclass(exc_type, SignatureError)


def test_sign_and_verify_agree_on_timestamp_range() -> None:
    t = 10**12
    header = sign(SECRET, BODY, t)
    assert verify(BODY, header, [SECRET], now=t) == t


# --- properties -------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(body=st.binary(max_size=512), secret=secrets_text, t=timestamps)
def test_property_round_trip(body: bytes, secret: str, t: int) -> None:
    header = sign(secret, body, t)
    assert header == f"t={t},signature={reference_signature(secret, t, body)}"
    assert verify(body, header, [secret], now=t) == t


@settings(max_examples=150, deadline=None)
@given(
    body=st.binary(max_size=256),
    other=st.binary(max_size=256),
    secret=secrets_text,
    t=timestamps,
)
def test_property_different_body_fails(body: bytes, other: bytes, secret: str, t: int) -> None:
    assume(body != other)
    header = sign(secret, body, t)
    with pytest.raises(SignatureMismatchError) as info:
        verify(other, header, [secret], now=t)
    assert_message_clean(
        info.value, *distinctive(secret), digests=(reference_signature(secret, t, other),)
    )


@settings(max_examples=150, deadline=None)
@given(body=st.binary(max_size=256), secret=secrets_text, other=secrets_text, t=timestamps)
def test_property_different_secret_fails(body: bytes, secret: str, other: str, t: int) -> None:
    assume(hmac_effective_key(secret) != hmac_effective_key(other))
    header = sign(secret, body, t)
    with pytest.raises(SignatureMismatchError) as info:
        verify(body, header, [other], now=t)
    assert_message_clean(
        info.value, *distinctive(secret, other), digests=(reference_signature(other, t, body),)
    )


@settings(max_examples=150, deadline=None)
@given(
    body=st.binary(max_size=256),
    secret=secrets_text,
    t=timestamps,
    index=st.integers(min_value=0, max_value=63),
    data=st.data(),
)
def test_property_flipping_one_hex_digit_fails(
    body: bytes, secret: str, t: int, index: int, data: st.DataObject
) -> None:
    signature = reference_signature(secret, t, body)
    assert verify(body, header_for(signature, t), [secret], now=t) == t
    digit = data.draw(st.sampled_from([d for d in HEX_DIGITS if d != signature[index]]))
    flipped = signature[:index] + digit + signature[index + 1 :]
    verify_fails(SignatureMismatchError, body, header_for(flipped, t), [secret], now=t)
