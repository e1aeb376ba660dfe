"""Creating the fake Greenhouse's records (users, departments, jobs with their stages and hiring
team, candidates, applications, custom fields), each with a fresh id or a given one (seeding a
documented example). Callers hold the data lock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._fake_state import FakeData

__all__ = [
    "HIRING_ROLES",
    "new_application",
    "new_candidate",
    "new_custom_field",
    "new_department",
    "new_job",
    "new_user",
    "stage_named",
]

HIRING_ROLES = ("hiring_managers", "recruiters", "coordinators", "sourcers")
OWNER_TYPES = {"recruiters": "recruiter", "coordinators": "coordinator", "sourcers": "sourcer"}


def _ident(data: FakeData, ident: int | None) -> int:
    return data.next_id() if ident is None else data.take_id(ident)


def new_user(
    data: FakeData,
    stamp: str,
    first_name: str,
    last_name: str,
    email: str,
    *,
    ident: int | None = None,
    deactivated: bool = False,
    employee_id: str | None = None,
) -> int:
    user_id = _ident(data, ident)
    data.users[user_id] = {
        "id": user_id,
        "created_at": stamp,
        "updated_at": stamp,
        "first_name": first_name,
        "last_name": last_name,
        "primary_email": email,
        "emails": [email],
        "deactivated": deactivated,
        "employee_id": employee_id,
    }
    return user_id


def new_department(
    data: FakeData,
    stamp: str,
    name: str,
    *,
    ident: int | None = None,
    external_id: str | None = None,
) -> int:
    department_id = _ident(data, ident)
    data.departments[department_id] = {
        "id": department_id,
        "created_at": stamp,
        "updated_at": stamp,
        "name": name,
        "parent_id": None,
        "external_id": external_id,
    }
    return department_id


def new_job(
    data: FakeData,
    stamp: str,
    name: str,
    *,
    department_id: int | None,
    notes: str,
    stages: Sequence[str | tuple[int, str]],
    hiring_team: Mapping[str, Sequence[int]],
    ident: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> int:
    """A job, its interview stages (names, or (id, name) to fix an id) and its hiring team:
    `hiring_managers` become job hiring managers, the others job owners (the first of each
    role responsible)."""
    unknown = set(hiring_team) - set(HIRING_ROLES)
    if unknown:
        raise ValueError(f"hiring team roles are {', '.join(HIRING_ROLES)}, not {sorted(unknown)}")
    job_id = _ident(data, ident)
    data.jobs[job_id] = {
        "id": job_id,
        "created_at": stamp,
        "updated_at": stamp,
        "name": name,
        "notes": notes,
        "status": "open",
        "opened_at": stamp,
        "department_id": department_id,
        "office_ids": [],
        "custom_fields": {},
        **(extra or {}),
    }
    for order, stage in enumerate(stages):
        stage_id, stage_name = stage if isinstance(stage, tuple) else (None, stage)
        stage_id = _ident(data, stage_id)
        data.stages[stage_id] = {
            "id": stage_id,
            "created_at": stamp,
            "updated_at": stamp,
            "job_id": job_id,
            "sort_order": order,
            "name": stage_name,
        }
    for role, user_ids in hiring_team.items():
        for index, user_id in enumerate(user_ids):
            link_id = data.next_id()
            link = {
                "id": link_id,
                "created_at": stamp,
                "updated_at": stamp,
                "job_id": job_id,
                "user_id": int(user_id),
            }
            if role == "hiring_managers":
                data.hiring_managers[link_id] = link
            else:
                data.job_owners[link_id] = {
                    **link,
                    "type": OWNER_TYPES[role],
                    "responsible": index == 0,
                }
    return job_id


def stage_named(data: FakeData, job_id: int, name: str) -> dict[str, Any]:
    for stage in sorted(data.stages.values(), key=lambda s: s["sort_order"]):
        if stage["job_id"] == job_id and stage["name"] == name:
            return stage
    raise KeyError(f"job {job_id} has no stage {name!r}")


def new_candidate(
    data: FakeData,
    stamp: str,
    first_name: str,
    last_name: str,
    emails: Sequence[tuple[str, str]],
    *,
    ident: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> int:
    candidate_id = _ident(data, ident)
    data.candidates[candidate_id] = {
        "id": candidate_id,
        "created_at": stamp,
        "updated_at": stamp,
        "first_name": first_name,
        "last_name": last_name,
        "email_addresses": [{"value": v, "type": t} for v, t in emails],
        "custom_fields": {},
        **(extra or {}),
    }
    return candidate_id


def new_application(
    data: FakeData,
    stamp: str,
    candidate_id: int,
    job_id: int,
    stage: str | None,
    *,
    ident: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> int:
    if candidate_id not in data.candidates:
        raise KeyError(f"no candidate {candidate_id}")
    if job_id not in data.jobs:
        raise KeyError(f"no job {job_id}")
    if stage is None:
        first = min(
            (s for s in data.stages.values() if s["job_id"] == job_id),
            key=lambda s: s["sort_order"],
        )
        stage_id = first["id"]
    else:
        stage_id = stage_named(data, job_id, stage)["id"]
    application_id = _ident(data, ident)
    data.applications[application_id] = {
        "id": application_id,
        "created_at": stamp,
        "updated_at": stamp,
        "candidate_id": candidate_id,
        "job_id": job_id,
        "stage_id": stage_id,
        "status": "in_process",
        "custom_fields": {},
        **(extra or {}),
    }
    return application_id


def new_custom_field(
    data: FakeData,
    stamp: str,
    name: str,
    *,
    value_type: str,
    name_key: str | None,
    field_type: str,
    ident: int | None = None,
) -> int:
    """A custom field definition; `name_key` defaults to the underscore slug of `name`."""
    key = name_key or "_".join(name.lower().split())
    field_id = _ident(data, ident)
    data.custom_fields[field_id] = {
        "id": field_id,
        "created_at": stamp,
        "updated_at": stamp,
        "name": name,
        "name_key": key,
        "value_type": value_type,
        "field_type": field_type,
        "sort_order": len(data.custom_fields),
    }
    return field_id
