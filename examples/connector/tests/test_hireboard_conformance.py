"""The Hireboard connector passes assessio-connect's conformance suite against FakeHireboard."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import pytest
from assessio_connect_hireboard import HireboardConnector
from assessio_connect_hireboard.fake import FakeHireboard

from assessio_connect.testing import MISSING, AtsRequest, ConnectorConformance, InvalidConfig

API_KEY = "hb-api-key-3f9c21"
SIGNING_KEY = "hb-webhook-secret-77d0e4"


class TestHireboardConformance(ConnectorConformance):
    connector_class = HireboardConnector
    push_signature_covers_body = True
    """`Hireboard-Signature` is an HMAC of `"<t>.<raw body>"` (HIREBOARD-API.md § 4.2)."""
    valid_config: ClassVar[Mapping[str, Any]] = {
        "api_key": API_KEY,
        "webhook_secret": SIGNING_KEY,
    }
    invalid_configs: ClassVar[Sequence[InvalidConfig]] = (
        InvalidConfig({"api_key": MISSING}, "api_key", "required key missing"),
        InvalidConfig({"tolerance": "5m"}, "tolerance", "expected an integer"),
        InvalidConfig(
            {"trigger_stage": " "}, "trigger_stage", "trigger_stage must name a Hireboard stage"
        ),
        InvalidConfig({"base_url": "hireboard.example"}, "base_url", "base_url must be an http://"),
    )

    @pytest.fixture
    def fake_ats(self) -> Iterator[FakeHireboard]:
        with FakeHireboard(api_key=API_KEY, webhook_secret=SIGNING_KEY) as fake:
            yield fake

    def ats_config(self, fake_ats: FakeHireboard) -> Mapping[str, Any]:
        return {"base_url": fake_ats.url}

    def create_invitation(self, fake_ats: FakeHireboard, index: int) -> AtsRequest | None:
        application_id = f"apl_{index}"
        fake_ats.add_application(
            application_id,
            job={"id": "job_1", "title": "Backend Engineer", "department": "Engineering"},
            candidate={
                "id": f"cnd_{index}",
                "email": f"candidate{index}@example.com",
                "first_name": "Candidate",
                "last_name": str(index),
            },
        )
        body, headers = fake_ats.stage_changed(application_id, "assessment")
        return AtsRequest("/webhook", body, headers)

    def written_results(self, fake_ats: FakeHireboard, application_id: str) -> Sequence[Any]:
        return fake_ats.results(application_id)

    def fail_writes(self, fake_ats: FakeHireboard, status: int | None) -> None:
        fake_ats.fail_with(status)
