"""`assessio-connect demo`: the whole loop on one machine, nothing to install.

It starts the Assessio emulator, the fake ATS of each connector that offers a demo (through the
`assessio_register_demos` hook) and the daemon with one tenant per ATS and a SQLite store in a
temporary folder; moves a few candidates into the assessment stage, and shows progress until
every result is written back into its ATS. The emulator completes each assessment after a
moment, fails the first delivery of every result and delivers each twice, so retries and
duplicates are part of the show.
"""

from __future__ import annotations

import contextlib
import secrets
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

import attrs

from ._logging import EventLog
from .config import DaemonConfig
from .daemon import Daemon
from .models import Lens
from .plugins import Plugins
from .sandbox import DeliverySchedule, Organisation, Sandbox

__all__ = [
    "DemoAts",
    "DemoRow",
    "assessio_tables",
    "demo_organisation",
    "run_demo",
    "secret_writer",
]

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


class DemoAts(Protocol):
    """A connector's fake ATS, driven by the demo."""

    def start(self) -> None:
        """Start the fake ATS on 127.0.0.1."""

    def stop(self) -> None:
        """Stop it."""

    def organisation(self) -> Organisation:
        """The Assessio organisation (credentials) the emulator should know for this tenant."""

    def tenant_toml(self, tenant: str, sandbox_url: str, secrets_dir: Path) -> str:
        """The `[tenants.<tenant>]` tables, secrets written as files under `secrets_dir`."""

    def trigger(self, daemon_url: str, candidates: list[tuple[str, str]]) -> None:
        """Move each (name, email) candidate into the assessment stage."""

    def write_backs(self) -> list[tuple[str, str, float]]:
        """(candidate email, where the result was written, when) for each result written."""


def demo_organisation(label: str) -> Organisation:
    """An emulator organisation with fresh random credentials, for one demo tenant."""
    return Organisation(
        provider_key=f"demo-{label}-{secrets.token_hex(4)}",
        integrator_secret=secrets.token_urlsafe(16),
        result_api_key=secrets.token_urlsafe(16),
    )


def secret_writer(secrets_dir: Path, tenant: str) -> Callable[[str, str], str]:
    """`ref(name, value)`: writes a demo tenant's secret to a file, returns its TOML reference."""

    def ref(name: str, value: str) -> str:
        path = secrets_dir / f"{tenant}-{name}"
        path.write_text(value)
        return f'{{ file = "{path.as_posix()}" }}'

    return ref


def assessio_tables(
    tenant: str,
    sandbox_url: str,
    organisation: Organisation,
    ref: Callable[[str, str], str],
    *,
    department_lenses: Mapping[str, str] | None = None,
) -> str:
    """The Assessio half of a demo tenant's configuration: the emulator, the organisation's
    credentials, the result key, and "General Performance" in en-GB unless a department rule
    picks another lens."""
    rules = "".join(
        f"""
[[tenants.{tenant}.assessment.rules]]
department = "{department}"
lens = "{lens}"
"""
        for department, lens in (department_lenses or {}).items()
    )
    return f"""
[tenants.{tenant}]
base_url = "{sandbox_url}"
provider_key = {ref("provider-key", organisation.provider_key)}
integrator_secret = {ref("integrator-secret", organisation.integrator_secret or "")}

[tenants.{tenant}.webhook]
api_keys = [{ref("result-key", organisation.result_api_key or "")}]

[tenants.{tenant}.assessment]
lens = "General Performance"
locale = "en-GB"
{rules}"""


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
    """Run the demo; returns its table rows. Raises TimeoutError if results do not all arrive."""
    available: dict[str, Callable[[], DemoAts]] = {}

    def register(kind: str, factory: Callable[[], DemoAts]) -> None:
        available[kind] = factory

    plugins.hook.assessio_register_demos(register=register)
    chosen = _pick(available, kinds)
    fakes = {f"demo-{kind}": factory() for kind, factory in sorted(chosen.items())}
    with (
        tempfile.TemporaryDirectory(prefix="assessio-demo-") as folder,
        contextlib.ExitStack() as stack,
    ):
        tmp = Path(folder)
        (tmp / "secrets").mkdir()
        sandbox = Sandbox(
            [fake.organisation() for fake in fakes.values()],
            completion_delay=0.3,
            delivery=DeliverySchedule(first_retry=0.2, max_interval=1.0, horizon=60.0),
        )
        sandbox.faults.duplicate_deliveries(True)
        sandbox.faults.fail_deliveries(len(fakes) * candidates)
        started: list[DemoAts] = []
        daemon: Daemon | None = None
        try:
            sandbox.start()
            for fake in fakes.values():
                fake.start()
                started.append(fake)
            text = _settings(tmp) + "".join(
                fake.tenant_toml(tenant, sandbox.url, tmp / "secrets")
                for tenant, fake in fakes.items()
            )
            config_path = tmp / "assessio-connect.toml"
            config_path.write_text(text, encoding="utf-8")
            config = load(config_path)
            log_file = stack.enter_context((tmp / "daemon.log").open("w", encoding="utf-8"))
            daemon = Daemon(
                config, plugins, log=EventLog(log_file, secrets=config.secret_values())
            ).start()
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
            rows = _wait(daemon, fakes, triggered, names, echo, timeout)
            _print_table(rows, echo)
            if keep_running:
                echo("")
                echo("Still running; try, in another terminal:")
                echo(f"  assessio-connect orders list --config {config_path}")
                echo(f"  assessio-connect deliveries list --config {config_path}")
                echo("Ctrl-C stops it.")
                try:
                    while True:
                        time.sleep(3600)
                except KeyboardInterrupt:
                    pass
            return rows
        finally:
            if daemon is not None:
                daemon.stop()
            for fake in started:
                fake.stop()
            sandbox.stop()


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
