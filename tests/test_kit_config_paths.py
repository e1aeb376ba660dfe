"""A connector's `Config` refuses values with attrs validators and converters: each problem is
reported at its field's path, all of them at once; what no field explains stays at the table."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attrs
import pytest

from assessio_connect import ConfigError, Connector, Secret
from assessio_connect.runtime.config import parse_config


def _positive(_inst: object, _attribute: attrs.Attribute[Any], value: int) -> None:
    if value <= 0:
        raise ValueError(f"page_size must be positive, not {value}")


def _no_slash(value: str) -> str:
    if value.endswith("//"):
        raise ValueError("base_url ends with two slashes")
    return value.rstrip("/")


@attrs.frozen
class Sub:
    retries: int = attrs.field(default=1, validator=attrs.validators.ge(0))


@attrs.frozen
class MyConfig:
    api_token: Secret
    base_url: str = attrs.field(
        converter=_no_slash, validator=attrs.validators.matches_re(r"https://.+")
    )
    page_size: int = attrs.field(default=10, validator=_positive)
    limit: int = attrs.field(default=1, validator=attrs.validators.ge(1))
    sub: Sub = attrs.field(factory=Sub)
    poll: bool = False
    webhook: bool = False

    def __attrs_post_init__(self) -> None:
        if not (self.poll or self.webhook):
            raise ValueError("set poll = true, webhook = true, or both")


class MyConnector(Connector[MyConfig]):
    kind = "mine"


TENANT = """
[server]
listen = "127.0.0.1:0"
public_url = "http://127.0.0.1:1"
[store]
url = "sqlite:///state.db"
[tenants.acme]
base_url = "http://127.0.0.1:1"
provider_key = {env = "KIT_PATHS_KEY"}
integrator_secret = {env = "KIT_PATHS_KEY"}
[tenants.acme.webhook]
api_keys = [{env = "KIT_PATHS_KEY"}]
[tenants.acme.assessment]
lens = "General Performance"
locale = "en-GB"
[tenants.acme.ats]
kind = "mine"
api_token = {env = "KIT_PATHS_TOKEN"}
"""


def _problems(ats: str, resolved: list[str] | None = None) -> tuple[str, ...]:
    def resolve(scheme: str, reference: str) -> str | None:
        if resolved is not None:
            resolved.append(reference)
        return os.environ.get(reference)

    with pytest.raises(ConfigError) as caught:
        parse_config(
            TENANT + ats,
            source="daemon.toml",
            base_dir=Path("/nonexistent"),
            connector_config=lambda kind: MyConnector.Config if kind == "mine" else None,
            resolve_secret=resolve,
            known_kinds=["mine"],
        )
    return caught.value.problems


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIT_PATHS_KEY", "kit-paths-provider-key")
    monkeypatch.setenv("KIT_PATHS_TOKEN", "kit-paths-ats-token-9f2")


def test_every_field_validator_problem_is_reported_at_its_field() -> None:
    problems = _problems('base_url = "ftp://x"\npage_size = -1\nlimit = 0\npoll = true\n')
    assert problems == (
        "'base_url' must match regex 'https://.+' ('ftp://x' doesn't) "
        "@ $.tenants.acme.ats.base_url",
        "page_size must be positive, not -1 @ $.tenants.acme.ats.page_size",
        "'limit' must be >= 1: 0 @ $.tenants.acme.ats.limit",
    )


def test_a_converter_problem_is_reported_at_its_field() -> None:
    problems = _problems('base_url = "https://ats.example//"\npoll = true\n')
    assert problems == ("base_url ends with two slashes @ $.tenants.acme.ats.base_url",)


def test_a_nested_table_reports_at_its_own_field() -> None:
    problems = _problems('base_url = "https://ats.example"\npoll = true\nsub = {retries = -2}\n')
    assert problems == ("'retries' must be >= 0: -2 @ $.tenants.acme.ats.sub.retries",)


def test_a_cross_field_check_stays_at_the_table() -> None:
    problems = _problems('base_url = "https://ats.example"\n')
    assert problems == ("set poll = true, webhook = true, or both @ $.tenants.acme.ats",)


def test_secrets_are_resolved_once_and_never_shown() -> None:
    resolved: list[str] = []
    problems = _problems('base_url = "ftp://x"\npoll = true\n', resolved)
    assert resolved.count("KIT_PATHS_TOKEN") == 1
    assert "kit-paths-ats-token-9f2" not in "\n".join(problems)


def test_a_typed_connector_takes_its_config_class_from_the_parameter() -> None:
    assert MyConnector.Config is MyConfig
