"""Jobs read through Harvest v3 (flat objects, relations by id): the job behind an application
(partner mode names the recruitment after it) and a job's hiring team's e-mail addresses."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from assessio_connect import AtsJob, PermanentError
from assessio_connect.kit import email_problem

from ._harvest import HarvestClient
from ._webhook import plain_text

__all__ = ["MAX_IDS", "hiring_team_emails", "job_of_application", "unique_emails"]

MAX_IDS = 50
"""Ids per `?ids=` filter that Harvest v3 takes at once."""


def _ident(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or str(value) == "":
        return None
    return str(value)


def unique_emails(emails: Iterable[str]) -> tuple[str, ...]:
    """Each address once (compared case-insensitively), in their first order."""
    seen: dict[str, str] = {}
    for email in emails:
        seen.setdefault(email.strip().casefold(), email.strip())
    return tuple(seen.values())


def job_of_application(harvest: HarvestClient, application_id: str) -> AtsJob:
    """The job an application is for: name, notes as text and department name."""
    application = harvest.find(
        "applications", application_id, action=f"read application {application_id}"
    )
    job_id = _ident(application.get("job_id")) if application is not None else None
    if job_id is None:
        raise PermanentError(f"Greenhouse has no application {application_id} with a job")
    job = harvest.find("jobs", job_id, action=f"read job {job_id}")
    if job is None:
        raise PermanentError(f"Greenhouse has no job {job_id}")
    department = None
    department_id = _ident(job.get("department_id"))
    if department_id is not None:
        found = harvest.find(
            "departments", department_id, action=f"read department {department_id}"
        )
        name = found.get("name") if found is not None else None
        department = name if isinstance(name, str) and name.strip() else None
    notes, name = job.get("notes"), job.get("name")
    return AtsJob(
        id=job_id,
        title=name if isinstance(name, str) and name.strip() else f"Greenhouse job {job_id}",
        description=plain_text(notes) if isinstance(notes, str) else "",
        department=department,
    )


def hiring_team_emails(harvest: HarvestClient, job_id: str) -> tuple[str, ...]:
    """E-mail addresses of the job's hiring managers and owners (recruiters, coordinators,
    sourcers) who are active users."""
    query = {"job_ids": job_id}
    members: list[Any] = [
        *harvest.read_all(
            "job_hiring_managers",
            query,
            action=f"read the hiring managers of job {job_id}",
        ),
        *harvest.read_all("job_owners", query, action=f"read the owners of job {job_id}"),
    ]
    user_ids = list(
        dict.fromkeys(
            ident
            for member in members
            if isinstance(member, dict) and (ident := _ident(member.get("user_id"))) is not None
        )
    )
    emails: list[str] = []
    for start in range(0, len(user_ids), MAX_IDS):
        chunk = ",".join(user_ids[start : start + MAX_IDS])
        users = harvest.read_all("users", {"ids": chunk}, action=f"read the users of job {job_id}")
        by_id = {str(u.get("id")): u for u in users if isinstance(u, dict)}
        for user_id in user_ids[start : start + MAX_IDS]:
            user = by_id.get(user_id)
            if user is None or user.get("deactivated") is True:
                continue
            candidates = [user.get("primary_email"), *(user.get("emails") or [])]
            email = next((e for e in candidates if email_problem(e) is None), None)
            if isinstance(email, str):
                emails.append(email)
    return unique_emails(emails)
