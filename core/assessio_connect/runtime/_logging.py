"""One structured log line per event, as JSON or `key=value` text, with secrets scrubbed.

The log is on the hot path (a line per result webhook), so a line costs little: each field
value is scrubbed on its own (repeated values such as tenant names from a cache), every
configured secret is found in one pass of one regular expression, the credential shapes are
looked for only in text holding one of their words, and lines are written in batches: the
thread that finds no write in progress writes and flushes every line waiting until none is
left, so a line is written by its own thread or by one already writing, never after a timer,
and a crash can lose only the lines of its last moment.
"""

from __future__ import annotations

import functools
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
CACHED_VALUE_LENGTH = 200
"""Field values up to this length are scrubbed once and remembered (tenant names, outcomes)."""


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


_TRIGGER_WORDS = ("signature", "bearer", "basic", "key", "token", "secret", "password")
"""A word each credential shape holds: text without any of them holds no such shape."""
_TRIGGER = re.compile("|".join(_TRIGGER_WORDS), re.IGNORECASE)
_CREDENTIAL_FIELD = re.compile(rf"(?:{_CREDENTIAL_NAMES}|secret|token)\Z", re.IGNORECASE)
"""A field whose name ends like a credential's (`api_token`, `webhook_secret`) is redacted
whole, whatever its value."""
_PLAIN_TYPES = frozenset({int, float, bool})


def _may_hold_shape(text: str) -> bool:
    """False only when no credential shape can match `text` (the shapes ignore case)."""
    if text.isascii():
        lowered = text.lower()
        return (
            "key" in lowered
            or "token" in lowered
            or "secret" in lowered
            or "signature" in lowered
            or "bearer" in lowered
            or "basic" in lowered
            or "password" in lowered
        )
    return _TRIGGER.search(text) is not None  # the regex engine's own case folding


def _literals(words: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern matching any of `words`, longest first at each position: a trie of their
    characters, so a search costs one pass however many there are."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def alternatives(node: dict[str, Any]) -> str:
        branches = [re.escape(char) + alternatives(node[char]) for char in sorted(node) if char]
        if not branches:
            return ""
        ends_here = "" in node
        if len(branches) == 1 and not ends_here:
            return branches[0]
        group = "(?:" + "|".join(branches) + ")"
        return group + "?" if ends_here else group

    pattern = alternatives(trie)
    return re.compile(pattern) if pattern else None


class Scrubber:
    """Replaces every known secret value in a string, and anything shaped like a credential
    (a Signature's HMAC, a bearer or basic token, a named key or token echoed by an upstream),
    so that neither logs nor stored or printed errors carry one."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)
        # Longest first at each position, so a secret that contains another is replaced whole.
        self._pattern = _literals(self._secrets)

    def __repr__(self) -> str:
        return f"Scrubber({len(self._secrets)} secret(s))"

    def extended(self, secrets: Iterable[str]) -> Scrubber:
        """A scrubber of these secrets as well as this one's."""
        return Scrubber([*self._secrets, *secrets])

    def __call__(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(REDACTED, text)
        if _may_hold_shape(text):
            for pattern, replacement in _CREDENTIAL_SHAPES:
                text = pattern.sub(replacement, text)
        return text


def _text_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if not text or any(c in text for c in ' ="\n'):
        return json.dumps(text)
    return text


@functools.lru_cache(maxsize=1024)
def _is_credential_field(name: str) -> bool:
    return _CREDENTIAL_FIELD.search(name) is not None


class _Stamps:
    """`2026-12-06T10:00:00.123Z` for a time, formatting each second only once."""

    def __init__(self) -> None:
        self._second: tuple[int, str] = (-1, "")

    def __call__(self, now: float) -> str:
        whole = int(now)
        second = self._second
        if second[0] != whole:
            second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
            self._second = second  # one assignment: threads see the old pair or the new one
        return f"{second[1]}.{int((now - whole) * 1000):03d}Z"


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
        self._clock = clock
        self._stamp = _Stamps()
        self._use_scrubber(Scrubber(secrets))
        self._pending: list[str] = []
        self._pending_lock = threading.Lock()
        self._writing = False

    def _use_scrubber(self, scrub: Scrubber) -> None:
        self._scrub = scrub
        self._scrub_cached = functools.lru_cache(maxsize=4096)(scrub)

    def __call__(self, event: str, /, level: str = "info", **fields: Any) -> None:
        """Log one event; `fields` must be plain values (no secrets, no payloads)."""
        record: dict[str, Any] = {"ts": self._stamp(self._clock()), "level": level, "event": event}
        scrubbed = self._scrubbed
        for name, value in fields.items():
            if value is not None:
                record[name] = scrubbed(name, value)
        if self._format == "json":
            line = json.dumps(record, default=str, ensure_ascii=False)
        else:
            line = " ".join(f"{key}={_text_value(value)}" for key, value in record.items())
        self._write(line + "\n")

    def _scrubbed(self, name: str, value: Any) -> Any:
        if _is_credential_field(name):
            return REDACTED
        kind = type(value)
        if kind is str:
            if len(value) <= CACHED_VALUE_LENGTH:
                return self._scrub_cached(value)
            return self._scrub(value)
        if kind in _PLAIN_TYPES:
            return value
        # Lists, mappings and other objects: scrubbed as the JSON they are written as.
        return json.loads(self._scrub(json.dumps(value, default=str, ensure_ascii=False)))

    def _write(self, line: str) -> None:
        """Queue `line`; unless another thread is writing (it takes this line too), write
        every waiting line and flush, until none waits."""
        with self._pending_lock:
            self._pending.append(line)
            if self._writing:
                return
            self._writing = True
        try:
            while True:
                with self._pending_lock:
                    lines, self._pending = self._pending, []
                    if not lines:
                        self._writing = False
                        return
                self._stream.write("".join(lines))
                self._stream.flush()
        except BaseException:
            with self._pending_lock:
                self._writing = False
            raise

    def learn_secrets(self, secrets: Iterable[str]) -> None:
        """Scrub `secrets` too from now on (a reloaded configuration's), forgetting none."""
        self._use_scrubber(self._scrub.extended(secrets))

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
