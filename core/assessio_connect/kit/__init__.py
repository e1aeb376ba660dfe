"""The connector author's kit: what every connector otherwise writes by hand.

- push routes: `Routes` (a WSGI app of plain functions `(Request) -> Answer`), `Request`,
  `Answer`, `RequestRefused`;
- webhook signatures: `BodyHmac`, `FieldsHmac`, `TimestampedHmac` (rotation, constant time);
- calls to the ATS: `AtsHttp` over the daemon's `Transport`, `RateLimiter`, and the status
  mapping `status_error`/`connector_error`/`as_connector_errors`;
- paging: `LinkHeaderPages`, `CursorPages`, `OffsetPages`, `parse_link_header`;
- idempotent write-backs: `Receipts` in the connector's durable state;
- reading an ATS's JSON: `PayloadReader` (every problem with its path), `email_problem`,
  `json_type`.

Fakes of an ATS are served from tests with `assessio_connect.testing.ServedApp`.
"""

from __future__ import annotations

from ._answer import Answer
from ._ats_http import AtsHttp
from ._http_errors import (
    RETRYABLE_STATUSES,
    as_connector_errors,
    connector_error,
    is_retryable_status,
    retry_after_seconds,
    status_error,
)
from ._paging import (
    CursorPages,
    Link,
    LinkHeaderPages,
    OffsetPages,
    Page,
    PageRequest,
    Paginator,
    fetch_page,
    iterate_pages,
    next_link,
    parse_link_header,
)
from ._rate_limit import RateLimiter
from ._reading import PayloadReader, email_problem, json_type
from ._receipts import Receipts
from ._request import Request, RequestRefused
from ._routes import DEFAULT_MAX_BODY_BYTES, ErrorAnswer, Handler, Routes
from ._signatures import BodyHmac, FieldsHmac, SecretValue, SignedRequest, TimestampedHmac

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "RETRYABLE_STATUSES",
    "Answer",
    "AtsHttp",
    "BodyHmac",
    "CursorPages",
    "ErrorAnswer",
    "FieldsHmac",
    "Handler",
    "Link",
    "LinkHeaderPages",
    "OffsetPages",
    "Page",
    "PageRequest",
    "Paginator",
    "PayloadReader",
    "RateLimiter",
    "Receipts",
    "Request",
    "RequestRefused",
    "Routes",
    "SecretValue",
    "SignedRequest",
    "TimestampedHmac",
    "as_connector_errors",
    "connector_error",
    "email_problem",
    "fetch_page",
    "is_retryable_status",
    "iterate_pages",
    "json_type",
    "next_link",
    "parse_link_header",
    "retry_after_seconds",
    "status_error",
]
