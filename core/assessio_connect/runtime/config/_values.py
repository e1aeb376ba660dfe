"""The TOML values the configuration reads beyond TOML's own types: durations, and the
wording of a value's type in a problem."""

from __future__ import annotations

import math
import re

__all__ = [
    "format_duration",
    "parse_duration",
    "toml_type",
]

_DURATION = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([smhd]?)\s*")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_LARGEST_EXACT = 2**53
_TOP_TABLES = ("server", "store", "delivery", "status", "tenants")


def toml_type(value: object) -> str:
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


def parse_duration(value: object) -> float:
    """Seconds from a number of seconds or a string such as "90s", "15m", "36h" or "2d"."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(
            f'expected a duration such as 90, "90s", "15m", "36h" or "2d", got {toml_type(value)}'
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
