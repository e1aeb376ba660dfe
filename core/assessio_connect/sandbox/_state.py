"""The emulator's memory: organisations, orders, recruitments, requests and delivery attempts."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Literal

import attrs

from assessio_connect.contract.models import AssessmentOrder, Result

__all__ = [
    "DeliveryAttempt",
    "Endpoint",
    "OrderConflict",
    "OrderEntry",
    "Organisation",
    "Outcome",
    "ReceivedOrder",
    "ReceivedRequest",
    "RecruitmentEntry",
    "SandboxRecruitment",
    "SandboxState",
    "mask_key",
]

Endpoint = Literal["order", "link"]
Outcome = Literal["delivered", "failed", "abandoned"]


def _non_empty(_inst: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{attribute.name} must be a non-empty string")


def _optional_secret(_inst: object, attribute: attrs.Attribute[str | None], value: object) -> None:
    # The message names the field only: a secret's value never appears in an error.
    if value is not None and (not isinstance(value, str) or not value):
        raise ValueError(f"{attribute.name} must be None or a non-empty string")


def mask_key(key: str) -> str:
    """A provider-key shortened so it identifies an organisation without disclosing the key."""
    return f"{key[:4]}…" if len(key) >= 12 else "…"


@attrs.frozen
class Organisation:
    """One Assessio organisation (one tenant) and the credentials the emulator expects or uses."""

    provider_key: str = attrs.field(validator=_non_empty)
    integrator_secret: str | None = attrs.field(
        default=None, repr=False, validator=_optional_secret
    )
    """HMAC secret that requests to Assessio are signed with."""
    require_signature: bool = True
    """Assessio can switch signing off in its sandbox; without a secret this has no effect."""
    result_api_key: str | None = attrs.field(default=None, repr=False, validator=_optional_secret)
    """Option A: sent as header `integrator-api-key` on result POSTs."""
    result_signing_secret: str | None = attrs.field(
        default=None, repr=False, validator=_optional_secret
    )
    """Option B: result POSTs carry a `Signature` over their exact bytes."""

    @property
    def label(self) -> str:
        """How the emulator's inspection API names this organisation (the key, masked)."""
        return mask_key(self.provider_key)


@attrs.frozen
class ReceivedOrder:
    """An order the emulator accepted (an idempotent resend is not a second order)."""

    provider_key: str
    endpoint: Endpoint
    order: AssessmentOrder
    reference: str
    """What `assessment-order` answered (a uuid string)."""
    received_at: float
    assessment_link: str
    """Where the candidate takes the assessment (the emulator's take page)."""
    results: tuple[Result, ...] = ()
    """Results produced so far (a second completion is an update)."""


@attrs.frozen
class ReceivedRequest:
    """One call to the emulated Recruitment API, accepted or not."""

    method: str
    path: str
    status: int
    reason: str | None
    """Why the request got this status when it was not plainly accepted, else None."""
    at: float
    provider_key: str | None = None
    """The organisation the request authenticated as, if it got that far."""


@attrs.frozen
class SandboxRecruitment:
    """A recruitment the emulator created, keyed per organisation by (id, lens_id)."""

    provider_key: str
    id: str
    lens_id: str
    locale: str
    title: str
    description: str
    candidates: tuple[str, ...]
    collaborators: tuple[str, ...]
    url: str
    created_at: float


@attrs.frozen
class DeliveryAttempt:
    """One POST of a result to a `resultUpdateUrl` (or an injected failure in its place)."""

    result_id: str
    provider_key: str
    url: str
    attempt: int
    """1 for the first try of this payload, then 2, 3, …; a duplicate repeats its number."""
    status: int | None
    """The receiver's HTTP status, or None when no response arrived."""
    error: str | None
    """Why no response arrived (connection error, timeout, "injected failure"), else None."""
    outcome: Outcome
    """delivered (2xx); failed (a retry is scheduled); abandoned (failed, no retry left)."""
    at: float
    payload: bytes
    """The exact bytes sent."""
    duplicate: bool = False
    """True for the second POST that `Faults.duplicate_deliveries` adds."""
    retry_in: float | None = None
    """Seconds until the next attempt when outcome is failed."""
    response_excerpt: str = ""
    """The start of the receiver's answer, to help debug a refusal."""

    @property
    def delivered(self) -> bool:
        """Whether the receiver accepted this POST (answered 2xx)."""
        return self.outcome == "delivered"


class OrderConflict(Exception):
    """An order clashes with an earlier one (HTTP 409); the message says how."""


@attrs.define(eq=False)
class RecruitmentEntry:
    """The mutable record behind a `SandboxRecruitment`."""

    uid: str
    provider_key: str
    id: str
    lens_id: str
    locale: str
    title: str
    description: str
    base_url: str
    created_at: float
    candidates: list[str] = attrs.field(factory=list)
    collaborators: list[str] = attrs.field(factory=list)

    @property
    def url(self) -> str:
        return f"{self.base_url}/_sandbox/recruitments/{self.uid}"

    def has_candidate(self, email: str) -> bool:
        folded = email.casefold()
        return any(known.casefold() == folded for known in self.candidates)

    def snapshot(self) -> SandboxRecruitment:
        return SandboxRecruitment(
            provider_key=self.provider_key,
            id=self.id,
            lens_id=self.lens_id,
            locale=self.locale,
            title=self.title,
            description=self.description,
            candidates=tuple(self.candidates),
            collaborators=tuple(self.collaborators),
            url=self.url,
            created_at=self.created_at,
        )


@attrs.define(eq=False)
class OrderEntry:
    """The mutable record behind a `ReceivedOrder`."""

    org: Organisation
    endpoint: Endpoint
    order: AssessmentOrder
    reference: str
    token: str
    received_at: float
    base_url: str
    recruitment: RecruitmentEntry
    results: list[Result] = attrs.field(factory=list)

    @property
    def assessment_link(self) -> str:
        return f"{self.base_url}/_sandbox/take/{self.token}"

    @property
    def report_url(self) -> str:
        return f"{self.base_url}/_sandbox/reports/{self.reference}"

    def snapshot(self) -> ReceivedOrder:
        return ReceivedOrder(
            provider_key=self.org.provider_key,
            endpoint=self.endpoint,
            order=self.order,
            reference=self.reference,
            received_at=self.received_at,
            assessment_link=self.assessment_link,
            results=tuple(self.results),
        )


class SandboxState:
    """Everything the emulator remembers, behind one lock; readers get immutable snapshots."""

    def __init__(
        self, organisations: Iterable[Organisation], *, clock: Callable[[], float] = time.time
    ) -> None:
        self.organisations: tuple[Organisation, ...] = tuple(organisations)
        for org in self.organisations:
            if not isinstance(org, Organisation):
                raise TypeError(f"expected Organisation objects, got {type(org).__name__}")
        keys = [org.provider_key for org in self.organisations]
        if len(set(keys)) != len(keys):
            raise ValueError("two organisations share a provider_key; each needs its own")
        self._clock = clock
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._entries: dict[tuple[str, str], OrderEntry] = {}
        self._order_log: list[OrderEntry] = []
        self._by_token: dict[str, OrderEntry] = {}
        self._by_reference: dict[str, OrderEntry] = {}
        self._recruitments: dict[tuple[str, str, str], RecruitmentEntry] = {}
        self._recruitments_by_uid: dict[str, RecruitmentEntry] = {}
        self._requests: list[ReceivedRequest] = []
        self._attempts: list[DeliveryAttempt] = []

    # -- authentication -------------------------------------------------------------------

    def organisation(self, provider_key: str) -> Organisation | None:
        """The organisation with this provider-key, compared in constant time, or None."""
        given = provider_key.encode("utf-8")
        found: Organisation | None = None
        for org in self.organisations:
            if hmac.compare_digest(given, org.provider_key.encode("utf-8")):
                found = org
        return found

    # -- orders ---------------------------------------------------------------------------

    def accept(
        self, org: Organisation, endpoint: Endpoint, order: AssessmentOrder, base_url: str
    ) -> tuple[OrderEntry, bool]:
        """Store an order; return its entry and whether it is new (False: idempotent resend).

        Raises `OrderConflict` when the resultId was used for different content, or (link
        endpoint) when the candidate's email is already in the referenced recruitment.
        """
        with self._lock:
            key = (org.provider_key, order.result_id)
            known = self._entries.get(key)
            if known is not None:
                if known.order == order:
                    return known, False
                raise OrderConflict(
                    f"resultId {order.result_id!r} was already used for a different order; "
                    "resend the same content, or use a new resultId"
                )
            rec_key = (org.provider_key, order.recruitment.id, order.lens_id)
            recruitment = self._recruitments.get(rec_key)
            email = order.candidate_details.email
            if endpoint == "link" and recruitment is not None and recruitment.has_candidate(email):
                raise OrderConflict(
                    f"candidate {email!r} already exists in recruitment "
                    f"{order.recruitment.id!r} (lens {order.lens_id})"
                )
            now = self._clock()
            if recruitment is None:
                recruitment = RecruitmentEntry(
                    uid=str(uuid.uuid4()),
                    provider_key=org.provider_key,
                    id=order.recruitment.id,
                    lens_id=order.lens_id,
                    locale=order.locale,
                    title=order.recruitment.title,
                    description=order.recruitment.description,
                    base_url=base_url,
                    created_at=now,
                )
                self._recruitments[rec_key] = recruitment
                self._recruitments_by_uid[recruitment.uid] = recruitment
            if not recruitment.has_candidate(email):
                recruitment.candidates.append(email)
            for collaborator in order.additional_recruitment_collaborators_emails:
                if collaborator.casefold() not in {c.casefold() for c in recruitment.collaborators}:
                    recruitment.collaborators.append(collaborator)
            entry = OrderEntry(
                org=org,
                endpoint=endpoint,
                order=order,
                reference=str(uuid.uuid4()),
                token=secrets.token_urlsafe(18),
                received_at=now,
                base_url=base_url,
                recruitment=recruitment,
            )
            self._entries[key] = entry
            self._order_log.append(entry)
            self._by_token[entry.token] = entry
            self._by_reference[entry.reference] = entry
            self._changed.notify_all()
            return entry, True

    def find(self, result_id: str, provider_key: str | None = None) -> OrderEntry:
        """The order with this resultId; raise KeyError if none, LookupError if ambiguous."""
        with self._lock:
            if provider_key is not None:
                entry = self._entries.get((provider_key, result_id))
                if entry is None:
                    raise KeyError(f"no order with resultId {result_id!r} for that organisation")
                return entry
            matches = [e for (_, rid), e in self._entries.items() if rid == result_id]
        if not matches:
            raise KeyError(f"no order with resultId {result_id!r}")
        if len(matches) > 1:
            raise LookupError(
                f"{len(matches)} organisations used resultId {result_id!r}; name the provider_key"
            )
        return matches[0]

    def by_token(self, token: str) -> OrderEntry | None:
        with self._lock:
            return self._by_token.get(token)

    def by_reference(self, reference: str) -> OrderEntry | None:
        with self._lock:
            return self._by_reference.get(reference)

    def recruitment(self, uid: str) -> SandboxRecruitment | None:
        with self._lock:
            found = self._recruitments_by_uid.get(uid)
            return found.snapshot() if found is not None else None

    def add_result(
        self, entry: OrderEntry, make: Callable[[], Result], *, only_first: bool = False
    ) -> Result | None:
        """Append `make()` to the entry's results; with `only_first`, only if it has none."""
        with self._lock:
            if only_first and entry.results:
                return None
            result = make()
            entry.results.append(result)
            self._changed.notify_all()
            return result

    def latest_result(self, entry: OrderEntry) -> Result | None:
        with self._lock:
            return entry.results[-1] if entry.results else None

    # -- logs -----------------------------------------------------------------------------

    def record_request(self, request: ReceivedRequest) -> None:
        with self._lock:
            self._requests.append(request)
            self._changed.notify_all()

    def record_attempt(self, attempt: DeliveryAttempt) -> None:
        with self._lock:
            self._attempts.append(attempt)
            self._changed.notify_all()

    # -- snapshots ------------------------------------------------------------------------

    def orders(self, provider_key: str | None = None) -> list[ReceivedOrder]:
        with self._lock:
            return [
                e.snapshot()
                for e in self._order_log
                if provider_key is None or e.org.provider_key == provider_key
            ]

    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._requests)

    def recruitments(self, provider_key: str | None = None) -> list[SandboxRecruitment]:
        with self._lock:
            return [
                r.snapshot()
                for r in self._recruitments.values()
                if provider_key is None or r.provider_key == provider_key
            ]

    def deliveries(self) -> list[DeliveryAttempt]:
        with self._lock:
            return list(self._attempts)

    def wait_for_attempts(
        self, predicate: Callable[[list[DeliveryAttempt]], bool], timeout: float
    ) -> list[DeliveryAttempt] | None:
        """Block until `predicate(attempts)` holds; return them, or None after `timeout` s."""
        with self._changed:
            if self._changed.wait_for(lambda: predicate(list(self._attempts)), timeout):
                return list(self._attempts)
            return None
