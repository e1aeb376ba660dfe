"""Reading a `postgresql://` store URL: libpq's own parameters plus this plugin's four.

    postgresql://user@host:5432/dbname?schema=assessio_connect&pool_max=10&pool_timeout=5
        &password_file=/run/secrets/pg-password&sslmode=verify-full

`schema`, `pool_max`, `pool_timeout` and `password_file` are taken out; everything else goes to
libpq unchanged (https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-PARAMKEYWORDS).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

import attrs
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from assessio_connect import ConfigError

__all__ = [
    "DEFAULT_POOL_MAX",
    "DEFAULT_POOL_TIMEOUT",
    "DEFAULT_SCHEMA",
    "SCHEMES",
    "PostgresSettings",
    "parse_url",
]

SCHEMES = ("postgresql", "postgres")
DEFAULT_SCHEMA = "assessio_connect"
DEFAULT_POOL_MAX = 10
DEFAULT_POOL_TIMEOUT = 5.0
DEFAULT_CONNECT_TIMEOUT = 5
MAX_POOL = 1000
_SCHEMA = re.compile(r"[a-z_][a-z0-9_]{0,47}")
_OWN = ("schema", "pool_max", "pool_timeout", "password_file")
_WHERE = " @ store.url"


@attrs.frozen
class PostgresSettings:
    """How to connect; `url` is safe to log, `conninfo` may hold the password."""

    url: str
    """The URL as given, with any password removed."""
    conninfo: str = attrs.field(repr=False)
    """libpq's connection string: the URL without this plugin's parameters, plus defaults
    (`connect_timeout`, `application_name`) and a password read from `password_file`."""
    schema: str
    pool_max: int
    pool_timeout: float


def _problem(message: str) -> ConfigError:
    return ConfigError([message + _WHERE])


def _redacted(parts: tuple[str, str, str, str, str], query: list[tuple[str, str]]) -> str:
    scheme, netloc, path, _, fragment = parts
    userinfo, at, hosts = netloc.rpartition("@")
    if at:
        user = userinfo.partition(":")[0]
        netloc = f"{user}@{hosts}" if user else hosts
    kept = [(key, value) for key, value in query if key != "password"]
    return urlunsplit((scheme, netloc, path, urlencode(kept, quote_via=quote), fragment))


def _pool_max(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_POOL:
        raise _problem(f"pool_max must be a whole number from 1 to {MAX_POOL}, got {text!r}")
    return int(text)


def _pool_timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise _problem(f"pool_timeout must be a positive number of seconds, got {text!r}")
    return value


def _schema(text: str) -> str:
    if not _SCHEMA.fullmatch(text):
        raise _problem(
            "schema must be 1 to 48 lower-case letters, digits or underscores, not starting "
            f"with a digit, got {text!r}"
        )
    return text


def _password_from_file(path_text: str) -> str:
    path = Path(path_text).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise _problem(
            f"cannot read password_file {str(path)!r} ({exc.strerror or type(exc).__name__}); "
            "check that it exists and is readable by this user"
        ) from None
    except UnicodeDecodeError:
        raise _problem(f"password_file {str(path)!r} is not UTF-8 text") from None
    password = text[:-1] if text.endswith("\n") else text
    if not password:
        raise _problem(f"password_file {str(path)!r} is empty")
    return password


def parse_url(url: str) -> PostgresSettings | None:
    """Settings for a `postgresql://` or `postgres://` URL; None for any other scheme.

    Raises `ConfigError` for a URL of ours that cannot be used; no message holds the password."""
    scheme = url.partition(":")[0].lower()
    if scheme not in SCHEMES or not url[len(scheme) :].startswith("://"):
        return None
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    redacted = _redacted((parts.scheme, parts.netloc, parts.path, parts.query, ""), query)
    if parts.fragment:
        raise _problem(f"a PostgreSQL store URL has no #fragment: {redacted!r}")
    own: dict[str, str] = {}
    libpq: list[tuple[str, str]] = []
    for key, value in query:
        if key in _OWN:
            if key in own:
                raise _problem(f"{key} is given twice in {redacted!r}")
            own[key] = value
        else:
            libpq.append((key, value))
    conninfo = urlunsplit(
        (parts.scheme, parts.netloc, parts.path, urlencode(libpq, quote_via=quote), "")
    )
    try:
        given = conninfo_to_dict(conninfo)
    except psycopg.Error as exc:
        message = str(exc)
        if parts.password:
            message = message.replace(unquote(parts.password), "***")
            message = message.replace(parts.password, "***")
        raise _problem(f"not a usable PostgreSQL URL ({message}): {redacted!r}") from None
    kwargs: dict[str, str | int] = {}
    if "connect_timeout" not in given:
        kwargs["connect_timeout"] = DEFAULT_CONNECT_TIMEOUT
    if "application_name" not in given:
        kwargs["application_name"] = "assessio-connect"
    if "password_file" in own:
        if "password" in given:
            raise _problem(f"give either a password or password_file, not both: {redacted!r}")
        kwargs["password"] = _password_from_file(own["password_file"])
    return PostgresSettings(
        url=redacted,
        conninfo=make_conninfo(conninfo, **kwargs),
        schema=_schema(own.get("schema", DEFAULT_SCHEMA)),
        pool_max=_pool_max(own.get("pool_max", str(DEFAULT_POOL_MAX))),
        pool_timeout=_pool_timeout(own.get("pool_timeout", str(DEFAULT_POOL_TIMEOUT))),
    )
