"""`FakeLever`: a stateful stand-in for Lever's Data API and its webhooks, restated from Lever's
documentation in its own code (it imports nothing of the example connector).

Sources (each constant below names its own):
- LEVER: Lever's API documentation, https://hire.lever.co/developer/documentation
  (sections "Authentication", "Rate Limits", "Responses and Errors", "Pagination",
  "Securing webhooks", "Receiving webhooks", "Opportunities", "Notes", "Postings");
- NANGO: responses recorded from the live API in NangoHQ/integration-templates,
  `integrations/lever/tests/get-opportunity.test.json` and `create-note.test.json`.

Where Lever says nothing (the `code` of a 401, a 429's headers), the fake says so in a
comment and keeps to what is documented: a 429 carries no `Retry-After` unless a test
injects a failure with one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import attrs

from assessio_connect.kit import Answer, Request, Routes
from assessio_connect.testing import ServedApp

__all__ = ["FakeLever", "LeverNote", "WebhookDelivery"]

API_ROOT = "/v1"  # Source: LEVER "Introduction": root URL https://api.lever.co/v1
RATE_PER_SECOND = 10.0  # Source: LEVER "Rate Limits": steady state 10 requests/second per key
BURST = 20  # Source: LEVER "Rate Limits": bursts of requests up to 20 requests/second
MAX_LIMIT = 100  # Source: LEVER "Pagination": limit from 1 to 100, default 100
TOKEN_LENGTH = 48  # Source: LEVER "Securing webhooks": token, random string of 48 characters
WEBHOOK_USER_AGENT = "Lever-Webhooks"  # Source: LEVER "Receiving webhooks", example delivery


def _lever_error(
    status: int, message: str, *, headers: Any = (), code: str = "", **_extra: Any
) -> Answer:
    # Source: LEVER "Responses and Errors": {"code": "ResourceNotFound", "message": "..."};
    # the codes of the other statuses are not documented, so the status phrase stands in.
    codes = {400: "InvalidRequest", 401: "Unauthorized", 404: "ResourceNotFound", 429: "TooMany"}
    return Answer.json(
        status, {"code": code or codes.get(status, "Error"), "message": message}, headers=headers
    )


@attrs.frozen
class LeverNote:
    """A note on an opportunity, as POSTed (`value`) and stored (`noteId`)."""

    id: str
    opportunity_id: str
    value: str


@attrs.frozen
class WebhookDelivery:
    """A webhook POST as Lever sends it: its body bytes and headers."""

    body: bytes
    headers: dict[str, str]


class FakeLever(ServedApp):
    """Opportunities with one application each, postings, notes, and webhook deliveries
    signed as Lever signs them; a token bucket per API key answers 429 when exceeded.

    `clock` drives the rate limit (inject one to test pacing without sleeping); test-only
    failures: `fail_writes(status, retry_after)`."""

    _what = "fake Lever"

    def __init__(
        self,
        *,
        api_key: str,
        signature_token: str,
        clock: Callable[[], float] = time.monotonic,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        self._api_key = api_key
        self._signature_token = signature_token
        self._clock = clock
        self._lock = threading.Lock()
        self.opportunities: dict[str, dict[str, Any]] = {}
        self.postings: dict[str, dict[str, Any]] = {}
        self.notes: list[LeverNote] = []
        self.requests: list[tuple[str, str]] = []
        """(method, path) of every authenticated API request, oldest first."""
        self.rate_limited = 0
        self._offsets: dict[str, int] = {}
        self._tokens = float(BURST)
        self._refilled = clock()
        self._failure: tuple[int, float | None] | None = None

    def __repr__(self) -> str:
        return f"FakeLever({self.serving}, {len(self.opportunities)} opportunities)"

    # -- what a test drives ----------------------------------------------------------------

    def add_candidate(
        self, *, name: str, email: str, job_title: str, department: str | None = None
    ) -> str:
        """An opportunity applied to a new posting; returns the opportunity id."""
        posting_id, opportunity_id = str(uuid.uuid4()), str(uuid.uuid4())
        with self._lock:
            # Source: LEVER "Postings" (`text` is the title, `categories.department`).
            self.postings[posting_id] = {
                "id": posting_id,
                "text": job_title,
                "categories": {"department": department, "commitment": "Full-time"},
            }
            # Source: NANGO get-opportunity.test.json (fields), LEVER "Opportunities"
            # (`expand=applications` turns application ids into objects with `posting`).
            self.opportunities[opportunity_id] = {
                "id": opportunity_id,
                "name": name,
                "contact": str(uuid.uuid4()),
                "emails": [email],
                "stage": "lead-new",
                "applications": [{"id": str(uuid.uuid4()), "posting": posting_id}],
            }
        return opportunity_id

    def stage_change(
        self, opportunity_id: str, to_stage: str, *, triggered_at: int | None = None
    ) -> WebhookDelivery:
        """The `candidateStageChange` delivery for moving the opportunity to `to_stage`."""
        with self._lock:
            opportunity = self.opportunities[opportunity_id]
            from_stage = opportunity["stage"]
            opportunity["stage"] = to_stage
            contact = opportunity["contact"]
        when = int(time.time() * 1000) if triggered_at is None else triggered_at
        token = secrets.token_hex(TOKEN_LENGTH // 2)
        # Source: LEVER "Securing webhooks": HMAC-SHA256 keyed with the signature token over
        # the concatenated token and triggeredAt, hex digest.
        signature = hmac.new(
            self._signature_token.encode(), f"{token}{when}".encode(), hashlib.sha256
        ).hexdigest()
        # Source: LEVER "Receiving webhooks" (id, event, triggeredAt, token, signature, data)
        # and its example delivery's `data` fields.
        event = {
            "id": str(uuid.uuid4()),
            "event": "candidateStageChange",
            "triggeredAt": when,
            "token": token,
            "signature": signature,
            "data": {
                "opportunityId": opportunity_id,
                "candidateId": opportunity_id,
                "contactId": contact,
                "toStageId": to_stage,
                "fromStageId": from_stage,
            },
        }
        headers = {"User-Agent": WEBHOOK_USER_AGENT, "Content-Type": "application/json"}
        return WebhookDelivery(json.dumps(event).encode(), headers)

    def notes_of(self, opportunity_id: str) -> list[LeverNote]:
        with self._lock:
            return [note for note in self.notes if note.opportunity_id == opportunity_id]

    def fail_writes(self, status: int | None, retry_after: float | None = None) -> None:
        """Answer every note write with `status` (None heals); a test-only failure."""
        with self._lock:
            self._failure = None if status is None else (status, retry_after)

    # -- the API ---------------------------------------------------------------------------

    def wsgi_app(self) -> Routes:
        routes = Routes(error_answer=_lever_error, name="fake_lever")
        routes.add("GET", API_ROOT + "/opportunities/{id}", self._opportunity)
        routes.add("GET", API_ROOT + "/postings/{id}", self._posting)
        routes.add("GET", API_ROOT + "/opportunities/{id}/notes", self._list_notes)
        routes.add("POST", API_ROOT + "/opportunities/{id}/notes", self._create_note)
        routes.add("GET", API_ROOT + "/users", self._users)
        return routes

    def _gate(self, request: Request) -> Answer | None:
        """Authentication, then the rate limit; an answer when the request is refused."""
        # Source: LEVER "Authentication": Basic auth, the API key as username, no password.
        scheme, _, encoded = (request.header("Authorization") or "").partition(" ")
        try:
            decoded = base64.b64decode(encoded, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        if scheme.lower() != "basic" or not hmac.compare_digest(decoded, self._api_key + ":"):
            return _lever_error(401, "A valid API key was not provided with the request")
        with self._lock:
            self.requests.append((request.method, request.path))
            now = self._clock()
            self._tokens = min(BURST, self._tokens + (now - self._refilled) * RATE_PER_SECOND)
            self._refilled = now
            if self._tokens < 1:
                self.rate_limited += 1
                # Source: LEVER "Rate Limits": 429, retry with exponential backoff (no header
                # is documented, so none is sent).
                return _lever_error(429, "Too many requests")
            self._tokens -= 1
        return None

    def _opportunity(self, request: Request) -> Answer:
        refused = self._gate(request)
        if refused is not None:
            return refused
        with self._lock:
            found = self.opportunities.get(request.params["id"])
            if found is None:
                return _lever_error(404, f"opportunities {request.params['id']} was not found")
            data = dict(found)
        if request.arg("expand") != "applications":
            data["applications"] = [application["id"] for application in data["applications"]]
        return Answer.json(200, {"data": data})

    def _posting(self, request: Request) -> Answer:
        refused = self._gate(request)
        if refused is not None:
            return refused
        with self._lock:
            found = self.postings.get(request.params["id"])
        if found is None:
            return _lever_error(404, f"postings {request.params['id']} was not found")
        return Answer.json(200, {"data": found})

    def _list_notes(self, request: Request) -> Answer:
        refused = self._gate(request)
        if refused is not None:
            return refused
        limit_text = request.arg("limit") or str(MAX_LIMIT)
        if (
            not (limit_text.isascii() and limit_text.isdigit())
            or not 1 <= int(limit_text) <= MAX_LIMIT
        ):
            return _lever_error(400, f"limit must be from 1 to {MAX_LIMIT}")
        offset = request.arg("offset")
        with self._lock:
            if request.params["id"] not in self.opportunities:
                return _lever_error(404, f"opportunities {request.params['id']} was not found")
            # Source: LEVER "Pagination": only an offset returned by a previous page is valid.
            start = 0 if offset is None else self._offsets.get(offset)
            if start is None:
                return _lever_error(400, "offset is not a token from a previous page")
            mine = [n for n in self.notes if n.opportunity_id == request.params["id"]]
            page = mine[start : start + int(limit_text)]
            following = start + len(page)
            has_next = following < len(mine)
            token = f"0.{int(time.time() * 1000)}.{uuid.uuid4()}" if has_next else None
            if token is not None:
                self._offsets[token] = following
        # Source: LEVER "Pagination": `next` holds the offset token, `hasNext` says if any.
        body: dict[str, Any] = {
            "data": [{"id": n.id, "fields": [{"type": "note", "value": n.value}]} for n in page],
            "hasNext": has_next,
        }
        if token is not None:
            body["next"] = token
        return Answer.json(200, body)

    def _create_note(self, request: Request) -> Answer:
        refused = self._gate(request)
        if refused is not None:
            return refused
        with self._lock:
            failure = self._failure
        if failure is not None:
            status, wait = failure
            headers = [] if wait is None else [("Retry-After", str(int(wait)))]
            return _lever_error(status, "injected failure", headers=headers)
        try:
            data = json.loads(request.body)
        except ValueError:
            return _lever_error(400, "the body is not JSON")
        # Source: LEVER "Notes", create: `value` (required), `secret`, `score`,
        # `notifyFollowers`; ats-notes 1.4.
        value = data.get("value") if isinstance(data, dict) else None
        if not isinstance(value, str) or not value:
            return _lever_error(400, "value is required")
        with self._lock:
            if request.params["id"] not in self.opportunities:
                return _lever_error(404, f"opportunities {request.params['id']} was not found")
            note = LeverNote(str(uuid.uuid4()), request.params["id"], value)
            self.notes.append(note)
        # Source: NANGO create-note.test.json: 201 with the note under `data`, its `noteId`.
        return Answer.json(201, {"data": {"id": note.id, "noteId": note.id}})

    def _users(self, request: Request) -> Answer:
        refused = self._gate(request)
        if refused is not None:
            return refused
        return Answer.json(200, {"data": [{"id": str(uuid.uuid4())}], "hasNext": False})
