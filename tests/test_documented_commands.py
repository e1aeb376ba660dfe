"""Every command the documents show, run as the installed console script.

The documents are README.md, docs/cli.md and the READMEs of the connectors, the PostgreSQL
plugin and the example connector (`DOCUMENTS`). Their commands are read out of code blocks,
inline code and docs/cli.md's command headings. `CASES` says how to run each one, as written or
with the placeholders filled in, and what it must do (several cases where documents show the
same command in different settings); `test_every_documented_command_has_a_case` fails when a
document shows a command `CASES` does not know, so a command cannot be documented untested.

Each run is a subprocess of `.venv/bin/assessio-connect` in a temporary folder holding the
files the documents name (`daemon.toml`, `assessio-connect.toml`, `order.json`,
`candidates.csv`), in a world (`WORLDS`) of the project's fakes: the Assessio emulator, the
reference ATSs, the fake Greenhouse, FakeHireboard, and a schema on the local PostgreSQL. It
fails on a traceback, on an exit code other than the expected one or one docs/cli.md does not
document, and, for the long-running commands (started, probed over HTTP, stopped with
SIGTERM), when one never becomes ready.

To cover another document, add it to `DOCUMENTS` and its commands to `CASES`; `Run`,
`Serving` and the worlds are meant to be reused.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager
from importlib import metadata
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, urlsplit

import attrs
import pytest
import urllib3
from assessio_connect_hireboard.fake import FakeHireboard

from assessio_connect import Plugins, __version__, load_daemon_config
from assessio_connect_greenhouse.fake import FakeGreenhouse
from daemon_harness import SECRETS, Harness, free_port, harness, wait_until
from documented_worlds import (
    CONNECTOR_SECRETS,
    GREENHOUSE_PARTNER_CLIENT_ID,
    HIREBOARD_API_KEY_ENV,
    PARTNER_SECRET_ENV,
    callback_uri,
    greenhouse_toml,
    hireboard_toml,
    postgres_schema,
    postgres_tables,
    postgres_toml,
    workday_toml,
)

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = (
    ROOT / "README.md",
    ROOT / "docs" / "cli.md",
    ROOT / "connectors" / "greenhouse" / "README.md",
    ROOT / "connectors" / "workday" / "README.md",
    ROOT / "plugins" / "postgres" / "README.md",
    ROOT / "examples" / "connector" / "README.md",
)
CLI_DOC = ROOT / "docs" / "cli.md"
SCRIPT = shutil.which("assessio-connect", path=str(Path(sys.prefix) / "bin"))
TRACEBACK = "Traceback (most recent call last)"
READY_TIMEOUT = 30.0
RUN_TIMEOUT = 60.0

# The contract's example order body, verbatim (assessio-recruitment-api.md, "POST
# /recruitment/v1/assessment-order"); README.md: `order --file order.json  # the wire format`.
ORDER_JSON = """{
  "recruitment": {"id": "82bd4452-bd16-4227-bce9-f1812a9db6ef", "title": "Developer", "description": "string"},
  "additionalRecruitmentCollaboratorsEmails": ["recruiter@assessio.com"],
  "resultUpdateUrl": "https://www.integrator.com/api/v1/candidate-results/73273ca0-0253-4d5f-8f91-d39e298bd351",
  "resultId": "73273ca0-0253-4d5f-8f91-d39e298bd351",
  "lensId": "7922dd91-1b44-43e4-a740-7c4d9c2fba41",
  "locale": "sv-SE",
  "candidateDetails": {"email": "candidate@example.com"}
}
"""  # noqa: E501 - verbatim
# The contract's worked signing example (assessio-recruitment-api.md, "Signature": "from the
# description's Java sample"): secret TODO, t 1539756759, body {}.
SIGNED_EXAMPLE = (
    "t=1539756759,signature=d4ac43f53240c27b4729b088e9cff14b0dddbd5246ce0f4c48b6a73529d3724a"
)
CANDIDATES_CSV = (
    "application_id,job_id,job_title,candidate_id,email\n"
    "app-1,job-7,Backend Engineer,cand-1,asa.oberg@example.se\n"
    "app-2,job-7,Backend Engineer,cand-2,jonas.lind@example.se\n"
)


# -- reading the documents ----------------------------------------------------------------

_FENCE = re.compile(r"^[ \t]*```[^\n]*\n(.*?)^[ \t]*```", re.MULTILINE | re.DOTALL)
_INLINE = re.compile(r"`((?:[^`\n]|\n(?![ \t]*\n))+)`")
"""Inline code, which may run over a line break but not over a blank line."""
_HEADING = re.compile(r"^###\s+`([a-z][a-z -]*)`\s*$", re.MULTILINE)
_INVOCATION = re.compile(
    r"^(?:\$\s+)?(?:[A-Z_]+=\S+\s+)*(?:printf\s+'[^']*'\s*\|\s*)?"
    r"(?:\.venv/bin/)?(?:assessio-connect|python -m assessio_connect)(?:\s|$)"
)


def _normalise(line: str) -> str:
    line = re.sub(r"\s+#\s.*$", "", line)  # a trailing comment
    return " ".join(line.split())


def documented_commands(path: Path) -> set[str]:
    """Each invocation the document shows: code-block lines (continuations joined) and inline
    code that start with the command, as written (prompt and comments dropped)."""
    text = path.read_text(encoding="utf-8")
    found: set[str] = set()
    for block in _FENCE.findall(text):
        for line in block.replace("\\\n", " ").splitlines():
            command = _normalise(line)
            if _INVOCATION.match(command) and " " in command.removeprefix("$ ").strip():
                found.add(command)
    for span in _INLINE.findall(_FENCE.sub("", text)):
        command = _normalise(span)
        if _INVOCATION.match(command) and (" " in command):
            found.add(command)
    return found


def command_headings(path: Path) -> set[str]:
    """The commands docs/cli.md documents under a heading of their own (`### \\`orders list\\``)."""
    return set(_HEADING.findall(path.read_text(encoding="utf-8")))


def documented_exit_codes() -> set[int]:
    """The exit codes docs/cli.md promises ("Exit codes: `0` success; `1` …; `2` …")."""
    text = CLI_DOC.read_text(encoding="utf-8")
    sentence = re.search(r"Exit codes:(.*?)(?:\n\n|$)", text, re.DOTALL)
    assert sentence is not None, "docs/cli.md no longer lists the exit codes"
    return {int(code) for code in re.findall(r"`(\d+)`", sentence[1])}


# -- running ------------------------------------------------------------------------------


@attrs.frozen
class Serving:
    """A long-running command: ready once `ready` matches its stdout (its `url` group is the
    base URL to probe), then every `probes` path must answer 200 to a GET."""

    ready: str
    probes: tuple[str, ...]
    exercise: Callable[[World, str], None] | None = None
    """Called with the base URL once the probes passed, while the command still runs."""


@attrs.frozen
class Run:
    """One invocation: `command` is shell-like text as in the documents; `VAR=value` prefixes
    set the environment and a `printf '…' |` prefix feeds stdin."""

    command: str
    exit_code: int = 0
    stdout: tuple[str, ...] = ()
    """Fragments stdout must contain, in order."""
    stderr: tuple[str, ...] = ()
    """Fragments stderr must contain, in order."""
    serving: Serving | None = None
    check: Callable[[World, str], None] | None = None
    """Further checks on the world and stdout, after the run."""


@attrs.frozen
class Case:
    """How to run one documented command; `needs` names the worlds it runs in."""

    runs: tuple[Run, ...]
    needs: frozenset[str] = frozenset()
    setup: tuple[str, ...] = ()
    """Commands run first, each expected to exit 0 (e.g. the order a conflict repeats)."""


@attrs.define
class World:
    """The temporary folder, the environment, and whatever the case needs running."""

    folder: Path
    env: dict[str, str]
    harness: Harness | None = None
    daemon_port: int | None = None
    greenhouse: FakeGreenhouse | None = None
    hireboard: FakeHireboard | None = None
    postgres_schema: str | None = None
    secrets: dict[str, str] = attrs.field(factory=lambda: {**SECRETS, **CONNECTOR_SECRETS})
    """Every secret value of the world: none may appear in a command's output."""


@attrs.frozen
class Finished:
    code: int
    stdout: str
    stderr: str


def _argv(command: str, world: World) -> tuple[list[str], dict[str, str], bytes | None]:
    tokens = shlex.split(command.removeprefix("$ "))
    env = dict(world.env)
    while tokens and re.fullmatch(r"[A-Z_]+=.*", tokens[0]):
        name, _, value = tokens.pop(0).partition("=")
        env[name] = value
    stdin = None
    if tokens[:1] == ["printf"]:
        stdin = tokens[1].encode()
        assert tokens[2] == "|", command
        tokens = tokens[3:]
    program = tokens.pop(0)
    if program == "python":
        assert tokens[:2] == ["-m", "assessio_connect"], command
        return [sys.executable, *tokens], env, stdin
    assert program in ("assessio-connect", ".venv/bin/assessio-connect"), command
    assert SCRIPT is not None, "the assessio-connect console script is not installed"
    return [SCRIPT, *tokens], env, stdin


class _Output:
    """A running process's stdout and stderr, collected line by line by two threads."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.out: list[str] = []
        self.err: list[str] = []
        self._changed = threading.Condition()
        self._open = 2
        self._threads = [
            threading.Thread(target=self._read, args=(stream, into), daemon=True)
            for stream, into in ((process.stdout, self.out), (process.stderr, self.err))
        ]
        for thread in self._threads:
            thread.start()

    def _read(self, stream: IO[str], into: list[str]) -> None:
        for line in stream:
            with self._changed:
                into.append(line)
                self._changed.notify_all()
        with self._changed:
            self._open -= 1
            self._changed.notify_all()

    @property
    def stdout(self) -> str:
        return "".join(self.out)

    @property
    def both(self) -> str:
        return "".join(self.out + self.err)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str] | None:
        """The first match of `pattern` in stdout; None once the output ended or on timeout."""

        def found() -> re.Match[str] | bool:
            return re.search(pattern, self.stdout) or self._open == 0

        with self._changed:
            result = self._changed.wait_for(found, timeout=timeout)
        return result if isinstance(result, re.Match) else None

    def close(self) -> None:
        for thread in self._threads:
            thread.join(timeout=5)


def _stop(process: subprocess.Popen[str], command: str) -> None:
    """SIGTERM, as the documents say stops a long-running command; then wait for it to end."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"{command!r} did not stop within {RUN_TIMEOUT:g} s of SIGTERM")
    finally:
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


@attrs.define
class Background:
    """A long-running command once ready: `match` is its ready line's match; `process` has
    its exit code once the `running` block is left."""

    process: subprocess.Popen[str]
    output: _Output
    match: re.Match[str]


@contextmanager
def running(command: str, world: World, ready: str) -> Iterator[Background]:
    """Start `command` in the world's folder, wait until its stdout matches `ready`, and stop
    it with SIGTERM when the block is left."""
    argv, env, _ = _argv(command, world)
    process = subprocess.Popen(  # noqa: S603 - our own console script
        argv,
        env=env,
        cwd=world.folder,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    output = _Output(process)
    try:
        match = output.wait_for(ready, READY_TIMEOUT)
        if match is None:
            pytest.fail(
                f"{command!r} never became ready ({ready!r} within {READY_TIMEOUT:g} s;"
                f" exit code {process.poll()}):\n{output.both}"
            )
        yield Background(process, output, match)
    finally:
        _stop(process, command)
        output.close()


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback only
        status: int = response.status
        return status


def _redirected(command: str, world: World) -> tuple[str, Path | None]:
    """`COMMAND > FILE` as a shell reads it: the command, and the file its stdout goes to
    (`~` being the world's home)."""
    command, redirect, target = command.partition(" > ")
    if not redirect:
        return command, None
    if target.startswith("~/"):
        return command, Path(world.env["HOME"]) / target.removeprefix("~/")
    return command, world.folder / target


def run_command(run: Run, world: World) -> Finished:
    command, into = _redirected(run.command, world)
    argv, env, stdin = _argv(command, world)
    if run.serving is None:
        with ExitStack() as stack:
            # The shell opens the file first: a missing folder fails before the command runs.
            stdout = stack.enter_context(into.open("wb")) if into else subprocess.PIPE
            try:
                done = subprocess.run(  # noqa: S603 - our own console script
                    argv,
                    input=stdin,
                    env=env,
                    cwd=world.folder,
                    stdout=stdout,
                    stderr=subprocess.PIPE,
                    timeout=RUN_TIMEOUT,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                pytest.fail(f"{run.command!r} did not finish within {RUN_TIMEOUT:g} s")
        return Finished(done.returncode, (done.stdout or b"").decode(), done.stderr.decode())
    return _serve(run.serving, command, world)


def _serve(serving: Serving, command: str, world: World) -> Finished:
    with running(command, world, serving.ready) as started:
        url = started.match["url"]
        for path in serving.probes:
            assert _get(url + path) == 200, path
        if serving.exercise is not None:
            serving.exercise(world, url)
    output = started.output
    return Finished(started.process.returncode, output.stdout, "".join(output.err))


def _user_environment() -> dict[str, str]:
    """This process's environment without the project's variables, as a user's shell."""
    return {name: value for name, value in os.environ.items() if not name.startswith("ASSESSIO")}


def _contains_in_order(text: str, fragments: tuple[str, ...]) -> bool:
    position = 0
    for fragment in fragments:
        found = text.find(fragment, position)
        if found < 0:
            return False
        position = found + len(fragment)
    return True


def assert_documented_behaviour(run: Run, world: World) -> None:
    finished = run_command(run, world)
    shown = f"{run.command!r} exited {finished.code}\n--- stdout\n{finished.stdout}"
    shown += f"\n--- stderr\n{finished.stderr}"
    assert TRACEBACK not in finished.stdout + finished.stderr, shown
    assert finished.code in documented_exit_codes(), shown
    assert finished.code == run.exit_code, shown
    assert _contains_in_order(finished.stdout, run.stdout), shown
    assert _contains_in_order(finished.stderr, run.stderr), shown
    if run.exit_code == 1:
        assert finished.stderr.startswith("error: "), shown  # one line, as documented
    if run.check is not None:
        run.check(world, finished.stdout)


# -- worlds -------------------------------------------------------------------------------

SANDBOX_COMMAND = (
    ".venv/bin/assessio-connect sandbox --port 8765 --org acme-key=acme-secret "
    "--completion-delay 10"
)
SANDBOX_READY = r"Assessio emulator on (?P<url>http://\S+) "


@contextmanager
def readme_emulator(folder: Path) -> Iterator[dict[str, str]]:
    """The README's emulator, started with its own documented command (on a free port); yields
    the README's `export`s that point the CLI at it."""
    command = SANDBOX_COMMAND.replace("--port 8765", "--port 0")
    with running(command, World(folder, _user_environment()), SANDBOX_READY) as emulator:
        yield {
            "ASSESSIO_BASE_URL": emulator.match["url"],
            "ASSESSIO_PROVIDER_KEY": "acme-key",
            "ASSESSIO_INTEGRATOR_SECRET": "acme-secret",
        }


@pytest.fixture(scope="module")
def emulator_exports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One README emulator for every case of this module that talks to Assessio: the orders
    they send do not disturb each other (a resent resultId is the same order)."""
    with readme_emulator(tmp_path_factory.mktemp("emulator")) as exports:
        yield exports


LOOSE_SECRET = "secrets/acme_ats_webhook"


@contextmanager
def daemon_world(world: World) -> Iterator[None]:
    """The emulator and two reference ATSs in-process, `daemon.toml` for them and its store as
    the daemon leaves it after its first start (the operator commands read a store, they do not
    make one); with `assessio-connect.toml`, connectors/workday/README.md's Workday tenant."""
    with harness(world.folder) as started:
        world.harness = started
        world.daemon_port = free_port()
        (world.folder / "daemon.toml").write_text(started.config_text(port=world.daemon_port))
        _create_store(started.plugins, world.folder / "daemon.toml")
        (world.folder / "assessio-connect.toml").write_text(workday_toml(started))
        for secret in (world.folder / "secrets").iterdir():
            secret.chmod(0o600)
        (world.folder / LOOSE_SECRET).chmod(0o640)  # `run` must warn about this one
        yield


def _create_store(plugins: Plugins, config: Path) -> None:
    store = plugins.open_store(load_daemon_config(plugins, config).store_url)
    try:
        store.migrate()
    finally:
        store.close()


DAEMON_TEXT_READY = r"event=daemon\.started url=(?P<url>\S+)"


@contextmanager
def greenhouse_world(world: World) -> Iterator[None]:
    """connectors/greenhouse/README.md: `daemon.toml` with tenant acme of a partner
    integration, the fake Greenhouse with that partner app (the daemon's redirect URI
    registered, a recruiter who approves), and the daemon the browser comes back to, started
    as `assessio-connect run --config daemon.toml`."""
    port = free_port()
    secret = CONNECTOR_SECRETS["greenhouse_partner_secret"]
    with (
        harness(world.folder) as started,
        FakeGreenhouse(
            partner_client_id=GREENHOUSE_PARTNER_CLIENT_ID,
            partner_client_secret=secret,
            partner_redirect_uris=[callback_uri(port)],
        ) as greenhouse,
    ):
        greenhouse.authorizing_user = greenhouse.add_user("Robin", "Recruiter", "robin@acme.se")
        world.harness, world.greenhouse, world.daemon_port = started, greenhouse, port
        world.env[PARTNER_SECRET_ENV] = secret
        (world.folder / "daemon.toml").write_text(greenhouse_toml(started, greenhouse.url, port))
        with running(
            "assessio-connect run --config daemon.toml", world, DAEMON_TEXT_READY
        ) as daemon:
            yield
        log = daemon.output.both
        assert daemon.process.returncode == 0, log
        assert TRACEBACK not in log, log
        _no_secret_in(world, log)


@contextmanager
def hireboard_world(world: World) -> Iterator[None]:
    """examples/connector/README.md: `daemon.toml` with a Hireboard tenant against
    FakeHireboard, its API key in the environment variable the README names."""
    api_key = CONNECTOR_SECRETS["acme_hireboard_api_key"]
    webhook_secret = CONNECTOR_SECRETS["acme_hireboard_webhook"]
    with (
        harness(world.folder) as started,
        FakeHireboard(api_key=api_key, webhook_secret=webhook_secret) as hireboard,
    ):
        world.harness, world.hireboard = started, hireboard
        world.env[HIREBOARD_API_KEY_ENV] = api_key
        (world.folder / "daemon.toml").write_text(hireboard_toml(started, hireboard.url))
        yield


@contextmanager
def postgres_world(world: World) -> Iterator[None]:
    """plugins/postgres/README.md: the two-tenant `daemon.toml` with its store in a schema of
    its own on the local PostgreSQL (dropped afterwards)."""
    with postgres_schema() as (store_url, schema), harness(world.folder) as started:
        world.harness, world.postgres_schema = started, schema
        (world.folder / "daemon.toml").write_text(postgres_toml(started, store_url))
        yield


WORLDS: Mapping[str, Callable[[World], AbstractContextManager[None]]] = {
    "daemon": daemon_world,
    "greenhouse": greenhouse_world,
    "hireboard": hireboard_world,
    "postgres": postgres_world,
}
"""The worlds a case may need besides the README's emulator ("sandbox"); each writes its own
`daemon.toml`, so a case needs at most one."""


def _files(folder: Path) -> None:
    (folder / "order.json").write_text(ORDER_JSON)
    (folder / "candidates.csv").write_text(CANDIDATES_CSV)
    # the user's home (HOME), with the completions folder fish keeps
    (folder / "home" / ".config" / "fish" / "completions").mkdir(parents=True)


# -- what each documented command must do -------------------------------------------------

ORDER_LINK = (
    ".venv/bin/assessio-connect order --link --email asa.oberg@example.se "
    '--recruitment-id job-42 --title "Backend developer" --lens "General Performance" '
    "--locale sv-SE --result-update-url http://127.0.0.1:9000/results/acme/r-1 --result-id r-1"
)
ORDER_LINK_ARGS = ORDER_LINK.removeprefix(".venv/bin/assessio-connect order --link ")
INVITE = "assessio-connect invite --config daemon.toml --tenant acme --csv candidates.csv"
ORDERS_LIST = (
    "assessio-connect orders list --config daemon.toml [--tenant acme] [--state pending] [--json]"
)
SIGN = "printf '{}' | .venv/bin/assessio-connect sign --secret TODO --timestamp 1539756759"
VERIFY = (
    "printf '{}' | .venv/bin/assessio-connect verify --secret TODO --header \"t=…,signature=…\""
)
NEW_CONNECTOR = "assessio-connect new-connector NAME --style push|pull --auth api-key|basic|oauth2"
TAMPERED = (
    "$ ASSESSIO_INTEGRATOR_SECRET=tampered .venv/bin/assessio-connect order --file order.json"
)
RUN_JSON = "assessio-connect run --config daemon.toml --log-format json"
DAEMON_READY = Serving(
    ready=r'"event": "daemon.started".*"url": "(?P<url>[^"]+)"', probes=("/healthz", "/readyz")
)
DEMO_READY = Serving(
    ready=r"daemon\s+(?P<url>http://\S+)[\s\S]*Ctrl-C stops it", probes=("/healthz",)
)
GREENHOUSE_CONNECT = "assessio-connect greenhouse connect --config daemon.toml --tenant acme"
WORKDAY_TESTS = (
    "assessio-connect workday tests --config assessio-connect.toml --tenant acme [--csv]"
)
COMPLETION_BASH = (
    "_ASSESSIO_CONNECT_COMPLETE=bash_source assessio-connect > ~/.assessio-connect-complete.bash"
)
COMPLETION_ZSH = (
    "_ASSESSIO_CONNECT_COMPLETE=zsh_source assessio-connect > ~/.assessio-connect-complete.zsh"
)
COMPLETION_FISH = (
    "_ASSESSIO_CONNECT_COMPLETE=fish_source assessio-connect "
    "> ~/.config/fish/completions/assessio-connect.fish"
)
SANDBOX = frozenset({"sandbox"})
DAEMON = frozenset({"daemon"})
GREENHOUSE = frozenset({"greenhouse"})
HIREBOARD = frozenset({"hireboard"})
POSTGRES = frozenset({"postgres"})


def _optional(command: str, keep: bool) -> str:
    """`[--json]` kept (brackets dropped) or left out."""
    return re.sub(r"\[([^]]+)\]", r"\1" if keep else "", command)


def _no_secret_in(world: World, stdout: str) -> None:
    leaked = [name for name, value in world.secrets.items() if value in stdout]
    assert not leaked, f"secrets shown: {leaked}"


def _json_lines(world: World, stdout: str) -> None:
    lines = [json.loads(line) for line in stdout.splitlines()]
    events = [line["event"] for line in lines]
    assert "daemon.started" in events, events
    assert events[-1] == "daemon.stopped", events
    (warning,) = [line for line in lines if line["event"] == "config.warning"]
    assert warning["level"] == "warning"
    assert warning["message"].startswith(f"secret file {world.folder / LOOSE_SECRET} ")
    assert events.index("config.warning") < events.index("daemon.started")  # at start
    _no_secret_in(world, stdout)


def _two_orders_sent(world: World, stdout: str) -> None:
    assert world.harness is not None
    emails = sorted(order.order.candidate_details.email for order in world.harness.sandbox.orders())
    assert emails == ["asa.oberg@example.se", "jonas.lind@example.se"], stdout


def _is_json(_world: World, stdout: str) -> None:
    json.loads(stdout)


def _two_sent_orders(_world: World, stdout: str) -> None:
    orders = json.loads(stdout)
    assert {(order["tenant"], order["state"]) for order in orders} == {("acme", "sent")}, orders


def _redacted_json(world: World, stdout: str) -> None:
    _is_json(world, stdout)
    _no_secret_in(world, stdout)


def _package_written(name: str) -> Callable[[World, str], None]:
    def check(world: World, stdout: str) -> None:
        assert (world.folder / f"assessio-connect-{name}" / "pyproject.toml").is_file(), stdout

    return check


def _approve_in_browser(world: World, stdout: str) -> None:
    """The printed link checked, then opened as a browser does: the fake Greenhouse approves
    (as the recruiter) and redirects to the daemon, which exchanges the code at once."""
    assert world.greenhouse is not None
    assert world.daemon_port is not None
    link = stdout.strip()
    assert "\n" not in link, f"stdout should be the link alone: {stdout!r}"
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{world.greenhouse.url}/authorize"
    query = parse_qs(parts.query, strict_parsing=True)
    state = query.pop("state")
    redirect_uri = callback_uri(world.daemon_port)
    assert query == {
        "response_type": ["code"],
        "client_id": [GREENHOUSE_PARTNER_CLIENT_ID],
        "redirect_uri": [redirect_uri],
    }, link
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", state[0]), state  # 256 random bits
    browser = urllib3.PoolManager(retries=False)
    at_greenhouse = browser.request("GET", link, redirect=False)
    assert at_greenhouse.status == 302, at_greenhouse.data
    location = at_greenhouse.headers["Location"]
    back = urlsplit(location)
    assert f"{back.scheme}://{back.netloc}{back.path}" == redirect_uri, location
    assert parse_qs(back.query)["state"] == state, location
    page = browser.request("GET", location, redirect=False)
    assert page.status == 200, page.data
    assert b"Greenhouse is connected" in page.data, page.data
    assert world.greenhouse.refresh_tokens_issued == 1  # the daemon exchanged the code


def _hireboard_stage_change_is_ordered(world: World, url: str) -> None:
    """Hireboard moves a candidate into the assessment stage: the running daemon orders."""
    assert world.hireboard is not None
    assert world.harness is not None
    job = {"id": "job_1", "title": "Account Executive", "department": "Sales"}
    candidate = {"id": "cnd_1", "email": "ada@example.com"}
    world.hireboard.add_application("apl_1", job=job, candidate=candidate)
    status = world.hireboard.send_webhook(f"{url}/connectors/acme/webhook", "apl_1", "assessment")
    assert status == 202, status  # accepted: recorded, sent to Assessio right after
    sandbox = world.harness.sandbox
    wait_until(
        lambda: [
            o for o in sandbox.orders() if o.order.candidate_details.email == candidate["email"]
        ],
        10.0,
        what="the Hireboard candidate's order at the emulator",
    )


def _store_in_postgres(world: World, stdout: str) -> None:
    assert world.postgres_schema is not None
    assert f"schema={world.postgres_schema}" in stdout, stdout  # daemon.started store=…
    assert {"orders", "results", "deliveries"} <= postgres_tables(world.postgres_schema)


def _workday_tests_csv(_world: World, stdout: str) -> None:
    rows = list(csv.reader(io.StringIO(stdout)))
    assert rows[0] == ["Test Name", "Reference ID", "Assessio Lens ID", "Assessio Lens", "Mapped"]
    mapped = {row[3]: (row[1], row[4]) for row in rows[1:]}
    assert mapped == {
        "General Performance": ("ASSESSIO_GENERAL_PERFORMANCE", "yes"),
        "Leadership": ("ASSESSIO_LEADERSHIP", "yes"),
        "Customer Service": ("ASSESSIO_CUSTOMER_SERVICE", "no"),
        "Sales": ("ASSESSIO_SALES", "no"),
    }, rows


def _saved_script(path: str, *fragments: str) -> Callable[[World, str], None]:
    """A check that the command's stdout went to `~/path` and holds `fragments`, in order."""

    def check(world: World, stdout: str) -> None:
        assert stdout == "", "stdout should go to the file"
        script = (Path(world.env["HOME"]) / path).read_text(encoding="utf-8")
        assert _contains_in_order(script, fragments), script

    return check


def _bash_completes(world: World, stdout: str) -> None:
    """The saved script, loaded as `~/.bashrc` would, completes a plugin's command on Tab by
    asking the installed command (on PATH, as in an activated virtualenv)."""
    _saved_script(
        ".assessio-connect-complete.bash",
        "complete -o nosort -F _assessio_connect_completion assessio-connect",
    )(world, stdout)
    bash = shutil.which("bash")
    assert bash is not None, "bash is needed to load the bash completion script"
    assert SCRIPT is not None
    tab = (
        ". ~/.assessio-connect-complete.bash\n"
        "COMP_WORDS=(assessio-connect gre); COMP_CWORD=1\n"
        "_assessio_connect_completion assessio-connect\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    path = f"{Path(SCRIPT).parent}{os.pathsep}{world.env.get('PATH', '')}"
    done = subprocess.run(  # noqa: S603 - the system's bash
        [bash, "--norc", "--noprofile", "-c", tab],
        env={**world.env, "PATH": path},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["greenhouse"], done


def _plugin_line(name: str, distribution: str) -> str:
    return f"{name}  [{distribution} {metadata.version(distribution)}]"


CASES: Mapping[str, Case | tuple[Case, ...]] = {
    # README.md, "Try the API against the emulator"
    SANDBOX_COMMAND: Case(
        runs=(
            Run(
                SANDBOX_COMMAND.replace("--port 8765", "--port 0"),
                stdout=("Assessio emulator on http://127.0.0.1:", "export ASSESSIO_BASE_URL="),
                serving=Serving(ready=SANDBOX_READY, probes=("/_sandbox/orders",)),
            ),
        )
    ),
    ".venv/bin/assessio-connect lenses": Case(
        runs=(
            Run(
                ".venv/bin/assessio-connect lenses",
                stdout=("LENS", "General Performance", "LOCALES", "sv-SE"),
            ),
        ),
        needs=SANDBOX,
    ),
    ".venv/bin/assessio-connect lenses --json": Case(
        runs=(
            Run(
                ".venv/bin/assessio-connect lenses --json",
                stdout=('"availableLenses"', '"General Performance"'),
                check=_is_json,
            ),
        ),
        needs=SANDBOX,
    ),
    ORDER_LINK: Case(
        runs=(
            Run(ORDER_LINK, stdout=("ordered r-1; assessment link: http://", "/_sandbox/take/")),
        ),
        needs=SANDBOX,
    ),
    ".venv/bin/assessio-connect order --file order.json": Case(
        runs=(
            Run(
                ".venv/bin/assessio-connect order --file order.json",
                stdout=("ordered 73273ca0-0253-4d5f-8f91-d39e298bd351; Assessio reference: ",),
            ),
        ),
        needs=SANDBOX,
    ),
    # README.md, the errors "said in one line on stderr"; fragments as the README shows them
    "$ ASSESSIO_PROVIDER_KEY=wrong .venv/bin/assessio-connect lenses": Case(
        runs=(
            Run(
                "$ ASSESSIO_PROVIDER_KEY=wrong .venv/bin/assessio-connect lenses",
                exit_code=1,
                stderr=(
                    "error: Assessio rejected the credentials (check the provider-key and "
                    "integrator-secret) (HTTP 401) ",
                ),
            ),
        ),
        needs=SANDBOX,
    ),
    TAMPERED: Case(
        runs=(
            Run(
                "$ ASSESSIO_INTEGRATOR_SECRET=tampered .venv/bin/assessio-connect order "
                "--file order.json",
                exit_code=1,
                stderr=(
                    "error: Assessio rejected the credentials ",
                    " the Signature does not match the body ",
                ),
            ),
        ),
        needs=SANDBOX,
    ),
    "$ .venv/bin/assessio-connect order --link …same candidate again…": Case(
        setup=(ORDER_LINK,),
        runs=(
            Run(
                # The same candidate in the same recruitment, as a new order (its own
                # resultId): resending r-1 itself would be the same order again, not a conflict.
                ".venv/bin/assessio-connect order --link "
                + ORDER_LINK_ARGS.replace(" --result-id r-1", ""),
                exit_code=1,
                stderr=(
                    "error: Assessio reported a conflict (the candidate may already be in this "
                    "recruitment) (HTTP 409) ",
                ),
            ),
        ),
        needs=SANDBOX,
    ),
    # README.md, "Sign and verify"
    SIGN: Case(runs=(Run(SIGN, stdout=(SIGNED_EXAMPLE + "\n",)),)),
    VERIFY: Case(
        runs=(
            # Signed a moment ago: valid.
            Run(VERIFY.replace("t=…,signature=…", "{fresh}"), stdout=("valid: signed at t=",)),
            # The README's own signature, from 2018: outside the 300 s clock skew.
            Run(
                VERIFY.replace("t=…,signature=…", SIGNED_EXAMPLE),
                exit_code=1,
                stderr=("error: ", "timestamp", "300 s"),
            ),
            Run(
                VERIFY.replace("t=…,signature=…", "{fresh}").replace("TODO", "wrong"),
                exit_code=1,
                stderr=("error: ",),
            ),
        )
    ),
    # README.md, "The connector daemon"
    "assessio-connect run": (
        Case(
            runs=(
                Run(
                    "assessio-connect run",
                    exit_code=2,
                    stderr=("give --config FILE (or set ASSESSIO_CONNECT_CONFIG)",),
                ),
                Run(
                    "ASSESSIO_CONNECT_CONFIG=daemon.toml assessio-connect run",
                    stdout=("event=daemon.started", "event=daemon.stopped"),
                    serving=Serving(ready=DAEMON_TEXT_READY, probes=("/healthz",)),
                ),
            ),
            needs=DAEMON,
        ),
        # plugins/postgres/README.md: `run` with the store in PostgreSQL
        Case(
            runs=(
                Run(
                    "ASSESSIO_CONNECT_CONFIG=daemon.toml assessio-connect run",
                    stdout=("event=daemon.started", 'store="postgresql://', "event=daemon.stopped"),
                    serving=Serving(ready=DAEMON_TEXT_READY, probes=("/healthz", "/readyz")),
                    check=_store_in_postgres,
                ),
            ),
            needs=POSTGRES,
        ),
    ),
    "assessio-connect check --config daemon.toml": (
        Case(
            runs=(
                Run(
                    "assessio-connect check --config daemon.toml",
                    stdout=("configuration: ok (2 tenants)", "store: ok", "acme:", "globex:"),
                    check=_no_secret_in,
                ),
            ),
            needs=DAEMON,
        ),
        # examples/connector/README.md, "Run it": the connector's check() for a Hireboard tenant
        Case(
            runs=(
                Run(
                    "assessio-connect check --config daemon.toml",
                    stdout=("acme:", "Hireboard at http://127.0.0.1:", "accepted the API key"),
                    check=_no_secret_in,
                ),
            ),
            needs=HIREBOARD,
        ),
    ),
    "assessio-connect config show --config daemon.toml": Case(
        runs=(
            Run(
                "assessio-connect config show --config daemon.toml",
                stdout=('"server"', "<redacted file:secrets/acme_provider_key>"),
                check=_redacted_json,
            ),
        ),
        needs=DAEMON,
    ),
    RUN_JSON: Case(runs=(Run(RUN_JSON, serving=DAEMON_READY, check=_json_lines),), needs=DAEMON),
    ORDERS_LIST: Case(
        setup=(INVITE,),
        runs=(
            Run(_optional(ORDERS_LIST, keep=False), stdout=("acme", "app-1", "sent")),
            Run(
                _optional(ORDERS_LIST, keep=True).replace("pending", "sent"),
                check=_two_sent_orders,
            ),
            Run(_optional(ORDERS_LIST, keep=True), stdout=("[]",)),
        ),
        needs=DAEMON,
    ),
    # The read-only commands refuse a store that does not exist: an invite makes it first.
    "assessio-connect results list --config daemon.toml": Case(
        setup=(INVITE,),
        runs=(Run("assessio-connect results list --config daemon.toml"),),
        needs=DAEMON,
    ),
    "assessio-connect results orphans --config daemon.toml": Case(
        setup=(INVITE,),
        runs=(Run("assessio-connect results orphans --config daemon.toml"),),
        needs=DAEMON,
    ),
    "assessio-connect deliveries list --config daemon.toml --state dead": Case(
        setup=(INVITE,),
        runs=(Run("assessio-connect deliveries list --config daemon.toml --state dead"),),
        needs=DAEMON,
    ),
    "assessio-connect deliveries retry --config daemon.toml --dead": Case(
        setup=(INVITE,),
        runs=(
            Run(
                "assessio-connect deliveries retry --config daemon.toml --dead",
                stdout=("0 deliveries queued for retry",),
            ),
            Run(
                "assessio-connect deliveries retry --config daemon.toml",
                exit_code=2,
                stderr=("give delivery IDs or --dead",),
            ),
        ),
        needs=DAEMON,
    ),
    # docs/cli.md, "events list" and "events retry": the reference connectors queue nothing.
    "assessio-connect events list --config daemon.toml --state dead": Case(
        setup=(INVITE,),
        runs=(
            Run(
                "assessio-connect events list --config daemon.toml --state dead",
                stdout=("ID", "KEY", "LAST ERROR", "(none)"),
            ),
            Run("assessio-connect events list --config daemon.toml --json", stdout=("[]",)),
        ),
        needs=DAEMON,
    ),
    "assessio-connect events retry --config daemon.toml --dead": Case(
        setup=(INVITE,),
        runs=(
            Run(
                "assessio-connect events retry --config daemon.toml --dead",
                stdout=("0 events queued for retry",),
            ),
            Run(
                "assessio-connect events retry --config daemon.toml 999",
                exit_code=1,
                stdout=("0 events queued for retry",),
                stderr=("error: 1 event of 1 could not be queued: unknown ID",),
            ),
            Run(
                "assessio-connect events retry --config daemon.toml",
                exit_code=2,
                stderr=("give event IDs or --dead",),
            ),
        ),
        needs=DAEMON,
    ),
    INVITE: Case(runs=(Run(INVITE, check=_two_orders_sent),), needs=DAEMON),
    # docs/cli.md, "status" and "trace": over the store the invite made.
    "assessio-connect status --config daemon.toml": Case(
        setup=(INVITE,),
        runs=(
            Run(
                "assessio-connect status --config daemon.toml",
                stdout=(
                    "0 failing, 1 delayed, 1 ok (2 tenants)",
                    "HEALTH",
                    "globex",  # polled, but the world's daemon never ran
                    "never polled successfully",
                    "acme",
                ),
                check=_no_secret_in,
            ),
            Run(
                "assessio-connect status --config daemon.toml --tenant nobody",
                exit_code=1,
                stderr=("error: no tenant named 'nobody'",),
            ),
        ),
        needs=DAEMON,
    ),
    "assessio-connect status --config daemon.toml --tenant acme": Case(
        setup=(INVITE,),
        runs=(
            Run(
                "assessio-connect status --config daemon.toml --tenant acme",
                stdout=("acme", "health:", "orders:", "2 sent"),
            ),
        ),
        needs=DAEMON,
    ),
    "assessio-connect trace asa.oberg@example.se --config daemon.toml": Case(
        setup=(INVITE,),
        runs=(
            Run(
                "assessio-connect trace asa.oberg@example.se --config daemon.toml",
                stdout=("acme · application app-1", "order.created", "order.sent"),
            ),
        ),
        needs=DAEMON,
    ),
    "assessio-connect trace APPLICATION-ID|RESULT-ID|EMAIL [--tenant T] [--json]": Case(
        setup=(INVITE,),
        runs=(
            Run(
                "assessio-connect trace app-2 --config daemon.toml --tenant acme --json",
                stdout=('"application_id": "app-2"', '"kind": "order.sent"'),
            ),
            Run(
                "assessio-connect trace nobody@example.com --config daemon.toml",
                exit_code=1,
                stderr=("error: nothing found for 'nobody@example.com'",),
            ),
        ),
        needs=DAEMON,
    ),
    # README.md, prose
    "assessio-connect demo": Case(
        runs=(
            Run(
                "assessio-connect demo",
                stdout=(
                    "TENANT",
                    "CANDIDATE",
                    "WRITTEN BACK TO",
                    "demo-greenhouse",  # connectors/greenhouse/README.md: its fake in the demo
                    "note on candidate",
                ),
            ),
            Run(
                "assessio-connect demo --candidates 1 --ats reference --keep-running",
                stdout=("demo-reference", "Ctrl-C stops it"),
                serving=DEMO_READY,
            ),
            Run(
                "assessio-connect demo --ats no-such-ats",
                exit_code=1,
                stderr=("error: ",),
            ),
        )
    ),
    "assessio-connect plugins [--json]": Case(
        runs=(
            Run("assessio-connect plugins", stdout=("reference",)),
            Run("assessio-connect plugins --json", check=_is_json),
        )
    ),
    NEW_CONNECTOR: Case(
        runs=(
            Run(
                "assessio-connect new-connector my_push --style push --auth api-key",
                stdout=("Created ",),
                check=_package_written("my_push"),
            ),
            Run(
                "assessio-connect new-connector my_pull --style pull --auth oauth2",
                check=_package_written("my_pull"),
            ),
            Run(
                "assessio-connect new-connector my_basic --auth basic",
                check=_package_written("my_basic"),
            ),
            Run("assessio-connect new-connector My-Ats", exit_code=2, stderr=("Error: ",)),
        )
    ),
    # docs/cli.md
    "assessio-connect [--strict-plugins] [--version] [-h | --help] COMMAND [ARGS]...": Case(
        runs=(
            Run("assessio-connect --version", stdout=(__version__,)),
            Run("assessio-connect -h", stdout=("Usage: assessio-connect",)),
            Run("assessio-connect --help", stdout=("Commands:", "sandbox")),
            Run("assessio-connect --strict-plugins plugins", stdout=("reference",)),
            Run("assessio-connect no-such-command", exit_code=2, stderr=("No such command",)),
        )
    ),
    "assessio-connect orders list --help": Case(
        runs=(Run("assessio-connect orders list --help", stdout=("--state",)),)
    ),
    "python -m assessio_connect": Case(
        runs=(Run("python -m assessio_connect --version", stdout=(__version__,)),)
    ),
    "assessio-connect greenhouse connect": Case(
        runs=(
            Run("assessio-connect greenhouse connect --help", stdout=("--tenant",)),
            Run(
                "assessio-connect greenhouse connect --config daemon.toml --tenant acme",
                exit_code=1,
                stderr=("error: ", "not to Greenhouse"),
            ),
        ),
        needs=DAEMON,
    ),
    # connectors/greenhouse/README.md, "Connecting a partner integration's tenant", and its
    # `assessio-connect check` (the partner connection alive, or the command to make it)
    GREENHOUSE_CONNECT: Case(
        runs=(
            Run(
                "assessio-connect check --config daemon.toml",
                exit_code=1,
                stdout=(
                    "acme: ats FAILED: tenant acme is not connected to Greenhouse yet: run "
                    "assessio-connect greenhouse connect --config <daemon.toml> --tenant acme",
                ),
                stderr=("error: ",),
            ),
            Run(
                GREENHOUSE_CONNECT,
                stdout=("http://127.0.0.1:",),
                stderr=("To connect tenant acme", "/connectors/acme/oauth/callback"),
                check=_approve_in_browser,
            ),
            Run(
                "assessio-connect check --config daemon.toml",
                stdout=("acme:", "partner connection connected; "),
                check=_no_secret_in,
            ),
        ),
        needs=GREENHOUSE,
    ),
    # docs/cli.md, "Shell completion": each script saved where the document says
    COMPLETION_BASH: Case(runs=(Run(COMPLETION_BASH, check=_bash_completes),)),
    COMPLETION_ZSH: Case(
        runs=(
            Run(
                COMPLETION_ZSH,
                check=_saved_script(
                    ".assessio-connect-complete.zsh",
                    "#compdef assessio-connect",
                    "compdef _assessio_connect_completion assessio-connect",
                ),
            ),
        )
    ),
    COMPLETION_FISH: Case(
        runs=(
            Run(
                COMPLETION_FISH,
                check=_saved_script(
                    ".config/fish/completions/assessio-connect.fish",
                    "complete --no-files --command assessio-connect",
                ),
            ),
        )
    ),
    # connectors/workday/README.md, examples/connector/README.md, plugins/postgres/README.md,
    # connectors/greenhouse/README.md: each says `plugins` lists it
    "assessio-connect plugins": Case(
        runs=(
            Run(
                "assessio-connect plugins",
                stdout=(
                    _plugin_line("greenhouse", "assessio-connect-greenhouse"),
                    "connectors: greenhouse",
                    _plugin_line("hireboard", "assessio-connect-hireboard"),
                    "connectors: hireboard",
                    _plugin_line("postgres", "assessio-connect-postgres"),
                    _plugin_line("workday", "assessio-connect-workday"),
                    "connectors: workday",
                ),
            ),
        )
    ),
    # connectors/workday/README.md
    WORKDAY_TESTS: Case(
        runs=(
            Run(
                _optional(WORKDAY_TESTS, keep=False),
                stdout=(
                    "TEST NAME",
                    "Assessio General Performance  ASSESSIO_GENERAL_PERFORMANCE",
                    "Assessio Leadership",
                    "ASSESSIO_LEADERSHIP",
                    "2 lens(es) not mapped yet",
                    # the emulator's lens ids, with the README's suggested Reference IDs
                    '"a775e7f3-0088-473c-a732-af145b64d24b" = "ASSESSIO_CUSTOMER_SERVICE"',
                    '"1650ccfe-5e70-4732-89e6-123af02f2a6d" = "ASSESSIO_SALES"',
                ),
            ),
            Run(_optional(WORKDAY_TESTS, keep=True), check=_workday_tests_csv),
        ),
        needs=DAEMON,
    ),
    "assessio-connect demo --ats workday": Case(
        runs=(
            Run(
                "assessio-connect demo --ats workday",
                stdout=("demo-workday", "WRITTEN BACK TO", "Assess_Candidate on JOB_APPLICATION-"),
            ),
        )
    ),
    # connectors/greenhouse/README.md, "Errors": "Fix the cause, then `assessio-connect
    # deliveries retry`"
    "assessio-connect deliveries retry": Case(
        setup=(INVITE,),
        runs=(
            Run(
                "assessio-connect deliveries retry",
                exit_code=2,
                stderr=("give delivery IDs or --dead",),
            ),
            Run(
                "ASSESSIO_CONNECT_CONFIG=daemon.toml assessio-connect deliveries retry 999",
                exit_code=1,
                stdout=("0 deliveries queued for retry",),
                stderr=("error: 1 delivery of 1 could not be queued: unknown ID",),
            ),
        ),
        needs=DAEMON,
    ),
    # examples/connector/README.md
    "assessio-connect new-connector NAME": Case(
        runs=(
            Run(
                "assessio-connect new-connector my_ats",
                stdout=("Created ",),
                check=_package_written("my_ats"),
            ),
        )
    ),
    "assessio-connect check": Case(
        runs=(
            Run("assessio-connect check", exit_code=2, stderr=("give --config FILE",)),
            Run(
                f"{HIREBOARD_API_KEY_ENV}=wrong ASSESSIO_CONNECT_CONFIG=daemon.toml "
                "assessio-connect check",
                exit_code=1,
                stdout=("acme:", "HTTP 401", "check ats.api_key"),
                stderr=("error: ",),
            ),
        ),
        needs=HIREBOARD,
    ),
    "assessio-connect run --config daemon.toml": Case(
        runs=(
            Run(
                "assessio-connect run --config daemon.toml",
                stdout=("event=daemon.started", "event=daemon.stopped"),
                serving=Serving(
                    ready=DAEMON_TEXT_READY,
                    probes=("/healthz", "/readyz"),
                    exercise=_hireboard_stage_change_is_ordered,
                ),
                check=_no_secret_in,
            ),
        ),
        needs=HIREBOARD,
    ),
    "assessio-connect workday tests": Case(
        runs=(
            Run(
                "assessio-connect workday tests --config assessio-connect.toml --tenant acme",
                stdout=("ASSESSIO_GENERAL_PERFORMANCE",),
            ),
            Run(
                "assessio-connect workday tests --config daemon.toml --tenant acme",
                exit_code=1,
                stderr=("error: ", "not to Workday"),
            ),
        ),
        needs=DAEMON,
    ),
}


def _fill(command: str) -> str:
    if "{fresh}" in command:
        fresh = subprocess.run(  # noqa: S603 - our own console script
            [str(SCRIPT), "sign", "--secret", "TODO"],
            input=b"{}",
            capture_output=True,
            check=True,
        )
        command = command.replace("{fresh}", fresh.stdout.decode().strip())
    return command


@contextmanager
def world_for(case: Case, folder: Path, request: pytest.FixtureRequest) -> Iterator[World]:
    world = World(folder, {**_user_environment(), "HOME": str(folder / "home")})
    _files(folder)
    if "sandbox" in case.needs:
        world.env.update(request.getfixturevalue("emulator_exports"))
    needed = [name for name in WORLDS if name in case.needs]
    assert len(needed) <= 1, f"each of {needed} writes daemon.toml: a case needs one at most"
    assert case.needs <= {"sandbox", *WORLDS}, case.needs
    with ExitStack() as stack:
        for name in needed:
            stack.enter_context(WORLDS[name](world))
        yield world


# -- the tests ----------------------------------------------------------------------------


def cases_of(documented: str) -> tuple[Case, ...]:
    """The cases of a documented command: several where documents show it in different
    settings (README.md's daemon, the example connector's)."""
    cases = CASES[documented]
    return cases if isinstance(cases, tuple) else (cases,)


def _case_params() -> list[Any]:
    return [
        pytest.param(documented, index, id=documented if index == 0 else f"{documented} #{index}")
        for documented in sorted(CASES)
        for index in range(len(cases_of(documented)))
    ]


def test_every_documented_command_has_a_case() -> None:
    documented = set().union(*(documented_commands(path) for path in DOCUMENTS))
    assert documented, "no command found in the documents: has the extraction broken?"
    untested = sorted(documented - CASES.keys())
    assert not untested, f"documented but not run by this module (add them to CASES): {untested}"
    stale = sorted(CASES.keys() - documented)
    assert not stale, f"CASES run commands the documents no longer show: {stale}"


def test_every_command_heading_of_the_cli_doc_is_run() -> None:
    headings = command_headings(CLI_DOC)
    assert len(headings) >= 15, headings
    run_paths = set()
    for case in (case for documented in CASES for case in cases_of(documented)):
        for run in case.runs:
            words = shlex.split(run.command.removeprefix("$ "))
            words = [w for w in words if not re.fullmatch(r"[A-Z_]+=.*", w)]
            scripts = [i for i, w in enumerate(words) if w.endswith("assessio-connect")]
            rest = words[scripts[0] + 1 :] if scripts else []
            run_paths.add(" ".join(rest[:1]))
            run_paths.add(" ".join(rest[:2]))
    missing = sorted(heading for heading in headings if heading not in run_paths)
    assert not missing, f"docs/cli.md documents commands no case runs: {missing}"


def test_the_documented_exit_codes_are_the_cli_s() -> None:
    assert documented_exit_codes() == {0, 1, 2, 130}


@pytest.mark.parametrize(("documented", "index"), _case_params())
def test_the_documented_command_runs_as_documented(
    documented: str, index: int, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    case = cases_of(documented)[index]
    with world_for(case, tmp_path, request) as world:
        for command in case.setup:
            setup = run_command(Run(command), world)
            assert setup.code == 0, f"setup {command!r} failed:\n{setup.stdout}{setup.stderr}"
        for run in case.runs:
            started = time.monotonic()
            assert_documented_behaviour(attrs.evolve(run, command=_fill(run.command)), world)
            assert time.monotonic() - started < RUN_TIMEOUT
