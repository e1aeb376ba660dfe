"""The connector daemon: every tenant's receiver, connector routes, pollers and workers in one.

    ATS ──push──▶ /connectors/{tenant}/…  ─┐
    ATS ◀──poll── Poller                   ├─▶ invite ─▶ store (order) ─▶ OrderSender ─▶ Assessio
                                           │
    Assessio ──▶ /results/{tenant}/{id} ─▶ store (result + outbox) ─▶ DeliveryWorker ─▶ ATS

Everything durable goes through the `Store` first, so a crash at any point loses nothing: on
restart, pending orders are sent and unfinished deliveries are retried. A store only one
process may use (SQLite) is locked for the daemon's lifetime, before anything else starts.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

from ._logging import Scrubber
from ._loops import OrderSender, Poller
from ._outbox import Backoff, DeliveryWorker
from ._routing import DaemonApp
from ._server import BackgroundServer
from ._tenant import TenantRuntime, new_owner_id
from .config import DaemonConfig
from .connector import Pushback, WSGIApplication
from .errors import ConfigError, PermanentError
from .plugins import Plugins
from .receiver import ResultReceiver
from .store import (
    DeliveryRecord,
    ProcessLock,
    RecordedResult,
    ResultOutcome,
    ResultRecord,
    WorkNotifications,
)
from .transport import Transport

__all__ = ["Daemon"]


def _quiet(event: str, /, **fields: Any) -> None:
    """The default logger: discard (the CLI passes a real `EventLog`)."""


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
        self.scrub = Scrubber(config.secret_values())
        """What every error stored or logged by the runtime goes through."""
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
            base_url = config.server.public_url or self.server.url
            delivery = config.delivery
            self.backoff = Backoff(
                first_delay=delivery.first_delay,
                max_delay=delivery.max_delay,
                horizon=delivery.horizon,
            )
            self.tenants: dict[str, TenantRuntime] = {}
            self.orders = OrderSender(
                self.store,
                self.tenants,
                owner=self.owner,
                clock=clock,
                log=log,
                lease=delivery.lease,
            )
            problems: list[str] = []
            for name, tenant_config in config.tenants.items():
                connector_cls = plugins.connector(tenant_config.ats_kind)
                if connector_cls is None:
                    problems.append(
                        f"no connector of kind {tenant_config.ats_kind!r} @ $.tenants.{name}"
                    )
                    continue
                self.tenants[name] = TenantRuntime(
                    tenant_config,
                    connector_cls=connector_cls,
                    store=self.store,
                    plugins=plugins,
                    transport=self._transport,
                    base_url=base_url,
                    clock=clock,
                    log=log,
                    wake_orders=self.orders.notify,
                    backoff=self.backoff,
                    owner=self.owner,
                    scrub=self.scrub,
                )
            if problems:
                raise ConfigError(problems, source=config.source)
            self.worker = DeliveryWorker(
                self.store,
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
                {name: tenant.auth for name, tenant in self.tenants.items()},
                self.store,
                max_body_bytes=config.server.max_body_bytes,
                clock=clock,
                on_recorded=self._recorded,
                log=log,
            )
            self.app = DaemonApp(
                self.receiver,
                {
                    name: tenant.connector.wsgi_app()
                    for name, tenant in self.tenants.items()
                    if tenant.connector.is_push
                },
                self._operator_apps(),
            )
            self.pollers = [
                Poller(
                    tenant,
                    self.store,
                    owner=self.owner,
                    clock=clock,
                    log=log,
                    interval=float(getattr(tenant.config.ats, "poll_interval", 0) or 0)
                    or tenant.connector.poll_interval,
                )
                for tenant in self.tenants.values()
                if tenant.connector.is_pull
            ]
        except BaseException:
            # Nothing half-built may outlive a failed start: the socket, connectors, store.
            self.server.stop()
            for tenant in getattr(self, "tenants", {}).values():
                tenant.connector.close()
            self.store.close()
            raise
        self._started = False

    def _operator_apps(self) -> dict[str, WSGIApplication]:
        """Routes for operators, by path prefix, served beside the receiver."""
        return {}

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
            self.store.subscribe(deliveries=self.worker.notify, orders=self.orders.notify)
        self.server.start()
        self.worker.start()
        self.orders.start()
        self.orders.notify()
        for poller in self.pollers:
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
        for poller in self.pollers:
            poller.stop(timeout)
        self.orders.stop(timeout)
        self.worker.stop(timeout)
        self.store.release(self.owner, now=self._clock())
        for tenant in self.tenants.values():
            tenant.connector.close()
        self.store.close()
        self.log("daemon.stopped")

    def run(self) -> int:
        """Serve until SIGTERM or SIGINT, then stop gracefully; returns the exit code (0)."""
        stop = threading.Event()

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            self.log("daemon.signal", signal=signal.Signals(signum).name)
            stop.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.start()
            while not stop.wait(1.0):
                pass
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 0

    def __enter__(self) -> Daemon:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # Callbacks

    def _recorded(self, tenant: str, record: ResultRecord | None, recorded: RecordedResult) -> None:
        if recorded.delivery_id is not None:
            self.worker.notify()
        self.log(
            "result.received",
            tenant=tenant,
            result_id=record.result_id if record else None,
            outcome=recorded.outcome.value,
            version=recorded.version,
        )
        if record is not None:
            self.plugins.hook.assessio_result_received(
                tenant=tenant, result=record, recorded=recorded
            )
        if recorded.outcome is ResultOutcome.ORPHAN:
            self.log("result.orphan", level="warning", tenant=tenant)

    def _push(self, delivery: DeliveryRecord) -> None:
        tenant = self.tenants.get(delivery.tenant)
        if tenant is None:
            raise PermanentError(f"tenant {delivery.tenant!r} is no longer configured")
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
            return
        tenant.connector.push_result(
            Pushback(
                order=order,
                result=result.result,
                version=delivery.version,
                attempt=delivery.attempts,
            )
        )

    def _delivered(self, delivery: DeliveryRecord) -> None:
        order = self.store.get_order(delivery.tenant, delivery.result_id)
        if order is not None:
            self.plugins.hook.assessio_result_delivered(
                tenant=delivery.tenant, delivery=delivery, order=order
            )

    def _failed(self, delivery: DeliveryRecord, error: str, dead: bool) -> None:
        self.plugins.hook.assessio_delivery_failed(
            tenant=delivery.tenant, delivery=delivery, error=error, dead=dead
        )
