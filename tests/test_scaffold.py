"""`assessio-connect new-connector`: names, the template renderer, the command, and generated
packages that compile, lint, type-check, install and pass their own tests."""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from assessio_connect.tools._cli_kit import register_commands
from assessio_connect.tools._scaffold import (
    AUTHS,
    MAX_NAME_LENGTH,
    STYLES,
    Auth,
    ConnectorScaffold,
    ScaffoldStyle,
    name_problem,
    new_connector,
    render,
)
from test_fakes_independent import own_imports

PLUGIN_INSTALLED = any(
    entry.value == "assessio_connect.testing"
    for entry in importlib.metadata.entry_points(group="pytest11")
)
# Until the core's pytest11 entry point is installed, the generated tests load it explicitly.
PLUGIN_ARGS = [] if PLUGIN_INSTALLED else ["-p", "assessio_connect.testing"]


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a command, failing the test with its output when it does not succeed."""
    done = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(args)} failed ({done.returncode}):\n{output}"
    return output


# -- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["hireboard", "my_ats", "ats2", "a", "x" * 24])
def test_good_names(name: str) -> None:
    assert name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "not a valid connector name"),
        ("My_Ats", "not a valid connector name"),
        ("my-ats", "not a valid connector name"),
        ("2ats", "not a valid connector name"),
        ("my__ats", "not a valid connector name"),
        ("ats_", "not a valid connector name"),
        ("../evil", "not a valid connector name"),
        ("x" * 25, "longer than 24"),
        ("class", "reserved"),
        ("reference", "reserved"),
    ],
)
def test_bad_names(name: str, why: str) -> None:
    problem = name_problem(name)
    assert problem is not None
    assert why in problem
    with pytest.raises(ValueError, match=why):
        ConnectorScaffold(name)


@given(st.one_of(st.text(max_size=30), st.from_regex(r"[a-z][a-z0-9_]{0,26}", fullmatch=True)))
def test_a_name_is_refused_or_makes_valid_identifiers(name: str) -> None:
    if name_problem(name) is not None:
        with pytest.raises(ValueError, match=r"name|reserved"):
            ConnectorScaffold(name)
        return
    variables = ConnectorScaffold(name).variables
    for key in ("module", "Name"):
        assert variables[key].isidentifier()
    assert variables["distribution"].startswith("assessio-connect-")


# -- the renderer ---------------------------------------------------------------------------


def test_render_placeholders_and_nested_directives() -> None:
    text = """a {{x}}
#% if push
push
  #% if basic or oauth2
  push-auth
  #% else
  push-key
  #% endif
#% else
pull
#% endif
end
"""
    assert render(text, {"x": "1"}, {"push", "oauth2"}) == "a 1\npush\n  push-auth\nend\n"
    assert render(text, {"x": "1"}, {"push", "api-key"}) == "a 1\npush\n  push-key\nend\n"
    assert render(text, {"x": "1"}, {"pull", "basic"}) == "a 1\npull\nend\n"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("{{missing}}\n", "unknown template placeholder"),
        ("#% if push\n", "ends inside"),
        ("#% endif\n", "unexpected directive"),
        ("#% if push and pull\nx\n#% endif\n", "expected '#% if NAME"),
        ("#% elif push\n", "unexpected directive"),
    ],
)
def test_render_refuses_broken_templates(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        render(text, {}, {"push"})


# -- the command ----------------------------------------------------------------------------


@pytest.fixture
def cli() -> click.Group:
    group = click.Group()
    register_commands(group)
    return group


def test_command_generates_a_package(cli: click.Group, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "new-connector",
            "my_ats",
            "--style",
            "pull",
            "--auth",
            "basic",
            "--output",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    root = tmp_path / "assessio-connect-my_ats"
    assert f"Created {root} (pull style, basic authentication)" in result.output
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "pyproject.toml",
        "src/assessio_connect_my_ats/__init__.py",
        "src/assessio_connect_my_ats/_connector.py",
        "src/assessio_connect_my_ats/fake.py",
        "src/assessio_connect_my_ats/plugin.py",
        "src/assessio_connect_my_ats/py.typed",
        "tests/test_my_ats_conformance.py",
        "tests/test_my_ats_contract.py",
    ]
    pyproject = (root / "pyproject.toml").read_text()
    assert 'name = "assessio-connect-my-ats"' in pyproject
    assert 'my_ats = "assessio_connect_my_ats.plugin"' in pyproject
    assert "test = [" in pyproject
    connector = (root / "src/assessio_connect_my_ats/_connector.py").read_text()
    assert "class MyAtsConnector(Connector[MyAtsConfig]):" in connector
    assert "def poll(" in connector
    assert "def wsgi_app(" not in connector
    assert "password: Secret" in connector
    assert "{{" not in connector
    assert "#%" not in connector


def test_command_refuses_to_clobber(cli: click.Group, tmp_path: Path) -> None:
    existing = tmp_path / "assessio-connect-my_ats"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    result = CliRunner().invoke(cli, ["new-connector", "my_ats", "--output", str(tmp_path)])
    assert result.exit_code == 1
    assert "already exists" in result.output
    assert "Traceback" not in result.output
    assert [p.name for p in existing.iterdir()] == ["keep.txt"]


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (["new-connector", "My-ATS"], "not a valid connector name"),
        (["new-connector", "ats", "--style", "both"], "'both' is not one of"),
        (["new-connector", "ats", "--auth", "saml"], "'saml' is not one of"),
    ],
)
def test_command_usage_errors(cli: click.Group, tmp_path: Path, args: list[str], why: str) -> None:
    result = CliRunner().invoke(cli, [*args, "--output", str(tmp_path)])
    assert result.exit_code == 2
    assert why in result.output
    assert list(tmp_path.iterdir()) == []


# -- what is generated ----------------------------------------------------------------------

COMBINATIONS = [(style, auth) for style in STYLES for auth in AUTHS]


SOURCE_MARKER = "# Source: <link to your vendor's documentation>"


@pytest.mark.parametrize(("style", "auth"), COMBINATIONS)
def test_the_generated_fake_restates_the_contract_with_its_sources(
    style: ScaffoldStyle, auth: Auth
) -> None:
    """The fake imports nothing of the connector, each of its constants is marked for the
    author to link its source, and the README asks for the vendor's documentation."""
    files = ConnectorScaffold("my_ats", style, auth).files()
    fake = files["src/assessio_connect_my_ats/fake.py"]
    assert own_imports(fake, "assessio_connect_my_ats.fake") == []
    lines = fake.splitlines()
    constants = [
        node
        for node in ast.parse(fake).body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and re.fullmatch(r"[A-Z][A-Z0-9_]*", node.targets[0].id)
    ]
    assert len(constants) >= 5
    for node in constants:
        assert lines[node.lineno - 2] == SOURCE_MARKER, f"no source above line {node.lineno}"
    readme = files["README.md"]
    for expected in ("## The vendor's contract", "## Sources", "| public source | status |"):
        assert expected in readme
    assert readme.count("<link to your vendor's documentation>") >= 6
    contract_test = files["tests/test_my_ats_contract.py"]
    assert "def test_the_fake_imports_nothing_from_the_connector" in contract_test
    assert "# Source: <link to your vendor's documentation>" in contract_test


def test_every_combination_compiles_lints_and_type_checks(tmp_path: Path) -> None:
    sources: list[Path] = []
    for style, auth in COMBINATIONS:
        # The longest names allowed, so that no generated line outgrows the line length.
        name = f"gen_{style}_{auth.replace('-', '_')}".ljust(MAX_NAME_LENGTH, "x")
        root = new_connector(name, style=style, auth=auth, output=tmp_path)
        for path in root.rglob("*.py"):
            compile(path.read_text(), str(path), "exec")
        run(sys.executable, "-m", "ruff", "check", "--no-cache", ".", cwd=root)
        run(sys.executable, "-m", "ruff", "format", "--check", "--no-cache", ".", cwd=root)
        sources.extend([root / "src", *(root / "tests").glob("*.py")])
    env = {
        **os.environ,
        "MYPYPATH": os.pathsep.join(str(p) for p in sources if p.name == "src"),
    }
    packages = [str(package) for src in sources if src.name == "src" for package in src.iterdir()]
    tests = [str(p) for p in sources if p.suffix == ".py"]
    run(
        sys.executable,
        "-m",
        "mypy",
        "--strict",
        "--no-incremental",
        "--cache-dir",
        os.devnull,
        *packages,
        *tests,
        cwd=tmp_path,
        env=env,
    )


@pytest.mark.slow
def test_generated_packages_install_and_pass_their_tests(tmp_path: Path) -> None:
    """pip-installs two generated packages into a folder of their own (the repository's venv
    is not touched) and runs each one's tests against that install, in a subprocess."""
    roots = [
        new_connector("gen_push_key", style="push", auth="api-key", output=tmp_path),
        new_connector("gen_pull_oauth", style="pull", auth="oauth2", output=tmp_path),
    ]
    site = tmp_path / "site"
    isolation = [] if importlib.util.find_spec("hatchling") is None else ["--no-build-isolation"]
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    run(*pip, *isolation, "--no-deps", "--target", str(site), *map(str, roots), cwd=tmp_path)
    inherited = os.environ.get("PYTHONPATH")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), inherited]))}
    env.pop("PYTEST_ADDOPTS", None)
    for root in roots:
        output = run(
            sys.executable,
            "-m",
            "pytest",
            *PLUGIN_ARGS,
            "-p",
            "no:cacheprovider",
            "-q",
            cwd=root,
            env=env,
        )
        assert " passed" in output
        assert "failed" not in output
        assert "skipped" not in output
