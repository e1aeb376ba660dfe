"""The Workday connector passes assessio-connect's conformance suite against `FakeWorkday`,
authenticating with OAuth (Bearer) and, in a second run, as an integration system user."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import pytest

from assessio_connect.testing import (
    MISSING,
    AtsRequest,
    ConformanceHarness,
    ConnectorConformance,
    InvalidConfig,
    make_pushback,
)
from assessio_connect_workday import WorkdayConnector
from assessio_connect_workday.fake import FakeWorkday

__all__ = ["TestWorkdayIsuConformance", "TestWorkdayOAuthConformance"]

CLIENT_SECRET = "wd-conformance-client-secret-1f2e"
REFRESH_TOKEN = "wd-conformance-refresh-token-3d4c"
ISU_USER = "ISU_Assessio"
ISU_PASSWORD = "wd-conformance-isu-password-5b6a"
GP_TEST = "ASSESSIO_GENERAL_PERFORMANCE"


class _WorkdaySuite(ConnectorConformance):
    """What both authentication modes share: the fake, the invitations and the write-back."""

    connector_class = WorkdayConnector
    valid_config: ClassVar[Mapping[str, Any]] = {
        "host": "wd2-impl-services1.workday.com",
        "tenant": "acme",
        "report": "ISU_Assessio/Assessio_Assessment_Candidates",
        "client_id": "assessio-client",
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
        "status_completed": "ASSESSIO_COMPLETED",
        "status_in_progress": "ASSESSIO_IN_PROGRESS",
        "tests": {"General Performance": GP_TEST},
    }
    invalid_configs: ClassVar[Sequence[InvalidConfig]] = (
        # WorkdayConfig's own checks run once the table is read: they are reported at the
        # table, naming the key in the message.
        InvalidConfig({"tenant": MISSING}, "tenant", "required key missing"),
        InvalidConfig({"report": "Assessio_Assessment_Candidates"}, "", 'report must be "Owner/'),
        InvalidConfig({"base_url": "https://wd2.example.com"}, "", "set host", id="host-and-url"),
        InvalidConfig({"host": MISSING, "base_url": "ftp://wd.example"}, "", "base_url must be"),
        InvalidConfig({"refresh_token": MISSING}, "", 'auth = "oauth" needs refresh_token'),
        InvalidConfig({"client_secret": ""}, "client_secret", "is empty", id="empty-secret"),
        InvalidConfig({"auth": "saml"}, "", 'auth must be "oauth" or "isu"'),
        InvalidConfig({"auth": "isu"}, "", 'auth = "isu" needs username, password'),
        InvalidConfig({"page_size": 0}, "", "page_size must be from 1 to", id="page_size"),
        InvalidConfig({"look_back": -1.0}, "", "look_back must be a number of seconds"),
        InvalidConfig({"recruiting_version": "42"}, "", "recruiting_version must look like"),
        InvalidConfig({"tests": {"General Performance": "A B"}}, "", "tests['General"),
        InvalidConfig({"comment_template": "{password}"}, "", "comment_template may only"),
        InvalidConfig({"test_id_type": "Assessment Test"}, "", "test_id_type must be the name"),
        InvalidConfig({"colour": "blue"}, "", "unknown key 'colour'"),
    )

    @pytest.fixture
    def fake_ats(self) -> Iterator[FakeWorkday]:
        with FakeWorkday(
            client_secret=CLIENT_SECRET,
            refresh_token=REFRESH_TOKEN,
            isu_username=f"{ISU_USER}@acme",
            isu_password=ISU_PASSWORD,
        ) as fake:
            yield fake

    def ats_config(self, fake_ats: FakeWorkday) -> Mapping[str, Any]:
        return {
            "host": MISSING,
            "base_url": fake_ats.url,
            "tenant": fake_ats.tenant,
            "report": fake_ats.report,
            "page_size": 2,
            "poll_interval": 0.05,
        }

    def create_invitation(self, fake_ats: FakeWorkday, index: int) -> AtsRequest | None:
        fake_ats.move_to_assessment(
            f"JOB_APPLICATION-{index}",
            email=f"candidate{index}@example.com",
            first_name="Candidate",
            last_name=str(index),
            candidate_id=f"CANDIDATE-{index}",
            requisition_id="JOB_REQUISITION-7",
            title="Backend Engineer",
            tests=[GP_TEST],
        )
        return None

    def written_results(self, fake_ats: FakeWorkday, application_id: str) -> Sequence[Any]:
        # Workday keeps one assessment per job application, which each write replaces; a
        # result is one assessment test line in it.
        stored = fake_ats.assessment(application_id)
        return list(stored["tests"].values()) if stored is not None else []

    def fail_writes(self, fake_ats: FakeWorkday, status: int | None) -> None:
        if status is None:
            fake_ats.heal()
        else:
            fake_ats.fail_always(status)

    write_auth: ClassVar[str] = "bearer"
    """How `Assess_Candidate` must authenticate with this configuration."""

    def test_writes_authenticate_as_configured(
        self, assessio_conformance: ConformanceHarness
    ) -> None:
        harness = assessio_conformance
        order = self.receive_order(harness, 0)
        harness.connector.push_result(make_pushback(order))
        fake: FakeWorkday = harness.fake
        assert [(w.application_id, w.auth) for w in fake.writes if w.accepted] == [
            (order.application_id, self.write_auth)
        ]
        [written] = self.written_results(fake, order.application_id)
        assert (written.test_id, written.score) == (GP_TEST, 71)


class TestWorkdayOAuthConformance(_WorkdaySuite):
    """OAuth 2.0: a refresh token exchanged for Bearer tokens on the report and SOAP calls."""


class TestWorkdayIsuConformance(_WorkdaySuite):
    """An integration system user: Basic on the report, WS-Security on `Assess_Candidate`."""

    write_auth: ClassVar[str] = "ws-security"

    def ats_config(self, fake_ats: FakeWorkday) -> Mapping[str, Any]:
        return {
            **super().ats_config(fake_ats),
            "auth": "isu",
            "client_id": MISSING,
            "client_secret": MISSING,
            "refresh_token": MISSING,
            "username": ISU_USER,
            "password": ISU_PASSWORD,
        }
