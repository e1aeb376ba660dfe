"""Secret references: the `Secret` value that never shows itself, and the built-in
`env` and `file` schemes."""

from __future__ import annotations

import hmac
import os
import stat
from collections.abc import Callable
from pathlib import Path

import attrs

from assessio_connect.contract.errors import ConfigError

__all__ = [
    "Secret",
    "SecretResolver",
    "loose_secret_file",
    "resolve_builtin_secret",
]

SecretResolver = Callable[[str, str], "str | None"]
"""`(scheme, reference)` -> the secret's value, or None for a scheme nobody resolves."""


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


def loose_secret_file(path: Path) -> str | None:
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
