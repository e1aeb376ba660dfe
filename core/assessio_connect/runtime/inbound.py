"""Events a push connector accepts from its ATS and handles later: the inbound queue.

A push route verifies the ATS's request, calls `context.enqueue(key, payload, headers=...)`
(durable when it returns; a repeated `key` is stored once) and answers at once, so the ATS is
never kept waiting while the connector calls it back. The daemon's inbound worker then hands
each event to the connector's `handle_event(event)`, with the outbox's retries: a
`RetryableError` (its `retry_after` honoured) or any other failure is tried again with
backoff for up to the horizon, a `PermanentError` dead-letters the event at once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

from assessio_connect.contract.errors import PayloadError, PermanentError

__all__ = ["MAX_EVENT_HEADERS", "MAX_EVENT_KEY_LENGTH", "InboundEvent", "checked_event"]

MAX_EVENT_KEY_LENGTH = 255
"""Longest event key, in characters (an ATS's event ids are UUIDs or numbers)."""
MAX_EVENT_HEADERS = 32
"""Most headers kept with one event: the few the handler needs, not the whole request."""


def _to_dict(value: Mapping[str, str]) -> dict[str, str]:
    return dict(value)


@attrs.frozen
class InboundEvent:
    """One accepted event as `handle_event` receives it."""

    key: str
    """The ATS's id of the event, as given to `enqueue`."""
    payload: bytes = attrs.field(repr=False)
    """The bytes given to `enqueue` (usually the request body, exactly as received)."""
    headers: Mapping[str, str] = attrs.field(factory=dict, converter=_to_dict, repr=False)
    """The headers given to `enqueue` (they may carry a signature: kept out of the repr)."""
    attempt: int = 1
    """1 for the first attempt to handle it; one more after each failure."""
    received_at: float = 0.0
    """When it was accepted (seconds since the epoch)."""

    def header(self, name: str) -> str | None:
        """The value of header `name`, in any case of its letters, or None."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None

    def json(self) -> Any:
        """The payload parsed as JSON; `PermanentError` when it is not JSON (trying again
        cannot change the bytes, so the event is dead-lettered with the reason)."""
        try:
            return json.loads(self.payload)
        except ValueError as exc:
            raise PermanentError(f"event {self.key!r} is not JSON: {exc}") from None


def _control(text: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def checked_event(
    key: object, payload: object, headers: Mapping[str, str] | None
) -> tuple[str, bytes, dict[str, str]]:
    """`enqueue`'s arguments, checked: a key the ATS sent that cannot identify an event raises
    `PayloadError` (the kit's routes answer it 422); a payload that is not bytes, or headers
    that are not text, raise `TypeError` (a bug in the connector)."""
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise TypeError(f"an event's payload is bytes (the request body), not {type(payload)}")
    kept: dict[str, str] = {}
    for name, value in (headers or {}).items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError("an event's headers are text: name -> value")
        kept[name] = value
    if len(kept) > MAX_EVENT_HEADERS:
        raise TypeError(
            f"keep at most {MAX_EVENT_HEADERS} headers with an event (those the handler needs)"
        )
    text = key if isinstance(key, str) else ""
    problems: list[str] = []
    if not text.strip():
        problems.append("the event has no id (its key is empty)")
    elif len(text) > MAX_EVENT_KEY_LENGTH:
        problems.append(f"the event id is longer than {MAX_EVENT_KEY_LENGTH} characters")
    elif _control(text):
        problems.append("the event id holds a control character")
    if any(_control(name) or _control(value) for name, value in kept.items()):
        problems.append("a header kept with the event holds a control character")
    if problems:
        raise PayloadError(problems, what="event")
    return text, bytes(payload), kept
