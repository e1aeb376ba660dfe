"""The connector daemon: every tenant's receiver, connector routes, pollers and workers in one.

    ATS ──push──▶ /connectors/{tenant}/…  ─┐
    ATS ◀──poll── Poller                   ├─▶ invite ─▶ store (order) ─▶ OrderSender ─▶ Assessio
                                           │
    Assessio ──▶ /results/{tenant}/{id} ─▶ store (result + outbox) ─▶ DeliveryWorker ─▶ ATS

Everything durable goes through the `Store` first, so a crash at any point loses nothing: on
restart, pending orders are sent and unfinished deliveries are retried. A store only one
process may use (SQLite) is locked for the daemon's lifetime, before anything else starts.

`reload()` (SIGHUP under `run()`) applies a new configuration's tenants without a restart:
added ones start, removed ones stop taking work (theirs waits in the store), changed ones get
a new runtime; work in progress on a replaced runtime finishes first.
"""

from __future__ import annotations

import queue
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from types import FrameType
from typing import Any

import attrs

from assessio_connect.contract.errors import (
    AssessioError,
    ConfigError,
    PermanentError,
    RetryableError,
)
from assessio_connect.contract.transport import Transport

from ._inbound import InboundWorker
from ._loops import OrderSender, Poller
from ._metrics import METRICS_PATH, DaemonMetrics
from ._outbox import Backoff, DeliveryWorker
from ._reload import ReloadPlan, RunningTenants, RunningTenantsOutbox, SecretScrubber, plan_reload
from ._routing import DaemonApp
from ._server import BackgroundServer
from ._status_page import status_app
from ._tenant import TenantRuntime, new_owner_id
from .config import DaemonConfig, TenantConfig
from .connector import Connector, Pushback, WSGIApplication
from .plugins import Plugins
from .receiver import ResultReceiver
from .store import DeliveryRecord, ProcessLock, RecordedResult, ResultRecord, WorkNotifications

__all__ = ["Daemon"]


def _quiet(event: str, /, **fields: Any) -> None:
    """The default logger: discard (the CLI passes a real `EventLog`)."""


def _no_route(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    body = b'{"error":"no such route"}'
    start_response(
        "404 Not Found",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


class Daemon:
    """Runs a `DaemonConfig`: `start()`/`stop()` in-process, or `run()` until SIGTERM/SIGINT."""

    def __init__(
        self,
        config: DaemonConfig,
        plugins: Plugins,
        *,
        log: Callable[..., None] = _quiet,
        clock: Callable[[], float] = time.time,
        transport: Transport | None = None,
        owner: str | None = None,
    ) -> None:
        self.config = config
        self.plugins = plugins
        self.log = log
        self.owner = owner or new_owner_id()
        self._clock = clock
        self.scrub = SecretScrubber(config.secret_values())
        """What every error stored or logged by the runtime goes through."""
        self._started = False
        self._reload_lock = threading.Lock()
        self._connector_apps: dict[int, WSGIApplication] = {}
        """id(runtime) -> its connector's WSGI app (push-style tenants)."""
        self._transport = transport or Transport(pool_maxsize=max(10, config.delivery.workers))
        self.store = plugins.open_store(config.store_url)
        if isinstance(self.store, ProcessLock):
            try:  # before the port: a second daemon on one SQLite file is told why it stops
                self.store.lock_for_daemon()
            except BaseException:
                self.store.close()
                raise
        try:
            self.server = BackgroundServer(
                self._dispatch,
                config.server.host,
                config.server.port,
                threads=config.server.threads,
                # waitress refuses a body of this size or more itself (413), before buffering it.
                max_request_body_size=config.server.max_body_bytes + 1,
                limits=config.server.limits,
            )
        except BaseException:
            self.store.close()
            raise
        try:
            self._base_url = config.server.public_url or self.server.url
            delivery = config.delivery
            self.backoff = Backoff(
                first_delay=delivery.first_delay,
                max_delay=delivery.max_delay,
                horizon=delivery.horizon,
            )
            self.tenants = RunningTenants()
            """The running tenants by name; a reload swaps them."""
            self.metrics = DaemonMetrics(self.store, tenants=self.tenants, plugins=plugins)
            self.orders = OrderSender(
                self.store,
                self.tenants,
                owner=self.owner,
                clock=clock,
                log=log,
                lease=delivery.lease,
                metrics=self.metrics,
            )
            self.inbound = InboundWorker(
                self.store,
                self.tenants,
                owner=self.owner,
                threads=delivery.workers,
                lease=delivery.lease,
                backoff=self.backoff,
                clock=clock,
                log=log,
                scrub=self.scrub,
                metrics=self.metrics,
            )
            """Hands the events push connectors accepted (`context.enqueue`) to them."""
            self.tenants.replace(self._build_tenants(config.tenants.values(), config.source))
            self.worker = DeliveryWorker(
                RunningTenantsOutbox(self.store, self.tenants),
                self._push,
                owner=self.owner,
                threads=delivery.workers,
                lease=delivery.lease,
                backoff=self.backoff,
                clock=clock,
                on_delivered=self._delivered,
                on_failed=self._failed,
                log=log,
                scrub=self.scrub,
            )
            self.receiver = ResultReceiver(
                self._webhook_auths(),
                self.store,
                max_body_bytes=config.server.max_body_bytes,
                clock=clock,
                on_recorded=self._recorded,
                log=log,
                on_answered=self.metrics.webhook_answered,
            )
            self.app = DaemonApp(self.receiver, self._connector_routes(), self._operator_apps())
            self._pollers: dict[str, Poller] = {
                name: self._poller(tenant)
                for name, tenant in self.tenants.items()
                if tenant.connector.is_pull
            }
        except BaseException:
            # Nothing half-built may outlive a failed start: the socket, connectors, store.
            self.server.stop()
            for tenant in getattr(self, "tenants", {}).values():
                tenant.connector.close()
            self.store.close()
            raise

    # Tenants: built at start and by a reload

    def _build_tenants(
        self, configs: Iterable[TenantConfig], source: str
    ) -> dict[str, TenantRuntime]:
        """A runtime per tenant, or `ConfigError` (with nothing left open) when one cannot be
        set up: its connector kind is not installed, or (on a reload) its connector refuses
        its settings."""
        built: dict[str, TenantRuntime] = {}
        problems: list[str] = []
        try:
            for tenant_config in configs:
                name = tenant_config.name
                connector_cls = self.plugins.connector(tenant_config.ats_kind)
                if connector_cls is None:
                    problems.append(
                        f"no connector of kind {tenant_config.ats_kind!r} "
                        f"@ $.tenants.{name}.ats.kind"
                    )
                    continue
                try:
                    built[name] = runtime = self._runtime(tenant_config, connector_cls)
                    if runtime.connector.is_push:
                        self._connector_apps[id(runtime)] = runtime.connector.wsgi_app()
                except AssessioError as exc:
                    if not self._started:
                        raise
                    problems.append(f"cannot set up the tenant: {exc} @ $.tenants.{name}")
            if problems:
                raise ConfigError(problems, source=source)
        except BaseException:
            for runtime in built.values():
                self._connector_apps.pop(id(runtime), None)
                runtime.connector.close()
            raise
        return built

    def _runtime(self, config: TenantConfig, connector_cls: type[Connector]) -> TenantRuntime:
        return TenantRuntime(
            config,
            connector_cls=connector_cls,
            store=self.store,
            plugins=self.plugins,
            transport=self._transport,
            base_url=self._base_url,
            clock=self._clock,
            log=self.log,
            wake_orders=self.orders.notify,
            backoff=self.backoff,
            owner=self.owner,
            scrub=self.scrub,
            metrics=self.metrics,
            wake_events=self.inbound.notify,
        )

    def _webhook_auths(self) -> dict[str, Any]:
        return {name: tenant.auth for name, tenant in self.tenants.items()}

    def _connector_routes(self) -> dict[str, WSGIApplication]:
        return {
            name: self._connector_route(name)
            for name, tenant in self.tenants.items()
            if tenant.connector.is_push
        }

    def _connector_route(self, name: str) -> WSGIApplication:
        """`/connectors/{name}/` served by the tenant's current connector, held busy while it
        answers, so that a reload replacing the tenant closes the old one only afterwards."""

        def route(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
            with self.tenants.use(name) as runtime:
                app = None if runtime is None else self._connector_apps.get(id(runtime))
                answer = (app or _no_route)(environ, start_response)
                try:
                    yield from answer
                finally:
                    close = getattr(answer, "close", None)
                    if close is not None:
                        close()

        return route

    def _poller(self, tenant: TenantRuntime) -> Poller:
        configured = float(getattr(tenant.config.ats, "poll_interval", 0) or 0)
        return Poller(
            tenant,
            self.store,
            owner=self.owner,
            clock=self._clock,
            log=self.log,
            interval=configured or tenant.connector.poll_interval,
            metrics=self.metrics,
        )

    @property
    def pollers(self) -> list[Poller]:
        """The pollers of the running pull-style tenants."""
        return list(self._pollers.values())

    def _operator_apps(self) -> dict[str, WSGIApplication]:
        """Routes for operators, by path prefix, served beside the receiver."""
        return {"/status": status_app(self), METRICS_PATH: self.metrics.wsgi_app}

    @property
    def url(self) -> str:
        """Where the daemon listens, e.g. `http://127.0.0.1:8080`."""
        return self.server.url

    def _dispatch(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        return self.app(environ, start_response)

    def wsgi_app(self) -> WSGIApplication:
        """The daemon's routes, to mount in another WSGI server instead of the built-in one."""
        return self.app

    def start(self) -> Daemon:
        """Migrate the store, then serve, send orders, poll and deliver in background threads."""
        self.store.migrate()
        # Only leases whose holder died: a live one may belong to another replica (or, were
        # the lock not honoured, another daemon on this file) pushing that delivery right now.
        released = self.store.release_expired(now=self._clock())
        if released:
            self.log("deliveries.recovered", count=released)
        if isinstance(self.store, WorkNotifications):  # a shared store wakes every replica
            self.store.subscribe(
                deliveries=self.worker.notify,
                orders=self.orders.notify,
                events=self.inbound.notify,
            )
        self.server.start()
        self.worker.start()
        self.inbound.start()
        self.orders.start()
        self.orders.notify()
        for poller in self._pollers.values():
            poller.start()
        self._started = True
        self.log(
            "daemon.started",
            url=self.url,
            tenants=",".join(sorted(self.tenants)),
            store=self.store.url,
            owner=self.owner,
        )
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking work, let in-flight pushes finish (up to `timeout`), release the rest."""
        if not self._started:
            self.store.close()
            return
        self._started = False
        self.log("daemon.stopping")
        self.server.stop()
        for poller in self._pollers.values():
            poller.stop(timeout)
        self.orders.stop(timeout)
        self.worker.stop(timeout)
        self.inbound.stop(timeout)
        self.store.release(self.owner, now=self._clock())
        for tenant in self.tenants.values():
            tenant.connector.close()
        self.store.close()
        self.log("daemon.stopped")

    def run(self, reload_config: Callable[[], DaemonConfig] | None = None) -> int:
        """Serve until SIGTERM or SIGINT, then stop gracefully; returns the exit code (0).

        SIGHUP reloads: `reload_config()` reads the configuration again (raising `ConfigError`
        for one with problems, which is logged and refused: the running one stays)."""
        received: queue.SimpleQueue[int] = queue.SimpleQueue()

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            received.put(signum)  # nothing else here: the main thread may hold the log's lock

        hangup = getattr(signal, "SIGHUP", None)
        handled = [signal.SIGTERM, signal.SIGINT, *([hangup] if hangup is not None else [])]
        previous = {sig: signal.signal(sig, on_signal) for sig in handled}
        try:
            self.start()
            while True:
                try:
                    signum = received.get(timeout=1.0)
                except queue.Empty:
                    continue
                self.log("daemon.signal", signal=signal.Signals(signum).name)
                if signum != hangup:
                    break
                self._reload_from(reload_config)
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 0

    # Reload

    def reload(self, config: DaemonConfig) -> ReloadPlan:
        """Apply `config`'s tenants to the running daemon and return what changed.

        Added tenants start; removed ones stop taking work (their orders and deliveries wait in
        the store, untouched, until a configuration has them again); changed ones get a new
        runtime and connector. Pollers, connector routes and the receiver's credentials follow
        at once; pushes and requests in progress on a replaced runtime finish before its
        connector closes. Server, store and delivery settings need a restart: they are logged
        (`config.needs_restart`) and ignored. Raises `ConfigError`, changing nothing, when a
        tenant cannot be set up."""
        with self._reload_lock:
            plan = plan_reload(self.config, config)
            self.scrub.learn(config.secret_values())  # before anything may echo a new one
            wanted = config.tenants
            built = self._build_tenants([wanted[name] for name in plan.to_build], config.source)
            for path in plan.needs_restart:
                self.log(
                    "config.needs_restart",
                    level="warning",
                    path=path,
                    message="changed in the file; it takes effect on the next restart",
                )
            retired = [self.tenants[name] for name in plan.to_retire]
            pollers = dict(self._pollers)  # swapped whole: readers never see it half changed
            for name in plan.to_retire:
                poller = pollers.pop(name, None)
                if poller is not None:
                    poller.stop()  # its poll in progress finishes first
            running = {n: t for n, t in self.tenants.items() if n not in plan.to_retire}
            running.update(built)
            self.tenants.replace(running)
            self.receiver.replace_tenants(self._webhook_auths())
            self.app.replace_connectors(self._connector_routes())
            for name, tenant in built.items():
                if tenant.connector.is_pull:
                    pollers[name] = poller = self._poller(tenant)
                    if self._started:
                        poller.start()
            self._pollers = pollers
            self.config = attrs.evolve(
                self.config,
                tenants={name: running[name].config for name in wanted},
                warnings=config.warnings,
            )
            self._retire(retired)
            self.orders.notify()  # a tenant configured again has work waiting
            self.worker.notify()
            self.inbound.notify()
            self.log(
                "config.reloaded",
                source=config.source,
                tenants=",".join(sorted(running)),
                added=",".join(plan.added) or None,
                removed=",".join(plan.removed) or None,
                changed=",".join(plan.changed) or None,
            )
            return plan

    def _retire(self, runtimes: Iterable[TenantRuntime]) -> None:
        """Close replaced runtimes' connectors once the work holding them is done."""
        for runtime in runtimes:
            if not self.tenants.wait_idle(runtime, self.config.delivery.lease):
                self.log(
                    "config.retire_timeout",
                    level="warning",
                    tenant=runtime.tenant,
                    message="work on the replaced tenant did not finish in time; closing it",
                )
            self._connector_apps.pop(id(runtime), None)
            runtime.connector.close()

    def _reload_from(self, reload_config: Callable[[], DaemonConfig] | None) -> None:
        """SIGHUP: read the configuration again and apply it, or log why not and keep running."""
        if reload_config is None:
            self.log(
                "config.reload_unavailable",
                level="warning",
                message="this daemon was not started from a configuration file",
            )
            return
        self.log("config.reloading", source=self.config.source)
        try:
            config = reload_config()
            for warning in config.warnings:
                self.log("config.warning", level="warning", message=warning)
            self.reload(config)
        except ConfigError as exc:
            for problem in exc.problems:
                self.log("config.problem", level="error", source=exc.source, problem=problem)
            self._refused(f"{len(exc.problems)} problem(s) in {exc.source}")
        except Exception as exc:  # a reload must never take the running daemon down
            self._refused(self.scrub(f"{type(exc).__name__}: {exc}"))

    def _refused(self, reason: str) -> None:
        self.log(
            "config.reload_refused",
            level="error",
            reason=reason,
            tenants=",".join(sorted(self.tenants)),
            message="the running configuration is kept",
        )

    def __enter__(self) -> Daemon:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # Callbacks

    def _recorded(self, tenant: str, record: ResultRecord | None, recorded: RecordedResult) -> None:
        # The receiver logged the webhook (one line each); this only wakes and tells others.
        if recorded.delivery_id is not None:
            self.worker.notify()
        if record is not None:
            self.plugins.hook.assessio_result_received(
                tenant=tenant, result=record, recorded=recorded
            )

    def _push(self, delivery: DeliveryRecord) -> None:
        with self.tenants.use(delivery.tenant) as tenant:
            if tenant is None:
                # Removed by a reload after this delivery was claimed: it waits for the tenant.
                raise RetryableError(
                    f"tenant {delivery.tenant!r} is not configured (removed by a reload); "
                    "the delivery waits until it is configured again"
                )
            self._push_with(tenant, delivery)

    def _push_with(self, tenant: TenantRuntime, delivery: DeliveryRecord) -> None:
        order = self.store.get_order(delivery.tenant, delivery.result_id)
        result = self.store.get_result(delivery.tenant, delivery.result_id, delivery.version)
        if order is None or result is None:
            raise PermanentError(f"result {delivery.result_id} v{delivery.version} has no order")
        latest = self.store.get_result(delivery.tenant, delivery.result_id)
        if latest is not None and latest.version > delivery.version:
            # A newer version arrived while this one waited for a retry: never push the older
            # one over it (its own delivery carries the newer one).
            self.log(
                "delivery.superseded",
                tenant=delivery.tenant,
                result_id=delivery.result_id,
                version=delivery.version,
                newer=latest.version,
            )
            self.metrics.delivery_finished(delivery.tenant, "superseded")
            return
        with self.metrics.ats_call(delivery.tenant, "push"):
            tenant.connector.push_result(
                Pushback(
                    order=order,
                    result=result.result,
                    version=delivery.version,
                    attempt=delivery.attempts,
                )
            )

    def _delivered(self, delivery: DeliveryRecord) -> None:
        self.metrics.delivery_finished(delivery.tenant, "delivered")
        order = self.store.get_order(delivery.tenant, delivery.result_id)
        if order is not None:
            self.plugins.hook.assessio_result_delivered(
                tenant=delivery.tenant, delivery=delivery, order=order
            )

    def _failed(self, delivery: DeliveryRecord, error: str, dead: bool) -> None:
        self.metrics.delivery_finished(delivery.tenant, "dead" if dead else "retry")
        self.plugins.hook.assessio_delivery_failed(
            tenant=delivery.tenant, delivery=delivery, error=error, dead=dead
        )
