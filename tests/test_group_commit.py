"""Group commit: concurrent jobs share batches, each caller gets its own outcome."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from assessio_connect.runtime._group_commit import GroupCommit


class Recorder:
    """A batch runner that records batch sizes and can be held to let a queue build up."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def __call__(self, works: list[Callable[[Any], Any]]) -> list[tuple[Any, BaseException | None]]:
        self.entered.set()
        self.gate.wait(10)
        self.batches.append(len(works))
        outcomes: list[tuple[Any, BaseException | None]] = []
        for work in works:
            try:
                outcomes.append((work("conn"), None))
            except Exception as exc:
                outcomes.append((None, exc))
        return outcomes


def run_threads(count: int, target: Callable[[int], None]) -> None:
    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)


def test_each_caller_gets_its_own_result_and_waiting_callers_share_a_batch() -> None:
    runner = Recorder()
    group = GroupCommit(runner)
    runner.gate.clear()
    first = threading.Thread(target=group.submit, args=(lambda conn: "first",))
    first.start()
    assert runner.entered.wait(5)  # the leader is inside its batch, the others queue up
    results: dict[int, object] = {}

    def submit(i: int) -> None:
        results[i] = group.submit(lambda conn: (conn, i))

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    runner.gate.set()
    for thread in threads:
        thread.join(10)
    first.join(10)
    assert results == {i: ("conn", i) for i in range(20)}
    assert sum(runner.batches) == 21
    assert max(runner.batches) > 1


def test_one_failing_job_fails_only_its_caller() -> None:
    group = GroupCommit(Recorder())
    outcomes: dict[int, object] = {}

    def submit(i: int) -> None:
        def work(conn: Any) -> int:
            if i == 3:
                raise ValueError("job 3 is bad")
            return i

        try:
            outcomes[i] = group.submit(work)
        except ValueError as exc:
            outcomes[i] = str(exc)

    run_threads(8, submit)
    assert outcomes == {**{i: i for i in range(8)}, 3: "job 3 is bad"}


def test_a_failed_batch_fails_every_job_in_it_and_the_group_recovers() -> None:
    calls = 0

    def flaky(works: list[Callable[[Any], Any]]) -> list[tuple[Any, BaseException | None]]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("commit failed")
        return [(work(None), None) for work in works]

    group = GroupCommit(flaky)
    with pytest.raises(RuntimeError, match="commit failed"):
        group.submit(lambda conn: 1)
    assert group.submit(lambda conn: 2) == 2
