"""Small WSGI pieces of the connector's endpoints: JSON replies, a plain page for the browser
that comes back from Greenhouse, and HTTP Basic credentials."""

from __future__ import annotations

import base64
import binascii
import html
import json
import math
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import attrs

from assessio_connect._wsgi import header

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

__all__ = [
    "DEFAULT_RETRY_AFTER",
    "MAX_REQUEST_BYTES",
    "Handler",
    "Reply",
    "basic_credentials",
    "error",
    "page",
    "respond",
    "retry_later",
]

MAX_REQUEST_BYTES = 1024 * 1024
DEFAULT_RETRY_AFTER = 60
"""Seconds Greenhouse is asked to wait when the connector cannot take a call right now."""
_JSON = "application/json"
_HTML = "text/html; charset=utf-8"


@attrs.frozen
class Reply:
    """An HTTP answer: status, a JSON-ready body (or the text of a page) and extra headers."""

    status: int
    data: Any
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = _JSON


Handler = Callable[["WSGIEnvironment"], Reply]
"""A route of the connector's app: the request's environ in, the answer out."""


def error(status: int, message: str, **extra: Any) -> Reply:
    """`{"message": …}` (Greenhouse's error shape) with `extra` keys."""
    return Reply(status, {"message": message, **extra})


def retry_later(message: str, retry_after: float | None = None) -> Reply:
    """503 with `Retry-After`: the call could not be taken now (Greenhouse retries)."""
    wait = math.ceil(retry_after) if retry_after is not None else DEFAULT_RETRY_AFTER
    return Reply(503, {"message": message}, (("Retry-After", str(max(wait, 1))),))


def page(status: int, text: str) -> Reply:
    """A minimal HTML page saying `text` (escaped), for a person in a browser."""
    body = (
        '<!doctype html><meta charset="utf-8"><title>assessio-connect</title>'
        f"<p>{html.escape(text)}</p>"
    )
    return Reply(status, body, content_type=_HTML)


def respond(start_response: Callable[..., Any], reply: Reply) -> Iterable[bytes]:
    """Send `reply`: JSON with ASCII escapes (so any text in a message is encodable), or the
    page's text as UTF-8."""
    if reply.content_type == _JSON:
        body = json.dumps(reply.data, separators=(",", ":")).encode("ascii")
    else:
        body = str(reply.data).encode("utf-8")
    try:
        phrase = HTTPStatus(reply.status).phrase
    except ValueError:
        phrase = "Unknown"
    headers = [
        ("Content-Type", reply.content_type),
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
