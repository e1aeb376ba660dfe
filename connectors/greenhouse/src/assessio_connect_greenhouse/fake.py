"""`FakeGreenhouse`: a stateful stand-in for Greenhouse on 127.0.0.1, for tests and the demo.

It serves the Harvest v1 endpoints the connector uses (users, jobs and hiring teams,
candidates with their activity feed, notes and custom fields, applications, custom field
definitions) behind Basic auth (API key, blank password) or a Bearer token from its own
`POST /token` (client credentials), with `On-Behalf-Of` required on writes, `Link`
pagination, `X-RateLimit-*` headers and 429s, and 422 validation errors. It sends signed web
hooks (retrying on Greenhouse's schedule, compressed) and plays Greenhouse's side of the
Assessment Partner API. Every write is recorded; failures can be injected. Thread-safe.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import attrs
import urllib3

from assessio_connect._server import ServedApp

from ._auth import basic_header
from ._fake_harvest import (
    COMPLETION_PREFIX,
    DEFAULT_STAGES,
    HIRING_ROLES,
    FakeData,
    GreenhouseWrite,
    HarvestApp,
    HarvestRequest,
)
from ._webhook import EVENT_ID_HEADER, SIGNATURE_HEADER, sign

__all__ = [
    "DEFAULT_STAGES",
    "RETRY_DELAYS",
    "FakeGreenhouse",
    "GreenhouseWrite",
    "HarvestRequest",
    "TakeHomeTest",
    "WebhookDelivery",
    "greenhouse_json",
]

RETRY_DELAYS = (60.0, 900.0, 3600.0, 7200.0, 14400.0, 28800.0)
"""Seconds before each of Greenhouse's six web hook retries (1 m … 8 h)."""


def greenhouse_json(data: Any) -> bytes:
    """JSON as Greenhouse sends it: compact, non-ASCII and `<`, `>`, `&` escaped as `\\u…`
    (the signature covers these exact bytes)."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()


@attrs.frozen
class WebhookDelivery:
    """One POST of a web hook to the configured endpoint."""

    event_id: str
    action: str
    attempt: int
    """1 for the first try, 2..7 for the retries (a redelivery starts again at 1)."""
    status: int | None
    """The answer's status, or None when no answer came (connection failed)."""
    error: str | None
    at: float = attrs.field(factory=time.time)


@attrs.frozen
class TakeHomeTest:
    """A test Greenhouse sent to the partner, and what it heard back."""

    id: int
    application_id: int
    partner_test_id: str
    partner_interview_id: str | None
    completions: int
    """Completion PATCHes received."""
    status: Mapping[str, Any] | None
    """The last `test_status` answer."""


class FakeGreenhouse(ServedApp):
    """Greenhouse for tests: build data with `add_*`, drive it with `move_to_stage`,
    `send_test`, …, inspect `writes`, `requests`, `deliveries`, `notes(…)`."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        token_ttl: float = 3600.0,
        rate_limit: int = 50,
        rate_window: float = 10.0,
        retry_after_on_429: bool = True,
        max_per_page: int = 500,
        retry_factor: float = 0.001,
        clock: Callable[[], float] = time.time,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if api_key is None and client_id is None:
            raise ValueError("give api_key (Basic auth), client_id + client_secret, or both")
        if (client_id is None) != (client_secret is None):
            raise ValueError("client_id and client_secret go together")
        if rate_limit < 1 or rate_window <= 0 or not 1 <= max_per_page <= 500:
            raise ValueError("rate_limit >= 1, rate_window > 0, max_per_page 1..500")
        self.data = FakeData()
        self.retry_factor = retry_factor
        """Greenhouse's retry delays are multiplied by this (0.001: 60 ms … 29 s)."""
        super().__init__(host, port)
        self._clock = clock
        self._partner_url: str | None = None
        self._partner_key: str | None = None
        self._webhook_url: str | None = None
        self._webhook_secret: str | None = None
        self._events: dict[str, tuple[str, bytes]] = {}
        self._deliveries: list[WebhookDelivery] = []
        self._retries: list[threading.Thread] = []
        self._stopping = threading.Event()
        self.app = HarvestApp(
            self.data,
            api_key=api_key,
            client_id=client_id,
            client_secret=client_secret,
            partner_key=lambda: self._partner_key,
            token_ttl=token_ttl,
            rate_limit=rate_limit,
            rate_window=rate_window,
            retry_after_on_429=retry_after_on_429,
            max_per_page=max_per_page,
            clock=clock,
            on_completion=self._completed,
        )
        self._http = urllib3.PoolManager(
            retries=False, timeout=urllib3.Timeout(connect=5.0, read=30.0)
        )

    def __repr__(self) -> str:
        return f"FakeGreenhouse({self.serving})"

    # -- serving --------------------------------------------------------------------------

    _what = "fake Greenhouse"

    @property
    def url(self) -> str:
        """The Harvest base URL (`harvest_url`), once started; the token URL is `{url}/token`."""
        return super().url

    def _app(self) -> Any:
        return self.app

    def start(self) -> FakeGreenhouse:
        """Serve in a background thread; returns self (idempotent)."""
        if self._server is None:
            self._stopping.clear()
        return super().start()

    def stop(self) -> None:
        """Stop serving and retrying web hooks; the state stays readable."""
        self._stopping.set()
        for thread in list(self._retries):
            thread.join(timeout=5)
        super().stop()
        self._http.clear()

    # -- data -----------------------------------------------------------------------------

    def add_user(
        self, first_name: str, last_name: str, email: str, *, disabled: bool = False
    ) -> int:
        """A Greenhouse user (an `On-Behalf-Of` author, a hiring team member); returns its id."""
        with self.data.lock:
            user_id = self.data.next_id()
            self.data.users[user_id] = {
                "id": user_id,
                "first_name": first_name,
                "last_name": last_name,
                "name": f"{first_name} {last_name}".strip(),
                "employee_id": None,
                "primary_email_address": email,
                "emails": [email],
                "disabled": disabled,
            }
            return user_id

    def add_job(
        self,
        name: str,
        *,
        department: str | None = None,
        notes: str = "",
        stages: Sequence[str] = DEFAULT_STAGES,
        hiring_team: Mapping[str, Sequence[int]] | None = None,
    ) -> int:
        """A job with its interview stages and hiring team (role -> user ids); returns its id."""
        team = {
            role: [int(uid) for uid in (hiring_team or {}).get(role, ())] for role in HIRING_ROLES
        }
        unknown = set(hiring_team or {}) - set(HIRING_ROLES)
        if unknown:
            raise ValueError(f"hiring team roles are {', '.join(HIRING_ROLES)}, not {unknown}")
        with self.data.lock:
            job_id = self.data.next_id()
            departments = []
            if department is not None:
                departments.append(
                    {
                        "id": self.data.next_id(),
                        "name": department,
                        "parent_id": None,
                        "child_ids": [],
                        "external_id": None,
                    }
                )
            self.data.jobs[job_id] = {
                "id": job_id,
                "name": name,
                "notes": notes,
                "departments": departments,
                "stages": [{"id": self.data.next_id(), "name": stage} for stage in stages],
                "hiring_team": team,
            }
            return job_id

    def stage_id(self, job_id: int, name: str) -> int:
        """The id of a job's stage, by name."""
        with self.data.lock:
            for stage in self.data.jobs[job_id]["stages"]:
                if stage["name"] == name:
                    return int(stage["id"])
        raise KeyError(f"job {job_id} has no stage {name!r}")

    def add_candidate(
        self,
        first_name: str,
        last_name: str,
        emails: str | Sequence[tuple[str, str]] = (),
    ) -> int:
        """A candidate; `emails` is one personal address or (address, type) pairs."""
        addresses = [(emails, "personal")] if isinstance(emails, str) else list(emails)
        with self.data.lock:
            candidate_id = self.data.next_id()
            self.data.candidates[candidate_id] = {
                "id": candidate_id,
                "first_name": first_name,
                "last_name": last_name,
                "email_addresses": [{"value": v, "type": t} for v, t in addresses],
                "application_ids": [],
                "custom_fields": {},
            }
            return candidate_id

    def add_application(self, candidate_id: int, job_id: int, *, stage: str | None = None) -> int:
        """The candidate applies to the job, starting in `stage` (default: the first)."""
        with self.data.lock:
            job = self.data.jobs[job_id]
            current = job["stages"][0] if stage is None else self._stage(job, stage)
            application_id = self.data.next_id()
            self.data.applications[application_id] = {
                "id": application_id,
                "candidate_id": candidate_id,
                "job_id": job_id,
                "current_stage": {"id": current["id"], "name": current["name"]},
            }
            self.data.candidates[candidate_id]["application_ids"].append(application_id)
            return application_id

    def add_custom_field(
        self,
        name: str,
        *,
        value_type: str = "short_text",
        name_key: str | None = None,
        field_type: str = "candidate",
    ) -> int:
        """A custom field definition; `name_key` defaults to the slug of `name`."""
        key = name_key or "_".join(name.lower().split())
        with self.data.lock:
            field_id = self.data.next_id()
            self.data.custom_fields[field_id] = {
                "id": field_id,
                "name": name,
                "name_key": key,
                "value_type": value_type,
                "field_type": field_type,
            }
            return field_id

    def delete_candidate(self, candidate_id: int) -> None:
        """Harvest answers 404 for the candidate from now on."""
        with self.data.lock:
            self.data.candidates[candidate_id]["deleted"] = True

    @staticmethod
    def _stage(job: Mapping[str, Any], name: str) -> dict[str, Any]:
        for stage in job["stages"]:
            if stage["name"] == name:
                return dict(stage)
        raise KeyError(f"job {job['id']} has no stage {name!r}")

    # -- faults and tokens ----------------------------------------------------------------

    def fail_next(
        self, n: int, status: int = 503, *, retry_after: float | None = None, path: str = ""
    ) -> None:
        """The next `n` Harvest calls (or completion PATCHes) whose path starts with `path`
        answer `status` (with `Retry-After` when given), unprocessed."""
        if n < 0 or not 400 <= status <= 599:
            raise ValueError("n must not be negative and status must be 400..599")
        with self.data.lock:
            fault = self.data.fault
            fault.count, fault.status, fault.retry_after, fault.prefix = (
                n,
                status,
                retry_after,
                path,
            )
            fault.always = None

    def fail_always(self, status: int, *, path: str = "") -> None:
        """Every matching call answers `status` until `heal()`."""
        if not 400 <= status <= 599:
            raise ValueError("status must be 400..599")
        with self.data.lock:
            self.data.fault.always, self.data.fault.prefix = status, path

    def heal(self) -> None:
        """Stop failing calls."""
        with self.data.lock:
            self.data.fault.count, self.data.fault.always, self.data.fault.prefix = 0, None, ""

    def expire_tokens(self) -> None:
        """Every Bearer token issued so far stops working (401) at once."""
        with self.data.lock:
            for token in self.data.tokens:
                self.data.tokens[token] = float("-inf")

    @property
    def tokens_issued(self) -> int:
        with self.data.lock:
            return len(self.data.tokens)

    # -- web hooks ------------------------------------------------------------------------

    def configure_webhook(self, url: str, secret_key: str) -> int | None:
        """Point web hooks at `url`, signed with `secret_key`, and send the ping; returns the
        ping's status (a web hook whose ping fails is created disabled in Greenhouse)."""
        self._webhook_url, self._webhook_secret = url, secret_key
        return self._deliver(
            str(uuid.uuid4()),
            "ping",
            greenhouse_json({"action": "ping", "payload": {"web_hook_id": 1}}),
            retry=False,
        )

    def move_to_stage(self, application_id: int, stage: str) -> str:
        """Move the application into `stage` and send `candidate_stage_change` with a fresh
        Greenhouse-Event-ID (retried in the background on failure); returns the event id."""
        with self.data.lock:
            application = self.data.applications[application_id]
            job = self.data.jobs[application["job_id"]]
            current = self._stage(job, stage)
            application["current_stage"] = {"id": current["id"], "name": current["name"]}
            body = greenhouse_json(
                {"action": "candidate_stage_change", "payload": self._stage_payload(application)}
            )
        event_id = str(uuid.uuid4())
        self._deliver(event_id, "candidate_stage_change", body, retry=True)
        return event_id

    def send_webhook(self, action: str, payload: Mapping[str, Any]) -> str:
        """Send any web hook (with a fresh event id, retried on failure); returns the id."""
        event_id = str(uuid.uuid4())
        body = greenhouse_json({"action": action, "payload": dict(payload)})
        self._deliver(event_id, action, body, retry=True)
        return event_id

    def redeliver(self, event_id: str) -> int | None:
        """Send an event again with the same Greenhouse-Event-ID and body (no retries)."""
        action, body = self._events[event_id]
        return self._deliver(event_id, action, body, retry=False)

    @property
    def deliveries(self) -> list[WebhookDelivery]:
        """Every web hook POST, oldest first."""
        with self.data.lock:
            return list(self._deliveries)

    def _stage_payload(self, application: Mapping[str, Any]) -> dict[str, Any]:
        job = self.data.jobs[application["job_id"]]
        candidate = self.data.candidates[application["candidate_id"]]
        stage = application["current_stage"]
        return {
            "application": {
                "id": application["id"],
                "rejected_at": None,
                "prospect": False,
                "status": "active",
                "applied_at": "2024-05-01T12:00:00Z",
                "last_activity_at": "2024-05-01T12:00:00Z",
                "url": (
                    f"https://app.greenhouse.io/people/{candidate['id']}"
                    f"?application_id={application['id']}"
                ),
                "source": None,
                "credited_to": None,
                "rejection_reason": None,
                "rejection_details": None,
                "current_stage": {"id": stage["id"], "name": stage["name"], "interviews": []},
                "custom_fields": {},
                "candidate": {
                    "id": candidate["id"],
                    "first_name": candidate["first_name"],
                    "last_name": candidate["last_name"],
                    "title": None,
                    "company": None,
                    "created_at": "2024-05-01T12:00:00Z",
                    "external_id": None,
                    "photo_url": None,
                    "url": f"https://app.greenhouse.io/people/{candidate['id']}",
                    "is_private": False,
                    "can_email": True,
                    "phone_numbers": [],
                    "email_addresses": [dict(e) for e in candidate["email_addresses"]],
                    "addresses": [],
                    "website_addresses": [],
                    "social_media_addresses": [],
                    "educations": [],
                    "employments": [],
                    "recruiter": None,
                    "coordinator": None,
                    "attachments": [],
                    "tags": [],
                    "custom_fields": {},
                },
                "jobs": [
                    {
                        "id": job["id"],
                        "name": job["name"],
                        "requisition_id": None,
                        "notes": job["notes"],
                        "confidential": False,
                        "job_post_id": None,
                        "status": "open",
                        "created_at": "2024-05-01T12:00:00Z",
                        "opened_at": "2024-05-01T12:00:00Z",
                        "closed_at": None,
                        "departments": [
                            {"id": d["id"], "name": d["name"], "external_id": None}
                            for d in job["departments"]
                        ],
                        "offices": [],
                        "custom_fields": {},
                    }
                ],
            }
        }

    def _post_webhook(self, event_id: str, body: bytes) -> tuple[int | None, str | None]:
        if self._webhook_url is None or self._webhook_secret is None:
            raise RuntimeError("call configure_webhook(url, secret_key) first")
        try:
            response = self._http.request(
                "POST",
                self._webhook_url,
                body=body,
                headers={
                    "Content-Type": "application/json",
                    "User-Agent": "Greenhouse-Webhook (fake)",
                    EVENT_ID_HEADER: event_id,
                    SIGNATURE_HEADER: sign(body, self._webhook_secret),
                },
            )
        except urllib3.exceptions.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"
        return int(response.status), None

    def _deliver(self, event_id: str, action: str, body: bytes, *, retry: bool) -> int | None:
        with self.data.lock:
            self._events[event_id] = (action, body)
        status, problem = self._post_webhook(event_id, body)
        self._note_delivery(WebhookDelivery(event_id, action, 1, status, problem))
        if status != 200 and retry:
            thread = threading.Thread(
                target=self._retry,
                args=(event_id, action, body),
                daemon=True,
                name=f"fake-greenhouse-retry-{event_id[:8]}",
            )
            self._retries.append(thread)
            thread.start()
        return status

    def _retry(self, event_id: str, action: str, body: bytes) -> None:
        for attempt, delay in enumerate(RETRY_DELAYS, start=2):
            if self._stopping.wait(delay * self.retry_factor):
                return
            status, problem = self._post_webhook(event_id, body)
            self._note_delivery(WebhookDelivery(event_id, action, attempt, status, problem))
            if status == 200:
                return

    def _note_delivery(self, delivery: WebhookDelivery) -> None:
        with self.data.lock:
            self._deliveries.append(delivery)
            self.data.lock.notify_all()

    # -- Assessment Partner API (the fake acting as Greenhouse) ----------------------------

    def connect_partner(self, base_url: str, api_key: str) -> None:
        """Call the partner at `{base_url}/list_tests` etc. with `api_key` (Basic username)."""
        self._partner_url, self._partner_key = base_url.rstrip("/"), api_key

    def _partner(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        if self._partner_url is None or self._partner_key is None:
            raise RuntimeError("call connect_partner(base_url, api_key) first")
        encoded = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": basic_header(self._partner_key)}
        if encoded is not None:
            headers["Content-Type"] = "application/json"
        response = self._http.request(
            method, f"{self._partner_url}{path}", body=encoded, headers=headers
        )
        try:
            data = json.loads(response.data)
        except ValueError:
            data = None
        return int(response.status), data

    def list_tests(self) -> list[dict[str, Any]]:
        """`GET list_tests`; raises RuntimeError unless it answers 200 with a list."""
        status, data = self._partner("GET", "/list_tests")
        if status != 200 or not isinstance(data, list):
            raise RuntimeError(f"list_tests answered {status}: {data!r}")
        return data

    def send_test(self, application_id: int, partner_test_id: str) -> str:
        """`POST send_test` for the application's candidate, with a completion `url` pointing at
        this fake; returns the `partner_interview_id`. Raises RuntimeError on another answer."""
        with self.data.lock:
            application = self.data.applications[application_id]
            candidate = self.data.candidates[application["candidate_id"]]
            test_id = self.data.next_id()
            self.data.tests[test_id] = {
                "id": test_id,
                "application_id": application_id,
                "partner_test_id": partner_test_id,
                "partner_interview_id": None,
                "completions": 0,
                "status": None,
            }
            emails = candidate["email_addresses"]
            email = next((e["value"] for e in emails if e["type"] == "personal"), None)
            body = {
                "partner_test_id": partner_test_id,
                "candidate": {
                    "first_name": candidate["first_name"],
                    "last_name": candidate["last_name"],
                    "resume_url": None,
                    "phone_number": None,
                    "email": email or (emails[0]["value"] if emails else None),
                    "greenhouse_profile_url": (
                        f"https://app.greenhouse.io/people/{candidate['id']}"
                        f"?application_id={application_id}"
                    ),
                },
                "url": f"{self.url}{COMPLETION_PREFIX}{test_id}",
            }
        status, data = self._partner("POST", "/send_test", body)
        interview_id = data.get("partner_interview_id") if isinstance(data, dict) else None
        if status != 200 or not isinstance(interview_id, str):
            raise RuntimeError(f"send_test answered {status}: {data!r}")
        with self.data.lock:
            self.data.tests[test_id]["partner_interview_id"] = interview_id
        return interview_id

    def test_status(self, partner_interview_id: str) -> tuple[int, Any]:
        """`GET test_status?partner_interview_id=…`: (status, JSON body)."""
        status, data = self._partner(
            "GET", f"/test_status?partner_interview_id={quote(partner_interview_id)}"
        )
        if status == 200:
            with self.data.lock:
                for test in self.data.tests.values():
                    if test["partner_interview_id"] == partner_interview_id:
                        test["status"] = data
                self.data.lock.notify_all()
        return status, data

    def report_errors(self, api_call: str, errors: Iterable[str], **extra: Any) -> int:
        """`POST request_errors`, as Greenhouse does for a malformed answer; returns the status."""
        status, _ = self._partner(
            "POST", "/request_errors", {"api_call": api_call, "errors": list(errors), **extra}
        )
        return status

    def _completed(self, test_id: int) -> None:
        """After a completion PATCH, Greenhouse asks `test_status` (in the background)."""
        with self.data.lock:
            interview_id = self.data.tests[test_id]["partner_interview_id"]
        if interview_id is None:
            return

        def ask() -> None:
            # On failure the test's status stays as it was; a later PATCH asks again.
            with contextlib.suppress(urllib3.exceptions.HTTPError, RuntimeError):
                self.test_status(interview_id)

        threading.Thread(target=ask, daemon=True, name="fake-greenhouse-test-status").start()

    @property
    def take_home_tests(self) -> list[TakeHomeTest]:
        with self.data.lock:
            return [
                TakeHomeTest(
                    id=t["id"],
                    application_id=t["application_id"],
                    partner_test_id=t["partner_test_id"],
                    partner_interview_id=t["partner_interview_id"],
                    completions=t["completions"],
                    status=t["status"],
                )
                for t in self.data.tests.values()
            ]

    # -- inspection -----------------------------------------------------------------------

    @property
    def writes(self) -> list[GreenhouseWrite]:
        """Every note, custom-field PATCH and completion PATCH received, oldest first."""
        with self.data.lock:
            return list(self.data.writes)

    @property
    def requests(self) -> list[HarvestRequest]:
        """Every request received (Harvest, token, completion), oldest first."""
        with self.data.lock:
            return list(self.data.requests)

    def notes(self, candidate_id: int) -> list[dict[str, Any]]:
        """The candidate's notes, oldest first."""
        with self.data.lock:
            return [dict(note) for note in self.data.notes.get(candidate_id, [])]

    def custom_field_values(self, candidate_id: int) -> dict[str, Any]:
        """The candidate's custom field values by name key."""
        with self.data.lock:
            return dict(self.data.candidates[candidate_id]["custom_fields"])

    def wait_for(self, predicate: Callable[[FakeGreenhouse], Any], timeout: float = 10.0) -> Any:
        """Block until `predicate(self)` returns something truthy (re-checked on every request,
        write and delivery); returns it. Raises TimeoutError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self.data.lock:
            while True:
                value = predicate(self)
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    name = getattr(predicate, "__name__", "the predicate")
                    raise TimeoutError(
                        f"timed out after {timeout:g} s waiting for {name}; writes so far: "
                        f"{[(w.kind, w.target, w.status) for w in self.data.writes[-10:]]}"
                    )
                self.data.lock.wait(min(left, 0.05))
