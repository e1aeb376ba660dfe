"""Runtime benchmarks for the daemon, as rates, ratios and latencies measured in one run.

(1) webhooks acknowledged per second by `ResultReceiver` over a `SQLiteStore` (a durable commit
    per webhook) vs the same waitress server answering 200 from a trivial WSGI app;
(2) latency from a result webhook's receipt to its push-back into a healthy ATS, through a
    whole in-process `Daemon` (emulator as Assessio, `ReferenceAts` as the ATS);
(3) draining a backlog of deliveries with `DeliveryWorker`: time and peak RSS growth for two
    backlog sizes (per-delivery cost should stay flat), with a no-op push and over HTTP.

The load generators and the drains run in spawned child processes, so the measured server has
its own interpreter (and GIL) and each drain starts from a clean heap. Run with `make bench` or
`python benchmarks/runtime.py [--quick]`.
"""

from __future__ import annotations

import argparse
import io
import logging
import math
import multiprocessing
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import urllib3

from assessio_connect import (
    AssessmentOrder,
    CandidateDetails,
    Daemon,
    Recruitment,
    Result,
    ResultReceiver,
    Secret,
    Transport,
    WebhookAuth,
    codec,
    load_daemon_config,
    load_plugins,
)
from assessio_connect.contract.errors import PermanentError
from assessio_connect.contract.models import AssessioConfig
from assessio_connect.contract.webhook import API_KEY_HEADER
from assessio_connect.reference import ReferenceAts, ReferenceConfig, ReferenceConnector
from assessio_connect.runtime._logging import EventLog
from assessio_connect.runtime._outbox import DeliveryWorker
from assessio_connect.runtime._server import BackgroundServer
from assessio_connect.runtime._sqlite_store import SQLiteStore
from assessio_connect.runtime.config import DeliveryConfig, ServerConfig
from assessio_connect.runtime.connector import Invitation, Pushback
from assessio_connect.runtime.connector_state import StoreState
from assessio_connect.runtime.inbound import checked_event
from assessio_connect.sandbox import Organisation, Sandbox
from assessio_connect.store import (
    DeliveryRecord,
    DeliveryState,
    NewOrder,
    OrderRecord,
    OrderState,
    ResultRecord,
)
from flask_baseline import flask_receiver
from wrk_load import WRK, result_ids, webhook, wrk_post

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = [
    "DrainFigures",
    "ReceiverFigures",
    "backlog_drain",
    "main",
    "pushback_latency",
    "receiver_ratio",
]

TENANT = "acme"
RESULT_KEY = "benchmark-result-key"
PROVIDER_KEY = "benchmark-provider-key"
INTEGRATOR_SECRET = "benchmark-integrator-secret"
ATS_TOKEN = "benchmark-ats-token"
ATS_WEBHOOK_SECRET = "benchmark-ats-webhook-secret"
JOB = {"id": "job-7", "title": "Backend Engineer", "department": "Engineering"}
WORKERS = DeliveryConfig().workers
"""Delivery threads: the daemon's default."""
SPAWN = multiprocessing.get_context("spawn")


# -- shared pieces ------------------------------------------------------------------------


def _result_body(result_id: str, score: int) -> bytes:
    """A realistic result webhook: a score, five subscores and both links."""
    result = Result(
        result_id=result_id,
        score=score,
        subscores={f"trait-{n}": (score + 7 * n) % 101 for n in range(5)},
        recruitment_url=f"https://app.assessio.example/recruitments/{result_id}",
        assessment_report_url=f"https://app.assessio.example/reports/{result_id}",
    )
    return codec.dumps(result)


def _new_order(result_id: str) -> NewOrder:
    return NewOrder(
        tenant=TENANT,
        application_id=f"app-{result_id}",
        job_id="job-7",
        candidate_id=f"cand-{result_id}",
        order=AssessmentOrder(
            recruitment=Recruitment("job-7", "Backend Engineer", "Builds things"),
            result_update_url=f"http://127.0.0.1:9/results/{TENANT}/{result_id}",
            result_id=result_id,
            lens_id="7922dd91-1b44-43e4-a740-7c4d9c2fba41",
            locale="sv-SE",
            candidate_details=CandidateDetails(f"{result_id}@example.com"),
        ),
    )


def _percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (p99 of 300 samples is the 297th smallest)."""
    ordered = sorted(values)
    rank = math.ceil(fraction * len(ordered) - 1e-9)
    return ordered[min(max(rank, 1), len(ordered)) - 1]


def _rss_kib() -> float:
    """The resident set size now (Linux), else the peak so far (`ru_maxrss`)."""
    try:
        resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        peak = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        return peak / 1024 if sys.platform == "darwin" else peak  # bytes on macOS, else KiB
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 1024


class _PeakRss:
    """Samples the RSS every 10 ms in a thread until stopped; `peak` is the highest seen."""

    def __init__(self) -> None:
        self.peak = _rss_kib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, _rss_kib())

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_kib())
        return self.peak


def _load() -> str:
    """The 1-minute load average, to judge whether other work skewed a run."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "unknown"


def _commit_probe(count: int = 200) -> str:
    """Median microseconds of one durable SQLite commit here (fsync included): what bounds
    (1) and (3), and what other work on the machine's disk slows first."""
    with tempfile.TemporaryDirectory(prefix="bench-probe-") as tmp:
        store = SQLiteStore(Path(tmp) / "probe.db")
        store.migrate()
        times = []
        for n in range(count):
            began = time.perf_counter()
            store.set_cursor(TENANT, "probe", str(n), now=time.time())
            times.append(time.perf_counter() - began)
        store.close()
    return f"{statistics.median(times) * 1e6:,.0f} us"


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.01)


# -- (1) webhooks per second --------------------------------------------------------------


def _trivial_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """The baseline: read the body, answer what the receiver answers for a new result."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    environ["wsgi.input"].read(length)
    body = b'{"status":"stored","version":1}'
    start_response(
        "200 OK",
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
        ],
    )
    return [body]


def _post_all(
    base_url: str, requests: Sequence[tuple[str, bytes]], headers: dict[str, str], threads: int
) -> tuple[float, dict[int, int]]:
    """(In a child process.) POST every request from `threads` threads, each over its own
    keep-alive connection; returns the wall time and the count of each status."""
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(threads + 1)

    def client(share: Sequence[tuple[str, bytes]]) -> None:
        pool = urllib3.connection_from_url(base_url, maxsize=1, retries=False)
        pool.request("GET", "/healthz")  # opens the connection before the clock starts
        seen: Counter[int] = Counter()
        start.wait()
        for path, body in share:
            seen[pool.request("POST", path, body=body, headers=headers).status] += 1
        with lock:
            statuses.update(seen)
        pool.close()

    workers = [
        threading.Thread(target=client, args=(requests[i::threads],)) for i in range(threads)
    ]
    for worker in workers:
        worker.start()
    start.wait()
    began = time.perf_counter()
    for worker in workers:
        worker.join()
    return time.perf_counter() - began, dict(statuses)


@attrs.frozen
class ReceiverFigures:
    """Webhooks per second, per round, for the receiver and for the trivial app."""

    ours: tuple[float, ...]
    bare: tuple[float, ...]

    @property
    def ratios(self) -> list[float]:
        return [o / b for o, b in zip(self.ours, self.bare, strict=True)]


def receiver_ratio(
    rounds: int,
    count: int,
    threads: int,
    clients: ProcessPoolExecutor,
    server_threads: int = ServerConfig().threads,
) -> ReceiverFigures:
    """Each round's webhooks per second, from the receiver and from the trivial app."""
    headers = {"Content-Type": "application/json", API_KEY_HEADER: RESULT_KEY}
    with tempfile.TemporaryDirectory(prefix="bench-receiver-") as tmp:
        store = SQLiteStore(Path(tmp) / "receiver.db")
        store.migrate()
        # The first batch is a warm-up (each server thread opens its connection), not measured.
        warmup = [f"w-{i:06d}" for i in range(20 * threads)]
        batches = [warmup] + [[f"r{n}-{i:06d}" for i in range(count)] for n in range(rounds)]
        for batch in batches:
            for result_id in batch:
                store.add_order(_new_order(result_id), now=time.time())
        receiver = ResultReceiver({TENANT: WebhookAuth(api_keys=[RESULT_KEY])}, store)
        ours_rates, bare_rates = [], []
        with (
            BackgroundServer(receiver, threads=server_threads) as ours,
            BackgroundServer(_trivial_app, threads=server_threads) as bare,
        ):

            def rate(url: str, requests: list[tuple[str, bytes]]) -> float:
                seconds, statuses = clients.submit(
                    _post_all, url, requests, headers, threads
                ).result()
                if statuses != {200: len(requests)}:
                    raise RuntimeError(f"{url} answered {statuses}, not 200 to each webhook")
                return len(requests) / seconds

            for n, batch in enumerate(batches):
                requests = [
                    (f"/results/{TENANT}/{rid}", _result_body(rid, i % 101))
                    for i, rid in enumerate(batch)
                ]
                if n == 0:
                    rate(ours.url, requests)
                    rate(bare.url, requests)
                elif n % 2:
                    ours_rates.append(rate(ours.url, requests))
                    bare_rates.append(rate(bare.url, requests))
                else:
                    bare_rates.append(rate(bare.url, requests))
                    ours_rates.append(rate(ours.url, requests))
        recorded = sum(len(batch) for batch in batches)
        queued = store.list_deliveries(state=DeliveryState.PENDING, limit=recorded + 1)
        store.close()
    if len(queued) != recorded:
        raise RuntimeError(f"{len(queued)} deliveries queued for {recorded} new results")
    return ReceiverFigures(tuple(ours_rates), tuple(bare_rates))


# -- (2) receipt to push-back latency -----------------------------------------------------


def _daemon_config(tmp: Path, assessio_url: str, ats_url: str, *, server_threads: int = 8) -> Path:
    secrets = {
        "provider_key": PROVIDER_KEY,
        "integrator_secret": INTEGRATOR_SECRET,
        "result_key": RESULT_KEY,
        "ats_token": ATS_TOKEN,
        "ats_webhook": ATS_WEBHOOK_SECRET,
    }
    (tmp / "secrets").mkdir()
    for name, value in secrets.items():
        (tmp / "secrets" / name).write_text(value + "\n")
    path = tmp / "assessio-connect.toml"
    path.write_text(
        f"""
[server]
listen = "127.0.0.1:0"
threads = {server_threads}

[store]
url = "sqlite:///{(tmp / "state.db").as_posix()}"

[tenants.{TENANT}]
base_url = "{assessio_url}"
provider_key = {{ file = "secrets/provider_key" }}
integrator_secret = {{ file = "secrets/integrator_secret" }}

[tenants.{TENANT}.webhook]
api_keys = [{{ file = "secrets/result_key" }}]

[tenants.{TENANT}.assessment]
lens = "General Performance"
locale = "en-GB"

[tenants.{TENANT}.ats]
kind = "reference"
base_url = "{ats_url}"
api_token = {{ file = "secrets/ats_token" }}
webhook_secret = {{ file = "secrets/ats_webhook" }}
"""
    )
    return path


def pushback_latency(count: int, warmup: int = 10) -> tuple[list[float], list[float]]:
    """Milliseconds from just before each webhook's POST to its 200, and to the fake ATS
    recording the write-back (its own `AtsWrite.at`), one webhook at a time."""
    organisation = Organisation(provider_key=PROVIDER_KEY, integrator_secret=INTEGRATOR_SECRET)
    plugins = load_plugins(entry_points=False)
    with (
        tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp,
        Sandbox([organisation], completion_delay=None) as sandbox,
        ReferenceAts(api_token=ATS_TOKEN, webhook_secret=ATS_WEBHOOK_SECRET) as ats,
    ):
        config = load_daemon_config(plugins, _daemon_config(Path(tmp), sandbox.url, ats.url))
        daemon = Daemon(config, plugins, log=EventLog(io.StringIO())).start()
        http = urllib3.PoolManager(maxsize=1, retries=False)
        try:
            total = warmup + count
            for n in range(total):
                event = ats.add_invitation(
                    f"app-{n}",
                    job=JOB,
                    candidate={"id": f"cand-{n}", "email": f"cand{n}@example.com"},
                )
                status = ats.push_event(f"{daemon.url}/connectors/{TENANT}/events", event)
                if status != 202:
                    raise RuntimeError(f"the connector answered {status} to an invitation")
            store = daemon.store
            _wait_for(
                lambda: len(store.list_orders(state=OrderState.SENT, limit=total)) == total,
                timeout=60,
                what=f"{total} orders sent to the emulator",
            )
            orders = sorted(store.list_orders(limit=total), key=lambda o: o.application_id)
            acked: list[float] = []
            pushed: list[float] = []
            for n, order in enumerate(orders):
                url = f"{daemon.url}/results/{TENANT}/{order.result_id}"
                body = _result_body(order.result_id, n % 101)
                began = time.time()
                response = http.request(
                    "POST",
                    url,
                    body=body,
                    headers={"Content-Type": "application/json", API_KEY_HEADER: RESULT_KEY},
                )
                answered = time.time()
                if response.status != 200:
                    raise RuntimeError(f"the receiver answered {response.status}")
                write = ats.wait_for_writes(n + 1, timeout=30)[n]
                if write.application_id != order.application_id or write.status != 200:
                    raise RuntimeError(f"unexpected write-back {write.application_id}")
                if n >= warmup:
                    acked.append((answered - began) * 1000)
                    pushed.append((write.at - began) * 1000)
        finally:
            http.clear()
            daemon.stop()
    return acked, pushed


# -- (3) draining a backlog ---------------------------------------------------------------


def _fill(path: Path, size: int) -> float:
    """Record `size` orders and one result each through the store API; returns the seconds."""
    store = SQLiteStore(path)
    store.migrate()
    began = time.perf_counter()
    for i in range(size):
        result_id = f"b-{i:07d}"
        store.add_order(_new_order(result_id), now=time.time())
        store.record_result(TENANT, result_id, _result_body(result_id, i % 101), now=time.time())
    seconds = time.perf_counter() - began
    store.close()  # checkpoints the WAL into the file, so copying the file copies the backlog
    return seconds


@attrs.define
class _PushContext:
    """The `ConnectorContext` a connector needs to push results, outside a daemon."""

    tenant: str
    transport: Transport
    store: SQLiteStore

    def now(self) -> float:
        return time.time()

    @property
    def state(self) -> StoreState:
        return StoreState(self.store, self.tenant, "reference", owner="bench", clock=time.time)

    def log(self, event: str, **fields: Any) -> None:
        return None

    def invite(self, invitation: Invitation) -> OrderRecord:
        raise NotImplementedError("the drain benchmark records no orders")

    def enqueue(
        self, key: str, payload: bytes, *, headers: Mapping[str, str] | None = None
    ) -> bool:
        key, payload, kept = checked_event(key, payload, headers)
        return self.store.enqueue_event(self.tenant, key, payload, kept, now=time.time())[1]

    def find_order(self, application_id: str) -> OrderRecord | None:
        return self.store.find_order(self.tenant, application_id)

    def latest_result(self, result_id: str) -> ResultRecord | None:
        return self.store.get_result(self.tenant, result_id)

    def assessio_config(self) -> AssessioConfig:
        raise NotImplementedError("the drain benchmark asks Assessio nothing")


def _http_push(store: SQLiteStore, ats_url: str) -> Callable[[DeliveryRecord], None]:
    """What the daemon's push does (read the order and the result, call the connector)."""
    context = _PushContext(TENANT, Transport(pool_maxsize=WORKERS), store)
    connector = ReferenceConnector(
        ReferenceConfig(base_url=ats_url, api_token=Secret("bench", ATS_TOKEN), poll=True), context
    )

    def push(delivery: DeliveryRecord) -> None:
        order = store.get_order(delivery.tenant, delivery.result_id)
        result = store.get_result(delivery.tenant, delivery.result_id, delivery.version)
        if order is None or result is None:
            raise PermanentError(f"result {delivery.result_id} has no order")
        connector.push_result(Pushback(order, result.result, delivery.version, delivery.attempts))

    return push


def _no_push(delivery: DeliveryRecord) -> None:
    return None


def _drain(path: str, expected: int, ats_url: str | None) -> dict[str, float]:
    """(In a fresh child process.) Deliver the whole backlog with the daemon's worker settings;
    returns the seconds, the RSS before and the growth of its peak during the drain (KiB)."""
    store = SQLiteStore(path)
    store.ping()
    push = _no_push if ats_url is None else _http_push(store, ats_url)
    lock = threading.Lock()
    done = threading.Event()
    delivered = 0
    finished = 0.0

    def on_delivered(_delivery: DeliveryRecord) -> None:
        nonlocal delivered, finished
        with lock:
            delivered += 1
            if delivered == expected:
                finished = time.perf_counter()
                done.set()

    worker = DeliveryWorker(
        store, push, owner="bench-drain", threads=WORKERS, on_delivered=on_delivered
    )
    rss_before = _rss_kib()
    sampler = _PeakRss()
    began = time.perf_counter()
    worker.start()
    completed = done.wait(timeout=1800)
    worker.stop()
    rss_growth = sampler.stop() - rss_before
    left = [
        len(store.list_deliveries(state=state, limit=1))
        for state in (DeliveryState.PENDING, DeliveryState.IN_FLIGHT, DeliveryState.DEAD)
    ]
    store.close()
    if not completed or any(left):
        raise RuntimeError(f"the drain did not finish: {worker.stats}")
    return {
        "seconds": finished - began,
        "rss_before": rss_before,
        "rss_growth": rss_growth,
        "errors": float(worker.stats["errors"] + worker.stats["retried"]),
    }


@attrs.frozen
class DrainFigures:
    """One backlog drained: sizes, seconds and memory."""

    size: int
    push: str
    fill_seconds: float
    drain_seconds: float
    rss_before_kib: float
    rss_growth_kib: float
    errors: int
    """Store errors and retries the worker counted (each costs a pause): 0 on a healthy run."""

    @property
    def per_delivery_us(self) -> float:
        return self.drain_seconds / self.size * 1e6


def backlog_drain(sizes: Sequence[int], http_size: int) -> list[DrainFigures]:
    """Fill a store per size, then drain it in a fresh process with a no-op push; the backlog
    of `http_size` (one of `sizes`, or 0 for none) is drained once more into a fake ATS."""
    figures: list[DrainFigures] = []
    with tempfile.TemporaryDirectory(prefix="bench-backlog-") as tmp:
        for size in sizes:
            path = Path(tmp) / f"backlog-{size}.db"
            fill_seconds = _fill(path, size)
            copy = Path(tmp) / f"backlog-{size}-http.db"
            if size == http_size:
                shutil.copyfile(path, copy)
            with ProcessPoolExecutor(1, mp_context=SPAWN) as child:
                drained = child.submit(_drain, str(path), size, None).result()
            figures.append(_figures(size, "no-op", fill_seconds, drained))
            if size != http_size:
                continue
            with ReferenceAts(api_token=ATS_TOKEN) as ats:
                for i in range(size):
                    ats.add_invitation(
                        f"app-b-{i:07d}", job=JOB, candidate={"id": "c", "email": "c@example.com"}
                    )
                with ProcessPoolExecutor(1, mp_context=SPAWN) as child:
                    drained = child.submit(_drain, str(copy), size, ats.url).result()
                if len(ats.results) != size or any(w.status != 200 for w in ats.writes):
                    raise RuntimeError("the fake ATS did not store every result exactly once")
            figures.append(_figures(size, "HTTP", fill_seconds, drained))
    return figures


def _figures(size: int, push: str, fill_seconds: float, drained: dict[str, float]) -> DrainFigures:
    return DrainFigures(
        size=size,
        push=push,
        fill_seconds=fill_seconds,
        drain_seconds=drained["seconds"],
        rss_before_kib=drained["rss_before"],
        rss_growth_kib=drained["rss_growth"],
        errors=int(drained["errors"]),
    )


# -- (4) the daemon's receiver vs a Flask + sqlite3 receiver -----------------------------


@attrs.frozen
class VersusFigures:
    """Webhooks per second, per round, for the daemon and for the Flask + sqlite3 receiver."""

    ours: tuple[float, ...]
    flask: tuple[float, ...]
    ours_cpu: tuple[float, ...]
    """Microseconds of this process's CPU (every thread, user and system) per webhook."""
    flask_cpu: tuple[float, ...]
    load: str
    """What generated the load: wrk, or the in-process client when wrk is missing."""

    @property
    def ratios(self) -> list[float]:
        return [o / b for o, b in zip(self.ours, self.flask, strict=True)]


def _daemon_receiver(tmp: Path, server_threads: int, log_path: Path) -> Daemon:
    """A daemon as `assessio-connect run --log-format json` builds it, its log to a file; not
    started, so no worker, sender or poller competes with its receiver for the CPU."""
    plugins = load_plugins(entry_points=False)
    config_path = _daemon_config(
        tmp, "http://127.0.0.1:9", "http://127.0.0.1:9", server_threads=server_threads
    )
    config = load_daemon_config(plugins, config_path)
    log = EventLog(
        log_path.open("a", encoding="utf-8"), format="json", secrets=config.secret_values()
    )
    daemon = Daemon(config, plugins, log=log)
    daemon.server.stop()  # its own listener; the benchmark serves daemon.wsgi_app() itself
    daemon.store.migrate()
    return daemon


def versus_flask(
    rounds: int,
    seconds: float,
    connections: int,
    clients: ProcessPoolExecutor,
    server_threads: int = ServerConfig().threads,
) -> VersusFigures:
    """Each round's webhooks per second from the daemon's receiver (its log included) and from
    the Flask + sqlite3 receiver, on the same `BackgroundServer` with the same threads, loaded
    by wrk (one thread, `connections` keep-alive connections, `seconds` per round) or, without
    wrk, by the client of (1) in another process (`connections` threads, 2,000 webhooks)."""
    headers = {"Content-Type": "application/json", API_KEY_HEADER: RESULT_KEY}
    ids = 1_000
    with tempfile.TemporaryDirectory(prefix="bench-versus-") as tmp_name:
        tmp = Path(tmp_name)
        daemon = _daemon_receiver(tmp, server_threads, tmp / "daemon.log")
        for result_id in result_ids("v", ids):
            daemon.store.add_order(_new_order(result_id), now=time.time())
        baseline_db = tmp / "flask.db"
        ours_rates: list[float] = []
        flask_rates: list[float] = []
        ours_cpu: list[float] = []
        flask_cpu: list[float] = []
        try:
            with (
                BackgroundServer(daemon.wsgi_app(), threads=server_threads) as ours,
                BackgroundServer(
                    flask_receiver(baseline_db, RESULT_KEY), threads=server_threads
                ) as flask,
            ):

                def rate(url: str, run: int) -> tuple[float, float]:
                    """Webhooks per second, and this process's CPU microseconds per webhook."""
                    cpu = time.process_time()
                    took, answered = load(url, run)
                    return answered / took, (time.process_time() - cpu) / answered * 1e6

                def load(url: str, run: int) -> tuple[float, int]:
                    if WRK is not None:
                        return wrk_post(
                            url,
                            tenant=TENANT,
                            prefix="v",
                            ids=ids,
                            run=run,
                            api_key=RESULT_KEY,
                            seconds=seconds,
                            connections=connections,
                        )
                    requests = [
                        (f"/results/{TENANT}/{rid}", body)
                        for rid, body in (webhook("v", ids, n, run) for n in range(2_000))
                    ]
                    took, statuses = clients.submit(
                        _post_all, url, requests, headers, connections
                    ).result()
                    if statuses != {200: len(requests)}:
                        raise RuntimeError(f"{url} answered {statuses}, not 200 to each webhook")
                    return took, len(requests)

                # Run 0 warms both up (connections, page caches); rounds alternate who goes first.
                for run in range(rounds + 1):
                    pair = [(ours.url, ours_rates, ours_cpu), (flask.url, flask_rates, flask_cpu)]
                    for url, rates, cpus in pair if run % 2 else reversed(pair):
                        measured, cpu = rate(url, run)
                        if run:
                            rates.append(measured)
                            cpus.append(cpu)
        finally:
            daemon.stop()
    return VersusFigures(
        tuple(ours_rates),
        tuple(flask_rates),
        tuple(ours_cpu),
        tuple(flask_cpu),
        "wrk" if WRK else "client",
    )


# -- the report ---------------------------------------------------------------------------


def _settings(args: argparse.Namespace) -> argparse.Namespace:
    quick = args.quick
    defaults = {
        "rounds": 3 if quick else 5,
        "webhooks": 300 if quick else 2000,
        "latency": 50 if quick else 300,
        "backlog": [1_000, 10_000] if quick else [10_000, 100_000],
        "versus": 3.0 if quick else 10.0,
    }
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.http is None:
        args.http = min(args.backlog)
    if args.http and args.http not in args.backlog:
        raise SystemExit(f"--http {args.http} must be one of the --backlog sizes {args.backlog}")
    return args


def _report_receiver(args: argparse.Namespace) -> None:
    with ProcessPoolExecutor(1, mp_context=SPAWN) as clients:
        receiver = receiver_ratio(
            args.rounds, args.webhooks, args.clients, clients, args.server_threads
        )
    ours, bare = statistics.median(receiver.ours), statistics.median(receiver.bare)
    ratios = receiver.ratios
    print(
        f"(1) webhooks acknowledged/s, {args.server_threads} server threads,"
        f" {args.clients} client threads in another process, "
        f"median of {args.rounds} rounds x {args.webhooks:,}"
    )
    print(f"    ResultReceiver + SQLiteStore (commit, synchronous=FULL)  {ours:8,.0f}/s")
    print(f"    trivial WSGI app on the same BackgroundServer          {bare:8,.0f}/s")
    print(
        f"    ratio {statistics.median(ratios):.2f} (aim >= 0.5),"
        f" rounds {min(ratios):.2f}-{max(ratios):.2f}"
    )


def _report_latency(args: argparse.Namespace) -> None:
    acked, pushed = pushback_latency(args.latency)
    print(f"(2) latency, {len(pushed)} webhooks one at a time through a whole Daemon, healthy ATS")
    for label, values in (("receipt -> 200 (committed)", acked), ("receipt -> ATS write", pushed)):
        print(
            f"    {label:27}  p50 {_percentile(values, 0.5):6.1f} ms"
            f"  p99 {_percentile(values, 0.99):6.1f} ms  max {max(values):6.1f} ms"
        )
    print(f"    aim: p50 < 50 ms to the ATS write (measured {_percentile(pushed, 0.5):.1f} ms)")


def _report_drain(args: argparse.Namespace) -> None:
    figures = backlog_drain(args.backlog, args.http)
    print(f"(3) backlog drain, DeliveryWorker with {WORKERS} threads, each drain in a new process")
    print(
        "    backlog   push    fill s  fill/s   drain s  deliveries/s  us/delivery"
        "  RSS before  RSS growth  errors"
    )
    for f in figures:
        print(
            f"    {f.size:>7,}   {f.push:6}{f.fill_seconds:7.1f} {f.size / f.fill_seconds:7,.0f}"
            f"  {f.drain_seconds:8.1f}  {f.size / f.drain_seconds:12,.0f}"
            f"  {f.per_delivery_us:11,.0f}"
            f"  {f.rss_before_kib / 1024:7.1f} MiB  {f.rss_growth_kib / 1024:6.1f} MiB"
            f"  {f.errors:6}"
        )
    no_op = sorted((f for f in figures if f.push == "no-op"), key=lambda f: f.size)
    if len(no_op) >= 2:
        small, large = no_op[0], no_op[-1]
        print(
            f"    per-delivery cost {large.size:,} / {small.size:,}: "
            f"{large.per_delivery_us / small.per_delivery_us:.2f} (linear time: ~1.0)"
        )


def _report_versus(args: argparse.Namespace) -> None:
    if WRK is None:
        print("(4) wrk is not installed (apt-get install wrk): the in-process client loads instead")
    with ProcessPoolExecutor(1, mp_context=SPAWN) as clients:
        versus = versus_flask(args.rounds, args.versus, args.clients, clients, args.server_threads)
    ours, flask = statistics.median(versus.ours), statistics.median(versus.flask)
    ratios = versus.ratios
    load = (
        f"wrk, 1 thread, {args.clients} connections"
        if versus.load == "wrk"
        else f"{args.clients} client threads in another process"
    )
    print(
        f"(4) webhooks acknowledged/s, {args.server_threads} server threads, {load},"
        f" median of {args.rounds} rounds"
        + (f" x {args.versus:g} s" if versus.load == "wrk" else " x 2,000")
    )
    ours_cpu, flask_cpu = statistics.median(versus.ours_cpu), statistics.median(versus.flask_cpu)
    print(
        f"    the daemon's receiver, its JSON log to a file        {ours:8,.0f}/s"
        f"  {ours_cpu:6,.0f} us CPU/webhook"
    )
    print(
        f"    Flask + sqlite3 (API key, JSON, one commit each)    {flask:8,.0f}/s"
        f"  {flask_cpu:6,.0f} us CPU/webhook"
    )
    print(
        f"    ratio {statistics.median(ratios):.2f} (aim >= 1.0),"
        f" rounds {min(ratios):.2f}-{max(ratios):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--rounds", type=int, help="(1) rounds, alternating (default 5)")
    parser.add_argument("--webhooks", type=int, help="(1) webhooks per round (default 2000)")
    parser.add_argument("--clients", type=int, default=8, help="(1) client threads (default 8)")
    parser.add_argument(
        "--server-threads",
        type=int,
        default=ServerConfig().threads,
        help="(1) waitress threads of both servers (default: the daemon's, 8)",
    )
    parser.add_argument("--latency", type=int, help="(2) webhooks timed (default 300)")
    parser.add_argument(
        "--backlog", type=int, action="append", help="(3) a backlog size (default 10k and 100k)"
    )
    parser.add_argument("--http", type=int, help="(3) backlog also pushed over HTTP (0: none)")
    parser.add_argument("--versus", type=float, help="(4) seconds per round (default 10)")
    parser.add_argument(
        "--parts",
        default="1234",
        help="which measures to run, e.g. 4 or 14 (default: all, 1234)",
    )
    args = _settings(parser.parse_args())
    # waitress warns whenever a request waits for a free thread, which a saturating load makes
    # routine; the rates below say what that costs.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    print(
        f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, Python {platform.python_version()},"
        f" load average {_load()} at the start, one durable SQLite commit {_commit_probe()}"
    )

    if "1" in args.parts:
        _report_receiver(args)
    if "2" in args.parts:
        _report_latency(args)
    if "3" in args.parts:
        _report_drain(args)
    if "4" in args.parts:
        _report_versus(args)
    print(
        f"load average {_load()} at the end, one durable SQLite commit {_commit_probe()}"
        " (other work on the machine skews every figure)"
    )


if __name__ == "__main__":
    main()
