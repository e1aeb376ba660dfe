"""Release hygiene: the MIT licence in every distribution, a changelog in Keep a Changelog's
format, every distribution's requirement on the core bounded around the core's current version
(the scaffold's too), and shell completion as docs/cli.md shows it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# packaging reads requirements exactly as pip does; pytest itself depends on it.
from packaging.requirements import Requirement
from packaging.version import Version

from assessio_connect import __version__
from assessio_connect.tools._scaffold import ConnectorScaffold, core_requirement

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 reads TOML with the tomli backport
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).with_name("assessio-connect")
DISTRIBUTIONS = sorted(
    path.parent
    for pattern in (
        "connectors/*/pyproject.toml",
        "plugins/*/pyproject.toml",
        "examples/*/pyproject.toml",
    )
    for path in ROOT.glob(pattern)
)
CORE = Version(__version__)
NEXT_BREAKING = (
    Version(f"0.{CORE.minor + 1}.0") if CORE.major == 0 else Version(f"{CORE.major + 1}.0.0")
)
# Keep a Changelog 1.1.0 (https://keepachangelog.com/en/1.1.0/): "Types of changes".
CHANGE_TYPES = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}


def core_requirements(pyproject: str) -> list[Requirement]:
    dependencies = tomllib.loads(pyproject)["project"]["dependencies"]
    return [r for r in map(Requirement, dependencies) if r.name == "assessio-connect"]


def assert_bounded_around_the_core(requirement: Requirement, where: str) -> None:
    specifier = requirement.specifier
    assert {spec.operator for spec in specifier} == {">=", "<"}, f"{where}: {requirement}"
    assert specifier.contains(__version__), f"{where}: {requirement} refuses the core {CORE}"
    assert not specifier.contains(str(NEXT_BREAKING)), f"{where}: {requirement} is unbounded"
    (lower,) = [Version(s.version) for s in specifier if s.operator == ">="]
    assert lower == CORE, f"{where}: {requirement} is not built for the core {CORE}"


# -- licence ----------------------------------------------------------------------------------


def test_the_mit_licence_names_the_maintainers_in_every_distribution() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n\nCopyright (c) 2026 assessio-connect maintainers\n")
    assert "Permission is hereby granted, free of charge" in text
    assert DISTRIBUTIONS, "no distribution found"
    for folder in [ROOT, *DISTRIBUTIONS]:
        project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
        assert project.get("license") == "MIT", folder
        assert (folder / "LICENSE").read_text(encoding="utf-8") == text, folder


# -- changelog ----------------------------------------------------------------------------------


def test_the_changelog_keeps_a_changelog() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert text.startswith("# Changelog\n")
    assert "https://keepachangelog.com/en/1.1.0/" in text
    releases = re.findall(r"^## \[([^\]]+)\]", text, re.MULTILINE)
    assert releases[0] == "Unreleased"
    for heading in re.findall(r"^### (.+)$", text, re.MULTILINE):
        assert heading in CHANGE_TYPES, f"{heading!r} is not a Keep a Changelog change type"
    unreleased = text.split("## [Unreleased]", 1)[1].split("\n## ", 1)[0]
    assert "### Added" in unreleased
    assert unreleased.count("\n- ") >= 10


# -- version bounds -------------------------------------------------------------------------------


def test_every_distribution_requires_a_bounded_core_that_admits_this_one() -> None:
    assert {folder.name for folder in DISTRIBUTIONS} >= {"greenhouse", "workday", "postgres"}
    for folder in DISTRIBUTIONS:
        (requirement,) = core_requirements((folder / "pyproject.toml").read_text())
        assert_bounded_around_the_core(requirement, str(folder.relative_to(ROOT)))


def test_a_generated_connector_requires_a_bounded_core_that_admits_this_one() -> None:
    files = ConnectorScaffold("hireboard_two").files()
    (requirement,) = core_requirements(files["pyproject.toml"])
    assert_bounded_around_the_core(requirement, "the scaffold's pyproject.toml")


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("0.1.0", "assessio-connect>=0.1.0,<0.2"),
        ("0.12.3", "assessio-connect>=0.12.3,<0.13"),
        ("1.0.0", "assessio-connect>=1.0.0,<2"),
        ("2.4.1", "assessio-connect>=2.4.1,<3"),
    ],
)
def test_the_scaffold_bounds_follow_semantic_versioning(version: str, expected: str) -> None:
    assert core_requirement(version) == expected


# -- shell completion ---------------------------------------------------------------------------


def completion(shell: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ASSESSIO_")}
    environment.update(env, _ASSESSIO_CONNECT_COMPLETE=shell)
    return subprocess.run(  # noqa: S603 - our own console script
        [str(SCRIPT)], capture_output=True, text=True, env=environment, timeout=60, check=False
    )


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash_source", "complete -o nosort -F _assessio_connect_completion assessio-connect"),
        ("zsh_source", "#compdef assessio-connect"),
        ("fish_source", "complete --no-files --command assessio-connect"),
    ],
)
def test_the_completion_script_is_produced(shell: str, marker: str) -> None:
    produced = completion(shell)
    assert produced.returncode == 0, produced.stderr
    assert marker in produced.stdout
    assert produced.stderr == ""


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completes_commands_plugins_add(tmp_path: Path) -> None:
    script = tmp_path / "assessio-connect.bash"
    script.write_text(completion("bash_source").stdout)
    # As bash calls the completion function on Tab after `assessio-connect deliveries re`.
    probe = (
        f". {script}; COMP_WORDS=(assessio-connect deliveries re); COMP_CWORD=2; "
        '_assessio_connect_completion assessio-connect; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    env = {
        "PATH": f"{SCRIPT.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path),
    }
    done = subprocess.run(  # noqa: S603 - bash, with our own script
        ["bash", "--norc", "--noprofile", "-c", probe],  # noqa: S607
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["retry"]
