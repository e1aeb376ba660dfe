"""The README's first steps, through the CLI, against the emulator over real HTTP."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from assessio_connect import codec, sign
from assessio_connect.sandbox import Organisation, Sandbox
from assessio_connect.tools import cli as cli_module
from assessio_connect.tools.cli import cli

KEY = "acme-key"
SECRET = "acme-secret-value"
LENS = "7922dd91-1b44-43e4-a740-7c4d9c2fba41"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox([Organisation(KEY, SECRET)]) as running:
        yield running


def _env(sandbox: Sandbox, **changes: str) -> dict[str, str]:
    env = {
        "ASSESSIO_BASE_URL": sandbox.url,
        "ASSESSIO_PROVIDER_KEY": KEY,
        "ASSESSIO_INTEGRATOR_SECRET": SECRET,
    }
    env.update(changes)
    return env


ORDER_FLAGS = [
    "order",
    "--email",
    "asa.oberg@example.se",
    "--recruitment-id",
    "job-42",
    "--title",
    "Backend developer",
    "--lens",
    "General Performance",
    "--locale",
    "sv-SE",
    "--result-update-url",
    "http://127.0.0.1:9/results/acme/r-1",
    "--result-id",
    "r-1",
]


def test_config_lists_lenses_human_and_json(sandbox: Sandbox) -> None:
    runner = CliRunner()
    human = runner.invoke(cli, ["lenses"], env=_env(sandbox))
    assert human.exit_code == 0, human.output
    assert "General Performance" in human.output
    assert LENS in human.output
    machine = runner.invoke(cli, ["lenses", "--json"], env=_env(sandbox))
    assert machine.exit_code == 0
    data = json.loads(machine.output)
    assert {"id": LENS, "name": "General Performance"} in data["availableLenses"]


def test_order_with_link_then_duplicate_candidate_is_a_clear_error(sandbox: Sandbox) -> None:
    runner = CliRunner()
    first = runner.invoke(cli, [*ORDER_FLAGS, "--link"], env=_env(sandbox))
    assert first.exit_code == 0, first.output
    assert "assessment link: http://127.0.0.1" in first.output
    (received,) = sandbox.orders(KEY)
    assert received.order.lens_id == LENS  # the lens name was resolved through the config
    second = runner.invoke(cli, [*ORDER_FLAGS[:-1], "r-2", "--link"], env=_env(sandbox))
    assert second.exit_code == 1
    assert "conflict" in second.output
    assert "HTTP 409" in second.output
    assert "Traceback" not in second.output


def test_order_from_file_prints_the_reference_as_json(sandbox: Sandbox, tmp_path: str) -> None:
    order = {
        "recruitment": {"id": "job-1", "title": "Dev", "description": ""},
        "additionalRecruitmentCollaboratorsEmails": [],
        "resultUpdateUrl": "http://127.0.0.1:9/results/acme/r-9",
        "resultId": "r-9",
        "lensId": LENS,
        "locale": "sv-SE",
        "candidateDetails": {"email": "björn@example.se"},
    }
    result = CliRunner().invoke(
        cli, ["order", "--file", "-", "--json"], env=_env(sandbox), input=json.dumps(order)
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["resultId"] == "r-9"
    assert answer["reference"] == sandbox.orders(KEY)[0].reference


def test_wrong_provider_key_and_tampered_secret_fail_in_one_line(sandbox: Sandbox) -> None:
    runner = CliRunner()
    wrong_key = runner.invoke(cli, ["lenses"], env=_env(sandbox, ASSESSIO_PROVIDER_KEY="nope"))
    assert wrong_key.exit_code == 1
    assert wrong_key.output.startswith("error: Assessio rejected the credentials")
    assert len(wrong_key.output.strip().splitlines()) == 1
    tampered = runner.invoke(
        cli, ORDER_FLAGS, env=_env(sandbox, ASSESSIO_INTEGRATOR_SECRET="tampered")
    )
    assert tampered.exit_code == 1
    assert "HTTP 401" in tampered.output
    assert "tampered" not in tampered.output
    assert SECRET not in tampered.output
    assert sandbox.orders(KEY) == []


def test_bad_input_is_a_message_not_a_traceback(sandbox: Sandbox) -> None:
    runner = CliRunner()
    bad_file = runner.invoke(cli, ["order", "--file", "-"], env=_env(sandbox), input="{")
    assert bad_file.exit_code == 1
    assert "not valid JSON" in bad_file.output
    bad_email = runner.invoke(
        cli, [*ORDER_FLAGS[:2], "not-an-email", *ORDER_FLAGS[3:]], env=_env(sandbox)
    )
    assert bad_email.exit_code == 2
    assert "not a valid email address" in bad_email.output
    missing = runner.invoke(cli, ["order", "--email", "a@example.com"], env=_env(sandbox))
    assert missing.exit_code == 2
    assert "--recruitment-id" in missing.output
    unknown_lens = runner.invoke(
        cli, [*ORDER_FLAGS[:8], "No Such Lens", *ORDER_FLAGS[9:]], env=_env(sandbox)
    )
    assert unknown_lens.exit_code == 1
    assert "no lens named 'No Such Lens'" in unknown_lens.output


def test_sign_prints_the_contract_example_and_verify_checks_it() -> None:
    runner = CliRunner()
    signed = runner.invoke(
        cli, ["sign", "--secret", "TODO", "--timestamp", "1539756759"], input="{}"
    )
    assert signed.exit_code == 0
    assert signed.output == (
        "t=1539756759,signature=d4ac43f53240c27b4729b088e9cff14b0dddbd5246ce0f4c48b6a73529d3724a\n"
    )
    body = codec.dumps({"name": "Åsa 🙂"})
    header = sign("s1", body)
    good = runner.invoke(
        cli, ["verify", "--secret", "old", "--secret", "s1", "--header", header], input=body
    )
    assert good.exit_code == 0, good.output
    assert good.output.startswith("valid")
    bad = runner.invoke(cli, ["verify", "--secret", "s1", "--header", header], input=body + b" ")
    assert bad.exit_code == 1
    assert "does not match" in bad.output
    stale = runner.invoke(
        cli, ["verify", "--secret", "s1", "--header", sign("s1", body, 1000)], input=body
    )
    assert stale.exit_code == 1
    assert "in the past" in stale.output


def test_usage_errors_exit_2_and_version_prints() -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["sign"]).exit_code == 2
    assert runner.invoke(cli, ["lenses"], env={"ASSESSIO_PROVIDER_KEY": ""}).exit_code == 2
    version = runner.invoke(cli, ["--version"])
    assert version.exit_code == 0
    assert "assessio-connect, version" in version.output
    for command in ["sign", "verify", "lenses", "order", "sandbox", "demo"]:
        assert runner.invoke(cli, [command, "--help"]).exit_code == 0


def test_demo_runs_the_whole_loop_with_the_reference_ats() -> None:
    result = CliRunner().invoke(cli, ["demo", "--candidates", "3", "--ats", "reference"])
    assert result.exit_code == 0, result.output
    assert "written back 3/3" in result.output
    table = result.output.split("SECONDS")[-1].strip().splitlines()
    assert len(table) == 3
    assert all("PUT /api/applications/" in line for line in table)
    assert any("Sales" in line for line in table)  # the department rule picked the lens


def test_demo_names_an_unknown_ats() -> None:
    result = CliRunner().invoke(cli, ["demo", "--ats", "nosuchats"])
    assert result.exit_code == 1
    assert "no demo for nosuchats; available:" in result.output
    assert "reference" in result.output


# -- the emulator command's failures (its running life is in test_documented_commands) -----


def test_sandbox_on_a_busy_port_says_so_in_one_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(cli, ["sandbox", "--port", str(port)])
    assert result.exit_code == 1, result.output
    assert result.output == f"error: cannot listen on 127.0.0.1:{port}: Address already in use\n"


def test_sandbox_with_an_unusable_host_or_a_repeated_org_is_refused_not_a_traceback() -> None:
    runner = CliRunner()
    host = runner.invoke(cli, ["sandbox", "--host", "no-such-host.invalid", "--port", "0"])
    assert host.exit_code == 1, host.output
    assert host.output.startswith("error: cannot listen on no-such-host.invalid:0: ")
    twice = runner.invoke(cli, ["sandbox", "--port", "0", "--org", "a=1", "--org", "a=2"])
    assert twice.exit_code == 2, twice.output
    assert "two organisations share a provider_key" in twice.output
    assert twice.exception is None or isinstance(twice.exception, SystemExit)


def test_a_plugin_command_s_failure_is_the_same_one_error_line() -> None:
    @click.command("plugin-failure")
    def failing() -> None:
        raise click.ClickException("the ATS said no")

    cli.add_command(failing)
    try:
        result = CliRunner().invoke(cli, ["plugin-failure"])
    finally:
        assert isinstance(cli, click.Group)
        cli.commands.pop("plugin-failure")
    assert result.exit_code == 1
    assert result.output == "error: the ATS said no\n"


def test_ctrl_c_exits_130_as_documented_not_clicks_aborted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def pressed_ctrl_c(_body_file: object) -> bytes:
        raise KeyboardInterrupt  # as SIGINT raises it while stdin is read

    monkeypatch.setattr(cli_module, "_read_body", pressed_ctrl_c)
    result = CliRunner().invoke(cli, ["sign", "--secret", "x"], input="{}")
    assert result.exit_code == 130
    assert "interrupted" in result.output
    assert "Aborted!" not in result.output
