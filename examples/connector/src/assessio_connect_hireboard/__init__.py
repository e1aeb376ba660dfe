"""A Hireboard connector for assessio-connect (`kind = "hireboard"`): the example connector.

Hireboard is an imaginary ATS with a JSON REST API and web hooks; this package is the
walk-through in its README, written the way a third party writes a connector. Hireboard's
documentation is `HIREBOARD-API.md` next to the README: what follows summarises it.

**In: a web hook.** When an application moves to another stage, Hireboard POSTs to
`{daemon}/connectors/{tenant}/webhook`::

    {"id": "evt_1", "type": "application.stage_changed", "created_at": 1700000000,
     "data": {"application": {"id": "apl_1", "stage": "assessment"},
              "job": {"id": "job_1", "title": "Backend Engineer", "department": "Engineering"},
              "candidate": {"id": "cnd_1", "email": "ada@example.com",
                            "first_name": "Ada", "last_name": "Lovelace"}}}

signed with `Hireboard-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">` keyed with the
web hook secret. A move into `trigger_stage` orders an assessment (202); other events answer
200 and are ignored; a bad signature 401; an unreadable body 422.

**Out: results.** `POST {base_url}/v1/applications/{id}/assessment-results` with
`Authorization: Bearer <api_key>` and `Idempotency-Key: assessio-<resultId>-v<version>`, so a
repeat stores nothing new. 408, 425, 429 and 5xx but 501 are retried (with Hireboard's
`Retry-After`); other 4xx are permanent.
"""

from __future__ import annotations

from ._connector import (
    API_VERSION,
    MAX_EVENT_BYTES,
    SIGNATURE_HEADER,
    HireboardConfig,
    HireboardConnector,
    idempotency_key,
    parse_event,
    sign,
)

__all__ = [
    "API_VERSION",
    "MAX_EVENT_BYTES",
    "SIGNATURE_HEADER",
    "HireboardConfig",
    "HireboardConnector",
    "idempotency_key",
    "parse_event",
    "sign",
]
