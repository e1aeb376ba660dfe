"""The Workday connector end to end through a real daemon: the emulator as Assessio, a fake
Workday polled and written back to over HTTP, and a SQLite store shared across a restart."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from workday_world import GENERAL, SECRETS, wait_until, world

from assessio_connect.store import DeliveryRecord, DeliveryState, OrderState
from assessio_connect_workday._report import MICROS, format_moment, parse_moment
from assessio_connect_workday.fake import AssessWrite, WritePredicate

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
        assert all(o.state is OrderState.SENT for o in recorded)
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

        def dead() -> list[DeliveryRecord]:
            return list(daemon.store.list_deliveries(tenant="acme", state=DeliveryState.DEAD))

        (delivery,) = wait_until(dead, what="a dead delivery")
        assert delivery.last_error is not None
        assert (
            f"'{GP_TEST}' is not a valid ID value for type = 'Recruiting_Assessment_Test_ID'"
            in delivery.last_error
        )
        assert [x.status for x in w.workday.writes] == [500]  # not retried
