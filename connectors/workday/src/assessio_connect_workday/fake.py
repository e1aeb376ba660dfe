"""`FakeWorkday`: a stateful stand-in for one Workday tenant on 127.0.0.1, for tests and the demo.

It restates Workday's contract in its own code (it imports nothing of the connector) and
serves the three things the connector uses, each authenticated the way Workday does:

- `POST /ccx/oauth2/{tenant}/token`: the refresh-token grant, the API client's id and secret as
  HTTP Basic (go-workday) or in the form (Workday/raas-python); answers `access_token`,
  `token_type` and, as configured, `expires_in` and a rotated `refresh_token` (the presented one
  then stops working). It can expire every access token or revoke the refresh token;
- `GET /ccx/service/customreport2/{tenant}/{owner}/{report}?format=json&Updated_From=...`: the
  RaaS report of job applications at the assessment step, updated from `Updated_From`, ordered
  by updated moment (Bearer token or the ISU's Basic credentials);
- `POST /ccx/service/{tenant}/Recruiting/{version}`: SOAP `Assess_Candidate` (Bearer token or a
  WS-Security UsernameToken). The request is validated against a fragment of Workday's
  published schema (elements, order, required elements, types: see `_fake_recruiting`), then
  every Reference ID against what the tenant knows, with the tenant's own ID type names; what
  fails is answered with Workday's `Client.validationError` fault. A stored assessment moves
  the application's updated moment, as in Workday.

Faults can be injected: rate limiting (429), failing writes (`fail_next`, `fail_always`,
`heal`), a report that breaks after some requests, and a raw answer to the next write. Every
method is thread-safe.
"""

from __future__ import annotations

import base64
import hmac
import itertools
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import attrs

from assessio_connect import Answer, Request, RequestRefused, Routes
from assessio_connect.testing import ServedApp

from ._fake_recruiting import (
    AssessRequest,
    Fault,
    Reference,
    ValidationError,
    fault_body,
    read_assess_request,
    read_envelope,
    response_body,
    username_token,
)

__all__ = [
    "DEFAULT_STATUSES",
    "DEFAULT_STATUS_ID_TYPE",
    "DEFAULT_TESTS",
    "DEFAULT_TEST_ID_TYPE",
    "AssessWrite",
    "AssessmentTestWrite",
    "FakeWorkday",
    "WritePredicate",
]

MAX_BODY_BYTES = 1024 * 1024
DEFAULT_TESTS = {"ASSESSIO_GENERAL_PERFORMANCE": "Assessio General Performance"}
DEFAULT_STATUSES = {
    "ASSESSIO_INVITED": "Invited",
    "ASSESSIO_IN_PROGRESS": "In Progress",
    "ASSESSIO_COMPLETED": "Completed",
}
DEFAULT_STATUS_ID_TYPE = "Recruiting_Assessment_Status_ID"
"""The reference ID type of this fake tenant's assessment statuses unless told otherwise. No
public source names it (Workday's `<Object>_ID` naming for `Recruiting_Assessment_Status`), so
tests can give the tenant another one to check that the connector's setting is honoured."""
DEFAULT_TEST_ID_TYPE = "Recruiting_Assessment_Test_ID"
"""The reference ID type of this fake tenant's assessment tests unless told otherwise; as
unconfirmed as the status's (StackOne's setup guide shows values like
`RECRUITING_ASSESSMENT_TEST-6-111`)."""
APPLICATION_ID_TYPE = "Job_Application_ID"
"""A job application's reference ID type (values like `JOB_APPLICATION-6-248`, as in Put_Candidate
answers recorded in cbdr/cb-workday-proc-api)."""
_XML = "text/xml; charset=utf-8"
_MICROS = 1_000_000


@attrs.frozen
class AssessmentTestWrite:
    """One `Assess_Candidate_Test_Result_Data` as received."""

    test_id: str | None
    score: Decimal | None
    status_id: str | None
    comment: str | None = None
    tested_on: date | None = None
    results_url: str | None = None


@attrs.frozen
class AssessWrite:
    """One `Assess_Candidate` call the fake received, and what it answered."""

    application_id: str | None
    status: int
    """The HTTP status answered (200, or the fault's or the injected failure's)."""
    fault: str | None
    """The faultstring answered, if any."""
    auth: str
    """How the call authenticated: "bearer", "ws-security" or "none"."""
    overall_status: str | None = None
    comment: str | None = None
    tests: tuple[AssessmentTestWrite, ...] = ()
    at: float = attrs.field(factory=time.time)
    """When the fake received it (seconds since the epoch)."""
    assessed_on: date | None = None
    request: bytes = attrs.field(default=b"", repr=False)
    """The request body as received (it may carry a WS-Security password: never log it)."""

    @property
    def accepted(self) -> bool:
        """Whether Workday stored it."""
        return self.status == 200 and self.fault is None


WritePredicate = Callable[[list[AssessWrite]], bool]


@attrs.define
class _Application:
    application_id: str
    candidate_id: str
    email: str
    first_name: str
    last_name: str
    requisition_id: str
    title: str
    organization: str | None
    tests: tuple[str, ...]
    status: str | None
    updated: int
    """Microseconds since the epoch."""
    assessment: dict[str, Any] | None = None


def _json(status: int, data: Any, *headers: tuple[str, str]) -> Answer:
    return Answer.json(status, data, headers=headers)


def _fault_reply(fault: Fault) -> Answer:
    return Answer(fault.status, fault_body(fault), _XML)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _micros(seconds: float) -> int:
    return round(seconds * _MICROS)


def _prompt_moment(text: str) -> int:
    """A RaaS date-and-time prompt (xsd:dateTime with its offset) in microseconds."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a date and time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * _MICROS + delta.microseconds


class FakeWorkday(ServedApp):
    """One Workday tenant with its API client, integration system user, report and the
    Recruiting assessment tests and statuses it knows (Reference ID -> name).

    `status_id_type` and `test_id_type` name the tenant's reference ID types; with
    `rotate_refresh_tokens` every refresh answers a new refresh token and revokes the one
    presented; without `send_expires_in` token answers carry no `expires_in`."""

    def __init__(
        self,
        *,
        tenant: str = "acme",
        report: str = "ISU_Assessio/Assessio_Assessment_Candidates",
        client_id: str = "assessio-client",
        client_secret: str | None = None,
        refresh_token: str | None = None,
        isu_username: str | None = None,
        isu_password: str | None = None,
        tests: Mapping[str, str] | None = None,
        statuses: Mapping[str, str] | None = None,
        token_ttl: int = 3600,
        send_expires_in: bool = True,
        rotate_refresh_tokens: bool = False,
        status_id_type: str = DEFAULT_STATUS_ID_TYPE,
        test_id_type: str = DEFAULT_TEST_ID_TYPE,
        version: str = "v42.2",
        utc_offset_minutes: int = -420,
        clock: Callable[[], float] = time.time,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.tenant = tenant
        self.report = report
        self.version = version
        self.client_id = client_id
        self._client_secret = client_secret or secrets.token_urlsafe(16)
        self._refresh_token = refresh_token or secrets.token_urlsafe(24)
        self.isu_username = isu_username
        self._isu_password = isu_password
        self.tests = dict(DEFAULT_TESTS if tests is None else tests)
        self.statuses = dict(DEFAULT_STATUSES if statuses is None else statuses)
        self.token_ttl = token_ttl
        self.send_expires_in = send_expires_in
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.id_types = {
            "application": APPLICATION_ID_TYPE,
            "status": status_id_type,
            "test": test_id_type,
        }
        self._zone = timezone(timedelta(minutes=utc_offset_minutes))
        self._clock = clock
        super().__init__(host, port)
        self._changed = threading.Condition()
        self._tokens: dict[str, float] = {}
        self._refresh_revoked = False
        self.tokens_issued = 0
        self.refresh_tokens_issued = 0
        """Refresh tokens handed out by rotation (the first one is not counted)."""
        self._applications: dict[str, _Application] = {}
        self._writes: list[AssessWrite] = []
        self._report_queries: list[dict[str, str]] = []
        self._rate_limited = 0
        self._rate_retry_after = 1
        self._rate_only: str | None = None
        self._fail_count = 0
        self._fail_status = 503
        self._fail_always: int | None = None
        self._report_budget: int | None = None
        self._report_break_status = 503
        self._raw_answers: list[tuple[int, bytes]] = []
        self._raw_token_answers: list[tuple[int, bytes]] = []
        self._wids = itertools.count(1)

    def __repr__(self) -> str:
        return f"FakeWorkday({self.tenant!r}, {self.serving})"

    # -- serving --------------------------------------------------------------------------

    _what = "fake Workday"

    @property
    def client_secret(self) -> str:
        """The API client's secret (for the connector's configuration)."""
        return self._client_secret

    @property
    def refresh_token(self) -> str:
        """The refresh token the API client may use now (the latest one when rotating)."""
        with self._changed:
            return self._refresh_token

    # -- driving it -----------------------------------------------------------------------

    def move_to_assessment(
        self,
        application_id: str,
        *,
        email: str,
        first_name: str = "",
        last_name: str = "",
        candidate_id: str | None = None,
        requisition_id: str = "JOB_REQUISITION-1",
        title: str = "Software Engineer",
        organization: str | None = "Engineering",
        tests: Iterable[str] = (),
        status: str | None = None,
        updated: float | None = None,
    ) -> dict[str, Any]:
        """A recruiter moves the application to the Assessment step (and clicks Assess with
        `tests` and `status`): it shows in the report with a fresh updated moment, or with
        `updated` (seconds since the epoch), e.g. an earlier one for a late-committed row.
        Returns its report row."""
        with self._changed:
            application = _Application(
                application_id=application_id,
                candidate_id=candidate_id or f"CANDIDATE-{application_id}",
                email=email,
                first_name=first_name,
                last_name=last_name,
                requisition_id=requisition_id,
                title=title,
                organization=organization,
                tests=tuple(tests),
                status=status,
                updated=_micros(self._clock() if updated is None else updated),
            )
            self._applications[application_id] = application
            self._changed.notify_all()
            return self._row(application)

    def expire_tokens(self) -> None:
        """Every access token issued so far expires now (the refresh token still works)."""
        with self._changed:
            self._tokens = dict.fromkeys(self._tokens, float("-inf"))

    def revoke_refresh_token(self) -> None:
        """The refresh token stops working, as after Manage Refresh Tokens revoked it."""
        with self._changed:
            self._refresh_revoked = True

    def issue_refresh_token(self) -> str:
        """An administrator generates a new refresh token (Manage Refresh Tokens for
        Integrations): it replaces the current one, which stops working. Returns it."""
        with self._changed:
            self._refresh_token = secrets.token_urlsafe(24)
            self._refresh_revoked = False
            return self._refresh_token

    def rate_limit(self, n: int, retry_after: int = 1, *, only: str | None = None) -> None:
        """The next `n` calls answer 429 with `Retry-After: retry_after`: report and SOAP
        calls alike, or only those of `only` ("report" or "soap")."""
        if n < 0 or retry_after < 0:
            raise ValueError("n and retry_after must not be negative")
        if only not in (None, "report", "soap"):
            raise ValueError('only must be None, "report" or "soap"')
        with self._changed:
            self._rate_limited = n
            self._rate_retry_after = retry_after
            self._rate_only = only

    def fail_next(self, n: int, status: int = 503) -> None:
        """The next `n` SOAP writes answer `status` unprocessed (500: a Server fault)."""
        if n < 0 or not 400 <= status <= 599:
            raise ValueError("n must not be negative and status must be 400..599")
        with self._changed:
            self._fail_count = n
            self._fail_status = status

    def fail_always(self, status: int) -> None:
        """Every SOAP write answers `status` until `heal()`."""
        if not 400 <= status <= 599:
            raise ValueError("status must be 400..599")
        with self._changed:
            self._fail_always = status

    def break_report_after(self, n: int, status: int = 503) -> None:
        """Answer the next `n` report requests, then `status` to every one until `heal()`."""
        if n < 0 or not 400 <= status <= 599:
            raise ValueError("n must not be negative and status must be 400..599")
        with self._changed:
            self._report_budget = n
            self._report_break_status = status

    def answer_next_write_with(self, body: bytes, status: int = 200) -> None:
        """Answer the next SOAP write with these exact bytes (e.g. hostile XML), unprocessed."""
        with self._changed:
            self._raw_answers.append((status, bytes(body)))

    def answer_next_token_request_with(self, body: bytes, status: int) -> None:
        """Answer the next token request with these exact bytes (e.g. a proxy's error page)."""
        with self._changed:
            self._raw_token_answers.append((status, bytes(body)))

    def heal(self) -> None:
        """Stop every injected failure."""
        with self._changed:
            self._rate_limited = 0
            self._fail_count = 0
            self._fail_always = None
            self._report_budget = None
            self._raw_answers.clear()
            self._raw_token_answers.clear()

    # -- inspection -----------------------------------------------------------------------

    @property
    def writes(self) -> list[AssessWrite]:
        """Every `Assess_Candidate` received, oldest first, whatever it was answered."""
        with self._changed:
            return list(self._writes)

    @property
    def report_queries(self) -> list[dict[str, str]]:
        """The query of every authenticated report request, oldest first."""
        with self._changed:
            return [dict(query) for query in self._report_queries]

    def rows(self) -> list[dict[str, Any]]:
        """Every application's report row as the report would list it now, in its order."""
        with self._changed:
            ordered = sorted(
                self._applications.values(), key=lambda a: (a.updated, a.application_id)
            )
            return [self._row(application) for application in ordered]

    def assessment(self, application_id: str) -> dict[str, Any] | None:
        """What the last accepted write stored on the application, or None."""
        with self._changed:
            application = self._applications.get(application_id)
            if application is None or application.assessment is None:
                return None
            return dict(application.assessment)

    def wait_for_writes(
        self, count_or_predicate: int | WritePredicate, timeout: float = 10.0
    ) -> list[AssessWrite]:
        """Block until `count` writes arrived or `predicate(writes)` holds; returns them.

        Raises TimeoutError after `timeout` seconds."""
        predicate: WritePredicate
        if isinstance(count_or_predicate, int):
            count = count_or_predicate

            def at_least(writes: list[AssessWrite]) -> bool:
                return len(writes) >= count

            predicate = at_least
            wanted = f"{count} write(s)"
        else:
            predicate = count_or_predicate
            wanted = f"writes matching {getattr(predicate, '__name__', 'the predicate')}"
        with self._changed:
            if self._changed.wait_for(lambda: predicate(list(self._writes)), timeout):
                return list(self._writes)
            seen = [(w.application_id, w.status, w.fault) for w in self._writes[-5:]]
            raise TimeoutError(
                f"timed out after {timeout:g} s waiting for {wanted}; "
                f"{len(self._writes)} received, latest (application, status, fault): {seen}"
            )

    # -- the HTTP API ---------------------------------------------------------------------

    def wsgi_app(self) -> Routes:
        """The three endpoints of this tenant; any other path is answered 404."""
        routes = Routes(max_body_bytes=MAX_BODY_BYTES, name="fake_workday")
        routes.add("POST", "/ccx/oauth2/{tenant}/token", self._token)
        routes.add("GET", "/ccx/service/customreport2/{tenant}/{owner}/{name}", self._report_answer)
        routes.add("POST", "/ccx/service/{tenant}/Recruiting/{version}", self._soap)
        return routes

    def _expect(self, request: Request, **expected: str) -> None:
        """Refuse (404) a path whose variables name another tenant, report or version."""
        if any(request.params.get(key) != value for key, value in expected.items()):
            raise RequestRefused(404, f"no such endpoint: {request.path}")

    # OAuth

    def _token(self, request: Request) -> Answer:
        self._expect(request, tenant=self.tenant)
        with self._changed:
            if self._raw_token_answers:
                status, raw = self._raw_token_answers.pop(0)
                return Answer(status, raw, "text/html")
        try:
            form = parse_qs(request.body.decode("ascii"))
        except UnicodeDecodeError:
            return _json(400, {"error": "invalid_request"})
        if not self._client_ok(request, form):
            return _json(401, {"error": "invalid_client"}, ("WWW-Authenticate", "Basic"))
        if form.get("grant_type") != ["refresh_token"]:
            return _json(400, {"error": "unsupported_grant_type"})
        presented = form.get("refresh_token", [""])[-1]
        with self._changed:
            if self._refresh_revoked or not hmac.compare_digest(
                presented.encode(), self._refresh_token.encode()
            ):
                return _json(
                    400,
                    {"error": "invalid_grant", "error_description": "Invalid refresh token"},
                )
            token = secrets.token_urlsafe(24)
            self._tokens[token] = self._clock() + self.token_ttl
            self.tokens_issued += 1
            answer: dict[str, Any] = {"access_token": token, "token_type": "Bearer"}
            if self.send_expires_in:
                answer["expires_in"] = self.token_ttl
            if self.rotate_refresh_tokens:
                self._refresh_token = secrets.token_urlsafe(24)  # the presented one is revoked
                self.refresh_tokens_issued += 1
                answer["refresh_token"] = self._refresh_token
        return _json(200, answer)

    def _client_ok(self, request: Request, form: dict[str, list[str]]) -> bool:
        """The API client's id and secret, as HTTP Basic or as form fields."""
        credentials = self._basic(request)
        if credentials is None and "client_id" in form:
            credentials = (form["client_id"][-1], form.get("client_secret", [""])[-1])
        return credentials is not None and (
            hmac.compare_digest(credentials[0].encode(), self.client_id.encode())
            and hmac.compare_digest(credentials[1].encode(), self._client_secret.encode())
        )

    @staticmethod
    def _basic(request: Request) -> tuple[str, str] | None:
        scheme, _, value = (request.header("Authorization") or "").strip().partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, colon, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return (user, password) if colon else None

    def _bearer_ok(self, request: Request) -> bool | None:
        """True/False for a valid/invalid Bearer token; None when no Bearer was sent."""
        scheme, _, token = (request.header("Authorization") or "").strip().partition(" ")
        if scheme.lower() != "bearer":
            return None
        with self._changed:
            expires = self._tokens.get(token.strip())
        return expires is not None and self._clock() < expires

    def _isu_ok(self, user: str, password: str) -> bool:
        if self.isu_username is None or self._isu_password is None:
            return False
        return hmac.compare_digest(user.encode(), self.isu_username.encode()) and (
            hmac.compare_digest(password.encode(), self._isu_password.encode())
        )

    def _throttled(self, endpoint: str) -> int | None:
        with self._changed:
            if self._rate_limited > 0 and self._rate_only in (None, endpoint):
                self._rate_limited -= 1
                return self._rate_retry_after
        return None

    # RaaS

    def _report_answer(self, request: Request) -> Answer:
        owner, _, name = self.report.partition("/")
        self._expect(request, tenant=self.tenant, owner=owner, name=name)
        bearer = self._bearer_ok(request)
        basic = self._basic(request)
        if not (bearer or (bearer is None and basic is not None and self._isu_ok(*basic))):
            return _json(401, {"error": "invalid_token" if bearer is False else "unauthorized"})
        retry_after = self._throttled("report")
        if retry_after is not None:
            return _json(429, {"error": "rate limit exceeded"}, ("Retry-After", str(retry_after)))
        query = {key: values[-1] for key, values in request.query.items()}
        with self._changed:
            self._report_queries.append(query)
            if self._report_budget is not None:
                if self._report_budget == 0:
                    return _json(self._report_break_status, {"error": "injected failure"})
                self._report_budget -= 1
        if query.get("format") != "json":
            return _json(400, {"error": "this fake only answers format=json"})
        if "Updated_From" not in query:
            return _json(400, {"error": "the prompt Updated_From is required"})
        try:
            start = _prompt_moment(query["Updated_From"])
        except ValueError as exc:
            return _json(400, {"error": f"Updated_From: {exc}"})
        with self._changed:
            rows = sorted(
                (
                    application
                    for application in self._applications.values()
                    if application.updated >= start
                ),
                key=lambda application: (application.updated, application.application_id),
            )
            entries = [self._row(application) for application in rows]
        return _json(200, {"Report_Entry": entries})

    def _moment(self, micros: int) -> str:
        moment = (_EPOCH + timedelta(microseconds=micros)).astimezone(self._zone)
        offset = moment.strftime("%z")
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + f"{offset[:3]}:{offset[3:]}"

    def _row(self, application: _Application) -> dict[str, Any]:
        row: dict[str, Any] = {
            "Job_Application_ID": application.application_id,
            "Candidate_ID": application.candidate_id,
            "Candidate_First_Name": application.first_name,
            "Candidate_Last_Name": application.last_name,
            "Candidate_Email": application.email,
            "Job_Requisition_ID": application.requisition_id,
            "Job_Requisition_Title": application.title,
            "Updated_Moment": self._moment(application.updated),
        }
        if application.organization is not None:
            row["Supervisory_Organization"] = application.organization
        if application.status is not None:
            row["Assessment_Status_ID"] = application.status
        if application.tests:
            row["Assessment_Tests"] = [{"Assessment_Test_ID": t} for t in application.tests]
        return row

    # SOAP

    def _soap(self, request: Request) -> Answer:
        self._expect(request, tenant=self.tenant, version=self.version)
        body = request.body
        bearer = self._bearer_ok(request)
        auth = "bearer" if bearer is not None else "none"
        application_id: str | None = None
        try:
            if bearer is False:
                raise Fault(
                    "SOAP-ENV:Client.authenticationError",
                    "invalid or expired access token",
                    status=401,
                )
            root, operation = read_envelope(body)
            if bearer is None:
                self._ws_security(root)
                auth = "ws-security"
            retry_after = self._throttled("soap")
            if retry_after is not None:
                self._record(AssessWrite(None, 429, None, auth, request=body))
                headers = [("Retry-After", str(retry_after))]
                return Answer(429, b"Too Many Requests", "text/plain", headers)
            injected = self._injected()
            if injected is not None:
                self._record(AssessWrite(None, injected.status, None, auth, request=body))
                return injected
            assess = read_assess_request(operation)
            application_id = self._known_application(assess)
            write = self._assess(assess, application_id, auth, body)
        except Fault as fault:
            self._record(
                AssessWrite(application_id, fault.status, fault.string, auth, request=body)
            )
            return _fault_reply(fault)
        return self._store(write)

    def _ws_security(self, root: Any) -> None:
        fault = Fault("SOAP-ENV:Client.authenticationError", "invalid username or password")
        credentials = username_token(root)
        if credentials is None or not self._isu_ok(*credentials):
            raise fault

    def _injected(self) -> Answer | None:
        with self._changed:
            if self._raw_answers:
                status, raw = self._raw_answers.pop(0)
                return Answer(status, raw, _XML)
            if self._fail_always is None and self._fail_count <= 0:
                return None
            status = self._fail_always if self._fail_always is not None else self._fail_status
            if self._fail_always is None:
                self._fail_count -= 1
        if status == 500:
            return _fault_reply(
                Fault("SOAP-ENV:Server", "Processing error occurred. injected failure")
            )
        return Answer(status, b"injected failure", "text/plain")

    def _known_application(self, request: AssessRequest) -> str:
        if request.application is None:
            raise Fault.validation(
                ValidationError(
                    "This fake Workday assesses candidates by Job_Application_Reference only",
                    "/bsvc:Assess_Candidate_Request[1]/bsvc:Assess_Candidate_Data[1]",
                )
            )
        application_id = self._resolve(request.application, "application")
        with self._changed:
            known = application_id in self._applications
        if not known:
            raise _invalid_value(request.application, application_id, self.id_types["application"])
        return application_id

    def _assess(
        self, request: AssessRequest, application_id: str, auth: str, body: bytes
    ) -> AssessWrite:
        """The write a valid request makes, once every Reference ID is one the tenant knows."""
        tests: list[AssessmentTestWrite] = []
        for result in request.tests:
            test_id = self._resolve(result.test, "test")
            if test_id not in self.tests:
                raise _invalid_value(result.test, test_id, self.id_types["test"])
            status_id = self._status(result.status) if result.status is not None else None
            tests.append(
                AssessmentTestWrite(
                    test_id,
                    result.score,
                    status_id,
                    result.comment,
                    tested_on=result.tested_on,
                    results_url=result.results_url,
                )
            )
        return AssessWrite(
            application_id,
            200,
            None,
            auth,
            overall_status=self._status(request.status),
            comment=request.comment,
            tests=tuple(tests),
            assessed_on=request.assessed_on,
            request=body,
        )

    def _status(self, reference: Reference) -> str:
        status_id = self._resolve(reference, "status")
        if status_id not in self.statuses:
            raise _invalid_value(reference, status_id, self.id_types["status"])
        return status_id

    def _resolve(self, reference: Reference, kind: str) -> str:
        """The value of the reference's ID of the tenant's type for `kind`."""
        id_type = self.id_types[kind]
        for given_type, value in reference.ids:
            if given_type == id_type:
                return value
        given = ", ".join(repr(t) for t, _ in reference.ids) or "none"
        raise Fault.validation(
            ValidationError(
                f"No ID of a valid type for this reference: expected '{id_type}', got {given}",
                reference.xpath,
            )
        )

    def _store(self, write: AssessWrite) -> Answer:
        application_id = write.application_id
        assert application_id is not None
        with self._changed:
            application = self._applications[application_id]
            application.assessment = {
                "status": write.overall_status,
                "comment": write.comment,
                "assessed_on": write.assessed_on,
                "tests": {test.test_id: test for test in write.tests},
            }
            application.status = write.overall_status
            application.updated = max(_micros(self._clock()), application.updated)
            wid = f"{next(self._wids):032x}"
        self._record(write)
        return Answer(200, response_body(self.version, wid), _XML)

    def _record(self, write: AssessWrite) -> None:
        with self._changed:
            self._writes.append(write)
            self._changed.notify_all()


def _invalid_value(reference: Reference, value: str, id_type: str) -> Fault:
    """Workday's fault for a Reference ID the tenant does not have (wording as recorded)."""
    return Fault.validation(
        ValidationError(
            f"Invalid ID value.  '{value}' is not a valid ID value for type = '{id_type}'",
            reference.xpath,
        )
    )
