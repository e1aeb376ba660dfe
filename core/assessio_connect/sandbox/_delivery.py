"""The result deliverer: one worker thread POSTing results, retrying with exponential backoff."""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import random
import threading
import time
from collections.abc import Callable

import attrs
import urllib3

from assessio_connect.contract import codec
from assessio_connect.contract._version import __version__
from assessio_connect.contract.models import Result
from assessio_connect.contract.signing import SIGNATURE_HEADER, sign

from ._faults import Faults
from ._state import DeliveryAttempt, Organisation, Outcome, SandboxState

__all__ = ["USER_AGENT", "Deliverer", "DeliverySchedule"]

log = logging.getLogger("assessio_connect.sandbox")

USER_AGENT = f"assessio-connect-sandbox/{__version__} (Assessio Recruitment API emulator)"
_EXCERPT_BYTES = 2048
_DRAIN_BYTES = 64 * 1024


def _positive(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{attribute.name} must be a positive number of seconds, got {value!r}")


def _non_negative(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{attribute.name} must not be negative, got {value!r}")


def _factor(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not math.isfinite(value) or value < 1:
        raise ValueError(f"{attribute.name} must be at least 1, got {value!r}")


def _jitter(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0 <= value < 1:
        raise ValueError(f"{attribute.name} must lie in [0, 1), got {value!r}")


@attrs.frozen
class DeliverySchedule:
    """When failed result POSTs are retried: exponential backoff, then give up after `horizon`.

    Assessio retries for up to 36 hours; tests compress the schedule (e.g. first_retry=0.05,
    horizon=1.0). All values are seconds except `factor` and `jitter` (a fraction, ±).
    """

    first_retry: float = attrs.field(default=60.0, validator=_positive)
    factor: float = attrs.field(default=2.0, validator=_factor)
    max_interval: float = attrs.field(default=3 * 3600.0, validator=_positive)
    horizon: float = attrs.field(default=36 * 3600.0, validator=_non_negative)
    """Give up once the next attempt would come later than first attempt + horizon."""
    jitter: float = attrs.field(default=0.1, validator=_jitter)

    def interval(self, failures: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after the `failures`-th consecutive failed attempt (1-based)."""
        try:
            base = min(self.first_retry * self.factor ** max(failures - 1, 0), self.max_interval)
        except OverflowError:
            base = self.max_interval
        if self.jitter and rng is not None:
            base *= 1 + rng.uniform(-self.jitter, self.jitter)
        return base


@attrs.define(eq=False)
class _Delivery:
    """One payload on its way to one URL, with its retry bookkeeping."""

    key: tuple[str, str]
    generation: int
    org: Organisation
    url: str
    result_id: str
    payload: bytes
    attempts: int = 0
    first_at: float | None = None


_Job = _Delivery | Callable[[], None]


class Deliverer:
    """Runs delivery attempts and delayed callbacks from a heap of due times on one thread.

    The thread waits on a condition until the earliest due time (or until woken by new work
    or `stop()`), so nothing polls. A newer result for the same order supersedes pending
    retries of an older one, so a stale payload never overtakes a fresh one.
    """

    def __init__(
        self,
        state: SandboxState,
        faults: Faults,
        schedule: DeliverySchedule,
        *,
        clock: Callable[[], float] = time.time,
        seed: int = 0,
    ) -> None:
        self._state = state
        self._faults = faults
        self.schedule = schedule
        self._clock = clock
        # Retry jitter needs spread, not secrecy.
        self._rng = random.Random(seed)  # noqa: S311
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Job]] = []
        self._seq = itertools.count()
        self._generations: dict[tuple[str, str], int] = {}
        self._thread: threading.Thread | None = None
        self._worker_id = 0
        self._closed = False
        self._pool = urllib3.PoolManager(
            num_pools=32,
            maxsize=4,
            timeout=urllib3.Timeout(connect=5.0, read=10.0),
            retries=False,
        )

    # -- scheduling -----------------------------------------------------------------------

    def deliver(self, org: Organisation, url: str, result: Result) -> None:
        """Queue `result` for POSTing to `url` now, superseding older pending payloads."""
        key = (org.provider_key, result.result_id)
        with self._cond:
            generation = self._generations.get(key, 0) + 1
            self._generations[key] = generation
            job = _Delivery(key, generation, org, url, result.result_id, codec.dumps(result))
            self._push(time.monotonic(), job, restart=True)

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        """Run `callback` on the worker thread after `delay` seconds."""
        with self._cond:
            self._push(time.monotonic() + max(delay, 0.0), callback, restart=True)

    def _push(self, due: float, job: _Job, *, restart: bool) -> None:
        # Called with the condition held. New work restarts a stopped deliverer; a retry
        # left over from before `stop()` does not.
        if self._closed and not restart:
            return
        self._closed = False
        heapq.heappush(self._heap, (due, next(self._seq), job))
        if self._thread is None or not self._thread.is_alive():
            self._worker_id += 1
            self._thread = threading.Thread(
                target=self._run,
                args=(self._worker_id,),
                name="assessio-sandbox-deliverer",
                daemon=True,
            )
            self._thread.start()
        self._cond.notify()

    def pending(self) -> int:
        """How many jobs wait in the heap."""
        with self._cond:
            return len(self._heap)

    def stop(self, timeout: float = 12.0) -> None:
        """Drop pending work, end the worker thread and close connections."""
        with self._cond:
            self._closed = True
            self._worker_id += 1
            self._heap.clear()
            thread, self._thread = self._thread, None
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            # At worst one in-flight POST delays this, bounded by its timeouts.
            thread.join(timeout)
        self._pool.clear()

    # -- the worker -----------------------------------------------------------------------

    def _run(self, worker_id: int) -> None:
        while True:
            with self._cond:
                while True:
                    if self._worker_id != worker_id:
                        return
                    if not self._heap:
                        self._cond.wait()
                        continue
                    delay = self._heap[0][0] - time.monotonic()
                    if delay > 0:
                        self._cond.wait(delay)
                        continue
                    _, _, job = heapq.heappop(self._heap)
                    break
            try:
                if isinstance(job, _Delivery):
                    self._attempt(job)
                else:
                    job()
            except Exception:
                log.exception("the sandbox's delivery worker failed on a job")

    def _superseded(self, job: _Delivery) -> bool:
        with self._cond:
            return self._generations.get(job.key, 0) != job.generation

    def _attempt(self, job: _Delivery) -> None:
        if self._superseded(job):
            return
        started = time.monotonic()
        if job.first_at is None:
            job.first_at = started
        job.attempts += 1
        injected = self._faults.take_delivery_failure()
        if injected is not None:
            status: int | None = injected.status
            error: str | None = "injected failure"
            excerpt = ""
            headers: dict[str, str] = {}
        else:
            headers = self._headers(job)
            status, error, excerpt = self._post(job, headers)
        if error is None and status is not None and 200 <= status < 300:
            self._record(job, status, None, "delivered", excerpt)
            if self._faults.duplicating():
                status2, error2, excerpt2 = self._post(job, headers)
                ok = error2 is None and status2 is not None and 200 <= status2 < 300
                outcome: Outcome = "delivered" if ok else "failed"
                self._record(job, status2, error2, outcome, excerpt2, duplicate=True)
            return
        wait = self.schedule.interval(job.attempts, self._rng)
        now = time.monotonic()
        if now + wait > job.first_at + self.schedule.horizon:
            self._record(job, status, error, "abandoned", excerpt)
            return
        self._record(job, status, error, "failed", excerpt, retry_in=wait)
        with self._cond:
            self._push(now + wait, job, restart=False)

    def _headers(self, job: _Delivery) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        if job.org.result_api_key is not None:
            headers["integrator-api-key"] = job.org.result_api_key
        if job.org.result_signing_secret is not None:
            # Signed afresh for every attempt, over the exact bytes sent.
            timestamp = int(self._clock())
            headers[SIGNATURE_HEADER] = sign(job.org.result_signing_secret, job.payload, timestamp)
        return headers

    def _post(self, job: _Delivery, headers: dict[str, str]) -> tuple[int | None, str | None, str]:
        try:
            response = self._pool.request(
                "POST",
                job.url,
                body=job.payload,
                headers=headers,
                redirect=False,
                preload_content=False,
            )
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            return None, f"{type(exc).__name__}: {exc}", ""
        try:
            data = response.read(_DRAIN_BYTES + 1)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            response.close()
            response.release_conn()
            return response.status, f"reading the response failed: {type(exc).__name__}", ""
        if len(data) > _DRAIN_BYTES:
            response.close()  # a long answer: do not reuse this connection
        response.release_conn()
        excerpt = data[:_EXCERPT_BYTES].decode("utf-8", errors="replace")
        return response.status, None, excerpt

    def _record(
        self,
        job: _Delivery,
        status: int | None,
        error: str | None,
        outcome: Outcome,
        excerpt: str,
        *,
        duplicate: bool = False,
        retry_in: float | None = None,
    ) -> None:
        self._state.record_attempt(
            DeliveryAttempt(
                result_id=job.result_id,
                provider_key=job.org.provider_key,
                url=job.url,
                attempt=job.attempts,
                status=status,
                error=error,
                outcome=outcome,
                at=self._clock(),
                payload=job.payload,
                duplicate=duplicate,
                retry_in=retry_in,
                response_excerpt=excerpt,
            )
        )
