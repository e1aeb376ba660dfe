"""The emulator's catalogue: lenses with their competencies, locales, and simulated results."""

from __future__ import annotations

import random
from collections.abc import Mapping

import attrs

from assessio_connect.contract.models import SCORE_MAX, SCORE_MIN, Lens, Result

__all__ = ["DEFAULT_LENSES", "DEFAULT_LOCALES", "SandboxLens", "simulate_result"]


def _competencies(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        raise TypeError("competencies must be a sequence of names, not one string")
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"competencies must be a sequence of names, not {type(value).__name__}")
    names = tuple(value)
    for name in names:
        if not isinstance(name, str) or not name:
            raise ValueError(f"competency names must be non-empty strings, got {name!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"competency names must be unique, got {list(names)!r}")
    return names


def _non_empty(_inst: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not value:
        raise ValueError(f"a lens needs a non-empty {attribute.name}")


@attrs.frozen
class SandboxLens:
    """A lens the emulator offers: what `config` lists, plus the competencies it scores."""

    id: str = attrs.field(validator=_non_empty)
    name: str = attrs.field(validator=_non_empty)
    competencies: tuple[str, ...] = attrs.field(default=(), converter=_competencies)

    @property
    def lens(self) -> Lens:
        """The wire object `GET /recruitment/v1/config` lists for this lens."""
        return Lens(id=self.id, name=self.name)


DEFAULT_LENSES: tuple[SandboxLens, ...] = (
    SandboxLens(
        # The id the contract uses in its examples.
        "7922dd91-1b44-43e4-a740-7c4d9c2fba41",
        "General Performance",
        (
            "Driving Results",
            "Collaborating",
            "Adapting to Change",
            "Problem Solving",
            "Communicating",
        ),
    ),
    SandboxLens(
        "3f0c1c64-f3ad-4c4f-b1e0-5f83ddc68237",
        "Leadership",
        (
            "Driving Leadership",
            "Influencing & Inspiring",
            "Developing Others",
            "Strategic Thinking",
            "Decision Making",
            "Building Trust",
        ),
    ),
    SandboxLens(
        "a775e7f3-0088-473c-a732-af145b64d24b",
        "Customer Service",
        ("Customer Focus", "Resilience", "Communicating", "Collaborating"),
    ),
    SandboxLens(
        "1650ccfe-5e70-4732-89e6-123af02f2a6d",
        "Sales",
        (
            "Driving Results",
            "Persuading",
            "Building Relationships",
            "Resilience",
            "Self-Motivation",
        ),
    ),
)
"""Four lenses with stable ids; the first is the contract's "General Performance"."""

DEFAULT_LOCALES: tuple[str, ...] = (
    "en-US",
    "en-GB",
    "sv-SE",
    "nl-NL",
    "nn-NO",
    "nb-NO",
    "da-DK",
    "fi-FI",
    "de-DE",
)
"""The contract's four locales first, then a few more Assessio's markets plausibly use."""


def _clamp(value: float) -> int:
    return max(SCORE_MIN, min(SCORE_MAX, round(value)))


def simulate_result(
    lens: SandboxLens,
    result_id: str,
    *,
    seed: int,
    score: int | None = None,
    subscores: Mapping[str, int] | None = None,
    recruitment_url: str | None = None,
    assessment_report_url: str | None = None,
) -> Result:
    """A plausible result, the same for the same `(seed, result_id)` unless scores are given.

    Subscores scatter around a candidate-level ability; the overall score is their mean.
    An explicit `score` or `subscores` replaces the simulated value; `Result`'s validators
    reject values outside 0..100 with a `ValueError`.
    """
    # Simulated scores must be reproducible, not secret: a seeded PRNG is the point.
    rng = random.Random(f"{seed}:{result_id}")  # noqa: S311
    ability = rng.gauss(62.0, 12.0)
    simulated = {name: _clamp(rng.gauss(ability, 9.0)) for name in lens.competencies}
    chosen = dict(subscores) if subscores is not None else simulated
    if score is None:
        values = list(chosen.values())
        if not values:
            score = _clamp(ability)
        elif all(type(v) is int for v in values):
            score = _clamp(sum(values) / len(values))
        # else: leave it None; Result's validator names the bad subscore.
    return Result(
        result_id=result_id,
        score=score,
        subscores=chosen,
        recruitment_url=recruitment_url,
        assessment_report_url=assessment_report_url,
    )
