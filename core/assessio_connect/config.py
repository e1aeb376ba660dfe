"""The daemon's multi-tenant TOML configuration: loading, validation, secret references, redaction.

Every problem in a file is reported at once, each as `message @ path`, in one `ConfigError`::

    [server]
    listen = "127.0.0.1:8080"            # host:port; [::1]:8080 for IPv6; port 0 = ephemeral
    public_url = "https://connect.example.com"   # base of every resultUpdateUrl;
                                         # default http://<listen>
    max_body_bytes = 1048576             # at least 1024
    threads = 8
    connection_limit = 500               # open connections served at once
    header_timeout = "10s"               # to send the request line and headers
    body_timeout = "30s"                 # to send the body, once the headers are in
    idle_timeout = "75s"                 # a keep-alive connection between requests

    [store]
    url = "sqlite:///assessio-connect.db"   # a relative sqlite path is relative to this file

    [delivery]
    workers = 4
    horizon = "36h"          # a number of seconds, or "90s" "15m" "36h" "2d"
    first_delay = "1s"
    max_delay = "1h"
    lease = "60s"

    [tenants.acme]                       # name: ^[a-z0-9][a-z0-9_-]{0,62}$ (used in URL paths)
    environment = "sandbox"              # sandbox | production; or base_url = "http://..."
    provider_key = { env = "ACME_PROVIDER_KEY" }
    integrator_secret = { file = "/run/secrets/acme-integrator" }   # optional
    provider_key_header = "provider-key" # optional, see assessio_connect.ClientSettings
    sign_get = false
    order_endpoint = "order"             # "order" (invite e-mail) or "link" (assessment link)

    [tenants.acme.webhook]               # how Assessio authenticates result webhooks
    api_keys = [{ env = "ACME_RESULT_KEY" }]             # at least one of the two lists
    signing_secrets = [{ env = "ACME_RESULT_SIGNING" }]
    tolerance = 300

    [tenants.acme.assessment]
    lens = "General Performance"         # default lens (id or name)
    locale = "en-GB"
    collaborators = ["recruiter@acme.example"]
    hiring_team_as_collaborators = false

    [[tenants.acme.assessment.rules]]    # first match wins; match on job and/or department
    job = "4012"
    department = "Engineering"           # compared case-insensitively
    lens = "Leadership"                  # lens, locale and collaborators are each optional
    locale = "sv-SE"
    collaborators = ["cto@acme.example"]

    [tenants.acme.ats]
    kind = "reference"                   # selects the connector; the rest is its `Config`

Secrets are never literal values but references, `{scheme = "reference"}`, resolved while
loading: `env` (an environment variable) and `file` (a file's text minus one trailing newline; a
relative path is relative to the configuration file) are built in, plugins may add schemes. A
connector's `Config` may declare fields of type `Secret` (or `Secret | None`, `tuple[Secret, ...]`)
that are written as references too. A `Secret` shows only its reference; `reveal()` gives the
value.
"""

from __future__ import annotations

import hmac
import ipaddress
import math
import os
import re
import stat
import sys
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

import attrs
import cattrs
from cattrs.cols import (
    homogenous_tuple_structure_factory,
    is_mutable_sequence,
    is_sequence,
    list_structure_factory,
)
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    ForbiddenExtraKeysError,
    StructureHandlerNotFoundError,
)
from cattrs.gen import make_dict_structure_fn, override

from ._server import DEFAULT_LIMITS, ConnectionLimits
from .connector import AssessmentChoice, AtsJob, Invitation
from .contract._strict import InvalidValue, register_strict_primitives, strict_str
from .contract.client import ENVIRONMENTS, AssessioClient, ClientSettings, Environment
from .contract.errors import ConfigError
from .contract.models import email_problem
from .contract.transport import Transport
from .contract.webhook import WebhookAuth

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 reads TOML with the tomli backport
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

__all__ = [
    "AssessmentRule",
    "AssessmentRules",
    "ConnectorConfigLookup",
    "DaemonConfig",
    "DeliveryConfig",
    "Secret",
    "SecretResolver",
    "ServerConfig",
    "StatusConfig",
    "TenantConfig",
    "WebhookConfig",
    "format_duration",
    "load_config",
    "parse_config",
    "parse_duration",
    "resolve_builtin_secret",
    "store_url_from_file",
    "tenant_kinds_from_file",
]

T = TypeVar("T")

ConnectorConfigLookup = Callable[[str], "type[Any] | None"]
"""`kind` -> the connector's attrs `Config` class, or None when no connector has that kind."""
SecretResolver = Callable[[str, str], "str | None"]
"""`(scheme, reference)` -> the secret's value, or None for a scheme nobody resolves."""

DEFAULT_STORE_URL = "sqlite:///assessio-connect.db"
_NOT_A_REFERENCE = (
    'secrets must be references such as {env = "NAME"} or {file = "path"}, not literal values'
)
REDACTED = "[redacted]"
SCRUB_MIN_LENGTH = 4
"""Resolved secrets at least this long are blanked out of problem messages, just in case."""

_TENANT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HOST_NAME = re.compile(r"[A-Za-z0-9.-]+")
_SIMPLE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:.+")
_TOML_WHERE = re.compile(r"^(.*?)\s*\(at (.+)\)$", re.DOTALL)
_DURATION = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([smhd]?)\s*")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_LARGEST_EXACT = 2**53
_TOP_TABLES = ("server", "store", "delivery", "status", "tenants")
_TENANT_TABLES = ("webhook", "assessment", "ats")


# Secrets


@attrs.frozen(eq=False, repr=False)
class Secret:
    """A resolved secret and the reference it came from; only `reveal()` shows the value."""

    reference: str
    """Where the value came from, e.g. `env:ACME_PROVIDER_KEY`; safe to show."""
    _value: str

    def reveal(self) -> str:
        """The secret's value: pass it where it is used, never to a log or a message."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.reference})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        same_value = hmac.compare_digest(self._value.encode(), other._value.encode())
        return self.reference == other.reference and same_value

    def __hash__(self) -> int:
        return hash((Secret, self.reference))


def resolve_builtin_secret(
    scheme: str, reference: str, *, base_dir: Path | None = None
) -> str | None:
    """`env` and `file` references; None for other schemes and for an unset variable.

    Raises `OSError` for a file that cannot be read and `ConfigError` for one that is not
    UTF-8. A relative file path is relative to `base_dir` (default: the working directory)."""
    if scheme == "env":
        return os.environ.get(reference)
    if scheme == "file":
        path = Path(reference).expanduser()
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ConfigError([f"secret file {path} is not UTF-8 text"]) from None
        if text.endswith("\r\n"):
            return text[:-2]
        return text[:-1] if text.endswith("\n") else text
    return None


def _loose_secret_file(path: Path) -> str | None:
    """A warning when the secret file at `path` is readable by its group or by others."""
    if os.name != "posix":
        return None  # permission bits mean nothing there
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    readers = [who for who, bit in (("group", 0o040), ("others", 0o004)) if mode & bit]
    if not readers:
        return None
    return (
        f"secret file {path} is readable by {' and '.join(readers)} (mode "
        f"{stat.S_IMODE(mode):04o}): make it readable by the daemon's user only, "
        f"e.g. chmod 600 {path}"
    )


# Durations


def parse_duration(value: object) -> float:
    """Seconds from a number of seconds or a string such as "90s", "15m", "36h" or "2d"."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(
            f'expected a duration such as 90, "90s", "15m", "36h" or "2d", got {_toml_type(value)}'
        )
    if isinstance(value, str):
        match = _DURATION.fullmatch(value)
        if match is None:
            raise ValueError(
                f'{value!r} is not a duration: write seconds (90) or "90s", "15m", "36h", "2d"'
            )
        seconds = float(match[1]) * _UNITS[match[2]]
    else:
        seconds = float(value)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError("a duration must be a finite number of seconds above 0")
    return seconds


def format_duration(seconds: float) -> str | float:
    """The shortest exact `parse_duration` input for `seconds`: "36h", "90s", or a number."""
    seconds = float(seconds)
    if not seconds.is_integer() or not 0 < seconds <= _LARGEST_EXACT:
        return seconds
    whole = int(seconds)
    for unit in ("d", "h", "m"):
        if whole % _UNITS[unit] == 0:
            return f"{whole // _UNITS[unit]}{unit}"
    return f"{whole}s"


# The configuration


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


def _redact_url(url: str) -> str:
    """`url` with the password of its userinfo (if any) replaced."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.netloc.rpartition("@")[2]
        netloc = f"{parts.username or ''}:{REDACTED}@{host}"
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return url


@attrs.frozen
class DaemonConfig:
    """A validated configuration file; secrets are resolved, reprs show only references."""

    source: str
    server: ServerConfig
    store_url: str = attrs.field(repr=_redact_url)
    delivery: DeliveryConfig
    tenants: Mapping[str, TenantConfig] = attrs.field(converter=_as_dict)
    warnings: tuple[str, ...] = attrs.field(default=(), eq=False)
    """What is valid but unsafe (a secret file others can read), for a warning at start."""
    status: StatusConfig = attrs.field(factory=StatusConfig)

    def secret_values(self) -> tuple[str, ...]:
        """Every resolved secret (and the store URL's password), for scrubbing logs."""
        found: list[str] = []
        password = _url_password(self.store_url)
        if password:
            found.append(password)
        if self.status.token is not None:
            found.append(self.status.token.reveal())
        found.extend(secret.reveal() for secret in _secrets_in(list(self.tenants.values())))
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
            "store": {"url": _redact_url(self.store_url)},
            "delivery": {
                "workers": delivery.workers,
                "horizon": format_duration(delivery.horizon),
                "first_delay": format_duration(delivery.first_delay),
                "max_delay": format_duration(delivery.max_delay),
                "lease": format_duration(delivery.lease),
            },
        }
        if self.status.token is not None:
            data["status"] = _plain(self.status)
        data["tenants"] = {name: _tenant_data(tenant) for name, tenant in self.tenants.items()}
        return data


def _tenant_data(tenant: TenantConfig) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if tenant.base_url is None:
        data["environment"] = tenant.environment
    else:
        data["base_url"] = tenant.base_url
    data["provider_key"] = _plain(tenant.provider_key)
    if tenant.integrator_secret is not None:
        data["integrator_secret"] = _plain(tenant.integrator_secret)
    data["provider_key_header"] = tenant.provider_key_header
    data["sign_get"] = tenant.sign_get
    data["order_endpoint"] = tenant.order_endpoint
    data["webhook"] = _plain(tenant.webhook)
    data["assessment"] = _plain(tenant.assessment)
    ats = _plain(tenant.ats)
    data["ats"] = {"kind": tenant.ats_kind, **(ats if isinstance(ats, dict) else {"config": ats})}
    return data


def _plain(value: Any) -> Any:
    """Plain data for `redacted()`: attrs classes become tables (None omitted), secrets refs."""
    if isinstance(value, Secret):
        return f"<redacted {value.reference}>"
    if attrs.has(type(value)):
        table = {}
        for field in attrs.fields(type(value)):
            item = getattr(value, field.name)
            if item is not None:
                table[field.alias or field.name] = _plain(item)
        return table
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _secrets_in(value: Any) -> Iterator[Secret]:
    if isinstance(value, Secret):
        yield value
    elif attrs.has(type(value)):
        for field in attrs.fields(type(value)):
            yield from _secrets_in(getattr(value, field.name))
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _secrets_in(item)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _secrets_in(item)


def _url_password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def _unique(emails: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for email in emails:
        key = email.strip().casefold()
        if key and key not in seen:
            seen[key] = email.strip()
    return tuple(seen.values())


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


# Reading the file


@attrs.frozen
class _ServerTable:
    listen: str = "127.0.0.1:8080"
    public_url: str | None = None
    max_body_bytes: int = 1048576
    threads: int = 8
    connection_limit: int = DEFAULT_LIMITS.connection_limit
    header_timeout: float = DEFAULT_LIMITS.header_timeout
    body_timeout: float = DEFAULT_LIMITS.body_timeout
    idle_timeout: float = DEFAULT_LIMITS.idle_timeout


@attrs.frozen
class _StoreTable:
    url: str = DEFAULT_STORE_URL


@attrs.frozen
class _TenantTable:
    """A tenant's own keys; its webhook, assessment and ats tables are read separately."""

    provider_key: Secret
    environment: str | None = None
    base_url: str | None = None
    integrator_secret: Secret | None = None
    provider_key_header: str = "provider-key"
    sign_get: bool = False
    order_endpoint: str = "order"


_Email = Annotated[str, "email address"]


def _toml_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return "a date or time" if value is not None else "nothing"


_structure_str = strict_str(_toml_type)


def _structure_duration(value: Any, _: Any) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise InvalidValue(str(exc)) from None


def _duration_or_none(value: Any) -> float | None:
    try:
        return parse_duration(value)
    except ValueError:
        return None


def _tables_only(inner: Callable[[Any, Any], T]) -> Callable[[Any, Any], T]:
    def structure_table(value: Any, type_: Any) -> T:
        if not isinstance(value, dict):
            raise InvalidValue(f"expected a table, got {_toml_type(value)}")
        return inner(value, type_)

    return structure_table


def _mentions_secret(tp: Any, seen: frozenset[Any] = frozenset()) -> bool:
    """Whether reading a value of type `tp` may resolve a `Secret` (in a nested table too)."""
    if tp is Secret:
        return True
    if tp in seen:
        return False
    inner = list(typing.get_args(tp))
    if isinstance(tp, type) and attrs.has(tp):
        try:
            inner += [field.type for field in attrs.fields(attrs.resolve_types(tp))]
        except Exception:  # unresolvable annotations: assume the worst
            return True
    return any(_mentions_secret(arg, seen | {tp}) for arg in inner)


def _convert(field: attrs.Attribute[Any], value: Any) -> Any:
    converter = field.converter
    if converter is None:
        return value
    if isinstance(converter, attrs.Converter):
        wrapped: Any = converter  # attrs' stubs do not declare the attributes read here
        if wrapped.takes_self:
            raise LookupError("a converter that needs the instance cannot run alone")
        args = (value, field) if wrapped.takes_field else (value,)
        return wrapped.converter(*args)
    return converter(value)


def _field_failures(
    conv: cattrs.Converter, cls: type[Any], table: dict[str, Any]
) -> list[Exception]:
    """Each field whose converter or validator refuses its value, run one by one, with a
    note naming the field (so `transform_error` reports it at `….ats.<key>`). Secret fields
    are left out: reading them again would resolve each secret a second time."""
    try:
        fields = attrs.fields(attrs.resolve_types(cls))
    except Exception:  # unresolvable annotations: no field can be named
        return []
    values: dict[str, Any] = {}
    failures: list[Exception] = []

    def failed(exc: Exception, field: attrs.Attribute[Any]) -> None:
        key = field.alias or field.name
        note = AttributeValidationNote(f"Structuring {cls.__qualname__} @ {key}", key, field.type)
        setattr(exc, "__notes__", [note])  # noqa: B010 - add_note() is Python 3.11+
        failures.append(exc)

    for field in fields:
        key = field.alias or field.name
        if not field.init or _mentions_secret(field.type):
            continue
        try:
            if key in table:
                value = conv.structure(table[key], field.type)
            elif isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
                if field.default.takes_self:
                    continue
                value = field.default.factory()
            elif field.default is not attrs.NOTHING:
                value = field.default
            else:
                continue
            values[field.name] = _convert(field, value)
        except (TypeError, ValueError) as exc:
            if key in table:
                failed(exc, field)
        except Exception:  # noqa: S112 - what cannot run alone is reported with the table
            continue
    bare = object.__new__(cls)
    for name, value in values.items():
        object.__setattr__(bare, name, value)
    for field in fields:
        if field.validator is None or field.name not in values:
            continue
        try:
            field.validator(bare, field, values[field.name])
        except (TypeError, ValueError) as exc:
            failed(exc, field)
        except Exception:  # noqa: S112 - e.g. a validator reading a field left out above
            continue
    return failures


def _with_field_paths(
    conv: cattrs.Converter, cls: type[Any], inner: Callable[[Any, Any], T]
) -> Callable[[Any, Any], T]:
    """attrs runs a class's converters and validators once every field is read, stops at the
    first failure and names no field: a connector's `base_url` validator would be reported
    at the table. When building the class fails, each field is checked alone instead, and
    every failing one is reported at its own key; what no field explains (a cross-field
    check in `__attrs_post_init__`) stays at the table."""

    def diagnosed(value: Any) -> ClassValidationError | None:
        failures = _field_failures(conv, cls, value) if isinstance(value, dict) else []
        return (
            ClassValidationError(f"While structuring {cls.__name__}", failures, cls)
            if failures
            else None
        )

    def structure(value: Any, type_: Any) -> T:
        try:
            return inner(value, type_)
        except ClassValidationError as exc:
            # cattrs wraps the class's own failure without a note; a field that could not
            # be read at all has one, and is reported as it is.
            noted, others = exc.group_exceptions()
            if noted or not all(isinstance(e, (TypeError, ValueError)) for e in others):
                raise
            found = diagnosed(value)
            if found is None:
                raise
            raise found from None
        except (TypeError, ValueError):  # cattrs versions that do not wrap it
            found = diagnosed(value)
            if found is None:
                raise
            raise found from None

    return structure


def _at_least(minimum: int, unit: str = "") -> Callable[[int], str | None]:
    def check(value: int) -> str | None:
        return None if value >= minimum else f"must be at least {minimum}{unit}, not {value}"

    return check


def _listen_problem(value: str) -> str | None:
    try:
        _listen(value)
    except InvalidValue as exc:
        return str(exc)
    return None


def _not_blank(value: str) -> str | None:
    return None if value.strip() else "must not be empty"


def _environment_problem(value: str) -> str | None:
    if value in ENVIRONMENTS:
        return None
    return f"unknown environment {value!r}: use " + " or ".join(sorted(ENVIRONMENTS))


def _order_endpoint_problem(value: str) -> str | None:
    if value in ("order", "link"):
        return None
    return f'"order" (invitation e-mail) or "link" (assessment link) expected, not {value!r}'


def _header_problem(value: str) -> str | None:
    return None if _HEADER_NAME.fullmatch(value) else f"{value!r} is not an HTTP header name"


def _structure_email(value: Any, _: Any) -> str:
    text = _structure_str(value, str)
    problem = email_problem(text)
    if problem:
        raise InvalidValue(problem)
    return text


def _make_converter(structure_secret: Callable[[Any, Any], Secret]) -> cattrs.Converter:
    """Strict about TOML types, rejecting unknown keys; field checks run while structuring,
    so a bad value is reported next to its siblings' problems."""
    conv = cattrs.Converter(detailed_validation=True, forbid_extra_keys=True)
    register_strict_primitives(conv, _toml_type)
    conv.register_structure_hook(Secret, structure_secret)
    conv.register_structure_hook_func(lambda tp: tp is _Email, _structure_email)

    def array_factory(tp: Any) -> Any:
        # cattrs would iterate any iterable, turning "a@b.c" into ('a', '@', …).
        if is_mutable_sequence(tp):
            elements = list_structure_factory(tp, conv)
        else:
            elements = homogenous_tuple_structure_factory(tp, conv)

        def structure_array(value: Any, type_: Any) -> Any:
            if not isinstance(value, list):
                raise InvalidValue(f"expected an array, got {_toml_type(value)}")
            return elements(value, type_)

        return structure_array

    def table_factory(cls: Any) -> Any:
        structure = make_dict_structure_fn(cls, conv, _cattrs_forbid_extra_keys=True)
        return _tables_only(_with_field_paths(conv, cls, structure))

    def checked(tp: Any, check: Callable[[Any], str | None]) -> Callable[[Any, Any], Any]:
        def structure_checked(value: Any, _: Any) -> Any:
            result = conv.structure(value, tp)
            problem = check(result)
            if problem:
                raise InvalidValue(problem)
            return result

        return structure_checked

    def emails(value: Any, _: Any) -> tuple[str, ...]:
        return conv.structure(value, tuple[_Email, ...])

    def table(cls: type[Any], **fields: Callable[[Any, Any], Any]) -> None:
        overrides: dict[str, Any] = {
            name: override(struct_hook=hook) for name, hook in fields.items()
        }
        structure = make_dict_structure_fn(cls, conv, _cattrs_forbid_extra_keys=True, **overrides)
        conv.register_structure_hook(cls, _tables_only(structure))

    conv.register_structure_hook_factory(is_sequence, array_factory)
    conv.register_structure_hook_factory(attrs.has, table_factory)
    table(
        _ServerTable,
        listen=checked(str, _listen_problem),
        public_url=checked(str, _http_url_problem),
        max_body_bytes=checked(int, _at_least(1024, " bytes")),
        threads=checked(int, _at_least(1)),
        connection_limit=checked(int, _at_least(10)),
        header_timeout=_structure_duration,
        body_timeout=_structure_duration,
        idle_timeout=_structure_duration,
    )
    table(
        DeliveryConfig,
        workers=checked(int, _at_least(1)),
        horizon=_structure_duration,
        first_delay=_structure_duration,
        max_delay=_structure_duration,
        lease=_structure_duration,
    )
    table(
        _TenantTable,
        environment=checked(str, _environment_problem),
        base_url=checked(str, _http_url_problem),
        provider_key_header=checked(str, _header_problem),
        order_endpoint=checked(str, _order_endpoint_problem),
    )
    table(WebhookConfig, tolerance=checked(int, _at_least(1, " second")))
    table(
        AssessmentRules,
        lens=checked(str, _not_blank),
        locale=checked(str, _not_blank),
        collaborators=emails,
    )
    table(
        AssessmentRule,
        job=checked(str, _not_blank),
        department=checked(str, _not_blank),
        lens=checked(str, _not_blank),
        locale=checked(str, _not_blank),
        collaborators=emails,
    )
    return conv


def _format_exception(exc: BaseException, type_: Any) -> str:
    if isinstance(exc, InvalidValue):
        return str(exc)
    if isinstance(exc, ForbiddenExtraKeysError):
        names = ", ".join(repr(name) for name in sorted(exc.extra_fields))
        noun = "key" if len(exc.extra_fields) == 1 else "keys"
        known = ""
        if attrs.has(exc.cl):
            known = " (known: " + ", ".join(f.alias or f.name for f in attrs.fields(exc.cl)) + ")"
        return f"unknown {noun} {names}{known}"
    if isinstance(exc, KeyError):
        return "required key missing"
    if isinstance(exc, (TypeError, ValueError)):
        # attrs validators of connector configs raise these; their message says what is wrong.
        # attrs' own validators (`ge`, `matches_re`, …) pass (message, attribute, …) as args.
        if len(exc.args) > 1 and isinstance(exc.args[0], str):
            return exc.args[0]
        return str(exc) or "invalid value"
    return cattrs.v.format_exception(exc, type_)


def _key_path(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if _SIMPLE_KEY.fullmatch(key) else f"{prefix}[{key!r}]"


def _toml_problem(exc: Exception) -> str:
    message = str(exc)
    found = _TOML_WHERE.match(message)
    if found is None:
        return f"not valid TOML: {message} @ $"
    return f"not valid TOML: {found[1]} @ {found[2]}"


def _listen(value: str) -> tuple[str, int]:
    if value.startswith("["):
        host, closed, rest = value[1:].partition("]")
        if not closed or not rest.startswith(":"):
            raise InvalidValue(f"{value!r} is not host:port; an IPv6 listen looks like [::1]:8080")
        port_text = rest[1:]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise InvalidValue(f"{host!r} is not an IPv6 address") from None
    else:
        host, colon, port_text = value.rpartition(":")
        if not colon:
            raise InvalidValue(f"{value!r} is not host:port, e.g. 127.0.0.1:8080")
        if ":" in host:
            raise InvalidValue("put an IPv6 address in brackets, e.g. [::1]:8080")
        if not host:
            raise InvalidValue(
                "give a host, e.g. 127.0.0.1:8080 (or 0.0.0.0:8080 for every interface)"
            )
        if not _HOST_NAME.fullmatch(host):
            raise InvalidValue(f"{host!r} is not a host name or address")
    if not (port_text.isascii() and port_text.isdigit()) or int(port_text) > 65535:
        raise InvalidValue(f"the port must be a number from 0 to 65535, not {port_text!r}")
    return host, int(port_text)


def _http_url_problem(value: str) -> str | None:
    """Why `value` is not a plain http(s) base URL; never echoes credentials."""
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises ValueError for a bad port
    except ValueError:
        return "not a valid URL"
    if "@" in parts.netloc:
        return "the URL must not contain credentials"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"expected an http:// or https:// URL, got {value!r}"
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        return "the URL must not have a query or a fragment"
    return None


def _absolute_store_url(url: str, base_dir: Path) -> str:
    """`sqlite:///relative.db` -> `sqlite:////config/dir/relative.db`; other URLs unchanged."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return url
    path, question, query = url[len(prefix) :].partition("?")
    if not path or path == ":memory:" or path.startswith("/"):
        return url
    return prefix + str(base_dir / path) + question + query


class _Loader:
    """Reads one file, collecting every problem before raising them together."""

    def __init__(
        self,
        *,
        source: str,
        base_dir: Path,
        connector_config: ConnectorConfigLookup,
        resolve_secret: SecretResolver,
        known_kinds: Iterable[str],
    ) -> None:
        self.source = source
        self.base_dir = base_dir
        self.connector_config = connector_config
        self.resolve_secret = resolve_secret
        self.known_kinds = tuple(known_kinds)
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.resolved: list[str] = []
        self.converter = _make_converter(self._structure_secret)

    def error(self) -> ConfigError:
        """One `ConfigError` with every problem, any resolved secret blanked out."""
        secrets = sorted(
            {value for value in self.resolved if len(value) >= SCRUB_MIN_LENGTH},
            key=len,
            reverse=True,
        )
        problems = []
        for problem in self.problems:
            for secret in secrets:
                problem = problem.replace(secret, REDACTED)
            problems.append(problem)
        return ConfigError(problems, source=self.source)

    def problem(self, message: str, path: str) -> None:
        self.problems.append(f"{message} @ {path}")

    def structure(self, data: Any, cls: type[T], path: str) -> T | None:
        """`cls` from TOML data, or None after recording each problem with its path."""
        try:
            return self.converter.structure(data, cls)
        except (cattrs.ClassValidationError, cattrs.IterableValidationError) as exc:
            found = cattrs.transform_error(exc, path=path, format_exception=_format_exception)
            self.problems.extend(found)
        except StructureHandlerNotFoundError as exc:
            self.problem(f"cannot read this table: {exc}", path)
        except (cattrs.BaseValidationError, KeyError, TypeError, ValueError) as exc:
            self.problem(_format_exception(exc, cls), path)
        return None

    def _structure_secret(self, value: Any, _: Any) -> Secret:
        if isinstance(value, str):
            raise InvalidValue(_NOT_A_REFERENCE)
        if not isinstance(value, dict):
            raise InvalidValue(
                'expected a secret reference such as {env = "NAME"} or {file = "path"}, '
                f"got {_toml_type(value)}"
            )
        if len(value) != 1:
            keys = ", ".join(sorted(value)) or "none"
            raise InvalidValue(
                'a secret reference has exactly one key, such as {env = "NAME"}; '
                f"found {len(value)} ({keys})"
            )
        ((scheme, reference),) = value.items()
        if not isinstance(reference, str) or not reference:
            raise InvalidValue(f"the {scheme} reference must be a non-empty string")
        return self._resolve(scheme, reference)

    def _resolve(self, scheme: str, reference: str) -> Secret:
        label = f"{scheme}:{reference}"
        lookup = reference
        if scheme == "file" and not Path(reference).expanduser().is_absolute():
            lookup = str(self.base_dir / reference)
        try:
            value = self.resolve_secret(scheme, lookup)
        except ConfigError as exc:
            raise InvalidValue("; ".join(exc.problems)) from None
        except KeyError:
            if scheme == "env":
                raise InvalidValue(f"environment variable {reference} is not set") from None
            raise InvalidValue(f"secret {label} was not found") from None
        except OSError as exc:
            where = f"file {lookup}" if scheme == "file" else label
            raise InvalidValue(f"cannot read secret {where}: {exc.strerror or exc}") from None
        except Exception as exc:  # a resolver plugin's own error must not show a traceback
            raise InvalidValue(f"cannot resolve secret {label} ({type(exc).__name__})") from None
        if value is None and scheme == "env":
            raise InvalidValue(f"environment variable {reference} is not set")
        if value is None:
            raise InvalidValue(
                f"unknown secret scheme {scheme!r} (use env or file, or install a plugin for it)"
            )
        if not isinstance(value, str):
            raise InvalidValue(f"the resolver for {scheme!r} did not return text")
        if not value:
            raise InvalidValue(f"secret {label} is empty")
        self.resolved.append(value)
        if scheme == "file":
            warning = _loose_secret_file(Path(lookup).expanduser())
            if warning and warning not in self.warnings:
                self.warnings.append(warning)
        return Secret(label, value)

    # The file, table by table

    def document(self, text: str) -> dict[str, Any]:
        try:
            document: dict[str, Any] = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([_toml_problem(exc)], source=self.source) from None
        for key in document:
            if key not in _TOP_TABLES:
                known = ", ".join(_TOP_TABLES)
                self.problem(f"unknown table {key!r} (known: {known})", "$")
        return document

    def table(self, document: Mapping[str, Any], key: str) -> dict[str, Any] | None:
        value = document.get(key, {})
        if not isinstance(value, dict):
            self.problem(f"expected a table, got {_toml_type(value)}", f"$.{key}")
            return None
        return value

    def server(self, table: dict[str, Any] | None) -> ServerConfig | None:
        parsed = self.structure(table, _ServerTable, "$.server") if table is not None else None
        if parsed is None:
            return None
        host, port = _listen(parsed.listen)
        public_url = parsed.public_url.rstrip("/") if parsed.public_url else None
        return ServerConfig(
            host,
            port,
            public_url,
            parsed.max_body_bytes,
            parsed.threads,
            connection_limit=parsed.connection_limit,
            header_timeout=parsed.header_timeout,
            body_timeout=parsed.body_timeout,
            idle_timeout=parsed.idle_timeout,
        )

    def store(self, table: dict[str, Any] | None) -> str | None:
        parsed = self.structure(table, _StoreTable, "$.store") if table is not None else None
        if parsed is None:
            return None
        if not _URL_SCHEME.fullmatch(parsed.url):
            self.problem(f"expected a URL such as {DEFAULT_STORE_URL}", "$.store.url")
            return None
        return _absolute_store_url(parsed.url, self.base_dir)

    def delivery(self, table: dict[str, Any] | None) -> DeliveryConfig | None:
        if table is None:
            return None
        before = len(self.problems)
        parsed = self.structure(table, DeliveryConfig, "$.delivery")
        defaults = DeliveryConfig()
        first = _duration_or_none(table.get("first_delay", defaults.first_delay))
        most = _duration_or_none(table.get("max_delay", defaults.max_delay))
        if first is not None and most is not None and first > most:
            self.problem(
                f"first_delay ({first:g}s) is longer than max_delay ({most:g}s)",
                "$.delivery.first_delay",
            )
        return parsed if len(self.problems) == before else None

    def status(self, table: dict[str, Any] | None) -> StatusConfig | None:
        if table is None:
            return None
        parsed = self.structure(table, StatusConfig, "$.status")
        token = None if parsed is None else parsed.token
        if token is not None and len(token.reveal()) < STATUS_TOKEN_MIN_LENGTH:
            self.problem(
                f"the operator token must be at least {STATUS_TOKEN_MIN_LENGTH} characters "
                "(e.g. the output of `openssl rand -hex 32`)",
                "$.status.token",
            )
            return None
        return parsed

    def tenants(self, value: Any, only_tenant: str | None) -> dict[str, TenantConfig]:
        path = "$.tenants"
        if value is not None and not isinstance(value, dict):
            self.problem(f"expected a table, got {_toml_type(value)}", path)
            return {}
        if not value:
            self.problem("no tenants: add a [tenants.NAME] table for each organisation", path)
            return {}
        names = list(value)
        if only_tenant is not None:
            if only_tenant not in value:
                configured = ", ".join(names)
                self.problem(f"no tenant named {only_tenant!r} (configured: {configured})", path)
                return {}
            names = [only_tenant]
        found = {}
        for name in names:
            tenant = self.tenant(name, value[name])
            if tenant is not None:
                found[name] = tenant
        return found

    def tenant(self, name: str, table: Any) -> TenantConfig | None:
        path = _key_path("$.tenants", name)
        before = len(self.problems)
        if not _TENANT_NAME.fullmatch(name):
            self.problem(
                f"tenant name {name!r} must be 1-63 lowercase letters, digits, '-' or '_', "
                "starting with a letter or digit (it is part of URLs)",
                path,
            )
        if not isinstance(table, dict):
            self.problem(f"expected a table, got {_toml_type(table)}", path)
            return None
        own = {key: item for key, item in table.items() if key not in _TENANT_TABLES}
        parsed = self.structure(own, _TenantTable, path)
        if "environment" in own and "base_url" in own:
            self.problem("set environment or base_url, not both", f"{path}.base_url")
        elif "environment" not in own and "base_url" not in own:
            self.problem(
                'set environment = "sandbox" or "production" (or base_url for a test server)',
                path,
            )
        webhook = self.webhook(table.get("webhook"), f"{path}.webhook")
        assessment = self.assessment(table.get("assessment", {}), f"{path}.assessment")
        ats = self.ats(table.get("ats"), f"{path}.ats")
        if (
            len(self.problems) > before
            or parsed is None
            or webhook is None
            or assessment is None
            or ats is None
        ):
            return None
        return TenantConfig(
            name=name,
            environment=cast(Environment, parsed.environment or "sandbox"),
            base_url=parsed.base_url.rstrip("/") if parsed.base_url else None,
            provider_key=parsed.provider_key,
            integrator_secret=parsed.integrator_secret,
            provider_key_header=parsed.provider_key_header,
            sign_get=parsed.sign_get,
            order_endpoint=cast(Literal["order", "link"], parsed.order_endpoint),
            webhook=webhook,
            assessment=assessment,
            ats_kind=ats[0],
            ats=ats[1],
        )

    def webhook(self, value: Any, path: str) -> WebhookConfig | None:
        needs = "a result webhook needs api_keys, signing_secrets, or both"
        if value is None:
            self.problem(f"missing table: {needs}", path)
            return None
        webhook = self.structure(value, WebhookConfig, path)
        if (
            isinstance(value, dict)
            and not value.get("api_keys")
            and not value.get("signing_secrets")
        ):
            self.problem(needs, path)
            return None
        return webhook

    def assessment(self, value: Any, path: str) -> AssessmentRules | None:
        before = len(self.problems)
        rules = self.structure(value, AssessmentRules, path)
        raw_rules = value.get("rules") if isinstance(value, dict) else None
        for index, rule in enumerate(raw_rules if isinstance(raw_rules, list) else ()):
            if not isinstance(rule, dict):
                continue
            rule_path = f"{path}.rules[{index}]"
            if "job" not in rule and "department" not in rule:
                self.problem("a rule needs job, department or both to match on", rule_path)
            if not {"lens", "locale", "collaborators"} & rule.keys():
                self.problem("a rule must set lens, locale or collaborators", rule_path)
        return rules if len(self.problems) == before else None

    def ats(self, value: Any, path: str) -> tuple[str, Any] | None:
        if value is None:
            self.problem('missing table: say which ATS with kind = "..."', path)
            return None
        if not isinstance(value, dict):
            self.problem(f"expected a table, got {_toml_type(value)}", path)
            return None
        kind = value.get("kind")
        if not isinstance(kind, str):
            message = "required key missing" if kind is None else "expected a string"
            self.problem(f'{message}: the connector kind, e.g. kind = "reference"', f"{path}.kind")
            return None
        cls = self.connector_config(kind)
        if cls is None:
            installed = ", ".join(sorted(self.known_kinds)) or "none"
            self.problem(f"unknown ats.kind {kind!r} (installed: {installed})", f"{path}.kind")
            return None
        rest = {key: item for key, item in value.items() if key != "kind"}
        config = self.structure(rest, cls, path)
        return None if config is None else (kind, config)


def parse_config(
    text: str,
    *,
    source: str,
    base_dir: Path,
    connector_config: ConnectorConfigLookup,
    resolve_secret: SecretResolver,
    only_tenant: str | None = None,
    known_kinds: Iterable[str] = (),
) -> DaemonConfig:
    """Validate a configuration's text and resolve its secrets.

    Raises one `ConfigError` listing every problem as `message @ path`. With `only_tenant`,
    only that tenant is read (and only its secrets are resolved)."""
    loader = _Loader(
        source=source,
        base_dir=base_dir,
        connector_config=connector_config,
        resolve_secret=resolve_secret,
        known_kinds=known_kinds,
    )
    document = loader.document(text)
    server = loader.server(loader.table(document, "server"))
    store_url = loader.store(loader.table(document, "store"))
    delivery = loader.delivery(loader.table(document, "delivery"))
    status = loader.status(loader.table(document, "status"))
    tenants = loader.tenants(document.get("tenants"), only_tenant)
    if loader.problems or server is None or store_url is None or delivery is None:
        raise loader.error()
    if status is None:  # pragma: no cover - a problem was recorded with it
        raise loader.error()
    return DaemonConfig(
        source, server, store_url, delivery, tenants, tuple(loader.warnings), status
    )


def _read_text(path: str | os.PathLike[str], source: str) -> str:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError([f"cannot read the file: {reason}"], source=source) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(["the file is not UTF-8 text"], source=source) from None


def load_config(
    path: str | os.PathLike[str],
    *,
    connector_config: ConnectorConfigLookup,
    resolve_secret: SecretResolver,
    only_tenant: str | None = None,
    known_kinds: Iterable[str] = (),
) -> DaemonConfig:
    """Read and validate a configuration file (see `parse_config`).

    Relative paths in it (sqlite store, secret files) are relative to the file's folder."""
    source = str(path)
    return parse_config(
        _read_text(path, source),
        source=source,
        base_dir=Path(path).resolve().parent,
        connector_config=connector_config,
        resolve_secret=resolve_secret,
        only_tenant=only_tenant,
        known_kinds=known_kinds,
    )


def store_url_from_file(path: str | os.PathLike[str]) -> str:
    """Only the store URL of a configuration file (no tenant is read, no secret resolved)."""
    source = str(path)
    loader = _Loader(
        source=source,
        base_dir=Path(path).resolve().parent,
        connector_config=lambda kind: None,
        resolve_secret=lambda scheme, reference: None,
        known_kinds=(),
    )
    document = loader.document(_read_text(path, source))
    loader.problems.clear()  # only the store matters here
    url = loader.store(loader.table(document, "store"))
    if loader.problems or url is None:
        raise loader.error()
    return url


def tenant_kinds_from_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """Each tenant's name and `ats.kind` ("?" when unreadable) as the file lists them, no
    secret resolved: enough for operator commands where the secrets cannot be read."""
    source = str(path)
    loader = _Loader(
        source=source,
        base_dir=Path(path).resolve().parent,
        connector_config=lambda kind: None,
        resolve_secret=lambda scheme, reference: None,
        known_kinds=(),
    )
    tenants = loader.document(_read_text(path, source)).get("tenants")
    if not isinstance(tenants, dict):
        return {}
    kinds = {}
    for name, table in tenants.items():
        ats = table.get("ats") if isinstance(table, dict) else None
        kind = ats.get("kind") if isinstance(ats, dict) else None
        kinds[str(name)] = kind if isinstance(kind, str) else "?"
    return kinds
