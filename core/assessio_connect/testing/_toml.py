"""Writing daemon configurations for tests: plain values to TOML, plain secrets to secret files.

A connector's `Config` declares its secrets with the `Secret` type; tests write them as plain
strings and these helpers put each in a file under the test's folder, referenced as
`{file = "..."}`, exactly as an operator would.
"""

from __future__ import annotations

import json
import math
import re
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from assessio_connect.runtime.config import Secret

__all__ = [
    "MISSING",
    "SecretFiles",
    "secret_values",
    "toml_table",
    "toml_value",
    "with_secret_files",
]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


class _Missing:
    """The type of `MISSING`."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""In a dict of config changes: remove this key from the valid configuration."""


def _key(name: str) -> str:
    return name if _BARE_KEY.fullmatch(name) else json.dumps(name)


def toml_value(value: Any) -> str:
    """One TOML value (strings, numbers, booleans, arrays and inline tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        # JSON's escapes (\", \\, \n, \uXXXX) are valid in a TOML basic string.
        return json.dumps(value)
    if isinstance(value, Mapping):
        items = ", ".join(
            f"{_key(str(k))} = {toml_value(v)}" for k, v in value.items() if v is not None
        )
        return "{ " + items + " }" if items else "{}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as a TOML value: {value!r}")


def toml_table(header: str, values: Mapping[str, Any]) -> str:
    """A `[header]` table with one `key = value` line per entry (None and MISSING are left out)."""
    lines = [f"[{header}]"]
    for name, value in values.items():
        if value is None or value is MISSING:
            continue
        lines.append(f"{_key(name)} = {toml_value(value)}")
    return "\n".join(lines) + "\n"


# Secrets


_ONE = "one"
_MANY = "many"


def _shape(tp: Any) -> str | type[Any] | None:
    """`"one"` for a Secret field, `"many"` for a sequence of them, an attrs class for a
    nested table, else None."""
    if tp is Secret:
        return _ONE
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            if arg is not type(None):
                found = _shape(arg)
                if found is not None:
                    return found
        return None
    if origin in (tuple, list, Sequence, frozenset, set):
        args = [arg for arg in typing.get_args(tp) if arg is not Ellipsis]
        if args and all(arg is Secret for arg in args):
            return _MANY
        return None
    if isinstance(tp, type) and attrs.has(tp):
        return tp
    return None


def _fields(cls: type[Any]) -> dict[str, Any]:
    """Field name (as written in TOML) -> resolved type."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception as exc:  # a type only defined locally cannot be resolved by name
        raise TypeError(
            f"cannot resolve the field types of {cls.__qualname__} ({exc}); define the "
            "connector's Config at module level so its Secret fields can be found"
        ) from None
    return {
        (field.alias or field.name): hints.get(field.name, field.type)
        for field in attrs.fields(cls)
    }


class SecretFiles:
    """Writes each secret to its own file under `directory` and returns its reference."""

    def __init__(self, directory: Path, prefix: str = "") -> None:
        self.directory = directory
        self.prefix = prefix
        self.written: dict[str, str] = {}
        """File name -> the value written to it."""

    def ref(self, name: str, value: str) -> dict[str, str]:
        """`{"file": "<absolute path>"}` for `value`, written to `<directory>/<prefix><name>`
        (an empty value is written too: the daemon's loader reports it)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        file_name = re.sub(r"[^A-Za-z0-9_.-]", "_", self.prefix + name)
        path = self.directory / file_name
        path.write_text(value + "\n", encoding="utf-8")
        self.written[file_name] = value
        return {"file": path.as_posix()}

    def inline(self, name: str, value: str) -> str:
        """The same reference as TOML text: `{ file = "..." }`."""
        return toml_value(self.ref(name, value))


def with_secret_files(
    config_cls: type[Any], values: Mapping[str, Any], files: SecretFiles, path: str = ""
) -> dict[str, Any]:
    """`values` with every plain string in a `Secret` field of `config_cls` replaced by a file
    reference (a value already written as a reference is kept). MISSING keys are dropped."""
    shapes = (
        {name: _shape(tp) for name, tp in _fields(config_cls).items()}
        if attrs.has(config_cls)
        else {}
    )
    converted: dict[str, Any] = {}
    for name, value in values.items():
        if value is MISSING:
            continue
        shape = shapes.get(name)
        where = f"{path}{name}"
        if shape == _ONE and isinstance(value, str):
            converted[name] = files.ref(where, value)
        elif shape == _MANY and isinstance(value, (list, tuple)):
            converted[name] = [
                files.ref(f"{where}-{index}", item) if isinstance(item, str) else item
                for index, item in enumerate(value)
            ]
        elif isinstance(shape, type) and isinstance(value, Mapping):
            converted[name] = with_secret_files(shape, value, files, f"{where}.")
        else:
            converted[name] = value
    return converted


def secret_values(config_cls: type[Any], values: Mapping[str, Any]) -> list[str]:
    """The plain secret strings in `values` (those `with_secret_files` would write to files)."""
    found: list[str] = []
    shapes = (
        {name: _shape(tp) for name, tp in _fields(config_cls).items()}
        if attrs.has(config_cls)
        else {}
    )
    for name, value in values.items():
        shape = shapes.get(name)
        if shape == _ONE and isinstance(value, str):
            found.append(value)
        elif shape == _MANY and isinstance(value, (list, tuple)):
            found.extend(item for item in value if isinstance(item, str))
        elif isinstance(shape, type) and isinstance(value, Mapping):
            found.extend(secret_values(shape, value))
    return found
