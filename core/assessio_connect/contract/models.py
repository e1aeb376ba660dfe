"""The wire objects of Assessio's Recruitment API v1 as frozen attrs classes.

Attribute names are snake_case; `assessio_connect.codec` maps them to the camelCase wire names.
Constraints that the contract states (email syntax, scores 0..100) are checked on construction
and, with the offending path, when JSON is structured.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

import attrs

__all__ = [
    "AssessioConfig",
    "AssessmentLink",
    "AssessmentOrder",
    "CandidateDetails",
    "Email",
    "EmailRule",
    "Lens",
    "Recruitment",
    "Result",
    "Score",
    "ScoreRule",
    "email_problem",
    "score_problem",
]

SCORE_MIN = 0
SCORE_MAX = 100
EMAIL_MAX_LENGTH = 254
# Deliberately lenient: one @, no whitespace, a dot in the domain. Assessio decides the rest.
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")


def email_problem(value: object) -> str | None:
    """Why `value` is not an acceptable email address, or None when it is."""
    if not isinstance(value, str):
        return f"expected an email address (string), got {type(value).__name__}"
    if len(value) > EMAIL_MAX_LENGTH:
        return f"email address longer than {EMAIL_MAX_LENGTH} characters"
    if not _EMAIL.fullmatch(value):
        return f"not a valid email address: {value!r}"
    return None


def score_problem(value: object) -> str | None:
    """Why `value` is not a score (an integer 0..100), or None when it is."""
    if type(value) is not int:
        return f"expected an integer score, got {type(value).__name__}"
    if not SCORE_MIN <= value <= SCORE_MAX:
        return f"score {value} is outside {SCORE_MIN}..{SCORE_MAX}"
    return None


class EmailRule:
    """Marker in `Annotated[str, EmailRule]`: the string must be an email address."""


class ScoreRule:
    """Marker in `Annotated[int, ScoreRule]`: the integer must lie in 0..100."""


Email = Annotated[str, EmailRule]
Score = Annotated[int, ScoreRule]


def _check_email(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    problem = email_problem(value)
    if problem:
        raise ValueError(f"{attribute.name}: {problem}")


def _check_emails(_inst: object, attribute: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
    for index, item in enumerate(value):
        problem = email_problem(item)
        if problem:
            raise ValueError(f"{attribute.name}[{index}]: {problem}")


def _check_optional_score(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        problem = score_problem(value)
        if problem:
            raise ValueError(f"{attribute.name}: {problem}")


def _check_subscores(
    _inst: object, attribute: attrs.Attribute[Any], value: Mapping[str, int]
) -> None:
    for name, score in value.items():
        problem = score_problem(score)
        if problem:
            raise ValueError(f"{attribute.name}[{name!r}]: {problem}")


def _to_tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value)


def _to_dict(value: Mapping[str, int]) -> dict[str, int]:
    return dict(value)


@attrs.frozen
class Lens:
    """An assessment lens (a job profile); its `id` goes into an order's `lensId`."""

    id: str
    name: str


@attrs.frozen
class AssessioConfig:
    """What `GET /recruitment/v1/config` answers: the lenses and locales an order may use."""

    available_lenses: tuple[Lens, ...] = attrs.field(converter=_to_tuple)
    available_locales: tuple[str, ...] = attrs.field(converter=_to_tuple)

    def find_lens(self, id_or_name: str) -> Lens | None:
        """The lens with this id, else the one with this name (case-insensitive), else None."""
        for lens in self.available_lenses:
            if lens.id == id_or_name:
                return lens
        folded = id_or_name.casefold()
        for lens in self.available_lenses:
            if lens.name.casefold() == folded:
                return lens
        return None


@attrs.frozen
class Recruitment:
    """The integrator's job: a new `id` creates a recruitment at Assessio, a known one reuses it."""

    id: str
    title: str
    description: str = ""


@attrs.frozen
class CandidateDetails:
    """Who is invited."""

    email: Email = attrs.field(validator=_check_email)


@attrs.frozen
class AssessmentOrder:
    """An assessment order (a candidate invite), the body of both order endpoints."""

    recruitment: Recruitment
    result_update_url: str
    result_id: str
    lens_id: str
    locale: str
    candidate_details: CandidateDetails
    additional_recruitment_collaborators_emails: tuple[Email, ...] = attrs.field(
        default=(), converter=_to_tuple, validator=_check_emails
    )


@attrs.frozen
class AssessmentLink:
    """What the link endpoint answers: where the candidate takes the assessment."""

    assessment_package_link: str


@attrs.frozen
class Result:
    """A candidate's result as Assessio POSTs it to the order's `resultUpdateUrl`."""

    result_id: str
    score: Score | None = attrs.field(default=None, validator=_check_optional_score)
    subscores: Mapping[str, Score] = attrs.field(
        factory=dict, converter=_to_dict, validator=_check_subscores
    )
    recruitment_url: str | None = None
    assessment_report_url: str | None = None
