"""Acceptance: three daemon processes share one PostgreSQL schema behind a round-robin balancer;
thousands of results arrive from the Assessio emulator, one replica is killed with SIGKILL in
the middle, and every result is still written back into its ATS exactly once.

`ASSESSIO_REPLICA_RESULTS` sets how many results (default 5,000, spread over four tenants,
two whose ATS pushes invitations through the balancer and two that the replicas poll).
"""

from __future__ import annotations

import collections
import concurrent.futures
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3
from postgres_replicas import Balancer, ReplicaProcess, ReplicaWorld, Tenant
from postgres_test_db import free_port, fresh_schema

__all__: list[str] = []

RESULTS = int(os.environ.get("ASSESSIO_REPLICA_RESULTS", "5000"))
REPLICAS = 3
TENANTS = 4
WORKERS = 2
LEASE = 2.0
DEADLINE = 300.0


@pytest.fixture
def world(tmp_path: Path) -> Iterator[ReplicaWorld]:
    # Every candidate completes as soon as Assessio accepts the order; each tenant has its own
    # emulator, so results arrive on parallel streams as they would from Assessio.
    with ReplicaWorld(tmp_path, TENANTS, completion_delay=0.0) as built:
        yield built


def wait_for_written(world: ReplicaWorld, count: int) -> None:
    """Poll (every 0.1 s: counting is O(writes)) until `count` results are written back."""
    deadline = time.monotonic() + DEADLINE
    while world.written() < count:
        assert time.monotonic() < deadline, f"{world.written()} of {count} written back"
        time.sleep(0.1)


def invite_all(world: ReplicaWorld, events_url: str, per_tenant: dict[str, list[str]]) -> None:
    """Queue every invitation; push-style ATSs POST theirs through the balancer, 8 at a time."""
    jobs = [
        (tenant, application_id)
        for tenant in world.tenants
        for application_id in per_tenant[tenant.name]
    ]
    http = urllib3.PoolManager(maxsize=8, retries=False)

    def invite(job: tuple[Tenant, str]) -> None:
        job[0].invite(job[1], events_url, http)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(invite, jobs))
    http.clear()


def test_three_replicas_lose_and_double_nothing_when_one_is_killed(world: ReplicaWorld) -> None:
    per_tenant = {
        tenant.name: [f"{tenant.name}-{n}" for n in range(index, RESULTS, TENANTS)]
        for index, tenant in enumerate(world.tenants)
    }
    ports = [free_port() for _ in range(REPLICAS)]
    balancer = Balancer([f"http://127.0.0.1:{port}" for port in ports]).start()
    replicas: list[ReplicaProcess] = []
    started = time.monotonic()
    try:
        with fresh_schema(pool_max=6) as store_url:
            for index, port in enumerate(ports):
                config = world.config(
                    world.tmp / f"replica-{index}.toml",
                    port=port,
                    public_url=balancer.url,
                    store_url=store_url,
                    workers=WORKERS,
                    lease=LEASE,
                )
                replicas.append(ReplicaProcess(config))
            for replica in replicas:  # they migrated the one schema together
                replica.wait_for("daemon.started")
            invite_all(world, balancer.url, per_tenant)

            # Kill one replica while results arrive and its deliveries are in flight.
            wait_for_written(world, RESULTS // 3)
            victim = replicas[1]
            victim.kill9()
            killed_at = world.written()
            wait_for_written(world, RESULTS)
            elapsed = time.monotonic() - started
            for replica in (replicas[0], replicas[2]):
                assert replica.terminate() == 0
    finally:
        balancer.stop()
        for replica in replicas:
            replica.ensure_dead()

    repeats = 0
    for tenant in world.tenants:
        applications = per_tenant[tenant.name]
        # Nothing lost: every application was ordered once and its result acknowledged.
        orders = tenant.sandbox.orders()
        assert len(orders) == len(applications)
        result_ids = {o.order.result_id for o in orders}
        assert len(result_ids) == len(applications)
        attempts = tenant.sandbox.deliveries()
        assert {a.result_id for a in attempts if a.outcome == "delivered"} == result_ids
        # Nothing doubled: each application got exactly one write that changed it. A repeat of
        # the same version (a push the victim made but could not record) changes nothing.
        writes = tenant.ats.writes
        changed = collections.Counter(w.application_id for w in writes if w.changed)
        assert changed == dict.fromkeys(applications, 1)
        assert {body["version"] for body in tenant.ats.results.values()} == {1}
        assert all(w.status == 200 for w in writes)
        repeats += len(writes) - len(applications)
    # At most what the victim had claimed when it died: a batch of 16 for each worker.
    assert 0 <= repeats <= WORKERS * 16, f"{repeats} repeated writes"
    # The balancer spread results and events over every replica, the victim included.
    for backend in balancer.backends:
        assert balancer.hits[backend]["/results/"] > 0, balancer.hits
    assert 0 < killed_at < RESULTS
    secrets = world.secret_values()
    for replica in replicas:
        output = replica.output
        assert not [secret for secret in secrets if secret in output]
    print(  # shown with -s: what the run took
        f"\n{RESULTS} results through {REPLICAS} replicas in {elapsed:.1f} s; killed one at "
        f"{killed_at} written; {repeats} repeated writes; results per replica: "
        f"{[balancer.hits[b]['/results/'] for b in balancer.backends]}"
    )
