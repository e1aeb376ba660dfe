"""`FakeGreenhouse`: Greenhouse on 127.0.0.1 for tests and the demo, restated from Greenhouse's
documentation in its own code (it imports nothing from the connector).

One origin serves what Greenhouse serves on three hosts:

- auth.greenhouse.io: `GET /authorize` (the customer approving a partner app, answered with a
  redirect carrying a code) and `POST /token` (client credentials for custom integrations;
  authorization code and rotating refresh tokens for partner apps);
- harvest.greenhouse.io: Harvest v3 under `/v3/…` behind `Authorization: Bearer`: flat list
  reads with id filters and cursor paging, notes, candidate custom fields, rate limiting. The
  removed v1 and v2 answer 404, and HTTP Basic API keys 401;
- app.greenhouse.io: the take-home test completion PATCH of the Assessment Partner API.

It sends signed web hooks (retried on Greenhouse's schedule) and plays Greenhouse's side of the
Assessment Partner API. Every request and write is recorded; failures can be injected.
Thread-safe. The sources of each rule are in the `_fake_*` modules' docstrings.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import urllib3

from assessio_connect.testing import ServedApp

from ._fake_app import FakeApp, FaultInjector
from ._fake_documented import documented_stage_change_body, seed_documented_stage_change
from ._fake_harvest import HarvestV3
from ._fake_oauth import Client, OAuthServer
from ._fake_partner import (
    COMPLETION_PREFIX,
    CompletionEndpoint,
    PartnerCaller,
    TakeHomeTest,
    list_tests_problems,
    test_status_problems,
)
from ._fake_payloads import stage_change_payload
from ._fake_records import (
    new_application,
    new_candidate,
    new_custom_field,
    new_department,
    new_job,
    new_user,
    stage_named,
)
from ._fake_state import FakeData, GreenhouseWrite, HarvestRequest, iso
from ._fake_views import note_json
from ._fake_webhooks import RETRY_DELAYS, WebhookDelivery, WebhookSender, greenhouse_json

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

DEFAULT_STAGES = ("Application Review", "Assessment", "Face to Face", "Offer")


class FakeGreenhouse(ServedApp):
    """Greenhouse for tests: build data with `add_*`, drive it with `move_to_stage`,
    `send_test`, …, inspect `writes`, `requests`, `deliveries`, `notes(…)`.

    `client_id`/`client_secret` register a custom integration (client credentials grant);
    `partner_client_id`/`partner_client_secret` a partner app (authorization code and refresh
    grants) whose `partner_redirect_uris` are registered. `authorizing_user` is the user who
    approves the partner app at `/authorize` (None: a service account); it can be set later.
    """

    _what = "fake Greenhouse"

    def __init__(
        self,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        partner_client_id: str | None = None,
        partner_client_secret: str | None = None,
        partner_redirect_uris: Sequence[str] = (),
        authorizing_user: int | None = None,
        token_ttl: float = 3600.0,
        refresh_token_ttl: float = 86400.0,
        code_ttl: float = 60.0,
        rate_limit: int = 50,
        rate_window: float = 30.0,
        retry_after_on_429: bool = True,
        max_per_page: int = 500,
        retry_factor: float = 0.001,
        clock: Callable[[], float] = time.time,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        clients = _clients(
            client_id,
            client_secret,
            partner_client_id,
            partner_client_secret,
            partner_redirect_uris,
        )
        if rate_limit < 1 or rate_window <= 0 or not 1 <= max_per_page <= 500:
            raise ValueError("rate_limit >= 1, rate_window > 0, max_per_page 1..500")
        if min(token_ttl, refresh_token_ttl, code_ttl) <= 0:
            raise ValueError("token_ttl, refresh_token_ttl and code_ttl must be positive")
        super().__init__(host, port)
        self.data = FakeData()
        self.retry_factor = retry_factor
        """Greenhouse's retry delays are multiplied by this (0.001: 60 ms … 29 s)."""
        self.authorizing_user = authorizing_user
        self._clock = clock
        self._http = urllib3.PoolManager(
            retries=False, timeout=urllib3.Timeout(connect=5.0, read=30.0)
        )
        self._partner = PartnerCaller(self._http)
        self._webhooks = WebhookSender(
            clock=clock, retry_factor=lambda: self.retry_factor, on_delivery=self._delivered
        )
        self._deliveries: list[WebhookDelivery] = []
        self.oauth = OAuthServer(
            self.data,
            clients,
            clock=clock,
            token_ttl=token_ttl,
            refresh_token_ttl=refresh_token_ttl,
            code_ttl=code_ttl,
            authorizing_user=lambda: self.authorizing_user,
        )
        faults = FaultInjector(self.data)
        self.app = FakeApp(
            self.data,
            oauth=self.oauth,
            harvest=HarvestV3(
                self.data,
                self.oauth,
                clock=clock,
                rate_limit=rate_limit,
                rate_window=rate_window,
                retry_after_on_429=retry_after_on_429,
                max_per_page=max_per_page,
                fault=faults,
            ),
            completion=CompletionEndpoint(
                self.data,
                api_key=lambda: self._partner.api_key,
                clock=clock,
                fault=faults,
                on_completion=self._completed,
            ),
            faults=faults,
            clock=clock,
        )

    def __repr__(self) -> str:
        return f"FakeGreenhouse({self.serving})"

    # -- serving --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The one origin: `auth_url` and `harvest_url` (the connector appends `/v3/…`)."""
        return super().url

    def wsgi_app(self) -> Any:
        return self.app

    def start(self) -> FakeGreenhouse:
        """Serve in a background thread; returns self (idempotent)."""
        if self._server is None:
            self._webhooks.start()
        return super().start()

    def stop(self) -> None:
        """Stop serving and retrying web hooks; the state stays readable."""
        self._webhooks.stop()
        super().stop()
        self._http.clear()

    def _stamp(self) -> str:
        return iso(self._clock())

    # -- data -----------------------------------------------------------------------------

    def add_user(
        self, first_name: str, last_name: str, email: str, *, disabled: bool = False
    ) -> int:
        """A Greenhouse user (a token's `sub`, a hiring team member); returns its id."""
        with self.data.lock:
            return new_user(
                self.data, self._stamp(), first_name, last_name, email, deactivated=disabled
            )

    def add_job(
        self,
        name: str,
        *,
        department: str | None = None,
        notes: str = "",
        stages: Sequence[str] = DEFAULT_STAGES,
        hiring_team: Mapping[str, Sequence[int]] | None = None,
    ) -> int:
        """A job with its department (by name), interview stages and hiring team (role ->
        user ids; roles `hiring_managers`, `recruiters`, `coordinators`, `sourcers`)."""
        if not stages:
            raise ValueError("a job needs at least one stage")
        with self.data.lock:
            stamp = self._stamp()
            department_id = None
            if department is not None:
                known = [d["id"] for d in self.data.departments.values() if d["name"] == department]
                department_id = known[0] if known else new_department(self.data, stamp, department)
            return new_job(
                self.data,
                stamp,
                name,
                department_id=department_id,
                notes=notes,
                stages=list(stages),
                hiring_team=hiring_team or {},
            )

    def stage_id(self, job_id: int, name: str) -> int:
        """The id of a job's interview stage, by name."""
        with self.data.lock:
            return int(stage_named(self.data, job_id, name)["id"])

    def add_candidate(
        self, first_name: str, last_name: str, emails: str | Sequence[tuple[str, str]] = ()
    ) -> int:
        """A candidate; `emails` is one personal address or (address, type) pairs."""
        addresses = [(emails, "personal")] if isinstance(emails, str) else list(emails)
        with self.data.lock:
            return new_candidate(self.data, self._stamp(), first_name, last_name, addresses)

    def add_application(self, candidate_id: int, job_id: int, *, stage: str | None = None) -> int:
        """The candidate applies to the job, starting in `stage` (default: the first)."""
        with self.data.lock:
            return new_application(self.data, self._stamp(), candidate_id, job_id, stage)

    def add_custom_field(
        self,
        name: str,
        *,
        value_type: str = "short_text",
        name_key: str | None = None,
        field_type: str = "candidate",
    ) -> int:
        """A custom field definition; `name_key` defaults to the slug of `name`."""
        with self.data.lock:
            return new_custom_field(
                self.data,
                self._stamp(),
                name,
                value_type=value_type,
                name_key=name_key,
                field_type=field_type,
            )

    def delete_candidate(self, candidate_id: int) -> None:
        """The candidate disappears from Harvest reads; PATCHing it answers 404."""
        with self.data.lock:
            self.data.candidates[candidate_id]["deleted"] = True
            self.data.changed()

    def seed_documented_stage_change(self) -> dict[str, Any]:
        """Create the users, department, job, candidate and application of Greenhouse's
        documented `candidate_stage_change` example under its ids; returns the example."""
        with self.data.lock:
            return seed_documented_stage_change(self.data, self._stamp())

    @staticmethod
    def documented_stage_change_body() -> bytes:
        """The documented example's exact bytes, as a web hook body."""
        return documented_stage_change_body()

    # -- faults and tokens ----------------------------------------------------------------

    def fail_next(
        self, n: int, status: int = 503, *, retry_after: float | None = None, path: str = ""
    ) -> None:
        """The next `n` Harvest calls (or completion PATCHes) whose path starts with `path`
        answer `status` (with `Retry-After` when given), unprocessed. `POST /token` fails only
        when `path` starts with "/token"."""
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
        """Every access token issued so far stops working (401) at once."""
        self.oauth.expire_access_tokens()

    def revoke_refresh_tokens(self) -> None:
        """The customer disconnected the partner app: its refresh and access tokens die."""
        self.oauth.revoke_partner_tokens()

    @property
    def tokens_issued(self) -> int:
        """Access tokens issued, by every grant."""
        with self.data.lock:
            return len(self.oauth.access)

    @property
    def refresh_tokens_issued(self) -> int:
        with self.data.lock:
            return self.oauth.refresh_tokens_issued

    # -- web hooks ------------------------------------------------------------------------

    def configure_webhook(self, url: str, secret_key: str) -> int | None:
        """Point web hooks at `url`, signed with `secret_key`, and send the ping; returns the
        ping's status (a web hook whose ping fails is created disabled in Greenhouse)."""
        return self._webhooks.configure(url, secret_key)

    def move_to_stage(self, application_id: int, stage: str) -> str:
        """Move the application into `stage` and send `candidate_stage_change` with a fresh
        Greenhouse-Event-ID (retried in the background on failure); returns the event id."""
        with self.data.lock:
            application = self.data.applications[application_id]
            application["stage_id"] = stage_named(self.data, application["job_id"], stage)["id"]
            application["updated_at"] = self._stamp()
            payload = stage_change_payload(self.data, application)
            self.data.changed()
        return self.send_webhook("candidate_stage_change", payload)

    def send_webhook(self, action: str, payload: Mapping[str, Any]) -> str:
        """Send any web hook (with a fresh event id, retried on failure); returns the id."""
        body = greenhouse_json({"action": action, "payload": dict(payload)})
        return self.send_webhook_body(action, body)

    def send_webhook_body(self, action: str, body: bytes) -> str:
        """Send exact bytes as a web hook (e.g. `documented_stage_change_body()`); returns
        the event id."""
        event_id = str(uuid.uuid4())
        self._webhooks.send(action, body, retry=True, event_id=event_id)
        return event_id

    def redeliver(self, event_id: str) -> int | None:
        """Send an event again with the same Greenhouse-Event-ID and body (no retries)."""
        return self._webhooks.redeliver(event_id)

    @property
    def deliveries(self) -> list[WebhookDelivery]:
        """Every web hook POST, oldest first."""
        with self.data.lock:
            return list(self._deliveries)

    def _delivered(self, delivery: WebhookDelivery) -> None:
        with self.data.lock:
            self._deliveries.append(delivery)
            self.data.changed()

    # -- Assessment Partner API (the fake acting as Greenhouse) ----------------------------

    def connect_partner(self, base_url: str, api_key: str) -> None:
        """Call the partner at `{base_url}/list_tests` etc. with `api_key` (Basic username)."""
        self._partner.connect(base_url, api_key)

    def list_tests(self) -> list[dict[str, Any]]:
        """`GET list_tests`; a malformed answer is reported to `request_errors` and raises
        RuntimeError, as does any status but 200."""
        status, data = self._partner.call("GET", "/list_tests")
        problems = list_tests_problems(data) if status == 200 else []
        if problems:
            self._report_quietly("list_tests", problems)
        if status != 200 or problems:
            raise RuntimeError(f"list_tests answered {status}: {data!r} {problems}")
        return list(data)

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
                "errors": (),
            }
            emails = candidate["email_addresses"]
            email = next((e["value"] for e in emails if e["type"] == "personal"), None)
            email = email or (emails[0]["value"] if emails else None)
            body: dict[str, Any] = {
                "partner_test_id": partner_test_id,
                "candidate": {
                    "first_name": candidate["first_name"],
                    "last_name": candidate["last_name"],
                    "preferred_name": candidate.get("preferred_name"),
                    "resume_url": None,
                    "phone_number": None,
                    "email": email,
                    "greenhouse_profile_url": (
                        f"https://app.greenhouse.io/people/{candidate['id']}"
                        f"?application_id={application_id}"
                    ),
                },
                "sent_by": None,
                "url": f"{self.url}{COMPLETION_PREFIX}{test_id}",
            }
        status, data = self._partner.call("POST", "/send_test", body)
        interview_id = data.get("partner_interview_id") if isinstance(data, dict) else None
        if status == 200 and not isinstance(interview_id, str):
            problem = "partner_interview_id is missing or not a string"
            self._report_quietly(
                "send_test", [problem], partner_test_id=partner_test_id, candidate_email=email
            )
        if status != 200 or not isinstance(interview_id, str):
            raise RuntimeError(f"send_test answered {status}: {data!r}")
        with self.data.lock:
            self.data.tests[test_id]["partner_interview_id"] = interview_id
            self.data.changed()
        return interview_id

    def test_status(self, partner_interview_id: str) -> tuple[int, Any]:
        """`GET test_status?partner_interview_id=…`: (status, JSON body). A well-formed answer
        becomes the test's `status`; a malformed one (e.g. `complete` without
        `partner_profile_url`) is kept out, noted in the test's `errors` and reported to
        `request_errors`."""
        status, data = self._partner.test_status(partner_interview_id)
        if status != 200:
            return status, data
        problems = test_status_problems(data)
        with self.data.lock:
            for test in self.data.tests.values():
                if test["partner_interview_id"] == partner_interview_id:
                    test["errors"] = tuple(problems)
                    if not problems:
                        test["status"] = data
            self.data.changed()
        if problems:
            self._report_quietly("test_status", problems, partner_interview_id=partner_interview_id)
        return status, data

    def report_errors(self, api_call: str, errors: Iterable[str], **extra: Any) -> int:
        """`POST request_errors`, as Greenhouse does for a malformed answer; returns the status."""
        return self._partner.report_errors(api_call, errors, **extra)

    def _report_quietly(self, api_call: str, errors: list[str], **extra: Any) -> None:
        # A partner without a working request_errors endpoint changes nothing for Greenhouse.
        with contextlib.suppress(urllib3.exceptions.HTTPError, RuntimeError):
            self._partner.report_errors(api_call, errors, **extra)

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
                    errors=t["errors"],
                )
                for t in self.data.tests.values()
            ]

    # -- inspection -----------------------------------------------------------------------

    @property
    def writes(self) -> list[GreenhouseWrite]:
        """Every note, candidate PATCH and completion PATCH received, oldest first."""
        with self.data.lock:
            return list(self.data.writes)

    @property
    def requests(self) -> list[HarvestRequest]:
        """Every request received (OAuth, Harvest, completion, unknown), oldest first."""
        with self.data.lock:
            return list(self.data.requests)

    def notes(self, candidate_id: int) -> list[dict[str, Any]]:
        """The v3 note objects created for the candidate, oldest first."""
        with self.data.lock:
            return [
                note_json(self.data, note)
                for _, note in sorted(self.data.notes.items())
                if note["candidate_id"] == candidate_id
            ]

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


def _clients(
    client_id: str | None,
    client_secret: str | None,
    partner_client_id: str | None,
    partner_client_secret: str | None,
    redirect_uris: Sequence[str],
) -> dict[str, Client]:
    if (client_id is None) != (client_secret is None):
        raise ValueError("client_id and client_secret go together")
    if (partner_client_id is None) != (partner_client_secret is None):
        raise ValueError("partner_client_id and partner_client_secret go together")
    if client_id is None and partner_client_id is None:
        raise ValueError("register a custom integration (client_id), a partner app, or both")
    if partner_client_id is not None and not redirect_uris:
        raise ValueError("a partner app needs at least one partner_redirect_uris entry")
    if client_id is not None and client_id == partner_client_id:
        raise ValueError("the custom integration and the partner app need different client ids")
    clients: dict[str, Client] = {}
    if client_id is not None and client_secret is not None:
        clients[client_id] = Client(client_id, client_secret, partner=False)
    if partner_client_id is not None and partner_client_secret is not None:
        clients[partner_client_id] = Client(
            partner_client_id,
            partner_client_secret,
            partner=True,
            redirect_uris=tuple(redirect_uris),
        )
    return clients
