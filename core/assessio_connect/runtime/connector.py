"""What a connector plugin implements, and what the daemon gives it.

A connector adapts one kind of ATS. It is a class with a `kind`, an attrs `Config` (structured
from the tenant's `ats` table) and some of these abilities:

- push style: `wsgi_app()` answers the ATS's calls, mounted at `/connectors/{tenant}/`;
- pull style: `poll(cursor)` reads new invitations from a persisted cursor;
- `map_order(invitation, choice)` turns an ATS job + candidate into an Assessio order;
- `push_result(pushback)` writes a result back into the ATS;
- `handle_event(event)` handles an event a push route accepted with `context.enqueue(...)`;
- `check()` tests the connection.

Both styles hand invitations to `context.invite(...)`, which records the order durably before
sending it. A push connector that must call its ATS back to make an invitation accepts the
request with `context.enqueue(...)` and answers at once; the daemon hands the event to
`handle_event` later, with retries. Failures talking to the ATS raise `RetryableError` or
`PermanentError`.
"""

from __future__ import annotations

import typing
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Generic, Protocol

import attrs
from typing_extensions import TypeVar

from assessio_connect.contract.errors import PermanentError
from assessio_connect.contract.models import AssessioConfig, CandidateDetails, Recruitment, Result
from assessio_connect.contract.transport import Transport

from .connector_state import ConnectorState
from .inbound import InboundEvent
from .store import OrderRecord, ResultRecord

__all__ = [
    "AssessmentChoice",
    "AtsCandidate",
    "AtsJob",
    "ConfigT",
    "Connector",
    "ConnectorContext",
    "ConnectorState",
    "InboundEvent",
    "Invitation",
    "OrderDraft",
    "PollPage",
    "Pushback",
    "WSGIApplication",
    "recruitment_id",
]

WSGIApplication = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

ConfigT = TypeVar("ConfigT", default=Any)
"""A connector's `Config` class: `class MyConnector(Connector[MyConfig])` types `self.config`."""

RECRUITMENT_NAMESPACE = uuid.UUID("5b0f6f1e-7a53-4c3e-9f0e-3d1f6a1c2b7e")


def _to_tuple(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _to_dict(value: Mapping[str, str]) -> dict[str, str]:
    return dict(value)


def _to_invitations(value: Iterable[Invitation]) -> tuple[Invitation, ...]:
    return tuple(value)


def recruitment_id(tenant: str, job_id: str) -> str:
    """A stable Assessio recruitment id for one ATS job of one tenant (a name-based UUID)."""
    return str(uuid.uuid5(RECRUITMENT_NAMESPACE, f"{tenant}\x00{job_id}"))


@attrs.frozen
class AtsJob:
    """A job (requisition) as the ATS describes it."""

    id: str
    title: str
    description: str = ""
    department: str | None = None
    hiring_team: tuple[str, ...] = attrs.field(default=(), converter=_to_tuple)
    """Email addresses of the job's hiring team (candidates for recruitment collaborators)."""


@attrs.frozen
class AtsCandidate:
    """A candidate as the ATS describes them."""

    id: str
    email: str
    name: str = attrs.field(default="", repr=False)


@attrs.frozen
class Invitation:
    """An ATS asks for an assessment: this candidate, in this job."""

    application_id: str
    """The ATS's reference for the candidate in the job; an order is made once per value."""
    job: AtsJob
    candidate: AtsCandidate
    lens: str | None = None
    """A lens id or name the ATS asked for; None lets the tenant's rules decide."""
    locale: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict, converter=_to_dict)
    """ATS references the connector needs later to push the result back."""


@attrs.frozen
class AssessmentChoice:
    """Which lens (id or name), locale and collaborators an invitation gets."""

    lens: str
    locale: str
    collaborators: tuple[str, ...] = attrs.field(default=(), converter=_to_tuple)


@attrs.frozen
class OrderDraft:
    """An order before the daemon adds its `resultId` and `resultUpdateUrl`."""

    recruitment: Recruitment
    candidate: CandidateDetails
    lens: str
    """Lens id or name; a name is resolved against the organisation's config."""
    locale: str
    collaborators: tuple[str, ...] = attrs.field(default=(), converter=_to_tuple)


@attrs.frozen
class PollPage:
    """What one `poll` call found, and where the next one starts."""

    invitations: tuple[Invitation, ...] = attrs.field(converter=_to_invitations)
    cursor: str | None
    more: bool = False
    """True when the ATS has more right away: the poller calls again without waiting."""


@attrs.frozen
class Pushback:
    """A result version to write back into the ATS, with the order it belongs to."""

    order: OrderRecord
    result: Result
    version: int
    attempt: int
    """1 for the first attempt of this delivery."""


class ConnectorContext(Protocol):
    """What the daemon offers a connector instance for one tenant."""

    tenant: str
    transport: Transport
    """The daemon's shared HTTP connection pool (timeouts, size cap, retries on request)."""

    @property
    def state(self) -> ConnectorState:
        """This connector's durable key-value space for this tenant, shared by every replica:
        write-back receipts, rotated refresh tokens, leases (see `ConnectorState`)."""

    def now(self) -> float:
        """The daemon's clock (seconds since the epoch); tests inject their own."""

    def log(self, event: str, **fields: Any) -> None:
        """One structured log line; never pass a secret."""

    def invite(self, invitation: Invitation) -> OrderRecord:
        """Record an order for the invitation durably, then send it to Assessio.

        Idempotent on `application_id`: a repeat returns the stored order. A failure to reach
        Assessio does not raise: the order stays pending and is retried."""

    def enqueue(
        self, key: str, payload: bytes, *, headers: Mapping[str, str] | None = None
    ) -> bool:
        """Accept an ATS event to handle later with the connector's `handle_event`: stored
        durably (with the `headers` the handler needs) when this returns, so the route can
        answer at once. `key` is the ATS's id of the event; a repeat is stored once. Returns
        whether the event was new. Raises `PayloadError` for a key that cannot identify an
        event (empty, too long, control characters)."""

    def find_order(self, application_id: str) -> OrderRecord | None:
        """The order made for an ATS application, if any."""

    def latest_result(self, result_id: str) -> ResultRecord | None:
        """The newest stored version of a result."""

    def assessio_config(self) -> AssessioConfig:
        """The organisation's lenses and locales (fetched once, then cached)."""


class Connector(Generic[ConfigT]):
    """Base class of connectors; override what your ATS supports.

    Subclass `Connector[MyConfig]` to have `self.config` typed as `MyConfig` (and `Config`
    set to it unless the class sets its own); a bare `Connector` subclass still works."""

    kind: ClassVar[str] = ""
    """Value of `ats.kind` in a tenant's configuration that selects this connector."""
    Config: ClassVar[type[Any]]
    """attrs class structured from the tenant's `ats` table (minus `kind`)."""
    poll_interval: ClassVar[float] = 30.0
    """Seconds between polls when the last page said `more=False` (pull style only)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "Config" in vars(cls):
            return
        for base in getattr(cls, "__orig_bases__", ()):
            if typing.get_origin(base) is Connector:
                (config_class,) = typing.get_args(base)
                if attrs.has(config_class):
                    cls.Config = config_class

    def __init__(self, config: ConfigT, context: ConnectorContext) -> None:
        self.config: ConfigT = config
        self.context = context

    @property
    def is_push(self) -> bool:
        """Whether the connector serves HTTP routes for its ATS."""
        return type(self).wsgi_app is not Connector.wsgi_app

    @property
    def is_pull(self) -> bool:
        """Whether the daemon should run a poller for it."""
        return type(self).poll is not Connector.poll

    def wsgi_app(self) -> WSGIApplication:
        """The WSGI app the ATS calls, mounted at `/connectors/{tenant}/` (push style)."""
        raise NotImplementedError(f"{self.kind} connector does not receive ATS calls")

    def poll(self, cursor: str | None) -> PollPage:
        """Read invitations after `cursor` (None: from the start) (pull style)."""
        raise NotImplementedError(f"{self.kind} connector does not poll")

    def map_order(self, invitation: Invitation, choice: AssessmentChoice) -> OrderDraft:
        """ATS job + candidate → Assessio order; the default fits most ATSs."""
        job = invitation.job
        return OrderDraft(
            recruitment=Recruitment(
                id=recruitment_id(self.context.tenant, job.id),
                title=job.title,
                description=job.description,
            ),
            candidate=CandidateDetails(email=invitation.candidate.email),
            lens=choice.lens,
            locale=choice.locale,
            collaborators=choice.collaborators,
        )

    def push_result(self, pushback: Pushback) -> None:
        """Write a result into the ATS; raise `RetryableError` or `PermanentError` on failure.

        Must be idempotent: after a crash the same version may be pushed again."""
        raise NotImplementedError(f"{self.kind} connector cannot push results back")

    def handle_event(self, event: InboundEvent) -> None:
        """Handle an event a push route accepted with `context.enqueue` (e.g. read the
        candidate from the ATS and `context.invite` them). Raise `RetryableError` (with
        `retry_after` when the ATS said) to be called again later, `PermanentError` to
        dead-letter the event. Must be idempotent: after a crash an event may come again."""
        raise PermanentError(
            f"the {self.kind} connector queued event {event.key!r} but does not implement "
            "handle_event"
        )

    def check(self) -> str:
        """Test the ATS connection and say what was checked; raise `ConnectorError` if broken."""
        return "no connection check for this connector"

    def close(self) -> None:
        """Release resources when the daemon stops."""
