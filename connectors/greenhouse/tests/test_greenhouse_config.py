"""The Greenhouse tenant's configuration as the daemon loads it: problems reported with their
path (a retired Harvest API key or v1/v2 URL in one line that shows the OAuth settings to use),
the README's example, discovery through the entry point, `check` and `run` refusing a retired
configuration, and the demo's round trip on OAuth."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest
from greenhouse_world import AUTHORIZATION_CODE, KEYS, world

import assessio_connect_greenhouse.plugin as greenhouse_plugin
from assessio_connect import ConfigError, load_daemon_config, load_plugins
from assessio_connect_greenhouse import CustomFieldMap, GreenhouseConfig, GreenhouseConnector

RETIRED = "Greenhouse retired Harvest v1/v2 and their API keys on 31 Aug 2026"


def assessio_connect(*arguments: str) -> subprocess.CompletedProcess[str]:
    """The `assessio-connect` command line, run as an operator runs it (this package found
    through its entry point)."""
    command = [sys.executable, "-m", "assessio_connect", *arguments]
    return subprocess.run(  # noqa: S603 - our own interpreter and console script
        command, capture_output=True, text=True, timeout=120, check=False
    )


def test_configuration_problems_are_reported_with_their_path(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        with pytest.raises(ConfigError) as caught:
            w.load(
                'note_visibility = "everyone"\n[tenants.acme.ats.webhook]\nenabled = false\n'
                f"secret_key = {w.secret('webhook_secret')}"
            )
        assert caught.value.problems == (
            "note_visibility must be one of admin_only, private, public, not 'everyone' "
            "@ $.tenants.acme.ats.note_visibility",
        )
        with pytest.raises(ConfigError) as caught:
            w.load(
                f"[tenants.acme.ats.webhook]\nsecret_key = {w.secret('webhook_secret')}\n"
                'stages = [{ name = "Assessment", id = 4 }]',
                grant=None,
            )
        assert caught.value.problems == (
            "each webhook.stages entry needs exactly one of name (a stage name) or id "
            "(a stage id) @ $.tenants.acme.ats.webhook.stages[0]",
        )
        with pytest.raises(ConfigError) as caught:
            w.load(w.webhook_ats(), grant=None)
        (problem,) = caught.value.problems
        assert problem.startswith("webhook mode writes results through Harvest v3: set")
        assert problem.endswith("@ $.tenants.acme.ats")
        assert KEYS["webhook_secret"] not in str(caught.value)


def test_a_harvest_api_key_is_refused_in_one_line_naming_the_oauth_settings(
    tmp_path: Path,
) -> None:
    with world(tmp_path) as w:
        retired = 'api_key = { env = "NOT_EVEN_SET" }\n' + w.webhook_ats()
        with pytest.raises(ConfigError) as caught:
            w.load(retired, grant=None)
        (problem,) = caught.value.problems
        assert problem.startswith(f"api_key is no longer accepted: {RETIRED}; use Harvest v3 OAuth")
        assert "[...ats.oauth] with client_id" in problem
        assert 'grant = "authorization_code"' in problem
        assert problem.endswith("@ $.tenants.acme.ats")
        assert "\n" not in problem
        path = w.config_path(
            w.webhook_ats().replace("custom_fields", 'api_key = "k"\ncustom_fields')
        )
        for command in ("check", "run"):
            result = assessio_connect(command, "--config", str(path))
            assert result.returncode == 1, result.stdout + result.stderr
            assert RETIRED in result.stderr


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_a_harvest_v1_or_v2_url_is_refused(tmp_path: Path, version: str) -> None:
    with world(tmp_path) as w:
        text = w.config_text(w.webhook_ats()).replace(
            f'harvest_url = "{w.greenhouse.url}"',
            f'harvest_url = "https://harvest.greenhouse.io/{version}"',
        )
        path = tmp_path / "assessio-connect.toml"
        path.write_text(text)
        with pytest.raises(ConfigError) as caught:
            load_daemon_config(w.plugins, path)
        (problem,) = caught.value.problems
        assert problem.startswith(f"harvest_url points at Harvest {version}: {RETIRED}")


def test_oauth_settings_must_fit_their_grant(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        secret = w.secret("client_secret")
        with pytest.raises(ConfigError) as caught:
            w.load(
                f'oauth = {{ client_id = "c", client_secret = {secret} }}\n' + w.webhook_ats(),
                grant=None,
            )
        assert "oauth.user_id is required with client_credentials" in caught.value.problems[0]
        with pytest.raises(ConfigError) as caught:
            w.load(
                f'oauth = {{ grant = "authorization_code", client_id = "c", '
                f"client_secret = {secret}, user_id = 3 }}\n" + w.webhook_ats(),
                grant=None,
            )
        assert "oauth.user_id is for client_credentials" in caught.value.problems[0]
        config = w.load(w.webhook_ats(), grant=AUTHORIZATION_CODE).tenants["acme"].ats
        assert isinstance(config, GreenhouseConfig)
        assert config.oauth is not None
        assert config.oauth.partner
        assert config.token_url == f"{w.greenhouse.url}/token"


def test_the_plugin_is_found_through_its_entry_point() -> None:
    found = [
        entry
        for entry in importlib.metadata.entry_points(group="assessio_connect")
        if entry.name == "greenhouse"
    ]
    plugins = load_plugins(entry_points=False)
    plugins.load_entry_points(found)
    plugins.collect_connectors()
    assert plugins.connector("greenhouse") is GreenhouseConnector
    assert plugins.connector_config("greenhouse") is GreenhouseConfig


def test_the_demo_runs_the_whole_loop_on_oauth() -> None:
    result = assessio_connect("demo", "--ats", "greenhouse", "--candidates", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("demo-greenhouse")]
    assert len(rows) == 2, result.stdout
    assert all("note on candidate" in row for row in rows)
    # The default lens is General Performance; the Sales job's department rule picks Sales.
    assert sorted("Sales" in row for row in rows) == [False, True]
    assert any("General Performance" in row for row in rows)


def test_the_readme_example_configuration_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readme = Path(__file__).parent.parent / "README.md"
    text = readme.read_text(encoding="utf-8")
    example = text.split("```toml\n", 1)[1].split("```", 1)[0]
    names = ("ACME_GH_CLIENT_SECRET", "ACME_GH_WEBHOOK_SECRET", "ACME_GH_PARTNER_KEY", "PK", "IS")
    for name in names:
        monkeypatch.setenv(name, f"value-of-{name.lower()}")
    path = tmp_path / "assessio-connect.toml"
    path.write_text(
        '[tenants.acme]\nenvironment = "sandbox"\nprovider_key = { env = "PK" }\n'
        'integrator_secret = { env = "IS" }\n'
        '[tenants.acme.webhook]\napi_keys = [{ env = "PK" }]\n'
        '[tenants.acme.assessment]\nlens = "General Performance"\nlocale = "en-GB"\n' + example
    )
    plugins = load_plugins(entry_points=False, extra=[("greenhouse", greenhouse_plugin)])
    config = load_daemon_config(plugins, path).tenants["acme"].ats
    assert isinstance(config, GreenhouseConfig)
    assert config.oauth is not None
    assert config.oauth.grant == "client_credentials"
    assert config.webhook is not None
    assert [(s.name, s.id, s.jobs) for s in config.webhook.stages] == [
        ("Assessment", None, ()),
        (None, 71416, ()),
        ("Take Home", None, (3485, 3490)),
    ]
    assert config.partner_enabled
    assert config.custom_fields == CustomFieldMap(
        score="assessio_score", report_url="assessio_report"
    )
