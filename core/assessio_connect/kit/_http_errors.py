"""An ATS's HTTP failures as the connector errors the daemon understands: `RetryableError`
(with the server's `Retry-After`) for what may pass, `PermanentError` for what will not."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from http import HTTPStatus

from assessio_connect.contract.errors import (
    APIError,
    ConnectorError,
    PermanentError,
    RetryableError,
    TransportError,
    _excerpt,
)
from assessio_connect.contract.transport import parse_retry_after
from assessio_connect.runtime._logging import Scrubber

__all__ = [
    "RETRYABLE_STATUSES",
    "as_connector_errors",
    "connector_error",
    "is_retryable_status",
    "retry_after_seconds",
    "status_error",
]

RETRYABLE_STATUSES = frozenset({408, 425, 429})
"""Client errors worth another try: timeout, too early, too many requests (and 5xx but 501)."""


def is_retryable_status(status: int) -> bool:
    """408, 425, 429 and every 5xx but 501 (Not Implemented will not start working)."""
    return status in RETRYABLE_STATUSES or (500 <= status <= 599 and status != 501)


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or HTTP date), or None."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    return parse_retry_after(value, time.time() if now is None else now)


def _phrase(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def status_error(
    status: int,
    body: bytes = b"",
    *,
    what: str,
    retry_after: float | None = None,
    secrets: Iterable[str] = (),
    credentials_hint: str | None = None,
) -> ConnectorError:
    """The error for an ATS answering `status` while the connector tried to `what` (e.g.
    "write the note to Lever"), with a short body excerpt, scrubbed of `secrets` and of
    anything shaped like a credential. 401/403 add `credentials_hint` if given."""
    excerpt = Scrubber(secrets)(_excerpt(body))
    message = f"could not {what}: HTTP {_phrase(status)}" + (f": {excerpt}" if excerpt else "")
    if is_retryable_status(status):
        return RetryableError(message, retry_after=retry_after)
    if status in (401, 403) and credentials_hint:
        message += f" ({credentials_hint})"
    return PermanentError(message)


def connector_error(
    exc: APIError | TransportError,
    *,
    what: str,
    secrets: Iterable[str] = (),
    credentials_hint: str | None = None,
) -> ConnectorError:
    """`status_error` for an error from `Transport.send`; no response at all (refused,
    timed out, cut short) is retryable."""
    if isinstance(exc, TransportError):
        return RetryableError(f"could not {what}: {Scrubber(secrets)(str(exc))}")
    return status_error(
        exc.status,
        exc.body_excerpt.encode("utf-8"),
        what=what,
        retry_after=exc.retry_after,
        secrets=secrets,
        credentials_hint=credentials_hint,
    )


@contextmanager
def as_connector_errors(
    what: str, *, secrets: Iterable[str] = (), credentials_hint: str | None = None
) -> Iterator[None]:
    """Turn the `APIError`/`TransportError` of `Transport.send` inside the block into
    `RetryableError`/`PermanentError`:

        with as_connector_errors("write the note to Lever", credentials_hint="check api_key"):
            context.transport.send("POST", url, body=body, headers=headers)
    """
    try:
        yield
    except (APIError, TransportError) as exc:
        raise connector_error(
            exc, what=what, secrets=secrets, credentials_hint=credentials_hint
        ) from None
