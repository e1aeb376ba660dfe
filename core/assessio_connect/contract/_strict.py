"""Strict cattrs hooks for primitives, shared by the JSON codec and the TOML configuration:
no silent coercion ("71" is not 71, 1 is not true), and one wording for the problems."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import cattrs

__all__ = ["InvalidValue", "json_type", "register_strict_primitives", "strict_str"]

Describe = Callable[[Any], str]


class InvalidValue(ValueError):
    """A value failed a check; its message is shown as is in the problem list."""


def json_type(value: Any) -> str:
    """How JSON would name the type of a decoded value ("string", "array", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def strict_str(describe: Describe) -> Callable[[Any, Any], str]:
    """A structure hook that accepts only strings."""

    def structure(value: Any, _: Any) -> str:
        if not isinstance(value, str):
            raise InvalidValue(f"expected a string, got {describe(value)}")
        return value

    return structure


def register_strict_primitives(conv: cattrs.Converter, describe: Describe) -> None:
    """Register strict str, int, float and bool hooks on `conv`."""

    def structure_int(value: Any, _: Any) -> int:
        if type(value) is not int:
            raise InvalidValue(f"expected an integer, got {describe(value)}")
        return value

    def structure_float(value: Any, _: Any) -> float:
        if type(value) not in (int, float):
            raise InvalidValue(f"expected a number, got {describe(value)}")
        return float(value)

    def structure_bool(value: Any, _: Any) -> bool:
        if not isinstance(value, bool):
            raise InvalidValue(f"expected true or false, got {describe(value)}")
        return value

    conv.register_structure_hook(str, strict_str(describe))
    conv.register_structure_hook(int, structure_int)
    conv.register_structure_hook(float, structure_float)
    conv.register_structure_hook(bool, structure_bool)
