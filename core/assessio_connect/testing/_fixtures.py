"""The plugin's fixtures: the Assessio emulator, a daemon with a temporary SQLite store, signed
result senders and a fresh plugin manager, plus the objects they hand to a test."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

import attrs
import pytest
import urllib3

from assessio_connect.contract import codec
from assessio_connect.contract.models import Result
from assessio_connect.contract.signing import SIGNATURE_HEADER, sign
from assessio_connect.contract.webhook import API_KEY_HEADER
from assessio_connect.runtime.config import DaemonConfig, load_daemon_config
from assessio_connect.runtime.connector import Connector
from assessio_connect.runtime.daemon import Daemon
from assessio_connect.runtime.hookspecs import hookimpl
from assessio_connect.runtime.plugins import Plugins, load_plugins
from assessio_connect.runtime.store import DeliveryRecord, DeliveryState, OrderRecord, Store
from assessio_connect.sandbox import DeliverySchedule, Organisation, ReceivedOrder, Sandbox

from ._toml import SecretFiles, toml_table, toml_value, with_secret_files

__all__ = [
    "DaemonFactory",
    "LoggedEvent",
    "ResultAuth",
    "ResultSender",
    "RunningDaemon",
    "SentResult",
    "assessio_daemon_factory",
    "assessio_organisation",
    "assessio_plugins",
    "assessio_result_sender",
    "assessio_sandbox",
    "new_organisation",
    "plugins_with",
    "wait_until",
]

T = TypeVar("T")

ResultAuth = Literal["api-key", "signature", "both"]
"""Which credentials the daemon requires on result webhooks."""


def new_organisation() -> Organisation:
    """An organisation with fresh random credentials of every kind."""
    return Organisation(
        provider_key=f"pk-testing-{secrets.token_hex(6)}",
        integrator_secret=secrets.token_urlsafe(18),
        result_api_key=secrets.token_urlsafe(18),
        result_signing_secret=secrets.token_urlsafe(18),
    )


FAST_DELIVERY = DeliverySchedule(first_retry=0.05, max_interval=0.2, horizon=60.0)
PLUGINS_MARKER = "assessio_plugins"


def wait_until(
    condition: Callable[[], T | None], timeout: float = 10.0, what: str = "the condition"
) -> T:
    """Call `condition` until it returns something truthy and return that; fail after
    `timeout` seconds with a message naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.01)


def plugins_with(connector_class: type[Connector]) -> Plugins:
    """Built-in plugins plus `connector_class`, without other installed plugins: a connector's
    tests then depend on nothing else that happens to be installed."""
    plugins = load_plugins(entry_points=False)
    if plugins.connector(connector_class.kind) is connector_class:
        return plugins

    class Register:
        @hookimpl
        def assessio_register_connectors(self, register: Callable[[type[Connector]], None]) -> None:
            register(connector_class)

    return load_plugins(
        strict=True, entry_points=False, extra=[(f"testing:{connector_class.kind}", Register())]
    )


# Fixtures: the emulator and the plugins


@pytest.fixture
def assessio_organisation() -> Organisation:
    """The one organisation `assessio_sandbox` knows, with fresh credentials of every kind
    (the daemons of `assessio_daemon_factory` use them too)."""
    return new_organisation()


@pytest.fixture
def assessio_sandbox(assessio_organisation: Organisation) -> Iterator[Sandbox]:
    """The Assessio emulator serving on 127.0.0.1 for this test, retrying deliveries quickly."""
    with Sandbox([assessio_organisation], delivery=FAST_DELIVERY) as sandbox:
        yield sandbox


def _plugin_pairs(items: Iterable[Any]) -> list[tuple[str, object]]:
    pairs: list[tuple[str, object]] = []
    for index, item in enumerate(items):
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            pairs.append((item[0], item[1]))
        else:
            pairs.append((f"test-plugin-{index}", item))
    return pairs


@pytest.fixture
def assessio_plugins(request: pytest.FixtureRequest) -> Plugins:
    """A fresh `load_plugins()`: built-ins and installed plugins, plus any given with
    `@pytest.mark.assessio_plugins(plugin, ("name", plugin), entry_points=False)`."""
    extra: list[tuple[str, object]] = []
    entry_points = True
    for marker in request.node.iter_markers(PLUGINS_MARKER):
        extra.extend(_plugin_pairs(marker.args))
        entry_points = bool(marker.kwargs.get("entry_points", entry_points))
    return load_plugins(entry_points=entry_points, extra=extra)


# The daemon


@attrs.frozen
class LoggedEvent:
    """One line the daemon logged."""

    event: str
    level: str
    fields: Mapping[str, Any]


class _EventRecorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[LoggedEvent] = []

    def __call__(self, event: str, /, level: str = "info", **fields: Any) -> None:
        with self._lock:
            self.events.append(LoggedEvent(event, level, fields))

    def snapshot(self) -> list[LoggedEvent]:
        with self._lock:
            return list(self.events)


class RunningDaemon:
    """A started `Daemon` with one tenant against the emulator, and helpers to drive it."""

    def __init__(
        self,
        *,
        directory: Path,
        config_text: Callable[[int], str],
        plugins: Plugins,
        sandbox: Sandbox,
        organisation: Organisation,
        tenant: str,
    ) -> None:
        self.directory = directory
        self.plugins = plugins
        self.sandbox = sandbox
        self.organisation = organisation
        self.tenant = tenant
        self.config_path = directory / "assessio-connect.toml"
        self._config_text = config_text
        self._log = _EventRecorder()
        self._running = False
        self.daemon = self._start(0)

    def _start(self, port: int) -> Daemon:
        self.config_path.write_text(self._config_text(port), encoding="utf-8")
        self.config: DaemonConfig = load_daemon_config(self.plugins, self.config_path)
        daemon = Daemon(self.config, self.plugins, log=self._log).start()
        self._running = True
        return daemon

    def __repr__(self) -> str:
        return f"RunningDaemon({self.tenant!r} at {self.url})"

    @property
    def url(self) -> str:
        """Where the daemon listens, e.g. `http://127.0.0.1:54321`."""
        return self.daemon.url

    @property
    def store(self) -> Store:
        return self.daemon.store

    @property
    def connector(self) -> Connector:
        """The tenant's connector instance inside the daemon."""
        return self.daemon.tenants[self.tenant].connector

    @property
    def connector_url(self) -> str:
        """Where the connector's routes are mounted: `{url}/connectors/{tenant}`."""
        return f"{self.url}/connectors/{self.tenant}"

    def result_url(self, result_id: str) -> str:
        """The `resultUpdateUrl` of an order."""
        return f"{self.url}/results/{self.tenant}/{result_id}"

    @property
    def events(self) -> list[LoggedEvent]:
        """Everything the daemon logged so far, oldest first."""
        return self._log.snapshot()

    def log_text(self) -> str:
        """The log as one string, to check that no secret ever reached it."""
        return "\n".join(
            f"{e.event} {e.level} {json.dumps(dict(e.fields), default=str)}" for e in self.events
        )

    def orders(self) -> list[OrderRecord]:
        """The tenant's orders in the store, oldest first."""
        return list(reversed(self.store.list_orders(tenant=self.tenant, limit=10_000)))

    def deliveries(self, state: DeliveryState | None = None) -> list[DeliveryRecord]:
        """The tenant's result deliveries, oldest first."""
        found = self.store.list_deliveries(tenant=self.tenant, state=state, limit=10_000)
        return list(reversed(found))

    def poll_now(self) -> None:
        """Wake the tenant's poller (pull connectors) instead of waiting for its interval."""
        for poller in self.daemon.pollers:
            poller.notify()

    def wait_until(
        self,
        condition: Callable[[], T | None],
        timeout: float = 10.0,
        what: str = "the condition",
    ) -> T:
        """`wait_until(...)`, for convenience."""
        return wait_until(condition, timeout, what)

    def emulator_orders(self) -> list[ReceivedOrder]:
        """Every order the emulator accepted for this organisation, oldest first."""
        return self.sandbox.orders(provider_key=self.organisation.provider_key)

    def wait_for_orders(self, count: int = 1, timeout: float = 10.0) -> list[ReceivedOrder]:
        """The emulator's orders once at least `count` arrived."""

        def enough() -> list[ReceivedOrder] | None:
            orders = self.emulator_orders()
            return orders if len(orders) >= count else None

        return wait_until(enough, timeout, f"{count} order(s) at the emulator")

    def complete_all(
        self,
        count: int | None = None,
        *,
        score: int | None = None,
        subscores: Mapping[str, int] | None = None,
        timeout: float = 10.0,
    ) -> list[Result]:
        """Complete every emulator order of this organisation that has no result yet (after
        waiting for `count` orders, when given); the emulator posts each result at once."""
        orders = self.wait_for_orders(count, timeout) if count else self.emulator_orders()
        return [
            self.sandbox.complete(
                order.order.result_id,
                score=score,
                subscores=subscores,
                provider_key=self.organisation.provider_key,
            )
            for order in orders
            if not order.results
        ]

    def wait_for_deliveries(
        self,
        count: int = 1,
        *,
        state: DeliveryState = DeliveryState.DELIVERED,
        timeout: float = 10.0,
    ) -> list[DeliveryRecord]:
        """The tenant's deliveries in `state` once there are at least `count` of them."""

        def enough() -> list[DeliveryRecord] | None:
            found = self.deliveries(state)
            return found if len(found) >= count else None

        return wait_until(enough, timeout, f"{count} {state.value} deliveries")

    def restart(self) -> None:
        """Stop the daemon and start it again on the same port with the same store, as after
        a deploy or a crash-free restart."""
        port = self.daemon.server.port
        self.stop()
        self.daemon = self._start(port)

    def stop(self) -> None:
        """Stop the daemon (idempotent)."""
        if self._running:
            self._running = False
            self.daemon.stop()


class DaemonFactory:
    """Starts daemons for a test (`factory(kind, ats, ...)`) and stops them after it."""

    def __init__(
        self, tmp_path: Path, sandbox: Sandbox, organisation: Organisation, plugins: Plugins
    ) -> None:
        self._tmp = tmp_path
        self._sandbox = sandbox
        self._organisation = organisation
        self._plugins = plugins
        self._secrets = SecretFiles(tmp_path / "secrets")
        self._running: list[RunningDaemon] = []

    def secret(self, name: str, value: str) -> str:
        """Write `value` to a secret file and return its TOML reference `{ file = "..." }`,
        for an `ats` table given as TOML text."""
        return self._secrets.inline(name, value)

    def __call__(
        self,
        kind: str,
        ats: str | Mapping[str, Any],
        assessment: str | Mapping[str, Any] | None = None,
        *,
        tenant: str = "acme",
        result_auth: ResultAuth = "api-key",
        order_endpoint: Literal["order", "link"] = "order",
        plugins: Plugins | None = None,
    ) -> RunningDaemon:
        """Write a configuration for one tenant and start a daemon on 127.0.0.1 (port 0).

        `ats` is the tenant's `ats` table without `kind`: a dict whose plain secrets become
        secret files, or TOML text (use `secret()` for its references). `assessment` is the
        assessment table (default: General Performance in en-GB). `result_auth` picks which
        credentials result webhooks must carry."""
        plugins = plugins or self._plugins
        connector_cls = plugins.connector(kind)
        if connector_cls is None:
            installed = ", ".join(sorted(plugins.connectors)) or "none"
            raise LookupError(f"no connector of kind {kind!r} is registered (have: {installed})")
        directory = self._tmp / f"daemon-{len(self._running) + 1}"
        directory.mkdir(parents=True, exist_ok=True)
        files = SecretFiles(directory / "secrets", prefix=f"{tenant}-")
        if isinstance(ats, str):
            ats_text = f"[tenants.{tenant}.ats]\nkind = {toml_value(kind)}\n{ats}\n"
        else:
            values = with_secret_files(connector_cls.Config, ats, files, "ats-")
            ats_text = toml_table(f"tenants.{tenant}.ats", {"kind": kind, **values})
        if assessment is None:
            assessment = {"lens": "General Performance", "locale": "en-GB"}
        if isinstance(assessment, str):
            assessment_text = f"[tenants.{tenant}.assessment]\n{assessment}\n"
        else:
            assessment_text = toml_table(f"tenants.{tenant}.assessment", assessment)
        tenant_text = _tenant_text(
            tenant,
            self._sandbox.url,
            self._organisation,
            files,
            result_auth=result_auth,
            order_endpoint=order_endpoint,
        )

        def config_text(port: int) -> str:
            return "\n".join(
                [_daemon_settings(port), tenant_text, assessment_text, ats_text],
            )

        running = RunningDaemon(
            directory=directory,
            config_text=config_text,
            plugins=plugins,
            sandbox=self._sandbox,
            organisation=self._organisation,
            tenant=tenant,
        )
        self._running.append(running)
        return running

    def close(self) -> None:
        """Stop every daemon this factory started."""
        for running in reversed(self._running):
            running.stop()
        self._running.clear()


def _daemon_settings(port: int) -> str:
    public = f'public_url = "http://127.0.0.1:{port}"\n' if port else ""
    return f"""[server]
listen = "127.0.0.1:{port}"
{public}
[store]
url = "sqlite:///state.db"

[delivery]
workers = 2
first_delay = 0.02
max_delay = 0.2
lease = 5
"""


def _tenant_text(
    tenant: str,
    sandbox_url: str,
    organisation: Organisation,
    files: SecretFiles,
    *,
    result_auth: ResultAuth,
    order_endpoint: str,
) -> str:
    own: dict[str, Any] = {
        "base_url": sandbox_url,
        "provider_key": files.ref("provider-key", organisation.provider_key),
        "order_endpoint": order_endpoint,
    }
    if organisation.integrator_secret:
        own["integrator_secret"] = files.ref("integrator-secret", organisation.integrator_secret)
    webhook: dict[str, Any] = {}
    if result_auth in ("api-key", "both"):
        if not organisation.result_api_key:
            raise ValueError("the organisation has no result_api_key")
        webhook["api_keys"] = [files.ref("result-api-key", organisation.result_api_key)]
    if result_auth in ("signature", "both"):
        if not organisation.result_signing_secret:
            raise ValueError("the organisation has no result_signing_secret")
        webhook["signing_secrets"] = [
            files.ref("result-signing-secret", organisation.result_signing_secret)
        ]
    return (
        toml_table(f"tenants.{tenant}", own)
        + "\n"
        + toml_table(f"tenants.{tenant}.webhook", webhook)
    )


@pytest.fixture
def assessio_daemon_factory(
    tmp_path: Path,
    assessio_sandbox: Sandbox,
    assessio_organisation: Organisation,
    assessio_plugins: Plugins,
) -> Iterator[DaemonFactory]:
    """`factory(kind, ats, assessment=None, *, tenant="acme", result_auth="api-key", ...)`
    starts a daemon with a temporary SQLite store against `assessio_sandbox`; every daemon
    started is stopped after the test."""
    factory = DaemonFactory(tmp_path, assessio_sandbox, assessio_organisation, assessio_plugins)
    try:
        yield factory
    finally:
        factory.close()


# Result webhooks


@attrs.frozen
class SentResult:
    """The daemon's answer to a result POST."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


class _Default:
    def __repr__(self) -> str:
        return "DEFAULT"


_DEFAULT: Any = _Default()


class ResultSender:
    """POSTs result webhooks the way Assessio does, with chosen (or deliberately wrong)
    credentials: `sender(daemon, result)`, `sender(daemon, result, api_key="wrong")`."""

    def __init__(self) -> None:
        self._http = urllib3.PoolManager(
            retries=False, timeout=urllib3.Timeout(connect=5.0, read=30.0)
        )

    def __call__(
        self,
        target: RunningDaemon | str,
        result: Result | Mapping[str, Any] | bytes,
        *,
        tenant: str | None = None,
        result_id: str | None = None,
        api_key: str | None = _DEFAULT,
        signing_secret: str | None = _DEFAULT,
        timestamp: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> SentResult:
        """POST `result` to `/results/{tenant}/{resultId}` of `target` (a `RunningDaemon`, or
        a daemon's base URL together with `tenant`).

        Against a `RunningDaemon`, `api_key` and `signing_secret` default to the organisation's
        (both are sent; the daemon checks those it is configured for); against a URL they
        default to None. Pass None to leave one out, or another value to send a wrong one.
        `result` may be raw bytes (sent as they are; give `result_id` then)."""
        if isinstance(target, RunningDaemon):
            base, tenant = target.url, tenant or target.tenant
            organisation: Organisation | None = target.organisation
        else:
            base, organisation = target.rstrip("/"), None
            if tenant is None:
                raise ValueError("give the tenant when posting to a URL")
        if api_key is _DEFAULT:
            api_key = organisation.result_api_key if organisation else None
        if signing_secret is _DEFAULT:
            signing_secret = organisation.result_signing_secret if organisation else None
        if isinstance(result, Result):
            body = codec.dumps(result)
            result_id = result_id or result.result_id
        elif isinstance(result, Mapping):
            body = json.dumps(dict(result)).encode("utf-8")
            found = result.get("resultId")
            result_id = result_id or (found if isinstance(found, str) else None)
        else:
            body = bytes(result)
        if not result_id:
            raise ValueError("give result_id: the body does not say which result it is")
        sent = {"Content-Type": "application/json"}
        if api_key is not None:
            sent[API_KEY_HEADER] = api_key
        if signing_secret is not None:
            sent[SIGNATURE_HEADER] = sign(signing_secret, body, timestamp)
        sent.update(headers or {})
        url = f"{base}/results/{tenant}/{result_id}"
        response = self._http.request("POST", url, body=body, headers=sent)
        return SentResult(int(response.status), dict(response.headers), bytes(response.data))

    def close(self) -> None:
        self._http.clear()


@pytest.fixture
def assessio_result_sender() -> Iterator[ResultSender]:
    """A `ResultSender`: POSTs result webhooks with the API key and/or a Signature."""
    sender = ResultSender()
    try:
        yield sender
    finally:
        sender.close()
