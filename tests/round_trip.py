"""One busy round trip through a running daemon of the two-tenant test world, for tests that
look at what an operator sees afterwards (metrics, log lines).

acme (push style) gets two candidates and globex (polled) one; Assessio's emulator completes
each and posts the results. acme's ATS refuses the first write-back for good (422), so that
delivery is dead-lettered; the others are written back. Then a duplicate, an orphan and three
rejected webhooks (a wrong key, a tenant nobody configured, a body that is not JSON) are posted
by hand: eight requests to result routes in all.
"""

from __future__ import annotations

import json

import attrs
import urllib3

from assessio_connect.store import DeliveryState, Store
from daemon_harness import SECRETS, Harness, wait_until

__all__ = ["RoundTrip", "post", "run_round_trip"]

JOB = {"id": "job-7", "title": "Backend Engineer", "department": "Engineering"}
ORPHAN_ID = "r-nobody-ordered"
FORGED_TENANT = "tenant-nobody-configured"


@attrs.frozen
class RoundTrip:
    """What the round trip did, to compare with what the daemon reports."""

    dead_result_id: str
    delivered_result_ids: tuple[str, ...]
    candidate_data: frozenset[str]
    """Every application id, result id, candidate id and e-mail used: none may be a label."""
    result_requests: int
    """Requests made to result routes (each must be one log line)."""


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST `body` and return the status, whatever it is."""
    return urllib3.request("POST", url, body=body, headers=headers, timeout=10).status


def run_round_trip(world: Harness, url: str, store: Store) -> RoundTrip:
    """Drive the daemon at `url` through the round trip above and wait, reading its `store`,
    until it settled."""
    candidates = [
        ("acme", "acme-app-1", "cand-1", "ada.lovelace@acme.example"),
        ("acme", "acme-app-2", "cand-2", "alan.turing@acme.example"),
        ("globex", "globex-app-1", "cand-3", "grace.hopper@globex.example"),
    ]
    for tenant, application_id, candidate_id, email in candidates:
        ats = world.acme_ats if tenant == "acme" else world.globex_ats
        body = ats.add_invitation(
            application_id, job=JOB, candidate={"id": candidate_id, "email": email}
        )
        if tenant == "acme":
            assert ats.push_event(f"{url}/connectors/acme/events", body) == 202
    orders = world.wait_for_orders(3)
    wait_until(lambda: len(store.list_orders(limit=10)) == 3, 10, what="three orders")
    by_application = {o.application_id: o for o in store.list_orders(limit=10)}
    dead = by_application["acme-app-1"].result_id
    delivered = (by_application["acme-app-2"].result_id, by_application["globex-app-1"].result_id)
    keys = {o.order.result_id: o.provider_key for o in orders}

    world.acme_ats.fail_next(1, status=422)
    world.sandbox.complete(dead, provider_key=keys[dead])
    wait_until(
        lambda: len(store.list_deliveries(state=DeliveryState.DEAD)) == 1,
        10,
        what="the refused write-back dead-lettered",
    )
    for result_id in delivered:
        world.sandbox.complete(result_id, provider_key=keys[result_id])
    wait_until(
        lambda: len(store.list_deliveries(state=DeliveryState.DELIVERED)) == 2,
        10,
        what="two write-backs delivered",
    )

    acme_key = {
        "Content-Type": "application/json",
        "integrator-api-key": SECRETS["acme_result_key"],
    }
    stored = store.get_result("acme", delivered[0])
    assert stored is not None
    acme = f"{url}/results/acme"
    assert post(f"{acme}/{delivered[0]}", stored.payload, acme_key) == 200  # a duplicate
    orphan = json.dumps({"resultId": ORPHAN_ID, "score": 50}).encode()
    assert post(f"{acme}/{ORPHAN_ID}", orphan, acme_key) == 202
    wrong_key = {**acme_key, "integrator-api-key": "not-the-key"}
    assert post(f"{acme}/{delivered[0]}", stored.payload, wrong_key) == 401
    forged = f"{url}/results/{FORGED_TENANT}/{delivered[0]}"
    assert post(forged, stored.payload, acme_key) == 401
    text = {**acme_key, "Content-Type": "text/plain"}
    assert post(f"{acme}/{delivered[0]}", stored.payload, text) == 415

    data = {dead, *delivered, ORPHAN_ID}
    for _tenant, application_id, candidate_id, email in candidates:
        data.update((application_id, candidate_id, email))
    return RoundTrip(dead, delivered, frozenset(data), result_requests=3 + 5)
