"""`check` proves each tenant's integrator-secret, over real HTTP against the emulator: a signed
empty order must be refused as invalid (400) while the same order signed with a wrong secret is
refused as unauthenticated (401). A wrong secret fails the check with exit code 1."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from assessio_connect import AssessioClient
from assessio_connect.contract.errors import ServerError
from assessio_connect.sandbox import Organisation, Sandbox
from assessio_connect.tools.cli import cli
from daemon_harness import SECRETS, Harness, harness

KEY = "pk-probe-7c1e"
SECRET = "probe-integrator-secret-41d0"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Harness]:
    with harness(tmp_path) as built:
        yield built


def invoke(*args: str) -> Result:
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("ASSESSIO_")}
    result = CliRunner().invoke(cli, list(args), env=unset, catch_exceptions=False)
    assert "Traceback" not in result.output
    for name, value in SECRETS.items():
        assert value not in result.output, f"the secret {name} was printed"
    return result


# -- the client's proof, against the emulator ---------------------------------------------------


def test_the_right_secret_is_proven_and_nothing_is_ordered() -> None:
    with Sandbox([Organisation(KEY, SECRET)]) as sandbox:
        proof = AssessioClient(KEY, SECRET, base_url=sandbox.url).prove_integrator_secret()
        assert proof.verdict == "proven", proof.reason
        assert proof.proven
        assert sandbox.orders() == []
        # The signed empty order was refused as invalid, the wrongly signed one as unsigned.
        assert [r.status for r in sandbox.requests()] == [400, 401]


def test_a_wrong_secret_is_refused_with_assessios_reason() -> None:
    with Sandbox([Organisation(KEY, SECRET)]) as sandbox:
        client = AssessioClient(KEY, "not-the-secret-0000", base_url=sandbox.url)
        proof = client.prove_integrator_secret()
        assert proof.verdict == "refused"
        assert not proof.proven
        assert "HTTP 401" in proof.reason
        assert "invalid Signature" in proof.reason
        assert "not-the-secret-0000" not in proof.reason


def test_an_organisation_whose_signatures_are_not_checked_is_not_passed_for_proof() -> None:
    organisation = Organisation(KEY, SECRET, require_signature=False)
    with Sandbox([organisation]) as sandbox:
        proof = AssessioClient(KEY, "any-secret-at-all", base_url=sandbox.url)
        verdict = proof.prove_integrator_secret()
        assert verdict.verdict == "unchecked"
        assert "checks no signature" in verdict.reason
        assert sandbox.orders() == []


def test_without_a_secret_it_says_whether_assessio_needs_one() -> None:
    with Sandbox([Organisation(KEY, SECRET), Organisation("pk-open-0001")]) as sandbox:
        needs = AssessioClient(KEY, base_url=sandbox.url).prove_integrator_secret()
        assert needs.verdict == "refused"
        assert "needs its requests signed" in needs.reason
        takes = AssessioClient("pk-open-0001", base_url=sandbox.url).prove_integrator_secret()
        assert takes.verdict == "unsigned"
        assert sandbox.orders() == []


def test_an_unavailable_assessio_raises_instead_of_proving() -> None:
    with Sandbox([Organisation(KEY, SECRET)]) as sandbox:
        sandbox.faults.api_errors(503, 1)
        with pytest.raises(ServerError, match="HTTP 503"):
            AssessioClient(KEY, SECRET, base_url=sandbox.url).prove_integrator_secret()


# -- `check` --------------------------------------------------------------------------------------


def test_check_proves_each_tenants_integrator_secret(world: Harness) -> None:
    result = invoke("check", "--config", str(world.write_config()))
    assert result.exit_code == 0, result.output
    for tenant in ("acme", "globex"):
        assert f"{tenant}: integrator-secret proven (" in result.stdout
    assert world.sandbox.orders() == []


def test_check_fails_with_exit_1_on_a_wrong_integrator_secret(world: Harness) -> None:
    config = world.write_config()
    wrong = "acme-integrator-secret-WRONG"
    (world.tmp / "secrets" / "acme_integrator_secret").write_text(wrong + "\n")
    result = invoke("check", "--config", str(config))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    failed = [line for line in lines if line.startswith("acme: integrator-secret FAILED")]
    assert len(failed) == 1, result.stdout
    assert "Assessio refused a request signed with it (HTTP 401" in failed[0]
    assert "correct the secret @ $.tenants.acme.integrator_secret" in failed[0]
    assert "acme: assessio ok (provider-key accepted" in result.stdout
    assert "globex: integrator-secret proven (" in result.stdout
    assert result.stderr.strip() == "error: 1 check failed: acme integrator-secret"
    assert wrong not in result.output


def test_check_says_plainly_when_a_tenant_has_no_secret_to_prove(world: Harness) -> None:
    config = world.write_config()
    text = config.read_text()
    line = next(x for x in text.splitlines() if "acme_integrator_secret" in x)
    config.write_text(text.replace(line + "\n", ""))
    result = invoke("check", "--config", str(config), "--tenant", "acme")
    # The emulator's acme organisation requires signed requests: a missing secret fails.
    assert result.exit_code == 1
    assert "acme: integrator-secret FAILED: not proven: no integrator-secret is set" in (
        result.stdout
    )
    assert "set the secret @ $.tenants.acme.integrator_secret" in result.stdout


def test_check_fails_when_assessio_cannot_be_asked(world: Harness) -> None:
    config = world.write_config()
    # The GET of the lenses passes; the probe of the order endpoint meets a 503.
    world.sandbox.faults.api_errors(503, 1, path="/recruitment/v1/assessment-order")
    result = invoke("check", "--config", str(config), "--tenant", "acme")
    assert result.exit_code == 1
    assert "acme: integrator-secret FAILED: not proven: Assessio had a server error (HTTP 503)" in (
        result.stdout
    )
