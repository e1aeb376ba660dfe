"""The `Assess_Candidate` SOAP request of Workday's Recruiting web service, and its answers.

The request follows the order, the required elements and the types of Workday's published
schema (see README.md, "Sources"): `Candidate_Assessment_Data` is `Assessed_On_Date`
(required, xsd:date), `Assessment_Status_Reference` (required), `Overall_Assessment_Comment`?,
then `Assess_Candidate_Test_Result_Data`*, each `Assessment_Test_Reference`,
`Assessment_Test_Score`? (xsd:decimal), `Assessment_Test_Status_Reference`?,
`Assessment_Test_Date`?, `Assessment_Test_Results_URL`?.

Envelopes are built with `xml.etree.ElementTree`, so values are escaped by the serializer and
never spliced into markup. Answers are parsed with `defusedxml`, which refuses a DTD outright:
a SOAP message must not carry one, and refusing it stops entity expansion ("billion laughs")
and external entities before they start.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import attrs
import defusedxml
import defusedxml.ElementTree as SafeET

__all__ = [
    "APPLICATION_ID_TYPE",
    "PASSWORD_TEXT",
    "SOAP_ENV",
    "WD",
    "WSSE",
    "Assessment",
    "AssessmentTestResult",
    "ReferenceIdTypes",
    "SoapAnswer",
    "SoapFault",
    "UnreadableXml",
    "assess_candidate_envelope",
    "format_score",
    "parse_answer",
    "parse_xml",
    "xml_text",
]

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WD = "urn:com.workday/bsvc"
_WSS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-"
WSSE = _WSS + "wssecurity-secext-1.0.xsd"
PASSWORD_TEXT = _WSS + "username-token-profile-1.0#PasswordText"
"""The `Type` of a clear-text WS-Security password (the only kind Workday accepts)."""
APPLICATION_ID_TYPE = "Job_Application_ID"
"""The `wd:type` of a job application's Reference ID (values like `JOB_APPLICATION-6-248`)."""


# XML 1.0 cannot carry these characters at all, escaped or not.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: str) -> str:
    """`value` without the characters XML 1.0 cannot carry (controls, lone surrogates) and
    with line breaks as LF, which is what any XML parser makes of CR LF and CR anyway."""
    return _NOT_XML.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))


def _wd(name: str) -> str:
    return f"{{{WD}}}{name}"


def _env(name: str) -> str:
    return f"{{{SOAP_ENV}}}{name}"


@attrs.frozen
class ReferenceIdTypes:
    """The `wd:type` of each kind of Reference ID the request carries (per tenant)."""

    status: str
    test: str
    application: str = APPLICATION_ID_TYPE


@attrs.frozen
class AssessmentTestResult:
    """One `Assess_Candidate_Test_Result_Data`: a test's score, status, date and report."""

    test_id: str
    status_id: str
    score: Decimal | None = None
    tested_on: date | None = None
    results_url: str | None = None


@attrs.frozen
class Assessment:
    """What `Assess_Candidate` sets on one job application."""

    application_id: str
    status_id: str
    assessed_on: date
    comment: str | None = None
    tests: tuple[AssessmentTestResult, ...] = ()


def _reference(parent: ET.Element, name: str, id_type: str, value: str) -> None:
    reference = ET.SubElement(parent, _wd(name))
    identifier = ET.SubElement(reference, _wd("ID"), {_wd("type"): id_type})
    identifier.text = xml_text(value)


def _text(parent: ET.Element, name: str, value: str) -> None:
    ET.SubElement(parent, _wd(name)).text = xml_text(value)


def format_score(score: Decimal) -> str:
    """A decimal as xsd:decimal text: no exponent, no trailing zeros after the point."""
    text = format(score, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def _test_result(
    parent: ET.Element, test: AssessmentTestResult, id_types: ReferenceIdTypes
) -> None:
    result = ET.SubElement(parent, _wd("Assess_Candidate_Test_Result_Data"))
    _reference(result, "Assessment_Test_Reference", id_types.test, test.test_id)
    if test.score is not None:
        _text(result, "Assessment_Test_Score", format_score(test.score))
    _reference(result, "Assessment_Test_Status_Reference", id_types.status, test.status_id)
    if test.tested_on is not None:
        _text(result, "Assessment_Test_Date", test.tested_on.isoformat())
    if test.results_url:
        _text(result, "Assessment_Test_Results_URL", test.results_url)


def assess_candidate_envelope(
    assessment: Assessment,
    *,
    version: str,
    id_types: ReferenceIdTypes,
    username_token: tuple[str, str] | None = None,
) -> bytes:
    """The SOAP 1.1 envelope of an `Assess_Candidate_Request` (UTF-8, with a declaration).

    `username_token` (user@tenant, password) adds a WS-Security UsernameToken header."""
    envelope = ET.Element(_env("Envelope"))
    header = ET.SubElement(envelope, _env("Header"))
    if username_token is not None:
        security = ET.SubElement(header, f"{{{WSSE}}}Security", {_env("mustUnderstand"): "1"})
        token = ET.SubElement(security, f"{{{WSSE}}}UsernameToken")
        ET.SubElement(token, f"{{{WSSE}}}Username").text = xml_text(username_token[0])
        password = ET.SubElement(token, f"{{{WSSE}}}Password", {"Type": PASSWORD_TEXT})
        password.text = xml_text(username_token[1])
    body = ET.SubElement(envelope, _env("Body"))
    request = ET.SubElement(body, _wd("Assess_Candidate_Request"), {_wd("version"): version})
    data = ET.SubElement(request, _wd("Assess_Candidate_Data"))
    _reference(data, "Job_Application_Reference", id_types.application, assessment.application_id)
    candidate = ET.SubElement(data, _wd("Candidate_Assessment_Data"))
    _text(candidate, "Assessed_On_Date", assessment.assessed_on.isoformat())
    _reference(candidate, "Assessment_Status_Reference", id_types.status, assessment.status_id)
    if assessment.comment:
        _text(candidate, "Overall_Assessment_Comment", assessment.comment)
    for test in assessment.tests:
        _test_result(candidate, test, id_types)
    serialized: bytes = ET.tostring(envelope, encoding="utf-8", xml_declaration=True)
    return serialized


# Answers


class UnreadableXml(ValueError):
    """XML that cannot be parsed; `refused` when it was refused as dangerous (DTD, entities)."""

    def __init__(self, message: str, *, refused: bool) -> None:
        super().__init__(message)
        self.refused = refused


@attrs.frozen
class SoapFault:
    """A SOAP 1.1 fault, with Workday's validation messages from its `detail`."""

    code: str
    """`faultcode` without its prefix, e.g. `Client.validationError`."""
    string: str
    messages: tuple[str, ...] = ()

    @property
    def is_authentication(self) -> bool:
        """Workday refused the credentials (WS-Security or token)."""
        return "authentication" in self.code.lower()

    @property
    def is_client(self) -> bool:
        """The request itself is at fault (validation): sending it again cannot help."""
        return self.code.split(".", 1)[0].lower() == "client"

    @property
    def is_server(self) -> bool:
        """Workday failed to process a request that may be fine."""
        return self.code.split(".", 1)[0].lower() == "server"

    def describe(self) -> str:
        """The fault string and every distinct validation message, for a person to act on."""
        parts = [self.string.strip() or self.code]
        for message in self.messages:
            if message not in parts[0]:
                parts.append(message)
        return "; ".join(parts)


@attrs.frozen
class SoapAnswer:
    """A parsed answer: the body's first element, or the fault it holds."""

    fault: SoapFault | None
    operation: str | None
    """Local name of the body's element, e.g. `Assess_Candidate_Response`."""


def parse_xml(body: bytes) -> ET.Element:
    """Parse untrusted XML; raises `UnreadableXml` (with `refused`) for a DTD or bad XML."""
    try:
        root: ET.Element = SafeET.fromstring(body, forbid_dtd=True)
    except defusedxml.DefusedXmlException as exc:
        raise UnreadableXml(
            f"it declares a DTD or entities ({type(exc).__name__}), which SOAP does not allow",
            refused=True,
        ) from None
    except ET.ParseError as exc:
        raise UnreadableXml(f"it is not well-formed XML ({exc})", refused=False) from None
    return root


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _texts(element: ET.Element, name: str) -> list[str]:
    return [
        " ".join((item.text or "").split())
        for item in element.iter()
        if _local(item.tag) == name and (item.text or "").strip()
    ]


def _fault(element: ET.Element) -> SoapFault:
    code = ""
    string = ""
    for child in element:
        if _local(child.tag) == "faultcode":
            code = (child.text or "").strip().rpartition(":")[2]
        elif _local(child.tag) == "faultstring":
            string = " ".join((child.text or "").split())
    messages: list[str] = []
    for detail in element:
        if _local(detail.tag) != "detail":
            continue
        for error in detail.iter():
            if _local(error.tag) != "Validation_Error":
                continue
            message = " ".join(_texts(error, "Message"))
            xpath = " ".join(_texts(error, "Xpath"))
            if message:
                messages.append(f"{message} (at {xpath})" if xpath else message)
    return SoapFault(code=code, string=string, messages=_unique(messages))


def _unique(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def parse_answer(body: bytes) -> SoapAnswer:
    """Read a SOAP 1.1 answer; raises `UnreadableXml` when it is not one."""
    root = parse_xml(body)
    if root.tag != _env("Envelope"):
        raise UnreadableXml(
            f"it is not a SOAP 1.1 envelope (root <{_local(root.tag)}>)", refused=False
        )
    soap_body = root.find(_env("Body"))
    if soap_body is None:
        raise UnreadableXml("the SOAP envelope has no Body", refused=False)
    first = next(iter(soap_body), None)
    if first is None:
        raise UnreadableXml("the SOAP Body is empty", refused=False)
    if first.tag == _env("Fault"):
        return SoapAnswer(fault=_fault(first), operation=None)
    return SoapAnswer(fault=None, operation=_local(first.tag))
