"""The documentation stays true to the code: every hook with its exact signature, every command
and option, every configuration key, complete examples that load and run, and a strict build."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import itertools
import json
import re
import subprocess
import sys
import textwrap
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import click
import pytest

from assessio_connect import load_daemon_config, load_plugins
from assessio_connect.reference import ReferenceConfig
from assessio_connect.runtime import hookspecs
from assessio_connect.runtime.config import (
    AssessmentRule,
    AssessmentRules,
    DeliveryConfig,
    Secret,
    WebhookConfig,
)
from assessio_connect.runtime.config._validation import ServerTable, StoreTable, TenantTable
from assessio_connect.tools.cli import cli

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 reads TOML with the tomli backport
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

REPOSITORY = Path(__file__).resolve().parent.parent
DOCS = REPOSITORY / "docs"
FENCE = re.compile(
    r"^```(?P<lang>[\w+-]*)[^\n]*\n(?P<code>.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE
)
HEADING = re.compile(r"^#{1,6} ", re.MULTILINE)


def _page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def _blocks(text: str, lang: str) -> list[str]:
    return [m["code"] for m in FENCE.finditer(text) if m["lang"] == lang]


def _marked_blocks(text: str, marker: str, lang: str) -> list[str]:
    """Code blocks right after an `<!-- marker -->` line, in page order."""
    pattern = re.compile(
        rf"^<!-- {re.escape(marker)} -->\n```{lang}\n(?P<code>.*?)^```[ \t]*$",
        re.DOTALL | re.MULTILINE,
    )
    return [m["code"] for m in pattern.finditer(text)]


def _sections(text: str) -> dict[str, str]:
    """Each heading's text (without the #s) -> its section, up to the next heading."""
    fences = [m.span() for m in FENCE.finditer(text)]
    starts = [
        m.start()
        for m in HEADING.finditer(text)
        if not any(low <= m.start() < high for low, high in fences)
    ]
    found: dict[str, str] = {}
    for start, end in itertools.pairwise([*starts, len(text)]):
        title, _, body = text[start:end].partition("\n")
        found[title.lstrip("#").strip()] = body
    return found


# -- the site ------------------------------------------------------------------------------


def test_site_builds_with_mkdocs_strict(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed: pip install -e '.[test]' (or pip install mkdocs)")
    site = tmp_path / "site"
    built = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(REPOSITORY / "mkdocs.yml"),
            "--site-dir",
            str(site),
        ],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert built.returncode == 0, f"mkdocs build --strict failed:\n{built.stdout}{built.stderr}"
    for page in ("index", "architecture", "writing-a-connector", "hooks", "configuration", "cli"):
        assert (site / f"{page}.html").is_file(), f"{page}.md is missing from the site"
    assert (site / "repository" / "examples" / "daemon.toml").is_file()


def test_every_code_block_parses() -> None:
    checked = 0
    for path in sorted(DOCS.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        for code in _blocks(text, "python"):
            try:
                ast.parse(textwrap.dedent(code))
            except SyntaxError as exc:
                pytest.fail(f"{path.name}: a python block does not parse: {exc}\n{code}")
            checked += 1
        for code in _blocks(text, "toml"):
            try:
                tomllib.loads(code)
            except tomllib.TOMLDecodeError as exc:
                pytest.fail(f"{path.name}: a toml block does not parse: {exc}\n{code}")
            checked += 1
        for code in _blocks(text, "json"):
            try:
                json.loads(code)
            except ValueError as exc:
                pytest.fail(f"{path.name}: a json block does not parse: {exc}\n{code}")
            checked += 1
    assert checked > 30


def test_no_heading_starts_with_a_digit() -> None:
    # The theme's table of contents cannot select an id such as "#1-the-package": its script
    # stops there, and the page's tables lose their styling.
    for path in sorted(DOCS.glob("*.md")):
        for title in _sections(path.read_text(encoding="utf-8")):
            assert not title[:1].isdigit(), f"{path.name}: heading {title!r} starts with a digit"


# -- hooks.md ------------------------------------------------------------------------------


def _hookspecs() -> dict[str, Callable[..., Any]]:
    marker = f"{hookspecs.PROJECT_NAME}_spec"
    return {
        name: function
        for name, function in vars(hookspecs).items()
        if callable(function) and hasattr(function, marker)
    }


def _normalised(annotation: str) -> str:
    return ast.unparse(ast.parse(annotation, mode="eval").body)


def _spec_signature(function: Callable[..., Any]) -> tuple[list[tuple[str, str]], str]:
    """Parameter names with their annotations as written, and the return annotation."""
    signature = inspect.signature(function)
    params = [(p.name, _normalised(str(p.annotation))) for p in signature.parameters.values()]
    return params, _normalised(str(signature.return_annotation))


def _doc_signature(node: ast.FunctionDef) -> tuple[list[tuple[str, str]], str]:
    params = [
        (arg.arg, ast.unparse(arg.annotation) if arg.annotation else "")
        for arg in node.args.posonlyargs + node.args.args + node.args.kwonlyargs
    ]
    returns = ast.unparse(node.returns) if node.returns else ""
    return params, returns


@attrs.frozen
class _DocumentedHook:
    section: str
    node: ast.FunctionDef


def _hook_functions() -> tuple[list[_DocumentedHook], list[_DocumentedHook]]:
    """(signatures, example implementations): `def assessio_…` without and with a decorator."""
    signatures: list[_DocumentedHook] = []
    examples: list[_DocumentedHook] = []
    for section, body in _sections(_page("hooks.md")).items():
        for code in _blocks(body, "python"):
            for node in ast.parse(textwrap.dedent(code)).body:
                if isinstance(node, ast.FunctionDef) and node.name.startswith("assessio_"):
                    found = examples if node.decorator_list else signatures
                    found.append(_DocumentedHook(section, node))
    return signatures, examples


def test_every_hook_is_documented_with_its_exact_signature() -> None:
    specs = _hookspecs()
    assert len(specs) >= 10, "hookspecs.py lost its hooks, or the marker name changed"
    signatures, _ = _hook_functions()
    documented: dict[str, list[_DocumentedHook]] = {}
    for hook in signatures:
        documented.setdefault(hook.node.name, []).append(hook)
    missing = sorted(set(specs) - set(documented))
    assert not missing, f"docs/hooks.md does not document {missing}"
    for name, function in specs.items():
        (hook,) = documented[name]
        assert _doc_signature(hook.node) == _spec_signature(function), (
            f"docs/hooks.md documents {name} as {_doc_signature(hook.node)}, "
            f"but hookspecs.py declares {_spec_signature(function)}"
        )
        assert hook.section == f"`{name}`", f"the signature of {name} is outside its section"


def test_hooks_doc_names_no_hook_that_does_not_exist() -> None:
    specs = _hookspecs()
    signatures, examples = _hook_functions()
    unknown = sorted({h.node.name for h in signatures + examples} - set(specs))
    assert not unknown, f"docs/hooks.md documents hooks that hookspecs.py does not have: {unknown}"
    headings = {
        title.strip("`")
        for title in _sections(_page("hooks.md"))
        if re.fullmatch(r"`assessio_\w+`", title)
    }
    assert headings == set(specs), f"hook headings differ: {sorted(headings ^ set(specs))}"


def test_hook_examples_use_the_specification_parameter_names() -> None:
    specs = _hookspecs()
    _, examples = _hook_functions()
    assert {e.node.name for e in examples} == set(specs), "every hook needs an example"
    for example in examples:
        spec_params = dict(_spec_signature(specs[example.node.name])[0])
        for name, annotation in _doc_signature(example.node)[0]:
            assert name in spec_params, f"{example.node.name} has no parameter {name!r}"
            assert annotation in ("", spec_params[name]), (
                f"{example.node.name}({name}: {annotation}) should be {spec_params[name]}"
            )


def test_hooks_doc_says_which_hooks_are_firstresult() -> None:
    sections = _sections(_page("hooks.md"))
    for name, function in _hookspecs().items():
        expected = (
            "yes" if getattr(function, f"{hookspecs.PROJECT_NAME}_spec")["firstresult"] else "no"
        )
        said = re.search(r"\*\*firstresult:\*\* (yes|no)\b", sections[f"`{name}`"])
        assert said is not None, f"the section of {name} does not say whether it is firstresult"
        assert said[1] == expected, f"{name}: firstresult is {expected}, the doc says {said[1]}"


# -- cli.md --------------------------------------------------------------------------------


def _leaf_commands() -> Iterator[tuple[str, click.Command]]:
    """Every runnable command of `assessio-connect`, once plugins added theirs."""
    root = click.Context(cli, info_name="assessio-connect")

    def walk(
        group: click.Group, ctx: click.Context, path: str
    ) -> Iterator[tuple[str, click.Command]]:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None
            full = f"{path} {name}".strip()
            if isinstance(command, click.Group):
                yield from walk(command, click.Context(command, parent=ctx, info_name=name), full)
            else:
                yield full, command

    assert isinstance(cli, click.Group)
    yield from walk(cli, root, "")


def _defined_in_core(command: click.Command) -> bool:
    module = getattr(command.callback, "__module__", "") or ""
    return module == "assessio_connect" or module.startswith("assessio_connect.")


def _defined_in_repository(command: click.Command) -> bool:
    try:
        source = inspect.getsourcefile(command.callback) if command.callback else None
    except TypeError:
        return False
    return source is not None and REPOSITORY in Path(source).resolve().parents


def _mentions(param: click.Parameter) -> list[str]:
    if isinstance(param, click.Argument):
        return [param.human_readable_name]
    return [opt for opt in (*param.opts, *param.secondary_opts) if opt.startswith("--")]


def test_every_command_and_option_is_in_the_cli_doc() -> None:
    text = _page("cli.md")
    sections = _sections(text)
    commands = list(_leaf_commands())
    assert {"run", "check", "orders list", "deliveries retry"} <= {path for path, _ in commands}
    problems: list[str] = []
    for param in cli.params:
        problems += [
            f"global option {m} is not in cli.md" for m in _mentions(param) if m not in text
        ]
    for path, command in commands:
        if _defined_in_core(command):
            section = sections.get(f"`{path}`")
            if section is None:
                problems.append(f"cli.md has no section ### `{path}`")
                continue
            for param in command.params:
                problems += [
                    f"`{path}`: {mention} is not in its section"
                    for mention in _mentions(param)
                    if mention not in section
                ]
        elif _defined_in_repository(command) and f"assessio-connect {path}" not in text:
            problems.append(f"cli.md does not mention `assessio-connect {path}` (a plugin's)")
    assert not problems, "\n".join(problems)


# -- configuration.md ----------------------------------------------------------------------


def _secret_references(value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        if len(value) == 1:
            ((scheme, reference),) = value.items()
            if scheme in ("env", "file") and isinstance(reference, str):
                yield scheme, reference
                return
        for item in value.values():
            yield from _secret_references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _secret_references(item)


def test_complete_configuration_examples_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    examples = _marked_blocks(_page("configuration.md"), "config-example", "toml")
    assert len(examples) >= 2, "configuration.md lost its <!-- config-example --> blocks"
    plugins = load_plugins(entry_points=False)
    for index, example in enumerate(examples):
        folder = tmp_path / f"example-{index}"
        folder.mkdir()
        for scheme, reference in _secret_references(tomllib.loads(example)):
            if scheme == "env":
                monkeypatch.setenv(reference, f"value-of-{reference}")
                continue
            assert not Path(reference).is_absolute(), (
                f"use a relative path in examples: {reference}"
            )
            secret = folder / reference
            secret.parent.mkdir(parents=True, exist_ok=True)
            secret.write_text(f"value-of-{secret.name}\n")
        path = folder / "daemon.toml"
        path.write_text(example)
        config = load_daemon_config(plugins, path)
        assert config.tenants, f"example {index} has no tenant"
        assert "value-of" not in repr(config)


def test_every_configuration_key_is_documented() -> None:
    text = _page("configuration.md")
    tables = (
        ServerTable,
        StoreTable,
        DeliveryConfig,
        TenantTable,
        WebhookConfig,
        AssessmentRules,
        AssessmentRule,
        ReferenceConfig,
    )
    missing = [
        f"{table.__name__}.{field.alias or field.name}"
        for table in tables
        for field in attrs.fields(table)
        if f"`{field.alias or field.name}`" not in text
    ]
    assert not missing, f"configuration.md does not document {missing}"


# -- writing-a-connector.md ----------------------------------------------------------------


def _module(name: str, code: str, monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """Run `code` as the module `name` (registered in sys.modules for the test's duration)."""
    module = types.ModuleType(name)
    module.__file__ = f"<docs/writing-a-connector.md: {name}>"
    monkeypatch.setitem(sys.modules, name, module)
    exec(compile(code, module.__file__, "exec"), module.__dict__)  # noqa: S102 - our own docs
    return module


@pytest.fixture
def myats(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """The walk-through's package, built from the page's code blocks."""
    text = _page("writing-a-connector.md")
    connector_code = "".join(_marked_blocks(text, "connector-example", "python"))
    (plugin_code,) = _marked_blocks(text, "connector-plugin", "python")
    package = types.ModuleType("assessio_connect_myats")
    package.__path__ = []
    monkeypatch.setitem(sys.modules, "assessio_connect_myats", package)
    package._connector = _module("assessio_connect_myats._connector", connector_code, monkeypatch)  # type: ignore[attr-defined]
    package.plugin = _module("assessio_connect_myats.plugin", plugin_code, monkeypatch)  # type: ignore[attr-defined]
    return package


def test_walk_through_connector_registers_and_checks_its_config(myats: types.ModuleType) -> None:
    plugins = load_plugins(entry_points=False, extra=[("myats", myats.plugin)])
    cls = plugins.connector("myats")
    assert cls is not None
    assert cls.kind == "myats"
    token = Secret("env:TOKEN", "token-value")
    with pytest.raises(ValueError, match="webhook_secret"):
        cls.Config(base_url="https://ats.example", api_token=token)
    config = cls.Config(base_url="https://ats.example/", api_token=token, poll=True)
    assert config.base_url == "https://ats.example"


def test_walk_through_end_to_end_test_passes(
    myats: types.ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (code,) = _marked_blocks(_page("writing-a-connector.md"), "connector-test", "python")
    module = _module("test_myats_daemon", code, monkeypatch)
    tests = [value for name, value in vars(module).items() if name.startswith("test_")]
    assert tests, "the walk-through's test has no test function"
    for test in tests:
        test(tmp_path)
