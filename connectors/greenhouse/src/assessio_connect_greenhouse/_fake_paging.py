"""Harvest v3 cursor paging (harvestdocs.greenhouse.io/docs/pagination): list responses carry
only `Link: <…?cursor=…>; rel="next"` while more pages remain; the cursor is an opaque URL-safe
Base64 payload holding the first request's filters and page size; and a request with a cursor
must carry no other query parameter. `per_page` is 1..500, 100 by default."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

__all__ = ["DEFAULT_PER_PAGE", "MAX_PER_PAGE", "Cursor", "CursorError", "next_link", "page_of"]

DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 500


class CursorError(ValueError):
    """A cursor that this fake did not issue, or one sent with other parameters."""


@attrs.frozen
class Cursor:
    """Where a listing stands: its filters, page size and the last id already returned."""

    filters: Mapping[str, str]
    per_page: int
    after: int

    def encode(self) -> str:
        payload = {"f": dict(self.filters), "n": self.per_page, "a": self.after}
        raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            payload = json.loads(raw)
            filters, per_page, after = payload["f"], payload["n"], payload["a"]
        except (binascii.Error, ValueError, KeyError, TypeError) as exc:
            raise CursorError("the cursor is not one Harvest issued") from exc
        if not (
            isinstance(filters, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in filters.items())
            and isinstance(per_page, int)
            and isinstance(after, int)
        ):
            raise CursorError("the cursor is not one Harvest issued")
        return cls(filters, per_page, after)


def page_of(items: Sequence[Any], per_page: int, after: int) -> tuple[list[Any], int | None]:
    """The items (sorted by `id`) after id `after`, at most `per_page` of them, and the id to
    continue after (None on the last page)."""
    rest = [item for item in items if item["id"] > after]
    chunk = rest[:per_page]
    return chunk, (chunk[-1]["id"] if len(rest) > per_page else None)


def next_link(origin: str, path: str, cursor: Cursor) -> str:
    return f'<{origin}{path}?cursor={cursor.encode()}>; rel="next"'
