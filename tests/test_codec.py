"""Tests for `assessio_connect.codec` and the models: camelCase wire names, strict types, every
problem reported at once with its wire path, and nothing but `PayloadError` for bad input."""

from __future__ import annotations

import json
import string
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assessio_connect import codec
from assessio_connect.contract.errors import PayloadError
from assessio_connect.contract.models import (
    AssessioConfig,
    AssessmentLink,
    AssessmentOrder,
    CandidateDetails,
    Lens,
    Recruitment,
    Result,
)

# The contract's examples, verbatim.
CONTRACT_CONFIG = b"""{
  "availableLenses": [{"id": "7922dd91-1b44-43e4-a740-7c4d9c2fba41", "name": "General Performance"}],
  "availableLocales": ["en-US", "sv-SE", "nl-NL", "nn-NO"]
}"""  # noqa: E501

CONTRACT_ORDER = b"""{
  "recruitment": {"id": "82bd4452-bd16-4227-bce9-f1812a9db6ef", "title": "Developer", "description": "string"},
  "additionalRecruitmentCollaboratorsEmails": ["recruiter@assessio.com"],
  "resultUpdateUrl": "https://www.integrator.com/api/v1/candidate-results/73273ca0-0253-4d5f-8f91-d39e298bd351",
  "resultId": "73273ca0-0253-4d5f-8f91-d39e298bd351",
  "lensId": "7922dd91-1b44-43e4-a740-7c4d9c2fba41",
  "locale": "sv-SE",
  "candidateDetails": {"email": "candidate@example.com"}
}"""  # noqa: E501

CONTRACT_RESULT = b"""{
  "resultId": "6ef46985-9ca2-4c65-a184-47fa0d332246",
  "score": 71,
  "subscores": {"Driving Leadership": 73, "Influencing & Inspiring": 68}
}"""

ORDER = AssessmentOrder(
    recruitment=Recruitment(id="r-1", title="Utvecklare", description="Backend, Göteborg"),
    result_update_url="https://ats.example/results/abc",
    result_id="abc",
    lens_id="lens-1",
    locale="sv-SE",
    candidate_details=CandidateDetails(email="asa.oberg@example.se"),
    additional_recruitment_collaborators_emails=("bjorn@example.se", "rekryterare@example.com"),
)

RESULT = Result(
    result_id="res-1",
    score=71,
    subscores={"Driving Leadership": 73, "Influencing & Inspiring": 68},
    recruitment_url="https://platform.example/recruitments/1",
    assessment_report_url="https://platform.example/reports/1",
)


def wire(obj: Any) -> Any:
    """What `dumps` puts on the wire, parsed back with the standard library."""
    return json.loads(codec.dumps(obj))


def problems_of(body: bytes, cls: type[Any]) -> tuple[str, ...]:
    with pytest.raises(PayloadError) as info:
        codec.loads(body, cls)
    problems = info.value.problems
    assert isinstance(problems, tuple)
    assert problems
    for problem in problems:
        assert isinstance(problem, str)
        assert " @ $" in problem
    return problems


def paths_of(body: bytes, cls: type[Any]) -> list[str]:
    return [problem.rpartition(" @ ")[2] for problem in problems_of(body, cls)]


def order_dict(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(CONTRACT_ORDER)
    data.update(changes)
    return data


def encode(data: Any) -> bytes:
    return json.dumps(data).encode("utf-8")


# --- wire names and round trips ---------------------------------------------------------------


def test_lens_round_trip() -> None:
    lens = Lens(id="7922dd91", name="General Performance")
    assert wire(lens) == {"id": "7922dd91", "name": "General Performance"}
    assert codec.loads(codec.dumps(lens), Lens) == lens


def test_config_round_trip_and_wire_names() -> None:
    config = AssessioConfig(
        available_lenses=(Lens(id="l1", name="General Performance"), Lens(id="l2", name="Säljare")),
        available_locales=("en-US", "sv-SE"),
    )
    assert wire(config) == {
        "availableLenses": [
            {"id": "l1", "name": "General Performance"},
            {"id": "l2", "name": "Säljare"},
        ],
        "availableLocales": ["en-US", "sv-SE"],
    }
    assert codec.loads(codec.dumps(config), AssessioConfig) == config


def test_recruitment_round_trip() -> None:
    recruitment = Recruitment(id="r", title="t", description="d")
    assert wire(recruitment) == {"id": "r", "title": "t", "description": "d"}
    assert codec.loads(codec.dumps(recruitment), Recruitment) == recruitment
    # description may be left out.
    assert codec.loads(b'{"id":"r","title":"t"}', Recruitment) == Recruitment(id="r", title="t")


def test_candidate_details_round_trip() -> None:
    details = CandidateDetails(email="candidate@example.com")
    assert wire(details) == {"email": "candidate@example.com"}
    assert codec.loads(codec.dumps(details), CandidateDetails) == details


def test_order_round_trip_and_wire_names() -> None:
    assert wire(ORDER) == {
        "recruitment": {"id": "r-1", "title": "Utvecklare", "description": "Backend, Göteborg"},
        "additionalRecruitmentCollaboratorsEmails": [
            "bjorn@example.se",
            "rekryterare@example.com",
        ],
        "resultUpdateUrl": "https://ats.example/results/abc",
        "resultId": "abc",
        "lensId": "lens-1",
        "locale": "sv-SE",
        "candidateDetails": {"email": "asa.oberg@example.se"},
    }
    assert codec.loads(codec.dumps(ORDER), AssessmentOrder) == ORDER


def test_assessment_link_round_trip() -> None:
    link = AssessmentLink(assessment_package_link="https://assess.example/p/1")
    assert wire(link) == {"assessmentPackageLink": "https://assess.example/p/1"}
    assert codec.loads(codec.dumps(link), AssessmentLink) == link


def test_result_round_trip_and_wire_names() -> None:
    assert wire(RESULT) == {
        "resultId": "res-1",
        "score": 71,
        "subscores": {"Driving Leadership": 73, "Influencing & Inspiring": 68},
        "recruitmentUrl": "https://platform.example/recruitments/1",
        "assessmentReportUrl": "https://platform.example/reports/1",
    }
    assert codec.loads(codec.dumps(RESULT), Result) == RESULT


def test_unstructure_omits_none_optionals_of_result() -> None:
    result = Result(result_id="x", score=None)
    data = codec.unstructure(result)
    assert "recruitmentUrl" not in data
    assert "assessmentReportUrl" not in data
    assert "score" not in data
    assert data["resultId"] == "x"
    assert set(wire(result)) <= {"resultId", "subscores"}
    assert codec.loads(codec.dumps(result), Result) == result
    # Negative twin: present values are emitted.
    present = codec.unstructure(Result(result_id="x", score=0, recruitment_url="u"))
    assert present["recruitmentUrl"] == "u"
    assert present["score"] == 0


def test_contract_config_example_parses() -> None:
    config = codec.loads(CONTRACT_CONFIG, AssessioConfig)
    assert config.available_lenses == (
        Lens(id="7922dd91-1b44-43e4-a740-7c4d9c2fba41", name="General Performance"),
    )
    assert config.available_locales == ("en-US", "sv-SE", "nl-NL", "nn-NO")
    assert wire(config) == json.loads(CONTRACT_CONFIG)


def test_contract_order_example_parses() -> None:
    order = codec.loads(CONTRACT_ORDER, AssessmentOrder)
    assert order == AssessmentOrder(
        recruitment=Recruitment(
            id="82bd4452-bd16-4227-bce9-f1812a9db6ef", title="Developer", description="string"
        ),
        result_update_url=(
            "https://www.integrator.com/api/v1/candidate-results/"
            "73273ca0-0253-4d5f-8f91-d39e298bd351"
        ),
        result_id="73273ca0-0253-4d5f-8f91-d39e298bd351",
        lens_id="7922dd91-1b44-43e4-a740-7c4d9c2fba41",
        locale="sv-SE",
        candidate_details=CandidateDetails(email="candidate@example.com"),
        additional_recruitment_collaborators_emails=("recruiter@assessio.com",),
    )
    assert wire(order) == json.loads(CONTRACT_ORDER)


def test_contract_result_example_parses() -> None:
    result = codec.loads(CONTRACT_RESULT, Result)
    assert result == Result(
        result_id="6ef46985-9ca2-4c65-a184-47fa0d332246",
        score=71,
        subscores={"Driving Leadership": 73, "Influencing & Inspiring": 68},
    )
    assert wire(result) == json.loads(CONTRACT_RESULT)


# --- every problem at once, with wire paths ---------------------------------------------------


def test_order_lists_every_problem_with_wire_paths() -> None:
    data = order_dict(
        candidateDetails={"email": "not-an-email"},
        additionalRecruitmentCollaboratorsEmails=["nope", "ok@example.com"],
        recruitment={"id": "r", "description": "d"},
    )
    del data["resultUpdateUrl"]
    problems = problems_of(encode(data), AssessmentOrder)
    found = {problem.rpartition(" @ ")[2]: problem for problem in problems}
    assert set(found) == {
        "$.candidateDetails.email",
        "$.additionalRecruitmentCollaboratorsEmails[0]",
        "$.recruitment.title",
        "$.resultUpdateUrl",
    }
    assert len(problems) == 4
    assert "missing" in found["$.recruitment.title"]
    assert "missing" in found["$.resultUpdateUrl"]
    assert "not-an-email" in found["$.candidateDetails.email"]
    # The PayloadError message names the model and carries every problem.
    with pytest.raises(PayloadError, match="AssessmentOrder") as info:
        codec.loads(encode(data), AssessmentOrder)
    for problem in problems:
        assert problem in str(info.value)


def test_result_missing_result_id() -> None:
    assert problems_of(b'{"score": 5}', Result) == ("required field missing @ $.resultId",)


def test_nested_object_of_wrong_type_reports_its_path() -> None:
    data = order_dict(recruitment="r-1", candidateDetails=["x@example.com"])
    found = paths_of(encode(data), AssessmentOrder)
    assert any(p.startswith("$.recruitment") for p in found)
    assert any(p.startswith("$.candidateDetails") for p in found)


# --- strict types -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "score",
    ['"71"', "true", "false", "71.5", "71.0", "101", "-1", "[71]", '{"v": 71}'],
)
def test_bad_score_is_a_problem_at_its_path(score: str) -> None:
    body = f'{{"resultId": "x", "score": {score}}}'.encode()
    assert paths_of(body, Result) == ["$.score"]


@pytest.mark.parametrize("score", ["0", "100", "71", "null"])
def test_good_score_accepted(score: str) -> None:
    body = f'{{"resultId": "x", "score": {score}}}'.encode()
    expected = None if score == "null" else int(score)
    assert codec.loads(body, Result).score == expected


def test_score_absent_is_none() -> None:
    assert codec.loads(b'{"resultId": "x"}', Result) == Result(result_id="x")


def test_subscores_out_of_range_and_wrong_types() -> None:
    body = encode(
        {
            "resultId": "x",
            "subscores": {"ok": 50, "high": 101, "low": -1, "text": "7", "flag": True, "f": 1.5},
        }
    )
    found = paths_of(body, Result)
    assert sorted(found) == sorted(
        [
            "$.subscores['high']",
            "$.subscores['low']",
            "$.subscores['text']",
            "$.subscores['flag']",
            "$.subscores['f']",
        ]
    )


@pytest.mark.parametrize("subscores", ["[]", '"ab"', "7", "null"])
def test_subscores_not_an_object(subscores: str) -> None:
    body = f'{{"resultId": "x", "subscores": {subscores}}}'.encode()
    assert paths_of(body, Result) == ["$.subscores"]


def test_number_where_string_expected() -> None:
    problems = problems_of(
        encode(order_dict(lensId=7, locale=True, resultId=None)), AssessmentOrder
    )
    found = {problem.rpartition(" @ ")[2]: problem for problem in problems}
    assert set(found) == {"$.lensId", "$.locale", "$.resultId"}
    assert "expected a string" in found["$.lensId"]


def test_number_where_string_expected_in_result() -> None:
    body = encode({"resultId": 6, "recruitmentUrl": 1, "assessmentReportUrl": False})
    assert sorted(paths_of(body, Result)) == [
        "$.assessmentReportUrl",
        "$.recruitmentUrl",
        "$.resultId",
    ]


def test_email_of_wrong_type() -> None:
    body = encode(
        order_dict(candidateDetails={"email": 5}, additionalRecruitmentCollaboratorsEmails=[None])
    )
    assert sorted(paths_of(body, AssessmentOrder)) == [
        "$.additionalRecruitmentCollaboratorsEmails[0]",
        "$.candidateDetails.email",
    ]


def test_lens_items_of_wrong_type() -> None:
    body = encode({"availableLenses": [{"id": 1, "name": "n"}], "availableLocales": ["sv-SE", 2]})
    assert sorted(paths_of(body, AssessioConfig)) == [
        "$.availableLenses[0].id",
        "$.availableLocales[1]",
    ]


@pytest.mark.parametrize(
    ("body", "cls", "path"),
    [
        (
            b'{"availableLenses": [], "availableLocales": "sv-SE"}',
            AssessioConfig,
            "$.availableLocales",
        ),
        (b'{"availableLenses": {}, "availableLocales": []}', AssessioConfig, "$.availableLenses"),
        (
            encode(order_dict(additionalRecruitmentCollaboratorsEmails="")),
            AssessmentOrder,
            "$.additionalRecruitmentCollaboratorsEmails",
        ),
        (
            encode(order_dict(additionalRecruitmentCollaboratorsEmails={})),
            AssessmentOrder,
            "$.additionalRecruitmentCollaboratorsEmails",
        ),
    ],
    ids=["locales-string", "lenses-object", "emails-empty-string", "emails-object"],
)
def test_array_field_rejects_non_array(body: bytes, cls: type[Any], path: str) -> None:
    assert paths_of(body, cls) == [path]


# --- not JSON, or not an object ---------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"   ", id="blank"),
        pytest.param(b"not json", id="not-json"),
        pytest.param(b'{"resultId": "x"', id="truncated"),
        pytest.param(b'{"resultId": "x"} trailing', id="trailing-data"),
        pytest.param(b'{"resultId": "\xff\xfe"}', id="invalid-utf8"),
        pytest.param(b"\xc3", id="truncated-utf8"),
        pytest.param(b'{"resultId": "x", "score": NaN}', id="nan"),
        pytest.param(b'{"resultId": "x", "score": Infinity}', id="infinity"),
        pytest.param(b'{"resultId": "x", "score": -Infinity}', id="minus-infinity"),
        pytest.param(b"NaN", id="bare-nan"),
        pytest.param(b'[{"resultId": "x"}]', id="top-level-array"),
        pytest.param(b'"x"', id="top-level-string"),
        pytest.param(b"null", id="top-level-null"),
        pytest.param(b"71", id="top-level-number"),
        pytest.param(b"[" * 100_000, id="deeply-nested"),
        pytest.param(b'{"resultId": "x", "score": ' + b"1" * 5000 + b"}", id="huge-int"),
    ],
)
@pytest.mark.parametrize("cls", [Result, AssessmentOrder, AssessioConfig])
def test_bad_bodies_raise_payload_error_only(body: bytes, cls: type[Any]) -> None:
    problems = problems_of(body, cls)
    assert all(p.endswith(" @ $") for p in problems)


def test_nan_is_rejected_even_inside_unknown_fields() -> None:
    problems_of(b'{"resultId": "x", "extra": NaN}', Result)
    assert codec.loads(b'{"resultId": "x", "extra": 1.5}', Result) == Result(result_id="x")


def test_structure_rejects_non_object() -> None:
    values: list[Any] = [[], "x", None, 1, True]
    for data in values:
        with pytest.raises(PayloadError) as info:
            codec.structure(data, Result)
        assert info.value.problems[0].endswith(" @ $")


# --- unknown fields ---------------------------------------------------------------------------


def test_unknown_fields_tolerated_at_every_level() -> None:
    data = order_dict(futureField={"nested": [1, 2]}, anotherOne=None)
    data["recruitment"]["department"] = "R&D"
    data["candidateDetails"]["phone"] = "+46 70 000 00 00"
    data["candidateDetails"]["firstName"] = "Åsa"
    assert codec.loads(encode(data), AssessmentOrder) == codec.loads(
        CONTRACT_ORDER, AssessmentOrder
    )

    config: dict[str, Any] = json.loads(CONTRACT_CONFIG)
    config["availableLenses"][0]["description"] = "new field"
    config["defaultLocale"] = "sv-SE"
    assert codec.loads(encode(config), AssessioConfig) == codec.loads(
        CONTRACT_CONFIG, AssessioConfig
    )

    result: dict[str, Any] = json.loads(CONTRACT_RESULT)
    result["percentile"] = 88
    result["candidate"] = {"email": "x@example.com"}
    assert codec.loads(encode(result), Result) == codec.loads(CONTRACT_RESULT, Result)

    link = {"assessmentPackageLink": "https://a.example/p", "expiresAt": "2030-01-01"}
    assert codec.loads(encode(link), AssessmentLink) == AssessmentLink("https://a.example/p")


def test_unknown_fields_do_not_hide_real_problems() -> None:
    data = order_dict(futureField=1, lensId=None)
    assert paths_of(encode(data), AssessmentOrder) == ["$.lensId"]


# --- non-ASCII --------------------------------------------------------------------------------


def test_non_ascii_survives_and_is_utf8_on_the_wire() -> None:
    result = Result(
        result_id="Åsa Öberg 🎉",
        subscores={"Björn's förmåga": 50, "👩🏽‍💻": 99},
        recruitment_url="https://exempel.se/rekrytering/ärende",
    )
    body = codec.dumps(result)
    assert isinstance(body, bytes)
    assert b"\\u" not in body
    assert "Åsa Öberg 🎉".encode() in body
    assert "👩🏽‍💻".encode() in body
    assert codec.loads(body, Result) == result

    body = codec.dumps(ORDER)
    assert b"\\u" not in body
    assert "Göteborg".encode() in body
    assert codec.loads(body, AssessmentOrder) == ORDER


def test_escaped_non_ascii_input_is_decoded() -> None:
    result = codec.loads(b'{"resultId": "\\u00c5sa \\ud83c\\udf89"}', Result)
    assert result.result_id == "Åsa 🎉"


def test_dumps_is_compact() -> None:
    assert codec.dumps(Lens(id="a", name="b")) == b'{"id":"a","name":"b"}'


def test_lone_surrogate_is_rejected_or_round_trips() -> None:
    try:
        result = codec.loads(b'{"resultId": "\\ud800"}', Result)
    except PayloadError:
        return
    assert codec.loads(codec.dumps(result), Result) == result


# --- models validate on construction ----------------------------------------------------------


def test_candidate_details_validates_email() -> None:
    with pytest.raises(ValueError, match="email"):
        CandidateDetails("not-an-email")
    for bad in ("a@b", "a b@example.com", "@example.com", "a@@example.com", ""):
        with pytest.raises(ValueError, match="email"):
            CandidateDetails(bad)
    assert CandidateDetails("a@example.com").email == "a@example.com"


def test_result_validates_scores() -> None:
    with pytest.raises(ValueError, match="score"):
        Result(result_id="x", score=101)
    with pytest.raises(ValueError, match="score"):
        Result(result_id="x", score=-1)
    with pytest.raises(ValueError, match="subscores"):
        Result(result_id="x", subscores={"a": 101})
    with pytest.raises(ValueError, match="score"):
        Result(result_id="x", score=True)
    assert Result(result_id="x", score=100).score == 100
    assert Result(result_id="x", score=0, subscores={"a": 0}).subscores == {"a": 0}


def test_order_validates_collaborator_emails() -> None:
    with pytest.raises(ValueError, match=r"\[1\]"):
        AssessmentOrder(
            recruitment=Recruitment(id="r", title="t"),
            result_update_url="https://x",
            result_id="x",
            lens_id="l",
            locale="sv-SE",
            candidate_details=CandidateDetails("a@example.com"),
            additional_recruitment_collaborators_emails=("ok@example.com", "bad"),
        )


# --- hypothesis: round trips ------------------------------------------------------------------

_SAFE_LOCAL = string.ascii_letters + string.digits + "._+-"
emails = st.builds(
    "{}@{}.{}".format,
    st.text(alphabet=_SAFE_LOCAL, min_size=1, max_size=20),
    st.text(alphabet=string.ascii_lowercase + string.digits + "-", min_size=1, max_size=15),
    st.text(alphabet=string.ascii_lowercase, min_size=2, max_size=6),
)
scores = st.integers(min_value=0, max_value=100)
texts = st.text(max_size=40)

orders = st.builds(
    AssessmentOrder,
    recruitment=st.builds(Recruitment, id=texts, title=texts, description=texts),
    result_update_url=texts,
    result_id=texts,
    lens_id=texts,
    locale=texts,
    candidate_details=st.builds(CandidateDetails, email=emails),
    additional_recruitment_collaborators_emails=st.lists(emails, max_size=4).map(tuple),
)

results = st.builds(
    Result,
    result_id=texts,
    score=st.none() | scores,
    subscores=st.dictionaries(texts, scores, max_size=5),
    recruitment_url=st.none() | texts,
    assessment_report_url=st.none() | texts,
)


@settings(max_examples=100, deadline=None)
@given(order=orders)
def test_property_order_round_trip(order: AssessmentOrder) -> None:
    body = codec.dumps(order)
    assert codec.loads(body, AssessmentOrder) == order
    assert set(json.loads(body)) == {
        "recruitment",
        "additionalRecruitmentCollaboratorsEmails",
        "resultUpdateUrl",
        "resultId",
        "lensId",
        "locale",
        "candidateDetails",
    }


@settings(max_examples=100, deadline=None)
@given(result=results)
def test_property_result_round_trip(result: Result) -> None:
    body = codec.dumps(result)
    assert codec.loads(body, Result) == result
    data = json.loads(body)
    assert data["resultId"] == result.result_id
    assert ("score" in data) == (result.score is not None)
    assert ("recruitmentUrl" in data) == (result.recruitment_url is not None)
    assert ("assessmentReportUrl" in data) == (result.assessment_report_url is not None)


# --- hypothesis: fuzzing ----------------------------------------------------------------------

json_scalars: st.SearchStrategy[Any] = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values: st.SearchStrategy[Any] = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)

_WIRE_KEYS = [
    "recruitment",
    "additionalRecruitmentCollaboratorsEmails",
    "resultUpdateUrl",
    "resultId",
    "lensId",
    "locale",
    "candidateDetails",
    "id",
    "title",
    "description",
    "email",
    "score",
    "subscores",
    "recruitmentUrl",
    "assessmentReportUrl",
    "availableLenses",
    "availableLocales",
    "name",
]

# Objects whose keys are mostly the contract's own names, so the fuzz reaches the nested models.
_shaped_keys = st.sampled_from(_WIRE_KEYS) | st.text(max_size=5)
_shaped_nested: st.SearchStrategy[Any] = st.recursive(
    json_scalars,
    lambda children: (
        st.dictionaries(_shaped_keys, children, max_size=4) | st.lists(children, max_size=3)
    ),
    max_leaves=10,
)
shaped_values = st.dictionaries(_shaped_keys, _shaped_nested, max_size=7)

FUZZ_MODELS: list[type[Any]] = [Result, AssessmentOrder, AssessioConfig]


def loads_or_payload_error(body: bytes) -> None:
    for cls in FUZZ_MODELS:
        problems: tuple[str, ...] | None = None
        try:
            obj = codec.loads(body, cls)
        except PayloadError as exc:
            problems = exc.problems
        if problems is None:
            assert isinstance(obj, cls)
        else:
            assert problems
            assert all(isinstance(p, str) and " @ $" in p for p in problems)


@settings(max_examples=150, deadline=None)
@given(value=json_values)
def test_fuzz_arbitrary_json(value: Any) -> None:
    loads_or_payload_error(json.dumps(value).encode("utf-8"))


@settings(max_examples=100, deadline=None)
@given(value=shaped_values)
def test_fuzz_contract_shaped_json(value: Any) -> None:
    loads_or_payload_error(json.dumps(value, ensure_ascii=False).encode("utf-8"))


@settings(max_examples=150, deadline=None)
@given(body=st.binary(max_size=200))
def test_fuzz_arbitrary_bytes(body: bytes) -> None:
    loads_or_payload_error(body)


@settings(max_examples=100, deadline=None)
@given(order=orders, key=st.sampled_from(_WIRE_KEYS[:7]), value=json_values)
def test_fuzz_one_field_replaced(order: AssessmentOrder, key: str, value: Any) -> None:
    data = codec.unstructure(order)
    data[key] = value
    loads_or_payload_error(json.dumps(data).encode("utf-8"))
