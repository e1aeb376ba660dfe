"""Harvest v3 (harvest.greenhouse.io/v3) as the fake Greenhouse serves it.

Only `Authorization: Bearer <access token>` opens it; HTTP Basic (the retired API keys) gets
401. Reads are flat lists filtered by query parameters (`?ids=`, `?candidate_ids=`, …: comma
separated, at most 50), with cursor paging; an unknown parameter is refused with 422
("Invalid query params"). Writes keep the id in the path (`PATCH /v3/candidates/{id}`) or
carry it in the body (`POST /v3/notes`). Every success carries `X-RateLimit-Limit` and
`X-RateLimit-Remaining`; past the limit of the window the answer is 429 with `Retry-After`.
Sources: harvestdocs.greenhouse.io/docs/list-endpoints, /docs/pagination,
/docs/write-endpoint-migration-guide, the v3 reference; notes' write shape (`note_type: "NOTE"`
upper-case, `visibility` required, e.g. "private") from Comradery64/open-greenhouse-mcp
docs/harvest-v3-migration.md and tests/test_harvest_v3.py, which probed the live API.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import attrs

from ._fake_http import Reply, bearer_token, error_reply, header, json_reply
from ._fake_oauth import Grant, OAuthServer
from ._fake_paging import DEFAULT_PER_PAGE, MAX_PER_PAGE, Cursor, CursorError, next_link, page_of
from ._fake_state import FakeData, GreenhouseWrite, iso
from ._fake_views import VIEWS, candidate_json, note_json

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

__all__ = ["HarvestV3", "Listing"]

MAX_IDS = 50
NOTE_VISIBILITY = {
    "admin_only": "admin_only_visible",
    "private": "privately_visible",
    "public": "publicly_visible",
}
"""What `visibility` a new note may say (the values proven against the live API), and how the
note object then shows it (the v3 `note` schema's enum)."""
NOTE_FIELDS = {"candidate_id", "application_id", "user_id", "body", "visibility", "note_type"}
CANDIDATE_FIELDS = {
    "first_name",
    "last_name",
    "preferred_name",
    "company",
    "title",
    "custom_fields",
}
CUSTOM_FIELD_VALUE_FIELDS = {"name_key", "custom_field_id", "value"}
NOT_FOUND = "Resource not found"


@attrs.frozen
class Listing:
    """One v3 list endpoint: its table and the query filters it takes."""

    table: str
    id_filters: Mapping[str, str] = attrs.field(factory=dict)
    """Comma-separated integer filters: parameter -> the record's key."""
    value_filters: Mapping[str, tuple[str, Mapping[str, str]]] = attrs.field(factory=dict)
    """Single-value filters: parameter -> (the record's key, {query value: stored value})."""


APPLICATION_STATUS = {"active": "in_process", "rejected": "rejected", "hired": "hired"}
APPLICATION_STATUS["converted"] = "converted"
JOB_STATUS = {s: s for s in ("open", "closed", "draft")}
FIELD_TYPES = {
    t: t
    for t in (
        "job",
        "opening",
        "standard",
        "offer",
        "compensation_frequency",
        "candidate",
        "referral_question",
        "application",
        "rejection_question",
        "form",
        "agency_question",
        "user_attribute",
    )
}

LISTINGS = {
    "applications": Listing(
        "applications",
        {
            "ids": "id",
            "candidate_ids": "candidate_id",
            "job_ids": "job_id",
            "stage_ids": "stage_id",
        },
        {"status": ("status", APPLICATION_STATUS)},
    ),
    "candidates": Listing("candidates", {"ids": "id"}),
    "custom_fields": Listing(
        "custom_fields", {"ids": "id"}, {"field_type": ("field_type", FIELD_TYPES)}
    ),
    "departments": Listing("departments", {"ids": "id"}),
    "job_hiring_managers": Listing(
        "hiring_managers", {"ids": "id", "job_ids": "job_id", "user_ids": "user_id"}
    ),
    "job_interview_stages": Listing("stages", {"ids": "id", "job_ids": "job_id"}),
    "job_owners": Listing("job_owners", {"ids": "id", "job_ids": "job_id", "user_ids": "user_id"}),
    "jobs": Listing(
        "jobs", {"ids": "id", "department_id": "department_id"}, {"status": ("status", JOB_STATUS)}
    ),
    "notes": Listing(
        "notes", {"ids": "id", "candidate_ids": "candidate_id", "application_ids": "application_id"}
    ),
    "users": Listing("users", {"ids": "id"}),
}


def _int_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 19:
        return int(value)
    return None


def _invalid(errors: list[dict[str, Any]]) -> Reply:
    return error_reply(422, "Validation error", errors)


class HarvestV3:
    """The `/v3/…` routes: authentication, throttling, injected faults, reads and writes."""

    def __init__(
        self,
        data: FakeData,
        oauth: OAuthServer,
        *,
        clock: Callable[[], float],
        rate_limit: int,
        rate_window: float,
        retry_after_on_429: bool,
        max_per_page: int,
        fault: Callable[[str], Reply | None],
    ) -> None:
        self.data = data
        self.oauth = oauth
        self.clock = clock
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.retry_after_on_429 = retry_after_on_429
        self.max_per_page = max_per_page
        self.fault = fault

    def __call__(
        self, method: str, path: str, environ: WSGIEnvironment, body: bytes
    ) -> tuple[Grant | None, Reply]:
        grant = self.oauth.check(bearer_token(environ))
        if grant is None:
            return None, self._unauthorized(environ)
        limited, rate_headers = self._throttle()
        if limited is not None:
            return grant, limited
        injected = self.fault(path)
        if injected is not None:
            return grant, injected
        reply = self._route(method, path, environ, body, grant)
        return grant, reply.with_headers(*rate_headers)

    @staticmethod
    def _unauthorized(environ: WSGIEnvironment) -> Reply:
        scheme = (header(environ, "Authorization") or "").strip().partition(" ")[0].lower()
        if scheme == "basic":
            message = (
                "Harvest API keys (HTTP Basic) no longer work: Harvest v1 and v2 were removed on "
                "31 Aug 2026; use an OAuth access token (Authorization: Bearer)"
            )
        elif scheme == "bearer":
            message = "The access token is invalid or has expired"
        else:
            message = "Missing credentials: send Authorization: Bearer <access token>"
        reply = error_reply(401, message)
        return reply.with_headers(("WWW-Authenticate", 'Bearer realm="Harvest"'))

    def _throttle(self) -> tuple[Reply | None, tuple[tuple[str, str], ...]]:
        now = self.clock()
        with self.data.lock:
            data = self.data
            if now - data.window_start >= self.rate_window:
                data.window_start, data.window_count = now, 0
            if data.window_count >= self.rate_limit:
                headers: tuple[tuple[str, str], ...] = ()
                if self.retry_after_on_429:
                    wait = max(1, math.ceil(data.window_start + self.rate_window - now))
                    headers = (("Retry-After", str(wait)),)
                return error_reply(429, "Too Many Requests").with_headers(*headers), ()
            data.window_count += 1
            remaining = self.rate_limit - data.window_count
        return None, (
            ("X-RateLimit-Limit", str(self.rate_limit)),
            ("X-RateLimit-Remaining", str(remaining)),
        )

    def _route(
        self, method: str, path: str, environ: WSGIEnvironment, body: bytes, grant: Grant
    ) -> Reply:
        parts = path.strip("/").split("/")[1:]  # after "v3"
        if len(parts) == 1 and parts[0] in LISTINGS:
            if method == "GET":
                return self._list(parts[0], environ)
            if parts[0] == "notes" and method == "POST":
                return self._write("note", "", body, grant, self._add_note)
            allowed = "GET, POST" if parts[0] == "notes" else "GET"
            return error_reply(405, f"use {allowed}").with_headers(("Allow", allowed))
        if len(parts) == 2 and parts[0] == "candidates":
            if method != "PATCH":
                return error_reply(405, "use PATCH").with_headers(("Allow", "PATCH"))
            return self._write(
                "custom_fields",
                parts[1],
                body,
                grant,
                lambda parsed, user: self._patch_candidate(parts[1], parsed),
            )
        return error_reply(404, NOT_FOUND)

    # -- reads ----------------------------------------------------------------------------

    def _list(self, resource: str, environ: WSGIEnvironment) -> Reply:
        listing = LISTINGS[resource]
        query = parse_qs(str(environ.get("QUERY_STRING") or ""), keep_blank_values=True)
        parsed = self._paging(query)
        if isinstance(parsed, Reply):
            return parsed
        filters, per_page, after = parsed
        unknown = sorted(
            set(filters) - set(listing.id_filters) - set(listing.value_filters) - {"per_page"}
        )
        if unknown:
            return error_reply(422, f"Invalid query params: {', '.join(unknown)}")
        predicate = self._predicate(listing, filters)
        if isinstance(predicate, Reply):
            return predicate
        view = VIEWS[resource]
        with self.data.lock:
            table: dict[int, dict[str, Any]] = getattr(self.data, listing.table)
            records = [r for _, r in sorted(table.items()) if predicate(r)]
            chunk, last = page_of(records, min(per_page, self.max_per_page), after)
            items = [view(self.data, record) for record in chunk]
        headers: list[tuple[str, str]] = []
        if last is not None:
            origin = f"http://{environ.get('HTTP_HOST', '127.0.0.1')}"
            cursor = Cursor(filters, per_page, last)
            headers.append(("Link", next_link(origin, f"/v3/{resource}", cursor)))
        return json_reply(200, items, headers)

    @staticmethod
    def _paging(query: Mapping[str, list[str]]) -> tuple[dict[str, str], int, int] | Reply:
        """(filters, per_page, after id) of a first request or of a cursor."""
        if "cursor" in query:
            others = sorted(set(query) - {"cursor"})
            if others or len(query["cursor"]) != 1:
                return error_reply(
                    422,
                    "Invalid query params: the cursor must be the only query parameter "
                    f"(also sent: {', '.join(others) or 'cursor twice'})",
                )
            try:
                cursor = Cursor.decode(query["cursor"][0])
            except CursorError as exc:
                return error_reply(422, f"Invalid query params: {exc}")
            return dict(cursor.filters), cursor.per_page, cursor.after
        repeated = sorted(name for name, values in query.items() if len(values) != 1)
        if repeated:
            return error_reply(422, f"Invalid query params: {', '.join(repeated)} given twice")
        filters = {name: values[0] for name, values in query.items()}
        text = filters.get("per_page", str(DEFAULT_PER_PAGE))
        if not text.isdigit() or not 1 <= int(text) <= MAX_PER_PAGE:
            return error_reply(422, f"Invalid query params: per_page must be 1..{MAX_PER_PAGE}")
        return filters, int(text), 0

    @staticmethod
    def _predicate(
        listing: Listing, filters: Mapping[str, str]
    ) -> Callable[[Mapping[str, Any]], bool] | Reply:
        wanted: list[tuple[str, set[Any]]] = []
        for name, key in listing.id_filters.items():
            if name not in filters:
                continue
            parts = filters[name].split(",")
            ids = [_int_id(part.strip()) for part in parts]
            if not parts or any(i is None for i in ids) or len(ids) > MAX_IDS:
                return error_reply(
                    422,
                    f"Invalid query params: {name} must be up to {MAX_IDS} comma separated ids",
                )
            wanted.append((key, set(ids)))
        for name, (key, values) in listing.value_filters.items():
            if name not in filters:
                continue
            if filters[name] not in values:
                return error_reply(
                    422, f"Invalid query params: {name} must be one of {', '.join(values)}"
                )
            wanted.append((key, {values[filters[name]]}))

        def matches(record: Mapping[str, Any]) -> bool:
            if record.get("deleted"):
                return False
            return all(record.get(key) in allowed for key, allowed in wanted)

        return matches

    # -- writes ---------------------------------------------------------------------------

    def _write(
        self,
        kind: str,
        target: str,
        body: bytes,
        grant: Grant,
        handler: Callable[[dict[str, Any], int | None], tuple[str, Reply]],
    ) -> Reply:
        parsed: Any = None
        try:
            parsed = json.loads(body.decode("utf-8")) if body else None
        except (UnicodeDecodeError, ValueError):
            reply = error_reply(400, "The body is not JSON")
        else:
            if isinstance(parsed, dict):
                with self.data.lock:
                    target, reply = handler(parsed, grant.user_id)
            else:
                reply = error_reply(400, "The body must be a JSON object")
        with self.data.lock:
            stamp = self.clock()
            write = GreenhouseWrite(kind, target, parsed, reply.status, grant.user_id, stamp)
            self.data.writes.append(write)
            self.data.changed()
        return reply

    def _add_note(self, body: dict[str, Any], user_id: int | None) -> tuple[str, Reply]:
        target = str(body.get("candidate_id", ""))
        problems: list[dict[str, Any]] = [
            {"message": "is not a permitted property", "field": name}
            for name in sorted(set(body) - NOTE_FIELDS)
        ]
        candidate_id = _int_id(body.get("candidate_id"))
        if candidate_id is None or isinstance(body.get("candidate_id"), str):
            problems.append(
                {"message": "is required and must be an integer", "field": "candidate_id"}
            )
        text = body.get("body")
        if not isinstance(text, str) or not text.strip():
            problems.append({"message": "can't be blank", "field": "body"})
        visibility = body.get("visibility")
        if visibility not in NOTE_VISIBILITY:
            problems.append(
                {"message": "must be one of admin_only, private, public", "field": "visibility"}
            )
        if body.get("note_type") != "NOTE":
            problems.append({"message": 'is required and must be "NOTE"', "field": "note_type"})
        application_id = body.get("application_id")
        if application_id is not None and (
            isinstance(application_id, bool) or not isinstance(application_id, int)
        ):
            problems.append({"message": "must be an integer", "field": "application_id"})
        author = body.get("user_id", user_id)
        if "user_id" in body and (
            _int_id(author) is None or isinstance(author, str) or author not in self.data.users
        ):
            problems.append({"message": "must be the id of a user", "field": "user_id"})
        if problems:
            return target, _invalid(problems)
        # Greenhouse does not check that candidate_id names a candidate: a note on an unknown
        # id is stored all the same (found by probing, see the module docstring).
        now = iso(self.clock())
        note_id = self.data.next_id()
        note = {
            "id": note_id,
            "created_at": now,
            "updated_at": now,
            "candidate_id": candidate_id,
            "application_id": application_id,
            "body": text,
            "type": "NOTE",
            "user_id": author,
            "visibility": NOTE_VISIBILITY[str(visibility)],
        }
        self.data.notes[note_id] = note
        return target, json_reply(201, note_json(self.data, note))

    def _patch_candidate(self, raw_id: str, body: dict[str, Any]) -> tuple[str, Reply]:
        ident = _int_id(raw_id)
        candidate = self.data.candidates.get(ident) if ident is not None else None
        if candidate is None or candidate.get("deleted"):
            return raw_id, error_reply(404, NOT_FOUND)
        problems: list[dict[str, Any]] = [
            {"message": "is not a permitted property", "field": name}
            for name in sorted(set(body) - CANDIDATE_FIELDS)
        ]
        for name in sorted(set(body) & (CANDIDATE_FIELDS - {"custom_fields"})):
            if body[name] is not None and not isinstance(body[name], str):
                problems.append({"message": "must be a string", "field": name})
        updates, field_problems = self._custom_field_updates(body.get("custom_fields", []))
        problems += field_problems
        if problems:
            return raw_id, _invalid(problems)
        for key, value in updates.items():
            if value is None:
                candidate["custom_fields"].pop(key, None)
            else:
                candidate["custom_fields"][key] = value
        for name in CANDIDATE_FIELDS - {"custom_fields"}:
            if name in body:
                candidate[name] = body[name]
        candidate["updated_at"] = iso(self.clock())
        return raw_id, json_reply(200, candidate_json(self.data, candidate))

    def _custom_field_updates(self, entries: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        if not isinstance(entries, list):
            return {}, [{"message": "must be an array", "field": "custom_fields"}]
        by_key = {f["name_key"]: f for f in self.data.custom_fields.values()}
        by_id = self.data.custom_fields
        updates: dict[str, Any] = {}
        problems: list[dict[str, Any]] = []
        for index, entry in enumerate(entries):
            where = f"custom_fields[{index}]"
            if not isinstance(entry, dict):
                problems.append({"message": "must be an object", "field": where})
                continue
            extra = sorted(set(entry) - CUSTOM_FIELD_VALUE_FIELDS)
            if extra:
                problems.append(
                    {"message": f"{', '.join(extra)}: not permitted properties", "field": where}
                )
                continue
            if ("name_key" in entry) == ("custom_field_id" in entry):
                problems.append(
                    {"message": "needs exactly one of name_key and custom_field_id", "field": where}
                )
                continue
            if "name_key" in entry:
                field = (
                    by_key.get(entry["name_key"]) if isinstance(entry["name_key"], str) else None
                )
            else:
                ident = _int_id(entry["custom_field_id"])
                field = by_id.get(ident) if ident is not None else None
            if field is None or field["field_type"] != "candidate":
                problems.append({"message": "is not a candidate custom field", "field": where})
                continue
            value = entry.get("value")
            problem = None if value is None else _value_problem(field["value_type"], value)
            if problem is not None:
                problems.append({"message": f"{field['name_key']}: {problem}", "field": where})
            else:
                updates[field["name_key"]] = value
        return updates, problems


def _value_problem(value_type: str, value: Any) -> str | None:
    """Why `value` cannot go into a field of `value_type` (None: it can)."""
    if value_type == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "must be a number"
        return None if math.isfinite(value) else "must be a finite number"
    if value_type == "yes_no":
        return None if isinstance(value, bool) else "must be true or false"
    if not isinstance(value, str):
        return f"must be a string for a {value_type} field"
    if value_type == "short_text" and len(value) > 255:
        return "is too long (maximum is 255 characters)"
    if value_type == "url" and not value.startswith(("http://", "https://")):
        return "must be a URL"
    return None
