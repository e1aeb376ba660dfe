"""Reading what Greenhouse sends: JSON bodies whatever their Content-Type, payloads with its
ids (each problem with its path), and its own words in an error answer."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from assessio_connect import PayloadError, Request, RequestRefused, codec
from assessio_connect.kit import PayloadReader, json_type

__all__ = ["GreenhouseReader", "error_text", "read_json"]


def read_json(request: Request, *, what: str) -> Any:
    """The body as JSON (400 when it is not), whatever its Content-Type: Greenhouse reserves
    that header without documenting its value."""
    try:
        return codec.parse_json(request.body, what=what)
    except PayloadError as exc:
        raise RequestRefused(400, str(exc)) from None


class GreenhouseReader(PayloadReader):
    """The kit's payload reader, plus Greenhouse's ids: numbers or strings, read as text."""

    def ident(
        self, data: Mapping[str, Any] | None, key: str, where: str, *, required: bool = True
    ) -> str | None:
        """The id `data[key]` as a string; None when absent (a problem if `required`)."""
        value = None if data is None else data.get(key)
        if value is None:
            if required and data is not None:
                self.problem("required field missing", f"{where}.{key}")
            return None
        if isinstance(value, bool) or not isinstance(value, (int, str)) or str(value) == "":
            self.problem(f"expected an id, got {json_type(value)}", f"{where}.{key}")
            return None
        return str(value)


def error_text(body: bytes) -> str:
    """Greenhouse's own words from an error body: `message`, each `errors[]` entry as
    `field: message`, or an OAuth `error`/`error_description`; else the body itself."""
    text = " ".join(body[:2000].decode("utf-8", errors="replace").split())
    try:
        data: Any = json.loads(text)
    except ValueError:
        return text[:300]
    if not isinstance(data, dict):
        return text[:300]
    parts: list[str] = []
    for key in ("message", "error", "error_description"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            parts.append(value.strip())
    errors = data.get("errors")
    for item in errors if isinstance(errors, list) else ():
        if isinstance(item, dict) and isinstance(item.get("message"), str):
            field = item.get("field")
            parts.append(
                (f"{field}: " if isinstance(field, str) and field else "") + item["message"]
            )
        elif isinstance(item, str):
            parts.append(item)
    return "; ".join(parts) or text[:300]
