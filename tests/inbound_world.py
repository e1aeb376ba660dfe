"""A push connector on the inbound queue, for the daemon tests of issue 12: the Lever-style kit
example (tests/kit_example), changed the way its guide says, to accept a webhook at once and
read the opportunity back from Lever later; a fake Lever whose reads can be held or failed; the
daemon's configuration; and an entry point so that a real `assessio-connect run` loads it.

Lever's facts (webhook body `id`, `event`, `triggeredAt`, `token`, `signature`, `data`; anything
but 2xx is retried): https://hire.lever.co/developer/documentation, "Receiving webhooks"
(restated in /work/shared/reference/ats-notes.md 1.4)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from assessio_connect import Answer, Connector, InboundEvent, Request, hookimpl
from assessio_connect.sandbox import Organisation
from kit_example import FakeLever, LeverConnector
from kit_example.connector import SIGNATURE

__all__ = [
    "API_KEY",
    "KIND",
    "SIGNATURE_TOKEN",
    "TRIGGER",
    "GatedLever",
    "QueuedLever",
    "assessio_register_connectors",
    "config_text",
    "install_entry_point",
    "organisation",
]

KIND = "queuedlever"
API_KEY = "lever-api-key-41c2d9"
SIGNATURE_TOKEN = "3b1f0c5d7a9e2b4c6d8f0a1c3e5b7d9f1a3c5e7b9d1f3a5c"
TRIGGER = "assessio-stage"
PROVIDER_KEY = "pk-inbound-7a3e"
INTEGRATOR_SECRET = "inbound-integrator-secret-5c1d"
RESULT_KEY = "inbound-result-key-9e0f"
HOLD_LIMIT = 30.0
"""Longest a held read waits for `release()` (a test that forgets to release still ends)."""


class QueuedLever(LeverConnector):
    """The kit example's Lever connector, accepting its webhook at once: the route checks the
    signature and queues the event under Lever's event `id`; `handle_event` reads the
    opportunity and its posting back from Lever (the body's `data` is not signed) and invites."""

    kind: ClassVar[str] = KIND

    def webhook(self, request: Request) -> Answer:
        event = request.json()
        SIGNATURE.verify(event, self.config.signature_tokens, now=self.context.now())
        data = event.get("data") if isinstance(event.get("data"), dict) else {}
        if event.get("event") != "candidateStageChange" or (
            data.get("toStageId") != self.config.trigger_stage
        ):
            return Answer.json(200, {"ignored": event.get("event")})
        key = event.get("id") if isinstance(event.get("id"), str) else ""
        return Answer.accepted(self.context.enqueue(key, request.body))

    def handle_event(self, event: InboundEvent) -> None:
        opportunity = event.json()["data"]["opportunityId"]
        self.context.invite(self.invitation(str(opportunity)))


@hookimpl
def assessio_register_connectors(register: Callable[[type[Connector]], None]) -> None:
    register(QueuedLever)


class GatedLever(FakeLever):
    """The fake Lever, whose opportunity reads a test can fail (`fail_reads`) or hold until
    `release()` (`hold()`), as a slow or failing Lever would answer the connector's callback."""

    def __init__(self) -> None:
        super().__init__(api_key=API_KEY, signature_token=SIGNATURE_TOKEN)
        self._open = threading.Event()
        self._open.set()
        self._failures = 0
        self._reads_lock = threading.Lock()
        self.reads = 0
        """Opportunity reads so far (held, failed and answered)."""
        self.held = threading.Event()
        """Set once a read is waiting at the held gate."""

    def hold(self) -> None:
        """Keep every opportunity read waiting from now on, until `release()`."""
        self.held.clear()
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def fail_reads(self, count: int) -> None:
        """Answer the next `count` opportunity reads 503 (Lever unavailable)."""
        with self._reads_lock:
            self._failures = count

    def _opportunity(self, request: Request) -> Answer:
        with self._reads_lock:
            self.reads += 1
            failing = self._failures > 0
            if failing:
                self._failures -= 1
        if failing:
            # Lever documents no 503 body; the error envelope of its other errors is kept.
            return Answer.json(503, {"code": "ServiceUnavailable", "message": "try later"})
        if not self._open.is_set():
            self.held.set()
            self._open.wait(HOLD_LIMIT)
        return super()._opportunity(request)


def organisation() -> Organisation:
    """The emulator's organisation the daemon's tenant orders for."""
    return Organisation(PROVIDER_KEY, INTEGRATOR_SECRET, result_api_key=RESULT_KEY)


def config_text(
    directory: Path, *, assessio_url: str, lever_url: str, port: int = 0, lease: float = 5.0
) -> str:
    """The daemon's configuration (one tenant, `acme`, on the queued Lever connector), with
    its secrets written to files beside it."""
    secrets = directory / "secrets"
    secrets.mkdir(parents=True, exist_ok=True)
    for name, value in {
        "provider_key": PROVIDER_KEY,
        "integrator_secret": INTEGRATOR_SECRET,
        "result_key": RESULT_KEY,
        "lever_api_key": API_KEY,
        "lever_signature_token": SIGNATURE_TOKEN,
    }.items():
        path = secrets / name
        path.write_text(value + "\n")
        path.chmod(0o600)
    public = f'public_url = "http://127.0.0.1:{port}"' if port else ""
    return f"""
[server]
listen = "127.0.0.1:{port}"
{public}

[store]
url = "sqlite:///state.db"

[delivery]
workers = 2
first_delay = 0.05
max_delay = 0.2
lease = {lease}

[tenants.acme]
base_url = "{assessio_url}"
provider_key = {{ file = "secrets/provider_key" }}
integrator_secret = {{ file = "secrets/integrator_secret" }}

[tenants.acme.webhook]
api_keys = [{{ file = "secrets/result_key" }}]

[tenants.acme.assessment]
lens = "General Performance"
locale = "en-GB"

[tenants.acme.ats]
kind = "{KIND}"
base_url = "{lever_url}/v1"
api_key = {{ file = "secrets/lever_api_key" }}
signature_tokens = [{{ file = "secrets/lever_signature_token" }}]
trigger_stage = "{TRIGGER}"
"""


def install_entry_point(site: Path) -> Path:
    """A distribution in `site` whose `assessio_connect` entry point is this module, as a
    third party's installed plugin would have: put `site` (and this folder) on PYTHONPATH and
    a real `assessio-connect` finds the connector."""
    info = site / "assessio_connect_queuedlever-0.1.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: assessio-connect-queuedlever\nVersion: 0.1\n"
    )
    (info / "entry_points.txt").write_text(f"[assessio_connect]\n{KIND} = inbound_world\n")
    return site
