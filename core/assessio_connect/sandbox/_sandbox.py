"""`Sandbox`: the emulator put together: state, WSGI app, server, faults and deliverer."""

from __future__ import annotations

import logging
import math
import threading
import time
import wsgiref.util
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING

from assessio_connect.contract.models import Result
from assessio_connect.runtime._server import BackgroundServer

from ._app import CONFIG_PATH, CONTROL_PREFIX, ORDER_PATH, ApiSettings, AppHooks, SandboxApp
from ._catalog import DEFAULT_LENSES, DEFAULT_LOCALES, SandboxLens, simulate_result
from ._delivery import Deliverer, DeliverySchedule
from ._faults import Faults
from ._state import (
    DeliveryAttempt,
    OrderEntry,
    Organisation,
    ReceivedOrder,
    ReceivedRequest,
    SandboxRecruitment,
    SandboxState,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

    from assessio_connect.contract.models import AssessioConfig

__all__ = ["DeliveryPredicate", "Sandbox"]

log = logging.getLogger("assessio_connect.sandbox")

DeliveryPredicate = Callable[[list[DeliveryAttempt]], bool]
_DEFAULT_SCHEDULE = DeliverySchedule()  # frozen, so one instance can be every default


def _lenses(value: Iterable[SandboxLens] | None) -> tuple[SandboxLens, ...]:
    lenses = DEFAULT_LENSES if value is None else tuple(value)
    if not lenses:
        raise ValueError("the sandbox needs at least one lens")
    for lens in lenses:
        if not isinstance(lens, SandboxLens):
            raise TypeError(f"lenses must be SandboxLens objects, got {type(lens).__name__}")
    ids = [lens.id for lens in lenses]
    if len(set(ids)) != len(ids):
        raise ValueError("two lenses share an id")
    return lenses


def _locales(value: Iterable[str] | None) -> tuple[str, ...]:
    locales = DEFAULT_LOCALES if value is None else tuple(value)
    if not locales or not all(isinstance(x, str) and x for x in locales):
        raise ValueError("the sandbox needs at least one locale, each a non-empty string")
    return locales


class Sandbox:
    """A stateful stand-in for Assessio's Recruitment API v1, served on 127.0.0.1.

    It authenticates organisations by provider-key, verifies `Signature`s, validates orders,
    keeps recruitments, simulates candidates completing and POSTs their results to each
    order's `resultUpdateUrl` with Assessio's retry behaviour. Everything it saw can be
    inspected from Python or over HTTP under `/_sandbox/` (a control plane that exists only
    in the emulator and needs no provider-key), and faults can be injected through `faults`.
    """

    def __init__(
        self,
        organisations: Iterable[Organisation],
        *,
        lenses: Iterable[SandboxLens] | None = None,
        locales: Iterable[str] | None = None,
        completion_delay: float | None = None,
        delivery: DeliverySchedule = _DEFAULT_SCHEDULE,
        provider_key_header: str = "provider-key",
        accept_bearer: bool = False,
        require_signed_get: bool = False,
        link_path: str = "/recruitment/v1/assessment-link-order",
        tolerance: int = 300,
        clock: Callable[[], float] = time.time,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
    ) -> None:
        if completion_delay is not None and (
            not math.isfinite(completion_delay) or completion_delay < 0
        ):
            raise ValueError("completion_delay must be None or a non-negative number of seconds")
        if not link_path.startswith("/") or link_path in (CONFIG_PATH, ORDER_PATH):
            raise ValueError(f"link_path must be its own absolute path, got {link_path!r}")
        if link_path == CONTROL_PREFIX or link_path.startswith(CONTROL_PREFIX + "/"):
            raise ValueError(f"link_path must not lie under {CONTROL_PREFIX}/")
        if not provider_key_header.strip():
            raise ValueError("provider_key_header must name a header")
        if tolerance < 0:
            raise ValueError("tolerance must not be negative")
        self._lenses = _lenses(lenses)
        self._lens_by_id = {lens.id: lens for lens in self._lenses}
        self._completion_delay = completion_delay
        self._clock = clock
        self._host = host
        self._port = port
        self._seed = seed
        self.faults = Faults()
        self._state = SandboxState(organisations, clock=clock)
        self._deliverer = Deliverer(self._state, self.faults, delivery, clock=clock, seed=seed)
        self.wsgi_app = SandboxApp(
            self._state,
            self.faults,
            lenses=self._lenses,
            locales=_locales(locales),
            settings=ApiSettings(
                provider_key_header=provider_key_header,
                accept_bearer=accept_bearer,
                require_signed_get=require_signed_get,
                link_path=link_path,
                tolerance=tolerance,
            ),
            hooks=AppHooks(
                base_url=self._base_url,
                order_accepted=self._order_accepted,
                complete=self._complete_entry,
            ),
            clock=clock,
        )
        self._server: BackgroundServer | None = None
        self._stopped = threading.Event()

    def __repr__(self) -> str:
        where = self._server.url if self._server is not None else "not started"
        return f"Sandbox({len(self._state.organisations)} organisation(s), {where})"

    # -- serving --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. `http://127.0.0.1:54321`, once started."""
        if self._server is None:
            raise RuntimeError("the sandbox is not serving; call start() first")
        return self._server.url

    @property
    def config(self) -> AssessioConfig:
        """What `GET /recruitment/v1/config` answers."""
        return self.wsgi_app.config

    @property
    def organisations(self) -> tuple[Organisation, ...]:
        return self._state.organisations

    def start(self) -> Sandbox:
        """Serve on `host:port` in a background thread; returns self (idempotent)."""
        if self._server is None:
            self._stopped.clear()
            self._server = BackgroundServer(self.wsgi_app, self._host, self._port).start()
            log.info("Assessio sandbox serving on %s", self._server.url)
        return self

    def serve_forever(self) -> None:
        """Serve until interrupted (Ctrl-C) or `stop()`, then clean up.

        After `start()` (so `url` could be shown first) this just blocks; otherwise it serves
        in the calling thread.
        """
        try:
            if self._server is not None:
                self._stopped.wait()
                return
            self._stopped.clear()
            self._server = BackgroundServer(self.wsgi_app, self._host, self._port)
            log.info("Assessio sandbox serving on %s", self._server.url)
            self._server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop serving and delivering (pending deliveries are dropped); state stays readable."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()
        self._deliverer.stop()
        self._stopped.set()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- inspection -----------------------------------------------------------------------

    def orders(self, provider_key: str | None = None) -> list[ReceivedOrder]:
        """Every accepted order, oldest first (an idempotent resend is not listed again)."""
        return self._state.orders(provider_key)

    def requests(self) -> list[ReceivedRequest]:
        """Every call to the Recruitment API, including rejected ones, oldest first."""
        return self._state.requests()

    def recruitments(self, provider_key: str | None = None) -> list[SandboxRecruitment]:
        """The recruitments of one organisation (or of all), in creation order."""
        return self._state.recruitments(provider_key)

    def deliveries(self) -> list[DeliveryAttempt]:
        """Every result delivery attempt, oldest first."""
        return self._state.deliveries()

    def complete(
        self,
        result_id: str,
        *,
        score: int | None = None,
        subscores: Mapping[str, int] | None = None,
        provider_key: str | None = None,
    ) -> Result:
        """The candidate of this order completes now; the result is delivered at once.

        Scores are simulated (deterministically from `seed` and `result_id`) unless given.
        Completing again sends an update. `provider_key` picks the organisation when several
        used the same resultId. Raises KeyError for an unknown resultId, LookupError when it
        is ambiguous, ValueError for scores outside 0..100.
        """
        entry = self._state.find(result_id, provider_key)
        return self._complete_entry(entry, score, subscores)

    def wait_for_deliveries(
        self, predicate_or_count: int | DeliveryPredicate, timeout: float = 10.0
    ) -> list[DeliveryAttempt]:
        """Block until at least `count` attempts are recorded, or `predicate(attempts)` holds.

        Returns every attempt recorded so far; raises TimeoutError after `timeout` seconds.
        """
        predicate: DeliveryPredicate
        if isinstance(predicate_or_count, int):
            count = predicate_or_count

            def at_least(attempts: list[DeliveryAttempt]) -> bool:
                return len(attempts) >= count

            predicate = at_least
            wanted = f"{count} delivery attempt(s)"
        else:
            predicate = predicate_or_count
            wanted = f"deliveries matching {getattr(predicate, '__name__', 'the predicate')}"
        found = self._state.wait_for_attempts(predicate, timeout)
        if found is not None:
            return found
        attempts = self._state.deliveries()
        seen = "\n".join(f"  {_describe(a)}" for a in attempts[-10:]) or "  (none)"
        raise TimeoutError(
            f"timed out after {timeout:g} s waiting for {wanted}; "
            f"{len(attempts)} attempt(s) recorded, {self._deliverer.pending()} job(s) pending; "
            f"latest:\n{seen}"
        )

    # -- hooks for the app and the deliverer ----------------------------------------------

    def _base_url(self, environ: WSGIEnvironment) -> str:
        server = self._server
        if server is not None:
            return server.url
        return wsgiref.util.application_uri(environ).rstrip("/")

    def _order_accepted(self, entry: OrderEntry) -> None:
        delay = self._completion_delay
        if delay is not None:
            self._deliverer.call_later(delay, lambda: self._auto_complete(entry))

    def _auto_complete(self, entry: OrderEntry) -> None:
        result = self._state.add_result(entry, lambda: self._simulate(entry), only_first=True)
        if result is not None:
            self._deliverer.deliver(entry.org, entry.order.result_update_url, result)

    def _complete_entry(
        self,
        entry: OrderEntry,
        score: int | None = None,
        subscores: Mapping[str, int] | None = None,
    ) -> Result:
        result = self._simulate(entry, score, subscores)
        self._state.add_result(entry, lambda: result)
        self._deliverer.deliver(entry.org, entry.order.result_update_url, result)
        return result

    def _simulate(
        self,
        entry: OrderEntry,
        score: int | None = None,
        subscores: Mapping[str, int] | None = None,
    ) -> Result:
        lens = self._lens_by_id.get(entry.order.lens_id) or SandboxLens(
            entry.order.lens_id, entry.order.lens_id
        )
        return simulate_result(
            lens,
            entry.order.result_id,
            seed=self._seed,
            score=score,
            subscores=subscores,
            recruitment_url=entry.recruitment.url,
            assessment_report_url=entry.report_url,
        )


def _describe(attempt: DeliveryAttempt) -> str:
    got = attempt.error or f"HTTP {attempt.status}"
    if attempt.error and attempt.status is not None:
        got = f"{attempt.error} (HTTP {attempt.status})"
    dup = " duplicate" if attempt.duplicate else ""
    return (
        f"resultId {attempt.result_id!r} attempt {attempt.attempt}{dup} -> {attempt.url}: "
        f"{got}, {attempt.outcome}"
    )
