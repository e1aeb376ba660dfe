"""What a result looks like in Greenhouse: the candidate note (with a marker naming the
result and version, so a repeat can be recognised) and the custom-field values."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from assessio_connect import Result

__all__ = [
    "TEXT_VALUE_TYPES",
    "custom_field_entries",
    "note_body",
    "note_marked",
    "note_marker",
    "subscores_text",
]

_MARKER = re.compile(r"assessio-result: (?P<id>[^\s]+) v(?P<version>[0-9]{1,9})\b")
TEXT_VALUE_TYPES = frozenset({"short_text", "long_text", "url", "single_select"})
"""Custom field types a text value may go into (a select takes the exact option text)."""


def note_marker(result_id: str, version: int) -> str:
    """The line that identifies a note as this result version's (kept on the note's last line)."""
    return f"assessio-result: {result_id} v{version}"


def note_marked(notes: Iterable[Any], result_id: str, version: int) -> str | None:
    """The id of the note among `notes` that carries the marker of `result_id` at `version`."""
    for note in notes:
        body = note.get("body") if isinstance(note, dict) else None
        for found in _MARKER.finditer(body if isinstance(body, str) else ""):
            if (found["id"], int(found["version"])) == (result_id, version):
                return str(note.get("id", ""))
    return None


def subscores_text(subscores: Mapping[str, int]) -> str:
    """`Collaborating 62, Driving Results 80` (sorted by name)."""
    return ", ".join(f"{name} {score}" for name, score in sorted(subscores.items()))


def note_body(result: Result, version: int, lens_name: str | None = None) -> str:
    """The candidate note for one result version; a later version says it is an update."""
    score = "no score" if result.score is None else f"score {result.score}/100"
    lens = f" ({lens_name})" if lens_name else ""
    if version == 1:
        lines = [f"Assessio assessment completed: {score}{lens}"]
    else:
        lines = [f"Assessio assessment result updated (version {version}): {score}{lens}"]
    if result.subscores:
        lines.append(f"Subscores: {subscores_text(result.subscores)}")
    if result.assessment_report_url:
        lines.append(f"Report: {result.assessment_report_url}")
    if result.recruitment_url:
        lines.append(f"Recruitment: {result.recruitment_url}")
    lines.extend(["", note_marker(result.result_id, version)])
    return "\n".join(lines)


def _part_value(result: Result, part: str) -> int | str | None:
    if part == "score":
        return result.score
    if part == "report_url":
        return result.assessment_report_url
    if part == "recruitment_url":
        return result.recruitment_url
    if part == "subscores":
        return subscores_text(result.subscores) or None
    raise ValueError(f"unknown result part {part!r}")


def custom_field_entries(
    result: Result, fields: Iterable[tuple[str, str]], value_types: Mapping[str, str]
) -> tuple[list[dict[str, Any]], list[str]]:
    """`custom_fields` entries for `PATCH /v3/candidates/{id}`, and the problems found.

    `fields` pairs a result part with a field key; `value_types` maps each key Greenhouse knows
    to its `value_type`. A part without a value (no score yet) is left out, not cleared."""
    entries: list[dict[str, Any]] = []
    problems: list[str] = []
    for part, key in fields:
        value_type = value_types.get(key)
        if value_type is None:
            problems.append(
                f"custom_fields.{part}: {key!r} is not a candidate custom field in Greenhouse"
            )
            continue
        value = _part_value(result, part)
        if value is None:
            continue
        if value_type == "number" and isinstance(value, int):
            entries.append({"name_key": key, "value": value})
        elif value_type in TEXT_VALUE_TYPES:
            entries.append({"name_key": key, "value": str(value)})
        else:
            problems.append(
                f"custom_fields.{part}: field {key!r} is of type {value_type}, which cannot hold "
                f"the {part.replace('_', ' ')} (use a text{' or number' if part == 'score' else ''}"
                " field)"
            )
    return entries, problems
