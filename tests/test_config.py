"""The daemon's TOML configuration: a full file, every problem at once, secrets, redaction."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from assessio_connect import ConfigError, Transport, sign
from assessio_connect.contract.client import ENVIRONMENTS
from assessio_connect.runtime._server import DEFAULT_LIMITS, BackgroundServer, ConnectionLimits
from assessio_connect.runtime.config import (
    AssessmentRule,
    AssessmentRules,
    DaemonConfig,
    Secret,
    format_duration,
    load_config,
    parse_config,
    parse_duration,
    resolve_builtin_secret,
    store_url_from_file,
)
from assessio_connect.runtime.connector import AtsCandidate, AtsJob, Invitation
from assessio_connect.tools.cli import cli

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

SECRETS = {
    "ACME_PROVIDER_KEY": "pk-acme-5d1c0ffee",
    "ACME_RESULT_KEY": "acme-result-key-8a71",
    "ACME_RESULT_SIGNING": "acme-signing-secret-f00d",
    "ACME_ATS_TOKEN": "acme-ats-token-77aa",
    "GLOBEX_PROVIDER_KEY": "pk-globex-0ddba11",
    "GLOBEX_RESULT_SIGNING": "globex-signing-secret-cafe",
}
FILE_SECRETS = {
    "acme-integrator": "acme-integrator-secret-beef",
    "globex-ats": "globex-ats-token-1234",
}
ALL_SECRET_VALUES = (*SECRETS.values(), *FILE_SECRETS.values())


@attrs.frozen
class FakeAtsConfig:
    """A connector's `Config` as a plugin would declare it, with secret fields."""

    base_url: str
    api_token: Secret
    webhook_secret: Secret | None = None
    old_tokens: tuple[Secret, ...] = ()
    page_size: int = 50


def connector_config(kind: str) -> type[Any] | None:
    return FakeAtsConfig if kind == "fake" else None


VALID = """
[server]
listen = "127.0.0.1:0"
public_url = "https://connect.example.com/"
max_body_bytes = 65536
threads = 4
connection_limit = 2000
header_timeout = "5s"
body_timeout = 45
idle_timeout = "2m"

[store]
url = "sqlite:///state/assessio-connect.db"

[delivery]
workers = 2
horizon = "2d"
first_delay = 1.5
max_delay = "15m"
lease = 90

[tenants.acme]
environment = "production"
provider_key = { env = "ACME_PROVIDER_KEY" }
integrator_secret = { file = "secrets/acme-integrator" }
provider_key_header = "Authorization"
sign_get = true

[tenants.acme.webhook]
api_keys = [{ env = "ACME_RESULT_KEY" }]
signing_secrets = [{ env = "ACME_RESULT_SIGNING" }]
tolerance = 120

[tenants.acme.assessment]
lens = "General Performance"
locale = "en-GB"
collaborators = ["recruiter@acme.example"]
hiring_team_as_collaborators = true

[[tenants.acme.assessment.rules]]
job = "4012"
lens = "Leadership"
collaborators = []

[[tenants.acme.assessment.rules]]
department = "Engineering"
locale = "sv-SE"

[tenants.acme.ats]
kind = "fake"
base_url = "https://ats.acme.example/api"
api_token = { env = "ACME_ATS_TOKEN" }
page_size = 10

[tenants.globex-2]
base_url = "http://127.0.0.1:9999/"
provider_key = { env = "GLOBEX_PROVIDER_KEY" }
order_endpoint = "link"

[tenants.globex-2.webhook]
signing_secrets = [{ env = "GLOBEX_RESULT_SIGNING" }]

[tenants.globex-2.ats]
kind = "fake"
base_url = "https://globex.example"
api_token = { file = "secrets/globex-ats" }
webhook_secret = { env = "ACME_ATS_TOKEN" }
old_tokens = [{ env = "ACME_RESULT_KEY" }, { env = "GLOBEX_PROVIDER_KEY" }]
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A configuration folder with secret files, and the secret environment variables set."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "secrets").mkdir()
    for name, value in FILE_SECRETS.items():
        (tmp_path / "secrets" / name).write_text(value + "\n")
    return tmp_path


def resolver(base_dir: Path, calls: list[str] | None = None) -> Callable[[str, str], str | None]:
    def resolve(scheme: str, reference: str) -> str | None:
        if calls is not None:
            calls.append(f"{scheme}:{reference}")
        return resolve_builtin_secret(scheme, reference, base_dir=base_dir)

    return resolve


def parse(text: str, folder: Path, **options: Any) -> DaemonConfig:
    return parse_config(
        text,
        source="test.toml",
        base_dir=folder,
        connector_config=connector_config,
        resolve_secret=resolver(folder),
        known_kinds=["fake", "reference"],
        **options,
    )


def problems_of(text: str, folder: Path, **options: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(text, folder, **options)
    assert caught.value.source == "test.toml"
    return list(caught.value.problems)


MINIMAL = """
[tenants.acme]
environment = "sandbox"
provider_key = { env = "ACME_PROVIDER_KEY" }
[tenants.acme.webhook]
api_keys = [{ env = "ACME_RESULT_KEY" }]
[tenants.acme.ats]
kind = "fake"
base_url = "https://ats.example"
api_token = { env = "ACME_ATS_TOKEN" }
"""


# A full file


def test_a_full_file_loads_with_every_value(folder: Path) -> None:
    path = folder / "assessio-connect.toml"
    path.write_text(VALID)
    config = load_config(path, connector_config=connector_config, resolve_secret=resolver(folder))

    assert config.source == str(path)
    server = config.server
    assert (server.host, server.port, server.max_body_bytes, server.threads) == (
        "127.0.0.1",
        0,
        65536,
        4,
    )
    assert server.base_url == server.public_url == "https://connect.example.com"
    assert server.limits == ConnectionLimits(
        connection_limit=2000, header_timeout=5.0, body_timeout=45.0, idle_timeout=120.0
    )
    assert config.store_url == f"sqlite:///{folder / 'state' / 'assessio-connect.db'}"
    delivery = config.delivery
    assert (delivery.workers, delivery.horizon, delivery.first_delay) == (2, 172800.0, 1.5)
    assert (delivery.max_delay, delivery.lease) == (900.0, 90.0)

    assert list(config.tenants) == ["acme", "globex-2"]
    acme, globex = config.tenants["acme"], config.tenants["globex-2"]
    assert (acme.environment, acme.base_url, acme.order_endpoint) == ("production", None, "order")
    assert acme.provider_key.reveal() == SECRETS["ACME_PROVIDER_KEY"]
    assert acme.provider_key.reference == "env:ACME_PROVIDER_KEY"
    assert acme.integrator_secret is not None
    assert acme.integrator_secret.reveal() == FILE_SECRETS["acme-integrator"]
    assert acme.integrator_secret.reference == "file:secrets/acme-integrator"
    assert (acme.provider_key_header, acme.sign_get) == ("Authorization", True)
    assert acme.webhook.tolerance == 120
    assert acme.assessment.rules == (
        AssessmentRule(job="4012", lens="Leadership", collaborators=()),
        AssessmentRule(department="Engineering", locale="sv-SE"),
    )
    assert acme.ats_kind == "fake"
    assert acme.ats == FakeAtsConfig(
        base_url="https://ats.acme.example/api",
        api_token=Secret("env:ACME_ATS_TOKEN", SECRETS["ACME_ATS_TOKEN"]),
        page_size=10,
    )

    assert globex.base_url == "http://127.0.0.1:9999"
    assert (globex.integrator_secret, globex.order_endpoint) == (None, "link")
    assert globex.webhook.api_keys == ()
    assert globex.assessment == AssessmentRules()
    assert globex.ats.api_token.reveal() == FILE_SECRETS["globex-ats"]
    assert [token.reveal() for token in globex.ats.old_tokens] == [
        SECRETS["ACME_RESULT_KEY"],
        SECRETS["GLOBEX_PROVIDER_KEY"],
    ]
    assert set(config.secret_values()) == set(ALL_SECRET_VALUES)


def _unredact(value: Any) -> Any:
    if isinstance(value, str) and (found := re.fullmatch(r"<redacted (\w+):(.+)>", value)):
        return {found[1]: found[2]}
    if isinstance(value, dict):
        return {key: _unredact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unredact(item) for item in value]
    return value


def _toml_value(value: Any) -> str:
    if isinstance(value, dict):
        return (
            "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
        )
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return json.dumps(value)  # strings, numbers and booleans are spelled alike in JSON and TOML


def _toml(data: dict[str, Any]) -> str:
    return "\n".join(f"{json.dumps(key)} = {_toml_value(value)}" for key, value in data.items())


def test_redacted_data_is_the_file_again_once_references_are_put_back(folder: Path) -> None:
    config = parse(VALID, folder)
    again = parse(_toml(_unredact(config.redacted())), folder)
    assert again == config
    assert config.redacted()["delivery"] == {
        "workers": 2,
        "horizon": "2d",
        "first_delay": 1.5,
        "max_delay": "15m",
        "lease": "90s",
    }
    assert config.redacted()["server"] == {
        "listen": "127.0.0.1:0",
        "public_url": "https://connect.example.com",
        "max_body_bytes": 65536,
        "threads": 4,
        "connection_limit": 2000,
        "header_timeout": "5s",
        "body_timeout": "45s",
        "idle_timeout": "2m",
    }


def test_the_server_limits_default_to_safe_values(folder: Path) -> None:
    """Issue 11 item 6: well above 150 connections, and slow requests cut off in seconds."""
    limits = parse(MINIMAL, folder).server.limits
    assert limits == DEFAULT_LIMITS
    assert limits.connection_limit >= 500
    assert limits.header_timeout <= 10
    assert limits.body_timeout <= 30


def test_the_tenant_client_and_webhook_auth_use_the_configured_settings(folder: Path) -> None:
    seen: list[dict[str, str]] = []
    answer = json.dumps(
        {"availableLenses": [{"id": "l-1", "name": "General"}], "availableLocales": ["en-GB"]}
    ).encode()

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterator[bytes]:
        seen.append({k: v for k, v in environ.items() if k.startswith("HTTP_")})
        start_response("200 OK", [("Content-Type", "application/json")])
        yield answer

    config = parse(VALID, folder)
    acme = config.tenants["acme"]
    with BackgroundServer(app) as server:
        acme = attrs.evolve(acme, base_url=server.url)
        transport = Transport()
        try:
            lenses = acme.client(transport).get_config().available_lenses
        finally:
            transport.close()
    assert [lens.id for lens in lenses] == ["l-1"]
    assert seen[0]["HTTP_AUTHORIZATION"] == f"Bearer {SECRETS['ACME_PROVIDER_KEY']}"
    assert "HTTP_SIGNATURE" in seen[0]  # sign_get = true
    assert config.tenants["acme"].client().base_url == ENVIRONMENTS["production"]

    auth = acme.webhook.auth()
    body = b'{"resultId":"r-1"}'
    headers = {
        "integrator-api-key": SECRETS["ACME_RESULT_KEY"],
        "Signature": sign(SECRETS["ACME_RESULT_SIGNING"], body, 1_700_000_000),
    }
    auth.authenticate(headers, body, now=1_700_000_000)
    assert auth.tolerance == 120


@pytest.mark.parametrize(
    ("listen", "host", "port", "base_url"),
    [
        ("0.0.0.0:8080", "0.0.0.0", 8080, "http://0.0.0.0:8080"),  # noqa: S104 - a listen value
        ("[::1]:0", "::1", 0, "http://[::1]:0"),
        ("localhost:65535", "localhost", 65535, "http://localhost:65535"),
    ],
)
def test_listen_addresses(folder: Path, listen: str, host: str, port: int, base_url: str) -> None:
    config = parse(f'[server]\nlisten = "{listen}"\n' + MINIMAL, folder)
    assert (config.server.host, config.server.port, config.server.base_url) == (
        host,
        port,
        base_url,
    )
    assert config.redacted()["server"]["listen"] == listen


def test_defaults_fill_what_the_file_leaves_out(folder: Path) -> None:
    config = parse(MINIMAL, folder)
    assert config.server.listen == "127.0.0.1:8080"
    assert config.server.public_url is None
    assert config.store_url == f"sqlite:///{folder / 'assessio-connect.db'}"
    assert (config.delivery.horizon, config.delivery.max_delay) == (129600.0, 3600.0)
    tenant = config.tenants["acme"]
    assert (tenant.provider_key_header, tenant.sign_get, tenant.webhook.tolerance) == (
        "provider-key",
        False,
        300,
    )


# Every problem at once


BROKEN = """
colour = "blue"

[server]
listen = "::1:8080"
public_url = "ftp://connect.example.com?x=1"
max_body_bytes = 100
threds = 8
connection_limit = 5
header_timeout = "0s"
body_timeout = "slow"

[delivery]
workers = 0
horizon = "0s"
lease = "soon"
first_delay = "2h"

[tenants."Acme Corp"]
environment = "sandbox"
provider_key = { env = "ACME_PROVIDER_KEY" }
[tenants."Acme Corp".webhook]
api_keys = [{ env = "ACME_RESULT_KEY" }]
[tenants."Acme Corp".ats]
kind = "fake"
base_url = "https://ats.example"
api_token = { env = "ACME_ATS_TOKEN" }

[tenants.acme]
environment = "staging"
provider_key = "pk-literal-value-0042"
integrator_secret = { env = "ACME_NOT_SET" }
order_endpoint = "email"
sign_get = "no"

[tenants.acme.webhook]
tolerance = 0

[tenants.acme.assessment]
lens = 7
collaborators = ["recruiter"]
[[tenants.acme.assessment.rules]]
lens = "Leadership"
[[tenants.acme.assessment.rules]]
job = "4012"

[tenants.acme.ats]
kind = "workday"

[tenants.globex]
environment = "sandbox"
base_url = "http://127.0.0.1:9999"
provider_key = { vault = "kv/globex" }
[tenants.globex.webhook]
api_keys = [{ file = "secrets/missing" }, { env = "A", file = "b" }]
[tenants.globex.ats]
kind = "fake"
base_url = 42
api_tokn = { env = "ACME_ATS_TOKEN" }
"""

EXPECTED_PROBLEMS = [
    "unknown table 'colour' (known: server, store, delivery, status, tenants) @ $",
    "put an IPv6 address in brackets, e.g. [::1]:8080 @ $.server.listen",
    "expected an http:// or https:// URL, got 'ftp://connect.example.com?x=1' "
    "@ $.server.public_url",
    "must be at least 1024 bytes, not 100 @ $.server.max_body_bytes",
    "unknown key 'threds' (known: listen, public_url, max_body_bytes, threads, "
    "connection_limit, header_timeout, body_timeout, idle_timeout) @ $.server",
    "must be at least 10, not 5 @ $.server.connection_limit",
    "a duration must be a finite number of seconds above 0 @ $.server.header_timeout",
    '\'slow\' is not a duration: write seconds (90) or "90s", "15m", "36h", "2d" '
    "@ $.server.body_timeout",
    "must be at least 1, not 0 @ $.delivery.workers",
    "a duration must be a finite number of seconds above 0 @ $.delivery.horizon",
    '\'soon\' is not a duration: write seconds (90) or "90s", "15m", "36h", "2d" '
    "@ $.delivery.lease",
    "first_delay (7200s) is longer than max_delay (3600s) @ $.delivery.first_delay",
    "tenant name 'Acme Corp' must be 1-63 lowercase letters, digits, '-' or '_', starting with "
    "a letter or digit (it is part of URLs) @ $.tenants['Acme Corp']",
    'secrets must be references such as {env = "NAME"} or {file = "path"}, not literal values '
    "@ $.tenants.acme.provider_key",
    "unknown environment 'staging': use production or sandbox @ $.tenants.acme.environment",
    "environment variable ACME_NOT_SET is not set @ $.tenants.acme.integrator_secret",
    "expected true or false, got a string @ $.tenants.acme.sign_get",
    '"order" (invitation e-mail) or "link" (assessment link) expected, not \'email\' '
    "@ $.tenants.acme.order_endpoint",
    "a result webhook needs api_keys, signing_secrets, or both @ $.tenants.acme.webhook",
    "must be at least 1 second, not 0 @ $.tenants.acme.webhook.tolerance",
    "expected a string, got an integer @ $.tenants.acme.assessment.lens",
    "not a valid email address: 'recruiter' @ $.tenants.acme.assessment.collaborators[0]",
    "a rule needs job, department or both to match on @ $.tenants.acme.assessment.rules[0]",
    "a rule must set lens, locale or collaborators @ $.tenants.acme.assessment.rules[1]",
    "unknown ats.kind 'workday' (installed: fake, reference) @ $.tenants.acme.ats.kind",
    "unknown secret scheme 'vault' (use env or file, or install a plugin for it) "
    "@ $.tenants.globex.provider_key",
    "set environment or base_url, not both @ $.tenants.globex.base_url",
    "cannot read secret file {folder}/secrets/missing: No such file or directory "
    "@ $.tenants.globex.webhook.api_keys[0]",
    'a secret reference has exactly one key, such as {env = "NAME"}; found 2 (env, file) '
    "@ $.tenants.globex.webhook.api_keys[1]",
    "expected a string, got an integer @ $.tenants.globex.ats.base_url",
    "required key missing @ $.tenants.globex.ats.api_token",
    "unknown key 'api_tokn' (known: base_url, api_token, webhook_secret, old_tokens, page_size) "
    "@ $.tenants.globex.ats",
]


def test_every_problem_is_reported_at_once_with_its_path(folder: Path) -> None:
    found = problems_of(BROKEN, folder)
    expected = [problem.replace("{folder}", str(folder)) for problem in EXPECTED_PROBLEMS]
    assert sorted(found) == sorted(expected)


def test_the_error_message_lists_every_problem_and_the_source(folder: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(BROKEN, folder)
    message = str(caught.value)
    assert message.startswith(f"test.toml has {len(EXPECTED_PROBLEMS)} problems:\n  ")
    assert all(problem in message for problem in caught.value.problems)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "no tenants: add a [tenants.NAME] table for each organisation @ $.tenants"),
        ("tenants = 3", "expected a table, got an integer @ $.tenants"),
        ("server = []\n" + MINIMAL, "expected a table, got an array @ $.server"),
        ("[store]\nurl = 'state.db'\n" + MINIMAL, "expected a URL such as sqlite:///"),
        (
            MINIMAL.replace('environment = "sandbox"', ""),
            'set environment = "sandbox" or "production" (or base_url for a test server) '
            "@ $.tenants.acme",
        ),
        (
            MINIMAL.replace("[tenants.acme.webhook]\napi_keys = [", "[tenants.acme.x]\nk = ["),
            "missing table: a result webhook needs api_keys, signing_secrets, or both "
            "@ $.tenants.acme.webhook",
        ),
        (
            MINIMAL.replace('kind = "fake"', ""),
            'required key missing: the connector kind, e.g. kind = "reference" '
            "@ $.tenants.acme.ats.kind",
        ),
        (
            MINIMAL.replace('environment = "sandbox"', 'base_url = "http://u:pw@host"'),
            "the URL must not contain credentials @ $.tenants.acme.base_url",
        ),
        (
            MINIMAL.replace('environment = "sandbox"', 'provider_key_header = "x y"'),
            "'x y' is not an HTTP header name @ $.tenants.acme.provider_key_header",
        ),
        (
            '[server]\nlisten = "127.0.0.1:70000"\n' + MINIMAL,
            "the port must be a number from 0 to 65535, not '70000' @ $.server.listen",
        ),
        (
            "[tenants.acme]\nenvironment = 'sandbox'\nprovider_key = {env = 'ACME_PROVIDER_KEY'",
            "not valid TOML: ",
        ),
    ],
)
def test_single_problems(folder: Path, text: str, problem: str) -> None:
    found = problems_of(text, folder)
    assert any(item.startswith(problem) for item in found), found


def test_toml_syntax_errors_report_line_and_column(folder: Path) -> None:
    found = problems_of("[server]\nlisten = 127.0.0.1:80\n", folder)
    assert len(found) == 1
    assert re.fullmatch(r"not valid TOML: .+ @ line 2, column \d+", found[0]), found


def test_an_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(
            tmp_path / "missing.toml",
            connector_config=connector_config,
            resolve_secret=resolver(tmp_path),
        )
    (tmp_path / "latin1.toml").write_bytes(b"# caf\xe9\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(
            tmp_path / "latin1.toml",
            connector_config=connector_config,
            resolve_secret=resolver(tmp_path),
        )


# Secrets


def test_file_secrets_lose_exactly_one_trailing_newline(tmp_path: Path) -> None:
    for name, content, expected in [
        ("lf", "value\n", "value"),
        ("crlf", "value\r\n", "value"),
        ("two", "value\n\n", "value\n"),
        ("none", "value", "value"),
    ]:
        (tmp_path / name).write_text(content, newline="")
        assert resolve_builtin_secret("file", name, base_dir=tmp_path) == expected
        assert resolve_builtin_secret("file", str(tmp_path / name)) == expected
    assert resolve_builtin_secret("vault", "kv/x") is None
    (tmp_path / "binary").write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        resolve_builtin_secret("file", "binary", base_dir=tmp_path)
    with pytest.raises(FileNotFoundError):
        resolve_builtin_secret("file", "missing", base_dir=tmp_path)


def test_env_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSESSIO_TEST_SECRET", "s3cret-value")
    monkeypatch.delenv("ASSESSIO_TEST_UNSET", raising=False)
    assert resolve_builtin_secret("env", "ASSESSIO_TEST_SECRET") == "s3cret-value"
    assert resolve_builtin_secret("env", "ASSESSIO_TEST_UNSET") is None


@pytest.mark.parametrize(
    ("error", "problem"),
    [
        (KeyError("kv/acme"), "secret vault:kv/acme was not found"),
        (PermissionError(13, "Permission denied"), "cannot read secret vault:kv/acme: Permission"),
        (ConfigError(["vault is sealed"]), "vault is sealed"),
        (RuntimeError("token pk-acme-5d1c0ffee"), "cannot resolve secret vault:kv/acme"),
    ],
)
def test_resolver_failures_become_problems_at_the_path(
    folder: Path, error: Exception, problem: str
) -> None:
    def resolve(scheme: str, reference: str) -> str | None:
        if scheme == "vault":
            raise error
        return resolve_builtin_secret(scheme, reference)

    text = MINIMAL.replace('{ env = "ACME_PROVIDER_KEY" }', '{ vault = "kv/acme" }')
    with pytest.raises(ConfigError) as caught:
        parse_config(
            text,
            source="t",
            base_dir=folder,
            connector_config=connector_config,
            resolve_secret=resolve,
        )
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(problem)
    assert caught.value.problems[0].endswith(" @ $.tenants.acme.provider_key")
    assert "pk-acme" not in str(caught.value)


@pytest.mark.parametrize(
    ("reference", "problem"),
    [
        ('""', "not literal values"),
        ("[]", "expected a secret reference such as"),
        ("{}", "a secret reference has exactly one key"),
        ('{ env = "" }', "the env reference must be a non-empty string"),
        ("{ env = 5 }", "the env reference must be a non-empty string"),
        ('{ env = "ASSESSIO_EMPTY" }', "secret env:ASSESSIO_EMPTY is empty"),
    ],
)
def test_malformed_secret_references(
    folder: Path, monkeypatch: pytest.MonkeyPatch, reference: str, problem: str
) -> None:
    monkeypatch.setenv("ASSESSIO_EMPTY", "")
    text = MINIMAL.replace('{ env = "ACME_PROVIDER_KEY" }', reference)
    found = problems_of(text, folder)
    assert len(found) == 1, found
    assert problem in found[0]
    assert found[0].endswith(" @ $.tenants.acme.provider_key")


def test_relative_secret_files_are_relative_to_the_configuration(folder: Path) -> None:
    seen: list[str] = []
    text = MINIMAL.replace('{ env = "ACME_PROVIDER_KEY" }', '{ file = "secrets/acme-integrator" }')
    config = parse_config(
        text,
        source="t",
        base_dir=folder,
        connector_config=connector_config,
        resolve_secret=resolver(Path("/nonexistent"), seen),
    )
    assert f"file:{folder / 'secrets' / 'acme-integrator'}" in seen
    assert config.tenants["acme"].provider_key.reference == "file:secrets/acme-integrator"


# Redaction


def test_secrets_never_show_in_reprs_or_redacted_data(folder: Path) -> None:
    config = parse(VALID, folder)
    shown = [repr(config), str(config), json.dumps(config.redacted())]
    shown += [repr(tenant) for tenant in config.tenants.values()]
    shown += [f"{config.tenants['acme'].provider_key}"]
    for text in shown:
        for value in ALL_SECRET_VALUES:
            assert value not in text
    assert "<redacted env:ACME_PROVIDER_KEY>" in shown[2]
    assert "<redacted file:secrets/globex-ats>" in shown[2]
    assert repr(config.tenants["acme"].provider_key) == "Secret(env:ACME_PROVIDER_KEY)"


def test_problems_never_show_a_resolved_secret(folder: Path) -> None:
    def token_validator(instance: Any, attribute: Any, value: Secret) -> None:
        # A careless connector that echoes the value it rejects.
        raise ValueError(f"token {value.reveal()} is too short")

    @attrs.frozen
    class Careless:
        api_token: Secret = attrs.field(validator=token_validator)

    text = MINIMAL.replace('base_url = "https://ats.example"\n', "").replace("sandbox", "staging")
    with pytest.raises(ConfigError) as caught:
        parse_config(
            text,
            source="t",
            base_dir=folder,
            connector_config=lambda kind: Careless,
            resolve_secret=resolver(folder),
        )
    message = str(caught.value)
    assert "token [redacted] is too short @ $.tenants.acme.ats" in message
    assert "unknown environment 'staging'" in message
    assert all(value not in message for value in ALL_SECRET_VALUES)


def test_secret_equality_and_hashing_follow_reference_and_value() -> None:
    one = Secret("env:A", "value-1")
    assert one == Secret("env:A", "value-1")
    assert one != Secret("env:A", "value-2")
    assert one != Secret("env:B", "value-1")
    assert one != "value-1"
    assert len({one, Secret("env:A", "value-1")}) == 1
    assert str(one) == "Secret(env:A)"


def test_store_passwords_are_redacted_and_scrubbed(folder: Path) -> None:
    text = '[store]\nurl = "postgresql://app:db-pass-9f3e@db.example/connect"\n' + MINIMAL
    config = parse(text, folder)
    assert config.store_url == "postgresql://app:db-pass-9f3e@db.example/connect"
    assert "db-pass-9f3e" not in repr(config)
    assert config.redacted()["store"]["url"] == "postgresql://app:[redacted]@db.example/connect"
    assert "db-pass-9f3e" in config.secret_values()


def test_the_store_url_alone_can_be_read(folder: Path) -> None:
    path = folder / "c.toml"
    path.write_text('[store]\nurl = "sqlite:///s.db"\n[tenants.x]\nprovider_key = "literal"\n')
    assert store_url_from_file(path) == f"sqlite:///{folder / 's.db'}"
    path.write_text("[store]\nurl = 1\n")
    with pytest.raises(ConfigError, match=r"expected a string, got an integer @ \$\.store\.url"):
        store_url_from_file(path)


# Durations


UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@given(st.integers(1, 10**9), st.sampled_from(["", *UNITS]), st.sampled_from(["", " "]))
def test_durations_with_units(amount: int, unit: str, space: str) -> None:
    assert parse_duration(f"{space}{amount}{space}{unit}") == amount * UNITS.get(unit, 1)


@given(st.floats(min_value=1e-6, max_value=1e9, allow_nan=False))
def test_formatted_durations_parse_back_to_the_same_seconds(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@given(st.text(max_size=12))
def test_any_text_is_a_duration_or_a_value_error(text: str) -> None:
    valid = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*[smhd]?\s*", text)
    if valid and float(valid[1]) > 0:
        assert parse_duration(text) >= float(valid[1])
    else:
        with pytest.raises(ValueError, match="duration"):
            parse_duration(text)


@pytest.mark.parametrize(
    "value", [0, -1, 0.0, "0s", "-5m", "1.5.h", "1w", "", True, [], float("inf")]
)
def test_invalid_durations(value: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)


def test_duration_formats() -> None:
    assert [format_duration(s) for s in (129600, 90, 3600, 60, 1.5, 86400 * 2)] == [
        "36h",
        "90s",
        "1h",
        "1m",
        1.5,
        "2d",
    ]


# Assessment rules


RULES = AssessmentRules(
    lens="Default Lens",
    locale="en-GB",
    collaborators=("default@acme.example",),
    hiring_team_as_collaborators=True,
    rules=(
        AssessmentRule(job="1", department="Sales", lens="Sales Lead"),
        AssessmentRule(department="engineering", locale="sv-SE", collaborators=("cto@a.example",)),
        AssessmentRule(job="2", lens="Never Reached"),
        AssessmentRule(job="2", lens="Second Rule", collaborators=()),
    ),
)


def invitation(
    job_id: str,
    department: str | None = None,
    *,
    lens: str | None = None,
    locale: str | None = None,
    team: tuple[str, ...] = (),
) -> Invitation:
    return Invitation(
        application_id="app-1",
        job=AtsJob(id=job_id, title="Job", department=department, hiring_team=team),
        candidate=AtsCandidate(id="c-1", email="candidate@example.com"),
        lens=lens,
        locale=locale,
    )


@pytest.mark.parametrize(
    ("given_invitation", "lens", "locale", "collaborators"),
    [
        (invitation("9"), "Default Lens", "en-GB", ("default@acme.example",)),
        (invitation("1", "Sales"), "Sales Lead", "en-GB", ("default@acme.example",)),
        (invitation("1", "Marketing"), "Default Lens", "en-GB", ("default@acme.example",)),
        (invitation("1"), "Default Lens", "en-GB", ("default@acme.example",)),
        (invitation("7", "ENGINEERING"), "Default Lens", "sv-SE", ("cto@a.example",)),
        (invitation("2"), "Never Reached", "en-GB", ("default@acme.example",)),
        (
            invitation("7", "Engineering", lens="Asked For", locale="fi-FI"),
            "Asked For",
            "fi-FI",
            ("cto@a.example",),
        ),
        (
            invitation("9", team=("boss@acme.example", "DEFAULT@acme.example", "x@acme.example")),
            "Default Lens",
            "en-GB",
            ("default@acme.example", "boss@acme.example", "x@acme.example"),
        ),
    ],
)
def test_choose_precedence(
    given_invitation: Invitation, lens: str, locale: str, collaborators: tuple[str, ...]
) -> None:
    choice = RULES.choose(given_invitation)
    assert (choice.lens, choice.locale, choice.collaborators) == (lens, locale, collaborators)


def test_a_rule_with_empty_collaborators_clears_the_defaults() -> None:
    rules = attrs.evolve(RULES, rules=RULES.rules[3:], hiring_team_as_collaborators=False)
    assert rules.choose(invitation("2")).collaborators == ()
    assert rules.choose(invitation("3")).collaborators == ("default@acme.example",)


def test_choose_without_a_lens_or_locale_says_what_to_configure() -> None:
    rules = AssessmentRules(rules=(AssessmentRule(job="5", locale="sv-SE"),))
    with pytest.raises(ConfigError) as caught:
        rules.choose(invitation("5"))
    assert caught.value.problems == ("no lens for job 5: set assessment.lens or a rule",)
    with pytest.raises(ConfigError) as caught:
        rules.choose(invitation("6"))
    assert caught.value.problems == (
        "no lens for job 6: set assessment.lens or a rule",
        "no locale for job 6: set assessment.locale or a rule",
    )
    assert rules.choose(invitation("6", lens="L", locale="en-GB")).lens == "L"


# Only one tenant


def test_only_tenant_reads_and_resolves_just_that_tenant(folder: Path) -> None:
    text = VALID + '\n[tenants.broken]\nprovider_key = "literal"\n'
    assert any("$.tenants.broken" in problem for problem in problems_of(text, folder))

    seen: list[str] = []
    config = parse_config(
        text,
        source="t",
        base_dir=folder,
        connector_config=connector_config,
        resolve_secret=resolver(folder, seen),
        only_tenant="globex-2",
    )
    assert list(config.tenants) == ["globex-2"]
    assert "env:ACME_PROVIDER_KEY" not in seen
    assert "env:GLOBEX_PROVIDER_KEY" in seen
    assert set(config.secret_values()) == {
        FILE_SECRETS["globex-ats"],
        SECRETS["GLOBEX_PROVIDER_KEY"],
        SECRETS["GLOBEX_RESULT_SIGNING"],
        SECRETS["ACME_ATS_TOKEN"],
        SECRETS["ACME_RESULT_KEY"],
    }


def test_only_an_unknown_tenant_is_a_problem(folder: Path) -> None:
    assert problems_of(VALID, folder, only_tenant="initech") == [
        "no tenant named 'initech' (configured: acme, globex-2) @ $.tenants"
    ]


# Secret files others can read (issue 11 item 9)


@pytest.mark.parametrize(
    ("mode", "readers"),
    [
        (0o600, None),
        (0o400, None),
        (0o640, "group"),
        (0o604, "others"),
        (0o644, "group and others"),
    ],
)
def test_a_secret_file_readable_by_group_or_others_gets_a_warning_naming_it(
    folder: Path, mode: int, readers: str | None
) -> None:
    secret = folder / "secrets" / "acme-integrator"
    secret.chmod(mode)
    (folder / "secrets" / "globex-ats").chmod(0o600)
    config = parse(VALID, folder)
    if readers is None:
        assert config.warnings == ()
        return
    (warning,) = config.warnings
    assert warning.startswith(f"secret file {secret} is readable by {readers} (mode 0{mode:o})")
    assert f"chmod 600 {secret}" in warning
    assert FILE_SECRETS["acme-integrator"] not in warning


def test_check_prints_the_secret_file_warning_at_start(folder: Path) -> None:
    secret = folder / "secrets" / "acme-integrator"
    secret.chmod(0o644)
    path = folder / "daemon.toml"
    path.write_text(
        """
[store]
url = "sqlite:///state.db"

[tenants.acme]
base_url = "http://127.0.0.1:9"
provider_key = { env = "ACME_PROVIDER_KEY" }
integrator_secret = { file = "secrets/acme-integrator" }
[tenants.acme.webhook]
api_keys = [{ env = "ACME_RESULT_KEY" }]
[tenants.acme.ats]
kind = "reference"
base_url = "http://127.0.0.1:9"
api_token = { env = "ACME_ATS_TOKEN" }
poll = true
"""
    )
    result = CliRunner().invoke(cli, ["check", "--config", str(path)])
    lines = result.output.splitlines()
    assert lines[0] == "configuration: ok (1 tenant)", result.output
    assert lines[1] == (
        f"configuration: warning: secret file {secret} is readable by group and others "
        f"(mode 0644): make it readable by the daemon's user only, e.g. chmod 600 {secret}"
    )
