"""The fake Greenhouse's own small WSGI toolkit: a reply value, request headers and body,
HTTP Basic and Bearer credentials. (The fake shares no code with the connector.)"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = [
    "JSON",
    "BodyError",
    "Reply",
    "basic_credentials",
    "bearer_token",
    "error_reply",
    "header",
    "html_reply",
    "json_reply",
    "read_body",
    "respond",
]

JSON = "application/json; charset=utf-8"


@attrs.frozen
class Reply:
    """What the fake answers: status, body bytes, content type and extra headers."""

    status: int
    body: bytes = b""
    content_type: str = JSON
    headers: tuple[tuple[str, str], ...] = ()

    def with_headers(self, *extra: tuple[str, str]) -> Reply:
        return attrs.evolve(self, headers=(*self.headers, *extra))

    def json(self) -> Any:
        """The body parsed as JSON (None when it is empty)."""
        return json.loads(self.body) if self.body else None


def json_reply(status: int, data: Any, headers: Iterable[tuple[str, str]] = ()) -> Reply:
    body = json.dumps(data, separators=(",", ":")).encode()
    return Reply(status, body, JSON, tuple(headers))


def error_reply(status: int, message: str, errors: list[dict[str, Any]] | None = None) -> Reply:
    """Harvest's error body: `{"message": …}`, with `errors` naming fields when there are any."""
    data: dict[str, Any] = {"message": message}
    if errors:
        data["errors"] = errors
    return json_reply(status, data)


def html_reply(status: int, text: str) -> Reply:
    page = f"<!doctype html><title>Greenhouse</title><p>{_escape(text)}</p>"
    return Reply(status, page.encode(), "text/html; charset=utf-8")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def header(environ: WSGIEnvironment, name: str) -> str | None:
    """One request header by its HTTP name, case-insensitively, or None."""
    key = name.upper().replace("-", "_")
    if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        key = "HTTP_" + key
    value = environ.get(key)
    return value if isinstance(value, str) else None


class BodyError(Exception):
    """The request body cannot be read; `status` is 400 or 413."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def read_body(environ: WSGIEnvironment, limit: int) -> bytes:
    """The request body, refused when Content-Length is not a number or is over `limit`."""
    raw = (header(environ, "Content-Length") or "").strip()
    if not raw:
        return b""
    if not raw.isdigit():
        raise BodyError(400, "Content-Length is not a number")
    length = int(raw)
    if length > limit:
        raise BodyError(413, f"the body of {length} bytes is over the limit of {limit}")
    data: bytes = environ["wsgi.input"].read(length) if length else b""
    return data


def _authorization(environ: WSGIEnvironment) -> tuple[str, str]:
    scheme, _, value = (header(environ, "Authorization") or "").strip().partition(" ")
    return scheme.lower(), value.strip()


def basic_credentials(environ: WSGIEnvironment) -> tuple[str, str] | None:
    """(username, password) of an `Authorization: Basic …` header, or None."""
    scheme, value = _authorization(environ)
    if scheme != "basic":
        return None
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, colon, password = decoded.partition(":")
    return (username, password) if colon else None


def bearer_token(environ: WSGIEnvironment) -> str | None:
    """The token of an `Authorization: Bearer …` header, or None."""
    scheme, value = _authorization(environ)
    return value if scheme == "bearer" and value else None


def respond(start_response: StartResponse, reply: Reply) -> list[bytes]:
    try:
        phrase = HTTPStatus(reply.status).phrase
    except ValueError:
        phrase = "Unknown"
    headers = [
        ("Content-Type", reply.content_type),
        ("Content-Length", str(len(reply.body))),
        *reply.headers,
    ]
    start_response(f"{reply.status} {phrase}", headers)
    return [reply.body]
