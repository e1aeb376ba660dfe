"""The Assessment Partner API's payloads: reading a `send_test` request, and the answers of
`list_tests` and `test_status`."""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs

from assessio_connect import AssessioConfig, PayloadError, Result

from ._completion import completion_url
from ._config import PartnerSettings
from ._reading import GreenhouseReader

__all__ = [
    "TestOrder",
    "interview_id_for",
    "parse_send_test",
    "status_answer",
    "tests_answer",
]

_SEGMENT = re.compile(r"[A-Za-z0-9_-]{1,64}")
_WHAT = "send_test request"


@attrs.frozen
class TestOrder:
    """What a `send_test` request asks for."""

    partner_test_id: str
    first_name: str = attrs.field(repr=False)
    last_name: str = attrs.field(repr=False)
    email: str = attrs.field(repr=False)
    profile_url: str | None
    completion_url: str
    application_id: str | None
    """Greenhouse's application id, read from `greenhouse_profile_url` when it carries one."""


def tests_answer(config: AssessioConfig) -> list[dict[str, str]]:
    """`list_tests`: each of the organisation's lenses as a test."""
    return [
        {"partner_test_id": lens.id, "partner_test_name": lens.name}
        for lens in config.available_lenses
    ]


def interview_id_for(url: str) -> str:
    """A stable `partner_interview_id` for one test sent by Greenhouse: its take-home test id
    (the last segment of the completion `url`), else a digest of that url. Greenhouse resending
    the same test gets the same id, and so the same order."""
    segment = urlsplit(url).path.rstrip("/").rpartition("/")[2]
    if _SEGMENT.fullmatch(segment):
        return f"gh-test-{segment}"
    return "gh-test-" + hashlib.sha256(url.encode("utf-8")).hexdigest()[:32]


def _application_id(profile_url: str | None) -> str | None:
    if not profile_url:
        return None
    try:
        values = parse_qs(urlsplit(profile_url).query).get("application_id", [])
    except ValueError:
        return None
    value = values[0].strip() if values else ""
    return value if value.isdigit() else None


def parse_send_test(data: object, settings: PartnerSettings) -> TestOrder:
    """A `send_test` body, or `PayloadError` listing each problem as `message @ $.path`. The
    completion url is kept as rebuilt from its checked parts."""
    read = GreenhouseReader(_WHAT)
    root = read.root(data)
    test_id = read.ident(root, "partner_test_id", "$")
    raw_url = read.text(root, "url", "$").strip()
    url = None
    if raw_url:
        try:
            url = completion_url(
                raw_url, settings.completion_hosts, allow_http=settings.allow_http_completion
            )
        except ValueError as exc:
            read.problem(f"the completion url {exc}", "$.url")
    candidate = read.table(root, "candidate", "$")
    first = read.optional_text(candidate, "first_name", "$.candidate") or ""
    last = read.optional_text(candidate, "last_name", "$.candidate") or ""
    email = read.email(candidate, "email", "$.candidate")
    profile = read.optional_text(candidate, "greenhouse_profile_url", "$.candidate")
    if read.problems or test_id is None or url is None:
        raise PayloadError(read.problems, what=_WHAT)
    return TestOrder(
        partner_test_id=test_id,
        first_name=first.strip(),
        last_name=last.strip(),
        email=email,
        profile_url=profile,
        completion_url=url,
        application_id=_application_id(profile),
    )


def status_answer(result: Result | None, version: int | None) -> dict[str, Any]:
    """`test_status`: "complete" with the report link, score and flat metadata once a result
    with a link is in (Greenhouse requires `partner_profile_url` then); "in_progress" (every
    other key null) before."""
    profile_url = None
    if result is not None:
        profile_url = result.assessment_report_url or result.recruitment_url
    if result is None or profile_url is None:
        return {
            "partner_status": "in_progress",
            "partner_profile_url": None,
            "partner_score": None,
            "metadata": None,
        }
    metadata: dict[str, str | int] = dict(sorted(result.subscores.items()))
    metadata["Assessio result id"] = result.result_id
    if version is not None and version > 1:
        metadata["Result version"] = version
    return {
        "partner_status": "complete",
        "partner_profile_url": profile_url,
        "partner_score": result.score,
        "metadata": metadata,
    }
