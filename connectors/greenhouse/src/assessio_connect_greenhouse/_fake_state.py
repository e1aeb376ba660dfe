"""Everything the fake Greenhouse holds (people, jobs, notes, tokens' traces, what it received),
behind one lock, and the records tests read back: `HarvestRequest` and `GreenhouseWrite`."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import attrs

__all__ = [
    "FakeData",
    "Fault",
    "GreenhouseWrite",
    "HarvestRequest",
    "iso",
]


def iso(moment: float) -> str:
    """An ISO 8601 UTC timestamp with milliseconds, as Harvest v3 writes them."""
    stamp = datetime.fromtimestamp(moment, tz=timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


@attrs.frozen
class HarvestRequest:
    """One request the fake received and what it answered."""

    method: str
    path: str
    query: str
    """The raw query string."""
    body: bytes
    """The raw body (left empty for `POST /token`, whose form carries codes and tokens)."""
    status: int
    auth: str | None
    """"bearer" (a valid access token), "partner" (the partner API key) or None."""
    user_id: int | None
    """The Greenhouse user the access token acts as (None: none, or the service account)."""
    at: float
    """The fake's clock when it arrived."""


@attrs.frozen
class GreenhouseWrite:
    """A write the fake received: a note, a candidate PATCH or a test-completion PATCH."""

    kind: str
    """"note", "custom_fields" (a candidate PATCH) or "completion"."""
    target: str
    """The candidate id (notes, candidate PATCHes) or the take-home test id (completion)."""
    body: Any
    """The JSON body as received (None when it was not JSON)."""
    status: int
    user_id: int | None
    """The user the access token acts as; None for the service account or a completion."""
    at: float
    """The fake's clock when it arrived."""


@attrs.define
class Fault:
    """Injected failures: the next `count` calls under `prefix`, or all of them (`always`)."""

    count: int = 0
    status: int = 503
    retry_after: float | None = None
    always: int | None = None
    prefix: str = ""


def _counter() -> Iterator[int]:
    number = 100_001
    while True:
        yield number
        number += 1


@attrs.define
class FakeData:
    """The fake's state; every access holds `lock` (a Condition, notified on every change)."""

    lock: threading.Condition = attrs.field(factory=threading.Condition)
    users: dict[int, dict[str, Any]] = attrs.field(factory=dict)
    departments: dict[int, dict[str, Any]] = attrs.field(factory=dict)
    offices: dict[int, dict[str, Any]] = attrs.field(factory=dict)
    jobs: dict[int, dict[str, Any]] = attrs.field(factory=dict)
    stages: dict[int, dict[str, Any]] = attrs.field(factory=dict)
    """Job interview stages by id (each names its job)."""
    job_owners: dict[int, dict[str, Any]] = attrs.field(factory=dict)
    hiring_managers: dict[int, dict[str, Any]] = attrs.field(factory=dict)
    candidates: dict[int, dict[str, Any]] = attrs.field(factory=dict)
    applications: dict[int, dict[str, Any]] = attrs.field(factory=dict)
    custom_fields: dict[int, dict[str, Any]] = attrs.field(factory=dict)
    notes: dict[int, dict[str, Any]] = attrs.field(factory=dict)
    tests: dict[int, dict[str, Any]] = attrs.field(factory=dict)
    """Take-home tests sent to a partner: application, test ids, completions, status."""
    requests: list[HarvestRequest] = attrs.field(factory=list)
    writes: list[GreenhouseWrite] = attrs.field(factory=list)
    fault: Fault = attrs.field(factory=Fault)
    window_start: float = float("-inf")
    window_count: int = 0
    _ids: Iterator[int] = attrs.field(factory=_counter)
    _taken: set[int] = attrs.field(factory=set)

    def next_id(self) -> int:
        """A fresh id, never one already taken (ids of seeded documented examples included)."""
        while True:
            ident = next(self._ids)
            if ident not in self._taken:
                self._taken.add(ident)
                return ident

    def take_id(self, ident: int) -> int:
        """Reserve a given id (seeding a documented example); it must be free."""
        if ident in self._taken:
            raise ValueError(f"id {ident} is already taken")
        self._taken.add(ident)
        return ident

    def changed(self) -> None:
        """Wake whoever waits for the fake's state (callers hold the lock)."""
        self.lock.notify_all()
