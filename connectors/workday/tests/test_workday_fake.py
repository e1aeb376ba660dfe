"""The fake Workday holds the connector to Workday's contract, not to the connector's idea of
it: it refuses an `Assess_Candidate` that breaks the published schema (a missing
`Assessed_On_Date`, elements out of order, a score that is not an xsd:decimal, an element the
schema does not have), answers with the layout of a fault recorded from Workday, and its token
endpoint behaves as Workday's clients expect."""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

import defusedxml.ElementTree as SafeET
import pytest
import urllib3
from hypothesis import given, settings
from hypothesis import strategies as st
from workday_world import CLIENT_SECRET, ISU_PASSWORD, REFRESH_TOKEN

from assessio_connect_workday._fake_recruiting import read_assess_request, read_envelope
from assessio_connect_workday._soap import (
    SOAP_ENV,
    WD,
    Assessment,
    AssessmentTestResult,
    ReferenceIdTypes,
    assess_candidate_envelope,
    xml_text,
)
from assessio_connect_workday.fake import FakeWorkday

FIXTURES = Path(__file__).parent / "fixtures"
GP_TEST = "ASSESSIO_GENERAL_PERFORMANCE"
APPLICATION = "JOB_APPLICATION-6-248"
CANDIDATE_DATA = (
    "/bsvc:Assess_Candidate_Request[1]/bsvc:Assess_Candidate_Data[1]"
    "/bsvc:Candidate_Assessment_Data[1]"
)


@pytest.fixture
def fake() -> Iterator[FakeWorkday]:
    with FakeWorkday(
        client_secret=CLIENT_SECRET,
        refresh_token=REFRESH_TOKEN,
        isu_username="ISU_Assessio@acme",
        isu_password=ISU_PASSWORD,
    ) as server:
        server.move_to_assessment(APPLICATION, email="ada@example.com")
        yield server


@pytest.fixture
def http() -> Iterator[urllib3.PoolManager]:
    pool = urllib3.PoolManager(retries=False)
    yield pool
    pool.clear()


def envelope() -> bytes:
    """What the connector sends: a valid request, authenticated as the ISU."""
    return assess_candidate_envelope(
        Assessment(
            application_id=APPLICATION,
            status_id="ASSESSIO_COMPLETED",
            assessed_on=date(2026, 12, 6),
            comment="Assessio General Performance: score 71",
            tests=(
                AssessmentTestResult(
                    test_id=GP_TEST,
                    status_id="ASSESSIO_COMPLETED",
                    score=Decimal("71.5"),
                    tested_on=date(2026, 12, 6),
                    results_url="https://assessio.example/report/1",
                ),
            ),
        ),
        version="v42.2",
        id_types=ReferenceIdTypes(
            status="Recruiting_Assessment_Status_ID", test="Recruiting_Assessment_Test_ID"
        ),
        username_token=("ISU_Assessio@acme", ISU_PASSWORD),
    )


def post(http: urllib3.PoolManager, fake: FakeWorkday, body: bytes) -> urllib3.BaseHTTPResponse:
    return http.request(
        "POST",
        f"{fake.url}/ccx/service/acme/Recruiting/v42.2",
        body=body,
        headers={"Content-Type": "text/xml; charset=utf-8"},
    )


def _wd(name: str) -> str:
    return f"{{{WD}}}{name}"


Mutation = Callable[[ET.Element], None]


def _candidate(root: ET.Element) -> ET.Element:
    found = root.find(f".//{_wd('Candidate_Assessment_Data')}")
    assert found is not None
    return found


def _result(root: ET.Element) -> ET.Element:
    found = root.find(f".//{_wd('Assess_Candidate_Test_Result_Data')}")
    assert found is not None
    return found


def _remove(parent: ET.Element, name: str) -> None:
    child = parent.find(_wd(name))
    assert child is not None
    parent.remove(child)


def _move_after(parent: ET.Element, name: str, after: str) -> None:
    """Put `name` right after `after` (order broken, nothing else changed)."""
    child = parent.find(_wd(name))
    anchor = parent.find(_wd(after))
    assert child is not None
    assert anchor is not None
    parent.remove(child)
    parent.insert(list(parent).index(anchor) + 1, child)


def _set_text(path: str, text: str) -> Mutation:
    def mutate(root: ET.Element) -> None:
        element = root.find(f".//{_wd(path)}")
        assert element is not None
        element.text = text

    return mutate


def _add_comment_to_assessment(root: ET.Element) -> None:
    ET.SubElement(_candidate(root), _wd("Comment")).text = "not in Candidate_Assessment_Data"


MUTATIONS: dict[str, tuple[Mutation, str]] = {
    # (what is done to a valid envelope, the Xpath Workday's fault points at)
    "no-assessed-on-date": (
        lambda root: _remove(_candidate(root), "Assessed_On_Date"),
        CANDIDATE_DATA,
    ),
    "status-before-date": (
        lambda root: _move_after(
            _candidate(root), "Assessed_On_Date", "Assessment_Status_Reference"
        ),
        CANDIDATE_DATA,
    ),
    "comment-before-status": (
        lambda root: _move_after(
            _candidate(root), "Assessment_Status_Reference", "Overall_Assessment_Comment"
        ),
        CANDIDATE_DATA,
    ),
    "score-after-test-status": (
        lambda root: _move_after(
            _result(root), "Assessment_Test_Score", "Assessment_Test_Status_Reference"
        ),
        f"{CANDIDATE_DATA}/bsvc:Assess_Candidate_Test_Result_Data[1]",
    ),
    "score-not-a-decimal": (
        _set_text("Assessment_Test_Score", "7.1e1"),
        f"{CANDIDATE_DATA}/bsvc:Assess_Candidate_Test_Result_Data[1]/bsvc:Assessment_Test_Score[1]",
    ),
    "date-not-a-date": (
        _set_text("Assessed_On_Date", "06/12/2026"),
        f"{CANDIDATE_DATA}/bsvc:Assessed_On_Date[1]",
    ),
    "element-the-schema-lacks": (_add_comment_to_assessment, CANDIDATE_DATA),
}


def test_the_connectors_envelope_is_accepted_as_it_is(
    fake: FakeWorkday, http: urllib3.PoolManager
) -> None:
    response = post(http, fake, envelope())
    assert response.status == 200, response.data
    (write,) = fake.writes
    assert write.accepted
    assert write.assessed_on == date(2026, 12, 6)
    assert [(t.test_id, t.score, t.results_url) for t in write.tests] == [
        (GP_TEST, Decimal("71.5"), "https://assessio.example/report/1")
    ]


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_an_envelope_that_breaks_the_schema_is_refused_with_workdays_fault(
    fake: FakeWorkday, http: urllib3.PoolManager, mutation: str
) -> None:
    mutate, xpath = MUTATIONS[mutation]
    root = SafeET.fromstring(envelope())
    mutate(root)
    response = post(http, fake, ET.tostring(root, encoding="utf-8"))
    assert response.status == 500
    fault = SafeET.fromstring(response.data).find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault")
    assert fault is not None
    assert fault.findtext("faultcode") == "SOAP-ENV:Client.validationError"
    assert (fault.findtext("faultstring") or "").startswith("Validation error occurred. ")
    errors = fault.findall(f"detail/{_wd('Validation_Fault')}/{_wd('Validation_Error')}")
    assert errors
    assert xpath in [error.findtext(_wd("Xpath")) for error in errors]
    assert all(error.findtext(_wd("Message")) for error in errors)
    assert fake.assessment(APPLICATION) is None  # nothing was stored
    assert [w.status for w in fake.writes] == [500]


def _shape(element: ET.Element, depth: int = 0) -> list[tuple[int, str]]:
    """The element's tags (local names) with their depth, down to the first Validation_Error."""
    shape = [(depth, element.tag.rpartition("}")[2])]
    for child in element:
        shape += _shape(child, depth + 1)
        if child.tag.endswith("Validation_Error"):
            break
    return shape


def test_the_fakes_fault_has_the_layout_of_a_fault_recorded_from_workday(
    fake: FakeWorkday, http: urllib3.PoolManager
) -> None:
    # Verbatim, recorded from a Workday tenant: thomasnicholasgyg/
    # INT0025_CheckWorkRights_VisaCheck_Inbound, ws/test/ssk/ssk103/
    # SSK103_SOAPFAULT_Launch_Integration_Event_Response.xml
    recorded = SafeET.fromstring((FIXTURES / "workday_validation_fault.xml").read_bytes())
    root = SafeET.fromstring(envelope())
    _remove(_candidate(root), "Assessed_On_Date")
    response = post(http, fake, ET.tostring(root, encoding="utf-8"))
    answered = SafeET.fromstring(response.data)
    assert _shape(answered) == _shape(recorded)
    for fault in (recorded, answered):
        code = fault.findtext(f".//{{{SOAP_ENV}}}Fault/faultcode")
        assert code == "SOAP-ENV:Client.validationError"
    recorded_error = recorded.find(f".//{_wd('Validation_Error')}")
    answered_error = answered.find(f".//{_wd('Validation_Error')}")
    assert recorded_error is not None
    assert answered_error is not None
    for error in (recorded_error, answered_error):
        assert error.findtext(_wd("Message")) == error.findtext(_wd("Detail_Message"))
        assert (error.findtext(_wd("Xpath")) or "").startswith("/bsvc:")


def test_an_unknown_reference_id_is_refused_with_workdays_wording(
    fake: FakeWorkday, http: urllib3.PoolManager
) -> None:
    body = envelope().replace(APPLICATION.encode(), b"JOB_APPLICATION-404")
    response = post(http, fake, body)
    assert response.status == 500
    assert (
        b"Invalid ID value.  'JOB_APPLICATION-404' is not a valid ID value for type = "
        b"'Job_Application_ID'"
    ) in response.data
    assert (
        b"/bsvc:Assess_Candidate_Request[1]/bsvc:Assess_Candidate_Data[1]/bsvc:Job_Application_Reference[1]"
        in (response.data)
    )


@settings(max_examples=100, deadline=None)
@given(
    comment=st.text(),
    application=st.text(min_size=1).filter(lambda text: xml_text(text).strip() == xml_text(text)),
    score=st.one_of(st.none(), st.decimals(allow_nan=False, allow_infinity=False, places=2)),
    day=st.dates(min_value=date(1900, 1, 1)),
)
def test_the_fake_reads_back_what_any_connector_envelope_says(
    comment: str, application: str, score: Decimal | None, day: date
) -> None:
    body = assess_candidate_envelope(
        Assessment(
            application_id=application,
            status_id="DONE",
            assessed_on=day,
            comment=comment,
            tests=(AssessmentTestResult(test_id="T", status_id="DONE", score=score),),
        ),
        version="v42.2",
        id_types=ReferenceIdTypes(status="S_ID", test="T_ID"),
    )
    request = read_assess_request(read_envelope(body)[1])
    assert request.application is not None
    assert request.application.ids == (("Job_Application_ID", xml_text(application)),)
    assert request.assessed_on == day
    assert request.status.ids == (("S_ID", "DONE"),)
    assert request.comment == (xml_text(comment) if comment else None)
    (test,) = request.tests
    assert (test.test.ids, test.score) == ((("T_ID", "T"),), score)


def test_only_this_tenants_endpoints_answer(fake: FakeWorkday, http: urllib3.PoolManager) -> None:
    other_tenant = http.request("POST", f"{fake.url}/ccx/service/globex/Recruiting/v42.2")
    assert other_tenant.status == 404
    other_version = http.request("POST", f"{fake.url}/ccx/service/acme/Recruiting/v41.0")
    assert other_version.status == 404
    read = http.request("GET", f"{fake.url}/ccx/service/acme/Recruiting/v42.2")
    assert (read.status, read.headers["Allow"]) == (405, "POST")
    assert fake.writes == []


# -- the token endpoint ----------------------------------------------------------------------


def token_request(
    http: urllib3.PoolManager,
    fake: FakeWorkday,
    form: dict[str, str],
    *,
    basic: tuple[str, str] | None = None,
) -> tuple[int, dict[str, object]]:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if basic is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(basic).encode()).decode()
    response = http.request(
        "POST", f"{fake.url}/ccx/oauth2/acme/token", body=urlencode(form), headers=headers
    )
    return response.status, json.loads(response.data)


def test_client_credentials_are_taken_as_basic_or_in_the_form(
    fake: FakeWorkday, http: urllib3.PoolManager
) -> None:
    grant = {"grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN}
    # go-workday's internal/oauth: HTTP Basic.
    status, basic = token_request(http, fake, grant, basic=(fake.client_id, CLIENT_SECRET))
    assert status == 200
    assert basic["token_type"] == "Bearer"
    # Workday/raas-python: client_id and client_secret in the form.
    in_form = {**grant, "client_id": fake.client_id, "client_secret": CLIENT_SECRET}
    status, form = token_request(http, fake, in_form)
    assert status == 200
    assert isinstance(form["access_token"], str)
    wrong = {**in_form, "client_secret": "not-the-secret"}
    assert token_request(http, fake, wrong)[0] == 401
    assert token_request(http, fake, grant)[0] == 401


def test_a_rotating_tenant_revokes_the_refresh_token_it_replaced(
    http: urllib3.PoolManager,
) -> None:
    with FakeWorkday(
        client_secret=CLIENT_SECRET,
        refresh_token=REFRESH_TOKEN,
        rotate_refresh_tokens=True,
        send_expires_in=False,
    ) as fake:
        client = (fake.client_id, CLIENT_SECRET)
        grant = {"grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN}
        status, answer = token_request(http, fake, grant, basic=client)
        assert status == 200
        assert "expires_in" not in answer
        assert answer["refresh_token"] == fake.refresh_token != REFRESH_TOKEN
        assert token_request(http, fake, grant, basic=client) == (
            400,
            {"error": "invalid_grant", "error_description": "Invalid refresh token"},
        )
