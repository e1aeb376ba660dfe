"""Result intake and write-back: SQLite vs PostgreSQL, one vs three daemon replicas, in one run.

Each setup runs real `assessio-connect run` processes behind the round-robin balancer of the
PostgreSQL plugin's tests, with orders already recorded (and sent) in the store. A pool of
client threads POSTs every result webhook to the balancer, as Assessio would; measured:

- acknowledged results per second: results / (first POST sent .. last 2xx received), and
  written back per second: results / (first POST sent .. last write-back in the ATS);
- receipt-to-write-back latency: the fake ATS's receipt of the write-back minus the result's
  `received_at` in the store, p50 and p99.

Run `python benchmarks/postgres.py [--results N] [--threads N] [--replicas 3]`; PostgreSQL comes
from `ASSESSIO_TEST_POSTGRES_URL` (default postgresql://postgres@127.0.0.1:5432/test), where a
schema of its own is made and dropped per setup.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
import psycopg
import urllib3
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "postgres" / "tests"))

from postgres_replicas import Balancer, ReplicaProcess, ReplicaWorld
from postgres_test_db import DEFAULT_URL, URL_ENV, free_port, with_params

from assessio_connect import sign
from assessio_connect.contract.models import AssessmentOrder, CandidateDetails, Recruitment
from assessio_connect.contract.signing import SIGNATURE_HEADER
from assessio_connect.runtime.plugins import load_plugins
from assessio_connect.store import NewOrder, Store

TENANTS = 2
LENS = "General Performance"


@attrs.frozen
class Outcome:
    """One setup's figures."""

    label: str
    results: int
    acked_per_second: float
    written_per_second: float
    """Results / (first POST sent .. last write-back received by the ATS)."""
    p50_ms: float
    p99_ms: float


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _order(tenant: str, result_id: str, url: str) -> NewOrder:
    return NewOrder(
        tenant=tenant,
        application_id=f"app-{result_id}",
        job_id="job-42",
        candidate_id=f"cand-{result_id}",
        order=AssessmentOrder(
            recruitment=Recruitment("job-42", "Data Analyst", ""),
            result_update_url=f"{url}/results/{tenant}/{result_id}",
            result_id=result_id,
            lens_id=LENS,
            locale="en-GB",
            candidate_details=CandidateDetails(f"{result_id}@example.com"),
        ),
    )


def _payload(result_id: str) -> bytes:
    return (
        f'{{"resultId":"{result_id}","score":71,"subscores":{{"Driving Leadership":73}}}}'
    ).encode()


def _drop_schema(server: str, name: str) -> None:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


@contextmanager
def _postgres_schema(server: str, name: str) -> Iterator[str]:
    """A store URL on a schema of its own, dropped afterwards."""
    _drop_schema(server, name)
    try:
        yield with_params(server, schema=name, pool_max=8)
    finally:
        _drop_schema(server, name)


def _prepare(store: Store, world: ReplicaWorld, results: int, url: str) -> list[tuple[str, str]]:
    """Record every order as sent and make the ATSs know the applications."""
    jobs = []
    store.migrate()
    for n in range(results):
        tenant = world.tenants[n % len(world.tenants)]
        result_id = f"r-{n}"
        store.add_order(_order(tenant.name, result_id, url), now=time.time())
        store.order_sent(tenant.name, result_id, f"ref-{n}", now=time.time())
        tenant.ats.add_invitation(
            f"app-{result_id}", job={"id": "job-42", "title": "Data Analyst"}, candidate={}
        )
        jobs.append((tenant.name, result_id))
    return jobs


def run_setup(
    label: str, store_url: str, replicas: int, results: int, threads: int, tmp: Path
) -> Outcome:
    """Start `replicas` daemons on `store_url`, POST `results` results, measure."""
    with ReplicaWorld(tmp, TENANTS, completion_delay=None, pull=False) as world:
        ports = [free_port() for _ in range(replicas)]
        balancer = Balancer([f"http://127.0.0.1:{port}" for port in ports], threads=2 * threads)
        plugins = load_plugins()
        store = plugins.open_store(store_url)
        processes: list[ReplicaProcess] = []
        try:
            balancer.start()
            jobs = _prepare(store, world, results, balancer.url)
            for index, port in enumerate(ports):
                config = world.config(
                    tmp / f"replica-{index}.toml",
                    port=port,
                    public_url=balancer.url,
                    store_url=store_url,
                    workers=4,
                    lease=30.0,
                )
                processes.append(ReplicaProcess(config))
            for process in processes:
                process.wait_for("daemon.started")
            tenants = {t.name: t for t in world.tenants}
            http = urllib3.PoolManager(maxsize=threads, retries=False)

            def post(job: tuple[str, str]) -> None:
                tenant, result_id = job
                body = _payload(result_id)
                headers = {
                    "Content-Type": "application/json",
                    "integrator-api-key": tenants[tenant].secrets["result_key"],
                }
                if tenants[tenant].signed:
                    headers[SIGNATURE_HEADER] = sign(
                        tenants[tenant].secrets["result_signing"], body
                    )
                response = http.request(
                    "POST",
                    f"{balancer.url}/results/{tenant}/{result_id}",
                    body=body,
                    headers=headers,
                )
                if response.status != 200:
                    raise RuntimeError(f"{result_id}: HTTP {response.status} {response.data!r}")

            started = time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(threads) as pool:
                list(pool.map(post, jobs))
            acked = time.monotonic() - started
            deadline = time.monotonic() + 300
            while world.written() < results:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"only {world.written()} of {results} written back")
                time.sleep(0.02)
            written = time.monotonic() - started
            received = {r.result_id: r.received_at for r in store.list_results(limit=results)}
            latencies = [
                (write.at - received[write.application_id.removeprefix("app-")]) * 1000
                for tenant in world.tenants
                for write in tenant.ats.writes
                if write.changed
            ]
            for process in processes:
                process.terminate()
            http.clear()
        finally:
            balancer.stop()
            store.close()
            for process in processes:
                process.ensure_dead()
    return Outcome(
        label,
        results,
        results / acked,
        results / written,
        statistics.median(latencies),
        _percentile(latencies, 0.99),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=2000, help="results per setup")
    parser.add_argument("--threads", type=int, default=8, help="concurrent result POSTs")
    parser.add_argument("--replicas", type=int, default=3, help="replicas in the last setup")
    parser.add_argument("--postgres", default=None, help=f"server URL (default: ${URL_ENV})")
    args = parser.parse_args(argv)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # busy by design here
    server = args.postgres or os.environ.get(URL_ENV) or DEFAULT_URL
    try:
        psycopg.connect(server, connect_timeout=3).close()
    except psycopg.Error as exc:
        print(f"no PostgreSQL at {server}: {exc}", file=sys.stderr)
        return 1
    outcomes = []
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        (tmp / "sqlite").mkdir()
        sqlite_url = f"sqlite:///{(tmp / 'sqlite' / 'state.db').as_posix()}"
        outcomes.append(
            run_setup(
                "sqlite, 1 replica", sqlite_url, 1, args.results, args.threads, tmp / "sqlite"
            )
        )
        for replicas in (1, args.replicas):
            label = f"postgres, {replicas} replica{'s' if replicas > 1 else ''}"
            folder_path = tmp / f"pg{replicas}"
            folder_path.mkdir()
            with _postgres_schema(server, f"bench_{replicas}") as url:
                outcomes.append(
                    run_setup(label, url, replicas, args.results, args.threads, folder_path)
                )
    print(
        f"{'setup':<22} {'results':>7} {'acked/s':>8} {'written/s':>9} {'p50 ms':>7} {'p99 ms':>7}"
    )
    for o in outcomes:
        print(
            f"{o.label:<22} {o.results:>7} {o.acked_per_second:>8.0f} "
            f"{o.written_per_second:>9.0f} {o.p50_ms:>7.0f} {o.p99_ms:>7.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
