"""The Workday connector's pure parts: its configuration, the report's rows and moments, the
cursor's paging (exactly once, whatever the timing of late rows), and the SOAP envelope."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import xmlschema
from hypothesis import given, settings
from hypothesis import strategies as st

from assessio_connect import ConfigError, PayloadError, Secret, load_config
from assessio_connect_workday import WorkdayConfig
from assessio_connect_workday._report import (
    MICROS,
    Cursor,
    decode_cursor,
    encode_cursor,
    format_moment,
    next_page,
    parse_moment,
    parse_row,
)
from assessio_connect_workday._soap import (
    SOAP_ENV,
    WD,
    Assessment,
    AssessmentTestResult,
    ReferenceIdTypes,
    assess_candidate_envelope,
    format_score,
    parse_answer,
    parse_xml,
    xml_text,
)

FIXTURES = Path(__file__).parent / "fixtures"
ID_TYPES = ReferenceIdTypes(status="Recruiting_Assessment_Status_ID", test="T_ID")


def published_schema() -> xmlschema.XMLSchema:
    """The schema fragment the fake validates with, read here on its own."""
    source = resources.files("assessio_connect_workday") / "_fake_schema" / "assess_candidate.xsd"
    with resources.as_file(source) as path:
        return xmlschema.XMLSchema(str(path))


SCHEMA = published_schema()

SECRET = Secret("env:S", "s3cret-value-123")
BASE = {
    "tenant": "acme_impl",
    "report": "ISU_Assessio/Assessio_Candidates",
    "status_completed": "ASSESSIO_COMPLETED",
    "host": "wd2-impl-services1.workday.com",
    "client_id": "client-1",
    "client_secret": SECRET,
    "refresh_token": SECRET,
}


def config(**changes: Any) -> WorkdayConfig:
    values = {**BASE, **changes}
    return WorkdayConfig(**{k: v for k, v in values.items() if v is not None})


# -- configuration --------------------------------------------------------------------------


def test_config_derives_the_workday_urls() -> None:
    oauth = config()
    assert oauth.report_url == (
        "https://wd2-impl-services1.workday.com/ccx/service/customreport2/acme_impl/"
        "ISU_Assessio/Assessio_Candidates"
    )
    assert oauth.recruiting_url == (
        "https://wd2-impl-services1.workday.com/ccx/service/acme_impl/Recruiting/v42.2"
    )
    token_url = "https://wd2-impl-services1.workday.com/ccx/oauth2/acme_impl/token"
    assert oauth.oauth_token_url == token_url
    assert oauth.test_status_id == "ASSESSIO_COMPLETED"
    assert "s3cret-value-123" not in repr(oauth)
    isu = config(
        auth="isu",
        client_id=None,
        client_secret=None,
        refresh_token=None,
        username="ISU_Assessio",
        password=SECRET,
        host=None,
        base_url="http://127.0.0.1:9/",
    )
    assert isu.isu_username == "ISU_Assessio@acme_impl"
    assert config(auth="isu", username="me@other", password=SECRET).isu_username == "me@other"
    assert isu.report_url.startswith("http://127.0.0.1:9/ccx/service/customreport2/")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"host": None}, "set host"),
        ({"base_url": "https://x.example"}, "set host"),
        ({"host": None, "base_url": "ftp://x.example"}, "http:// or https://"),
        ({"host": None, "base_url": "https://u:p@x.example"}, "must not contain credentials"),
        ({"report": "NoOwner"}, 'report must be "Owner/Report_Name"'),
        ({"tenant": "a b"}, "tenant must be the Workday tenant name"),
        ({"refresh_token": None}, 'auth = "oauth" needs refresh_token'),
        ({"auth": "isu"}, 'auth = "isu" needs username, password'),
        ({"auth": "saml"}, 'auth must be "oauth" or "isu"'),
        ({"page_size": 0}, "page_size must be from 1 to 1000"),
        ({"look_back": -1.0}, "look_back must be a number of seconds from 0"),
        ({"look_back": 90000.0}, "at most 86400 seconds"),
        ({"poll_interval": 0.0}, "poll_interval must be a positive"),
        ({"recruiting_version": "42"}, 'recruiting_version must look like "v42.2"'),
        ({"status_completed": "has space"}, "status_completed must be a Workday Reference ID"),
        ({"tests": {"General": "bad id"}}, "tests['General'] must be the Reference ID"),
        ({"comment_template": "{score.__class__}"}, "may only use plain placeholders"),
        ({"comment_template": "{nope}"}, "found {nope}"),
        ({"comment_template": "{score"}, "not a valid template"),
        ({"status_id_type": "has space"}, "status_id_type must be the name of a Workday"),
        ({"test_id_type": ""}, "test_id_type must be the name of a Workday reference ID type"),
    ],
)
def test_config_problems_are_actionable(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as caught:
        config(**changes)
    assert "s3cret-value-123" not in str(caught.value)


def test_config_is_read_from_the_tenant_ats_table(tmp_path: Path) -> None:
    text = """
[tenants.acme]
base_url = "http://127.0.0.1:9"
provider_key = { env = "PK" }
[tenants.acme.webhook]
api_keys = [{ env = "RK" }]
[tenants.acme.ats]
kind = "workday"
host = "wd5-services1.myworkday.com"
tenant = "acme"
report = "ISU_Assessio/Assessio_Candidates"
client_id = "abc"
client_secret = { env = "WD_SECRET" }
refresh_token = { env = "WD_REFRESH" }
status_completed = "ASSESSIO_COMPLETED"
look_back = 120
page_size = 50
[tenants.acme.ats.tests]
"General Performance" = "ASSESSIO_GP"
"3f0c1c64-f3ad-4c4f-b1e0-5f83ddc68237" = "ASSESSIO_LEADERSHIP"
"""
    values = {"PK": "pk-1234", "RK": "rk-1234", "WD_SECRET": "wd-secret", "WD_REFRESH": "wd-rt"}

    def parse(source: str) -> Any:
        path = tmp_path / "test.toml"
        path.write_text(source)
        return load_config(
            path,
            connector_config=lambda kind: WorkdayConfig if kind == "workday" else None,
            resolve_secret=lambda scheme, name: values.get(name),
            known_kinds=["workday"],
        )

    ats = parse(text).tenants["acme"].ats
    assert isinstance(ats, WorkdayConfig)
    assert (ats.look_back, ats.page_size) == (120.0, 50)
    assert ats.tests == {
        "General Performance": "ASSESSIO_GP",
        "3f0c1c64-f3ad-4c4f-b1e0-5f83ddc68237": "ASSESSIO_LEADERSHIP",
    }
    assert ats.refresh_token is not None
    assert ats.refresh_token.reveal() == "wd-rt"
    with pytest.raises(ConfigError) as caught:
        parse(text.replace("page_size = 50", "page_size = 0\nlookback = 1"))
    problems = "\n".join(caught.value.problems)
    assert "'lookback'" in problems
    with pytest.raises(ConfigError, match=r"refresh_token.*@ \$\.tenants\.acme\.ats"):
        parse(text.replace('refresh_token = { env = "WD_REFRESH" }', ""))


# -- moments and rows -----------------------------------------------------------------------

moments = st.integers(min_value=0, max_value=253_402_300_799 * MICROS)


@given(micros=moments)
def test_format_and_parse_moment_round_trip(micros: int) -> None:
    assert parse_moment(format_moment(micros)) == micros


@given(
    when=st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(9998, 12, 31), timezones=st.none()
    ),
    offset=st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_parse_moment_honours_the_offset(when: datetime, offset: int) -> None:
    zone = timezone(timedelta(minutes=offset))
    local = when.replace(tzinfo=zone)
    text = local.isoformat(timespec="milliseconds")
    delta = local - datetime(1970, 1, 1, tzinfo=timezone.utc)
    expected = (delta.days * 86400 + delta.seconds) * MICROS + delta.microseconds
    assert parse_moment(text) == expected - expected % 1000
    assert parse_moment(text.replace("+00:00", "Z")) == parse_moment(text)


@pytest.mark.parametrize(
    "text", ["2024-05-01T10:15:30", "2024-05-01", "yesterday", "2024-05-01T10:15:30+24:00"]
)
def test_moments_without_a_usable_offset_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=text[:10]):
        parse_moment(text)


ROW = {
    "Job_Application_ID": "JOB_APPLICATION-1",
    "Candidate_ID": "C-1",
    "Candidate_Email": "ada@example.com",
    "Job_Requisition_ID": {"ID": "JOB_REQUISITION-1", "Descriptor": "R-1 Engineer"},
    "Job_Requisition_Title": "Engineer",
    "Updated_Moment": "2024-05-01T10:15:30.123-07:00",
    "Assessment_Tests": "A_TEST; B_TEST",
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=12,
)


def test_a_row_is_read_with_references_and_tests_in_any_form() -> None:
    row = parse_row(ROW)
    assert row.requisition_id == "JOB_REQUISITION-1"
    assert row.tests == ("A_TEST", "B_TEST")
    assert row.updated == parse_moment("2024-05-01T17:15:30.123Z")
    listed = parse_row({**ROW, "Assessment_Tests": [{"Assessment_Test_ID": "A"}, "B"]})
    assert listed.tests == ("A", "B")


@settings(max_examples=75, deadline=None)
@given(
    key=st.sampled_from([*sorted(ROW), "Assessment_Status_ID", "Candidate_First_Name"]),
    value=json_values,
)
def test_parse_row_raises_only_payload_errors_with_paths(key: str, value: Any) -> None:
    for data in ({**ROW, key: value}, value):
        problems = _row_problems(data)
        if problems is not None:
            assert problems
            assert all("@ $.Report_Entry[3]" in problem for problem in problems)


def _row_problems(data: Any) -> tuple[str, ...] | None:
    try:
        parse_row(data, 3)
    except PayloadError as exc:
        return exc.problems
    return None


# -- paging: every row exactly once ---------------------------------------------------------

LOOK_BACK = 60 * MICROS
START = 1_700_000_000 * MICROS


@st.composite
def timelines(draw: st.DrawFn) -> tuple[list[tuple[str, int, int]], list[int], int]:
    """Rows (id, moment, visible from) committed up to LOOK_BACK late, and poll times."""
    count = draw(st.integers(min_value=0, max_value=25))
    rows = []
    for n in range(count):
        moment = START + draw(st.integers(min_value=0, max_value=600)) * MICROS
        late = draw(st.integers(min_value=0, max_value=LOOK_BACK // MICROS)) * MICROS
        rows.append((f"app-{n}", moment, moment + late))
    polls = sorted(
        draw(
            st.lists(
                st.integers(min_value=0, max_value=800).map(lambda s: START + s * MICROS),
                max_size=12,
            )
        )
    )
    page_size = draw(st.integers(min_value=1, max_value=5))
    return rows, polls, page_size


@settings(max_examples=100, deadline=None)
@given(timeline=timelines())
def test_each_row_is_taken_exactly_once_whatever_the_timing(
    timeline: tuple[list[tuple[str, int, int]], list[int], int],
) -> None:
    rows, polls, page_size = timeline
    end = max([START + 900 * MICROS, *(visible for _, _, visible in rows)])
    saved: str | None = None
    taken: list[str] = []
    for now in [*polls, end]:
        for _ in range(len(rows) + 2):  # paging must end: each page takes something new
            cursor = decode_cursor(saved) if saved is not None else Cursor()  # a restart each page
            start = cursor.request_from(now=now, look_back=LOOK_BACK, initial_look_back=10**12)
            answer = [(key, moment) for key, moment, visible in rows if visible <= now]
            # A report ignores nothing here, but the connector must cope if it did.
            page, after, more = next_page(
                cursor, answer, request_from=start, page_size=page_size, look_back=LOOK_BACK
            )
            taken.extend(key for key, _ in page)
            if after.mark is not None:
                saved = encode_cursor(after)
            if not more:
                break
        else:
            raise AssertionError("paging never ended")
    assert sorted(taken) == sorted(key for key, _, _ in rows)


def test_next_page_keeps_only_the_window_in_the_cursor() -> None:
    rows = [(f"a{n}", START + n * MICROS) for n in range(200)]
    page, after, more = next_page(
        Cursor(), rows, request_from=0, page_size=200, look_back=10 * MICROS
    )
    assert len(page) == 200
    assert not more
    assert sorted(after.seen) == sorted(f"a{n}" for n in range(189, 200))
    assert len(encode_cursor(after)) < 1000


def test_a_cursor_that_is_not_ours_is_refused() -> None:
    for text in ("", "[]", '{"v": 2}', '{"v": 1, "seen": {"a": 5}}', '{"v": 1, "mark": 5}'):
        with pytest.raises(ValueError, match="cursor"):
            decode_cursor(text)


# -- the SOAP envelope ----------------------------------------------------------------------


def _request(envelope: bytes) -> Any:
    root = parse_xml(envelope)
    return root.find(f"{{{SOAP_ENV}}}Body/{{{WD}}}Assess_Candidate_Request")


@settings(max_examples=100, deadline=None)
@given(
    comment=st.text(),
    application=st.text(min_size=1),
    score=st.one_of(st.none(), st.decimals(allow_nan=False, allow_infinity=False, places=3)),
    url=st.one_of(st.none(), st.text(min_size=1)),
    day=st.dates(min_value=date(1900, 1, 1)),
)
def test_any_assessment_makes_an_envelope_valid_per_the_published_schema(
    comment: str, application: str, score: Decimal | None, url: str | None, day: date
) -> None:
    envelope = assess_candidate_envelope(
        Assessment(
            application_id=application,
            status_id="DONE",
            assessed_on=day,
            comment=comment,
            tests=(
                AssessmentTestResult(
                    test_id="T", status_id="DONE", score=score, tested_on=day, results_url=url
                ),
            ),
        ),
        version="v42.2",
        id_types=ID_TYPES,
        username_token=("user@acme", comment or "pw"),
    )
    request = _request(envelope)
    SCHEMA.validate(request)  # elements, order, required ones, xsd:date and xsd:decimal
    assert request.findtext(f".//{{{WD}}}Overall_Assessment_Comment", "") == xml_text(comment)
    assert request.findtext(f".//{{{WD}}}Job_Application_Reference/{{{WD}}}ID") == xml_text(
        application
    )
    assert request.findtext(f".//{{{WD}}}Assessed_On_Date") == day.isoformat()
    if score is not None:
        assert Decimal(request.findtext(f".//{{{WD}}}Assessment_Test_Score")) == score
    written_url = request.findtext(f".//{{{WD}}}Assessment_Test_Results_URL")
    assert written_url == (xml_text(url) if url else None)
    assert parse_answer(envelope).operation == "Assess_Candidate_Request"


def test_the_envelope_follows_the_schemas_order_with_the_tenants_id_types() -> None:
    envelope = assess_candidate_envelope(
        Assessment(
            application_id="JOB_APPLICATION-6-248",
            status_id="DONE",
            assessed_on=date(2026, 12, 6),
            comment="Overall",
            tests=(
                AssessmentTestResult(
                    test_id="RECRUITING_ASSESSMENT_TEST-6-111",
                    status_id="DONE",
                    score=Decimal("71.50"),
                    tested_on=date(2026, 12, 5),
                    results_url="https://assessio.example/r/1",
                ),
            ),
        ),
        version="v42.2",
        id_types=ReferenceIdTypes(status="Status_Type", test="Test_Type"),
    )
    request = _request(envelope)
    data = request.find(f"{{{WD}}}Assess_Candidate_Data")
    candidate = data.find(f"{{{WD}}}Candidate_Assessment_Data")
    result = candidate.find(f"{{{WD}}}Assess_Candidate_Test_Result_Data")

    def names(element: Any) -> list[str]:
        return [child.tag.rpartition("}")[2] for child in element]

    assert names(data) == ["Job_Application_Reference", "Candidate_Assessment_Data"]
    assert names(candidate) == [
        "Assessed_On_Date",
        "Assessment_Status_Reference",
        "Overall_Assessment_Comment",
        "Assess_Candidate_Test_Result_Data",
    ]
    assert names(result) == [
        "Assessment_Test_Reference",
        "Assessment_Test_Score",
        "Assessment_Test_Status_Reference",
        "Assessment_Test_Date",
        "Assessment_Test_Results_URL",
    ]
    types = [identifier.get(f"{{{WD}}}type") for identifier in request.iter(f"{{{WD}}}ID")]
    assert types == ["Job_Application_ID", "Status_Type", "Test_Type", "Status_Type"]
    assert candidate.findtext(f"{{{WD}}}Assessed_On_Date") == "2026-12-06"
    assert result.findtext(f"{{{WD}}}Assessment_Test_Score") == "71.5"
    SCHEMA.validate(request)


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_format_score_is_always_an_xsd_decimal_of_the_same_value(score: Decimal) -> None:
    text = format_score(score)
    assert re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", text)
    assert Decimal(text) == score


def test_workdays_recorded_validation_fault_is_read_with_every_message() -> None:
    # Verbatim: a fault recorded from a Workday tenant in a Workday Studio project's test data,
    # thomasnicholasgyg/INT0025_CheckWorkRights_VisaCheck_Inbound,
    # ws/test/ssk/ssk103/SSK103_SOAPFAULT_Launch_Integration_Event_Response.xml
    fault = parse_answer((FIXTURES / "workday_validation_fault.xml").read_bytes()).fault
    assert fault is not None
    assert fault.code == "Client.validationError"
    assert fault.is_client
    assert not fault.is_authentication
    assert len(fault.messages) == 8
    assert fault.messages[0] == (
        "Invalid ID value. 'A Text Parameter' is not a valid ID value for type = "
        "'Launch_Parameter_Name' (at /bsvc:Launch_Integration_Event_Request[1]/"
        "bsvc:Integration_Launch_Parameter_Data[3]/bsvc:Launch_Parameter_Reference[1])"
    )
    described = fault.describe()
    assert described.startswith("Validation error occurred. Invalid ID value.")
    assert "'SSKEnumType' is not a valid value for attribute parent_id" in described


def test_a_workday_fault_is_read_with_its_validation_messages() -> None:
    body = b"""<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:wd="urn:com.workday/bsvc"><SOAP-ENV:Body><SOAP-ENV:Fault>
<faultcode>SOAP-ENV:Client.validationError</faultcode>
<faultstring>Validation error occurred. Invalid ID value.</faultstring>
<detail><wd:Validation_Fault><wd:Validation_Error>
<wd:Message>Invalid ID value. 'X' is not a valid ID value</wd:Message>
<wd:Xpath>/wd:Assess_Candidate_Request[1]</wd:Xpath>
</wd:Validation_Error></wd:Validation_Fault></detail>
</SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>"""
    fault = parse_answer(body).fault
    assert fault is not None
    assert fault.code == "Client.validationError"
    assert fault.is_client
    assert not fault.is_server
    assert not fault.is_authentication
    assert fault.describe() == (
        "Validation error occurred. Invalid ID value.; Invalid ID value. 'X' is not a valid ID "
        "value (at /wd:Assess_Candidate_Request[1])"
    )
