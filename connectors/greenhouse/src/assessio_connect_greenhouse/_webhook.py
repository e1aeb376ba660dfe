"""Greenhouse web hooks: the `Signature` scheme, the event id header, and reading a
`candidate_stage_change` payload."""

from __future__ import annotations

from collections.abc import Mapping
from html.parser import HTMLParser
from typing import Any

import attrs

from assessio_connect import BodyHmac, PayloadError
from assessio_connect.kit import email_problem, json_type

from ._reading import GreenhouseReader

__all__ = [
    "EVENT_ID_HEADER",
    "SIGNATURE",
    "StageChange",
    "parse_stage_change",
    "plain_text",
]

SIGNATURE = BodyHmac("Signature", prefix="sha256 ")
"""`Signature: sha256 <hex HMAC-SHA256 of the raw body>` under the web hook's secret key
(grnhse/greenhouse-api-docs, source/includes/webhooks/_introduction.md)."""
EVENT_ID_HEADER = "Greenhouse-Event-ID"
"""A unique id per event, the same on each retry of it (grnhse/greenhouse-api-docs,
source/includes/webhooks/_introduction.md): the inbound queue's key."""
_WHAT = "Greenhouse web hook"
DESCRIPTION_LIMIT = 2000


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_text(html: str, limit: int = DESCRIPTION_LIMIT) -> str:
    """Job notes (HTML) as one line of text, at most `limit` characters."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    text = " ".join(" ".join(extractor.parts).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@attrs.frozen
class StageChange:
    """What the connector needs from a `candidate_stage_change` payload."""

    application_id: str
    stage_id: str | None
    stage_name: str | None
    candidate_id: str
    candidate_name: str = attrs.field(repr=False)
    email: str | None = attrs.field(repr=False)
    """The candidate's personal address, else the first valid one; None when there is none."""
    job_id: str | None
    job_name: str
    job_description: str
    department: str | None
    prospect: bool


def _email(candidate: Mapping[str, Any]) -> str | None:
    addresses = candidate.get("email_addresses")
    if not isinstance(addresses, list):
        return None
    valid = [
        item
        for item in addresses
        if isinstance(item, dict) and email_problem(item.get("value")) is None
    ]
    for item in valid:
        if item.get("type") == "personal":
            return str(item["value"])
    return str(valid[0]["value"]) if valid else None


def _job(read: GreenhouseReader, application: Mapping[str, Any]) -> Mapping[str, Any] | None:
    path = "$.payload.application"
    jobs = application.get("jobs")
    if jobs is not None and not isinstance(jobs, list):
        read.problem(f"expected an array, got {json_type(jobs)}", f"{path}.jobs")
        return None
    if jobs:
        if not isinstance(jobs[0], dict):
            read.problem(f"expected an object, got {json_type(jobs[0])}", f"{path}.jobs[0]")
            return None
        return jobs[0]
    legacy = application.get("job")  # deprecated, still sent by some events
    return legacy if isinstance(legacy, dict) else None


def _department(job: Mapping[str, Any]) -> str | None:
    departments = job.get("departments")
    if isinstance(departments, list):
        for item in departments:
            if isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"]:
                return str(item["name"])
    return None


def parse_stage_change(data: object) -> StageChange:
    """The essentials of a `candidate_stage_change` body, or `PayloadError` listing each problem
    as `message @ $.path`. Unknown fields are ignored."""
    read = GreenhouseReader(_WHAT)
    payload = read.table(read.root(data), "payload", "$")
    application = read.table(payload, "application", "$.payload")
    if application is None:
        raise PayloadError(read.problems, what=_WHAT)
    path = "$.payload.application"
    application_id = read.ident(application, "id", path)
    stage = application.get("current_stage")
    if stage is not None and not isinstance(stage, dict):
        read.problem(f"expected an object, got {json_type(stage)}", f"{path}.current_stage")
        stage = None
    stage_id = read.ident(stage, "id", f"{path}.current_stage", required=False)
    stage_name = read.optional_text(stage, "name", f"{path}.current_stage")
    candidate = read.table(application, "candidate", path)
    candidate_id = read.ident(candidate, "id", f"{path}.candidate")
    first = read.optional_text(candidate, "first_name", f"{path}.candidate") or ""
    last = read.optional_text(candidate, "last_name", f"{path}.candidate") or ""
    job = _job(read, application)
    job_id = read.ident(job, "id", f"{path}.jobs[0]")
    job_name = (read.optional_text(job, "name", f"{path}.jobs[0]") or "").strip()
    notes = read.optional_text(job, "notes", f"{path}.jobs[0]")
    if read.problems or application_id is None or candidate_id is None:
        raise PayloadError(read.problems, what=_WHAT)
    return StageChange(
        application_id=application_id,
        stage_id=stage_id,
        stage_name=stage_name,
        candidate_id=candidate_id,
        candidate_name=" ".join(part for part in (first.strip(), last.strip()) if part),
        email=_email(candidate) if candidate is not None else None,
        job_id=job_id,
        job_name=job_name or (f"Greenhouse job {job_id}" if job_id else ""),
        job_description=plain_text(notes) if notes else "",
        department=_department(job) if job is not None else None,
        prospect=application.get("prospect") is True,
    )
