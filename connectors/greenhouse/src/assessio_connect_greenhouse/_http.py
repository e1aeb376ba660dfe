"""Small WSGI pieces shared by the connector's endpoints and the fake Greenhouse."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any

import attrs

from assessio_connect._wsgi import header

__all__ = ["Reply", "basic_credentials", "error", "respond"]

WSGIEnvironment = dict[str, Any]
_JSON = "application/json"


@attrs.frozen
class Reply:
    """An HTTP answer: status, a JSON-ready body and extra headers."""

    status: int
    data: Any
    headers: tuple[tuple[str, str], ...] = ()


def error(status: int, message: str, **extra: Any) -> Reply:
    """`{"message": …}` (Greenhouse's error shape) with `extra` keys."""
    return Reply(status, {"message": message, **extra})


def respond(start_response: Callable[..., Any], reply: Reply) -> Iterable[bytes]:
    """Send `reply` as JSON. ASCII escapes keep any text in a message encodable."""
    body = json.dumps(reply.data, separators=(",", ":")).encode("ascii")
    try:
        phrase = HTTPStatus(reply.status).phrase
    except ValueError:
        phrase = "Unknown"
    headers = [
        ("Content-Type", _JSON),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
        *reply.headers,
    ]
    start_response(f"{reply.status} {phrase}", headers)
    return [body]


def basic_credentials(environ: Mapping[str, Any]) -> tuple[str, str] | None:
    """(username, password) from `Authorization: Basic …`, or None when absent or malformed."""
    scheme, _, encoded = (header(dict(environ), "Authorization") or "").strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, colon, password = decoded.partition(":")
    if not colon:
        return None
    return username, password
