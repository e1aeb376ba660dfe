"""HTTP transport: one shared urllib3 pool, explicit timeouts, a response-size cap, and retries.

The retry policy (documented in the README):

* GET is retried on connect errors, read errors, 429 and 5xx.
* POST is retried only where the request cannot have been processed: connect errors, 429 and
  503. A read timeout or a 500 after a POST may mean the order was taken, so it is not retried
  unless `RetryPolicy.post_retry_statuses` / `retry_post_on_read_error` say otherwise.
* Backoff is exponential with jitter; a `Retry-After` answer is honoured, capped.
* Every attempt rebuilds its headers, so a signed request gets a fresh timestamp and signature.
"""

from __future__ import annotations

import email.utils
import importlib.metadata
import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

from ._version import __version__
from .errors import APIError, TransportError, error_for_status

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "USER_AGENT",
    "HTTPResponse",
    "RetryPolicy",
    "Transport",
    "default_transport",
]

USER_AGENT = f"assessio-connect/{__version__} urllib3/{importlib.metadata.version('urllib3')}"
DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024
_CHUNK = 64 * 1024


@attrs.frozen
class RetryPolicy:
    """When and how long to wait before trying a request again."""

    max_attempts: int = 4
    backoff_initial: float = 0.5
    backoff_factor: float = 2.0
    backoff_max: float = 10.0
    retry_after_cap: float = 60.0
    jitter: float = 0.25
    get_retry_statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})
    post_retry_statuses: frozenset[int] = frozenset({429, 503})
    retry_post_on_read_error: bool = False

    def retries_status(self, method: str, status: int) -> bool:
        """Whether an answer with `status` to `method` may be tried again."""
        allowed = self.get_retry_statuses if method == "GET" else self.post_retry_statuses
        return status in allowed

    def retries_read_error(self, method: str) -> bool:
        """Whether a failure after the request was sent may be tried again."""
        return method == "GET" or self.retry_post_on_read_error

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before attempt `attempt + 1` (attempts count from 1)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.retry_after_cap)
        base = min(self.backoff_initial * self.backoff_factor ** (attempt - 1), self.backoff_max)
        return base * (1 + self.jitter * (2 * rng.random() - 1))


NO_RETRIES = RetryPolicy(max_attempts=1)


@attrs.frozen
class HTTPResponse:
    """A complete, size-capped response."""

    status: int
    headers: Mapping[str, str]
    body: bytes


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(when.timestamp() - now, 0.0)


class Transport:
    """Sends requests through one keep-alive `PoolManager`, shared by every client and tenant."""

    def __init__(
        self,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        user_agent: str = USER_AGENT,
        pool_maxsize: int = 10,
        pool_manager: urllib3.PoolManager | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        if connect_timeout <= 0 or read_timeout <= 0:
            raise ValueError("timeouts must be positive; an infinite timeout can hang a worker")
        self.timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        self.max_response_bytes = max_response_bytes
        self.user_agent = user_agent
        self.pool = pool_manager or urllib3.PoolManager(maxsize=pool_maxsize, block=False)
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter needs no cryptographic randomness

    def send(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Callable[[], Mapping[str, str]] | Mapping[str, str] | None = None,
        retry: RetryPolicy = NO_RETRIES,
    ) -> HTTPResponse:
        """Send, retrying per `retry`; return a 2xx response or raise `APIError`/`TransportError`.

        `headers` may be a callable, called once per attempt (for fresh signatures).
        """
        attempt = 0
        while True:
            attempt += 1
            last = attempt >= retry.max_attempts
            built = dict(headers() if callable(headers) else headers or {})
            built.setdefault("User-Agent", self.user_agent)
            try:
                response = self._once(method, url, body, built)
            except _ConnectFailure as exc:
                if last:
                    raise exc.error from None
                self._sleep(retry.delay(attempt, None, self._rng))
                continue
            except _ReadFailure as exc:
                if last or not retry.retries_read_error(method):
                    raise exc.error from None
                self._sleep(retry.delay(attempt, None, self._rng))
                continue
            if 200 <= response.status <= 299:
                return response
            retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
            error: APIError = error_for_status(
                response.status, response.body, method=method, url=url, retry_after=retry_after
            )
            if last or not retry.retries_status(method, response.status):
                raise error
            self._sleep(retry.delay(attempt, retry_after, self._rng))

    def exchange(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HTTPResponse:
        """Send once and return the complete (size-capped) response whatever its status, for
        callers that must read an error body whole (e.g. a SOAP fault); `send` keeps only an
        excerpt in its `APIError`. Raises `TransportError` when no complete response arrived."""
        built = dict(headers or {})
        built.setdefault("User-Agent", self.user_agent)
        try:
            return self._once(method, url, body, built)
        except (_ConnectFailure, _ReadFailure) as exc:
            raise exc.error from None

    def _once(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str]
    ) -> HTTPResponse:
        try:
            raw: Any = self.pool.request(
                method,
                url,
                body=body,
                headers=headers,
                timeout=self.timeout,
                retries=False,
                redirect=False,
                preload_content=False,
            )
        except (NewConnectionError, ConnectTimeoutError) as exc:
            raise _ConnectFailure(
                TransportError(
                    f"could not connect for {method} {url}: {_reason(exc)}", method=method, url=url
                )
            ) from None
        except (ReadTimeoutError, ProtocolError, HTTPError) as exc:
            raise _ReadFailure(
                TransportError(
                    f"no complete response to {method} {url}: {_reason(exc)}",
                    method=method,
                    url=url,
                )
            ) from None
        try:
            data = self._read_capped(raw, method, url)
        finally:
            raw.release_conn()
        return HTTPResponse(status=raw.status, headers=dict(raw.headers), body=data)

    def _read_capped(self, raw: Any, method: str, url: str) -> bytes:
        cap = self.max_response_bytes
        too_large = TransportError(
            f"response to {method} {url} is larger than {cap} bytes; refusing to read it",
            method=method,
            url=url,
        )
        declared = raw.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > cap:
            raw.close()
            raise _ReadFailure(too_large)
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in raw.stream(_CHUNK):
                size += len(chunk)
                if size > cap:
                    raw.close()
                    raise _ReadFailure(too_large)
                chunks.append(chunk)
        except (ReadTimeoutError, ProtocolError, HTTPError) as exc:
            raise _ReadFailure(
                TransportError(
                    f"response to {method} {url} was cut short: {_reason(exc)}",
                    method=method,
                    url=url,
                )
            ) from None
        return b"".join(chunks)

    def close(self) -> None:
        """Close every pooled connection."""
        self.pool.clear()


def _reason(exc: BaseException) -> str:
    text = str(exc)
    # urllib3 prefixes the connection object's repr ("<...HTTPConnection object at 0x..>: ");
    # the part after it is what a person needs.
    if ">: " in text:
        text = text.split(">: ", 1)[1]
    return text or type(exc).__name__


class _ConnectFailure(Exception):
    """The request never reached the server: safe to resend any method."""

    def __init__(self, error: TransportError) -> None:
        super().__init__(str(error))
        self.error = error


class _ReadFailure(Exception):
    """The request may have reached the server: resend only idempotent methods."""

    def __init__(self, error: TransportError) -> None:
        super().__init__(str(error))
        self.error = error


_default: Transport | None = None
_default_lock = threading.Lock()


def default_transport() -> Transport:
    """The process-wide transport that clients share unless given their own."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Transport()
        return _default
