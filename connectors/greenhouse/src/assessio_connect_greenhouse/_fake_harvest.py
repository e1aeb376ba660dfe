"""The HTTP side of the fake Greenhouse: Harvest v1 endpoints, the OAuth token endpoint and the
partner completion PATCH, with authentication, `On-Behalf-Of`, pagination, rate limiting,
422 validation and fault injection. `assessio_connect_greenhouse.fake` drives it."""

from __future__ import annotations

import hmac
import itertools
import json
import math
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import attrs

from assessio_connect._wsgi import RequestBodyError, header, read_body

from ._http import Reply, basic_credentials, error, respond

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = [
    "DEFAULT_STAGES",
    "HIRING_ROLES",
    "FakeData",
    "GreenhouseWrite",
    "HarvestApp",
    "HarvestRequest",
]

DEFAULT_STAGES = ("Application Review", "Assessment", "Face to Face", "Offer")
HIRING_ROLES = ("hiring_managers", "recruiters", "coordinators", "sourcers")
VISIBILITIES = ("admin_only", "private", "public")
MAX_BODY_BYTES = 1024 * 1024
COMPLETION_PREFIX = "/integrations/testing_partners/take_home_tests/"
STAMP = "2024-05-01T12:00:00.000Z"


@attrs.frozen
class HarvestRequest:
    """One request the fake received and what it answered."""

    method: str
    path: str
    status: int
    auth: str | None
    """"basic", "bearer", "partner" or None (no valid credentials)."""
    on_behalf_of: str | None
    at: float
    """The fake's clock when it arrived."""


@attrs.frozen
class GreenhouseWrite:
    """A write the fake received: a note, a custom-field PATCH or a test-completion PATCH."""

    kind: str
    """"note", "custom_fields" or "completion"."""
    target: str
    """The candidate id (notes, custom fields) or the take-home test id (completion)."""
    body: Mapping[str, Any]
    status: int
    on_behalf_of: str | None
    at: float = attrs.field(factory=time.time)
    """Wall-clock time it was received."""


@attrs.define
class _Fault:
    count: int = 0
    status: int = 503
    retry_after: float | None = None
    always: int | None = None
    prefix: str = ""


@attrs.define
class FakeData:
    """Everything the fake holds; guarded by `lock` (a Condition, notified on every write)."""

    lock: threading.Condition = attrs.field(factory=threading.Condition)
    users: dict[int, dict[str, Any]] = attrs.field(factory=dict)
    jobs: dict[int, dict[str, Any]] = attrs.field(factory=dict)
    candidates: dict[int, dict[str, Any]] = attrs.field(factory=dict)
    applications: dict[int, dict[str, Any]] = attrs.field(factory=dict)
    custom_fields: dict[int, dict[str, Any]] = attrs.field(factory=dict)
    notes: dict[int, list[dict[str, Any]]] = attrs.field(factory=dict)
    tests: dict[int, dict[str, Any]] = attrs.field(factory=dict)
    """Take-home tests sent to a partner: application, test ids, completion and status."""
    tokens: dict[str, float] = attrs.field(factory=dict)
    """Bearer token -> expiry on the fake's clock."""
    requests: list[HarvestRequest] = attrs.field(factory=list)
    writes: list[GreenhouseWrite] = attrs.field(factory=list)
    ids: Iterator[int] = attrs.field(factory=lambda: itertools.count(100_001))
    fault: _Fault = attrs.field(factory=_Fault)
    window_start: float = 0.0
    window_count: int = 0

    def next_id(self) -> int:
        return next(self.ids)


def _int_id(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) < 19 else None


def _user_ref(user: Mapping[str, Any], *, responsible: bool | None = None) -> dict[str, Any]:
    ref = {
        "id": user["id"],
        "first_name": user["first_name"],
        "last_name": user["last_name"],
        "name": user["name"],
        "employee_id": user.get("employee_id"),
    }
    if responsible is not None:
        ref["responsible"] = responsible
    return ref


class HarvestApp:
    """WSGI app of the fake: Harvest (`/v1/…`), `POST /token`, the completion PATCH."""

    def __init__(
        self,
        data: FakeData,
        *,
        api_key: str | None,
        client_id: str | None,
        client_secret: str | None,
        partner_key: Callable[[], str | None],
        token_ttl: float,
        rate_limit: int,
        rate_window: float,
        retry_after_on_429: bool,
        max_per_page: int,
        clock: Callable[[], float],
        on_completion: Callable[[int], None],
    ) -> None:
        self.data = data
        self.api_key = api_key
        self.client_id = client_id
        self.client_secret = client_secret
        self.partner_key = partner_key
        self.token_ttl = token_ttl
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.retry_after_on_429 = retry_after_on_429
        self.max_per_page = max_per_page
        self.clock = clock
        self.on_completion = on_completion

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        path = str(environ.get("PATH_INFO") or "/")
        auth: str | None = None
        try:
            if path == "/token":
                reply = self._token(method, environ)
            elif path.startswith(COMPLETION_PREFIX):
                auth, reply = self._completion(method, path, environ)
            else:
                auth, reply = self._harvest(method, path, environ)
        except Exception as exc:  # the fake must answer, even when a test drives it oddly
            reply = error(500, f"fake Greenhouse failed: {type(exc).__name__}: {exc}")
        with self.data.lock:
            self.data.requests.append(
                HarvestRequest(
                    method=method,
                    path=path,
                    status=reply.status,
                    auth=auth,
                    on_behalf_of=header(environ, "On-Behalf-Of"),
                    at=self.clock(),
                )
            )
            self.data.lock.notify_all()
        return respond(start_response, reply)

    # Authentication

    def _token(self, method: str, environ: WSGIEnvironment) -> Reply:
        if method != "POST":
            return Reply(405, {"error": "invalid_request"}, (("Allow", "POST"),))
        credentials = basic_credentials(environ)
        if (
            self.client_id is None
            or self.client_secret is None
            or credentials is None
            or not hmac.compare_digest(credentials[0].encode(), self.client_id.encode())
            or not hmac.compare_digest(credentials[1].encode(), self.client_secret.encode())
        ):
            return Reply(401, {"error": "invalid_client"})
        try:
            form = parse_qs(read_body(environ, MAX_BODY_BYTES).decode("utf-8"))
        except (RequestBodyError, UnicodeDecodeError):
            return Reply(400, {"error": "invalid_request"})
        if form.get("grant_type") != ["client_credentials"]:
            return Reply(400, {"error": "unsupported_grant_type"})
        sub = form.get("sub", [None])[0]
        with self.data.lock:
            if sub is not None and _int_id(sub) not in self.data.users:
                return Reply(400, {"error": "invalid_request", "error_description": "unknown sub"})
            token = secrets.token_urlsafe(24)
            self.data.tokens[token] = self.clock() + self.token_ttl
        return Reply(
            200, {"access_token": token, "token_type": "Bearer", "expires_in": self.token_ttl}
        )

    def _authenticate(self, environ: WSGIEnvironment) -> str | None:
        value = (header(environ, "Authorization") or "").strip()
        scheme, _, token = value.partition(" ")
        if scheme.lower() == "bearer":
            with self.data.lock:
                expiry = self.data.tokens.get(token.strip())
            return "bearer" if expiry is not None and self.clock() < expiry else None
        credentials = basic_credentials(environ)
        if credentials is None or self.api_key is None:
            return None
        username, password = credentials
        if password == "" and hmac.compare_digest(username.encode(), self.api_key.encode()):
            return "basic"
        return None

    # Throttling and faults

    def _throttle(self) -> tuple[Reply | None, tuple[tuple[str, str], ...]]:
        now = self.clock()
        with self.data.lock:
            data = self.data
            if now - data.window_start >= self.rate_window:
                data.window_start, data.window_count = now, 0
            if data.window_count >= self.rate_limit:
                # Harvest's 429 carries no X-RateLimit-* headers.
                headers: tuple[tuple[str, str], ...] = ()
                if self.retry_after_on_429:
                    wait = max(1, math.ceil(data.window_start + self.rate_window - now))
                    headers = (("Retry-After", str(wait)),)
                return Reply(429, {"message": "Too Many Requests"}, headers), ()
            data.window_count += 1
            remaining = self.rate_limit - data.window_count
        return None, (
            ("X-RateLimit-Limit", str(self.rate_limit)),
            ("X-RateLimit-Remaining", str(remaining)),
        )

    def _fault(self, path: str) -> Reply | None:
        with self.data.lock:
            fault = self.data.fault
            if not path.startswith(fault.prefix):
                return None
            if fault.always is not None:
                return error(fault.always, "injected failure")
            if fault.count <= 0:
                return None
            fault.count -= 1
            headers: tuple[tuple[str, str], ...] = ()
            if fault.retry_after is not None:
                headers = (("Retry-After", f"{fault.retry_after:g}"),)
            if fault.status == 422:
                body = {
                    "message": "Validation error",
                    "errors": [{"message": "injected failure", "field": "body"}],
                }
                return Reply(422, body, headers)
            return Reply(fault.status, {"message": "injected failure"}, headers)

    # Harvest

    def _harvest(
        self, method: str, path: str, environ: WSGIEnvironment
    ) -> tuple[str | None, Reply]:
        auth = self._authenticate(environ)
        if auth is None:
            return None, error(401, "Invalid Basic Auth credentials or expired token")
        limited, rate_headers = self._throttle()
        if limited is not None:
            return auth, limited
        injected = self._fault(path)
        if injected is not None:
            return auth, injected
        reply = self._dispatch(method, path, environ)
        return auth, Reply(reply.status, reply.data, (*reply.headers, *rate_headers))

    def _dispatch(self, method: str, path: str, environ: WSGIEnvironment) -> Reply:
        parts = path.strip("/").split("/")
        if len(parts) < 2 or parts[0] != "v1":
            return error(404, "Resource not found")
        query = parse_qs(str(environ.get("QUERY_STRING") or ""))
        resource, rest = parts[1], parts[2:]
        writes = method in ("POST", "PATCH", "PUT", "DELETE")
        if writes:
            problem = self._on_behalf_of_problem(environ)
            if problem is not None:
                return error(403, problem)
        routes: dict[tuple[str, str, int], Callable[[], Reply]] = {
            ("GET", "users", 0): lambda: self._page(environ, query, self._all_users(), full=True),
            ("GET", "users", 1): lambda: self._one("users", rest[0], self._user_json),
            ("GET", "jobs", 1): lambda: self._one("jobs", rest[0], self._job_json),
            ("GET", "candidates", 1): lambda: self._one("candidates", rest[0], self._cand_json),
            ("PATCH", "candidates", 1): lambda: self._patch_candidate(rest[0], environ),
            ("GET", "applications", 1): lambda: self._one("applications", rest[0], self._app_json),
            ("GET", "custom_fields", 1): lambda: self._page(
                environ, query, self._fields_of(rest[0]), full=False
            ),
        }
        if resource == "jobs" and rest[1:] == ["hiring_team"] and method == "GET":
            return self._one("jobs", rest[0], lambda job: self._team_json(job))
        if resource == "candidates" and rest[1:] == ["activity_feed"] and method == "GET":
            return self._feed(rest[0])
        if resource == "candidates" and rest[1:] == ["activity_feed", "notes"]:
            if method != "POST":
                return Reply(405, {"message": "use POST"}, (("Allow", "POST"),))
            return self._add_note(rest[0], environ)
        handler = routes.get((method, resource, len(rest)))
        if handler is None:
            return error(404, "Resource not found")
        return handler()

    def _on_behalf_of_problem(self, environ: WSGIEnvironment) -> str | None:
        value = (header(environ, "On-Behalf-Of") or "").strip()
        if not value:
            return "On-Behalf-Of header is required for this request"
        with self.data.lock:
            if _int_id(value) not in self.data.users:
                return f"On-Behalf-Of user {value} was not found"
        return None

    def _one(self, kind: str, raw_id: str, view: Callable[[dict[str, Any]], Any]) -> Reply:
        ident = _int_id(raw_id)
        with self.data.lock:
            table: dict[int, dict[str, Any]] = getattr(self.data, kind)
            item = table.get(ident) if ident is not None else None
            if item is None or item.get("deleted"):
                return error(404, "Resource not found")
            return Reply(200, view(item))

    def _page(
        self,
        environ: WSGIEnvironment,
        query: Mapping[str, list[str]],
        items: list[Any],
        *,
        full: bool,
    ) -> Reply:
        """A page of `items` with a `Link` header (next/prev/last, or next only)."""
        per_page_text = query.get("per_page", ["100"])[-1]
        page_text = query.get("page", ["1"])[-1]
        if not per_page_text.isdigit() or not 1 <= int(per_page_text) <= 500:
            return error(422, "per_page must be an integer between 1 and 500")
        if not page_text.isdigit() or int(page_text) < 1:
            return error(422, "page must be a positive integer")
        per_page = min(int(per_page_text), self.max_per_page)
        page = int(page_text)
        last = max(1, math.ceil(len(items) / per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        base = f"http://{environ.get('HTTP_HOST', '127.0.0.1')}{environ.get('PATH_INFO', '')}"

        def link(number: int, rel: str) -> str:
            return f'<{base}?page={number}&per_page={per_page}>; rel="{rel}"'

        links = []
        if page < last:
            links.append(link(page + 1, "next"))
        if full and page > 1:
            links.append(link(page - 1, "prev"))
        if full and last > 1:
            links.append(link(last, "last"))
        headers = (("Link", ", ".join(links)),) if links else ()
        return Reply(200, chunk, headers)

    # JSON views (callers hold the lock)

    def _all_users(self) -> list[Any]:
        with self.data.lock:
            return [self._user_json(user) for user in self.data.users.values()]

    def _user_json(self, user: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **_user_ref(user),
            "primary_email_address": user["primary_email_address"],
            "emails": list(user["emails"]),
            "disabled": user["disabled"],
            "site_admin": False,
            "created_at": STAMP,
            "updated_at": STAMP,
            "linked_candidate_ids": [],
            "offices": [],
            "departments": [],
        }

    def _team_json(self, job: Mapping[str, Any]) -> dict[str, Any]:
        team: dict[str, Any] = {}
        for role in HIRING_ROLES:
            responsible = role in ("recruiters", "coordinators")
            team[role] = [
                _user_ref(self.data.users[uid], responsible=(index == 0) if responsible else None)
                for index, uid in enumerate(job["hiring_team"][role])
                if uid in self.data.users
            ]
        return team

    def _job_json(self, job: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "id": job["id"],
            "name": job["name"],
            "requisition_id": None,
            "notes": job["notes"],
            "confidential": False,
            "status": "open",
            "created_at": STAMP,
            "opened_at": STAMP,
            "closed_at": None,
            "updated_at": STAMP,
            "is_template": False,
            "copied_from_id": None,
            "departments": [dict(d) for d in job["departments"]],
            "offices": [],
            "custom_fields": {},
            "keyed_custom_fields": {},
            "hiring_team": self._team_json(job),
            "openings": [],
        }

    def _cand_json(self, candidate: Mapping[str, Any]) -> dict[str, Any]:
        fields = {f["name_key"]: f for f in self.data.custom_fields.values()}
        values: dict[str, Any] = candidate["custom_fields"]
        return {
            "id": candidate["id"],
            "first_name": candidate["first_name"],
            "last_name": candidate["last_name"],
            "company": None,
            "title": None,
            "created_at": STAMP,
            "updated_at": STAMP,
            "last_activity": STAMP,
            "is_private": False,
            "photo_url": None,
            "attachments": [],
            "application_ids": list(candidate["application_ids"]),
            "phone_numbers": [],
            "addresses": [],
            "email_addresses": [dict(e) for e in candidate["email_addresses"]],
            "website_addresses": [],
            "social_media_addresses": [],
            "recruiter": None,
            "coordinator": None,
            "can_email": True,
            "tags": [],
            "custom_fields": {key: values.get(key) for key in fields},
            "keyed_custom_fields": {
                key: (
                    {"name": field["name"], "type": field["value_type"], "value": values[key]}
                    if key in values
                    else None
                )
                for key, field in fields.items()
            },
        }

    def _app_json(self, application: Mapping[str, Any]) -> dict[str, Any]:
        job = self.data.jobs[application["job_id"]]
        return {
            "id": application["id"],
            "candidate_id": application["candidate_id"],
            "prospect": False,
            "applied_at": STAMP,
            "rejected_at": None,
            "last_activity_at": STAMP,
            "location": None,
            "source": None,
            "credited_to": None,
            "rejection_reason": None,
            "rejection_details": None,
            "jobs": [{"id": job["id"], "name": job["name"]}],
            "job_post_id": None,
            "status": "active",
            "current_stage": dict(application["current_stage"]),
            "answers": [],
            "prospective_office": None,
            "prospective_department": None,
            "prospect_detail": {
                "prospect_pool": None,
                "prospect_stage": None,
                "prospect_owner": None,
            },
            "custom_fields": {},
            "keyed_custom_fields": {},
            "attachments": [],
        }

    def _fields_of(self, field_type: str) -> list[Any]:
        with self.data.lock:
            return [
                {
                    "id": f["id"],
                    "name": f["name"],
                    "active": True,
                    "field_type": f["field_type"],
                    "priority": index,
                    "value_type": f["value_type"],
                    "private": False,
                    "required": False,
                    "require_approval": False,
                    "trigger_new_version": False,
                    "name_key": f["name_key"],
                    "custom_field_options": [],
                }
                for index, f in enumerate(self.data.custom_fields.values())
                if f["field_type"] == field_type
            ]

    # Candidates: activity feed, notes, custom fields

    def _candidate(self, raw_id: str) -> dict[str, Any] | None:
        ident = _int_id(raw_id)
        candidate = self.data.candidates.get(ident) if ident is not None else None
        return None if candidate is None or candidate.get("deleted") else candidate

    def _feed(self, raw_id: str) -> Reply:
        with self.data.lock:
            candidate = self._candidate(raw_id)
            if candidate is None:
                return error(404, "Resource not found")
            notes = [dict(n) for n in reversed(self.data.notes.get(candidate["id"], []))]
        return Reply(200, {"notes": notes, "emails": [], "activities": []})

    def _json_body(self, environ: WSGIEnvironment) -> tuple[Any, Reply | None]:
        try:
            return json.loads(read_body(environ, MAX_BODY_BYTES).decode("utf-8")), None
        except RequestBodyError as exc:
            return None, error(exc.status, str(exc))
        except (UnicodeDecodeError, ValueError):
            return None, error(400, "the body is not JSON")

    def _record(self, kind: str, target: str, body: Any, status: int, obo: str | None) -> None:
        self.data.writes.append(
            GreenhouseWrite(kind, target, body if isinstance(body, dict) else {}, status, obo)
        )
        self.data.lock.notify_all()

    def _add_note(self, raw_id: str, environ: WSGIEnvironment) -> Reply:
        body, bad = self._json_body(environ)
        obo = header(environ, "On-Behalf-Of")
        with self.data.lock:
            reply = bad or self._note_reply(raw_id, body)
            self._record("note", raw_id, body, reply.status, obo)
        return reply

    def _note_reply(self, raw_id: str, body: Any) -> Reply:
        candidate = self._candidate(raw_id)
        if candidate is None:
            return error(404, "Resource not found")
        if not isinstance(body, dict):
            return error(400, "the body must be a JSON object")
        problems = []
        user_id = body.get("user_id")
        user_key = str(user_id) if isinstance(user_id, (int, str)) else ""
        if isinstance(user_id, bool) or _int_id(user_key) not in self.data.users:
            problems.append({"message": "must be the id of a Greenhouse user", "field": "user_id"})
        text = body.get("body")
        if not isinstance(text, str) or not text.strip():
            problems.append({"message": "can't be blank", "field": "body"})
        visibility = body.get("visibility")
        if visibility not in VISIBILITIES:
            problems.append(
                {"message": f"Must be one of: {', '.join(VISIBILITIES)}", "field": "visibility"}
            )
        if problems:
            return Reply(422, {"message": "Validation error", "errors": problems})
        user = self.data.users[int(user_key)]
        note = {
            "id": self.data.next_id(),
            "created_at": STAMP,
            "body": text,
            "user": _user_ref(user),
            "private": visibility == "private",
            "visiblity": visibility,
            "visibility": visibility,
        }
        self.data.notes.setdefault(candidate["id"], []).append(note)
        return Reply(201, dict(note))

    def _patch_candidate(self, raw_id: str, environ: WSGIEnvironment) -> Reply:
        body, bad = self._json_body(environ)
        obo = header(environ, "On-Behalf-Of")
        with self.data.lock:
            reply = bad or self._patch_reply(raw_id, body)
            self._record("custom_fields", raw_id, body, reply.status, obo)
        return reply

    def _patch_reply(self, raw_id: str, body: Any) -> Reply:
        candidate = self._candidate(raw_id)
        if candidate is None:
            return error(404, "Resource not found")
        if not isinstance(body, dict):
            return error(400, "the body must be a JSON object")
        entries = body.get("custom_fields", [])
        if not isinstance(entries, list):
            return Reply(
                422,
                {
                    "message": "Validation error",
                    "errors": [{"message": "must be an array", "field": "custom_fields"}],
                },
            )
        fields = {f["name_key"]: f for f in self.data.custom_fields.values()}
        by_id = {f["id"]: f for f in self.data.custom_fields.values()}
        updates: dict[str, Any] = {}
        problems = []
        for entry in entries:
            field = None
            if isinstance(entry, dict):
                field = fields.get(entry.get("name_key")) or by_id.get(entry.get("id"))
            if field is None or field["field_type"] != "candidate":
                problems.append(
                    {"message": f"Custom field not found: {entry!r}", "field": "custom_fields"}
                )
                continue
            assert isinstance(entry, dict)
            if entry.get("delete_value") == "true":
                updates[field["name_key"]] = None
                continue
            problem = _value_problem(field["value_type"], entry.get("value"))
            if problem:
                problems.append({"message": f"{field['name_key']}: {problem}", "field": "value"})
            else:
                updates[field["name_key"]] = entry["value"]
        if problems:
            return Reply(422, {"message": "Validation error", "errors": problems})
        for key, value in updates.items():
            if value is None:
                candidate["custom_fields"].pop(key, None)
            else:
                candidate["custom_fields"][key] = value
        for key in ("first_name", "last_name"):
            if isinstance(body.get(key), str) and body[key].strip():
                candidate[key] = body[key]
        return Reply(200, self._cand_json(candidate))

    # Assessment partner completion

    def _completion(
        self, method: str, path: str, environ: WSGIEnvironment
    ) -> tuple[str | None, Reply]:
        credentials = basic_credentials(environ)
        key = self.partner_key()
        if (
            key is None
            or credentials is None
            or not hmac.compare_digest(credentials[0].encode(), key.encode())
        ):
            return None, error(401, "invalid partner API key")
        if method != "PATCH":
            return "partner", Reply(405, {"message": "use PATCH"}, (("Allow", "PATCH"),))
        ident = _int_id(path[len(COMPLETION_PREFIX) :].strip("/"))
        injected = self._fault(path)
        with self.data.lock:
            test = self.data.tests.get(ident) if ident is not None else None
            if injected is not None:
                reply = injected
            elif test is None:
                reply = error(404, "take home test not found")
            else:
                test["completions"] += 1
                reply = Reply(200, {"status": "ok"})
            self._record("completion", str(ident), {}, reply.status, None)
        if reply.status == 200 and ident is not None:
            self.on_completion(ident)
        return "partner", reply


def _value_problem(value_type: str, value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return "can't be blank (use delete_value to clear a field)"
    if value_type == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            return "must be a number"
        try:
            float(value)
        except ValueError:
            return "must be a number"
        return None
    if not isinstance(value, str):
        return f"must be a string for a {value_type} field"
    if value_type == "short_text" and len(value) > 255:
        return "is too long (maximum is 255 characters)"
    if value_type == "url" and not value.startswith(("http://", "https://")):
        return "must be a URL"
    return None
