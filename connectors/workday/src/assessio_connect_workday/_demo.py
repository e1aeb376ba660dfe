"""The Workday connector in `assessio-connect demo`: a fake Workday tenant, polled every 0.2 s,
whose applications reach the assessment step and get their results by `Assess_Candidate`."""

from __future__ import annotations

from pathlib import Path

from assessio_connect.demo import assessio_tables, demo_organisation, secret_writer
from assessio_connect.sandbox import Organisation

from .fake import FakeWorkday

__all__ = ["WorkdayDemo"]

DEMO_TEST = "ASSESSIO_GENERAL_PERFORMANCE"


class WorkdayDemo:
    """A fake Workday tenant reached with OAuth 2.0 (refresh token)."""

    def __init__(self) -> None:
        self._organisation = demo_organisation("workday")
        self.workday = FakeWorkday(tenant="demo_tenant", tests={DEMO_TEST: "Assessio General"})
        self._emails: dict[str, str] = {}

    def start(self) -> None:
        self.workday.start()

    def stop(self) -> None:
        self.workday.stop()

    def organisation(self) -> Organisation:
        return self._organisation

    def tenant_toml(self, tenant: str, sandbox_url: str, secrets_dir: Path) -> str:
        ref = secret_writer(secrets_dir, tenant)
        return (
            assessio_tables(tenant, sandbox_url, self._organisation, ref)
            + f"""
[tenants.{tenant}.ats]
kind = "workday"
base_url = "{self.workday.url}"
tenant = "{self.workday.tenant}"
report = "{self.workday.report}"
client_id = "{self.workday.client_id}"
client_secret = {ref("workday-client-secret", self.workday.client_secret)}
refresh_token = {ref("workday-refresh-token", self.workday.refresh_token)}
poll_interval = 0.2
status_completed = "ASSESSIO_COMPLETED"

[tenants.{tenant}.ats.tests]
"General Performance" = "{DEMO_TEST}"
"""
        )

    def trigger(self, daemon_url: str, candidates: list[tuple[str, str]]) -> None:
        for index, (name, email) in enumerate(candidates, start=1):
            application_id = f"JOB_APPLICATION-{index}"
            first, _, last = name.partition(" ")
            self._emails[application_id] = email
            self.workday.move_to_assessment(
                application_id,
                email=email,
                first_name=first,
                last_name=last,
                tests=[DEMO_TEST],
                status="ASSESSIO_INVITED",
            )

    def write_backs(self) -> list[tuple[str, str, float]]:
        found: dict[str, tuple[str, str, float]] = {}
        for write in self.workday.writes:
            if write.accepted and write.application_id is not None:
                email = self._emails.get(write.application_id, write.application_id)
                where = f"Assess_Candidate on {write.application_id}"
                found.setdefault(email, (email, where, write.at))
        return list(found.values())
