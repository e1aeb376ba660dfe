"""One tenant at run time: its Assessio client, webhook auth and connector, and its orders.

`TenantRuntime` is the `ConnectorContext` a connector instance receives, with the connector's
durable state in the store. Orders are recorded before they are sent; the order sender sends
them, so a crash between the two only delays one.
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from assessio_connect.contract.errors import (
    APIError,
    AuthenticationError,
    ConfigError,
    ConflictError,
    RateLimitedError,
    RetryableError,
    ServerError,
    TransportError,
)
from assessio_connect.contract.models import AssessioConfig, AssessmentOrder
from assessio_connect.contract.transport import NO_RETRIES

from ._logging import Scrubber
from .connector_state import ConnectorState, StoreState
from .inbound import checked_event
from .store import NewOrder, OrderRecord, OrderState, ResultRecord, Store

if TYPE_CHECKING:
    from assessio_connect.contract.transport import Transport
    from assessio_connect.contract.webhook import WebhookAuth

    from ._metrics import DaemonMetrics
    from ._outbox import Backoff
    from .config import TenantConfig
    from .connector import Connector, Invitation
    from .plugins import Plugins

__all__ = ["LINK_UNKNOWN_NOTE", "TenantRuntime", "new_owner_id"]

CONFIG_CACHE_SECONDS = 600.0
ERROR_LIMIT = 500
LINK_UNKNOWN_NOTE = (
    "Assessio answered 409 to a resent link order: the candidate is in the recruitment, but "
    "the assessment link of the first send was never recorded; find it in the Assessio "
    "Platform and give it to the candidate (docs/troubleshooting.md, link_unknown)"
)


def new_owner_id() -> str:
    """Who this process is when it takes leases: `host:pid:random`, unique per start."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class TenantRuntime:
    """A configured tenant inside the daemon; also the context its connector works through."""

    def __init__(
        self,
        config: TenantConfig,
        *,
        connector_cls: type[Connector],
        store: Store,
        plugins: Plugins,
        transport: Transport,
        base_url: str,
        clock: Callable[[], float],
        log: Callable[..., None],
        wake_orders: Callable[[], None],
        backoff: Backoff,
        owner: str | None = None,
        scrub: Callable[[str], str] | None = None,
        metrics: DaemonMetrics | None = None,
        wake_events: Callable[[], None] | None = None,
    ) -> None:
        self.tenant = config.name
        self.config = config
        self.transport = transport
        self.client = config.client(transport)
        self.client.retry = NO_RETRIES  # the order sender retries with its own backoff
        self.auth: WebhookAuth = config.webhook.auth()
        self._store = store
        self._plugins = plugins
        self._base_url = base_url.rstrip("/")
        self._clock = clock
        self._log = log
        self._wake_orders = wake_orders
        self._wake_events = wake_events
        self._backoff = backoff
        self._rng = random.Random()  # noqa: S311 - jitter needs no cryptographic randomness
        self._config_lock = threading.Lock()
        self._config_cache: tuple[float, AssessioConfig] | None = None
        # Only Assessio's answers are stored here, and Assessio only knows these two secrets.
        credentials = (config.provider_key, config.integrator_secret)
        self._scrub = scrub or Scrubber(c.reveal() for c in credentials if c is not None)
        self._metrics = metrics
        self.state: ConnectorState = StoreState(
            store, config.name, config.ats_kind, owner=owner or new_owner_id(), clock=clock
        )
        """The connector's durable key-value space for this tenant (namespace: its kind)."""
        self.connector: Connector = connector_cls(config.ats, self)

    def __repr__(self) -> str:
        return f"TenantRuntime({self.tenant!r}, ats={self.config.ats_kind!r})"

    # ConnectorContext

    def now(self) -> float:
        return self._clock()

    def log(self, event: str, **fields: Any) -> None:
        self._log(event, tenant=self.tenant, **fields)

    def result_update_url(self, result_id: str) -> str:
        """Where Assessio posts this order's result: routed and correlated by the path."""
        return f"{self._base_url}/results/{self.tenant}/{result_id}"

    def enqueue(
        self, key: str, payload: bytes, *, headers: Mapping[str, str] | None = None
    ) -> bool:
        """Store an ATS event in the inbound queue (committed before returning), once per
        `key`, and wake the inbound worker; True when it was new."""
        key, payload, kept = checked_event(key, payload, headers)
        record, created = self._store.enqueue_event(
            self.tenant, key, payload, kept, now=self._clock()
        )
        if not created:
            self.log("event.duplicate", key=key, event_id=record.id, state=record.state.value)
            return False
        self.log("event.accepted", key=key, event_id=record.id, bytes=len(payload))
        if self._wake_events is not None:
            self._wake_events()
        return True

    def find_order(self, application_id: str) -> OrderRecord | None:
        return self._store.find_order(self.tenant, application_id)

    def latest_result(self, result_id: str) -> ResultRecord | None:
        return self._store.get_result(self.tenant, result_id)

    def assessio_config(self) -> AssessioConfig:
        """The organisation's lenses and locales, cached for ten minutes."""
        with self._config_lock:
            cached = self._config_cache
            if cached is not None and self._clock() - cached[0] < CONFIG_CACHE_SECONDS:
                return cached[1]
            with self._assessio_call("config"):
                fetched = self.client.get_config()
            self._config_cache = (self._clock(), fetched)
            return fetched

    def _assessio_call(self, operation: str) -> contextlib.AbstractContextManager[None]:
        """Times a call to Assessio for the metrics (when the daemon keeps any)."""
        if self._metrics is None:
            return contextlib.nullcontext()
        return self._metrics.assessio_call(self.tenant, operation)

    def _error_text(self, exc: BaseException) -> str:
        """The error as stored: scrubbed of anything secret an upstream echoed, then bounded
        (scrubbing first, so a cut cannot leave half a secret unrecognised)."""
        return self._scrub(f"{type(exc).__name__}: {exc}")[:ERROR_LIMIT]

    def invite(self, invitation: Invitation) -> OrderRecord:
        """Record the order for `invitation` (once per application) and wake the order sender.

        Raises `RetryableError` when Assessio cannot be asked for its lenses, and `ConfigError`
        when no lens or locale fits: the ATS should try again later, or the operator must act.
        """
        known = self._store.find_order(self.tenant, invitation.application_id)
        if known is not None:
            return known
        order = self._build_order(invitation)
        record, created = self._store.add_order(
            NewOrder(
                tenant=self.tenant,
                application_id=invitation.application_id,
                job_id=invitation.job.id,
                candidate_id=invitation.candidate.id,
                order=order,
                metadata=invitation.metadata,
            ),
            now=self._clock(),
        )
        if created:
            self.log(
                "order.recorded",
                application_id=invitation.application_id,
                result_id=record.result_id,
                lens_id=order.lens_id,
            )
            self._wake_orders()
        return record

    def _build_order(self, invitation: Invitation) -> AssessmentOrder:
        choice = self.config.assessment.choose(invitation)
        override = self._plugins.hook.assessio_choose_assessment(
            tenant=self.tenant, invitation=invitation, choice=choice
        )
        draft = self.connector.map_order(invitation, override or choice)
        try:
            config = self.assessio_config()
        except (TransportError, ServerError, RateLimitedError) as exc:
            raise RetryableError(f"cannot read the lenses from Assessio: {exc}") from None
        lens = config.find_lens(draft.lens)
        if lens is None:
            names = ", ".join(sorted(item.name for item in config.available_lenses))
            raise ConfigError(
                [f"lens {draft.lens!r} is not available to tenant {self.tenant} (has: {names})"],
                source=f"tenant {self.tenant}",
            )
        if draft.locale not in config.available_locales:
            raise ConfigError(
                [f"locale {draft.locale!r} is not available to tenant {self.tenant}"],
                source=f"tenant {self.tenant}",
            )
        result_id = str(uuid.uuid4())
        return AssessmentOrder(
            recruitment=draft.recruitment,
            result_update_url=self.result_update_url(result_id),
            result_id=result_id,
            lens_id=lens.id,
            locale=draft.locale,
            candidate_details=draft.candidate,
            additional_recruitment_collaborators_emails=draft.collaborators,
        )

    def send(self, record: OrderRecord) -> OrderState:
        """Send a claimed order to Assessio and record the outcome; returns the new state."""
        now = self._clock()
        try:
            if self.config.order_endpoint == "link":
                with self._assessio_call("link_order"):
                    link = self.client.create_order_link(record.order)
                reference: str | None = link.assessment_package_link
            else:
                with self._assessio_call("order"):
                    reference = self.client.create_order(record.order) or None
        except ConflictError:
            # The candidate is already in the recruitment: a resend after a crash.
            if self.config.order_endpoint == "link" and record.reference is None:
                return self._link_unknown(record, now)
            self._store.order_sent(self.tenant, record.result_id, None, now=now)
            self.log("order.sent", result_id=record.result_id, already_ordered=True)
            self._announce_sent(record.result_id)
            return OrderState.SENT
        except (TransportError, ServerError, RateLimitedError, AuthenticationError) as exc:
            # Credentials can be fixed by the operator; keep trying with backoff meanwhile.
            retry_after = exc.retry_after if isinstance(exc, RateLimitedError) else None
            due = self._backoff.next_attempt(
                record.created_at, record.attempts, now, self._rng, retry_after
            )
            if due is None:
                self._store.order_failed(
                    self.tenant, record.result_id, self._error_text(exc), now=now
                )
                self.log("order.failed", level="error", result_id=record.result_id, error=str(exc))
                return OrderState.FAILED
            self._store.order_retry(
                self.tenant, record.result_id, self._error_text(exc), due=due, now=now
            )
            self.log(
                "order.retry",
                level="warning",
                result_id=record.result_id,
                attempts=record.attempts,
                error=str(exc),
                retry_in=round(due - now, 3),
            )
            return OrderState.PENDING
        except APIError as exc:
            self._store.order_failed(self.tenant, record.result_id, self._error_text(exc), now=now)
            self.log("order.failed", level="error", result_id=record.result_id, error=str(exc))
            return OrderState.FAILED
        self._store.order_sent(self.tenant, record.result_id, reference, now=now)
        self.log("order.sent", result_id=record.result_id, application_id=record.application_id)
        self._announce_sent(record.result_id)
        return OrderState.SENT

    def _link_unknown(self, record: OrderRecord, now: float) -> OrderState:
        """A link order Assessio already has, whose link we never recorded: it must not pass
        for sent, so record it as `link_unknown`, say so loudly and tell the observers (unless
        another sender recorded the link meanwhile: then it is sent)."""
        self._store.order_link_unknown(self.tenant, record.result_id, LINK_UNKNOWN_NOTE, now=now)
        stored = self._store.get_order(self.tenant, record.result_id)
        if stored is not None and stored.state is OrderState.SENT:
            self.log("order.sent", result_id=record.result_id, already_ordered=True)
            self._announce(stored)
            return OrderState.SENT
        self.log(
            "order.link_unknown",
            level="warning",
            result_id=record.result_id,
            application_id=record.application_id,
            message=LINK_UNKNOWN_NOTE,
        )
        if stored is not None:
            self._announce(stored)
        return OrderState.LINK_UNKNOWN

    def _announce_sent(self, result_id: str) -> None:
        sent = self._store.get_order(self.tenant, result_id)
        if sent is not None:
            self._announce(sent)

    def _announce(self, sent: OrderRecord) -> None:
        try:
            self._plugins.hook.assessio_order_sent(tenant=self.tenant, order=sent)
        except Exception as exc:  # an observer's bug must not hold up the other orders
            self.log("hook.error", level="error", hook="assessio_order_sent", error=repr(exc))
