"""Shared pieces of the connector-part tests: a configuration pointing at a fake Greenhouse,
a clock the test moves, the invitation a web hook would have recorded, and the Assessio
recruitment a Greenhouse job becomes."""

from __future__ import annotations

from typing import Any

from greenhouse_world import KEYS

from assessio_connect import AtsCandidate, AtsJob, Invitation, Secret, recruitment_id
from assessio_connect_greenhouse import (
    GreenhouseConfig,
    OAuthSettings,
    StageTrigger,
    WebhookSettings,
)

__all__ = ["SECRET", "FakeTime", "invitation_for", "make_config", "recruitment_of"]

SECRET = KEYS["webhook_secret"]


class FakeTime:
    """A clock the test moves: `sleep` advances it instantly."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def make_config(url: str, user_id: int = 1, **changes: Any) -> GreenhouseConfig:
    """Web hook mode on a custom integration's client credentials, at `url`."""
    options: dict[str, Any] = {
        "harvest_url": url,
        "auth_url": url,
        "oauth": OAuthSettings(
            client_id=KEYS["client_id"],
            client_secret=Secret("env:CS", KEYS["client_secret"]),
            user_id=user_id,
        ),
        "webhook": WebhookSettings(
            secret_key=Secret("env:WEBHOOK", SECRET), stages=(StageTrigger(name="Assessment"),)
        ),
    }
    options.update(changes)
    return GreenhouseConfig(**options)


def invitation_for(candidate: int, application: str = "app-1") -> Invitation:
    """The invitation a web hook for `candidate` would have recorded."""
    return Invitation(
        application_id=application,
        job=AtsJob(id="7", title="Backend Engineer"),
        candidate=AtsCandidate(id=str(candidate), email="ada@example.com"),
        metadata={"mode": "webhook"},
    )


def recruitment_of(job: int, tenant: str = "acme") -> str:
    """The Assessio recruitment id of a tenant's Greenhouse job, as every order for the job
    gets it."""
    return recruitment_id(tenant, str(job))
