"""`PayloadReader`: every problem of an ATS's JSON at once, each with its path, one mistake
reported once, and only `PayloadError` whatever the JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assessio_connect import PayloadError
from assessio_connect.kit import PayloadReader, email_problem, json_type

EVENT = {
    "application_id": "app-1",
    "job": {"id": "job-7", "title": "Backend Engineer", "hiring_team": ["lead@acme.example"]},
    "candidate": {"id": "cand-1", "email": "ada@example.com"},
}


def read_event(data: Any) -> dict[str, Any]:
    """What a connector reads from `data`, or PayloadError."""
    read = PayloadReader("test event")
    event = read.root(data)
    job = read.table(event, "job", "$")
    candidate = read.table(event, "candidate", "$")
    found = {
        "application_id": read.text(event, "application_id", "$"),
        "title": read.text(job, "title", "$.job"),
        "department": read.optional_text(job, "department", "$.job"),
        "team": read.emails(job, "hiring_team", "$.job"),
        "email": read.email(candidate, "email", "$.candidate"),
    }
    read.check()
    return found


def problems_of(data: Any) -> list[str]:
    with pytest.raises(PayloadError) as caught:
        read_event(data)
    assert str(caught.value).startswith("invalid test event: ")
    return list(caught.value.problems)


def test_a_valid_event_is_read() -> None:
    assert read_event(EVENT) == {
        "application_id": "app-1",
        "title": "Backend Engineer",
        "department": None,
        "team": ("lead@acme.example",),
        "email": "ada@example.com",
    }


def test_every_problem_is_listed_with_its_path() -> None:
    data = {
        "application_id": "  ",
        "job": {"id": "job-7", "title": 7, "department": ["Sales"], "hiring_team": ["x", "a@b.io"]},
        "candidate": {"id": "cand-1"},
    }
    assert problems_of(data) == [
        "must not be empty @ $.application_id",
        "expected a string, got number @ $.job.title",
        "expected a string, got array @ $.job.department",
        "not a valid email address: 'x' @ $.job.hiring_team[0]",
        "required field missing @ $.candidate.email",
    ]


def test_a_missing_object_is_one_problem_not_one_per_field() -> None:
    assert problems_of({"application_id": "app-1", "job": "Backend"}) == [
        "expected an object, got string @ $.job",
        "required field missing @ $.candidate",
    ]
    assert problems_of([EVENT]) == ["expected an object, got array @ $"]


@pytest.mark.parametrize(
    ("team", "problem"),
    [
        ("lead@acme.example", "expected an array, got string @ $.job.hiring_team"),
        ([7], "expected a string, got number @ $.job.hiring_team[0]"),
        (["lead\ud800@acme.example"], "unpaired surrogate"),
    ],
)
def test_a_hiring_team_must_be_an_array_of_addresses(team: Any, problem: str) -> None:
    job = {**EVENT["job"], "hiring_team": team}  # type: ignore[dict-item]
    [found] = problems_of({**EVENT, "job": job})
    assert problem in found


def test_absent_and_null_optional_fields_read_as_nothing() -> None:
    job = {"id": "job-7", "title": "Backend Engineer", "department": None, "hiring_team": None}
    read = read_event({**EVENT, "job": job})
    assert (read["department"], read["team"]) == (None, ())


def test_a_problem_of_the_callers_own_rules_joins_the_others() -> None:
    read = PayloadReader("test event")
    read.problem("must be a weekday", "$.start")
    assert "1 problem" in repr(read)
    with pytest.raises(PayloadError, match=r"invalid test event: must be a weekday @ \$\.start"):
        read.check()


def test_email_problem_is_the_order_models_rule() -> None:
    assert email_problem("ada@example.com") is None
    assert email_problem("ada@example") is not None
    assert email_problem(7) is not None


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (None, "null"),
        (True, "boolean"),
        (1, "number"),
        (1.5, "number"),
        ("x", "string"),
        ([1], "array"),
        ({"a": 1}, "object"),
    ],
)
def test_json_type_names_types_as_json_does(value: Any, name: str) -> None:
    assert json_type(value) == name


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    data=json_values,
    key=st.sampled_from(["", "job", "candidate", "application_id", "title", "hiring_team"]),
)
def test_any_json_is_read_or_refused_with_paths_only(data: Any, key: str) -> None:
    """Whatever the ATS sends, the reader answers values or a PayloadError whose problems each
    name a path, never another exception."""
    document: Any = data
    if key in ("job", "candidate", "application_id"):
        document = {**EVENT, key: data}
    elif key:
        document = {**EVENT, "job": {**EVENT["job"], key: data}}  # type: ignore[dict-item]
    document = json.loads(json.dumps(document))
    try:
        found = read_event(document)
    except PayloadError as exc:
        problems = exc.problems
    else:
        assert isinstance(document, Mapping)
        assert found["title"].strip()
        assert email_problem(found["email"]) is None
        return
    assert problems
    assert all(" @ $" in problem for problem in problems)
