"""Web hook mode end to end through a real daemon over HTTP on 127.0.0.1: a stage change in the
fake Greenhouse is answered 200 at once and queued, the daemon's inbound worker orders an
assessment at the emulator, and the result comes back as a Harvest v3 note and candidate custom
fields (OAuth client credentials), through rate limits, expired tokens, duplicate and forged
web hooks, Harvest failing while the event is handled, result updates and permanent errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import urllib3
from greenhouse_parts import recruitment_of
from greenhouse_world import GENERAL, KEYS, SALES, wait_until, world

from assessio_connect import Daemon
from assessio_connect_greenhouse import SIGNATURE
from assessio_connect_greenhouse.fake import FakeGreenhouse

Check = Callable[[FakeGreenhouse], object]


def has_fields(candidate: int) -> Check:
    def check(greenhouse: FakeGreenhouse) -> object:
        return greenhouse.custom_field_values(candidate)

    return check


def notes_count(candidate: int, count: int) -> Check:
    def check(greenhouse: FakeGreenhouse) -> object:
        return len(greenhouse.notes(candidate)) >= count

    return check


def deliveries(daemon: Daemon, state: str) -> list[Any]:
    """The deliveries in `state` ("delivered", "dead", …)."""
    return [d for d in daemon.store.list_deliveries() if d.state == state]


def dead_delivery(daemon: Daemon, result_id: str) -> Callable[[], bool]:
    def check() -> bool:
        return any(d.result_id == result_id for d in deliveries(daemon, "dead"))

    return check


def test_greenhouses_documented_stage_change_orders_and_lands_as_a_v3_note(
    tmp_path: Path,
) -> None:
    """The `candidate_stage_change` example of Greenhouse's web hook documentation
    (grnhse/greenhouse-api-docs, source/includes/webhooks/_candidate_events.md), byte for byte,
    orders through the daemon, and the result is written back on Harvest v3 only."""
    with world(tmp_path) as w:
        example = w.greenhouse.seed_documented_stage_change()
        application = example["payload"]["application"]
        candidate = int(application["candidate"]["id"])
        stages = "[{ id = 71416 }]"  # the example's current_stage ("Assessment")
        with w.daemon(w.webhook_ats(stages=stages)) as daemon:
            w.greenhouse.send_webhook_body(
                "candidate_stage_change", w.greenhouse.documented_stage_change_body()
            )
            (order,) = w.wait_for_orders(1)
            assert order.order.candidate_details.email == "giuseppe.hurley@example.com"
            assert order.order.recruitment.title == "Designer"
            assert order.order.recruitment.id == recruitment_of(3485)
            stored = daemon.store.find_order("acme", str(application["id"]))
            assert stored is not None
            result = w.sandbox.complete(order.order.result_id, provider_key=KEYS["provider_key"])
            w.greenhouse.wait_for(
                lambda g: g.custom_field_values(candidate).get("assessio_score") == result.score
            )
            (note,) = w.greenhouse.notes(candidate)
            assert note["body"].endswith(f"assessio-result: {order.order.result_id} v1")
            assert note["user_id"] == w.author  # the token's `sub`
        paths = {r.path for r in w.greenhouse.requests}
        assert {"/token", "/v3/notes", f"/v3/candidates/{candidate}"} <= paths
        assert not [p for p in paths if p.startswith(("/v1", "/v2"))]
        assert all(r.auth == "bearer" for r in w.greenhouse.requests if r.path.startswith("/v3"))


def test_stage_change_orders_and_the_result_lands_in_the_candidate(tmp_path: Path) -> None:
    with world(tmp_path) as w, w.daemon() as daemon:
        ada, ada_app = w.applicant("Ada", "ada@example.com")
        bo, bo_app = w.applicant("Bo", "bo@example.com", job=w.sales)
        w.greenhouse.move_to_stage(ada_app, "Application Review")  # not an assessment stage
        w.greenhouse.move_to_stage(ada_app, "Assessment")
        w.greenhouse.move_to_stage(bo_app, "Assessment")
        assert [d.status for d in w.greenhouse.deliveries] == [200, 200, 200, 200]  # + ping
        orders = {o.order.candidate_details.email: o for o in w.wait_for_orders(2)}
        assert sorted(orders) == ["ada@example.com", "bo@example.com"]  # personal, not work
        ada_order = orders["ada@example.com"].order
        assert ada_order.recruitment.id == recruitment_of(w.engineering)
        assert ada_order.recruitment.title == "Backend Engineer"
        assert ada_order.recruitment.description == "Builds things & more"
        assert ada_order.lens_id == GENERAL
        assert orders["bo@example.com"].order.lens_id == SALES  # the department rule

        result = w.sandbox.complete(ada_order.result_id, provider_key=KEYS["provider_key"])
        w.greenhouse.wait_for(has_fields(ada))
        (note,) = w.greenhouse.notes(ada)
        assert note["body"].startswith(f"Assessio assessment completed: score {result.score}/100")
        assert "(General Performance)" in note["body"]
        assert f"Report: {result.assessment_report_url}" in note["body"]
        assert note["body"].endswith(f"assessio-result: {ada_order.result_id} v1")
        assert note["visibility"] == "admin_only_visible"
        assert note["type"] == "NOTE"
        assert w.greenhouse.custom_field_values(ada) == {
            "assessio_score": result.score,
            "assessio_report": result.assessment_report_url,
        }
        writes = w.greenhouse.writes
        assert [(x.kind, x.status) for x in writes] == [("note", 201), ("custom_fields", 200)]
        assert {x.user_id for x in writes} == {w.author}
        assert w.greenhouse.notes(bo) == []
        wait_until(
            lambda: deliveries(daemon, "delivered"),
            what="the delivery to be marked delivered",
        )
    for secret in KEYS.values():
        assert secret not in w.log.getvalue()


def test_a_second_result_version_adds_an_updated_note_and_overwrites_fields(
    tmp_path: Path,
) -> None:
    with world(tmp_path) as w, w.daemon():
        ada, application = w.applicant("Ada", "ada@example.com")
        w.greenhouse.move_to_stage(application, "Assessment")
        (order,) = w.wait_for_orders(1)
        result_id = order.order.result_id
        w.sandbox.complete(result_id, score=40, provider_key=KEYS["provider_key"])
        w.greenhouse.wait_for(has_fields(ada))
        w.sandbox.complete(result_id, score=93, provider_key=KEYS["provider_key"])
        w.greenhouse.wait_for(notes_count(ada, 2))
        w.greenhouse.wait_for(lambda g: g.custom_field_values(ada)["assessio_score"] == 93)
        first, second = w.greenhouse.notes(ada)
        assert "score 40/100" in first["body"]
        assert second["body"].startswith(
            "Assessio assessment result updated (version 2): score 93/100"
        )
        assert second["body"].endswith(f"assessio-result: {result_id} v2")
        # Each version's first attempt wrote its note without searching the candidate's notes:
        # only a retry can find a note that its receipt does not know.
        searches = [r for r in w.greenhouse.requests if r.path == "/v3/notes" and r.method == "GET"]
        assert searches == []


def test_a_forged_signature_is_refused_and_orders_nothing(tmp_path: Path) -> None:
    with world(tmp_path, retry_factor=100.0) as w, w.daemon() as daemon:
        _, application = w.applicant("Ada", "ada@example.com")
        assert (
            w.greenhouse.configure_webhook(
                f"{daemon.url}/connectors/acme/webhook", "not-the-secret"
            )
            == 401
        )  # the ping fails: Greenhouse would create the web hook disabled
        w.greenhouse.move_to_stage(application, "Assessment")
        assert w.greenhouse.deliveries[-1].status == 401
        http = urllib3.PoolManager(retries=False)
        body = b'{"action":"ping","payload":{"web_hook_id":1}}'
        url = f"{daemon.url}/connectors/acme/webhook"
        unsigned = http.request("POST", url, body=body)
        assert unsigned.status == 401
        assert "no Signature header" in json.loads(unsigned.data)["message"]
        tampered = http.request(
            "POST",
            url,
            body=body.replace(b"1", b"2"),
            headers={SIGNATURE.header: SIGNATURE.sign(body, KEYS["webhook_secret"])},
        )
        assert tampered.status == 401
        signed = http.request(
            "POST",
            url,
            body=body,
            headers={SIGNATURE.header: SIGNATURE.sign(body, KEYS["webhook_secret"])},
        )
        assert signed.status == 200
        assert json.loads(signed.data) == {"status": "ok"}
        assert daemon.store.list_orders() == []
        assert w.sandbox.orders() == []


def test_a_redelivered_event_orders_once(tmp_path: Path) -> None:
    with world(tmp_path) as w, w.daemon() as daemon:
        _, application = w.applicant("Ada", "ada@example.com")
        event_id = w.greenhouse.move_to_stage(application, "Assessment")
        assert w.greenhouse.redeliver(event_id) == 200
        assert w.greenhouse.redeliver(event_id) == 200
        w.wait_for_orders(1)
        wait_until(
            lambda: [e for e in daemon.store.list_events() if e.state == "done"],
            what="the queued event to be handled",
        )
        (event,) = daemon.store.list_events()
        assert (event.tenant, event.key, event.attempts) == ("acme", event_id, 1)
        assert len(daemon.store.list_orders()) == 1
        log = w.log.getvalue()
        assert log.count("event=greenhouse.webhook_duplicate") == 2
        assert log.count("event=order.recorded") == 1
    assert len(w.sandbox.orders()) == 1


def test_a_rate_limited_harvest_is_retried_after_retry_after(tmp_path: Path) -> None:
    with world(tmp_path) as w, w.daemon() as daemon:
        ada, application = w.applicant("Ada", "ada@example.com")
        w.greenhouse.move_to_stage(application, "Assessment")
        (order,) = w.wait_for_orders(1)
        w.greenhouse.fail_next(1, 429, retry_after=1, path="/v3/notes")
        w.sandbox.complete(order.order.result_id, provider_key=KEYS["provider_key"])
        w.greenhouse.wait_for(has_fields(ada))
        calls = [r for r in w.greenhouse.requests if r.path == "/v3/notes"]
        assert calls[0].status == 429
        assert calls[1].at - calls[0].at >= 1.0  # Retry-After: 1 honoured
        (delivery,) = wait_until(
            lambda: deliveries(daemon, "delivered"),
            what="the delivery to be marked delivered",
        )
        assert delivery.attempts == 2
        assert len(w.greenhouse.notes(ada)) == 1
        (retry,) = [
            line for line in w.log.getvalue().splitlines() if "event=delivery.retry" in line
        ]
        fields = dict(part.split("=", 1) for part in retry.split() if "=" in part)
        assert float(fields["retry_in"]) >= 1.0  # the outbox scheduled it by Retry-After
        assert "HTTP 429" in retry


def test_an_expired_oauth_token_is_replaced(tmp_path: Path) -> None:
    with world(tmp_path) as w, w.daemon():
        ada, application = w.applicant("Ada", "ada@example.com")
        w.greenhouse.move_to_stage(application, "Assessment")
        (order,) = w.wait_for_orders(1)
        result_id = order.order.result_id
        w.sandbox.complete(result_id, score=55, provider_key=KEYS["provider_key"])
        w.greenhouse.wait_for(has_fields(ada))
        assert w.greenhouse.tokens_issued == 1
        w.greenhouse.expire_tokens()
        w.sandbox.complete(result_id, score=77, provider_key=KEYS["provider_key"])
        w.greenhouse.wait_for(lambda g: g.custom_field_values(ada)["assessio_score"] == 77)
        assert w.greenhouse.tokens_issued == 2
        refused = [r for r in w.greenhouse.requests if r.status == 401]
        assert len(refused) == 1
        harvest = [r for r in w.greenhouse.requests if r.path.startswith("/v3")]
        assert all(r.auth == "bearer" for r in harvest if r.status != 401)
        assert len(w.greenhouse.notes(ada)) == 2


def test_permanent_harvest_errors_are_dead_lettered_with_the_reason(tmp_path: Path) -> None:
    with world(tmp_path) as w, w.daemon() as daemon:
        gone, gone_app = w.applicant("Gone", "gone@example.com")
        bad, bad_app = w.applicant("Bad", "bad@example.com")
        w.greenhouse.move_to_stage(gone_app, "Assessment")
        w.greenhouse.move_to_stage(bad_app, "Assessment")
        orders = {o.order.candidate_details.email: o for o in w.wait_for_orders(2)}
        w.greenhouse.delete_candidate(gone)
        w.greenhouse.fail_next(1, 422, path=f"/v3/candidates/{bad}")
        for email in ("bad@example.com", "gone@example.com"):
            result_id = orders[email].order.result_id
            w.sandbox.complete(result_id, provider_key=KEYS["provider_key"])
            wait_until(
                dead_delivery(daemon, result_id), what=f"the delivery for {email} to be dead"
            )
        dead = deliveries(daemon, "dead")
        reasons = {d.result_id: d.last_error or "" for d in dead}
        gone_reason = reasons[orders["gone@example.com"].order.result_id]
        bad_reason = reasons[orders["bad@example.com"].order.result_id]
        assert f"write custom fields of candidate {gone}" in gone_reason
        assert "HTTP 404 Not Found: Resource not found" in gone_reason
        assert f"write custom fields of candidate {bad}" in bad_reason
        assert (
            "HTTP 422 Unprocessable Entity: Validation error; body: injected failure" in bad_reason
        )
        assert all(d.attempts == 1 for d in dead)
        assert w.greenhouse.custom_field_values(bad) == {}


def test_hiring_team_collaborators_and_harvest_failing_while_the_event_is_handled(
    tmp_path: Path,
) -> None:
    """Greenhouse gets its 200 at once; Harvest's 503 on the hiring team fails the queued
    event's first attempt, and the daemon's inbound worker (not Greenhouse) tries again."""
    with world(tmp_path) as w:
        ats = w.webhook_ats(extra="hiring_team_collaborators = true")
        with w.daemon(ats) as daemon:
            _, application = w.applicant("Ada", "ada@example.com")
            w.greenhouse.fail_next(1, 503, path="/v3/job_hiring_managers")
            event_id = w.greenhouse.move_to_stage(application, "Assessment")
            (order,) = w.wait_for_orders(1)
            deliveries = [d for d in w.greenhouse.deliveries if d.event_id == event_id]
            assert [(d.attempt, d.status) for d in deliveries] == [(1, 200)]
            reads = [r for r in w.greenhouse.requests if r.path == "/v3/job_hiring_managers"]
            assert [r.status for r in reads] == [503, 200]
            (event,) = wait_until(
                lambda: [e for e in daemon.store.list_events() if e.state == "done"],
                what="the queued event to be handled",
            )
            assert (event.key, event.attempts) == (event_id, 2)
            assert "event=event.retry" in w.log.getvalue()
            assert order.order.additional_recruitment_collaborators_emails == (
                "hana@acme.example",
                "robin@acme.example",
            )
