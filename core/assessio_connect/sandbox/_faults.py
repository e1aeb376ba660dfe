"""Fault injection: failed or duplicated result deliveries, API errors and latency."""

from __future__ import annotations

import math
import threading

import attrs

__all__ = ["ApiErrorFault", "Faults", "InjectedDeliveryFailure"]


@attrs.frozen
class ApiErrorFault:
    """What an API call answers instead of being processed."""

    status: int
    retry_after: float | None = None
    path: str | None = None


@attrs.frozen
class InjectedDeliveryFailure:
    """A delivery attempt that is recorded as failed without contacting the receiver."""

    status: int | None = None


@attrs.define
class _ApiErrorRule:
    fault: ApiErrorFault
    remaining: int


def _check_count(name: str, value: object) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return value


def _check_seconds(name: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"{name} must be a non-negative number of seconds, got {value!r}")
    return float(value)


def _check_status(name: str, value: object, low: int = 400) -> int:
    if type(value) is not int or not low <= value <= 599:
        raise ValueError(f"{name} must be an HTTP status {low}..599, got {value!r}")
    return value


class Faults:
    """Faults the emulator injects; every method is thread-safe and takes effect at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fail_deliveries = 0
        self._fail_status: int | None = None
        self._duplicate = False
        self._api_errors: list[_ApiErrorRule] = []
        self._latency = 0.0

    # -- configuration --------------------------------------------------------------------

    def fail_deliveries(self, n: int, status: int | None = None) -> None:
        """The next `n` delivery attempts fail without contacting the receiver (then retry).

        They are recorded with the error "injected failure" and, when `status` is given, that
        status (as if a proxy had answered it); the default simulates a network failure.
        """
        count = _check_count("n", n)
        code = None if status is None else _check_status("status", status, low=300)
        with self._lock:
            self._fail_deliveries = count
            self._fail_status = code

    def duplicate_deliveries(self, enabled: bool = True) -> None:
        """POST every successful delivery twice (the same bytes and headers)."""
        with self._lock:
            self._duplicate = bool(enabled)

    def api_errors(
        self,
        status: int,
        count: int = 1,
        retry_after: float | None = None,
        path: str | None = None,
    ) -> None:
        """The next `count` API calls (only to `path`, if given) answer `status` unprocessed.

        The answer carries `Retry-After` when `retry_after` is given and a JSON error body.
        Calls add up: each rule is used up in the order it was added.
        """
        code = _check_status("status", status)
        times = _check_count("count", count)
        delay = None if retry_after is None else _check_seconds("retry_after", retry_after)
        if path is not None and not path.startswith("/"):
            raise ValueError(f"path must start with '/', got {path!r}")
        if times:
            with self._lock:
                self._api_errors.append(_ApiErrorRule(ApiErrorFault(code, delay, path), times))

    def latency(self, seconds: float) -> None:
        """Wait this long before every API answer (0 turns it off)."""
        value = _check_seconds("seconds", seconds)
        with self._lock:
            self._latency = value

    def reset(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._fail_deliveries = 0
            self._fail_status = None
            self._duplicate = False
            self._api_errors.clear()
            self._latency = 0.0

    def snapshot(self) -> dict[str, object]:
        """The faults in force, as the JSON `GET /_sandbox/faults` answers."""
        with self._lock:
            return {
                "failDeliveries": self._fail_deliveries,
                "failDeliveriesStatus": self._fail_status,
                "duplicateDeliveries": self._duplicate,
                "apiErrors": [
                    {
                        "status": r.fault.status,
                        "count": r.remaining,
                        "retryAfter": r.fault.retry_after,
                        "path": r.fault.path,
                    }
                    for r in self._api_errors
                ],
                "latency": self._latency,
            }

    # -- consumption by the emulator ------------------------------------------------------

    def take_delivery_failure(self) -> InjectedDeliveryFailure | None:
        """Use up one injected delivery failure, if any is left."""
        with self._lock:
            if self._fail_deliveries <= 0:
                return None
            self._fail_deliveries -= 1
            return InjectedDeliveryFailure(self._fail_status)

    def duplicating(self) -> bool:
        with self._lock:
            return self._duplicate

    def take_api_error(self, path: str) -> ApiErrorFault | None:
        """Use up one injected API error that applies to `path`, if any."""
        with self._lock:
            for index, rule in enumerate(self._api_errors):
                if rule.fault.path is None or rule.fault.path == path:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        del self._api_errors[index]
                    return rule.fault
            return None

    def current_latency(self) -> float:
        with self._lock:
            return self._latency
