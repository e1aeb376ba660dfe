"""The RaaS report the connector polls: its rows, its moments, and the cursor that pages it.

RaaS has no paging of its own, so the connector pages by time. Each request asks for the rows
updated from `Updated_From`; the rows are ordered by (updated moment, job application id) and
at most `page_size` new ones are taken. The cursor remembers the newest moment taken (the
*mark*) and the applications taken at or after `mark - look_back` with their moments, so the
next request can start `look_back` seconds before the mark (catching rows that Workday
committed late, with an earlier moment) without handing the same row over twice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs

from assessio_connect import PayloadError
from assessio_connect.kit import PayloadReader, json_type

__all__ = [
    "COLUMNS",
    "CURSOR_VERSION",
    "Cursor",
    "ReportRow",
    "decode_cursor",
    "encode_cursor",
    "format_moment",
    "next_page",
    "parse_moment",
    "parse_row",
    "row_moment",
]

CURSOR_VERSION = 1
MICROS = 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MOMENT = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})"
)

COLUMNS = {
    "Job_Application_ID": "the job application's Reference ID (required)",
    "Candidate_ID": "the candidate's ID (required)",
    "Candidate_First_Name": "optional",
    "Candidate_Last_Name": "optional",
    "Candidate_Email": "the candidate's email address (required)",
    "Job_Requisition_ID": "the job requisition's ID (required)",
    "Job_Requisition_Title": "the job posting title (required)",
    "Supervisory_Organization": "department for the tenant's assessment rules (optional)",
    "Assessment_Status_ID": "Reference ID of the overall assessment status (optional)",
    "Assessment_Tests": "Reference IDs of the assessment tests added (optional)",
    "Updated_Moment": "when the job application last changed, with its offset (required)",
}
"""The report's columns (its field aliases) and what each holds."""


# Moments


def parse_moment(value: str) -> int:
    """Microseconds since the epoch from an xsd:dateTime with an offset (`Z` or `+hh:mm`).

    Raises ValueError for anything else, a moment without an offset included: its meaning
    would depend on the tenant's time zone."""
    match = _MOMENT.fullmatch(value.strip())
    if match is None:
        raise ValueError(
            f"{value!r} is not a date-time with an offset such as 2024-05-01T10:15:30.000-07:00"
        )
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    if offset == "Z":
        zone = timezone.utc
    else:
        digits = offset[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        if delta >= timedelta(hours=24):
            raise ValueError(f"{value!r} has an offset of a day or more")
        zone = timezone(delta if offset[0] == "+" else -delta)
    moment = datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second), micros, zone
    )
    delta_from_epoch = moment - _EPOCH
    return (delta_from_epoch.days * 86400 + delta_from_epoch.seconds) * MICROS + (
        delta_from_epoch.microseconds
    )


def format_moment(micros: int) -> str:
    """`micros` as an xsd:dateTime in UTC, e.g. `2024-05-01T17:15:30.123456+00:00`."""
    moment = _EPOCH + timedelta(microseconds=micros)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "+00:00"


# Rows


@attrs.frozen
class ReportRow:
    """One job application at the assessment step, as the report lists it."""

    application_id: str
    candidate_id: str
    email: str
    requisition_id: str
    title: str
    updated: int
    """Microseconds since the epoch."""
    first_name: str = attrs.field(default="", repr=False)
    last_name: str = attrs.field(default="", repr=False)
    organization: str | None = None
    status: str | None = None
    tests: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """First and last name, as far as the report gives them."""
        return " ".join(part for part in (self.first_name, self.last_name) if part)


def _column(value: object) -> object:
    """A column's value: a reference column's ID, a string without surrounding spaces."""
    if isinstance(value, dict) and isinstance(value.get("ID"), str):
        value = value["ID"]  # a reference column rendered as {"ID": ..., "Descriptor": ...}
    return value.strip() if isinstance(value, str) else value


def _tests(read: PayloadReader, value: object, where: str) -> tuple[str, ...]:
    """The test Reference IDs of `Assessment_Tests`: a delimited string, or an array of IDs
    or of `{"Assessment_Test_ID": ...}` objects."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in re.split(r"[;,\n]", value) if part.strip())
    if not isinstance(value, list):
        read.problem(f"expected an array or a string, got {json_type(value)}", where)
        return ()
    found: list[str] = []
    for index, item in enumerate(value):
        if isinstance(item, dict):
            item = item.get("Assessment_Test_ID", item.get("ID"))
        if not isinstance(item, str) or not item.strip():
            read.problem(
                'expected a test Reference ID (or {"Assessment_Test_ID": ...})', f"{where}[{index}]"
            )
            continue
        found.append(item.strip())
    return tuple(found)


def _moment(read: PayloadReader, text: str, where: str) -> int:
    """`text` as microseconds since the epoch (0 after a problem)."""
    try:
        return parse_moment(text) if text else 0
    except ValueError as exc:
        read.problem(str(exc), where)
        return 0


def parse_row(data: object, index: int = 0) -> ReportRow:
    """A `ReportRow` from one `Report_Entry` item, or `PayloadError` listing every problem.

    Unknown columns are ignored."""
    path = f"$.Report_Entry[{index}]"
    if not isinstance(data, dict):
        raise PayloadError([f"expected an object, got {json_type(data)} @ {path}"], what="row")
    read = PayloadReader("report row")
    row = {key: _column(value) for key, value in data.items()}

    def optional(key: str) -> str | None:
        return read.optional_text(row, key, path) or None

    found = ReportRow(
        application_id=read.text(row, "Job_Application_ID", path),
        candidate_id=read.text(row, "Candidate_ID", path),
        email=read.email(row, "Candidate_Email", path),
        requisition_id=read.text(row, "Job_Requisition_ID", path),
        title=read.text(row, "Job_Requisition_Title", path),
        updated=_moment(read, read.text(row, "Updated_Moment", path), f"{path}.Updated_Moment"),
        first_name=optional("Candidate_First_Name") or "",
        last_name=optional("Candidate_Last_Name") or "",
        organization=optional("Supervisory_Organization"),
        status=optional("Assessment_Status_ID"),
        tests=_tests(read, row.get("Assessment_Tests"), f"{path}.Assessment_Tests"),
    )
    read.check()
    return found


def row_moment(data: object) -> int | None:
    """The `Updated_Moment` of a raw row, if it has a readable one (for rows that are skipped)."""
    if not isinstance(data, dict) or not isinstance(data.get("Updated_Moment"), str):
        return None
    try:
        return parse_moment(data["Updated_Moment"])
    except ValueError:
        return None


# The cursor


def _to_seen(value: Mapping[str, int]) -> dict[str, int]:
    return dict(value)


@attrs.frozen
class Cursor:
    """Where polling stands: the newest moment taken, and the applications taken near it."""

    mark: int | None = None
    """Microseconds since the epoch of the newest row taken; None before the first row."""
    seen: Mapping[str, int] = attrs.field(factory=dict, converter=_to_seen)
    """Job application id -> the moment it was taken at, for rows at or after the window."""

    def request_from(self, *, now: int, look_back: int, initial_look_back: int) -> int:
        """The `Updated_From` of the next request (microseconds since the epoch)."""
        if self.mark is None:
            return now - initial_look_back
        return self.mark - look_back


def encode_cursor(cursor: Cursor) -> str:
    """The cursor as compact JSON (what the store keeps); moments as readable UTC times."""
    data: dict[str, Any] = {"v": CURSOR_VERSION}
    if cursor.mark is not None:
        data["mark"] = format_moment(cursor.mark)
    data["seen"] = {key: format_moment(value) for key, value in sorted(cursor.seen.items())}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def decode_cursor(text: str) -> Cursor:
    """The cursor `encode_cursor` made; ValueError for anything else."""
    try:
        data = json.loads(text)
    except ValueError:
        raise ValueError("the saved cursor is not JSON") from None
    if not isinstance(data, dict) or data.get("v") != CURSOR_VERSION:
        raise ValueError(f"the saved cursor is not a version {CURSOR_VERSION} Workday cursor")
    mark = data.get("mark")
    seen = data.get("seen", {})
    if (mark is not None and not isinstance(mark, str)) or not isinstance(seen, dict):
        raise ValueError("the saved cursor has an unexpected shape")
    moments: dict[str, int] = {}
    for key, value in seen.items():
        if not isinstance(value, str):
            raise ValueError("the saved cursor has an unexpected shape")
        moments[key] = parse_moment(value)
    return Cursor(mark=parse_moment(mark) if mark is not None else None, seen=moments)


def next_page(
    cursor: Cursor,
    rows: Iterable[tuple[str, int]],
    *,
    request_from: int,
    page_size: int,
    look_back: int,
) -> tuple[list[tuple[str, int]], Cursor, bool]:
    """Which `(application_id, moment)` rows of a report answer to take, the cursor after
    taking them, and whether more new rows are waiting.

    Rows before `request_from` (a report that ignored the prompt) and rows already taken at
    the same or a later moment are left out; the rest are taken oldest first, ties by id."""
    seen = cursor.seen
    fresh = sorted(
        {
            (key, moment)
            for key, moment in rows
            if moment >= request_from and (key not in seen or moment > seen[key])
        },
        key=lambda row: (row[1], row[0]),
    )
    # The same application twice in one answer: only its newest row counts.
    newest: dict[str, int] = {}
    for key, moment in fresh:
        newest[key] = moment
    fresh = [(key, moment) for key, moment in fresh if newest[key] == moment]
    page = fresh[:page_size]
    if not page:
        return [], cursor, False
    mark = max(moment for _, moment in page)
    if cursor.mark is not None:
        mark = max(mark, cursor.mark)
    # Rows before the next request's start cannot come back, so they need no remembering.
    taken = {**seen, **dict(page)}
    kept = {key: moment for key, moment in taken.items() if moment >= mark - look_back}
    return page, Cursor(mark=mark, seen=kept), len(fresh) > page_size
