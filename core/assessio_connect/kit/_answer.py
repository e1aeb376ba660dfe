"""`Answer`: what a handler returns; the routes turn it into a WSGI response."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

import attrs

__all__ = ["Answer"]

_JSON = "application/json"


def _headers(value: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((str(name), str(value)) for name, value in value)


def _check_status(_inst: object, _attribute: attrs.Attribute[Any], value: int) -> None:
    if not 200 <= value <= 599:
        raise ValueError(f"an answer's status is from 200 to 599, not {value}")


def _check_headers(
    _inst: object, _attribute: attrs.Attribute[Any], value: tuple[tuple[str, str], ...]
) -> None:
    for name, text in value:
        if not name or any(c in name for c in ": \r\n") or "\r" in text or "\n" in text:
            raise ValueError(f"header {name!r} cannot be sent (empty, or a line break)")


def _json_bytes(data: Any) -> bytes:
    # ASCII escapes keep every answer encodable, whatever text an error message carries.
    return json.dumps(data, separators=(",", ":"), ensure_ascii=True).encode("ascii")


@attrs.frozen
class Answer:
    """An HTTP answer: status, body, its content type and extra headers.

    Most handlers return `Answer.json(202, {...})` (or `Answer.accepted()` after
    `context.enqueue`); errors are usually raised instead
    (`RequestRefused`, `PayloadError`, `RetryableError`, …) and answered by the routes."""

    status: int = attrs.field(validator=_check_status)
    body: bytes = attrs.field(default=b"", repr=False)
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = attrs.field(
        default=(), converter=_headers, validator=_check_headers
    )

    @classmethod
    def json(cls, status: int, data: Any, *, headers: Iterable[tuple[str, str]] = ()) -> Answer:
        """`data` as JSON (ASCII-escaped)."""
        return cls(status, _json_bytes(data), _JSON, _headers(headers))

    @classmethod
    def accepted(cls, new: bool = True, *, headers: Iterable[tuple[str, str]] = ()) -> Answer:
        """202 `{"status": "accepted"}`: the request was queued with `context.enqueue` and is
        handled later, so the ATS need not wait; `{"status": "duplicate"}` for a repeat
        (`new=False`). A push route that accepts and queues ends with
        `return Answer.accepted(self.context.enqueue(event_id, request.body))`."""
        return cls.json(202, {"status": "accepted" if new else "duplicate"}, headers=headers)

    @classmethod
    def error(
        cls,
        status: int,
        message: str,
        *,
        headers: Iterable[tuple[str, str]] = (),
        **extra: Any,
    ) -> Answer:
        """`{"error": message, **extra}`: the shape of every error the routes send."""
        return cls.json(status, {"error": message, **extra}, headers=headers)

    @classmethod
    def text(
        cls,
        status: int,
        text: str,
        *,
        content_type: str = "text/plain; charset=utf-8",
        headers: Iterable[tuple[str, str]] = (),
    ) -> Answer:
        """`text` as UTF-8 (an HTML page, plain text)."""
        return cls(status, text.encode("utf-8"), content_type, _headers(headers))

    @classmethod
    def empty(cls, status: int = 204, *, headers: Iterable[tuple[str, str]] = ()) -> Answer:
        """No body."""
        return cls(status, b"", None, _headers(headers))

    def send(self, start_response: Callable[..., Any]) -> list[bytes]:
        """Start the WSGI response and return its body."""
        try:
            phrase = HTTPStatus(self.status).phrase
        except ValueError:
            phrase = "Unknown"
        headers = [("Content-Length", str(len(self.body))), ("Cache-Control", "no-store")]
        if self.content_type:
            headers.insert(0, ("Content-Type", self.content_type))
        start_response(f"{self.status} {phrase}", [*headers, *self.headers])
        return [self.body]
