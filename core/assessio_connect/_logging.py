"""One structured log line per event, as JSON or `key=value` text, with secrets scrubbed."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Literal, TextIO

__all__ = ["EventLog", "LogFormat", "Scrubber"]

LogFormat = Literal["json", "text"]
REDACTED = "[redacted]"


_CREDENTIAL_NAMES = (
    r"provider[-_]key|integrator[-_]api[-_]key|integrator[-_]secret|x-api-key|api[-_]key"
    r"|api[-_]token|access[-_]token|refresh[-_]token|id[-_]token|client[-_]secret|password"
)
_CREDENTIAL_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    # A `Signature` header's HMAC: `t=1700000000,signature=3f9a…` (the timestamp is harmless).
    (re.compile(r"\b(signature\s*=\s*)[0-9a-f]{16,}", re.IGNORECASE), rf"\1{REDACTED}"),
    # An Authorization header: `Bearer eyJ…`, `Basic dXNlcjpwYXNz`; a basic token holds a digit,
    # a symbol or a capital after a small letter, which keeps "basic authentication" readable.
    (re.compile(r"\b(bearer)(\s+)[A-Za-z0-9\-._~+/]{8,}=*", re.IGNORECASE), rf"\1\2{REDACTED}"),
    (
        re.compile(
            r"\b(basic)(\s+)(?=[A-Za-z0-9\-._~+/]*(?-i:[0-9+/_~]|[a-z][A-Z]))"
            r"[A-Za-z0-9\-._~+/]{8,}=*",
            re.IGNORECASE,
        ),
        rf"\1\2{REDACTED}",
    ),
    # A named credential echoed as a header, JSON member, form field or query parameter:
    # `provider-key: pk-…`, `"refresh_token": "…"`, `client_secret=…`.
    (
        re.compile(
            rf"\b({_CREDENTIAL_NAMES})([\"']?\s*[:=]\s*[\"']?)"
            r"(?!(?:null|none|true|false)\b)[A-Za-z0-9\-._~+/][^\s\"',;&}\]<>]*",
            re.IGNORECASE,
        ),
        rf"\1\2{REDACTED}",
    ),
)


class Scrubber:
    """Replaces every known secret value in a string, and anything shaped like a credential
    (a Signature's HMAC, a bearer or basic token, a named key or token echoed by an upstream),
    so that neither logs nor stored or printed errors carry one."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret that contains another is replaced whole.
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def __repr__(self) -> str:
        return f"Scrubber({len(self._secrets)} secret(s))"

    def extended(self, secrets: Iterable[str]) -> Scrubber:
        """A scrubber of these secrets as well as this one's."""
        return Scrubber([*self._secrets, *secrets])

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        for pattern, replacement in _CREDENTIAL_SHAPES:
            text = pattern.sub(replacement, text)
        return text


def _text_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if not text or any(c in text for c in ' ="\n'):
        return json.dumps(text)
    return text


class EventLog:
    """Writes `event` lines such as `ts=… level=info event=result.received tenant=acme`."""

    def __init__(
        self,
        stream: TextIO,
        *,
        format: LogFormat = "text",
        secrets: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._stream = stream
        self._format = format
        self._scrub = Scrubber(secrets)
        self._clock = clock
        self._lock = threading.Lock()

    def __call__(self, event: str, /, level: str = "info", **fields: Any) -> None:
        """Log one event; `fields` must be plain values (no secrets, no payloads)."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._clock()))
        record: dict[str, Any] = {"ts": stamp, "level": level, "event": event}
        record.update((k, v) for k, v in fields.items() if v is not None)
        if self._format == "json":
            line = json.dumps(record, default=str, ensure_ascii=False)
        else:
            line = " ".join(f"{key}={_text_value(value)}" for key, value in record.items())
        line = self._scrub(line)
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()

    def learn_secrets(self, secrets: Iterable[str]) -> None:
        """Scrub `secrets` too from now on (a reloaded configuration's), forgetting none."""
        self._scrub = self._scrub.extended(secrets)

    def handler(self) -> logging.Handler:
        """A `logging` handler that sends library log records (waitress, urllib3) through here."""
        return _EventLogHandler(self)


class _EventLogHandler(logging.Handler):
    def __init__(self, log: EventLog) -> None:
        super().__init__(logging.INFO)
        self._log = log

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a malformed library log call must not break the daemon
            message = str(record.msg)
        self._log(
            "library.log",
            level=record.levelname.lower(),
            logger=record.name,
            message=message,
        )
