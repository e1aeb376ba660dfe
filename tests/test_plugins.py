"""Plugin discovery through real entry points: guarded loading, duplicates, strict mode, the
`plugins` listing, firstresult precedence over built-ins, and commands added by plugins."""

from __future__ import annotations

import importlib.metadata
import json
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

import assessio_connect
from assessio_connect import Connector, PluginError, hookimpl, load_plugins
from assessio_connect.runtime.plugins import BUILTIN_PLUGIN, ENTRY_POINT_GROUP, Plugins
from assessio_connect.tools.cli import cli


def install_fake_distribution(root: Path, name: str, modules: dict[str, str], entry: str) -> None:
    """Write an importable distribution (dist-info + modules) under `root`."""
    dist_info = root / f"{name.replace('-', '_')}-1.2.3.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.2.3\n")
    (dist_info / "entry_points.txt").write_text(f"[assessio_connect]\n{entry}\n")
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))


def strict_load(*names: str) -> Plugins:
    """Strict loading of just these entry points (other installed plugins stay out of it)."""
    plugins = Plugins(strict=True)
    found = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    plugins.load_entry_points([ep for ep in found if ep.name in names])
    plugins.collect_connectors()
    return plugins


GOOD_PLUGIN = """
    import attrs
    import click
    from assessio_connect import Connector, hookimpl

    class ToyConnector(Connector):
        kind = "toy"

        @attrs.frozen
        class Config:
            url: str

    @hookimpl
    def assessio_register_connectors(register):
        register(ToyConnector)

    @hookimpl
    def assessio_register_commands(cli):
        @cli.command("toy-hello")
        def hello():
            click.echo("hello from toy")

    @hookimpl
    def assessio_resolve_secret(scheme, reference):
        return f"vault:{reference}" if scheme == "vault" else None
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder on sys.path where tests install fake distributions; resets the CLI's plugins."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cli, "plugins", None)
    yield tmp_path
    for module in ("toy_plugin", "broken_plugin", "clash_plugin"):
        __import__("sys").modules.pop(module, None)


def test_builtins_are_registered_as_a_plugin() -> None:
    plugins = load_plugins(entry_points=False)
    described = {info.name: info for info in plugins.describe()}
    builtin = described[BUILTIN_PLUGIN]
    assert builtin.distribution == "assessio-connect"
    assert builtin.version == assessio_connect.__version__
    assert "reference" in builtin.connectors
    assert {"assessio_open_store", "assessio_resolve_secret"} <= set(builtin.hooks)
    assert plugins.failures == []


def test_installed_plugin_is_discovered_and_a_broken_one_is_reported(site: Path) -> None:
    install_fake_distribution(
        site, "toy-connector", {"toy_plugin": GOOD_PLUGIN}, "toy = toy_plugin"
    )
    install_fake_distribution(
        site,
        "broken-connector",
        {"broken_plugin": "raise ImportError('needs libfoo 2')\n"},
        "broken = broken_plugin",
    )
    plugins = load_plugins()
    assert plugins.connector("toy") is not None
    assert plugins.connectors["toy"].distribution == "toy-connector"
    [failure] = [f for f in plugins.failures if f.name == "broken"]
    assert failure.name == "broken"
    assert failure.distribution == "broken-connector"
    assert "needs libfoo 2" in failure.error
    assert plugins.resolve_secret("vault", "kv/acme") == "vault:kv/acme"
    assert plugins.resolve_secret("env", "SURELY_NOT_SET_ANYWHERE_42") is None

    with pytest.raises(PluginError, match="broken-connector"):
        strict_load("toy", "broken")


def test_plugins_command_lists_distributions_hooks_kinds_and_failures(site: Path) -> None:
    install_fake_distribution(
        site, "toy-connector", {"toy_plugin": GOOD_PLUGIN}, "toy = toy_plugin"
    )
    install_fake_distribution(
        site, "broken-connector", {"broken_plugin": "1/0\n"}, "broken = broken_plugin"
    )
    runner = CliRunner()
    listed = runner.invoke(cli, ["plugins", "--json"])
    assert listed.exit_code == 0, listed.output
    data = json.loads(listed.output)
    names = {p["name"]: p for p in data["plugins"]}
    assert names["toy"]["distribution"] == "toy-connector"
    assert names["toy"]["version"] == "1.2.3"
    assert names["toy"]["connectors"] == ["toy"]
    assert data["connectors"]["reference"]["plugin"] == BUILTIN_PLUGIN
    [broken] = [f for f in data["failures"] if f["name"] == "broken"]
    assert broken["distribution"] == "broken-connector"
    assert "ZeroDivisionError" in broken["error"]

    text = runner.invoke(cli, ["plugins"])
    assert "FAILED broken  [broken-connector]" in text.output
    assert "connectors: toy" in text.output

    hello = runner.invoke(cli, ["toy-hello"])
    assert hello.output.strip() == "hello from toy"

    strict = runner.invoke(cli, ["--strict-plugins", "plugins"])
    assert strict.exit_code == 1
    assert "broken-connector" in strict.output
    assert "Traceback" not in strict.output


def test_duplicate_connector_kind_names_both_distributions(site: Path) -> None:
    install_fake_distribution(
        site, "toy-connector", {"toy_plugin": GOOD_PLUGIN}, "toy = toy_plugin"
    )
    clash = GOOD_PLUGIN.replace("def assessio_register_commands", "def _unused_commands")
    clash = clash.replace("def assessio_resolve_secret", "def _unused_secret")
    install_fake_distribution(site, "toy-clone", {"clash_plugin": clash}, "clash = clash_plugin")
    plugins = load_plugins()
    [failure] = [f for f in plugins.failures if f.name == "clash"]
    assert "toy-connector" in failure.error
    assert "toy-clone" in failure.error
    with pytest.raises(PluginError, match="registered by both"):
        strict_load("toy", "clash")


def test_registering_something_that_is_not_a_connector_is_reported() -> None:
    class NotAConnector:
        kind = "nope"

    class NoConfig(Connector):
        kind = "noconfig"

    class Plugin:
        @hookimpl
        def assessio_register_connectors(self, register: Callable[[type[Any]], None]) -> None:
            register(NoConfig)

    class Other:
        @hookimpl
        def assessio_register_connectors(self, register: Callable[[type[Any]], None]) -> None:
            register(NotAConnector)

    plugins = load_plugins(entry_points=False, extra=[("a", Plugin()), ("b", Other())])
    errors = sorted(f.error for f in plugins.failures)
    assert any("needs an attrs `Config`" in e for e in errors)
    assert any("is not a subclass" in e for e in errors)


def test_third_party_firstresult_hook_wins_over_builtin() -> None:
    opened: list[str] = []

    class MemoryStores:
        @hookimpl
        def assessio_open_store(self, url: str) -> Any:
            opened.append(url)
            return "memory-store" if url.startswith("sqlite:") else None

    plugins = load_plugins(entry_points=False, extra=[("memory", MemoryStores())])
    store: object = plugins.open_store("sqlite:///x.db")
    assert store == "memory-store"
    assert opened == ["sqlite:///x.db"]


def test_a_plugin_command_that_fails_to_register_is_reported() -> None:
    class BadCommands:
        @hookimpl
        def assessio_register_commands(self, cli: click.Group) -> None:
            raise RuntimeError("cannot add commands")

    plugins = load_plugins(entry_points=False, extra=[("bad", BadCommands())])
    plugins.register_commands(click.Group())
    assert [f.name for f in plugins.failures] == ["bad"]
