"""One HTTP exchange through the daemon's shared connection pool that hands back any status.

`Transport.send` turns an error status into an `APIError` that keeps only a 300-character
excerpt of the body, but a SOAP fault has to be read whole to tell a validation error from a
server failure. This uses the same pool, timeouts, size cap and User-Agent, one attempt, and
leaves the status to the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from urllib3.exceptions import HTTPError

from assessio_connect.errors import TransportError
from assessio_connect.transport import HTTPResponse, Transport

__all__ = ["exchange"]

_CHUNK = 64 * 1024


def _reason(exc: BaseException) -> str:
    text = str(exc)
    if ">: " in text:  # urllib3 prefixes the connection object's repr
        text = text.split(">: ", 1)[1]
    return text or type(exc).__name__


def exchange(
    transport: Transport,
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> HTTPResponse:
    """Send once; return the complete response whatever its status.

    Raises `TransportError` when no complete response arrived (connect or read failure,
    timeout) or when it is larger than the transport's `max_response_bytes`."""
    sent = dict(headers or {})
    sent.setdefault("User-Agent", transport.user_agent)
    try:
        raw: Any = transport.pool.request(
            method,
            url,
            body=body,
            headers=sent,
            timeout=transport.timeout,
            retries=False,
            redirect=False,
            preload_content=False,
        )
    except HTTPError as exc:
        raise TransportError(
            f"no response to {method} {url}: {_reason(exc)}", method=method, url=url
        ) from None
    try:
        return HTTPResponse(
            status=int(raw.status),
            headers=dict(raw.headers),
            body=_read_capped(raw, transport.max_response_bytes, method, url),
        )
    finally:
        raw.release_conn()


def _read_capped(raw: Any, cap: int, method: str, url: str) -> bytes:
    too_large = TransportError(
        f"the response to {method} {url} is larger than {cap} bytes; refusing to read it",
        method=method,
        url=url,
    )
    declared = raw.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > cap:
        raw.close()
        raise too_large
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in raw.stream(_CHUNK):
            size += len(chunk)
            if size > cap:
                raw.close()
                raise too_large
            chunks.append(chunk)
    except HTTPError as exc:
        raise TransportError(
            f"the response to {method} {url} was cut short: {_reason(exc)}",
            method=method,
            url=url,
        ) from None
    return b"".join(chunks)
