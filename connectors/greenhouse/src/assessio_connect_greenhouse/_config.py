"""`GreenhouseConfig`: a tenant's `[tenants.NAME.ats]` table for `kind = "greenhouse"`.

Validators raise `ValueError` with a sentence the operator can act on; the daemon's config
loader reports it with the table's path.
"""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import urlsplit

import attrs

from assessio_connect.config import Secret

__all__ = [
    "DEFAULT_COMPLETION_HOSTS",
    "DEFAULT_HARVEST_URL",
    "DEFAULT_TOKEN_URL",
    "NOTE_VISIBILITIES",
    "CustomFieldMap",
    "GreenhouseConfig",
    "OAuthCredentials",
    "PartnerSettings",
    "StageTrigger",
    "WebhookSettings",
    "host_allowed",
]

DEFAULT_HARVEST_URL = "https://harvest.greenhouse.io"
DEFAULT_TOKEN_URL = "https://auth.greenhouse.io/token"  # noqa: S105 - a URL, not a secret
DEFAULT_COMPLETION_HOSTS = ("*.greenhouse.io",)
NOTE_VISIBILITIES = ("admin_only", "private", "public")
_NAME_KEY = re.compile(r"[A-Za-z0-9_]{1,255}")
_HOST_PATTERN = re.compile(r"(\*\.)?[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]")


def _strip_slash(value: str) -> str:
    return value.rstrip("/")


def _url_problem(name: str, value: str) -> str | None:
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        return f"{name} is not a valid URL: {value!r}"
    if "@" in parts.netloc:
        return f"{name} must not contain credentials"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{name} must be an https:// URL, got {value!r}"
    if parts.query or parts.fragment:
        return f"{name} must not have a query or a fragment"
    return None


def _check_url(_inst: object, attribute: attrs.Attribute[Any], value: str) -> None:
    problem = _url_problem(attribute.name, value)
    if problem:
        raise ValueError(problem)


def _check_name_key(_inst: object, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and not _NAME_KEY.fullmatch(value):
        raise ValueError(
            f"custom_fields.{attribute.name} must be a Greenhouse immutable field key "
            f"(letters, digits and underscores, e.g. assessio_score), not {value!r}"
        )


def _check_positive_id(_inst: object, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and value < 1:
        raise ValueError(f"{attribute.name} must be a Greenhouse id (a positive integer)")


def host_allowed(host: str, patterns: tuple[str, ...]) -> bool:
    """Whether `host` matches one of `patterns` (`example.com`, or `*.example.com` for the
    domain and every subdomain), case-insensitively."""
    host = host.lower().rstrip(".")
    for pattern in patterns:
        pattern = pattern.lower()
        if pattern.startswith("*."):
            domain = pattern[2:]
            if host == domain or host.endswith("." + domain):
                return True
        elif host == pattern:
            return True
    return False


@attrs.frozen
class OAuthCredentials:
    """Harvest v3 client credentials: a Bearer token from `token_url`, cached until it expires."""

    client_id: str
    client_secret: Secret
    token_url: str = attrs.field(default=DEFAULT_TOKEN_URL, validator=_check_url)
    user_id: int | None = attrs.field(default=None, validator=_check_positive_id)
    """Sent as `sub`: the Greenhouse user the token acts for (and, by default, `On-Behalf-Of`)."""

    def __attrs_post_init__(self) -> None:
        if not self.client_id.strip():
            raise ValueError("oauth.client_id must not be empty")


@attrs.frozen
class StageTrigger:
    """An interview stage that orders an assessment when a candidate moves into it."""

    name: str | None = None
    """The stage's name, compared case-insensitively (e.g. "Assessment")."""
    id: int | None = attrs.field(default=None, validator=_check_positive_id)
    """The stage's id, for when names repeat across jobs."""
    jobs: tuple[int, ...] = ()
    """Only these jobs (Greenhouse job ids); empty: every job."""

    def __attrs_post_init__(self) -> None:
        if (self.name is None) == (self.id is None):
            raise ValueError(
                "each webhook.stages entry needs exactly one of name (a stage name) or id "
                "(a stage id)"
            )
        if self.name is not None and not self.name.strip():
            raise ValueError("a webhook.stages name must not be empty")
        if any(job < 1 for job in self.jobs):
            raise ValueError("webhook.stages jobs must be Greenhouse job ids (positive integers)")

    def matches(self, stage_id: str | None, stage_name: str | None, job_id: str) -> bool:
        """Whether a candidate entering this stage of this job should be assessed."""
        if self.jobs and job_id not in {str(job) for job in self.jobs}:
            return False
        if self.id is not None:
            return stage_id == str(self.id)
        return (
            stage_name is not None
            and self.name is not None
            and stage_name.strip().casefold() == self.name.strip().casefold()
        )


@attrs.frozen
class WebhookSettings:
    """Webhook mode: Greenhouse POSTs `candidate_stage_change` to `/connectors/{tenant}/webhook`."""

    secret_key: Secret
    """The web hook's secret key in Greenhouse (Configure > Dev Center > Web Hooks)."""
    stages: tuple[StageTrigger, ...] = ()
    enabled: bool = True

    def __attrs_post_init__(self) -> None:
        if self.enabled and not self.stages:
            raise ValueError(
                "webhook mode needs at least one [[...ats.webhook.stages]] entry "
                '(e.g. name = "Assessment") to know when to order an assessment'
            )


@attrs.frozen
class CustomFieldMap:
    """Candidate custom fields (by immutable field key) that receive parts of the result."""

    score: str | None = attrs.field(default=None, validator=_check_name_key)
    report_url: str | None = attrs.field(default=None, validator=_check_name_key)
    recruitment_url: str | None = attrs.field(default=None, validator=_check_name_key)
    subscores: str | None = attrs.field(default=None, validator=_check_name_key)
    """A text field receiving e.g. "Collaborating 62, Driving Results 80"."""

    def items(self) -> tuple[tuple[str, str], ...]:
        """(result part, field key) for each configured field."""
        pairs = (
            ("score", self.score),
            ("report_url", self.report_url),
            ("recruitment_url", self.recruitment_url),
            ("subscores", self.subscores),
        )
        return tuple((part, key) for part, key in pairs if key is not None)


@attrs.frozen
class PartnerSettings:
    """Assessment Partner mode: Greenhouse calls list_tests, send_test and test_status."""

    api_key: Secret
    """The key the customer gave Greenhouse; Greenhouse sends it as the Basic-auth username."""
    enabled: bool = True
    completion_hosts: tuple[str, ...] = DEFAULT_COMPLETION_HOSTS
    """Hosts a send_test `url` may point at (the partner key is sent there on completion)."""

    def __attrs_post_init__(self) -> None:
        if not self.completion_hosts:
            raise ValueError("partner.completion_hosts must list at least one host")
        for pattern in self.completion_hosts:
            if not _HOST_PATTERN.fullmatch(pattern):
                raise ValueError(
                    f"partner.completion_hosts entry {pattern!r} is not a host name "
                    '(write e.g. "app.greenhouse.io" or "*.greenhouse.io")'
                )


def _check_window(_inst: object, _attribute: attrs.Attribute[Any], value: float) -> None:
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"rate_limit_window must be a positive number of seconds, not {value!r}")


def _check_visibility(_inst: object, _attribute: attrs.Attribute[Any], value: str) -> None:
    if value not in NOTE_VISIBILITIES:
        raise ValueError(
            f"note_visibility must be one of {', '.join(NOTE_VISIBILITIES)}, not {value!r}"
        )


@attrs.frozen
class GreenhouseConfig:
    """A tenant's Greenhouse connection: Harvest credentials, webhook mode, partner mode.

    Webhook mode orders on stage changes and writes results into the candidate through Harvest;
    partner mode serves Greenhouse's Assessment Partner API. Either or both may be enabled."""

    harvest_url: str = attrs.field(
        default=DEFAULT_HARVEST_URL, converter=_strip_slash, validator=_check_url
    )
    api_key: Secret | None = None
    """Harvest API key (Basic auth, blank password)."""
    oauth: OAuthCredentials | None = None
    """Or Harvest OAuth client credentials (Bearer)."""
    on_behalf_of: int | None = attrs.field(default=None, validator=_check_positive_id)
    """The Greenhouse user id written in `On-Behalf-Of` (and as the note's author)."""
    note_visibility: str = attrs.field(default="admin_only", validator=_check_visibility)
    custom_fields: CustomFieldMap = CustomFieldMap()
    hiring_team_collaborators: bool = False
    """Fetch the job's hiring team from Harvest and add them as recruitment collaborators."""
    webhook: WebhookSettings | None = None
    partner: PartnerSettings | None = None
    rate_limit_window: float = attrs.field(default=10.0, validator=_check_window)
    """Seconds of Harvest's `X-RateLimit-Limit` window (10 for Harvest v1/v2)."""

    def __attrs_post_init__(self) -> None:
        problems = []
        if not self.webhook_enabled and not self.partner_enabled:
            problems.append(
                "enable webhook mode ([...ats.webhook] with secret_key and stages), "
                "partner mode ([...ats.partner] with api_key), or both"
            )
        if self.api_key is not None and self.oauth is not None:
            problems.append("set api_key (Basic) or [...ats.oauth] (client credentials), not both")
        if self.webhook_enabled and not self.has_harvest:
            problems.append(
                "webhook mode writes results through Harvest: set api_key or [...ats.oauth]"
            )
        if self.webhook_enabled and self.author is None:
            problems.append(
                "webhook mode needs on_behalf_of (the Greenhouse user id that writes the notes)"
            )
        if self.custom_fields.items() and not self.webhook_enabled:
            problems.append(
                "custom_fields are written in webhook mode only; enable [...ats.webhook]"
            )
        if self.hiring_team_collaborators and not self.has_harvest:
            problems.append(
                "hiring_team_collaborators reads the hiring team through Harvest: set api_key "
                "or [...ats.oauth]"
            )
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def webhook_enabled(self) -> bool:
        return self.webhook is not None and self.webhook.enabled

    @property
    def partner_enabled(self) -> bool:
        return self.partner is not None and self.partner.enabled

    @property
    def has_harvest(self) -> bool:
        """Whether Harvest credentials are configured."""
        return self.api_key is not None or self.oauth is not None

    @property
    def author(self) -> int | None:
        """The user id for `On-Behalf-Of` and notes: `on_behalf_of`, else the OAuth user."""
        if self.on_behalf_of is not None:
            return self.on_behalf_of
        return self.oauth.user_id if self.oauth is not None else None
