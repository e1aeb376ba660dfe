"""The Workday connector end to end through a real daemon: the emulator as Assessio, a fake
Workday polled and written back to over HTTP, and a SQLite store shared across a restart."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import defusedxml.ElementTree as SafeET
import pytest
import xmlschema
from workday_world import GENERAL, REFRESH_TOKEN, SECRETS, wait_until, world

from assessio_connect_workday._report import MICROS, format_moment, parse_moment
from assessio_connect_workday.fake import AssessWrite, WritePredicate

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WD = "urn:com.workday/bsvc"

GP_TEST = "ASSESSIO_GENERAL_PERFORMANCE"


def accepted(count: int = 1) -> WritePredicate:
    def enough(writes: list[AssessWrite]) -> bool:
        return sum(write.accepted for write in writes) >= count

    return enough


def test_application_at_assessment_is_ordered_and_each_result_version_written(
    tmp_path: Path,
) -> None:
    with world(tmp_path) as w:
        daemon = w.start_daemon()
        w.workday.move_to_assessment(
            "JOB_APPLICATION-1",
            email="ada@example.com",
            first_name="Ada",
            last_name="Lovelace",
            requisition_id="JOB_REQUISITION-3",
            title="Data Engineer",
            tests=[GP_TEST],
            status="ASSESSIO_INVITED",
        )
        (received,) = w.wait_for_orders(1)
        order = received.order
        assert order.candidate_details.email == "ada@example.com"
        assert order.lens_id == GENERAL.id
        assert order.recruitment.title == "Data Engineer"
        stored = daemon.store.find_order("acme", "JOB_APPLICATION-1")
        assert stored is not None
        assert stored.job_id == "JOB_REQUISITION-3"

        result = w.sandbox.complete(order.result_id, score=71, provider_key=SECRETS["provider_key"])
        writes = w.workday.wait_for_writes(accepted(1))
        write = next(x for x in writes if x.accepted)
        assert write.application_id == "JOB_APPLICATION-1"
        assert write.overall_status == "ASSESSIO_COMPLETED"
        assert [(t.test_id, t.score, t.status_id) for t in write.tests] == [
            (GP_TEST, Decimal(71), "ASSESSIO_COMPLETED")
        ]
        assert result.assessment_report_url
        assert write.comment == (
            f"Assessio General Performance: score 71. Report: {result.assessment_report_url}"
        )

        # A second version (the result was updated) sets the new score.
        w.sandbox.complete(order.result_id, score=84, provider_key=SECRETS["provider_key"])
        w.workday.wait_for_writes(accepted(2))
        assessment = w.workday.assessment("JOB_APPLICATION-1")
        assert assessment is not None
        assert assessment["tests"][GP_TEST].score == Decimal(84)

        # The write moved the application in the report; it came back completed, no new order.
        polled = len(w.workday.report_queries)
        wait_until(lambda: len(w.workday.report_queries) > polled + 2, what="more polls")
        assert len(w.sandbox.orders()) == 1


def test_rate_limited_write_back_is_retried_after_retry_after(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        w.start_daemon()
        w.workday.move_to_assessment("JOB_APPLICATION-1", email="bo@example.com")
        (received,) = w.wait_for_orders(1)
        w.workday.rate_limit(1, retry_after=1, only="soap")
        w.sandbox.complete(received.order.result_id, score=60)
        writes = w.workday.wait_for_writes(accepted(1))
        assert [x.status for x in writes] == [429, 200]
        assert writes[1].at - writes[0].at >= 0.9  # Retry-After was honoured


def test_an_expired_access_token_is_refreshed(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        w.start_daemon()
        w.workday.move_to_assessment("JOB_APPLICATION-1", email="cy@example.com")
        (received,) = w.wait_for_orders(1)
        assert w.workday.tokens_issued == 1
        w.workday.expire_tokens()
        w.sandbox.complete(received.order.result_id, score=66)
        writes = w.workday.wait_for_writes(accepted(1))
        assert w.workday.tokens_issued == 2
        assert writes[-1].accepted


def test_restart_in_the_middle_of_a_backlog_orders_each_application_once(
    tmp_path: Path,
) -> None:
    with world(tmp_path) as w:
        for n in range(5):
            w.workday.move_to_assessment(f"JOB_APPLICATION-{n}", email=f"c{n}@example.com")
        w.workday.break_report_after(1)  # the first page is read, then Workday goes away
        first = w.start_daemon(page_size=2, look_back=60)
        w.wait_for_orders(2)
        wait_until(lambda: len(w.workday.report_queries) >= 2, what="the second page")
        first.stop()
        assert len(w.sandbox.orders()) == 2

        w.workday.heal()
        asked = len(w.workday.report_queries)
        second = w.start_daemon(page_size=2, look_back=60)
        orders = w.wait_for_orders(5)
        wait_until(lambda: len(w.workday.report_queries) > asked + 4, what="idle polls")
        emails = sorted(o.order.candidate_details.email for o in w.sandbox.orders())
        assert emails == [f"c{n}@example.com" for n in range(5)]
        assert len(orders) == 5
        recorded = second.store.list_orders(tenant="acme", limit=100)
        assert sorted(o.application_id for o in recorded) == [
            f"JOB_APPLICATION-{n}" for n in range(5)
        ]
        assert all(o.state == "sent" for o in recorded)
        # The new daemon went on from the saved cursor: look_back before the first page's last row.
        rows = w.workday.rows()
        expected = format_moment(parse_moment(rows[1]["Updated_Moment"]) - 60 * MICROS)
        assert w.workday.report_queries[asked]["Updated_From"] == expected


def test_a_validation_fault_is_dead_lettered_with_workdays_reason(tmp_path: Path) -> None:
    # This tenant never created the test the configuration maps General Performance to.
    with world(tmp_path, tests={"SOMETHING_ELSE": "Another vendor's test"}) as w:
        daemon = w.start_daemon()
        w.workday.move_to_assessment("JOB_APPLICATION-1", email="di@example.com")
        (received,) = w.wait_for_orders(1)
        w.sandbox.complete(received.order.result_id, score=50)

        def dead() -> list[Any]:
            return [d for d in daemon.store.list_deliveries(tenant="acme") if d.state == "dead"]

        (delivery,) = wait_until(dead, what="a dead delivery")
        assert delivery.last_error is not None
        assert (
            f"'{GP_TEST}' is not a valid ID value for type = 'Recruiting_Assessment_Test_ID'"
            in delivery.last_error
        )
        assert [x.status for x in w.workday.writes] == [500]  # not retried


def published_schema() -> xmlschema.XMLSchema:
    """The XSD fragment shipped with the fake, loaded here on its own."""
    source = resources.files("assessio_connect_workday") / "_fake_schema" / "assess_candidate.xsd"
    with resources.as_file(source) as path:
        return xmlschema.XMLSchema(str(path))


def test_a_result_reaches_workday_as_an_envelope_valid_per_the_published_schema(
    tmp_path: Path,
) -> None:
    with world(tmp_path) as w:
        daemon = w.start_daemon()
        w.workday.move_to_assessment("JOB_APPLICATION-1", email="el@example.com", tests=[GP_TEST])
        (received,) = w.wait_for_orders(1)
        result_id = received.order.result_id
        sent = w.sandbox.complete(result_id, score=77, provider_key=SECRETS["provider_key"])
        write = next(x for x in w.workday.wait_for_writes(accepted(1)) if x.accepted)

        # The very bytes Workday received validate against the schema fragment.
        envelope = SafeET.fromstring(write.request)
        request = envelope.find(f"{{{SOAP_ENV}}}Body/{{{WD}}}Assess_Candidate_Request")
        assert request is not None
        published_schema().validate(request)
        # Dated by the day the daemon received the result; the report link has its own element.
        stored = daemon.store.get_result("acme", result_id)
        assert stored is not None
        day = datetime.fromtimestamp(stored.received_at, timezone.utc).date()
        assert write.assessed_on == day
        assert request.findtext(f".//{{{WD}}}Assessed_On_Date") == day.isoformat()
        (test,) = write.tests
        assert (test.score, test.results_url, test.tested_on) == (
            Decimal(77),
            sent.assessment_report_url,
            day,
        )


def test_a_rotated_refresh_token_survives_a_daemon_restart(tmp_path: Path) -> None:
    with world(tmp_path, rotate_refresh_tokens=True, send_expires_in=False) as w:
        first = w.start_daemon()
        if getattr(first.tenants["acme"], "state", None) is None:
            pytest.skip("the daemon offers connectors no state yet (TenantRuntime.state)")
        w.workday.move_to_assessment("JOB_APPLICATION-1", email="fi@example.com")
        w.wait_for_orders(1)
        first.stop()
        rotated = w.workday.refresh_tokens_issued
        assert rotated >= 1
        assert w.workday.refresh_token != REFRESH_TOKEN  # the configured token is revoked

        # The restarted daemon reads the same store: it presents the rotated token.
        w.start_daemon()
        w.workday.move_to_assessment("JOB_APPLICATION-2", email="gu@example.com")
        w.wait_for_orders(2)
        assert w.workday.refresh_tokens_issued > rotated
