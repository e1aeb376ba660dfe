"""`RecordingContext`: a `ConnectorContext` for testing a connector without a daemon."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from assessio_connect.connector import Invitation, Pushback, recruitment_id
from assessio_connect.connector_state import MemoryState
from assessio_connect.models import (
    AssessioConfig,
    AssessmentOrder,
    CandidateDetails,
    Recruitment,
    Result,
)
from assessio_connect.sandbox import DEFAULT_LENSES, DEFAULT_LOCALES
from assessio_connect.store import OrderRecord, OrderState, ResultRecord
from assessio_connect.transport import Transport

__all__ = ["RecordingContext", "make_pushback"]

DEFAULT_RESULT_BASE = "http://127.0.0.1:9/results"
"""Where the recorded orders say results go (nothing listens there: no result is posted)."""


class RecordingContext:
    """Records what a connector hands the daemon: invitations (one order per application),
    log lines; answers `assessio_config()` with the emulator's lenses and locales.

    Set `invite_error` to make `invite` raise it (e.g. `RetryableError` while Assessio is down).
    Thread-safe: a push connector's app runs on the server's threads."""

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

    def find_order(self, application_id: str) -> OrderRecord | None:
        with self._lock:
            return self.orders.get(application_id)

    def latest_result(self, result_id: str) -> ResultRecord | None:
        return None

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
