"""The reference connector in `assessio-connect demo`: its fake ATS pushes signed events."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from assessio_connect.sandbox import Organisation

from ._fake import ReferenceAts

__all__ = ["ReferenceDemo"]


class ReferenceDemo:
    """A reference ATS that pushes each candidate to the daemon as an event."""

    def __init__(self) -> None:
        self._token = secrets.token_urlsafe(16)
        self._webhook_secret = secrets.token_urlsafe(16)
        self._organisation = Organisation(
            provider_key=f"demo-reference-{secrets.token_hex(4)}",
            integrator_secret=secrets.token_urlsafe(16),
            result_api_key=secrets.token_urlsafe(16),
        )
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
        organisation = self._organisation

        def ref(name: str, value: str) -> str:
            return _secret_file(secrets_dir / f"{tenant}-{name}", value)

        return f"""
[tenants.{tenant}]
base_url = "{sandbox_url}"
provider_key = {ref("provider-key", organisation.provider_key)}
integrator_secret = {ref("integrator-secret", organisation.integrator_secret or "")}

[tenants.{tenant}.webhook]
api_keys = [{ref("result-key", organisation.result_api_key or "")}]

[tenants.{tenant}.assessment]
lens = "General Performance"
locale = "en-GB"

[[tenants.{tenant}.assessment.rules]]
department = "Sales"
lens = "Sales"

[tenants.{tenant}.ats]
kind = "reference"
base_url = "{self.ats.url}"
api_token = {ref("ats-token", self._token)}
webhook_secret = {ref("ats-webhook", self._webhook_secret)}
"""

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


def _secret_file(path: Path, value: str) -> str:
    """Write a secret to a file only its owner may read, as an operator keeps one; returns its
    TOML reference."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(value)
    return f'{{ file = "{path.as_posix()}" }}'
