"""Reading what Greenhouse sends: JSON bodies whatever their Content-Type, its own words in an
error answer, how JSON names a value's type (for problems worded `expected a string, got
number @ $.path`), and whether an e-mail address is one Assessio accepts."""

from __future__ import annotations

import json
from typing import Any

from assessio_connect import CandidateDetails, PayloadError, Request, RequestRefused, codec

__all__ = ["email_problem", "error_text", "json_type", "read_json"]


def read_json(request: Request, *, what: str) -> Any:
    """The body as JSON (400 when it is not), whatever its Content-Type: Greenhouse reserves
    that header without documenting its value."""
    try:
        return codec.parse_json(request.body, what=what)
    except PayloadError as exc:
        raise RequestRefused(400, str(exc)) from None


def json_type(value: Any) -> str:
    """How JSON names the type of a decoded value ("string", "array", …)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def email_problem(value: object) -> str | None:
    """Why Assessio would refuse `value` as a candidate's e-mail address, or None: the check
    of its own order model, so the connector never accepts an address an order cannot carry."""
    try:
        CandidateDetails(email=value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        return str(exc)
    return None


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
