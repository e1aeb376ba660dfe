"""The reference connector (`kind = "reference"`) for a small JSON-over-HTTP ATS, and a fake of it.

It is the runtime's own test connector and the example to read before writing one: it shows
both connector styles in a few hundred lines. The whole protocol of the "reference ATS":

**Push (events in).** When `webhook_secret` is set, the ATS POSTs each invitation to
`{daemon}/connectors/{tenant}/events` (the connector's app sees PATH_INFO `/events`)::

    {"event_id": "evt-1", "application_id": "app-1",
     "job": {"id": "job-7", "title": "Backend Engineer", "description": "…",
             "department": "Engineering", "hiring_team": ["lead@acme.example"]},
     "candidate": {"id": "cand-1", "email": "ada@example.com", "name": "Ada"},
     "lens": "General Performance", "locale": "en-GB"}

`job.description`, `job.department`, `job.hiring_team`, `candidate.name`, `lens` and `locale`
are optional; unknown fields are ignored. The header `X-Reference-Signature:
sha256=<hex HMAC-SHA256 of the raw body, keyed with webhook_secret>` must match (compared in
constant time). Answers, each `application/json`:

    ======  ============================================================================
    413     the body is over 256 KiB (refused before it is read)
    401     the signature is missing, malformed or wrong: `{"error": …}`
    415     the Content-Type is not `application/json`
    400     the body is not UTF-8 JSON
    422     the JSON breaks the shape above (`problems` lists each as `message @ $.path`),
            or no lens/locale fits it under the tenant's rules
    503     Assessio's lenses or the store cannot be read right now (`Retry-After`)
    404     any other path; 405 (with `Allow`) any other method
    202     `{"application_id": …, "result_id": …, "state": "pending" | "sent" | "failed"}`
    ======  ============================================================================

Repeats (the same event, or another event for a known `application_id`) are harmless: the
order is made once per application and the stored order is answered again.

**Pull (invitations polled).** When `poll = true`, the connector reads
`GET {base_url}/api/invitations?after=<cursor>&limit=<page_size>` (no `after` the first
time), answered with `{"invitations": [<event bodies as above>], "next": "<cursor>" | null}`
in the order of a sequence number the ATS increases monotonically; `next` is the sequence
number of the page's last item, as a string, or null for an empty page. The poller saves the
cursor and calls again at once while a page came back full. An item that cannot be read is
logged (`reference.invitation_skipped`) and skipped, so it cannot block the ones after it.

**Results written back.** `PUT {base_url}/api/applications/{application_id}/assessment`
with `{"result_id", "version", "score", "subscores", "report_url", "recruitment_url"}`.
Writing a version again is harmless. 2xx is delivered; 408, 425, 429, 5xx and network errors
are retried (`RetryableError`, with the ATS's `Retry-After`); 401 and 403 ("the api_token was
refused"), 400, 404, 422 and the rest are permanent (`PermanentError`, dead-lettered). A 409
whose error says "stale" means the ATS already holds a newer version of the result, which is
where this delivery was heading, so it counts as delivered.

**Authentication and check.** Every call to the ATS sends `Authorization: Bearer <api_token>`;
`check()` calls `GET {base_url}/api/ping`.

The configuration, `[tenants.NAME.ats]`::

    kind = "reference"
    base_url = "https://ats.example.com"
    api_token = { env = "ACME_ATS_TOKEN" }
    webhook_secret = { env = "ACME_ATS_WEBHOOK" }   # push style
    poll = false                                    # true: pull style (both may be on)
    poll_interval = 30.0
    page_size = 100

`ReferenceAts` is a stateful fake of that ATS for tests and the demo (see its docstring).
"""

from __future__ import annotations

from ._connector import (
    EVENTS_PATH,
    MAX_EVENT_BYTES,
    MAX_PAGE_SIZE,
    SIGNATURE_HEADER,
    ReferenceConfig,
    ReferenceConnector,
    parse_invitation,
    sign,
)
from ._demo import ReferenceDemo
from ._fake import AtsWrite, ReferenceAts, WritePredicate

__all__ = [
    "EVENTS_PATH",
    "MAX_EVENT_BYTES",
    "MAX_PAGE_SIZE",
    "SIGNATURE_HEADER",
    "AtsWrite",
    "ReferenceAts",
    "ReferenceConfig",
    "ReferenceConnector",
    "ReferenceDemo",
    "WritePredicate",
    "parse_invitation",
    "sign",
]
