"""Group commit: concurrent writers share one transaction, and so one fsync.

Each caller submits its work and waits. One of them, the leader, runs every job waiting at that
moment inside a single transaction, each in a savepoint so one job's failure does not undo the
others, commits once, and hands each caller its own outcome. When more jobs arrived meanwhile,
the leader passes the role to one of their callers and returns with its own answer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["GroupCommit"]

T = TypeVar("T")
Batch = Callable[[list[Callable[[Any], Any]]], list[tuple[Any, BaseException | None]]]


class _Job(Generic[T]):
    __slots__ = ("done", "error", "lead", "result", "work")

    def __init__(self, work: Callable[[Any], T]) -> None:
        self.work = work
        # Held until the job is done or handed the lead; a bare lock wakes its waiter without
        # the Python-level Condition an Event allocates on every wait.
        self.done = threading.Lock()
        self.done.acquire()
        self.lead = False
        self.result: T | None = None
        self.error: BaseException | None = None


class GroupCommit:
    """Runs submitted jobs in shared transactions through `run_batch`.

    `run_batch(works)` must execute each work in one transaction, isolated from the others
    (savepoints), commit, and return one `(result, error)` pair per work; if it raises, every
    job of that batch fails with the exception.
    """

    def __init__(self, run_batch: Batch) -> None:
        self._run_batch = run_batch
        self._lock = threading.Lock()
        self._queue: list[_Job[Any]] = []
        self._leading = False

    def submit(self, work: Callable[[Any], T]) -> T:
        """Run `work(connection)` in the next shared transaction; returns once it is committed."""
        job: _Job[T] = _Job(work)
        with self._lock:
            self._queue.append(job)
            if not self._leading:
                self._leading = True
                job.lead = True
        if not job.lead:
            job.done.acquire()  # released once: either our job is done or we now lead
        if job.lead:
            self._lead()
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[return-value]

    def _lead(self) -> None:
        with self._lock:
            batch, self._queue = self._queue, []
        try:
            outcomes = self._run_batch([job.work for job in batch])
        except BaseException as exc:
            outcomes = [(None, exc)] * len(batch)
        for job, (result, error) in zip(batch, outcomes, strict=True):
            job.result, job.error = result, error
            if not job.lead:
                job.done.release()
        with self._lock:
            if self._queue:
                successor = self._queue[0]
                successor.lead = True
                successor.done.release()
            else:
                self._leading = False
