"""What keeps secrets out of what the configuration shows: redacted URLs, secrets as
references in plain data, every secret a value holds (for scrubbing logs)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import attrs

from ._secrets import Secret

__all__ = [
    "REDACTED",
    "SCRUB_MIN_LENGTH",
    "plain_data",
    "redact_url",
    "secrets_in",
    "url_password",
]

REDACTED = "[redacted]"
SCRUB_MIN_LENGTH = 4
"""Resolved secrets at least this long are blanked out of problem messages, just in case."""


def redact_url(url: str) -> str:
    """`url` with the password of its userinfo (if any) replaced."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.netloc.rpartition("@")[2]
        netloc = f"{parts.username or ''}:{REDACTED}@{host}"
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return url


def plain_data(value: Any) -> Any:
    """Plain data for `redacted()`: attrs classes become tables (None omitted), secrets refs."""
    if isinstance(value, Secret):
        return f"<redacted {value.reference}>"
    if attrs.has(type(value)):
        table = {}
        for field in attrs.fields(type(value)):
            item = getattr(value, field.name)
            if item is not None:
                table[field.alias or field.name] = plain_data(item)
        return table
    if isinstance(value, Mapping):
        return {str(key): plain_data(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain_data(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value


def secrets_in(value: Any) -> Iterator[Secret]:
    if isinstance(value, Secret):
        yield value
    elif attrs.has(type(value)):
        for field in attrs.fields(type(value)):
            yield from secrets_in(getattr(value, field.name))
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from secrets_in(item)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from secrets_in(item)


def url_password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None
