"""Greenhouse's web hook sender, from grnhse/greenhouse-api-docs
source/includes/webhooks/_introduction.md: a JSON POST with a unique `Greenhouse-Event-ID`
header and `Signature: sha256 <hex>`, the HMAC-SHA256 of the entire raw body keyed with the
web hook's secret key (Unicode escaped as `\\u003c` before signing); a ping when the web hook is
saved; anything but HTTP 200 (or no answer) is a failure, retried for up to 7 attempts over
about 15 hours."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Callable
from typing import Any

import attrs
import urllib3

__all__ = [
    "EVENT_ID",
    "RETRY_DELAYS",
    "SIGNATURE",
    "WebhookDelivery",
    "WebhookSender",
    "greenhouse_json",
    "signature",
]

EVENT_ID = "Greenhouse-Event-ID"
SIGNATURE = "Signature"
RETRY_DELAYS = (60.0, 900.0, 3600.0, 7200.0, 14400.0, 28800.0)
"""Seconds before attempts 2..7: 1 m, 15 m, 60 m, 120 m, 240 m, 480 m (the documented table)."""


def greenhouse_json(data: Any) -> bytes:
    """JSON as Greenhouse sends it: non-ASCII and `<`, `>`, `&` escaped as `\\u…`."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()


def signature(body: bytes, secret_key: str) -> str:
    """The `Signature` header: the algorithm, a space, the hex HMAC-SHA256 of the raw body."""
    return "sha256 " + hmac.new(secret_key.encode(), body, hashlib.sha256).hexdigest()


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
    at: float


class WebhookSender:
    """Posts signed web hooks to one endpoint and retries failures on Greenhouse's schedule,
    scaled by `retry_factor()`, in background threads that `stop()` ends."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        retry_factor: Callable[[], float],
        on_delivery: Callable[[WebhookDelivery], None],
    ) -> None:
        self._clock = clock
        self._retry_factor = retry_factor
        self._on_delivery = on_delivery
        self._url: str | None = None
        self._secret: str | None = None
        self._events: dict[str, tuple[str, bytes]] = {}
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._http = urllib3.PoolManager(
            retries=False, timeout=urllib3.Timeout(connect=5.0, read=30.0)
        )

    def configure(self, url: str, secret_key: str) -> int | None:
        """Point web hooks at `url` and send the ping; returns its status."""
        self._url, self._secret = url, secret_key
        ping = greenhouse_json({"action": "ping", "payload": {"web_hook_id": 1}})
        return self.send("ping", ping, retry=False)

    def send(
        self, action: str, body: bytes, *, retry: bool, event_id: str | None = None
    ) -> int | None:
        """POST `body` with a fresh (or the given) event id; retried in the background when it
        fails and `retry`; returns the first attempt's status."""
        event_id = event_id or str(uuid.uuid4())
        self._events[event_id] = (action, body)
        status = self._attempt(event_id, action, body, 1)
        if status != 200 and retry:
            thread = threading.Thread(
                target=self._retry,
                args=(event_id, action, body),
                daemon=True,
                name=f"fake-greenhouse-retry-{event_id[:8]}",
            )
            self._threads.append(thread)
            thread.start()
        return status

    def redeliver(self, event_id: str) -> int | None:
        """Send an event again with the same id and body (no retries)."""
        action, body = self._events[event_id]
        return self.send(action, body, retry=False, event_id=event_id)

    def start(self) -> None:
        self._stopping.clear()

    def stop(self) -> None:
        self._stopping.set()
        for thread in list(self._threads):
            thread.join(timeout=5)
        self._threads.clear()
        self._http.clear()

    def _attempt(self, event_id: str, action: str, body: bytes, attempt: int) -> int | None:
        if self._url is None or self._secret is None:
            raise RuntimeError("call configure_webhook(url, secret_key) first")
        status: int | None = None
        problem: str | None = None
        try:
            response = self._http.request(
                "POST",
                self._url,
                body=body,
                headers={
                    "Content-Type": "application/json",
                    "User-Agent": "Greenhouse-Webhook (fake)",
                    EVENT_ID: event_id,
                    SIGNATURE: signature(body, self._secret),
                },
            )
            status = int(response.status)
        except urllib3.exceptions.HTTPError as exc:
            problem = f"{type(exc).__name__}: {exc}"
        self._on_delivery(
            WebhookDelivery(event_id, action, attempt, status, problem, self._clock())
        )
        return status

    def _retry(self, event_id: str, action: str, body: bytes) -> None:
        for attempt, delay in enumerate(RETRY_DELAYS, start=2):
            if self._stopping.wait(delay * self._retry_factor()):
                return
            if self._attempt(event_id, action, body, attempt) == 200:
                return
