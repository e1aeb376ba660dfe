"""The validated configuration: the daemon's tables and each tenant's, frozen attrs classes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

import attrs

from assessio_connect.contract.client import (
    AssessioClient,
    ClientSettings,
    Environment,
)
from assessio_connect.contract.errors import ConfigError
from assessio_connect.contract.transport import Transport
from assessio_connect.contract.webhook import WebhookAuth
from assessio_connect.runtime._server import DEFAULT_LIMITS, ConnectionLimits
from assessio_connect.runtime.connector import AssessmentChoice, AtsJob, Invitation

from ._redaction import plain_data, redact_url, secrets_in, url_password
from ._secrets import Secret
from ._values import format_duration

__all__ = [
    "DEFAULT_STORE_URL",
    "STATUS_TOKEN_MIN_LENGTH",
    "AssessmentRule",
    "AssessmentRules",
    "DaemonConfig",
    "DeliveryConfig",
    "ServerConfig",
    "StatusConfig",
    "TenantConfig",
    "WebhookConfig",
]

DEFAULT_STORE_URL = "sqlite:///assessio-connect.db"


@attrs.frozen
class ServerConfig:
    """Where the daemon listens and how Assessio reaches it."""

    host: str = "127.0.0.1"
    port: int = 8080
    """0 picks a free port (tests)."""
    public_url: str | None = None
    """Base of every `resultUpdateUrl` (no trailing slash); None: `http://host:port`."""
    max_body_bytes: int = 1048576
    threads: int = 8
    connection_limit: int = DEFAULT_LIMITS.connection_limit
    """Open connections served at once; beyond it, new ones wait until one closes."""
    header_timeout: float = DEFAULT_LIMITS.header_timeout
    """Seconds a client may take to send a request's line and headers."""
    body_timeout: float = DEFAULT_LIMITS.body_timeout
    """Seconds a client may take to send a request's body once its headers are in."""
    idle_timeout: float = DEFAULT_LIMITS.idle_timeout
    """Seconds a keep-alive connection may stay idle between requests."""

    @property
    def limits(self) -> ConnectionLimits:
        """The connection limits for the HTTP server."""
        return ConnectionLimits(
            connection_limit=self.connection_limit,
            header_timeout=self.header_timeout,
            body_timeout=self.body_timeout,
            idle_timeout=self.idle_timeout,
        )

    @property
    def listen(self) -> str:
        """`host:port` as written in the file (`[::1]:8080` for IPv6)."""
        return f"{_bracketed(self.host)}:{self.port}"

    @property
    def base_url(self) -> str:
        """`public_url`, or `http://host:port`; without a trailing slash."""
        return (self.public_url or f"http://{self.listen}").rstrip("/")


@attrs.frozen
class DeliveryConfig:
    """How results are pushed back into the ATSs; every duration is in seconds."""

    workers: int = 4
    horizon: float = 129600.0
    """Give up on a delivery this long after its first attempt."""
    first_delay: float = 1.0
    max_delay: float = 3600.0
    lease: float = 60.0
    """How long a worker owns a delivery before another may take it over."""


STATUS_TOKEN_MIN_LENGTH = 16


@attrs.frozen
class StatusConfig:
    """The operators' status page at `/status`: off until an operator token is set."""

    token: Secret | None = None
    """Signs operators in (a form that sets a cookie, or `Authorization: Bearer`)."""


@attrs.frozen
class WebhookConfig:
    """How Assessio authenticates the tenant's result webhooks (keys and secrets rotate)."""

    api_keys: tuple[Secret, ...] = ()
    signing_secrets: tuple[Secret, ...] = ()
    tolerance: int = 300
    """Seconds a `Signature` timestamp may be off."""

    def auth(self) -> WebhookAuth:
        """The receiver's authenticator, holding the revealed values."""
        return WebhookAuth(
            api_keys=tuple(key.reveal() for key in self.api_keys),
            signing_secrets=tuple(secret.reveal() for secret in self.signing_secrets),
            tolerance=self.tolerance,
        )


@attrs.frozen
class AssessmentRule:
    """Lens, locale or collaborators for the jobs that match `job` and/or `department`."""

    job: str | None = None
    department: str | None = None
    """Compared case-insensitively."""
    lens: str | None = None
    locale: str | None = None
    collaborators: tuple[str, ...] | None = None
    """Replaces the default collaborators when set (an empty list clears them)."""

    def matches(self, job: AtsJob) -> bool:
        """Whether every field the rule sets matches the job."""
        if self.job is not None and self.job != job.id:
            return False
        if self.department is not None:
            department = job.department
            if department is None or department.casefold() != self.department.casefold():
                return False
        return True


@attrs.frozen
class AssessmentRules:
    """A tenant's defaults and rules for which assessment an invitation gets."""

    lens: str | None = None
    locale: str | None = None
    collaborators: tuple[str, ...] = ()
    hiring_team_as_collaborators: bool = False
    rules: tuple[AssessmentRule, ...] = ()

    def choose(self, invitation: Invitation) -> AssessmentChoice:
        """The invitation's own lens/locale, else the first matching rule's, else the default.

        Raises `ConfigError` when that leaves no lens or no locale."""
        job = invitation.job
        rule = next((rule for rule in self.rules if rule.matches(job)), None)
        lens = invitation.lens or (rule.lens if rule else None) or self.lens
        locale = invitation.locale or (rule.locale if rule else None) or self.locale
        collaborators = self.collaborators
        if rule is not None and rule.collaborators is not None:
            collaborators = rule.collaborators
        if self.hiring_team_as_collaborators:
            collaborators = (*collaborators, *job.hiring_team)
        problems = []
        if not lens:
            problems.append(f"no lens for job {job.id}: set assessment.lens or a rule")
        if not locale:
            problems.append(f"no locale for job {job.id}: set assessment.locale or a rule")
        if problems or lens is None or locale is None:
            raise ConfigError(problems, source="the assessment rules")
        return AssessmentChoice(lens=lens, locale=locale, collaborators=_unique(collaborators))


@attrs.frozen
class TenantConfig:
    """One Assessio organisation and the ATS it is connected to."""

    name: str
    environment: Environment
    base_url: str | None
    """Overrides `environment`'s URL (tests, a local emulator)."""
    provider_key: Secret
    integrator_secret: Secret | None
    provider_key_header: str
    sign_get: bool
    order_endpoint: Literal["order", "link"]
    webhook: WebhookConfig
    assessment: AssessmentRules
    ats_kind: str
    ats: Any
    """The connector's `Config` instance."""

    def client(self, transport: Transport | None = None) -> AssessioClient:
        """An Assessio client for this tenant (sharing `transport`'s connection pool)."""
        settings = ClientSettings(
            provider_key_header=self.provider_key_header, sign_get=self.sign_get
        )
        integrator = self.integrator_secret.reveal() if self.integrator_secret else None
        return AssessioClient(
            self.provider_key.reveal(),
            integrator,
            environment=self.environment,
            base_url=self.base_url,
            settings=settings,
            transport=transport,
        )


def _as_dict(tenants: Mapping[str, TenantConfig]) -> dict[str, TenantConfig]:
    return dict(tenants)


@attrs.frozen
class DaemonConfig:
    """A validated configuration file; secrets are resolved, reprs show only references."""

    source: str
    server: ServerConfig
    store_url: str = attrs.field(repr=redact_url)
    delivery: DeliveryConfig
    tenants: Mapping[str, TenantConfig] = attrs.field(converter=_as_dict)
    warnings: tuple[str, ...] = attrs.field(default=(), eq=False)
    """What is valid but unsafe (a secret file others can read), for a warning at start."""
    status: StatusConfig = attrs.field(factory=StatusConfig)

    def secret_values(self) -> tuple[str, ...]:
        """Every resolved secret (and the store URL's password), for scrubbing logs."""
        found: list[str] = []
        password = url_password(self.store_url)
        if password:
            found.append(password)
        if self.status.token is not None:
            found.append(self.status.token.reveal())
        found.extend(secret.reveal() for secret in secrets_in(list(self.tenants.values())))
        return tuple(dict.fromkeys(value for value in found if value))

    def redacted(self) -> dict[str, Any]:
        """The configuration as plain data laid out like the file, secrets as references."""
        server: dict[str, Any] = {"listen": self.server.listen}
        if self.server.public_url is not None:
            server["public_url"] = self.server.public_url
        server["max_body_bytes"] = self.server.max_body_bytes
        server["threads"] = self.server.threads
        server["connection_limit"] = self.server.connection_limit
        for timeout in ("header_timeout", "body_timeout", "idle_timeout"):
            server[timeout] = format_duration(getattr(self.server, timeout))
        delivery = self.delivery
        data: dict[str, Any] = {
            "server": server,
            "store": {"url": redact_url(self.store_url)},
            "delivery": {
                "workers": delivery.workers,
                "horizon": format_duration(delivery.horizon),
                "first_delay": format_duration(delivery.first_delay),
                "max_delay": format_duration(delivery.max_delay),
                "lease": format_duration(delivery.lease),
            },
        }
        if self.status.token is not None:
            data["status"] = plain_data(self.status)
        data["tenants"] = {name: _tenant_data(tenant) for name, tenant in self.tenants.items()}
        return data


def _tenant_data(tenant: TenantConfig) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if tenant.base_url is None:
        data["environment"] = tenant.environment
    else:
        data["base_url"] = tenant.base_url
    data["provider_key"] = plain_data(tenant.provider_key)
    if tenant.integrator_secret is not None:
        data["integrator_secret"] = plain_data(tenant.integrator_secret)
    data["provider_key_header"] = tenant.provider_key_header
    data["sign_get"] = tenant.sign_get
    data["order_endpoint"] = tenant.order_endpoint
    data["webhook"] = plain_data(tenant.webhook)
    data["assessment"] = plain_data(tenant.assessment)
    ats = plain_data(tenant.ats)
    data["ats"] = {"kind": tenant.ats_kind, **(ats if isinstance(ats, dict) else {"config": ats})}
    return data


def _unique(emails: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for email in emails:
        key = email.strip().casefold()
        if key and key not in seen:
            seen[key] = email.strip()
    return tuple(seen.values())


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host
