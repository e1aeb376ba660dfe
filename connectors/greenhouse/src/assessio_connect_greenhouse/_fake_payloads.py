"""The `candidate_stage_change` web hook payload for one of the fake's applications, in the shape
of Greenhouse's documented example (grnhse/greenhouse-api-docs
source/includes/webhooks/_candidate_events.md). Callers hold the data lock."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._fake_state import FakeData

__all__ = ["stage_change_payload"]

WEB = "https://app.greenhouse.io"


def _person(data: FakeData, user_id: int | None) -> dict[str, Any] | None:
    user = data.users.get(user_id) if user_id is not None else None
    if user is None:
        return None
    return {
        "id": user["id"],
        "email": user["primary_email"],
        "name": f"{user['first_name']} {user['last_name']}".strip(),
        "employee_id": user.get("employee_id"),
    }


def _webhook_fields(data: FakeData, field_type: str, values: Mapping[str, Any]) -> dict[str, Any]:
    return {
        f["name_key"]: {
            "name": f["name"],
            "type": f["value_type"],
            "value": values.get(f["name_key"]),
        }
        for f in data.custom_fields.values()
        if f["field_type"] == field_type
    }


def _owner(data: FakeData, job_id: int, kind: str) -> int | None:
    for owner in data.job_owners.values():
        if owner["job_id"] == job_id and owner["type"] == kind and owner["responsible"]:
            return int(owner["user_id"])
    return None


def stage_change_payload(data: FakeData, application: Mapping[str, Any]) -> dict[str, Any]:
    job = data.jobs[application["job_id"]]
    candidate = data.candidates[application["candidate_id"]]
    stage = data.stages[application["stage_id"]]
    department = data.departments.get(job.get("department_id") or -1)
    status = {"in_process": "active"}.get(application["status"], application["status"])
    return {
        "application": {
            "id": application["id"],
            "rejected_at": None,
            "prospect": False,
            "status": status,
            "applied_at": application["created_at"],
            "last_activity_at": application["updated_at"],
            "url": f"{WEB}/people/{candidate['id']}?application_id={application['id']}",
            "source": None,
            "credited_to": None,
            "rejection_reason": None,
            "rejection_details": None,
            "current_stage": {"id": stage["id"], "name": stage["name"], "interviews": []},
            "custom_fields": _webhook_fields(
                data, "application", application.get("custom_fields", {})
            ),
            "candidate": {
                "id": candidate["id"],
                "first_name": candidate["first_name"],
                "last_name": candidate["last_name"],
                "title": candidate.get("title"),
                "company": candidate.get("company"),
                "created_at": candidate["created_at"],
                "external_id": None,
                "photo_url": None,
                "url": f"{WEB}/people/{candidate['id']}",
                "is_private": candidate.get("private", False),
                "can_email": candidate.get("can_email", True),
                "phone_numbers": [dict(p) for p in candidate.get("phone_numbers", ())],
                "email_addresses": [dict(e) for e in candidate["email_addresses"]],
                "addresses": [dict(a) for a in candidate.get("addresses", ())],
                "website_addresses": [dict(w) for w in candidate.get("website_addresses", ())],
                "social_media_addresses": [
                    dict(s) for s in candidate.get("social_media_addresses", ())
                ],
                "educations": [],
                "employments": [],
                "recruiter": _person(data, _owner(data, job["id"], "recruiter")),
                "coordinator": _person(data, _owner(data, job["id"], "coordinator")),
                "attachments": [],
                "tags": list(candidate.get("tags", ())),
                "custom_fields": _webhook_fields(data, "candidate", candidate["custom_fields"]),
            },
            "jobs": [
                {
                    "id": job["id"],
                    "name": job["name"],
                    "requisition_id": job.get("requisition_id"),
                    "notes": job.get("notes"),
                    "confidential": job.get("confidential", False),
                    "job_post_id": job.get("job_post_id"),
                    "status": job.get("status", "open"),
                    "created_by_id": None,
                    "created_at": job["created_at"],
                    "opened_at": job.get("opened_at"),
                    "closed_at": job.get("closed_at"),
                    "departments": []
                    if department is None
                    else [
                        {
                            "id": department["id"],
                            "name": department["name"],
                            "external_id": department.get("external_id"),
                        }
                    ],
                    "offices": [],
                    "custom_fields": _webhook_fields(data, "job", job.get("custom_fields", {})),
                }
            ],
        }
    }
