"""The annotated example configuration in examples/ loads as documented."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assessio_connect import load_daemon_config, load_plugins

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "daemon.toml"


def test_example_configuration_is_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config_path = tmp_path / "daemon.toml"
    shutil.copy(EXAMPLE, config_path)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "acme-ats-token").write_text("token-value-123\n")
    (tmp_path / "secrets" / "acme-ats-webhook").write_text("webhook-value-456\n")
    (tmp_path / "secrets" / "status-token").write_text("value-of-status-token-0123456789\n")
    for name in ("globex-integrator", "globex-ats-token"):
        (tmp_path / "secrets" / name).write_text(f"value-of-{name}\n")
    for name in ("globex-result-signing-new", "globex-result-signing-old"):
        (tmp_path / "secrets" / name).write_text(f"value-of-{name}")
    monkeypatch.setenv("GLOBEX_PROVIDER_KEY", "value-of-globex-key")
    for name in ("PROVIDER_KEY", "INTEGRATOR_SECRET", "RESULT_KEY", "RESULT_SIGNING"):
        monkeypatch.setenv(f"ACME_{name}", f"value-of-{name.lower()}")
    config = load_daemon_config(load_plugins(entry_points=False), config_path)
    assert list(config.tenants) == ["acme", "globex"]
    assert config.server.base_url == "https://connect.example.com"
    assert config.store_url == f"sqlite:///{tmp_path / 'assessio-connect.db'}"
    assert config.delivery.horizon == 36 * 3600
    acme = config.tenants["acme"]
    assert acme.ats_kind == "reference"
    assert acme.ats.api_token.reveal() == "token-value-123"
    globex = config.tenants["globex"]
    assert globex.order_endpoint == "link"
    assert [s.reveal() for s in globex.webhook.signing_secrets] == [
        "value-of-globex-result-signing-new",
        "value-of-globex-result-signing-old",
    ]
    assert globex.ats.poll
    assert config.status.token is not None
    assert config.status.token.reveal() == "value-of-status-token-0123456789"
    assert "value-of" not in repr(config)
