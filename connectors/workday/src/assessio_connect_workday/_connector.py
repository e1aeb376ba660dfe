"""`WorkdayConnector`: job applications at the assessment step polled from a RaaS report,
results written back with the Recruiting web service's `Assess_Candidate`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

from assessio_connect import (
    APIError,
    AtsCandidate,
    AtsHttp,
    AtsJob,
    Connector,
    ConnectorContext,
    ConnectorError,
    ConnectorState,
    Invitation,
    PayloadError,
    PermanentError,
    PollPage,
    Pushback,
    RetryableError,
    StoreError,
    TransportError,
    codec,
)
from assessio_connect.kit import retry_after_seconds, status_error

from ._auth import Auth, make_auth
from ._config import WorkdayConfig
from ._report import (
    MICROS,
    Cursor,
    ReportRow,
    decode_cursor,
    encode_cursor,
    format_moment,
    next_page,
    parse_row,
    row_moment,
)
from ._soap import (
    Assessment,
    AssessmentTestResult,
    ReferenceIdTypes,
    SoapAnswer,
    SoapFault,
    UnreadableXml,
    assess_candidate_envelope,
    parse_answer,
)

__all__ = ["WorkdayConnector"]

METADATA_TESTS = "workday_tests"
METADATA_CANDIDATE = "workday_candidate_id"
PERMISSIONS = (
    "the account lacks permission: share the report with it and grant its security group the "
    "Recruiting domains"
)
SOAP_HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""', "Accept": "text/xml"}
Answered = TypeVar("Answered")
"""What a request answers (the kit's response), passed through `_renewing` untouched."""


def _row_key(data: object, index: int) -> str:
    """The paging key of a row that could not be read: its application id, else a digest."""
    if isinstance(data, dict) and isinstance(data.get("Job_Application_ID"), str):
        return str(data["Job_Application_ID"])
    raw = json.dumps(data, sort_keys=True, default=str).encode("utf-8", errors="replace")
    return "?" + hashlib.sha256(raw).hexdigest()[:16] + f"#{index}"


class WorkdayConnector(Connector[WorkdayConfig]):
    """Pull-style connector for Workday Recruiting (see the package docstring)."""

    kind: ClassVar[str] = "workday"

    def __init__(self, config: WorkdayConfig, context: ConnectorContext) -> None:
        super().__init__(config, context)
        self.auth: Auth = make_auth(
            config, context.transport, clock=context.now, log=context.log, state=self._state
        )
        self.http = AtsHttp(
            context.transport,
            config.api_root,
            name="Workday",
            credentials_hint=PERMISSIONS,
            secrets=[s.reveal() for s in (config.password, config.refresh_token) if s is not None],
            clock=context.now,
        )
        self._id_types = ReferenceIdTypes(status=config.status_id_type, test=config.test_id_type)
        # A test Reference ID the recruiter added -> the lens (id or name) it stands for.
        self._lens_of_test = {test: lens for lens, test in config.tests.items()}

    def _state(self) -> ConnectorState | None:
        """The context's durable state; a context without one keeps rotated tokens in memory."""
        state: ConnectorState | None = getattr(self.context, "state", None)
        return state

    # Polling

    def poll(self, cursor: str | None) -> PollPage:
        """One page of applications that reached the assessment step after the cursor."""
        config = self.config
        state = self._cursor(cursor)
        start = state.request_from(
            now=int(self.context.now() * MICROS),
            look_back=int(config.look_back * MICROS),
            initial_look_back=int(config.initial_look_back * MICROS),
        )
        entries = self._report(start)
        # (application id, moment) -> the row, or why it cannot be read
        keyed: dict[tuple[str, int], ReportRow | str] = {}
        for index, data in enumerate(entries):
            try:
                row = parse_row(data, index)
            except PayloadError as exc:
                moment = row_moment(data)
                problems = "; ".join(exc.problems)
                if moment is None:  # cannot be paged past: reported on every poll that sees it
                    self._skipped(_row_key(data, index), problems)
                else:
                    keyed.setdefault((_row_key(data, index), moment), problems)
                continue
            keyed[(row.application_id, row.updated)] = row
        page, after, more = next_page(
            state,
            keyed,
            request_from=start,
            page_size=config.page_size,
            look_back=int(config.look_back * MICROS),
        )
        invitations: list[Invitation] = []
        for key in page:
            found = keyed[key]
            if isinstance(found, str):
                self._skipped(key[0], found)
            elif found.status is not None and found.status == config.status_completed:
                self._skipped(key[0], "already assessed (status_completed)", level="debug")
            elif config.status_invited is not None and found.status != config.status_invited:
                self._skipped(key[0], f"assessment status {found.status!r} is not status_invited")
            else:
                invitations.append(self._invitation(found))
        return PollPage(
            invitations,
            cursor=encode_cursor(after) if after.mark is not None else cursor,
            more=more,
        )

    def _cursor(self, cursor: str | None) -> Cursor:
        if cursor is None:
            return Cursor()
        try:
            return decode_cursor(cursor)
        except ValueError as exc:
            self.context.log(
                "workday.cursor_reset",
                level="warning",
                error=str(exc),
                advice="polling starts again initial_look_back seconds ago; orders already "
                "made are not made twice",
            )
            return Cursor()

    def _skipped(self, application_id: str, why: str, *, level: str = "warning") -> None:
        self.context.log(
            "workday.row_skipped", level=level, application_id=application_id, reason=why
        )

    def _invitation(self, row: ReportRow) -> Invitation:
        lens = next((self._lens_of_test[t] for t in row.tests if t in self._lens_of_test), None)
        metadata = {METADATA_CANDIDATE: row.candidate_id}
        if row.tests:
            metadata[METADATA_TESTS] = ";".join(row.tests)
        return Invitation(
            application_id=row.application_id,
            job=AtsJob(id=row.requisition_id, title=row.title, department=row.organization),
            candidate=AtsCandidate(id=row.candidate_id, email=row.email, name=row.name),
            lens=lens,
            metadata=metadata,
        )

    def _report(self, start: int) -> list[Any]:
        config = self.config
        query = {"format": "json", "Updated_From": format_moment(start)}
        what = f"read the report {config.report}"
        response = self._renewing(
            lambda headers: self.http.request(
                "GET", config.report_url, query=query, headers=headers, what=what, accept=(401, 404)
            ),
            lambda answer: answer.status == 401,
            soap=False,
        )
        if response.status == 401:
            raise PermanentError(f"could not {what}: {self.auth.refused()} (HTTP 401)")
        if response.status == 404:
            failure = status_error(404, response.body, what=what)
            raise PermanentError(f"{failure} (check ats.tenant, ats.report and ats.host)")
        try:
            data = codec.parse_json(response.body, what="RaaS report")
        except PayloadError as exc:
            raise PermanentError(
                f"the report at {config.report_url} did not answer JSON ({exc}); "
                "check ats.report and that the report is enabled as a web service"
            ) from None
        entries = data.get("Report_Entry") if isinstance(data, dict) else None
        if entries is None and isinstance(data, dict):
            return []  # RaaS leaves the key out when no row matches
        if not isinstance(entries, list):
            raise PermanentError(
                f"the report at {config.report_url} answered something other than "
                '{"Report_Entry": [...]}'
            )
        return entries

    # Writing results back

    def push_result(self, pushback: Pushback) -> None:
        """`Assess_Candidate` with the date, the overall status and comment, and the test's
        score, status and report link; it sets the state, so a repeat is harmless, and a
        version older than one already written (a slow retry) is skipped, not written over
        it."""
        result_id = pushback.order.result_id
        newest = self._newest_written(result_id)
        if newest is not None and newest > pushback.version:
            self.context.log(
                "workday.result_stale",
                application_id=pushback.order.application_id,
                result_id=result_id,
                version=pushback.version,
                newest=newest,
            )
            return
        self._assess(pushback)
        self._note_written(result_id, pushback.version)

    def _newest_written(self, result_id: str) -> int | None:
        """The newest version of `result_id` written to Workday, from the durable state."""
        entry = self.context.state.get(_newest_key(result_id))
        return None if entry is None else int(entry.value)

    def _note_written(self, result_id: str, version: int) -> None:
        """Raise the newest version written to `version` (compare-and-set: replicas race)."""
        state, key = self.context.state, _newest_key(result_id)
        while True:
            entry = state.get(key)
            if entry is not None and int(entry.value) >= version:
                return
            expected = 0 if entry is None else entry.version
            if state.swap(key, str(version), expect_version=expected) is not None:
                return

    def _assess(self, pushback: Pushback) -> None:
        """Send `Assess_Candidate` for one result version; raise what the daemon understands."""
        assessment = self._assessment(pushback)
        envelope = assess_candidate_envelope(
            assessment,
            version=self.config.recruiting_version,
            id_types=self._id_types,
            username_token=self.auth.username_token(),
        )
        where = f"job application {assessment.application_id}"
        what = f"write the result to {where}"
        # A SOAP fault comes with HTTP 500 (401 for a refused token): read, not raised.
        response = self._renewing(
            lambda headers: self.http.request(
                "POST",
                self.config.recruiting_url,
                body=envelope,
                headers={**headers, **SOAP_HEADERS},
                what=what,
                accept=(401, 500),
            ),
            lambda answer: _unauthorized(answer.status, answer.body),
            soap=True,
        )
        answer = _answer(response.status, response.body)
        fault = answer.fault
        retry_after = retry_after_seconds(response.headers, self.context.now())
        if response.status == 401 or (fault is not None and fault.is_authentication):
            raise PermanentError(
                f"could not {what}: {self.auth.refused()} "
                + (f"({fault.describe()})" if fault else "(HTTP 401)")
            )
        if fault is not None:
            raise _fault_failure(fault, response.status, retry_after, where)
        if response.status == 500:  # not a SOAP fault: a gateway's error page
            raise status_error(500, response.body, what=what, retry_after=retry_after)
        if answer.operation != "Assess_Candidate_Response":
            raise PermanentError(
                f"Workday answered Assess_Candidate for {where} with <{answer.operation}> "
                "instead of Assess_Candidate_Response; check ats.recruiting_version"
            )
        self.context.log(
            "workday.assessed",
            application_id=assessment.application_id,
            version=pushback.version,
            status=assessment.status_id,
        )

    def _assessment(self, pushback: Pushback) -> Assessment:
        order, result = pushback.order, pushback.result
        config = self.config
        lens_id = order.order.lens_id
        lens_name = self._lens_name(lens_id)
        test_id = self._test_for(lens_id, lens_name, order.metadata)
        score = Decimal(result.score) if result.score is not None else None
        status = config.status_completed
        if score is None and config.status_in_progress is not None:
            status = config.status_in_progress
        fields = {
            "lens": lens_name or lens_id,
            "score": "-" if result.score is None else str(result.score),
            "report_url": result.assessment_report_url or "-",
            "recruitment_url": result.recruitment_url or "-",
            "result_id": order.result_id,
            "version": str(pushback.version),
            "application_id": order.application_id,
        }
        assessed_on = self._result_date(pushback)
        return Assessment(
            application_id=order.application_id,
            status_id=status,
            assessed_on=assessed_on,
            comment=config.comment_template.format_map(fields),
            tests=(
                AssessmentTestResult(
                    test_id=test_id,
                    status_id=config.test_status_id if score is not None else status,
                    score=score,
                    tested_on=assessed_on,
                    results_url=result.assessment_report_url,
                ),
            ),
        )

    def _result_date(self, pushback: Pushback) -> date:
        """The UTC day Assessio sent this result version (the daemon's clock when unknown)."""
        when = self.context.now()
        try:
            record = self.context.latest_result(pushback.order.result_id)
        except StoreError:
            record = None
        if record is not None and record.version == pushback.version:
            when = record.received_at
        return datetime.fromtimestamp(when, timezone.utc).date()

    def _lens_name(self, lens_id: str) -> str | None:
        if lens_id in self.config.tests and "{lens}" not in self.config.comment_template:
            return None  # mapped by id, and no comment needs the name: no call to Assessio
        try:
            lens = self.context.assessio_config().find_lens(lens_id)
        except (APIError, TransportError) as exc:
            if lens_id in self.config.tests:
                return None
            raise RetryableError(f"cannot read the lens names from Assessio: {exc}") from None
        return lens.name if lens is not None else None

    def _test_for(self, lens_id: str, lens_name: str | None, metadata: Mapping[str, str]) -> str:
        tests = self.config.tests
        if lens_id in tests:
            return tests[lens_id]
        if lens_name is not None:
            folded = lens_name.casefold()
            for key, test in tests.items():
                if key.casefold() == folded:
                    return test
        added = [t for t in metadata.get(METADATA_TESTS, "").split(";") if t]
        if len(added) == 1:
            return added[0]
        shown = f"{lens_name!r} ({lens_id})" if lens_name else repr(lens_id)
        raise PermanentError(
            f"no Workday assessment test is mapped to lens {shown}: add it to "
            f"[tenants.{self.context.tenant}.ats.tests] (`assessio-connect workday tests` lists "
            "the tests to create), then retry the dead delivery"
        )

    def _renewing(
        self,
        send: Callable[[dict[str, str]], Answered],
        refused: Callable[[Answered], bool],
        *,
        soap: bool,
    ) -> Answered:
        """Send with the current credentials; when Workday refuses them, renew them once and
        send again."""
        used = self.auth.http_headers(soap=soap)
        answer = send(used)
        if refused(answer) and self.auth.renew(used):
            self.context.log("workday.unauthorized", level="warning", renewing=self.auth.mode)
            answer = send(self.auth.http_headers(soap=soap))
        return answer

    # Connection check

    def check(self) -> str:
        """Authenticate and read the report since `look_back` ago: proves URL, credentials and
        the report's permissions without changing anything in Workday."""
        now = int(self.context.now() * MICROS)
        entries = self._report(now - int(max(self.config.look_back, 60.0) * MICROS))
        return (
            f"Workday tenant {self.config.tenant}: report {self.config.report} answered "
            f"({len(entries)} recent row(s)), auth {self.auth.mode}"
        )


def _newest_key(result_id: str) -> str:
    """The state key of the newest version of `result_id` written to Workday."""
    return f"result.{result_id}.newest_written"


def _answer(status: int, body: bytes) -> SoapAnswer:
    """The SOAP answer in `body`; one that is no SOAP at all leaves the status to decide."""
    try:
        return parse_answer(body)
    except UnreadableXml as exc:
        if exc.refused:
            raise PermanentError(
                f"refused Workday's answer to Assess_Candidate (HTTP {status}): {exc}; "
                "check ats.host/base_url points at Workday"
            ) from None
        if not 200 <= status <= 299:
            return SoapAnswer(fault=None, operation=None)  # an empty 401, a gateway's page
        raise PermanentError(
            f"could not read Workday's answer to Assess_Candidate (HTTP {status}): {exc}"
        ) from None


def _fault_failure(
    fault: SoapFault, status: int, retry_after: float | None, where: str
) -> ConnectorError:
    """A Client fault is the request's own (permanent); any other may pass."""
    if fault.is_client:
        return PermanentError(
            f"Workday refused Assess_Candidate for {where}: {fault.describe()} [{fault.code}]"
        )
    return RetryableError(
        f"Workday failed to process Assess_Candidate for {where}: {fault.describe()} "
        f"[{fault.code or 'no faultcode'}, HTTP {status}]",
        retry_after=retry_after,
    )


def _unauthorized(status: int, body: bytes) -> bool:
    """Workday refused the credentials: a 401, or a SOAP authentication fault."""
    if status == 401:
        return True
    if status < 500 or b"uthenticat" not in body:
        return False
    try:
        fault = parse_answer(body).fault
    except UnreadableXml:
        return False
    return fault is not None and fault.is_authentication
