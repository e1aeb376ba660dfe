"""Reading TOML tables strictly: the cattrs converter, each key's checks, and every problem
worded with its path."""

from __future__ import annotations

import ipaddress
import re
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

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
)
from cattrs.gen import make_dict_structure_fn, override

from assessio_connect.contract._strict import InvalidValue, register_strict_primitives, strict_str
from assessio_connect.contract.client import ENVIRONMENTS
from assessio_connect.contract.models import email_problem
from assessio_connect.runtime._server import DEFAULT_LIMITS

from ._models import (
    DEFAULT_STORE_URL,
    AssessmentRule,
    AssessmentRules,
    DeliveryConfig,
    WebhookConfig,
)
from ._secrets import Secret
from ._values import parse_duration, toml_type

__all__ = [
    "ServerTable",
    "StoreTable",
    "TenantTable",
    "absolute_store_url",
    "duration_or_none",
    "format_exception",
    "key_path",
    "listen_address",
    "make_converter",
    "toml_problem",
]

T = TypeVar("T")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HOST_NAME = re.compile(r"[A-Za-z0-9.-]+")
_SIMPLE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_TOML_WHERE = re.compile(r"^(.*?)\s*\(at (.+)\)$", re.DOTALL)


@attrs.frozen
class ServerTable:
    listen: str = "127.0.0.1:8080"
    public_url: str | None = None
    max_body_bytes: int = 1048576
    threads: int = 8
    connection_limit: int = DEFAULT_LIMITS.connection_limit
    header_timeout: float = DEFAULT_LIMITS.header_timeout
    body_timeout: float = DEFAULT_LIMITS.body_timeout
    idle_timeout: float = DEFAULT_LIMITS.idle_timeout


@attrs.frozen
class StoreTable:
    url: str = DEFAULT_STORE_URL


@attrs.frozen
class TenantTable:
    """A tenant's own keys; its webhook, assessment and ats tables are read separately."""

    provider_key: Secret
    environment: str | None = None
    base_url: str | None = None
    integrator_secret: Secret | None = None
    provider_key_header: str = "provider-key"
    sign_get: bool = False
    order_endpoint: str = "order"


_Email = Annotated[str, "email address"]


_structure_str = strict_str(toml_type)


def _structure_duration(value: Any, _: Any) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise InvalidValue(str(exc)) from None


def duration_or_none(value: Any) -> float | None:
    try:
        return parse_duration(value)
    except ValueError:
        return None


def _tables_only(inner: Callable[[Any, Any], T]) -> Callable[[Any, Any], T]:
    def structure_table(value: Any, type_: Any) -> T:
        if not isinstance(value, dict):
            raise InvalidValue(f"expected a table, got {toml_type(value)}")
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
        listen_address(value)
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


def make_converter(structure_secret: Callable[[Any, Any], Secret]) -> cattrs.Converter:
    """Strict about TOML types, rejecting unknown keys; field checks run while structuring,
    so a bad value is reported next to its siblings' problems."""
    conv = cattrs.Converter(detailed_validation=True, forbid_extra_keys=True)
    register_strict_primitives(conv, toml_type)
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
                raise InvalidValue(f"expected an array, got {toml_type(value)}")
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
        ServerTable,
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
        TenantTable,
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


def format_exception(exc: BaseException, type_: Any) -> str:
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


def key_path(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if _SIMPLE_KEY.fullmatch(key) else f"{prefix}[{key!r}]"


def toml_problem(exc: Exception) -> str:
    message = str(exc)
    found = _TOML_WHERE.match(message)
    if found is None:
        return f"not valid TOML: {message} @ $"
    return f"not valid TOML: {found[1]} @ {found[2]}"


def listen_address(value: str) -> tuple[str, int]:
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


def absolute_store_url(url: str, base_dir: Path) -> str:
    """`sqlite:///relative.db` -> `sqlite:////config/dir/relative.db`; other URLs unchanged."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return url
    path, question, query = url[len(prefix) :].partition("?")
    if not path or path == ":memory:" or path.startswith("/"):
        return url
    return prefix + str(base_dir / path) + question + query
