"""The reference connector in `assessio-connect demo`: its fake ATS pushes signed events."""

from __future__ import annotations

import secrets
from pathlib import Path

from assessio_connect.demo import assessio_tables, demo_organisation, secret_writer
from assessio_connect.sandbox import Organisation

from ._fake import ReferenceAts

__all__ = ["ReferenceDemo"]


class ReferenceDemo:
    """A reference ATS that pushes each candidate to the daemon as an event."""

    def __init__(self) -> None:
        self._token = secrets.token_urlsafe(16)
        self._webhook_secret = secrets.token_urlsafe(16)
        self._organisation = demo_organisation("reference")
        self.ats = ReferenceAts(api_token=self._token, webhook_secret=self._webhook_secret)
        self._tenant = ""
        self._emails: dict[str, str] = {}

    def start(self) -> None:
        self.ats.start()

    def stop(self) -> None:
        self.ats.stop()

    def organisation(self) -> Organisation:
        return self._organisation

    def tenant_toml(self, tenant: str, sandbox_url: str, secrets_dir: Path) -> str:
        self._tenant = tenant
        ref = secret_writer(secrets_dir, tenant)
        rules = {"Sales": "Sales"}  # department -> lens
        assessio = assessio_tables(
            tenant, sandbox_url, self._organisation, ref, department_lenses=rules
        )
        return (
            assessio
            + f"""
[tenants.{tenant}.ats]
kind = "reference"
base_url = "{self.ats.url}"
api_token = {ref("ats-token", self._token)}
webhook_secret = {ref("ats-webhook", self._webhook_secret)}
"""
        )

    def trigger(self, daemon_url: str, candidates: list[tuple[str, str]]) -> None:
        for index, (name, email) in enumerate(candidates):
            application_id = f"ref-app-{index + 1}"
            self._emails[application_id] = email
            department = "Sales" if index % 2 else "Engineering"
            body = self.ats.add_invitation(
                application_id,
                job={
                    "id": f"job-{department.lower()}",
                    "title": f"{department} role",
                    "department": department,
                },
                candidate={"id": f"cand-{index + 1}", "email": email, "name": name},
            )
            self.ats.push_event(f"{daemon_url}/connectors/{self._tenant}/events", body)

    def write_backs(self) -> list[tuple[str, str, float]]:
        return [
            (
                self._emails.get(write.application_id, write.application_id),
                f"PUT /api/applications/{write.application_id}/assessment",
                write.at,
            )
            for write in self.ats.writes
            if 200 <= write.status < 300
        ]
