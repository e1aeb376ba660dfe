"""`FakeWorkday`: a stateful stand-in for one Workday tenant on 127.0.0.1, for tests and the demo.

It serves the three things the connector uses, each authenticated the way Workday does:

- `POST /ccx/oauth2/{tenant}/token`: the refresh-token grant (API client id and secret as HTTP
  Basic); issues access tokens with a TTL and can expire them all, or revoke the refresh token;
- `GET /ccx/service/customreport2/{tenant}/{owner}/{report}?format=json&Updated_From=...`: the
  RaaS report of job applications at the assessment step, updated from `Updated_From`, ordered
  by updated moment (Bearer token or the ISU's Basic credentials);
- `POST /ccx/service/{tenant}/Recruiting/{version}`: SOAP `Assess_Candidate` (Bearer token or a
  WS-Security UsernameToken), checking the envelope and every Reference ID against what the
  tenant knows and answering a SOAP fault like Workday's otherwise. A successful write stores
  the assessment and, as in Workday, moves the application's updated moment.

Requests are parsed with defusedxml, like the connector's answers. Faults can be injected:
rate limiting (429), failing writes (`fail_next`, `fail_always`, `heal`), a report that breaks
after some requests, and a raw answer to the next write. Every method is thread-safe.
"""

from __future__ import annotations

import base64
import hmac
import itertools
import json
import secrets
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import attrs

from assessio_connect._server import ServedApp
from assessio_connect._wsgi import RequestBodyError, header, read_body

from ._report import MICROS, parse_moment
from ._soap import ID_TYPES, PASSWORD_TEXT, SOAP_ENV, WD, WSSE, UnreadableXml, parse_xml

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = [
    "DEFAULT_STATUSES",
    "DEFAULT_TESTS",
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
_JSON = "application/json"
_XML = "text/xml; charset=utf-8"


@attrs.frozen
class AssessmentTestWrite:
    """One `Assess_Candidate_Test_Result_Data` as received."""

    test_id: str | None
    score: Decimal | None
    status_id: str | None
    comment: str | None


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


@attrs.frozen
class _Reply:
    status: int
    body: bytes
    content_type: str = _JSON
    headers: tuple[tuple[str, str], ...] = ()


def _json(status: int, data: Any, *headers: tuple[str, str]) -> _Reply:
    return _Reply(status, json.dumps(data, separators=(",", ":")).encode("ascii"), _JSON, headers)


class _Fault(Exception):
    """A SOAP fault to answer."""

    def __init__(
        self, code: str, message: str, *, xpath: str | None = None, status: int = 500
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.xpath = xpath
        self.status = status


def _validation(message: str, xpath: str) -> _Fault:
    return _Fault("SOAP-ENV:Client.validationError", message, xpath=xpath)


def _fault_reply(fault: _Fault) -> _Reply:
    envelope = ET.Element(f"{{{SOAP_ENV}}}Envelope")
    body = ET.SubElement(envelope, f"{{{SOAP_ENV}}}Body")
    element = ET.SubElement(body, f"{{{SOAP_ENV}}}Fault")
    ET.SubElement(element, "faultcode").text = fault.code
    summary = (
        "Validation error occurred. "
        if "validation" in fault.code
        else "Processing error occurred. "
    )
    ET.SubElement(element, "faultstring").text = summary + fault.message
    if fault.xpath is not None:
        detail = ET.SubElement(element, "detail")
        validation = ET.SubElement(detail, f"{{{WD}}}Validation_Fault")
        error = ET.SubElement(validation, f"{{{WD}}}Validation_Error")
        ET.SubElement(error, f"{{{WD}}}Message").text = fault.message
        ET.SubElement(error, f"{{{WD}}}Detail_Message").text = fault.message
        ET.SubElement(error, f"{{{WD}}}Xpath").text = fault.xpath
    data = ET.tostring(envelope, encoding="utf-8", xml_declaration=True)
    return _Reply(fault.status, data, _XML)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _micros(seconds: float) -> int:
    return round(seconds * MICROS)


class FakeWorkday(ServedApp):
    """One Workday tenant with its API client, integration system user, report and the
    Recruiting assessment tests and statuses it knows (Reference ID -> name)."""

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
        self._zone = timezone(timedelta(minutes=utc_offset_minutes))
        self._clock = clock
        super().__init__(host, port)
        self._changed = threading.Condition()
        self._tokens: dict[str, float] = {}
        self._refresh_revoked = False
        self.tokens_issued = 0
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
        self._wids = itertools.count(1)

    def __repr__(self) -> str:
        return f"FakeWorkday({self.tenant!r}, {self.serving})"

    # -- serving --------------------------------------------------------------------------

    _what = "fake Workday"

    def _app(self) -> Any:
        return self.wsgi_app

    @property
    def client_secret(self) -> str:
        """The API client's secret (for the connector's configuration)."""
        return self._client_secret

    @property
    def refresh_token(self) -> str:
        """The refresh token the API client may use (for the connector's configuration)."""
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

    def heal(self) -> None:
        """Stop every injected failure."""
        with self._changed:
            self._rate_limited = 0
            self._fail_count = 0
            self._fail_always = None
            self._report_budget = None
            self._raw_answers.clear()

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

    def wsgi_app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """The fake's WSGI app (served by `start()`)."""
        try:
            reply = self._handle(environ)
        except Exception:  # a bug in the fake must show as a 500, not kill the server
            reply = _json(500, {"error": "internal error in the fake Workday"})
        headers = [
            ("Content-Type", reply.content_type),
            ("Content-Length", str(len(reply.body))),
            *reply.headers,
        ]
        start_response(f"{reply.status} {HTTPStatus(reply.status).phrase}", headers)
        return [reply.body]

    def _handle(self, environ: WSGIEnvironment) -> _Reply:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        raw_path = str(environ.get("PATH_INFO") or "/")
        path = raw_path.encode("latin-1").decode("utf-8", errors="replace")
        tenant = self.tenant
        owner, _, name = self.report.partition("/")
        if path == f"/ccx/oauth2/{tenant}/token":
            if method != "POST":
                return _json(405, {"error": "use POST"}, ("Allow", "POST"))
            return self._token(environ)
        if path == f"/ccx/service/customreport2/{tenant}/{owner}/{name}":
            if method != "GET":
                return _json(405, {"error": "use GET"}, ("Allow", "GET"))
            return self._report_answer(environ)
        if path == f"/ccx/service/{tenant}/Recruiting/{self.version}":
            if method != "POST":
                return _json(405, {"error": "use POST"}, ("Allow", "POST"))
            return self._soap(environ)
        return _json(404, {"error": f"no such endpoint: {path}"})

    # OAuth

    def _token(self, environ: WSGIEnvironment) -> _Reply:
        try:
            form = parse_qs(read_body(environ, MAX_BODY_BYTES).decode("ascii"))
        except (RequestBodyError, UnicodeDecodeError):
            return _json(400, {"error": "invalid_request"})
        credentials = self._basic(environ)
        if credentials is None or not (
            hmac.compare_digest(credentials[0].encode(), self.client_id.encode())
            and hmac.compare_digest(credentials[1].encode(), self._client_secret.encode())
        ):
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
        return _json(
            200, {"access_token": token, "token_type": "Bearer", "expires_in": self.token_ttl}
        )

    @staticmethod
    def _basic(environ: WSGIEnvironment) -> tuple[str, str] | None:
        scheme, _, value = (header(environ, "Authorization") or "").strip().partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, colon, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return (user, password) if colon else None

    def _bearer_ok(self, environ: WSGIEnvironment) -> bool | None:
        """True/False for a valid/invalid Bearer token; None when no Bearer was sent."""
        scheme, _, token = (header(environ, "Authorization") or "").strip().partition(" ")
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

    def _report_answer(self, environ: WSGIEnvironment) -> _Reply:
        bearer = self._bearer_ok(environ)
        basic = self._basic(environ)
        if not (bearer or (bearer is None and basic is not None and self._isu_ok(*basic))):
            return _json(401, {"error": "invalid_token" if bearer is False else "unauthorized"})
        retry_after = self._throttled("report")
        if retry_after is not None:
            return _json(429, {"error": "rate limit exceeded"}, ("Retry-After", str(retry_after)))
        query = {
            key: values[-1] for key, values in parse_qs(environ.get("QUERY_STRING", "")).items()
        }
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
            start = parse_moment(query["Updated_From"])
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

    def _soap(self, environ: WSGIEnvironment) -> _Reply:
        try:
            body = read_body(environ, MAX_BODY_BYTES)
        except RequestBodyError as exc:
            return _json(exc.status, {"error": str(exc)})
        bearer = self._bearer_ok(environ)
        auth = "bearer" if bearer is not None else "none"
        write: dict[str, Any] = {}
        try:
            if bearer is False:
                raise _Fault(
                    "SOAP-ENV:Client.authenticationError",
                    "invalid or expired access token",
                    status=401,
                )
            root = self._envelope(body)
            if bearer is None:
                self._ws_security(root)
                auth = "ws-security"
            retry_after = self._throttled("soap")
            if retry_after is not None:
                self._record(AssessWrite(None, 429, None, auth, at=time.time()))
                return _Reply(
                    429, b"Too Many Requests", "text/plain", (("Retry-After", str(retry_after)),)
                )
            injected = self._injected()
            if injected is not None:
                self._record(AssessWrite(None, injected.status, None, auth, at=time.time()))
                return injected
            write = self._assess(root)
        except _Fault as fault:
            self._record(
                AssessWrite(
                    write.get("application_id"),
                    fault.status,
                    fault.message,
                    auth,
                    at=time.time(),
                )
            )
            return _fault_reply(fault)
        return self._store(write, auth)

    def _envelope(self, body: bytes) -> ET.Element:
        try:
            root = parse_xml(body)
        except UnreadableXml as exc:
            raise _Fault("SOAP-ENV:Client", f"the request could not be read: {exc}") from None
        if root.tag != f"{{{SOAP_ENV}}}Envelope":
            raise _Fault("SOAP-ENV:Client", "the request is not a SOAP 1.1 Envelope")
        return root

    def _ws_security(self, root: ET.Element) -> None:
        token = root.find(f"{{{SOAP_ENV}}}Header/{{{WSSE}}}Security/{{{WSSE}}}UsernameToken")
        fault = _Fault("SOAP-ENV:Client.authenticationError", "invalid username or password")
        if token is None:
            raise fault
        user = token.findtext(f"{{{WSSE}}}Username") or ""
        password = token.find(f"{{{WSSE}}}Password")
        if password is None or password.get("Type", PASSWORD_TEXT) != PASSWORD_TEXT:
            raise fault
        if not self._isu_ok(user, password.text or ""):
            raise fault

    def _injected(self) -> _Reply | None:
        with self._changed:
            if self._raw_answers:
                status, raw = self._raw_answers.pop(0)
                return _Reply(status, raw, _XML)
            if self._fail_always is None and self._fail_count <= 0:
                return None
            status = self._fail_always if self._fail_always is not None else self._fail_status
            if self._fail_always is None:
                self._fail_count -= 1
        if status == 500:
            return _fault_reply(_Fault("SOAP-ENV:Server", "injected failure"))
        return _Reply(status, b"injected failure", "text/plain")

    def _assess(self, root: ET.Element) -> dict[str, Any]:
        body = root.find(f"{{{SOAP_ENV}}}Body")
        operations = list(body) if body is not None else []
        if len(operations) != 1 or operations[0].tag != f"{{{WD}}}Assess_Candidate_Request":
            found = ", ".join(_local(o.tag) for o in operations) or "nothing"
            raise _Fault(
                "SOAP-ENV:Client", f"expected one Assess_Candidate_Request in the Body, got {found}"
            )
        request = operations[0]
        path = "/bsvc:Assess_Candidate_Request/bsvc:Assess_Candidate_Data"
        data = request.find(f"{{{WD}}}Assess_Candidate_Data")
        if data is None:
            raise _validation("Assess_Candidate_Data is required", path)
        application_id = self._reference(
            data,
            "Job_Application_Reference",
            "application",
            f"{path}/bsvc:Job_Application_Reference",
        )
        write: dict[str, Any] = {"application_id": application_id}
        with self._changed:
            application = self._applications.get(application_id)
        if application is None:
            raise _validation(
                f"Invalid ID value. '{application_id}' is not a valid ID value for type = "
                f"'{ID_TYPES['application']}'",
                f"{path}/bsvc:Job_Application_Reference",
            )
        path += "/bsvc:Candidate_Assessment_Data"
        assessment = data.find(f"{{{WD}}}Candidate_Assessment_Data")
        if assessment is None:
            raise _validation("Candidate_Assessment_Data is required", path)
        write["overall_status"] = self._known_status(
            self._reference(
                assessment,
                "Assessment_Status_Reference",
                "status",
                f"{path}/bsvc:Assessment_Status_Reference",
            ),
            f"{path}/bsvc:Assessment_Status_Reference",
        )
        write["comment"] = assessment.findtext(f"{{{WD}}}Overall_Assessment_Comment")
        tests: list[AssessmentTestWrite] = []
        for index, result in enumerate(
            assessment.findall(f"{{{WD}}}Assess_Candidate_Test_Result_Data"), start=1
        ):
            where = f"{path}/bsvc:Assess_Candidate_Test_Result_Data[{index}]"
            test_id = self._reference(
                result,
                "Assessment_Test_Reference",
                "test",
                f"{where}/bsvc:Assessment_Test_Reference",
            )
            if test_id not in self.tests:
                raise _validation(
                    f"Invalid ID value. '{test_id}' is not a valid ID value for type = "
                    f"'{ID_TYPES['test']}'",
                    f"{where}/bsvc:Assessment_Test_Reference",
                )
            score = None
            score_text = result.findtext(f"{{{WD}}}Assessment_Test_Score")
            if score_text is not None:
                try:
                    score = Decimal(score_text.strip())
                except InvalidOperation:
                    score = None
                if score is None or not score.is_finite():
                    raise _validation(
                        f"'{score_text}' is not a valid decimal",
                        f"{where}/bsvc:Assessment_Test_Score",
                    )
            status_id = None
            if result.find(f"{{{WD}}}Assessment_Test_Status_Reference") is not None:
                status_id = self._known_status(
                    self._reference(
                        result,
                        "Assessment_Test_Status_Reference",
                        "status",
                        f"{where}/bsvc:Assessment_Test_Status_Reference",
                    ),
                    f"{where}/bsvc:Assessment_Test_Status_Reference",
                )
            tests.append(
                AssessmentTestWrite(test_id, score, status_id, result.findtext(f"{{{WD}}}Comment"))
            )
        write["tests"] = tuple(tests)
        return write

    def _reference(self, parent: ET.Element, name: str, kind: str, xpath: str) -> str:
        reference = parent.find(f"{{{WD}}}{name}")
        if reference is None:
            raise _validation(f"{name} is required", xpath)
        identifier = reference.find(f"{{{WD}}}ID")
        id_type = ID_TYPES[kind]
        if identifier is None or not (identifier.text or "").strip():
            raise _validation(f"{name} needs an ID of type {id_type}", xpath)
        given_type = identifier.get(f"{{{WD}}}type")
        if given_type != id_type:
            raise _validation(
                f"Invalid ID type '{given_type}' for {name}; expected '{id_type}'", xpath
            )
        return (identifier.text or "").strip()

    def _known_status(self, status_id: str, xpath: str) -> str:
        if status_id not in self.statuses:
            raise _validation(
                f"Invalid ID value. '{status_id}' is not a valid ID value for type = "
                f"'{ID_TYPES['status']}'",
                xpath,
            )
        return status_id

    def _store(self, write: dict[str, Any], auth: str) -> _Reply:
        application_id: str = write["application_id"]
        with self._changed:
            application = self._applications[application_id]
            application.assessment = {
                "status": write["overall_status"],
                "comment": write["comment"],
                "tests": {test.test_id: test for test in write["tests"]},
            }
            application.status = write["overall_status"]
            application.updated = max(_micros(self._clock()), application.updated)
            wid = f"{next(self._wids):032x}"
        self._record(
            AssessWrite(
                application_id,
                200,
                None,
                auth,
                overall_status=write["overall_status"],
                comment=write["comment"],
                tests=write["tests"],
                at=time.time(),
            )
        )
        envelope = ET.Element(f"{{{SOAP_ENV}}}Envelope")
        body = ET.SubElement(envelope, f"{{{SOAP_ENV}}}Body")
        response = ET.SubElement(
            body, f"{{{WD}}}Assess_Candidate_Response", {f"{{{WD}}}version": self.version}
        )
        reference = ET.SubElement(response, f"{{{WD}}}Candidate_Assessment_Reference")
        ET.SubElement(reference, f"{{{WD}}}ID", {f"{{{WD}}}type": "WID"}).text = wid
        return _Reply(200, ET.tostring(envelope, encoding="utf-8", xml_declaration=True), _XML)

    def _record(self, write: AssessWrite) -> None:
        with self._changed:
            self._writes.append(write)
            self._changed.notify_all()
