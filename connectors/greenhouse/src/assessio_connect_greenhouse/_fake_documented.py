"""Greenhouse's documented `candidate_stage_change` example (see `_fake_data/README.md`): its
exact bytes, and seeding the fake with the users, department, job, candidate and application it
names, under the ids it uses, so that Harvest v3 reads resolve every id in it."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from ._fake_records import (
    new_application,
    new_candidate,
    new_custom_field,
    new_department,
    new_job,
    new_user,
)
from ._fake_state import FakeData

__all__ = ["documented_stage_change_body", "seed_documented_stage_change"]


def documented_stage_change_body() -> bytes:
    """The documented example, byte for byte."""
    return (
        resources.files(__package__) / "_fake_data" / "candidate_stage_change.json"
    ).read_bytes()


def _v3(stamp: str) -> str:
    """`2013-10-04T01:24:44Z` as Harvest v3 writes it: `2013-10-04T01:24:44.000Z`."""
    return stamp[:-1] + ".000Z" if stamp.endswith("Z") and "." not in stamp else stamp


def seed_documented_stage_change(data: FakeData, stamp: str) -> dict[str, Any]:
    """Create what the example names (caller holds the lock); returns the parsed example."""
    example: dict[str, Any] = json.loads(documented_stage_change_body())
    application = example["payload"]["application"]
    candidate = application["candidate"]
    (job,) = application["jobs"]
    (department,) = job["departments"]
    (office,) = job["offices"]
    recruiter = candidate["recruiter"]
    credited = application["credited_to"]
    (interview,) = application["current_stage"]["interviews"]
    (interviewer,) = interview["interviewers"]

    for person in (credited, recruiter):
        first, _, last = person["name"].partition(" ")
        employee_id = person["employee_id"]
        email = person["email"]
        new_user(data, stamp, first, last, email, ident=person["id"], employee_id=employee_id)
    first, _, last = interviewer["display_name"].partition(" ")
    # The example gives the interviewer and the job's creator no e-mail address.
    new_user(
        data, stamp, first, last, f"user.{interviewer['id']}@example.com", ident=interviewer["id"]
    )
    creator = job["created_by_id"]
    new_user(data, stamp, "Job", "Creator", f"user.{creator}@example.com", ident=creator)

    new_department(
        data,
        stamp,
        department["name"],
        ident=department["id"],
        external_id=department["external_id"],
    )
    data.offices[data.take_id(office["id"])] = dict(office)
    for field in (
        (candidate["custom_fields"], "candidate"),
        (application["custom_fields"], "application"),
        (job["custom_fields"], "job"),
    ):
        values, field_type = field
        for key, value in values.items():
            kind = value["type"]
            new_custom_field(
                data, stamp, value["name"], value_type=kind, name_key=key, field_type=field_type
            )

    stage = application["current_stage"]
    job_id = new_job(
        data,
        _v3(job["created_at"]),
        job["name"],
        department_id=department["id"],
        notes=job["notes"],
        stages=["Application Review", (stage["id"], stage["name"]), "Face to Face", "Offer"],
        hiring_team={
            "recruiters": [recruiter["id"]],
            "coordinators": [candidate["coordinator"]["id"]],
        },
        ident=job["id"],
        extra={
            "requisition_id": job["requisition_id"],
            "confidential": job["confidential"],
            "status": job["status"],
            "opened_at": _v3(job["opened_at"]),
            "closed_at": job["closed_at"],
            "office_ids": [office["id"]],
            "job_post_id": job["job_post_id"],
            "custom_fields": {k: v["value"] for k, v in job["custom_fields"].items()},
        },
    )
    candidate_id = new_candidate(
        data,
        _v3(candidate["created_at"]),
        candidate["first_name"],
        candidate["last_name"],
        [(e["value"], e["type"]) for e in candidate["email_addresses"]],
        ident=candidate["id"],
        extra={
            "title": candidate["title"],
            "company": candidate["company"],
            "private": candidate["is_private"],
            "can_email": candidate["can_email"],
            "phone_numbers": candidate["phone_numbers"],
            "addresses": candidate["addresses"],
            "website_addresses": candidate["website_addresses"],
            "social_media_addresses": candidate["social_media_addresses"],
            "tags": candidate["tags"],
            "custom_fields": {k: v["value"] for k, v in candidate["custom_fields"].items()},
        },
    )
    new_application(
        data,
        _v3(application["applied_at"]),
        candidate_id,
        job_id,
        stage["name"],
        ident=application["id"],
        extra={
            "updated_at": _v3(application["last_activity_at"]),
            "source_id": application["source"]["id"],
            "recruiter_id": recruiter["id"],
            "coordinator_id": candidate["coordinator"]["id"],
            "job_post_id": job["job_post_id"],
            "custom_fields": {k: v["value"] for k, v in application["custom_fields"].items()},
        },
    )
    data.changed()
    return example
