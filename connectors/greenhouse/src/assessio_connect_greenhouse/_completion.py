"""The Assessment Partner completion URL: where the partner key is sent when a result is in.

Greenhouse gives it in `send_test`; whoever can call `send_test` chooses it. It is checked with
the parser that sends the request (urllib3's, not `urllib.parse`, which disagrees with it on
e.g. `http://127.0.0.1\\@tests.greenhouse.io/`) and rebuilt from the parts that were checked,
so the host that was allowed is the host that is called.
"""

from __future__ import annotations

import re

from urllib3.exceptions import LocationParseError
from urllib3.util import Url, parse_url

__all__ = [
    "DEFAULT_COMPLETION_HOSTS",
    "completion_url",
    "host_allowed",
    "host_pattern_problem",
]

DEFAULT_COMPLETION_HOSTS = ("*.greenhouse.io",)
_HOST_PATTERN = re.compile(r"(\*\.)?[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]")
_AUTHORITY = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")
_SCHEME = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<rest>.*)", re.DOTALL)


def host_pattern_problem(pattern: str) -> str | None:
    """Why `pattern` is not a host name or `*.domain` pattern, or None."""
    if _HOST_PATTERN.fullmatch(pattern):
        return None
    return (
        f"entry {pattern!r} is not a host name "
        '(write e.g. "app.greenhouse.io" or "*.greenhouse.io")'
    )


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


def completion_url(value: str, hosts: tuple[str, ...], *, allow_http: bool = False) -> str:
    """The completion URL to send the PATCH to, rebuilt from its checked parts; `ValueError`
    saying what is wrong when it could carry the partner key anywhere but an allowed host."""
    if any(ord(char) <= 0x20 or ord(char) == 0x7F for char in value):
        raise ValueError("must not contain spaces or control characters")
    if "\\" in value:
        raise ValueError("must not contain a backslash")
    found = _SCHEME.fullmatch(value)
    if found is None:
        raise ValueError("must be an absolute https:// URL")
    scheme = found["scheme"].lower()
    if scheme != "https" and not (scheme == "http" and allow_http):
        raise ValueError(f"must be an https:// URL, not {scheme}://")
    authority = re.split(r"[/?#]", found["rest"], maxsplit=1)[0]
    if "@" in authority:
        raise ValueError("must not contain credentials (user@host)")
    if not _AUTHORITY.fullmatch(authority):
        raise ValueError(f"has an unusable host {authority!r}")
    try:
        parts = parse_url(value)
    except LocationParseError:
        raise ValueError("is not a URL that can be called") from None
    if parts.auth is not None or not parts.host:
        raise ValueError("must name a host and no credentials")
    if not host_allowed(parts.host, hosts):
        raise ValueError(
            f"host {parts.host!r} is not allowed for completion (partner.completion_hosts)"
        )
    return Url(
        scheme=scheme,
        host=parts.host,
        port=parts.port,
        path=parts.path,
        query=parts.query,
    ).url
