"""Loading a configuration file: every problem at once in one `ConfigError`, secrets
resolved through the plugins, connector tables through their `Config` classes."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

import cattrs
from cattrs.errors import StructureHandlerNotFoundError

from assessio_connect.contract._strict import InvalidValue
from assessio_connect.contract.client import Environment
from assessio_connect.contract.errors import ConfigError
from assessio_connect.runtime.plugins import Plugins

from ._models import (
    DEFAULT_STORE_URL,
    STATUS_TOKEN_MIN_LENGTH,
    AssessmentRules,
    DaemonConfig,
    DeliveryConfig,
    ServerConfig,
    StatusConfig,
    TenantConfig,
    WebhookConfig,
)
from ._redaction import REDACTED, SCRUB_MIN_LENGTH
from ._secrets import Secret, SecretResolver, loose_secret_file
from ._validation import (
    ServerTable,
    StoreTable,
    TenantTable,
    absolute_store_url,
    duration_or_none,
    format_exception,
    key_path,
    listen_address,
    make_converter,
    toml_problem,
)
from ._values import toml_type

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 reads TOML with the tomli backport
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

__all__ = [
    "ConnectorConfigLookup",
    "load_config",
    "load_daemon_config",
    "parse_config",
    "store_url_from_file",
    "tenant_kinds_from_file",
]

T = TypeVar("T")
ConnectorConfigLookup = Callable[[str], "type[Any] | None"]
"""`kind` -> the connector's attrs `Config` class, or None when no connector has that kind."""
_NOT_A_REFERENCE = (
    'secrets must be references such as {env = "NAME"} or {file = "path"}, not literal values'
)
_TENANT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:.+")
_TOP_TABLES = ("server", "store", "delivery", "status", "tenants")
_TENANT_TABLES = ("webhook", "assessment", "ats")


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
        self.converter = make_converter(self._structure_secret)

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
            found = cattrs.transform_error(exc, path=path, format_exception=format_exception)
            self.problems.extend(found)
        except StructureHandlerNotFoundError as exc:
            self.problem(f"cannot read this table: {exc}", path)
        except (cattrs.BaseValidationError, KeyError, TypeError, ValueError) as exc:
            self.problem(format_exception(exc, cls), path)
        return None

    def _structure_secret(self, value: Any, _: Any) -> Secret:
        if isinstance(value, str):
            raise InvalidValue(_NOT_A_REFERENCE)
        if not isinstance(value, dict):
            raise InvalidValue(
                'expected a secret reference such as {env = "NAME"} or {file = "path"}, '
                f"got {toml_type(value)}"
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
            warning = loose_secret_file(Path(lookup).expanduser())
            if warning and warning not in self.warnings:
                self.warnings.append(warning)
        return Secret(label, value)

    # The file, table by table

    def document(self, text: str) -> dict[str, Any]:
        try:
            document: dict[str, Any] = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([toml_problem(exc)], source=self.source) from None
        for key in document:
            if key not in _TOP_TABLES:
                known = ", ".join(_TOP_TABLES)
                self.problem(f"unknown table {key!r} (known: {known})", "$")
        return document

    def table(self, document: Mapping[str, Any], key: str) -> dict[str, Any] | None:
        value = document.get(key, {})
        if not isinstance(value, dict):
            self.problem(f"expected a table, got {toml_type(value)}", f"$.{key}")
            return None
        return value

    def server(self, table: dict[str, Any] | None) -> ServerConfig | None:
        parsed = self.structure(table, ServerTable, "$.server") if table is not None else None
        if parsed is None:
            return None
        host, port = listen_address(parsed.listen)
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
        parsed = self.structure(table, StoreTable, "$.store") if table is not None else None
        if parsed is None:
            return None
        if not _URL_SCHEME.fullmatch(parsed.url):
            self.problem(f"expected a URL such as {DEFAULT_STORE_URL}", "$.store.url")
            return None
        return absolute_store_url(parsed.url, self.base_dir)

    def delivery(self, table: dict[str, Any] | None) -> DeliveryConfig | None:
        if table is None:
            return None
        before = len(self.problems)
        parsed = self.structure(table, DeliveryConfig, "$.delivery")
        defaults = DeliveryConfig()
        first = duration_or_none(table.get("first_delay", defaults.first_delay))
        most = duration_or_none(table.get("max_delay", defaults.max_delay))
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
            self.problem(f"expected a table, got {toml_type(value)}", path)
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
        path = key_path("$.tenants", name)
        before = len(self.problems)
        if not _TENANT_NAME.fullmatch(name):
            self.problem(
                f"tenant name {name!r} must be 1-63 lowercase letters, digits, '-' or '_', "
                "starting with a letter or digit (it is part of URLs)",
                path,
            )
        if not isinstance(table, dict):
            self.problem(f"expected a table, got {toml_type(table)}", path)
            return None
        own = {key: item for key, item in table.items() if key not in _TENANT_TABLES}
        parsed = self.structure(own, TenantTable, path)
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
            self.problem(f"expected a table, got {toml_type(value)}", path)
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


def load_daemon_config(
    plugins: Plugins, path: Path, *, only_tenant: str | None = None
) -> DaemonConfig:
    """Load and validate `path`, resolving secrets through the plugins."""
    base = path.resolve().parent

    def resolve(scheme: str, reference: str) -> str | None:
        if scheme == "file" and not Path(reference).is_absolute():
            reference = str(base / reference)
        return plugins.resolve_secret(scheme, reference)

    return load_config(
        path,
        connector_config=plugins.connector_config,
        resolve_secret=resolve,
        known_kinds=sorted(plugins.connectors),
        only_tenant=only_tenant,
    )
