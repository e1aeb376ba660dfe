"""`RecordingContext`: a `ConnectorContext` for testing a connector without a daemon."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from assessio_connect.contract.codec import dumps
from assessio_connect.contract.errors import PermanentError
from assessio_connect.contract.models import (
    AssessioConfig,
    AssessmentOrder,
    CandidateDetails,
    Recruitment,
    Result,
)
from assessio_connect.contract.transport import Transport
from assessio_connect.runtime.connector import Invitation, Pushback, recruitment_id
from assessio_connect.runtime.connector_state import MemoryState
from assessio_connect.runtime.inbound import InboundEvent, checked_event
from assessio_connect.runtime.store import (
    InboundState,
    OrderRecord,
    OrderState,
    ResultRecord,
    payload_digest,
)
from assessio_connect.sandbox import DEFAULT_LENSES, DEFAULT_LOCALES

if TYPE_CHECKING:
    from assessio_connect.runtime.connector import Connector

__all__ = ["RecordingContext", "make_pushback"]

DEFAULT_RESULT_BASE = "http://127.0.0.1:9/results"
"""Where the recorded orders say results go (nothing listens there: no result is posted)."""


class RecordingContext:
    """Records what a connector hands the daemon: invitations (one order per application),
    events it queues with `enqueue` (one per key; `run_events` hands them to its
    `handle_event` as the daemon's inbound worker would), log lines; answers
    `assessio_config()` with the emulator's lenses and locales, and `latest_result` with the
    versions given to `record_result`.

    Set `invite_error` (or `enqueue_error`) to make `invite` (or `enqueue`) raise it (e.g.
    `RetryableError` while Assessio is down). Thread-safe: a push connector's app runs on
    the server's threads."""

    def __init__(
        self,
        tenant: str = "conformance",
        *,
        transport: Transport | None = None,
        assessio: AssessioConfig | None = None,
        clock: Callable[[], float] = time.time,
        result_base_url: str = DEFAULT_RESULT_BASE,
    ) -> None:
        self.tenant = tenant
        self._own_transport = transport is None
        self.transport = transport or Transport(connect_timeout=2.0, read_timeout=10.0)
        self._assessio = assessio or AssessioConfig(
            [lens.lens for lens in DEFAULT_LENSES], DEFAULT_LOCALES
        )
        self._clock = clock
        self._result_base_url = result_base_url.rstrip("/")
        self._lock = threading.Lock()
        self.invited: list[Invitation] = []
        """Every invitation passed to `invite`, repeats included, oldest first."""
        self.orders: dict[str, OrderRecord] = {}
        """application_id -> the order recorded for it."""
        self.logs: list[tuple[str, dict[str, Any]]] = []
        self.invite_error: Exception | None = None
        self.enqueue_error: Exception | None = None
        self.queued: dict[str, InboundEvent] = {}
        """key -> every event accepted by `enqueue`, oldest first, as it is handed next."""
        self.queue_states: dict[str, InboundState] = {}
        """key -> where the event stands: pending, done or dead (`run_events` moves it)."""
        self.queue_errors: dict[str, str] = {}
        """key -> what the last failed `handle_event` of the event raised."""
        self.enqueued_keys: list[str] = []
        """The key of every `enqueue` call, repeats included, oldest first."""
        self.results: dict[str, list[ResultRecord]] = {}
        """result_id -> the versions given to `record_result`."""
        self.state = MemoryState(owner=f"{tenant}-recording", clock=clock)
        """The connector's key-value space, in memory (`state.entries` to inspect it)."""

    def __repr__(self) -> str:
        return f"RecordingContext({self.tenant!r}, {len(self.orders)} order(s))"

    def now(self) -> float:
        return self._clock()

    def log(self, event: str, **fields: Any) -> None:
        with self._lock:
            self.logs.append((event, dict(fields)))

    def events(self, name: str) -> list[dict[str, Any]]:
        """The fields of every log line named `name`."""
        with self._lock:
            return [fields for event, fields in self.logs if event == name]

    def invite(self, invitation: Invitation) -> OrderRecord:
        with self._lock:
            if self.invite_error is not None:
                raise self.invite_error
            self.invited.append(invitation)
            known = self.orders.get(invitation.application_id)
            if known is None:
                known = self._order(invitation)
                self.orders[invitation.application_id] = known
            return known

    def enqueue(
        self, key: str, payload: bytes, *, headers: Mapping[str, str] | None = None
    ) -> bool:
        key, payload, kept = checked_event(key, payload, headers)
        with self._lock:
            if self.enqueue_error is not None:
                raise self.enqueue_error
            self.enqueued_keys.append(key)
            if key in self.queued:
                return False
            self.queued[key] = InboundEvent(key, payload, kept, 1, self._clock())
            self.queue_states[key] = InboundState.PENDING
            return True

    def events_in(self, state: InboundState) -> list[InboundEvent]:
        """The queued events that stand in `state`, oldest first."""
        with self._lock:
            return [event for key, event in self.queued.items() if self.queue_states[key] is state]

    def run_events(
        self, connector: Connector, *, rounds: int = 1
    ) -> list[tuple[InboundEvent, Exception | None]]:
        """Hand every pending event to `connector.handle_event`, up to `rounds` times each, as
        the daemon's inbound worker would but without waiting for its backoff: a return marks
        the event done, a `PermanentError` dead, any other exception keeps it pending with
        one more attempt. Returns each call's event and what it raised (None: nothing)."""
        calls: list[tuple[InboundEvent, Exception | None]] = []
        for _ in range(rounds):
            pending = self.events_in(InboundState.PENDING)
            if not pending:
                break
            for event in pending:
                raised: Exception | None = None
                try:
                    connector.handle_event(event)
                except Exception as exc:  # recorded: the test asserts on it
                    raised = exc
                calls.append((event, raised))
                with self._lock:
                    if raised is None:
                        self.queue_states[event.key] = InboundState.DONE
                        continue
                    self.queue_errors[event.key] = f"{type(raised).__name__}: {raised}"
                    if isinstance(raised, PermanentError):
                        self.queue_states[event.key] = InboundState.DEAD
                    else:
                        self.queued[event.key] = InboundEvent(
                            event.key,
                            event.payload,
                            event.headers,
                            event.attempt + 1,
                            event.received_at,
                        )
        return calls

    def find_order(self, application_id: str) -> OrderRecord | None:
        with self._lock:
            return self.orders.get(application_id)

    def record_result(self, pushback: Pushback) -> ResultRecord:
        """Keep `pushback`'s result as its version, so that `latest_result` answers as the
        daemon's store would once that version was received."""
        payload = dumps(pushback.result)
        record = ResultRecord(
            tenant=self.tenant,
            result_id=pushback.result.result_id,
            version=pushback.version,
            payload=payload,
            digest=payload_digest(payload),
            received_at=self._clock(),
            orphan=False,
        )
        with self._lock:
            versions = self.results.setdefault(record.result_id, [])
            versions[:] = [v for v in versions if v.version != record.version] + [record]
            versions.sort(key=lambda version: version.version)
        return record

    def latest_result(self, result_id: str) -> ResultRecord | None:
        with self._lock:
            versions = self.results.get(result_id)
            return versions[-1] if versions else None

    def assessio_config(self) -> AssessioConfig:
        return self._assessio

    def close(self) -> None:
        """Close the transport if this context made it."""
        if self._own_transport:
            self.transport.close()

    def _order(self, invitation: Invitation) -> OrderRecord:
        lenses = self._assessio.available_lenses
        lens = self._assessio.find_lens(invitation.lens or "") or lenses[0]
        locale = invitation.locale or self._assessio.available_locales[0]
        result_id = str(uuid.uuid4())
        job = invitation.job
        order = AssessmentOrder(
            recruitment=Recruitment(
                id=recruitment_id(self.tenant, job.id), title=job.title, description=job.description
            ),
            result_update_url=f"{self._result_base_url}/{self.tenant}/{result_id}",
            result_id=result_id,
            lens_id=lens.id,
            locale=locale,
            candidate_details=CandidateDetails(email=invitation.candidate.email),
        )
        now = self._clock()
        return OrderRecord(
            tenant=self.tenant,
            application_id=invitation.application_id,
            result_id=result_id,
            job_id=job.id,
            candidate_id=invitation.candidate.id,
            order=order,
            metadata=invitation.metadata,
            state=OrderState.PENDING,
            reference=None,
            attempts=0,
            next_attempt_at=now,
            last_error=None,
            created_at=now,
            updated_at=now,
        )


def make_pushback(
    order: OrderRecord,
    *,
    score: int | None = 71,
    subscores: dict[str, int] | None = None,
    version: int = 1,
    attempt: int = 1,
) -> Pushback:
    """A `Pushback` of a plausible result for `order`, as the delivery worker would make it."""
    result = Result(
        result_id=order.result_id,
        score=score,
        subscores={"Driving Results": 80, "Collaborating": 62} if subscores is None else subscores,
        recruitment_url=f"https://assessio.example/recruitments/{order.order.recruitment.id}",
        assessment_report_url=f"https://assessio.example/reports/{order.result_id}",
    )
    return Pushback(order=order, result=result, version=version, attempt=attempt)
