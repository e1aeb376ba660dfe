"""The fake Workday's own statement of the Recruiting web service's SOAP contract.

Restated from Workday's published material, never taken from the connector: the namespaces of
SOAP 1.1 and of Workday (`urn:com.workday/bsvc`); the `Assess_Candidate_Request` schema
(`_fake_schema/assess_candidate.xsd`, with its sources); the fault Workday answers when a
request does not validate, as recorded from a tenant in a Workday Studio project's test data
(thomasnicholasgyg/INT0025_CheckWorkRights_VisaCheck_Inbound,
`ws/test/ssk/ssk103/SSK103_SOAPFAULT_Launch_Integration_Event_Response.xml`): HTTP 500,
`faultcode` `SOAP-ENV:Client.validationError`, `faultstring` "Validation error occurred. " and
the first message, and `detail/wd:Validation_Fault/wd:Validation_Error/{Message,
Detail_Message, Xpath}` with Xpaths such as `/bsvc:Assess_Candidate_Request[1]/...[1]`.
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from importlib import resources
from xml.sax.saxutils import escape

import attrs
import defusedxml
import defusedxml.ElementTree as SafeET
import xmlschema

__all__ = [
    "BSVC",
    "PASSWORD_TEXT",
    "SOAP_ENV",
    "WSSE",
    "AssessRequest",
    "Fault",
    "Reference",
    "TestResult",
    "ValidationError",
    "fault_body",
    "read_assess_request",
    "read_envelope",
    "response_body",
    "username_token",
]

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
"""SOAP 1.1's envelope namespace (W3C Note "SOAP 1.1", section 4)."""
BSVC = "urn:com.workday/bsvc"
"""The namespace of Workday's web services (WSDL targetNamespace)."""
_OASIS_WSS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-"
WSSE = _OASIS_WSS + "wssecurity-secext-1.0.xsd"
"""OASIS WS-Security 1.0's namespace (UsernameToken Profile 1.0)."""
PASSWORD_TEXT = _OASIS_WSS + "username-token-profile-1.0#PasswordText"
"""The UsernameToken Profile's `Type` of a clear-text password (its default)."""

_SCHEMA_FILE = "assess_candidate.xsd"
_PREFIXES = {BSVC: "bsvc", SOAP_ENV: "SOAP-ENV"}


@attrs.frozen
class ValidationError:
    """One `wd:Validation_Error`."""

    message: str
    xpath: str


class Fault(Exception):
    """A SOAP fault to answer: `Client.validationError` carries `errors` as its detail."""

    def __init__(
        self,
        code: str,
        string: str,
        *,
        errors: tuple[ValidationError, ...] = (),
        status: int = 500,
    ) -> None:
        super().__init__(string)
        self.code = code
        self.string = string
        self.errors = errors
        self.status = status

    @classmethod
    def validation(cls, *errors: ValidationError) -> Fault:
        """Workday's answer to a request that does not validate."""
        return cls(
            "SOAP-ENV:Client.validationError",
            "Validation error occurred. " + errors[0].message,
            errors=errors,
        )


def _q(name: str) -> str:
    return f"{{{BSVC}}}{name}"


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


# Reading a request


def read_envelope(body: bytes) -> tuple[ET.Element, ET.Element]:
    """The envelope's root and its Body's one operation element; a `Fault` otherwise.

    Untrusted XML is parsed with defusedxml, which refuses a DTD (and with it entity
    expansion and external entities) before anything is expanded."""
    try:
        root: ET.Element = SafeET.fromstring(body, forbid_dtd=True)
    except defusedxml.DefusedXmlException as exc:
        raise Fault(
            "SOAP-ENV:Client",
            f"the request declares a DTD or entities ({type(exc).__name__}), which SOAP does "
            "not allow",
        ) from None
    except ET.ParseError as exc:
        raise Fault("SOAP-ENV:Client", f"the request is not well-formed XML ({exc})") from None
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise Fault("SOAP-ENV:Client", "the request is not a SOAP 1.1 Envelope")
    body_element = root.find(f"{{{SOAP_ENV}}}Body")
    operations = list(body_element) if body_element is not None else []
    if len(operations) != 1:
        found = ", ".join(_local(o.tag) for o in operations) or "nothing"
        raise Fault("SOAP-ENV:Client", f"expected one operation in the SOAP Body, got {found}")
    return root, operations[0]


def username_token(root: ET.Element) -> tuple[str, str] | None:
    """(user, password) of a WS-Security UsernameToken with a clear-text password, or None."""
    token = root.find(f"{{{SOAP_ENV}}}Header/{{{WSSE}}}Security/{{{WSSE}}}UsernameToken")
    if token is None:
        return None
    password = token.find(f"{{{WSSE}}}Password")
    if password is None or password.get("Type", PASSWORD_TEXT) != PASSWORD_TEXT:
        return None
    return (token.findtext(f"{{{WSSE}}}Username") or "", password.text or "")


@functools.cache
def _schema() -> xmlschema.XMLSchema:
    source = resources.files(__package__).joinpath("_fake_schema").joinpath(_SCHEMA_FILE)
    with resources.as_file(source) as path:
        return xmlschema.XMLSchema(str(path))


def _xpaths(root: ET.Element) -> dict[ET.Element, str]:
    """Every element's Xpath as Workday writes it: `/bsvc:Name[1]/bsvc:Child[2]`."""
    paths = {root: f"/{_prefixed(root.tag)}[1]"}
    stack = [root]
    while stack:
        parent = stack.pop()
        seen: dict[str, int] = {}
        for child in parent:
            seen[child.tag] = seen.get(child.tag, 0) + 1
            paths[child] = f"{paths[parent]}/{_prefixed(child.tag)}[{seen[child.tag]}]"
            stack.append(child)
    return paths


def _prefixed(tag: str) -> str:
    namespace, _, name = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
    prefix = _PREFIXES.get(namespace)
    return f"{prefix}:{name}" if prefix else name


def _schema_errors(request: ET.Element) -> Iterator[ValidationError]:
    paths = _xpaths(request)
    for error in _schema().iter_errors(request):
        element = error.elem if isinstance(error.elem, ET.Element) else request
        reason = (error.reason or "does not match the schema").replace(f"{{{BSVC}}}", "bsvc:")
        reason = reason.replace("'wd:", "'bsvc:")
        yield ValidationError(reason, paths.get(element, paths[request]))


# Assess_Candidate


@attrs.frozen
class Reference:
    """A `*_Reference`: its `(wd:type, value)` IDs, and its Xpath for a fault."""

    ids: tuple[tuple[str, str], ...]
    xpath: str


@attrs.frozen
class TestResult:
    """One `Assess_Candidate_Test_Result_Data` as sent."""

    test: Reference
    score: Decimal | None
    status: Reference | None
    tested_on: date | None
    comment: str | None
    results_url: str | None


@attrs.frozen
class AssessRequest:
    """An `Assess_Candidate_Request` that passed the schema."""

    version: str | None
    application: Reference | None
    """None when the request names the candidate by `Event_Reference` or criteria instead."""
    assessed_on: date
    status: Reference
    comment: str | None
    tests: tuple[TestResult, ...]


def read_assess_request(request: ET.Element) -> AssessRequest:
    """Validate `request` against the published schema and read it; a `Fault` listing every
    schema error otherwise."""
    if request.tag != _q("Assess_Candidate_Request"):
        raise Fault(
            "SOAP-ENV:Client",
            f"this endpoint answers Assess_Candidate_Request, not {_local(request.tag)}",
        )
    errors = tuple(_schema_errors(request))
    if errors:
        raise Fault.validation(*errors)
    paths = _xpaths(request)
    data = _child(request, "Assess_Candidate_Data")
    assessment = _child(data, "Candidate_Assessment_Data")
    application = data.find(_q("Job_Application_Reference"))
    return AssessRequest(
        version=request.get(_q("version")),
        application=_reference(application, paths) if application is not None else None,
        assessed_on=date.fromisoformat(_text(assessment, "Assessed_On_Date")[:10]),
        status=_reference(_child(assessment, "Assessment_Status_Reference"), paths),
        comment=assessment.findtext(_q("Overall_Assessment_Comment")),
        tests=tuple(
            _test_result(result, paths)
            for result in assessment.findall(_q("Assess_Candidate_Test_Result_Data"))
        ),
    )


def _child(parent: ET.Element, name: str) -> ET.Element:
    found = parent.find(_q(name))
    assert found is not None  # the schema requires it
    return found


def _text(parent: ET.Element, name: str) -> str:
    return (parent.findtext(_q(name)) or "").strip()


def _reference(element: ET.Element, paths: dict[ET.Element, str]) -> Reference:
    ids = tuple(
        (identifier.get(_q("type"), ""), (identifier.text or "").strip())
        for identifier in element.findall(_q("ID"))
    )
    return Reference(ids=ids, xpath=paths[element])


def _test_result(element: ET.Element, paths: dict[ET.Element, str]) -> TestResult:
    status = element.find(_q("Assessment_Test_Status_Reference"))
    score = element.findtext(_q("Assessment_Test_Score"))
    tested_on = element.findtext(_q("Assessment_Test_Date"))
    return TestResult(
        test=_reference(_child(element, "Assessment_Test_Reference"), paths),
        score=Decimal(score.strip()) if score is not None else None,
        status=_reference(status, paths) if status is not None else None,
        tested_on=date.fromisoformat(tested_on.strip()[:10]) if tested_on else None,
        comment=element.findtext(_q("Comment")),
        results_url=element.findtext(_q("Assessment_Test_Results_URL")),
    )


# Answers


def fault_body(fault: Fault) -> bytes:
    """The SOAP 1.1 fault envelope, laid out and prefixed as the recorded Workday fault is."""
    errors = "".join(
        "<wd:Validation_Error>"
        f"<wd:Message>{escape(error.message)}</wd:Message>"
        f"<wd:Detail_Message>{escape(error.message)}</wd:Detail_Message>"
        f"<wd:Xpath>{escape(error.xpath)}</wd:Xpath>"
        "</wd:Validation_Error>"
        for error in fault.errors
    )
    detail = (
        f"<detail><wd:Validation_Fault>{errors}</wd:Validation_Fault></detail>" if errors else ""
    )
    return _envelope(
        f'<SOAP-ENV:Fault xmlns:wd="{BSVC}">'
        f"<faultcode>{escape(fault.code)}</faultcode>"
        f"<faultstring>{escape(fault.string)}</faultstring>"
        f"{detail}</SOAP-ENV:Fault>"
    )


def response_body(version: str, wid: str) -> bytes:
    """An `Assess_Candidate_Response` naming the candidate assessment by its WID."""
    return _envelope(
        f'<wd:Assess_Candidate_Response xmlns:wd="{BSVC}" wd:version="{escape(version)}">'
        "<wd:Candidate_Assessment_Reference>"
        f'<wd:ID wd:type="WID">{escape(wid)}</wd:ID>'
        "</wd:Candidate_Assessment_Reference></wd:Assess_Candidate_Response>"
    )


def _envelope(body: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP_ENV}"><SOAP-ENV:Body>{body}'
        "</SOAP-ENV:Body></SOAP-ENV:Envelope>"
    ).encode()
