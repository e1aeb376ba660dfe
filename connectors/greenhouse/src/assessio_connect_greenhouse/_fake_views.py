"""Harvest v3 objects as the reference documents them (harvestdocs.greenhouse.io/reference:
the `application`, `candidate`, `custom_field`, `department`, `job`, `job_interview_stage`,
`job_owner`, `job_hiring_manager`, `note` and `user` schemas). Flat objects: relations are ids,
custom field values are `{name_key: {name, type, value}}`. Callers hold the data lock."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._fake_state import FakeData

__all__ = ["VIEWS"]


def _stamps(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": record["id"],
        "created_at": record["created_at"],
        "updated_at": record["updated_at"],
    }


def _custom_values(data: FakeData, field_type: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Every defined field of `field_type`, null when it has no value (as Greenhouse exports)."""
    shown: dict[str, Any] = {}
    for field in data.custom_fields.values():
        if field["field_type"] == field_type:
            shown[field["name_key"]] = {
                "name": field["name"],
                "type": field["value_type"],
                "value": values.get(field["name_key"]),
            }
    return shown


def user_json(data: FakeData, user: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **_stamps(user),
        "first_name": user["first_name"],
        "last_name": user["last_name"],
        "primary_email": user["primary_email"],
        "job_title": user.get("job_title"),
        "agency_id": None,
        "name": f"{user['first_name']} {user['last_name']}".strip(),
        "deactivated": user["deactivated"],
        "site_admin": user.get("site_admin", False),
        "employee_id": user.get("employee_id"),
        "linked_candidate_ids": [],
        "office_ids": list(user.get("office_ids", ())),
        "department_ids": list(user.get("department_ids", ())),
        "interviewer_tags": [],
        "emails": list(user["emails"]),
        "custom_fields": _custom_values(data, "user_attribute", {}),
    }


def department_json(data: FakeData, department: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **_stamps(department),
        "name": department["name"],
        "parent_id": department.get("parent_id"),
        "external_id": department.get("external_id"),
    }


def job_json(data: FakeData, job: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **_stamps(job),
        "name": job["name"],
        "requisition_id": job.get("requisition_id"),
        "notes": job.get("notes"),
        "confidential": job.get("confidential", False),
        "status": job.get("status", "open"),
        "opened_at": job.get("opened_at"),
        "closed_at": job.get("closed_at"),
        "is_template": False,
        "copied_from_id": None,
        "department_id": job.get("department_id"),
        "office_ids": list(job.get("office_ids", ())),
        "custom_fields": _custom_values(data, "job", job.get("custom_fields", {})),
    }


def stage_json(data: FakeData, stage: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **_stamps(stage),
        "job_id": stage["job_id"],
        "sort_order": stage["sort_order"],
        "name": stage["name"],
        "active": True,
    }


def job_owner_json(data: FakeData, owner: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **_stamps(owner),
        "job_id": owner["job_id"],
        "user_id": owner["user_id"],
        "type": owner["type"],
        "responsible": owner["responsible"],
    }


def hiring_manager_json(data: FakeData, manager: Mapping[str, Any]) -> dict[str, Any]:
    return {**_stamps(manager), "user_id": manager["user_id"], "job_id": manager["job_id"]}


def candidate_json(data: FakeData, candidate: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **_stamps(candidate),
        "first_name": candidate["first_name"],
        "last_name": candidate["last_name"],
        "preferred_name": candidate.get("preferred_name"),
        "company": candidate.get("company"),
        "title": candidate.get("title"),
        "last_activity_at": candidate["updated_at"],
        "private": candidate.get("private", False),
        "can_email": candidate.get("can_email", True),
        "time_zone": None,
        "tags": list(candidate.get("tags", ())),
        "linked_user_ids": [],
        "phone_numbers": [dict(p) for p in candidate.get("phone_numbers", ())],
        "addresses": [dict(a) for a in candidate.get("addresses", ())],
        "email_addresses": [dict(e) for e in candidate["email_addresses"]],
        "website_addresses": [dict(w) for w in candidate.get("website_addresses", ())],
        "social_media_addresses": [dict(s) for s in candidate.get("social_media_addresses", ())],
        "custom_fields": _custom_values(data, "candidate", candidate["custom_fields"]),
    }


def application_json(data: FakeData, application: Mapping[str, Any]) -> dict[str, Any]:
    stage = data.stages.get(application["stage_id"])
    return {
        **_stamps(application),
        "agency_note_id": None,
        "candidate_id": application["candidate_id"],
        "coordinator_id": application.get("coordinator_id"),
        "job_id": application["job_id"],
        "job_post_id": application.get("job_post_id"),
        "recruiter_id": application.get("recruiter_id"),
        "referrer_id": application.get("referrer_id"),
        "source_id": application.get("source_id"),
        "stage_id": application["stage_id"],
        "stage_name": stage["name"] if stage is not None else None,
        "status": application.get("status", "in_process"),
        "needs_decision": False,
        "prospect": False,
        "rejected_at": None,
        "last_activity_at": application["updated_at"],
        "location_address": None,
        "answers": [],
        "prospective_job_ids": [],
        "custom_fields": _custom_values(data, "application", application.get("custom_fields", {})),
    }


def custom_field_json(data: FakeData, field: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **_stamps(field),
        "field_type": field["field_type"],
        "sort_order": field["sort_order"],
        "name": field["name"],
        "value_type": field["value_type"],
        "private": False,
        "required": False,
        "require_approval": False,
        "trigger_new_version": False,
        "active": True,
        "updated_by_id": None,
        "internal_type": None,
        "expose_in_job_board_api": False,
        "placeholder": None,
        "name_key": field["name_key"],
        "description": None,
        "application_type": None,
        "api_only": False,
        "use_for_job_approvals": None,
        "use_for_offer_approvals": None,
        "template_token_string": None,
        "default_value": None,
    }


def note_json(data: FakeData, note: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **_stamps(note),
        "candidate_id": note["candidate_id"],
        "application_id": note.get("application_id"),
        "body": note["body"],
        "subject": None,
        "type": note["type"],
        "user_id": note["user_id"],
        "email_from": None,
        "email_to": None,
        "email_cc": None,
        "import_hash": None,
        "body_with_tags": note["body"],
        "visibility": note["visibility"],
        "email_attachment_file_names": None,
    }


VIEWS = {
    "users": user_json,
    "departments": department_json,
    "jobs": job_json,
    "job_interview_stages": stage_json,
    "job_owners": job_owner_json,
    "job_hiring_managers": hiring_manager_json,
    "candidates": candidate_json,
    "applications": application_json,
    "custom_fields": custom_field_json,
    "notes": note_json,
}
"""How each v3 list resource renders one stored record."""
