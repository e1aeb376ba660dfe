"""The Greenhouse connector in `assessio-connect demo`: the fake Greenhouse moves candidates into
its "Assessment" stage and receives each result as a Harvest v3 note and a custom field, the
connector authenticating with OAuth client credentials (a custom integration)."""

from __future__ import annotations

import secrets
from pathlib import Path

from assessio_connect.demo import assessio_tables, demo_organisation, secret_writer
from assessio_connect.sandbox import Organisation

from .fake import FakeGreenhouse

__all__ = ["GreenhouseDemo"]

STAGE = "Assessment"


class GreenhouseDemo:
    """A fake Greenhouse sending signed `candidate_stage_change` web hooks to the daemon."""

    def __init__(self) -> None:
        self._client_id = f"demo-{secrets.token_hex(4)}"
        self._client_secret = secrets.token_urlsafe(16)
        self._webhook_secret = secrets.token_urlsafe(16)
        self._organisation = demo_organisation("greenhouse")
        self.greenhouse = FakeGreenhouse(
            client_id=self._client_id, client_secret=self._client_secret
        )
        self._author = self.greenhouse.add_user("Demo", "Recruiter", "recruiter@demo.example")
        self.greenhouse.add_custom_field("Assessio Score", value_type="number")
        self._jobs = {
            department: self.greenhouse.add_job(
                f"{department} role", department=department, notes="<p>Demo job</p>"
            )
            for department in ("Engineering", "Sales")
        }
        self._tenant = ""
        self._emails: dict[str, str] = {}
        self._configured = False

    def start(self) -> None:
        self.greenhouse.start()

    def stop(self) -> None:
        self.greenhouse.stop()

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
kind = "greenhouse"
harvest_url = "{self.greenhouse.url}"
auth_url = "{self.greenhouse.url}"
custom_fields = {{ score = "assessio_score" }}

[tenants.{tenant}.ats.oauth]
client_id = "{self._client_id}"
client_secret = {ref("oauth-client-secret", self._client_secret)}
user_id = {self._author}

[tenants.{tenant}.ats.webhook]
secret_key = {ref("webhook-secret", self._webhook_secret)}
stages = [{{ name = "{STAGE}" }}]
"""
        )

    def trigger(self, daemon_url: str, candidates: list[tuple[str, str]]) -> None:
        if not self._configured:
            self.greenhouse.configure_webhook(
                f"{daemon_url}/connectors/{self._tenant}/webhook", self._webhook_secret
            )
            self._configured = True
        for index, (name, email) in enumerate(candidates):
            first, _, last = name.partition(" ")
            candidate_id = self.greenhouse.add_candidate(first, last, email)
            self._emails[str(candidate_id)] = email
            job = self._jobs["Sales" if index % 2 else "Engineering"]
            application_id = self.greenhouse.add_application(candidate_id, job)
            self.greenhouse.move_to_stage(application_id, STAGE)

    def write_backs(self) -> list[tuple[str, str, float]]:
        return [
            (
                self._emails.get(write.target, write.target),
                f"note on candidate {write.target}",
                write.at,
            )
            for write in self.greenhouse.writes
            if write.kind == "note" and write.status == 201
        ]
