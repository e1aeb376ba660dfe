"""The Workday connector against its fake over real HTTP on 127.0.0.1: the report polled and
paged from a cursor, the look-back, OAuth and ISU authentication, Assess_Candidate written back
with its fault mapping, and XML that must be refused rather than expanded."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import pytest
import urllib3
from workday_world import (
    CLIENT_SECRET,
    ISU_PASSWORD,
    LEADERSHIP,
    NOW,
    REFRESH_TOKEN,
    Clock,
    Context,
    FlakyState,
    make_config,
    pushback,
)

from assessio_connect import (
    ConnectorState,
    MemoryState,
    PermanentError,
    ResultRecord,
    RetryableError,
    Secret,
    ServerError,
    Transport,
)
from assessio_connect_workday import WorkdayConnector
from assessio_connect_workday._auth import DEFAULT_TOKEN_TTL
from assessio_connect_workday._refresh_token import LEASE_KEY, STATE_KEY
from assessio_connect_workday._soap import SOAP_ENV, WD
from assessio_connect_workday.fake import FakeWorkday

GP_TEST = "ASSESSIO_GENERAL_PERFORMANCE"
LEAD_TEST = "ASSESSIO_LEADERSHIP"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeWorkday]:
    with FakeWorkday(
        client_secret=CLIENT_SECRET,
        refresh_token=REFRESH_TOKEN,
        isu_username="ISU_Assessio@acme",
        isu_password=ISU_PASSWORD,
        tests={GP_TEST: "Assessio General Performance", LEAD_TEST: "Assessio Leadership"},
        clock=clock,
    ) as server:
        yield server


@pytest.fixture
def context(clock: Clock) -> Iterator[Context]:
    transport = Transport(connect_timeout=2.0, read_timeout=5.0, clock=clock)
    yield Context(transport, clock)
    transport.close()


def connector(fake: FakeWorkday, context: Context, **options: Any) -> WorkdayConnector:
    return WorkdayConnector(make_config(fake, **options), context)


def applicant(fake: FakeWorkday, n: int, **options: Any) -> dict[str, Any]:
    options.setdefault("email", f"candidate{n}@example.com")
    options.setdefault("first_name", "Ada")
    options.setdefault("last_name", f"Number{n}")
    return fake.move_to_assessment(f"JOB_APPLICATION-{n}", **options)


# -- polling --------------------------------------------------------------------------------


def test_poll_reads_the_report_into_invitations(
    fake: FakeWorkday, context: Context, clock: Clock
) -> None:
    applicant(
        fake,
        1,
        candidate_id="CANDIDATE-77",
        requisition_id="JOB_REQUISITION-9",
        title="Data Engineer",
        organization="Data Platform",
        tests=[GP_TEST],
    )
    clock.advance(1)
    applicant(fake, 2, tests=["SOME_OTHER_VENDOR_TEST"], organization=None)
    page = connector(fake, context).poll(None)
    first, second = page.invitations
    assert first.application_id == "JOB_APPLICATION-1"
    assert (first.job.id, first.job.title, first.job.department) == (
        "JOB_REQUISITION-9",
        "Data Engineer",
        "Data Platform",
    )
    assert (first.candidate.id, first.candidate.email, first.candidate.name) == (
        "CANDIDATE-77",
        "candidate1@example.com",
        "Ada Number1",
    )
    assert first.lens == "General Performance"  # the test the recruiter added
    assert first.metadata == {"workday_tests": GP_TEST, "workday_candidate_id": "CANDIDATE-77"}
    assert second.lens is None  # no mapped test: the tenant's rules decide
    assert second.job.department is None
    assert not page.more
    # The first request went back initial_look_back (a day) from the connector's clock.
    assert fake.report_queries[0]["Updated_From"] == "2023-11-13T22:13:21.000000+00:00"


def test_poll_pages_and_a_new_connector_resumes_from_the_cursor(
    fake: FakeWorkday, context: Context, clock: Clock
) -> None:
    for n in range(5):
        applicant(fake, n)
        clock.advance(1)
    first_connector = connector(fake, context, page_size=2)
    first = first_connector.poll(None)
    second = first_connector.poll(first.cursor)
    # A restarted daemon: a new connector with the saved cursor.
    third = connector(fake, context, page_size=2).poll(second.cursor)
    pages = [[i.application_id for i in p.invitations] for p in (first, second, third)]
    assert pages == [
        ["JOB_APPLICATION-0", "JOB_APPLICATION-1"],
        ["JOB_APPLICATION-2", "JOB_APPLICATION-3"],
        ["JOB_APPLICATION-4"],
    ]
    assert [p.more for p in (first, second, third)] == [True, True, False]
    idle = first_connector.poll(third.cursor)
    assert (idle.invitations, idle.cursor, idle.more) == ((), third.cursor, False)
    # Each later request starts look_back before the newest row taken.
    starts = [query["Updated_From"] for query in fake.report_queries[1:]]
    assert starts[-1] == "2023-11-14T22:08:24.000000+00:00"  # NOW + 4 s - 300 s


def test_look_back_catches_a_row_committed_late_but_not_one_older_than_it(
    fake: FakeWorkday, context: Context, clock: Clock
) -> None:
    wd = connector(fake, context, look_back=60.0)
    applicant(fake, 1)
    page = wd.poll(None)
    assert [i.application_id for i in page.invitations] == ["JOB_APPLICATION-1"]
    clock.advance(30)
    # Committed now, but stamped 20 s before the row already seen: within the look-back.
    applicant(fake, 2, updated=NOW - 20)
    # Stamped 90 s before it: older than the look-back, so it is out of reach (the bound).
    applicant(fake, 3, updated=NOW - 90)
    late = wd.poll(page.cursor)
    assert [i.application_id for i in late.invitations] == ["JOB_APPLICATION-2"]
    again = wd.poll(late.cursor)
    assert again.invitations == ()


def test_rows_by_status_and_unreadable_rows_are_skipped_without_blocking(
    fake: FakeWorkday, context: Context, clock: Clock
) -> None:
    applicant(fake, 1, status="ASSESSIO_INVITED")
    applicant(fake, 2, status="ASSESSIO_COMPLETED")
    applicant(fake, 3, email="not-an-email")
    applicant(fake, 4)  # no status yet
    wd = connector(fake, context, status_invited="ASSESSIO_INVITED")
    page = wd.poll(None)
    assert [i.application_id for i in page.invitations] == ["JOB_APPLICATION-1"]
    skipped = {e["application_id"]: e["reason"] for e in context.events("workday.row_skipped")}
    assert "not-an-email" in skipped["JOB_APPLICATION-3"]
    assert "Candidate_Email" in skipped["JOB_APPLICATION-3"]
    assert "already assessed" in skipped["JOB_APPLICATION-2"]
    assert "not status_invited" in skipped["JOB_APPLICATION-4"]
    # Skipped rows count as taken: the next poll does not report them again.
    context.logs.clear()
    assert wd.poll(page.cursor).invitations == ()
    assert context.events("workday.row_skipped") == []


def test_a_bad_cursor_starts_over_with_a_warning(fake: FakeWorkday, context: Context) -> None:
    applicant(fake, 1)
    page = connector(fake, context).poll('{"v": 99}')
    assert [i.application_id for i in page.invitations] == ["JOB_APPLICATION-1"]
    assert context.events("workday.cursor_reset")


def test_rate_limited_report_is_retryable_with_retry_after(
    fake: FakeWorkday, context: Context
) -> None:
    fake.rate_limit(1, retry_after=7)
    wd = connector(fake, context)
    with pytest.raises(RetryableError, match="HTTP 429") as caught:
        wd.poll(None)
    assert caught.value.retry_after == 7.0
    assert wd.poll(None).invitations == ()  # the limit was used up


def test_wrong_report_path_is_permanent(fake: FakeWorkday, context: Context) -> None:
    with pytest.raises(PermanentError, match=r"HTTP 404.*check ats.tenant, ats.report"):
        connector(fake, context, report="Someone/Else").poll(None)


# -- authentication -------------------------------------------------------------------------


def test_access_token_is_cached_then_renewed_before_it_expires(
    fake: FakeWorkday, context: Context, clock: Clock
) -> None:
    wd = connector(fake, context)
    wd.poll(None)
    wd.poll(None)
    assert fake.tokens_issued == 1
    clock.advance(fake.token_ttl - 30)  # inside the early-refresh margin
    wd.poll(None)
    assert fake.tokens_issued == 2
    assert not context.events("workday.unauthorized")


def test_an_expired_token_is_refreshed_once_after_a_401(
    fake: FakeWorkday, context: Context
) -> None:
    applicant(fake, 1)
    wd = connector(fake, context)
    wd.poll(None)
    fake.expire_tokens()
    wd.push_result(pushback("JOB_APPLICATION-1"))
    assert fake.tokens_issued == 2
    assert [(w.status, w.auth) for w in fake.writes] == [(401, "bearer"), (200, "bearer")]
    assert len(context.events("workday.unauthorized")) == 1


def test_a_revoked_refresh_token_is_permanent_and_says_what_to_do(
    fake: FakeWorkday, context: Context
) -> None:
    fake.revoke_refresh_token()
    with pytest.raises(PermanentError, match="invalid_grant") as caught:
        connector(fake, context).poll(None)
    message = str(caught.value)
    assert "Manage Refresh Tokens for Integrations" in message
    assert REFRESH_TOKEN not in message
    assert CLIENT_SECRET not in message


@pytest.mark.parametrize(("status", "error"), [(400, PermanentError), (503, RetryableError)])
def test_a_token_endpoint_echoing_the_credentials_leaves_them_out_of_the_error(
    fake: FakeWorkday, context: Context, status: int, error: type[Exception]
) -> None:
    echoed = f"<html>refused: {REFRESH_TOKEN} {CLIENT_SECRET}</html>".encode()
    fake.answer_next_token_request_with(echoed, status=status)
    with pytest.raises(error, match=f"HTTP {status}") as caught:
        connector(fake, context).poll(None)
    assert "refused" in str(caught.value)
    assert REFRESH_TOKEN not in str(caught.value)
    assert CLIENT_SECRET not in str(caught.value)


# -- refresh tokens: answers without expires_in, rotation kept durably, one replica at a time ---


@pytest.fixture
def rotating(clock: Clock) -> Iterator[FakeWorkday]:
    """A tenant whose every refresh answers a new refresh token (revoking the one presented)
    and no `expires_in`, as go-workday's token type reads none."""
    with FakeWorkday(
        client_secret=CLIENT_SECRET,
        refresh_token=REFRESH_TOKEN,
        rotate_refresh_tokens=True,
        send_expires_in=False,
        clock=clock,
    ) as server:
        yield server


def configured(fake: FakeWorkday, context: Context, **options: Any) -> WorkdayConnector:
    """A connector configured, like the operator's file, with the first refresh token."""
    return connector(
        fake, context, **{"refresh_token": Secret("env:WD_REFRESH", REFRESH_TOKEN), **options}
    )


def stored_token(state: ConnectorState) -> str | None:
    value = state.value(STATE_KEY)
    return None if value is None else str(json.loads(value)["refresh_token"])


def test_an_answer_without_expires_in_is_cached_for_the_default_lifetime(
    rotating: FakeWorkday, context: Context, clock: Clock
) -> None:
    wd = configured(rotating, context)
    wd.poll(None)
    wd.poll(None)
    assert rotating.tokens_issued == 1
    clock.advance(DEFAULT_TOKEN_TTL)
    wd.poll(None)
    assert rotating.tokens_issued == 2
    assert context.events("workday.token_issued")[0]["expires_in"] == DEFAULT_TOKEN_TTL


def test_a_rotated_refresh_token_is_stored_and_survives_a_restart(
    rotating: FakeWorkday, context: Context, clock: Clock
) -> None:
    state = context.state
    configured(rotating, context).poll(None)
    assert rotating.refresh_tokens_issued == 1
    assert stored_token(state) == rotating.refresh_token != REFRESH_TOKEN
    # A restart: a new connector with the same configuration (whose token Workday revoked)
    # and the same store presents the rotated token and stores the next one.
    restarted = Context(context.transport, clock, state=state)
    assert configured(rotating, restarted).poll(None).invitations == ()
    assert rotating.refresh_tokens_issued == 2
    assert stored_token(state) == rotating.refresh_token
    # Without the stored token, the configured one is refused: what the store prevents.
    forgetful = Context(context.transport, clock)
    with pytest.raises(PermanentError, match="invalid_grant"):
        configured(rotating, forgetful).poll(None)
    # Secrets stay out of the log lines.
    logged = repr(context.logs + restarted.logs + forgetful.logs)
    assert REFRESH_TOKEN not in logged
    assert rotating.refresh_token not in logged


def test_a_refresh_token_configured_after_the_stored_one_wins(
    rotating: FakeWorkday, context: Context, clock: Clock
) -> None:
    state = context.state
    configured(rotating, context).poll(None)
    rotated = stored_token(state)
    # The operator generates a new refresh token in Workday and configures it.
    fresh = rotating.issue_refresh_token()
    restarted = Context(context.transport, clock, state=state)
    wd = connector(rotating, restarted, refresh_token=Secret("file:wd-refresh", fresh))
    wd.poll(None)
    assert stored_token(state) not in (rotated, fresh)
    assert stored_token(state) == rotating.refresh_token


def test_a_token_another_replica_rotated_is_re_read_before_refreshing(
    rotating: FakeWorkday, context: Context, clock: Clock
) -> None:
    shared = context.state
    assert isinstance(shared, MemoryState)
    first = configured(rotating, context)
    second_context = Context(context.transport, clock, state=shared.replica("replica-2"))
    second = configured(rotating, second_context)
    first.poll(None)  # the first replica rotates the configured token away
    second.poll(None)  # the second presents the rotated one, not its configured one
    assert rotating.refresh_tokens_issued == 2
    clock.advance(DEFAULT_TOKEN_TTL)
    first.poll(None)  # and the first follows the second's rotation in turn
    assert rotating.refresh_tokens_issued == 3
    assert stored_token(shared) == rotating.refresh_token


def test_only_one_replica_refreshes_at_a_time(
    rotating: FakeWorkday, context: Context, clock: Clock
) -> None:
    shared = context.state
    assert isinstance(shared, MemoryState)
    other = shared.replica("replica-2")
    assert other.try_lease(LEASE_KEY, seconds=60)  # the other replica is refreshing
    wd = configured(rotating, context)
    with pytest.raises(RetryableError, match="another replica is renewing") as caught:
        wd.poll(None)
    assert caught.value.retry_after is not None
    assert rotating.tokens_issued == 0  # it did not present the token meanwhile
    other.release_lease(LEASE_KEY)
    wd.poll(None)
    assert rotating.tokens_issued == 1
    # It gave the lease back: the other replica may take it at once.
    assert other.try_lease(LEASE_KEY, seconds=60)


def test_a_rotated_token_the_store_could_not_take_is_kept_and_stored_later(
    rotating: FakeWorkday, context: Context, clock: Clock
) -> None:
    state = FlakyState(clock)
    state.fail_writes[STATE_KEY] = 1  # the store is unreachable when the token rotates
    flaky = Context(context.transport, clock, state=state)
    wd = configured(rotating, flaky)
    wd.poll(None)
    assert flaky.events("workday.refresh_token_unsaved")
    assert stored_token(state) is None
    clock.advance(DEFAULT_TOKEN_TTL)
    wd.poll(None)  # presents the unsaved rotated token (the configured one is revoked)
    assert stored_token(state) == rotating.refresh_token


def test_without_a_state_a_rotated_token_is_used_in_memory(
    rotating: FakeWorkday, context: Context, clock: Clock
) -> None:
    stateless = Context(context.transport, clock)
    del stateless.state  # a daemon that offers connectors no state yet
    wd = configured(rotating, stateless)
    wd.poll(None)
    clock.advance(DEFAULT_TOKEN_TTL)
    wd.poll(None)
    assert rotating.refresh_tokens_issued == 2
    (rotated,) = stateless.events("workday.refresh_token_rotated")[:1]
    assert rotated["durable"] is False


def test_a_wrong_client_secret_is_permanent(fake: FakeWorkday, context: Context) -> None:
    wrong = Secret("env:WD_CLIENT_SECRET", "not-the-secret")
    with pytest.raises(PermanentError, match="invalid_client") as caught:
        connector(fake, context, client_secret=wrong).poll(None)
    assert "not-the-secret" not in str(caught.value)


def test_integration_system_user_reads_and_writes(fake: FakeWorkday, context: Context) -> None:
    applicant(fake, 1)
    wd = connector(fake, context, auth="isu")
    assert [i.application_id for i in wd.poll(None).invitations] == ["JOB_APPLICATION-1"]
    wd.push_result(pushback("JOB_APPLICATION-1"))
    assert [(w.status, w.auth) for w in fake.writes] == [(200, "ws-security")]
    assert fake.tokens_issued == 0


def test_a_wrong_isu_password_is_permanent_without_the_password(
    fake: FakeWorkday, context: Context
) -> None:
    applicant(fake, 1)
    wd = connector(fake, context, auth="isu", password=Secret("env:P", "wrong-password"))
    with pytest.raises(PermanentError, match="integration system user ISU_Assessio@acme"):
        wd.poll(None)
    with pytest.raises(PermanentError, match="invalid username or password") as caught:
        wd.push_result(pushback("JOB_APPLICATION-1"))
    assert "wrong-password" not in str(caught.value)
    assert [w.status for w in fake.writes] == [500]  # not retried: nothing to renew


def test_check_proves_auth_and_report(fake: FakeWorkday, context: Context) -> None:
    applicant(fake, 1)
    assert "report ISU_Assessio/Assessio_Assessment_Candidates answered (1 recent row(s))" in (
        connector(fake, context).check()
    )


# -- writing results back -------------------------------------------------------------------


def test_push_result_sets_status_score_and_comment(fake: FakeWorkday, context: Context) -> None:
    applicant(fake, 1)
    connector(fake, context).push_result(pushback("JOB_APPLICATION-1"))
    (write,) = fake.writes
    assert write.accepted
    assert write.overall_status == "ASSESSIO_COMPLETED"
    assert write.comment == (
        "Assessio General Performance: score 71. "
        "Report: https://assessio.example/report/1?a=1&b=<2>"
    )
    (test,) = write.tests
    assert (test.test_id, test.score, test.status_id) == (
        GP_TEST,
        Decimal(71),
        "ASSESSIO_COMPLETED",
    )
    # The report link goes where the schema has a place for it, not into a comment.
    assert test.results_url == "https://assessio.example/report/1?a=1&b=<2>"
    assert test.comment is None
    # No stored result version to date it by: the day of the connector's clock (NOW).
    assert write.assessed_on == test.tested_on == date(2023, 11, 14)
    stored = fake.assessment("JOB_APPLICATION-1")
    assert stored is not None
    assert stored["status"] == "ASSESSIO_COMPLETED"


def test_the_assessment_is_dated_by_the_day_the_result_version_arrived(
    fake: FakeWorkday, context: Context
) -> None:
    applicant(fake, 1)
    result_id = "result-of-JOB_APPLICATION-1"
    received = datetime(2026, 12, 4, 23, 59, tzinfo=timezone.utc).timestamp()
    context.results[result_id] = ResultRecord(
        tenant="acme",
        result_id=result_id,
        version=2,
        payload=b"{}",
        digest="",
        received_at=received,
        orphan=False,
    )
    wd = connector(fake, context)
    wd.push_result(pushback("JOB_APPLICATION-1", version=1))  # not the stored version: today
    wd.push_result(pushback("JOB_APPLICATION-1", version=2))
    assert [w.assessed_on for w in fake.writes] == [date(2023, 11, 14), date(2026, 12, 4)]


def test_reference_id_types_follow_the_tenants_settings(clock: Clock, context: Context) -> None:
    with FakeWorkday(
        client_secret=CLIENT_SECRET,
        refresh_token=REFRESH_TOKEN,
        tests={GP_TEST: "Assessio General Performance"},
        status_id_type="Assessment_Status_ID",
        test_id_type="Assessment_Test_ID",
        clock=clock,
    ) as tenant:
        applicant(tenant, 1)
        with pytest.raises(PermanentError, match="expected 'Assessment_Test_ID'"):
            connector(tenant, context).push_result(pushback("JOB_APPLICATION-1"))
        configured = connector(
            tenant,
            context,
            status_id_type="Assessment_Status_ID",
            test_id_type="Assessment_Test_ID",
        )
        configured.push_result(pushback("JOB_APPLICATION-1"))
        assert [w.accepted for w in tenant.writes] == [False, True]


def test_a_second_version_sets_the_new_score(fake: FakeWorkday, context: Context) -> None:
    applicant(fake, 1)
    wd = connector(fake, context)
    wd.push_result(pushback("JOB_APPLICATION-1", version=1, score=55))
    wd.push_result(pushback("JOB_APPLICATION-1", version=2, score=83))
    wd.push_result(pushback("JOB_APPLICATION-1", version=2, score=83))  # a repeat: harmless
    assert [w.tests[0].score for w in fake.writes] == [Decimal(55), Decimal(83), Decimal(83)]
    stored = fake.assessment("JOB_APPLICATION-1")
    assert stored is not None
    assert stored["tests"][GP_TEST].score == Decimal(83)


def test_an_older_version_after_a_newer_one_is_skipped_also_by_another_replica(
    fake: FakeWorkday, context: Context, clock: Clock
) -> None:
    """A slow retry of version 1 that arrives after version 2 was written sends nothing: the
    newest version written is in the durable state, which a replica (or a restarted daemon)
    shares."""
    applicant(fake, 1)
    shared = MemoryState(owner="replica-1", clock=clock)
    first = connector(fake, Context(context.transport, clock, state=shared))
    first.push_result(pushback("JOB_APPLICATION-1", version=2, score=83))
    other = Context(context.transport, clock, state=shared.replica("replica-2"))
    connector(fake, other).push_result(pushback("JOB_APPLICATION-1", version=1, score=55))
    assert [w.tests[0].score for w in fake.writes] == [Decimal(83)]
    stored = fake.assessment("JOB_APPLICATION-1")
    assert stored is not None
    assert stored["tests"][GP_TEST].score == Decimal(83)
    [stale] = other.events("workday.result_stale")
    assert (stale["version"], stale["newest"]) == (1, 2)


def test_a_version_that_failed_does_not_hold_back_an_older_one(
    fake: FakeWorkday, context: Context
) -> None:
    """Only a version Workday took counts as written: version 2 refused, version 1 goes."""
    applicant(fake, 1)
    wd = connector(fake, context)
    fake.fail_always(503)
    with pytest.raises(RetryableError):
        wd.push_result(pushback("JOB_APPLICATION-1", version=2, score=83))
    fake.heal()
    wd.push_result(pushback("JOB_APPLICATION-1", version=1, score=55))
    stored = fake.assessment("JOB_APPLICATION-1")
    assert stored is not None
    assert stored["tests"][GP_TEST].score == Decimal(55)
    assert context.events("workday.result_stale") == []


def test_a_result_without_a_score_is_in_progress(fake: FakeWorkday, context: Context) -> None:
    applicant(fake, 1)
    connector(fake, context).push_result(pushback("JOB_APPLICATION-1", score=None))
    (write,) = fake.writes
    assert write.overall_status == "ASSESSIO_IN_PROGRESS"
    assert write.tests[0].score is None
    assert write.tests[0].status_id == "ASSESSIO_IN_PROGRESS"
    assert "score -" in (write.comment or "")


def test_the_test_is_found_by_lens_id_name_or_the_single_test_added(
    fake: FakeWorkday, context: Context
) -> None:
    applicant(fake, 1)
    by_id = connector(fake, context, tests={LEADERSHIP.id: LEAD_TEST})
    by_id.push_result(pushback("JOB_APPLICATION-1", lens_id=LEADERSHIP.id))
    from_row = connector(fake, context, tests={})
    from_row.push_result(
        pushback("JOB_APPLICATION-1", lens_id=LEADERSHIP.id, metadata={"workday_tests": LEAD_TEST})
    )
    assert [w.tests[0].test_id for w in fake.writes] == [LEAD_TEST, LEAD_TEST]
    with pytest.raises(PermanentError, match=r"no Workday assessment test is mapped to lens"):
        from_row.push_result(pushback("JOB_APPLICATION-1", lens_id=LEADERSHIP.id))


def test_lens_names_cannot_be_read_is_retryable(fake: FakeWorkday, context: Context) -> None:
    applicant(fake, 1)
    context.config_error = ServerError(503)
    with pytest.raises(RetryableError, match="lens names"):
        connector(fake, context).push_result(pushback("JOB_APPLICATION-1"))


def test_a_validation_fault_is_permanent_with_workdays_message(
    fake: FakeWorkday, context: Context
) -> None:
    applicant(fake, 1)
    wd = connector(fake, context, tests={"General Performance": "NOT_A_TEST"})
    with pytest.raises(PermanentError) as caught:
        wd.push_result(pushback("JOB_APPLICATION-1"))
    message = str(caught.value)
    assert "'NOT_A_TEST' is not a valid ID value for type = 'Recruiting_Assessment_Test_ID'" in (
        message
    )
    assert "[Client.validationError]" in message
    assert "Assessment_Test_Reference" in message  # the fault's Xpath
    with pytest.raises(PermanentError, match="'JOB_APPLICATION-404' is not a valid ID"):
        connector(fake, context).push_result(pushback("JOB_APPLICATION-404"))


@pytest.mark.parametrize(("status", "match"), [(500, "injected failure"), (503, "HTTP 503")])
def test_server_failures_are_retryable(
    fake: FakeWorkday, context: Context, status: int, match: str
) -> None:
    applicant(fake, 1)
    fake.fail_next(1, status=status)
    wd = connector(fake, context)
    with pytest.raises(RetryableError, match=match):
        wd.push_result(pushback("JOB_APPLICATION-1"))
    wd.push_result(pushback("JOB_APPLICATION-1"))
    assert [w.status for w in fake.writes] == [status, 200]


@pytest.mark.parametrize(
    ("status", "error", "match"),
    [
        (403, PermanentError, r"HTTP 403 .*the account lacks permission"),
        (404, PermanentError, "HTTP 404"),
        (501, PermanentError, "HTTP 501"),  # Not Implemented will not start working
        (502, RetryableError, "HTTP 502"),
        (408, RetryableError, "HTTP 408"),
    ],
)
def test_http_statuses_of_a_write_become_what_the_daemon_understands(
    fake: FakeWorkday, context: Context, status: int, error: type[Exception], match: str
) -> None:
    applicant(fake, 1)
    fake.fail_next(1, status=status)
    with pytest.raises(error, match=match) as caught:
        connector(fake, context).push_result(pushback("JOB_APPLICATION-1"))
    assert "job application JOB_APPLICATION-1" in str(caught.value)


@pytest.mark.parametrize(("auth", "secret"), [("isu", ISU_PASSWORD), ("oauth", REFRESH_TOKEN)])
def test_a_gateway_echoing_a_credential_leaves_it_out_of_the_error(
    fake: FakeWorkday, context: Context, auth: str, secret: str
) -> None:
    applicant(fake, 1)
    fake.answer_next_write_with(f"<html>bad request: {secret}</html>".encode(), status=400)
    with pytest.raises(PermanentError, match="HTTP 400") as caught:
        connector(fake, context, auth=auth).push_result(pushback("JOB_APPLICATION-1"))
    assert "bad request" in str(caught.value)
    assert secret not in str(caught.value)


def test_rate_limited_write_is_retryable_with_retry_after(
    fake: FakeWorkday, context: Context
) -> None:
    applicant(fake, 1)
    fake.rate_limit(1, retry_after=3)
    with pytest.raises(RetryableError, match="HTTP 429") as caught:
        connector(fake, context).push_result(pushback("JOB_APPLICATION-1"))
    assert caught.value.retry_after == 3.0


def test_unreachable_workday_is_retryable(context: Context) -> None:
    with FakeWorkday(client_secret=CLIENT_SECRET, refresh_token=REFRESH_TOKEN) as gone:
        config = make_config(gone)
    with pytest.raises(RetryableError, match="access token"):
        WorkdayConnector(config, context).poll(None)


# -- XML safety -----------------------------------------------------------------------------

BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
        for i in range(1, 10)
    )
    + b"]>\n"
    + f'<e:Envelope xmlns:e="{SOAP_ENV}"><e:Body>'.encode()
    + f'<wd:Assess_Candidate_Response xmlns:wd="{WD}">'.encode()
    + b"&lol9;</wd:Assess_Candidate_Response>"
    + b"</e:Body></e:Envelope>"
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?>\n<!DOCTYPE e [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    + f'<e:Envelope xmlns:e="{SOAP_ENV}"><e:Body><e:Fault><faultcode>e:Client</faultcode>'.encode()
    + b"<faultstring>&xxe;</faultstring></e:Fault></e:Body></e:Envelope>"
)


@pytest.mark.parametrize("hostile", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["laughs", "xxe"])
def test_hostile_xml_answers_are_refused_not_expanded(
    fake: FakeWorkday, context: Context, hostile: bytes
) -> None:
    applicant(fake, 1)
    fake.answer_next_write_with(hostile, status=500)
    started = time.monotonic()
    with pytest.raises(PermanentError, match="declares a DTD or entities") as caught:
        connector(fake, context).push_result(pushback("JOB_APPLICATION-1"))
    assert time.monotonic() - started < 2.0
    assert "lollol" not in str(caught.value)
    assert "root:" not in str(caught.value)


def test_the_fake_refuses_hostile_requests_too(fake: FakeWorkday) -> None:
    applicant(fake, 1)
    pool = urllib3.PoolManager(retries=False)
    try:
        response = pool.request(
            "POST",
            f"{fake.url}/ccx/service/acme/Recruiting/v42.2",
            body=BILLION_LAUGHS,
            headers={"Content-Type": "text/xml"},
        )
    finally:
        pool.clear()
    assert response.status == 500
    assert b"DTD or entities" in response.data
    assert b"lollol" not in response.data
    (write,) = fake.writes
    assert write.fault is not None
    assert "DTD or entities" in write.fault


def test_user_data_is_escaped_not_spliced_into_the_envelope(
    fake: FakeWorkday, context: Context
) -> None:
    fake.move_to_assessment("JOB_APPLICATION-<x>&'\"", email="a@example.com")
    template = "Result {result_id} for {application_id}: {score}\x00 <b>&amp;</b>"
    wd = connector(fake, context, comment_template=template)
    wd.push_result(pushback("JOB_APPLICATION-<x>&'\"", result_id="r-</wd:ID>"))
    (write,) = fake.writes
    assert write.accepted
    assert write.application_id == "JOB_APPLICATION-<x>&'\""
    assert write.comment == "Result r-</wd:ID> for JOB_APPLICATION-<x>&'\": 71 <b>&amp;</b>"
