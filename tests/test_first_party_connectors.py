"""The first-party connectors are discovered like a third party's, and each works without the
other: with one uninstalled (its package gone, its metadata possibly left behind), the other
still runs the whole loop."""

from __future__ import annotations

import json
import sys

import pytest
from click.testing import CliRunner

from assessio_connect import load_daemon_config, load_plugins
from assessio_connect.tools._demo import run_demo
from assessio_connect.tools.cli import cli

CONNECTORS = {
    "greenhouse": ("assessio-connect-greenhouse", "assessio_connect_greenhouse"),
    "workday": ("assessio-connect-workday", "assessio_connect_workday"),
}


def test_plugins_lists_both_connectors_from_their_distributions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cli, "plugins", None)
    listed = CliRunner().invoke(cli, ["plugins", "--json"])
    assert listed.exit_code == 0, listed.output
    connectors = json.loads(listed.output)["connectors"]
    for kind, (distribution, _module) in CONNECTORS.items():
        assert connectors[kind]["distribution"] == distribution


@pytest.mark.parametrize(("gone", "kept"), [("greenhouse", "workday"), ("workday", "greenhouse")])
def test_uninstalling_one_connector_leaves_the_other_working(
    gone: str, kept: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    distribution, module = CONNECTORS[gone]
    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, module, None)  # the package is no longer importable

    plugins = load_plugins()
    assert plugins.connector(gone) is None
    assert plugins.connector(kept) is not None
    [failure] = [f for f in plugins.failures if f.name == gone]
    assert failure.distribution == distribution

    rows = run_demo(
        plugins,
        candidates=2,
        kinds=[kept],
        echo=lambda _line: None,
        load=lambda path: load_daemon_config(plugins, path),
    )
    assert len(rows) == 2
    assert all(row.written_to != "-" for row in rows)
