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

from assessio_connect import Secret

from ._completion import DEFAULT_COMPLETION_HOSTS, host_pattern_problem

__all__ = [
    "AUTHORIZATION_CODE",
    "CLIENT_CREDENTIALS",
    "DEFAULT_AUTH_URL",
    "DEFAULT_HARVEST_URL",
    "DEFAULT_RATE_LIMIT_WINDOW",
    "GRANTS",
    "NOTE_VISIBILITIES",
    "OAUTH_INSTEAD",
    "RETIRED",
    "CustomFieldMap",
    "GreenhouseConfig",
    "OAuthSettings",
    "PartnerSettings",
    "StageTrigger",
    "WebhookSettings",
]

DEFAULT_HARVEST_URL = "https://harvest.greenhouse.io"
DEFAULT_AUTH_URL = "https://auth.greenhouse.io"
DEFAULT_RATE_LIMIT_WINDOW = 30.0
"""Seconds per `X-RateLimit-Limit` window on Harvest v3 (reported by integrators; v1 used 10)."""
CLIENT_CREDENTIALS = "client_credentials"
AUTHORIZATION_CODE = "authorization_code"
GRANTS = (CLIENT_CREDENTIALS, AUTHORIZATION_CODE)
NOTE_VISIBILITIES = ("admin_only", "private", "public")
RETIRED = "Greenhouse retired Harvest v1/v2 and their API keys on 31 Aug 2026"
OAUTH_INSTEAD = (
    'use Harvest v3 OAuth instead: [...ats.oauth] with client_id = "…", '
    'client_secret = { env = "…" } and user_id = <Greenhouse user id> (a custom '
    'integration\'s credentials), or with grant = "authorization_code" (a partner '
    "integration, connected with `assessio-connect greenhouse connect`)"
)
_NAME_KEY = re.compile(r"[A-Za-z0-9_]{1,255}")
_RETIRED_PATH = re.compile(r"/v[12]", re.IGNORECASE)
_SCOPE = re.compile(r"[A-Za-z0-9_:.-]{1,200}")


def _origin(value: str) -> str:
    """Without trailing slashes, nor the `/v3` the connector adds itself."""
    value = value.rstrip("/")
    return value[:-3] if value.lower().endswith("/v3") else value


def _origin_problem(name: str, value: str) -> str | None:
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
    if _RETIRED_PATH.fullmatch(parts.path):
        return f"{name} points at Harvest {parts.path.strip('/')}: {RETIRED}; {OAUTH_INSTEAD}"
    if parts.path:
        return f"{name} is an origin such as {DEFAULT_HARVEST_URL}, without a path"
    return None


def _check_origin(_inst: object, attribute: attrs.Attribute[Any], value: str) -> None:
    problem = _origin_problem(attribute.name, value)
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


def _check_seconds(_inst: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{attribute.name} must be a positive number of seconds, not {value!r}")


@attrs.frozen
class OAuthSettings:
    """Harvest v3 OAuth: a custom integration's client credentials, or a partner integration's
    authorization code grant (connected once per tenant with `assessio-connect greenhouse
    connect`, then kept alive with refresh tokens)."""

    client_id: str
    client_secret: Secret
    grant: str = CLIENT_CREDENTIALS
    user_id: int | None = attrs.field(default=None, validator=_check_positive_id)
    """client_credentials: sent as `sub`, the Greenhouse user writes are attributed to."""
    scopes: tuple[str, ...] = ()
    """authorization_code: the `scope` asked for in the authorization URL (empty: the scopes
    Greenhouse registered for the client)."""
    refresh_token_lifetime: float = attrs.field(default=86400.0, validator=_check_seconds)
    """authorization_code: how long a refresh token lives (Greenhouse documents 24 h); the
    connector renews it when half of that is left, even while the tenant is idle."""
    keep_alive_interval: float = attrs.field(default=300.0, validator=_check_seconds)
    """authorization_code: seconds between the daemon's looks at the refresh token."""
    authorization_lifetime: float = attrs.field(default=600.0, validator=_check_seconds)
    """authorization_code: how long the link printed by `greenhouse connect` stays usable."""

    def __attrs_post_init__(self) -> None:
        problems = []
        if not self.client_id.strip():
            problems.append("oauth.client_id must not be empty")
        if self.grant not in GRANTS:
            problems.append(
                f"oauth.grant must be {CLIENT_CREDENTIALS} (a custom integration) or "
                f"{AUTHORIZATION_CODE} (a partner integration), not {self.grant!r}"
            )
        elif self.grant == CLIENT_CREDENTIALS and self.user_id is None:
            problems.append(
                "oauth.user_id is required with client_credentials: the Greenhouse user id "
                "sent as `sub`, to whom notes and edits are attributed"
            )
        elif self.grant == AUTHORIZATION_CODE and self.user_id is not None:
            problems.append(
                "oauth.user_id is for client_credentials; with authorization_code the "
                "Greenhouse user who approves the connection is the author"
            )
        problems.extend(
            f"oauth.scopes entry {scope!r} is not a scope such as harvest:notes:create"
            for scope in self.scopes
            if not _SCOPE.fullmatch(scope)
        )
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def partner(self) -> bool:
        """Whether this is a partner integration (authorization code grant)."""
        return self.grant == AUTHORIZATION_CODE


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
    allow_http_completion: bool = False
    """Accept `http://` completion URLs too: for tests against a local fake only."""

    def __attrs_post_init__(self) -> None:
        if not self.completion_hosts:
            raise ValueError("partner.completion_hosts must list at least one host")
        for pattern in self.completion_hosts:
            problem = host_pattern_problem(pattern)
            if problem:
                raise ValueError(f"partner.completion_hosts {problem}")


def _check_visibility(_inst: object, _attribute: attrs.Attribute[Any], value: str) -> None:
    if value not in NOTE_VISIBILITIES:
        raise ValueError(
            f"note_visibility must be one of {', '.join(NOTE_VISIBILITIES)}, not {value!r}"
        )


@attrs.frozen
class GreenhouseConfig:
    """A tenant's Greenhouse connection: Harvest v3 OAuth, webhook mode, partner mode.

    Webhook mode orders on stage changes and writes results into the candidate through Harvest;
    partner mode serves Greenhouse's Assessment Partner API. Either or both may be enabled."""

    harvest_url: str = attrs.field(
        default=DEFAULT_HARVEST_URL, converter=_origin, validator=_check_origin
    )
    """Harvest's origin; calls go to `{harvest_url}/v3/…`."""
    auth_url: str = attrs.field(
        default=DEFAULT_AUTH_URL, converter=_origin, validator=_check_origin
    )
    """Greenhouse's OAuth origin: `{auth_url}/token` and `{auth_url}/authorize`."""
    oauth: OAuthSettings | None = None
    api_key: Any = attrs.field(default=None, repr=False)
    """Retired with Harvest v1/v2; read only to say so."""
    on_behalf_of: int | None = attrs.field(default=None, validator=_check_positive_id)
    """Also send `On-Behalf-Of` on writes (v1's audit header, not confirmed for v3, where the
    token's user is the author)."""
    note_visibility: str = attrs.field(default="admin_only", validator=_check_visibility)
    custom_fields: CustomFieldMap = CustomFieldMap()
    hiring_team_collaborators: bool = False
    """Read the job's hiring team through Harvest and add them as recruitment collaborators."""
    webhook: WebhookSettings | None = None
    partner: PartnerSettings | None = None
    rate_limit_window: float = attrs.field(
        default=DEFAULT_RATE_LIMIT_WINDOW, validator=_check_seconds
    )
    """Seconds of Harvest's `X-RateLimit-Limit` window."""

    def __attrs_post_init__(self) -> None:
        if self.api_key is not None:
            raise ValueError(f"api_key is no longer accepted: {RETIRED}; {OAUTH_INSTEAD}")
        problems = []
        if not self.webhook_enabled and not self.partner_enabled:
            problems.append(
                "enable webhook mode ([...ats.webhook] with secret_key and stages), "
                "partner mode ([...ats.partner] with api_key), or both"
            )
        if self.webhook_enabled and self.oauth is None:
            problems.append(
                "webhook mode writes results through Harvest v3: set [...ats.oauth] "
                '(client_id, client_secret and user_id, or grant = "authorization_code")'
            )
        if self.custom_fields.items() and not self.webhook_enabled:
            problems.append(
                "custom_fields are written in webhook mode only; enable [...ats.webhook]"
            )
        if self.hiring_team_collaborators and self.oauth is None:
            problems.append(
                "hiring_team_collaborators reads the hiring team through Harvest: set "
                "[...ats.oauth]"
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
    def token_url(self) -> str:
        return f"{self.auth_url}/token"

    @property
    def authorize_url(self) -> str:
        return f"{self.auth_url}/authorize"
