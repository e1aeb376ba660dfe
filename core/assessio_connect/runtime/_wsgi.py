"""Small WSGI request helpers shared by the servers in this package."""

from __future__ import annotations

from typing import Any

__all__ = ["RequestBodyError", "header", "read_body", "request_headers"]

WSGIEnvironment = dict[str, Any]


class RequestBodyError(Exception):
    """The body cannot be read: `status` is 400 (bad Content-Length) or 413 (over the limit)."""

    def __init__(self, status: int, message: str, limit: int) -> None:
        super().__init__(message)
        self.status = status
        self.limit = limit


def header(environ: WSGIEnvironment, name: str) -> str | None:
    """One request header by its HTTP name, case-insensitively, or None."""
    key = name.upper().replace("-", "_")
    if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        key = "HTTP_" + key
    value = environ.get(key)
    return value if isinstance(value, str) else None


def request_headers(environ: WSGIEnvironment) -> dict[str, str]:
    """Every `HTTP_*` request header, named as on the wire (`Integrator-Api-Key`)."""
    return {
        key[5:].replace("_", "-").title(): value
        for key, value in environ.items()
        if key.startswith("HTTP_") and isinstance(value, str)
    }


def read_body(environ: WSGIEnvironment, limit: int) -> bytes:
    """The request body, refused before it is read when Content-Length is bad or over `limit`."""
    raw = (header(environ, "Content-Length") or "").strip()
    if not raw:
        return b""
    if not raw.isdigit():
        raise RequestBodyError(400, "Content-Length is not a number", limit)
    length = int(raw)
    if length > limit:
        raise RequestBodyError(
            413, f"request body of {length} bytes exceeds the limit of {limit} bytes", limit
        )
    body: bytes = environ["wsgi.input"].read(length) if length else b""
    return body
