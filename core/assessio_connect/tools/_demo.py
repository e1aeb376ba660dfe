"""`assessio-connect demo`: the whole loop on one machine, nothing to install.

It starts the Assessio emulator, the fake ATS of each connector that offers a demo (through the
`assessio_register_demos` hook) and the daemon with one tenant per ATS and a SQLite store in a
temporary folder; moves a few candidates into the assessment stage, and shows progress until
every result is written back into its ATS. The emulator completes each assessment after a
moment, fails the first delivery of every result and delivers each twice, so retries and
duplicates are part of the show.

Its temporary folder (configuration, secrets, store, the daemon's log) is removed however the
demo ends: done, failed, or stopped with Ctrl-C or SIGTERM (with or without `--keep-running`).
The demo says where the log is; when it fails, a copy of the log (scrubbed of every secret) is
kept outside the folder and the demo says where.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType

import attrs

from assessio_connect.contract.models import Lens
from assessio_connect.demo import DemoAts
from assessio_connect.runtime._logging import EventLog
from assessio_connect.runtime.config import DaemonConfig
from assessio_connect.runtime.daemon import Daemon
from assessio_connect.runtime.plugins import Plugins
from assessio_connect.sandbox import DeliverySchedule, Sandbox

__all__ = ["DemoRow", "run_demo"]

NAMES = [
    "Åsa Öberg",
    "Björn Lind",
    "Chidi Okafor",
    "Dana Levi",
    "Eero Mäkinen",
    "Fatima Zahra",
    "Gustav Berg",
    "Hana Sato",
]


@attrs.frozen
class DemoRow:
    """One candidate's journey, for the final table."""

    tenant: str
    candidate: str
    lens: str
    score: str
    written_to: str
    seconds: float


def _settings(tmp: Path) -> str:
    return f"""
[server]
listen = "127.0.0.1:0"

[store]
url = "sqlite:///{(tmp / "state.db").as_posix()}"

[delivery]
workers = 4
first_delay = 0.05
max_delay = 0.5
"""


def _pick(
    available: dict[str, Callable[[], DemoAts]], kinds: Sequence[str]
) -> dict[str, Callable[[], DemoAts]]:
    if kinds:
        unknown = [k for k in kinds if k not in available]
        if unknown:
            raise ValueError(
                f"no demo for {', '.join(unknown)}; available: {', '.join(sorted(available))}"
            )
        return {k: available[k] for k in kinds}
    real = {k: v for k, v in available.items() if k != "reference"}
    return real or available


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Within the block, Ctrl-C and SIGTERM wait: the block finishes, then they interrupt (as
    `KeyboardInterrupt`), so that cleaning up cannot itself be cut short."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread receives signals
        return
    received: list[int] = []

    def remember(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    stops = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, remember) for sig in stops}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        raise KeyboardInterrupt


def _keep_log(log_path: Path | None) -> Path | None:
    """A copy of the daemon's log outside the folder about to be removed (it holds no secret:
    the log is scrubbed), for a demo that failed; None when there is no log yet."""
    if log_path is None or not log_path.exists():
        return None
    descriptor, name = tempfile.mkstemp(prefix="assessio-demo-", suffix=".log")
    os.close(descriptor)
    shutil.copyfile(log_path, name)
    return Path(name)


def run_demo(
    plugins: Plugins,
    *,
    candidates: int = 3,
    kinds: Sequence[str] = (),
    keep_running: bool = False,
    echo: Callable[[str], None] = print,
    timeout: float = 50.0,
    load: Callable[[Path], DaemonConfig],
) -> list[DemoRow]:
    """Run the demo; returns its table rows. Raises TimeoutError if results do not all arrive.

    Its temporary folder is removed on every way out, `KeyboardInterrupt` included; a stop
    signal that arrives while it is being removed waits until it is gone. When the demo
    fails, the daemon's log is kept (copied out of the folder) and its path echoed."""
    available: dict[str, Callable[[], DemoAts]] = {}

    def register(kind: str, factory: Callable[[], DemoAts]) -> None:
        available[kind] = factory

    plugins.hook.assessio_register_demos(register=register)
    chosen = _pick(available, kinds)
    fakes = {f"demo-{kind}": factory() for kind, factory in sorted(chosen.items())}
    tmp: Path | None = None
    log_path: Path | None = None
    try:
        with _signals_deferred():  # a stop now comes once the folder is known, to remove it
            tmp = Path(tempfile.mkdtemp(prefix="assessio-demo-"))
        log_path = tmp / "daemon.log"
        echo(f"files              {tmp}  (removed when the demo ends)")
        echo(f"daemon log         {log_path}")
        with contextlib.ExitStack() as running:
            show = _Show(plugins, fakes, candidates, keep_running, echo, timeout, load)
            return show.run(running, tmp, log_path)
    except Exception:
        kept = _keep_log(log_path)
        if kept is not None:
            echo(f"The demo failed; the daemon's log is kept in {kept}")
        raise
    finally:
        if tmp is not None:
            with _signals_deferred():
                shutil.rmtree(tmp, ignore_errors=True)


@attrs.frozen
class _Show:
    """What the demo runs, as asked for."""

    plugins: Plugins
    fakes: dict[str, DemoAts]
    candidates: int
    keep_running: bool
    echo: Callable[[str], None]
    timeout: float
    load: Callable[[Path], DaemonConfig]

    def run(self, running: contextlib.ExitStack, tmp: Path, log_path: Path) -> list[DemoRow]:
        """Start everything (each stopped by `running` on the way out, signals deferred),
        show the loop, and keep it running when asked."""
        plugins, fakes, candidates, echo = self.plugins, self.fakes, self.candidates, self.echo
        (tmp / "secrets").mkdir(mode=0o700)
        sandbox = Sandbox(
            [fake.organisation() for fake in fakes.values()],
            completion_delay=0.3,
            delivery=DeliverySchedule(first_retry=0.2, max_interval=1.0, horizon=60.0),
        )
        sandbox.faults.duplicate_deliveries(True)
        sandbox.faults.fail_deliveries(len(fakes) * candidates)

        def stopping(stop: Callable[[], None]) -> None:
            def deferred() -> None:
                with _signals_deferred():
                    stop()

            running.callback(deferred)

        sandbox.start()
        stopping(sandbox.stop)
        for fake in fakes.values():
            fake.start()
            stopping(fake.stop)
        text = _settings(tmp) + "".join(
            fake.tenant_toml(tenant, sandbox.url, tmp / "secrets") for tenant, fake in fakes.items()
        )
        config_path = tmp / "assessio-connect.toml"
        config_path.write_text(text, encoding="utf-8")
        config = self.load(config_path)
        log_file = running.enter_context(log_path.open("w", encoding="utf-8"))
        daemon = Daemon(config, plugins, log=EventLog(log_file, secrets=config.secret_values()))
        stopping(daemon.stop)
        daemon.start()
        echo(f"Assessio emulator  {sandbox.url}")
        for tenant, fake in fakes.items():
            echo(f"tenant {tenant:<18} {type(fake).__name__}")
        echo(f"daemon             {daemon.url}  (store {daemon.store.url})")
        triggered: dict[tuple[str, str], float] = {}
        names: dict[str, str] = {}
        for tenant, fake in fakes.items():
            people = [
                (NAMES[i % len(NAMES)], f"candidate{i + 1}@{tenant}.example")
                for i in range(candidates)
            ]
            now = time.time()
            for name, email in people:
                triggered[(tenant, email)] = now
                names[email] = name
            fake.trigger(daemon.url, people)
        rows = _wait(daemon, fakes, triggered, names, echo, self.timeout)
        _print_table(rows, echo)
        if self.keep_running:
            echo("")
            echo("Still running; try, in another terminal:")
            echo(f"  assessio-connect orders list --config {config_path}")
            echo(f"  assessio-connect deliveries list --config {config_path}")
            echo(f"  tail -f {log_path}")
            echo("Ctrl-C stops it. Its files are removed then.")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
        return rows


def _wait(
    daemon: Daemon,
    fakes: dict[str, DemoAts],
    triggered: dict[tuple[str, str], float],
    names: dict[str, str],
    echo: Callable[[str], None],
    timeout: float,
) -> list[DemoRow]:
    total = len(triggered)
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        written = {
            (tenant, email): (where, at)
            for tenant, fake in fakes.items()
            for email, where, at in fake.write_backs()
        }
        orders = daemon.store.list_orders(limit=10_000)
        results = {(r.tenant, r.result_id) for r in daemon.store.list_results(limit=10_000)}
        progress = (
            f"ordered {len(orders)}/{total}  results {len(results)}/{total}  "
            f"written back {len(written)}/{total}"
        )
        if progress != last:
            echo(progress)
            last = progress
        if len(written) >= total:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"not every result was written back within {timeout:g} s")
        time.sleep(0.1)
    rows: list[DemoRow] = []
    for order in sorted(orders, key=lambda o: (o.tenant, o.order.candidate_details.email)):
        email = order.order.candidate_details.email
        result = daemon.store.get_result(order.tenant, order.result_id)
        score = result.result.score if result else None
        where, at = written.get((order.tenant, email), ("-", 0.0))
        lens_names = {lens.id: lens.name for lens in _lenses(daemon, order.tenant)}
        rows.append(
            DemoRow(
                tenant=order.tenant,
                candidate=names.get(email, email),
                lens=lens_names.get(order.order.lens_id, order.order.lens_id),
                score="-" if score is None else str(score),
                written_to=where,
                seconds=max(at - triggered.get((order.tenant, email), at), 0.0),
            )
        )
    return rows


def _lenses(daemon: Daemon, tenant: str) -> Sequence[Lens]:
    runtime = daemon.tenants.get(tenant)
    return runtime.assessio_config().available_lenses if runtime else ()


def _print_table(rows: list[DemoRow], echo: Callable[[str], None]) -> None:
    headers = ("TENANT", "CANDIDATE", "LENS", "SCORE", "WRITTEN BACK TO", "SECONDS")
    cells = [
        (r.tenant, r.candidate, r.lens, r.score, r.written_to, f"{r.seconds:.2f}") for r in rows
    ]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(headers)]
    echo("")
    echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    for row in cells:
        echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
