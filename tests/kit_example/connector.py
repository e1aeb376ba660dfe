"""A Lever-style connector written the way a new integrator would, from the guide and only
public names (`assessio_connect`, `assessio_connect.kit`): a signed webhook orders an
assessment, the result becomes a note on the opportunity, once per result version.

Lever's facts: https://hire.lever.co/developer/documentation (the fake restates them)."""

from __future__ import annotations

import base64
import time
from typing import Any, ClassVar
from urllib.parse import urlsplit

import attrs

from assessio_connect import (
    Answer,
    AtsCandidate,
    AtsHttp,
    AtsJob,
    Connector,
    ConnectorContext,
    CursorPages,
    FieldsHmac,
    Invitation,
    PermanentError,
    Pushback,
    RateLimiter,
    Receipts,
    Request,
    RequestRefused,
    Routes,
    Secret,
)

# Lever signs `token + triggeredAt` (ms) with the webhook's signature token, in the body.
SIGNATURE = FieldsHmac(
    ("token", "triggeredAt"), timestamp_field="triggeredAt", timestamp_unit="ms", max_age=300
)
# Lists answer {"data": [...], "next": <offset token>, "hasNext": bool}; `offset` takes it.
NOTE_PAGES = CursorPages(cursor_field="next", param="offset", has_more_field="hasNext")
NOTES = "/opportunities/{id}/notes"


def _check_url(_inst: object, _attribute: attrs.Attribute[Any], value: str) -> None:
    if urlsplit(value).scheme not in ("http", "https"):
        raise ValueError(f"base_url must be an http(s) URL, not {value!r}")


def _positive(_inst: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be above 0, not {value}")


@attrs.frozen
class LeverConfig:
    """`[tenants.NAME.ats]` for `kind = "kitlever"`."""

    api_key: Secret
    signature_tokens: tuple[Secret, ...]
    """The webhook's signature token; list the new one first while rotating."""
    trigger_stage: str
    """The stage id whose `candidateStageChange` orders an assessment."""
    base_url: str = attrs.field(default="https://api.lever.co/v1", validator=_check_url)
    rate: float = attrs.field(default=9.0, validator=_positive)
    """Requests per second: a margin below Lever's documented 10 (bursts to 20)."""
    burst: int = attrs.field(default=18, validator=_positive)
    max_wait: float = 10.0
    """Seconds a call may wait for the rate limit before it is retried later instead."""


def marker(result_id: str, version: int) -> str:
    """The tag a note carries, found again if the process died before its receipt."""
    return f"[assessio {result_id} v{version}]"


class LeverConnector(Connector[LeverConfig]):
    """Lever: stage-change webhooks in, results out as opportunity notes."""

    kind: ClassVar[str] = "kitlever"

    @staticmethod
    def sleep(seconds: float) -> None:
        """How the rate limiter waits; a test replaces it to wait on its own clock."""
        time.sleep(seconds)

    def __init__(self, config: LeverConfig, context: ConnectorContext) -> None:
        super().__init__(config, context)
        basic = base64.b64encode(f"{config.api_key.reveal()}:".encode()).decode()
        limiter = RateLimiter(
            config.rate,
            config.burst,
            max_wait=config.max_wait,
            name="Lever",
            clock=context.now,
            sleep=type(self).sleep,
        )
        self.lever = AtsHttp(
            context.transport,
            config.base_url,
            headers={"Authorization": f"Basic {basic}"},
            limiter=limiter,
            name="Lever",
            credentials_hint="check ats.api_key",
        )
        self.notes = Receipts(context.state, "notes")

    def wsgi_app(self) -> Routes:
        routes = Routes(log=self.context.log, name="kitlever", max_body_bytes=256 * 1024)
        routes.add("POST", "/webhook", self.webhook)
        return routes

    def webhook(self, request: Request) -> Answer:
        event = request.json()
        SIGNATURE.verify(event, self.config.signature_tokens, now=self.context.now())
        data = event.get("data") if isinstance(event.get("data"), dict) else {}
        if event.get("event") != "candidateStageChange" or (
            data.get("toStageId") != self.config.trigger_stage
        ):
            return Answer.json(200, {"ignored": event.get("event")})
        if not isinstance(data.get("opportunityId"), str):
            raise RequestRefused(422, "data.opportunityId is missing")
        order = self.context.invite(self.invitation(data["opportunityId"]))
        return Answer.json(202, {"result_id": order.result_id})

    def invitation(self, opportunity_id: str) -> Invitation:
        """Read the opportunity from Lever: the webhook's `data` is not signed."""
        path, ids = "/opportunities/{id}", {"id": opportunity_id}
        found = self.lever.get_json(path, params=ids, query={"expand": "applications"})["data"]
        if not found.get("emails") or not found.get("applications"):
            raise PermanentError(f"opportunity {opportunity_id} has no email or no application")
        posting_id = found["applications"][0]["posting"]
        posting = self.lever.get_json("/postings/{id}", params={"id": posting_id})["data"]
        department = (posting.get("categories") or {}).get("department")
        job = AtsJob(posting_id, posting["text"], department=department)
        candidate = AtsCandidate(opportunity_id, found["emails"][0], found.get("name") or "")
        return Invitation(opportunity_id, job, candidate)

    def push_result(self, pushback: Pushback) -> None:
        order, version = pushback.order, pushback.version
        tag = marker(order.result_id, version)
        ids = {"id": order.application_id}

        def create() -> str:
            text = f"Assessio: {pushback.result.score} {pushback.result.assessment_report_url}"
            note = {"value": f"{text} {tag}"}
            created = self.lever.send_json("POST", NOTES, note, params=ids)
            return str(created["data"]["noteId"])

        def find() -> str | None:
            for page in self.lever.pages(NOTES, NOTE_PAGES, params=ids, items="data"):
                for note in page.items:
                    if any(tag in str(f.get("value")) for f in note.get("fields", [])):
                        return str(note["id"])
            return None

        # A first attempt cannot have written a note yet: search only when retrying.
        self.notes.ensure(
            order.result_id, version, create, find=find if pushback.attempt > 1 else None
        )

    def check(self) -> str:
        self.lever.get_json("/users", query={"limit": "1"})
        return f"Lever at {self.config.base_url} accepted the API key"
