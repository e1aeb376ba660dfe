"""The daemon's commands (`run`, `check`, `config show`, `plugins`, the store views, `deliveries
retry`, `invite`) against the two-tenant world on 127.0.0.1: the emulator and two reference ATSs."""

from __future__ import annotations

import csv
import gc
import io
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import attrs
import click
import pytest
import urllib3
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from assessio_connect.contract.models import (
    AssessmentOrder,
    CandidateDetails,
    Recruitment,
    email_problem,
)
from assessio_connect.runtime._logging import EventLog
from assessio_connect.runtime.daemon import Daemon
from assessio_connect.store import DeliveryState, NewOrder
from assessio_connect.tools._cli_runtime import INVITE_COLUMNS, _invitation, _read_rows
from assessio_connect.tools.cli import cli
from daemon_harness import SECRETS, Harness, free_port, harness, wait_until

JOB = {"id": "job-7", "title": "Backend Engineer", "department": "Engineering"}
ACME_KEY = SECRETS["acme_provider_key"]
LENS_ID = "7922dd91-1b44-43e4-a740-7c4d9c2fba41"  # "General Performance" at the emulator
RESULT_HEADERS = {
    "Content-Type": "application/json",
    "integrator-api-key": SECRETS["acme_result_key"],
}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Harness]:
    with harness(tmp_path) as built:
        yield built


def invoke(*args: str) -> Result:
    """Run the CLI in-process, without the caller's ASSESSIO_* variables; an unexpected
    exception fails the test with its traceback."""
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("ASSESSIO_")}
    result = CliRunner().invoke(cli, list(args), env=unset, catch_exceptions=False)
    assert "Traceback" not in result.output
    assert_no_secret(result.output)
    return result


def assert_no_secret(text: str) -> None:
    for name, value in SECRETS.items():
        assert value not in text, f"the secret {name} was printed"


def candidate(n: int, tenant: str) -> dict[str, str]:
    return {"id": f"cand-{n}", "email": f"candidate{n}@{tenant}.example", "name": f"Cand {n}"}


def start_daemon(world: Harness) -> Daemon:
    return Daemon(world.load(), world.plugins, log=EventLog(io.StringIO())).start()


def invite_one_each(world: Harness, daemon: Daemon) -> None:
    """One invitation pushed to acme's connector, one waiting to be polled from globex's ATS."""
    body = world.acme_ats.add_invitation("acme-app-1", job=JOB, candidate=candidate(1, "acme"))
    assert world.acme_ats.push_event(f"{daemon.url}/connectors/acme/events", body) == 202
    world.globex_ats.add_invitation("globex-app-1", job=JOB, candidate=candidate(1, "globex"))


def complete_all(world: Harness, count: int) -> None:
    for order in world.wait_for_orders(count):
        world.sandbox.complete(order.order.result_id, provider_key=order.provider_key)


# -- check, config show, plugins ---------------------------------------------------------------


def test_check_reports_store_and_each_tenant_ok(world: Harness) -> None:
    result = invoke("check", "--config", str(world.write_config()))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "configuration: ok (2 tenants)"
    assert lines[1].startswith("store: ok (sqlite:///")
    for tenant in ("acme", "globex"):
        assert any(line.startswith(f"{tenant}: assessio ok (provider-key") for line in lines)
        assert f"{tenant}: ats ok (reference ATS at " in result.output
    assert "FAILED" not in result.output


def test_check_names_the_tenant_whose_provider_key_is_wrong(world: Harness) -> None:
    config = world.write_config()
    wrong = "pk-acme-wrong-0b0b0b"
    (world.tmp / "secrets" / "acme_provider_key").write_text(wrong + "\n")
    result = invoke("check", "--config", str(config))
    assert result.exit_code == 1
    assert "acme: assessio FAILED: Assessio rejected the credentials" in result.stdout
    assert "globex: assessio ok" in result.stdout
    assert "acme: ats ok" in result.stdout  # the other checks still ran
    assert result.stderr.strip() == "error: 1 check failed: acme assessio"
    assert wrong not in result.output
    # --tenant checks only that tenant: the other one passes on its own.
    only_globex = invoke("check", "--config", str(config), "--tenant", "globex")
    assert only_globex.exit_code == 0, only_globex.output
    assert "configuration: ok (1 tenant)" in only_globex.output
    assert "acme" not in only_globex.output
    unknown = invoke("check", "--config", str(config), "--tenant", "initech")
    assert unknown.exit_code == 1
    assert "no tenant named 'initech' (configured: acme, globex)" in unknown.output


def test_check_flags_a_lens_the_organisation_cannot_order_and_a_broken_ats(
    world: Harness,
) -> None:
    config = world.write_config()
    text = config.read_text().replace('locale = "sv-SE"', 'locale = "xx-XX"', 1)
    text = text.replace(world.globex_ats.url, f"http://127.0.0.1:{free_port()}")
    config.write_text(text)
    result = invoke("check", "--config", str(config))
    assert result.exit_code == 1
    assert (
        "globex: assessment FAILED: locale 'xx-XX' is not available "
        "@ $.tenants.globex.assessment.locale"
    ) in result.stdout
    assert "globex: ats FAILED: " in result.stdout
    assert "acme: ats ok" in result.stdout
    assert "2 checks failed: globex assessment, globex ats" in result.stderr


def test_check_lists_every_mistake_of_a_broken_config_with_its_path(tmp_path: Path) -> None:
    (tmp_path / "key").write_text(SECRETS["acme_provider_key"])
    config = tmp_path / "broken.toml"
    config.write_text(
        f"""
[server]
listen = "nowhere"

[store]
url = 3

[tenants.acme]
base_url = "ftp://assessio.example"
provider_key = {{ file = "key" }}
integrator_secret = "{SECRETS["acme_integrator_secret"]}"

[tenants.acme.webhook]
api_keys = [{{ file = "missing-secret-file" }}]

[tenants.acme.ats]
kind = "nosuch"
"""
    )
    result = invoke("check", "--config", str(config))
    assert result.exit_code == 1
    for problem in (
        "@ $.server.listen",
        "expected a string, got an integer @ $.store.url",
        "got 'ftp://assessio.example' @ $.tenants.acme.base_url",
        "not literal values @ $.tenants.acme.integrator_secret",
        "No such file or directory @ $.tenants.acme.webhook.api_keys",
        "unknown ats.kind 'nosuch' (installed: ",
    ):
        assert problem in result.output
    assert result.output.startswith(f"error: {config} has 6 problems:")


def test_config_show_prints_json_with_every_secret_redacted(world: Harness) -> None:
    result = invoke("config", "show", "--config", str(world.write_config()))
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    acme, globex = data["tenants"]["acme"], data["tenants"]["globex"]
    assert acme["provider_key"] == "<redacted file:secrets/acme_provider_key>"
    assert acme["ats"]["api_token"] == "<redacted file:secrets/acme_ats_token>"
    assert globex["webhook"]["signing_secrets"] == ["<redacted file:secrets/globex_result_signing>"]
    assert acme["ats"]["base_url"] == world.acme_ats.url
    assert data["store"]["url"].startswith("sqlite:///")


def test_plugins_lists_the_builtin_plugin_and_its_connector() -> None:
    human = invoke("plugins")
    assert human.exit_code == 0, human.output
    assert re.search(r"^assessio_connect\.builtin  \[assessio-connect ", human.output, re.M)
    assert "  connectors: reference" in human.output
    machine = invoke("plugins", "--json")
    data = json.loads(machine.output)
    assert data["connectors"]["reference"]["plugin"] == "assessio_connect.builtin"
    builtin = next(p for p in data["plugins"] if p["name"] == "assessio_connect.builtin")
    assert "assessio_register_commands" in builtin["hooks"]


# -- the store views ---------------------------------------------------------------------------


@attrs.frozen
class Filled:
    """A store a daemon run left behind: each tenant's order sent and its result received;
    globex's result delivered, acme's dead-lettered (its ATS answered 422); one orphan."""

    config: Path
    store_url: str
    result_ids: dict[str, str]


ORPHAN_ID = "orphan-result-1"


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Filled]:
    with harness(tmp_path_factory.mktemp("filled")) as world:
        world.acme_ats.fail_always(422)
        daemon = start_daemon(world)
        http = urllib3.PoolManager()
        try:
            invite_one_each(world, daemon)
            complete_all(world, 2)
            world.globex_ats.wait_for_writes(1)
            wait_until(lambda: daemon.store.list_deliveries(state=DeliveryState.DEAD))
            body = json.dumps({"resultId": ORPHAN_ID, "score": 64}).encode()
            reply = http.request(
                "POST",
                f"{daemon.url}/results/acme/{ORPHAN_ID}",
                body=body,
                headers=RESULT_HEADERS,
            )
            assert reply.status == 202
            result_ids = {o.tenant: o.result_id for o in daemon.store.list_orders()}
            store_url = daemon.store.url
        finally:
            http.clear()
            daemon.stop()
        yield Filled(world.tmp / "assessio-connect.toml", store_url, result_ids)


def listing(filled: Filled, *args: str) -> Any:
    result = invoke(*args, "--config", str(filled.config), "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_orders_list_filters_by_tenant_and_state(filled: Filled) -> None:
    table = invoke("orders", "list", "--config", str(filled.config))
    assert table.exit_code == 0, table.output
    assert table.output.startswith("TENANT  APPLICATION")
    assert "acme-app-1" in table.output
    assert "globex-app-1" in table.output
    orders = listing(filled, "orders", "list")
    assert {(o["tenant"], o["state"]) for o in orders} == {("acme", "sent"), ("globex", "sent")}
    (globex,) = listing(filled, "orders", "list", "--tenant", "globex")
    assert globex["application_id"] == "globex-app-1"
    assert globex["result_id"] == filled.result_ids["globex"]
    assert globex["lens_id"] == LENS_ID
    assert globex["reference"].startswith("http")  # globex orders links
    assert listing(filled, "orders", "list", "--state", "pending") == []
    assert len(listing(filled, "orders", "list", "--state", "sent")) == 2
    empty = invoke("orders", "list", "--config", str(filled.config), "--state", "failed")
    assert empty.output.splitlines()[-1] == "(none)"
    bad = invoke("orders", "list", "--config", str(filled.config), "--state", "lost")
    assert bad.exit_code == 2


def test_results_list_and_orphans(filled: Filled) -> None:
    results = listing(filled, "results", "list")
    assert {(r["tenant"], r["result_id"], r["orphan"]) for r in results} == {
        ("acme", filled.result_ids["acme"], False),
        ("globex", filled.result_ids["globex"], False),
        ("acme", ORPHAN_ID, True),
    }
    (orphan,) = listing(filled, "results", "orphans")
    assert orphan["result_id"] == ORPHAN_ID
    assert orphan["score"] == 64
    assert listing(filled, "results", "orphans", "--tenant", "globex") == []
    assert len(listing(filled, "results", "list", "--tenant", "acme")) == 2
    table = invoke("results", "orphans", "--config", str(filled.config))
    (row,) = table.output.splitlines()[1:]
    assert row.split()[:5] == ["acme", ORPHAN_ID, "1", "64", "yes"]


def test_deliveries_list_shows_the_dead_one_with_its_reason(filled: Filled) -> None:
    (dead,) = listing(filled, "deliveries", "list", "--state", "dead")
    assert dead["tenant"] == "acme"
    assert dead["result_id"] == filled.result_ids["acme"]
    assert "422" in dead["last_error"]
    (delivered,) = listing(filled, "deliveries", "list", "--state", "delivered")
    assert delivered["tenant"] == "globex"
    assert listing(filled, "deliveries", "list", "--tenant", "globex", "--state", "dead") == []
    table = invoke("deliveries", "list", "--config", str(filled.config), "--tenant", "acme")
    (row,) = table.output.splitlines()[1:]
    assert row.split()[:5] == [str(dead["id"]), "acme", filled.result_ids["acme"], "1", "dead"]
    assert "422" in row


def test_store_url_instead_of_a_config(filled: Filled) -> None:
    result = invoke("orders", "list", "--store", filled.store_url, "--json", "--tenant", "acme")
    assert result.exit_code == 0, result.output
    assert [o["application_id"] for o in json.loads(result.output)] == ["acme-app-1"]
    result = invoke("deliveries", "list", "--store", filled.store_url, "--json")
    assert len(json.loads(result.output)) == 2
    neither = invoke("orders", "list")
    assert neither.exit_code == 2
    assert "give --config FILE" in neither.output


# -- deliveries retry --------------------------------------------------------------------------


def test_deliveries_retry_by_id_and_dead_then_a_restarted_daemon_delivers(
    world: Harness,
) -> None:
    world.acme_ats.fail_always(422)
    world.globex_ats.fail_always(422)
    daemon = start_daemon(world)
    try:
        invite_one_each(world, daemon)
        complete_all(world, 2)
        dead = wait_until(
            lambda: (
                found
                if len(found := daemon.store.list_deliveries(state=DeliveryState.DEAD)) == 2
                else None
            ),
            what="both deliveries dead",
        )
    finally:
        daemon.stop()
    config = str(world.tmp / "assessio-connect.toml")
    ids = {d.tenant: d.id for d in dead}
    assert invoke("deliveries", "retry", "--config", config).exit_code == 2
    unknown = invoke("deliveries", "retry", "--config", config, "424242")
    assert unknown.exit_code == 1
    assert "1 delivery of 1 could not be queued" in unknown.output
    by_id = invoke("deliveries", "retry", "--config", config, str(ids["globex"]))
    assert by_id.exit_code == 0, by_id.output
    assert by_id.output.startswith("1 delivery queued for retry")
    still_dead = json.loads(
        invoke("deliveries", "list", "--config", config, "--state", "dead", "--json").output
    )
    assert [d["id"] for d in still_dead] == [ids["acme"]]
    every_dead = invoke("deliveries", "retry", "--config", config, "--dead")
    assert every_dead.output.startswith("1 delivery queued for retry")
    pending = json.loads(
        invoke("deliveries", "list", "--config", config, "--state", "pending", "--json").output
    )
    assert sorted(d["id"] for d in pending) == sorted(ids.values())
    assert all(d["attempts"] == 0 for d in pending)

    world.acme_ats.heal()
    world.globex_ats.heal()
    restarted = start_daemon(world)
    try:
        for ats in (world.acme_ats, world.globex_ats):
            ats.wait_for_writes(lambda writes: any(w.status == 200 for w in writes))
        wait_until(
            lambda: len(restarted.store.list_deliveries(state=DeliveryState.DELIVERED)) == 2,
            what="both deliveries marked delivered",
        )
    finally:
        restarted.stop()


# -- invite ------------------------------------------------------------------------------------

HEADER = "application_id,job_id,job_title,candidate_id,email,name\n"


def csv_file(world: Harness, name: str, rows: list[str], header: str = HEADER) -> str:
    path = world.tmp / name
    path.write_text(header + "".join(row + "\n" for row in rows))
    return str(path)


def candidates(numbers: range) -> list[str]:
    return [
        f"app-{n},job-7,Backend Engineer,cand-{n},cand{n}@acme.example,Cand {n}" for n in numbers
    ]


def acme_orders(world: Harness) -> list[str]:
    return sorted(o.order.candidate_details.email for o in world.sandbox.orders(ACME_KEY))


def test_invite_csv_orders_everyone_once_and_leaves_other_tenants_alone(
    world: Harness,
) -> None:
    port = free_port()
    config = world.write_config(port=port)
    # A globex order waiting for the daemon: an acme invite must neither send nor fail it.
    store = world.plugins.open_store(world.load(port=port).store_url)
    store.migrate()
    waiting = AssessmentOrder(
        recruitment=Recruitment("rec-1", "Analyst", ""),
        result_update_url=f"http://127.0.0.1:{port}/results/globex/g-1",
        result_id="g-1",
        lens_id=LENS_ID,
        locale="sv-SE",
        candidate_details=CandidateDetails("waiting@globex.example"),
    )
    store.add_order(NewOrder("globex", "globex-app-9", "job-1", "cand-9", waiting), now=time.time())
    store.close()
    rows = csv_file(world, "five.csv", candidates(range(5)))

    first = invoke("invite", "--config", str(config), "--tenant", "acme", "--csv", rows)
    assert first.exit_code == 0, first.output
    assert first.stdout == "5 invited, 0 already ordered (skipped)\n"
    assert acme_orders(world) == [f"cand{n}@acme.example" for n in range(5)]
    for received in world.sandbox.orders(ACME_KEY):
        assert received.order.result_update_url.startswith(f"http://127.0.0.1:{port}/results/acme/")

    again = invoke("invite", "--config", str(config), "--tenant", "acme", "--csv", rows)
    assert again.exit_code == 0, again.output
    assert again.stdout == "0 invited, 5 already ordered (skipped)\n"
    assert len(world.sandbox.orders(ACME_KEY)) == 5

    orders = json.loads(invoke("orders", "list", "--config", str(config), "--json").output)
    states = {(o["tenant"], o["state"], o["attempts"]) for o in orders}
    assert states == {("acme", "sent", 0), ("globex", "pending", 0)}
    assert world.sandbox.orders(SECRETS["globex_provider_key"]) == []


def test_invite_reports_bad_rows_by_line_and_invites_the_good_ones(world: Harness) -> None:
    config = str(world.write_config(port=free_port()))
    good = candidates(range(3))
    rows = csv_file(
        world,
        "mixed.csv",
        [good[0], "app-x,job-7,Backend Engineer,cand-x,not-an-email,X", good[1], "", good[2]],
    )
    result = invoke("invite", "--config", config, "--tenant", "acme", "--csv", rows)
    assert result.exit_code == 1
    assert result.stdout == "3 invited, 0 already ordered (skipped)\n"
    assert "skipped line 3: email: not a valid email address: 'not-an-email'" in result.stderr
    assert result.stderr.rstrip().endswith("error: 1 row could not be invited")
    assert acme_orders(world) == [f"cand{n}@acme.example" for n in range(3)]

    no_email = csv_file(
        world,
        "no-email.csv",
        ["app-1,job-7,Dev,cand-1"],
        header="application_id,job_id,job_title,candidate_id\n",
    )
    missing = invoke("invite", "--config", config, "--tenant", "acme", "--csv", no_email)
    assert missing.exit_code == 1
    assert "error: the CSV's header has no column email (it needs " in missing.output

    latin1 = world.tmp / "latin1.csv"
    latin1.write_bytes(
        HEADER.encode() + "app-1,job-7,Dev,cand-1,bj\xf6rn@acme.example,B\n".encode("latin-1")
    )
    not_utf8 = invoke("invite", "--config", config, "--tenant", "acme", "--csv", str(latin1))
    assert not_utf8.exit_code == 1
    assert "error: the CSV is not UTF-8 text" in not_utf8.output

    unreachable = str(world.write_config())  # listen port 0 and no public_url
    refused = invoke("invite", "--config", unreachable, "--tenant", "acme", "--csv", rows)
    assert refused.exit_code == 1
    assert "set [server] public_url" in refused.output
    assert len(world.sandbox.orders(ACME_KEY)) == 3


def test_invite_during_an_assessio_outage_keeps_orders_and_a_rerun_sends_them(
    world: Harness,
) -> None:
    config = str(world.write_config(port=free_port()))
    rows = csv_file(world, "three.csv", candidates(range(3)))
    args = ("invite", "--config", config, "--tenant", "acme", "--csv", rows)

    world.sandbox.faults.api_errors(503, path="/recruitment/v1/config")
    no_lenses = invoke(*args)
    assert no_lenses.exit_code == 1
    assert "nothing was invited: cannot read the lenses from Assessio" in no_lenses.output

    world.sandbox.faults.api_errors(503, path="/recruitment/v1/assessment-order")
    outage = invoke(*args)
    assert outage.exit_code == 0, outage.output
    first, waiting = outage.stdout.splitlines()
    assert first == "3 invited, 0 already ordered (skipped)"
    assert waiting.startswith("3 orders not sent yet (Assessio: ServerError: ")
    assert waiting.endswith("a running daemon sends them, or run this command again")
    assert world.sandbox.orders(ACME_KEY) == []
    pending = json.loads(
        invoke("orders", "list", "--config", config, "--state", "pending", "--json").output
    )
    assert len(pending) == 3

    rerun = invoke(*args)
    assert rerun.exit_code == 0, rerun.output
    assert rerun.stdout == "0 invited, 3 already ordered (skipped), 3 waiting orders sent now\n"
    assert acme_orders(world) == [f"cand{n}@acme.example" for n in range(3)]
    sent = json.loads(
        invoke("orders", "list", "--config", config, "--state", "sent", "--json").output
    )
    assert len(sent) == 3


cells = st.text(st.characters(codec="utf-8"), max_size=12)


def read_or_refuse(text: str) -> list[tuple[int, dict[str | None, Any]]] | str:
    """The rows of a CSV, or the message `invite` refuses it with."""
    try:
        return _read_rows(io.StringIO(text))
    except click.ClickException as exc:
        return exc.format_message()


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.lists(cells | st.sampled_from(["a@b.se", " x@y.example "]), max_size=8)))
def test_every_csv_row_is_an_invitation_or_its_problems(rows: list[list[str]]) -> None:
    text = io.StringIO()
    csv.writer(text).writerows([[*INVITE_COLUMNS, "name"], *rows])
    read = read_or_refuse(text.getvalue())
    if isinstance(read, str):  # e.g. a NUL character: a message, not a crash
        assert read.startswith("the CSV cannot be read at line ")
        return
    for _line, row in read:
        invitation, problems = _invitation(row)
        assert (invitation is None) == bool(problems)
        if invitation is not None:
            assert email_problem(invitation.candidate.email) is None
            assert invitation.application_id
            assert invitation.application_id == invitation.application_id.strip()


@settings(max_examples=150, deadline=None)
@given(text=st.text(st.characters(codec="utf-8")))
def test_any_text_as_a_csv_is_read_or_refused_with_a_message(text: str) -> None:
    read = read_or_refuse(text)
    assert isinstance(read, list) or read.startswith("the CSV")


# -- run ---------------------------------------------------------------------------------------

RUN = [sys.executable, "-m", "assessio_connect", "run"]
TEXT_LINE = re.compile(r'\w+=(?:"(?:[^"\\]|\\.)*"|[^\s"]+)(?: \w+=(?:"(?:[^"\\]|\\.)*"|[^\s"]+))*')


class RunningDaemon:
    """`python -m assessio_connect run` with every output line collected."""

    def __init__(self, config: Path, log_format: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ASSESSIO_")}
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [*RUN, "--config", str(config), "--log-format", log_format],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert self.proc.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self.proc.stdout,))
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, needle: str) -> str:
        def found() -> str | None:
            while not self.lines.empty():
                line = self.lines.get_nowait()
                self.seen.append(line)
                if needle in line:
                    return line
            return None

        return wait_until(found, 15.0, what=f"{needle!r} in the daemon's output: {self.seen}")

    def terminate(self) -> tuple[int, list[str]]:
        """SIGTERM; the exit code and every line printed."""
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=15)
        self.close()
        while not self.lines.empty():
            self.seen.append(self.lines.get_nowait())
        return code, self.seen

    def close(self) -> None:
        """Kill the process if it still runs; close its pipe."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=15)
        self._reader.join(timeout=5)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


def test_run_logs_json_or_text_serves_health_and_stops_on_sigterm(world: Harness) -> None:
    json_config = world.write_config()
    text_world = attrs.evolve(world, tmp=world.tmp / "text")
    text_world.tmp.mkdir()
    daemons = {
        "json": RunningDaemon(json_config, "json"),
        "text": RunningDaemon(text_world.write_config(), "text"),
    }
    http = urllib3.PoolManager()
    try:
        started = json.loads(daemons["json"].wait_for('"event": "daemon.started"'))
        assert started["tenants"] == "acme,globex"
        text_started = daemons["text"].wait_for("event=daemon.started")
        text_url = re.search(r" url=(\S+)", text_started)
        assert text_url is not None
        for url in (started["url"], text_url.group(1)):
            reply = http.request("GET", f"{url}/healthz")
            assert reply.status == 200
            assert json.loads(reply.data) == {"status": "ok"}
        json_code, json_lines = daemons["json"].terminate()
        text_code, text_lines = daemons["text"].terminate()
    finally:
        http.clear()
        for daemon in daemons.values():
            daemon.close()
    assert json_code == 0
    names = [json.loads(line)["event"] for line in json_lines]  # every line is JSON
    assert names.index("daemon.started") < names.index("daemon.signal")
    assert names[-1] == "daemon.stopped"
    assert text_code == 0
    for line in text_lines:
        assert TEXT_LINE.fullmatch(line), line
    assert text_lines[-1].split()[2] == "event=daemon.stopped"
    assert_no_secret("\n".join(json_lines + text_lines))


def test_run_refuses_a_taken_port_and_a_broken_config_without_a_traceback(
    world: Harness, tmp_path: Path
) -> None:
    with socket.socket() as taken, warnings.catch_warnings():
        # waitress leaves the socket it failed to bind for the garbage collector to close.
        warnings.simplefilter("ignore", ResourceWarning)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = invoke("run", "--config", str(world.write_config(port=port)))
        code, output = result.exit_code, result.output
        del result
        gc.collect()
    assert code == 1
    assert f"error: cannot listen on 127.0.0.1:{port}: " in output
    broken = tmp_path / "broken.toml"
    broken.write_text("[store]\nurl = 'sqlite:///x.db'\n[tenants.acme]\n")
    result = invoke("run", "--config", str(broken))
    assert result.exit_code == 1
    assert result.output.startswith(f"error: {broken} has ")
