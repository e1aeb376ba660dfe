"""`assessio-connect demo` removes its temporary folder (configuration, secrets, store, log)
however it ends: done, failed, timed out, Ctrl-C or SIGTERM, with or without --keep-running.
It says where the daemon's log is, and keeps a scrubbed copy of it when it fails."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from assessio_connect.contract.errors import ConfigError
from assessio_connect.runtime.config import DaemonConfig, load_daemon_config
from assessio_connect.runtime.plugins import Plugins, load_plugins
from assessio_connect.tools._demo import _signals_deferred, run_demo
from daemon_harness import wait_until

DEMO = [str(Path(sys.executable).with_name("assessio-connect")), "demo", "--ats", "reference"]
FILES = "files "
READY = "daemon "


@pytest.fixture
def temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the demo makes its temporary folder and any kept log (tempfile's directory)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


@pytest.fixture
def plugins() -> Plugins:
    return load_plugins(entry_points=False)


class Remembered:
    """The `load` the CLI passes, keeping each configuration's secret values."""

    def __init__(self, plugins: Plugins) -> None:
        self.plugins = plugins
        self.secrets: list[str] = []

    def __call__(self, path: Path) -> DaemonConfig:
        config = load_daemon_config(self.plugins, path)
        self.secrets.extend(config.secret_values())
        return config


def folder_of(lines: list[str]) -> Path:
    (line,) = [line for line in lines if line.startswith(FILES)]
    return Path(line.split()[1])


# -- in process --------------------------------------------------------------------------------


def test_a_finished_demo_leaves_nothing_behind(temp: Path, plugins: Plugins) -> None:
    lines: list[str] = []
    rows = run_demo(
        plugins, candidates=1, kinds=["reference"], echo=lines.append, load=Remembered(plugins)
    )
    assert len(rows) == 1
    folder = folder_of(lines)
    assert folder.parent == temp
    assert any(line.startswith("daemon log") and str(folder) in line for line in lines)
    assert not folder.exists()
    assert list(temp.iterdir()) == []


def test_a_demo_that_fails_to_start_leaves_nothing_behind(temp: Path, plugins: Plugins) -> None:
    lines: list[str] = []

    def broken(path: Path) -> DaemonConfig:
        assert (path.parent / "secrets").is_dir()
        raise ConfigError(["something is wrong @ $.server"], source=str(path))

    with pytest.raises(ConfigError):
        run_demo(plugins, candidates=1, kinds=["reference"], echo=lines.append, load=broken)
    assert not folder_of(lines).exists()
    assert list(temp.iterdir()) == []  # no daemon ran, so no log to keep


def test_a_demo_that_times_out_keeps_only_its_scrubbed_log(temp: Path, plugins: Plugins) -> None:
    lines: list[str] = []
    load = Remembered(plugins)
    with pytest.raises(TimeoutError):
        run_demo(
            plugins, candidates=1, kinds=["reference"], echo=lines.append, load=load, timeout=0.0
        )
    assert not folder_of(lines).exists()
    (kept,) = temp.iterdir()
    assert kept.name.startswith("assessio-demo-")
    assert kept.suffix == ".log"
    assert f"The demo failed; the daemon's log is kept in {kept}" in lines
    text = kept.read_text()
    assert '"daemon.started"' in text or "event=daemon.started" in text
    assert load.secrets
    for secret in load.secrets:
        assert secret not in text


def test_an_interrupted_demo_leaves_nothing_behind(temp: Path, plugins: Plugins) -> None:
    lines: list[str] = []

    def echo(line: str) -> None:
        lines.append(line)
        if line.startswith(READY):
            raise KeyboardInterrupt  # Ctrl-C with everything running

    with pytest.raises(KeyboardInterrupt):
        run_demo(plugins, candidates=1, kinds=["reference"], echo=echo, load=Remembered(plugins))
    assert not folder_of(lines).exists()
    assert list(temp.iterdir()) == []


def cleanup_hit_by_signals(done: list[str]) -> None:
    with _signals_deferred():
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)
        done.append("cleaned up")  # not cut short by either signal


def test_a_stop_signal_waits_for_the_cleanup_then_interrupts() -> None:
    done: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        cleanup_hit_by_signals(done)
    assert done == ["cleaned up"]
    # Both handlers are back as they were.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# -- the console script, stopped by a signal ------------------------------------------------


class DemoProcess:
    """`assessio-connect demo` with its output read line by line."""

    def __init__(self, temp: Path, *options: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ASSESSIO_")}
        env["TMPDIR"] = str(temp)
        self.proc = subprocess.Popen(  # noqa: S603 - our own console script
            [*DEMO, "--candidates", "1", *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))

    def wait_for_line(self, prefix: str) -> str:
        def found() -> str | None:
            while not self._queue.empty():
                line = self._queue.get_nowait()
                self.lines.append(line)
                if line.startswith(prefix):
                    return line
            return None

        return wait_until(found, 60, what=f"a line starting {prefix!r}; got {self.lines}")

    def stop(self, signum: int) -> int:
        self.proc.send_signal(signum)
        return self.proc.wait(timeout=60)


@pytest.fixture
def demos(tmp_path: Path) -> Iterator[list[DemoProcess]]:
    started: list[DemoProcess] = []
    yield started
    for demo in started:
        if demo.proc.poll() is None:
            demo.proc.kill()
            demo.proc.wait(10)
        if demo.proc.stdout is not None:
            demo.proc.stdout.close()


@pytest.mark.parametrize(
    ("signum", "keep_running", "code"),
    [
        (signal.SIGINT, False, 130),
        (signal.SIGTERM, False, 130),
        (signal.SIGINT, True, 0),
        (signal.SIGTERM, True, 0),
    ],
    ids=["ctrl-c", "sigterm", "keep-running-ctrl-c", "keep-running-sigterm"],
)
def test_a_stopped_demo_removes_its_folder(
    tmp_path: Path, demos: list[DemoProcess], signum: int, keep_running: bool, code: int
) -> None:
    demo = DemoProcess(tmp_path, *(["--keep-running"] if keep_running else []))
    demos.append(demo)
    folder = Path(demo.wait_for_line(FILES).split()[1])
    assert folder.parent == tmp_path
    if keep_running:
        demo.wait_for_line("Ctrl-C stops it.")
    else:
        demo.wait_for_line(READY)  # everything started, the candidates on their way
    assert (folder / "secrets").is_dir()
    assert demo.stop(signum) == code
    assert not folder.exists()
    assert list(tmp_path.iterdir()) == []
