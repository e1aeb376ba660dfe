"""`PayloadReader`: an ATS's JSON (a webhook body, a polled item) read field by field, every
problem noted as `message @ $.path`, so that one `PayloadError` lists them all."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from assessio_connect.contract._strict import json_type
from assessio_connect.contract.errors import PayloadError
from assessio_connect.contract.models import email_problem

__all__ = ["PayloadReader", "email_problem", "json_type"]

MISSING = "required field missing"


class PayloadReader:
    """Reads the fields of decoded JSON, noting each problem instead of stopping at the first;
    `check()` raises them together as one `PayloadError` (which `Routes` answers 422).

    Each method reads `data[key]`, where `data` is the object found at the JSON path `where`.
    An object that was itself missing or not an object reads as `None`, and its fields then
    read as empty without a problem of their own, so one mistake is reported once::

        read = PayloadReader("MyATS event")
        event = read.root(data)
        job = read.table(event, "job", "$")
        title = read.text(job, "title", "$.job")
        department = read.optional_text(job, "department", "$.job")
        read.check()  # raises PayloadError("invalid MyATS event: ...") if anything was wrong
    """

    def __init__(self, what: str) -> None:
        self.what = what
        self.problems: list[str] = []

    def __repr__(self) -> str:
        return f"PayloadReader({self.what!r}, {len(self.problems)} problem(s))"

    def problem(self, message: str, where: str) -> None:
        """Note a problem found by the caller's own rules."""
        self.problems.append(f"{message} @ {where}")

    def check(self) -> None:
        """Raise every noted problem as one `PayloadError`; return if there is none."""
        if self.problems:
            raise PayloadError(self.problems, what=self.what)

    def root(self, data: Any) -> Mapping[str, Any] | None:
        """The document itself, which must be a JSON object."""
        if isinstance(data, Mapping):
            return data
        self.problem(f"expected an object, got {json_type(data)}", "$")
        return None

    def table(
        self, data: Mapping[str, Any] | None, key: str, where: str
    ) -> Mapping[str, Any] | None:
        """The required object `data[key]`."""
        value = self._required(data, key, where)
        if value is None or isinstance(value, Mapping):
            return value
        self.problem(f"expected an object, got {json_type(value)}", f"{where}.{key}")
        return None

    def text(self, data: Mapping[str, Any] | None, key: str, where: str) -> str:
        """The required string `data[key]`, not blank ("" after a problem)."""
        value = self._required(data, key, where)
        found = None if value is None else self._string(value, f"{where}.{key}")
        if found is not None and not found.strip():
            self.problem("must not be empty", f"{where}.{key}")
            return ""
        return found or ""

    def optional_text(self, data: Mapping[str, Any] | None, key: str, where: str) -> str | None:
        """The string `data[key]` as given, or None when it is absent or null."""
        value = _field(data, key)
        return None if value is None else self._string(value, f"{where}.{key}")

    def email(self, data: Mapping[str, Any] | None, key: str, where: str) -> str:
        """The required e-mail address `data[key]`, one that an Assessio order accepts ("" after
        a problem)."""
        value = self._required(data, key, where)
        return "" if value is None else self._address(value, f"{where}.{key}")

    def emails(self, data: Mapping[str, Any] | None, key: str, where: str) -> tuple[str, ...]:
        """The optional array of e-mail addresses `data[key]` (e.g. a hiring team)."""
        value = _field(data, key)
        if value is None:
            return ()
        if not isinstance(value, list):
            self.problem(f"expected an array, got {json_type(value)}", f"{where}.{key}")
            return ()
        found = [self._address(item, f"{where}.{key}[{i}]") for i, item in enumerate(value)]
        return tuple(address for address in found if address)

    def _required(self, data: Mapping[str, Any] | None, key: str, where: str) -> Any:
        value = _field(data, key)
        if value is None and data is not None:
            self.problem(MISSING, f"{where}.{key}")
        return value

    def _address(self, value: object, where: str) -> str:
        text = self._string(value, where)
        if text is None:
            return ""
        problem = email_problem(text)
        if problem:
            self.problem(problem, where)
            return ""
        return text

    def _string(self, value: object, where: str) -> str | None:
        if not isinstance(value, str):
            self.problem(f"expected a string, got {json_type(value)}", where)
            return None
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            self.problem("string holds an unpaired surrogate (\\ud800-\\udfff)", where)
            return None
        return value


def _field(data: Mapping[str, Any] | None, key: str) -> Any:
    return None if data is None else data.get(key)
