"""`assessio-connect demo`: the whole Assessio round trip on one machine, nothing to install.

It starts the Assessio emulator and a result receiver on 127.0.0.1, reads the lenses, orders
assessments for a few candidates (signed), lets the emulator complete them, and waits until each
result has arrived at the receiver authenticated with both an integrator-api-key and a Signature.
The emulator is told to fail the first delivery and to deliver every result twice, so the demo
also shows retries and duplicates being absorbed.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

import attrs

from ._server import BackgroundServer
from ._wsgi import RequestBodyError, read_body, request_headers
from .client import AssessioClient
from .errors import AssessioError
from .models import AssessmentOrder, CandidateDetails, Recruitment, Result
from .sandbox import DeliverySchedule, Organisation, Sandbox
from .webhook import WebhookAuth, parse_result

__all__ = ["DemoReceiver", "run_demo"]

_MAX_BODY = 1024 * 1024
_NAMES = ["Åsa Öberg", "Björn Lind", "Chidi Okafor", "Dana Levi", "Eero Mäkinen", "Fatima Zahra"]


@attrs.frozen
class Arrival:
    """A result as the receiver first accepted it."""

    result: Result
    received_at: float


class DemoReceiver:
    """A small in-memory result webhook: authenticates, validates, deduplicates, answers."""

    def __init__(self, auth: WebhookAuth, clock: Callable[[], float] = time.monotonic) -> None:
        self._auth = auth
        self._clock = clock
        self._lock = threading.Condition()
        self.arrivals: dict[str, Arrival] = {}
        self.duplicates = 0
        self.rejected = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        status, body = self._handle(environ)
        start_response(status, [("Content-Type", "application/json")])
        return [body]

    def _handle(self, environ: dict[str, Any]) -> tuple[str, bytes]:
        if environ["REQUEST_METHOD"] != "POST":
            return "405 Method Not Allowed", b'{"error":"POST a result here"}'
        try:
            body = read_body(environ, _MAX_BODY)
        except RequestBodyError as exc:
            phrase = HTTPStatus(exc.status).phrase
            return f"{exc.status} {phrase}", json.dumps({"error": str(exc)}).encode()
        headers = request_headers(environ)
        try:
            self._auth.authenticate(headers, body)
            result = parse_result(body)
        except AssessioError:
            with self._lock:
                self.rejected += 1
            return "401 Unauthorized", b'{"error":"rejected"}'
        with self._lock:
            if result.result_id in self.arrivals:
                self.duplicates += 1
            else:
                self.arrivals[result.result_id] = Arrival(result, self._clock())
                self._lock.notify_all()
        return "200 OK", b'{"status":"stored"}'

    def wait_for(self, count: int, timeout: float, on_progress: Callable[[int], None]) -> bool:
        """Block until `count` distinct results have arrived; report progress on each one."""
        deadline = self._clock() + timeout
        seen = -1
        with self._lock:
            while True:
                if len(self.arrivals) != seen:
                    seen = len(self.arrivals)
                    on_progress(seen)
                if seen >= count:
                    return True
                remaining = deadline - self._clock()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)


def run_demo(
    candidates: int, echo: Callable[[str], None], *, completion_delay: float = 0.5
) -> bool:
    """Run the round trip for `candidates` candidates; True when every result arrived."""
    provider_key = "demo-organisation"
    integrator_secret = secrets.token_urlsafe(24)
    api_key = secrets.token_urlsafe(24)
    signing_secret = secrets.token_urlsafe(24)
    organisation = Organisation(
        provider_key=provider_key,
        integrator_secret=integrator_secret,
        result_api_key=api_key,
        result_signing_secret=signing_secret,
    )
    receiver = DemoReceiver(WebhookAuth(api_keys=[api_key], signing_secrets=[signing_secret]))
    schedule = DeliverySchedule(first_retry=0.2, factor=2.0, max_interval=2.0, horizon=30.0)
    with (
        BackgroundServer(receiver) as inbox,
        Sandbox([organisation], completion_delay=completion_delay, delivery=schedule) as sandbox,
    ):
        echo(f"Assessio emulator   {sandbox.url}")
        echo(f"result receiver     {inbox.url}/results/<resultId>")
        sandbox.faults.fail_deliveries(1)
        sandbox.faults.duplicate_deliveries(True)
        client = AssessioClient(provider_key, integrator_secret, base_url=sandbox.url)
        config = client.get_config()
        echo(
            f"config              {len(config.available_lenses)} lenses, "
            f"locales {', '.join(config.available_locales)}"
        )
        ordered: dict[str, tuple[str, str, float]] = {}
        for index in range(candidates):
            lens = config.available_lenses[index % len(config.available_lenses)]
            name = _NAMES[index % len(_NAMES)]
            email = f"candidate{index + 1}@example.com"
            result_id = f"demo-{index + 1:03d}"
            order = AssessmentOrder(
                recruitment=Recruitment(f"job-{lens.id[:8]}", f"{lens.name} role", "Demo job"),
                result_update_url=f"{inbox.url}/results/{result_id}",
                result_id=result_id,
                lens_id=lens.id,
                locale=config.available_locales[index % len(config.available_locales)],
                candidate_details=CandidateDetails(email),
            )
            if index % 2:
                link = client.create_order_link(order).assessment_package_link
                echo(f"ordered             {name:<14} {lens.name} (link {link})")
            else:
                reference = client.create_order(order)
                echo(f"ordered             {name:<14} {lens.name} (reference {reference})")
            ordered[result_id] = (name, lens.name, time.monotonic())

        def progress(count: int) -> None:
            echo(f"results             {count}/{candidates}")

        complete = receiver.wait_for(candidates, timeout=45.0, on_progress=progress)
        _print_table(echo, ordered, receiver)
        if complete:
            # Each result is POSTed twice; let the emulator record the second POST too.
            sandbox.wait_for_deliveries(
                lambda attempts: sum(a.delivered for a in attempts) >= 2 * candidates, timeout=5.0
            )
        deliveries = sandbox.deliveries()
    failed = sum(1 for attempt in deliveries if attempt.outcome != "delivered")
    echo(
        f"\n{len(receiver.arrivals)}/{candidates} results stored; {len(deliveries)} delivery "
        f"attempts, {failed} failed and retried, {receiver.duplicates} duplicates absorbed, "
        f"{receiver.rejected} rejected."
    )
    return complete


def _print_table(
    echo: Callable[[str], None],
    ordered: dict[str, tuple[str, str, float]],
    receiver: DemoReceiver,
) -> None:
    echo("")
    echo(f"{'CANDIDATE':<14}  {'LENS':<22}  {'SCORE':>5}  {'TOP SUBSCORE':<28}  {'SECONDS':>7}")
    for result_id, (name, lens, sent_at) in ordered.items():
        arrival = receiver.arrivals.get(result_id)
        if arrival is None:
            echo(f"{name:<14}  {lens:<22}  {'-':>5}  {'(no result yet)':<28}  {'-':>7}")
            continue
        result = arrival.result
        top = max(result.subscores.items(), key=lambda item: item[1], default=None)
        top_text = f"{top[0]} {top[1]}" if top else "-"
        score = "-" if result.score is None else str(result.score)
        seconds = arrival.received_at - sent_at
        echo(f"{name:<14}  {lens:<22}  {score:>5}  {top_text:<28}  {seconds:>7.2f}")
