"""Writing results into Greenhouse candidates on Harvest v3, against the fake over HTTP: one
note per result version however often it is pushed (a receipt in the connector's state, and
on a retry the note's marker when a crash left no receipt), custom fields checked before
anything is written, an older version never written over a newer one, and `check()`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from greenhouse_parts import invitation_for, make_config
from greenhouse_world import KEYS

from assessio_connect import PermanentError, Receipts, Result
from assessio_connect.testing import RecordingContext, make_pushback
from assessio_connect_greenhouse import CustomFieldMap, GreenhouseConnector
from assessio_connect_greenhouse._writeback import custom_field_entries, note_marked
from assessio_connect_greenhouse.fake import FakeGreenhouse


@pytest.fixture
def greenhouse() -> Iterator[FakeGreenhouse]:
    with FakeGreenhouse(client_id=KEYS["client_id"], client_secret=KEYS["client_secret"]) as fake:
        yield fake


@pytest.fixture
def context() -> Iterator[RecordingContext]:
    recording = RecordingContext("acme")
    yield recording
    recording.close()


def connector_for(
    greenhouse: FakeGreenhouse, context: RecordingContext, fields: CustomFieldMap
) -> GreenhouseConnector:
    author = greenhouse.add_user("Robin", "Recruiter", "robin@example.com")
    return GreenhouseConnector(
        make_config(greenhouse.url, user_id=author, custom_fields=fields), context
    )


def searches(greenhouse: FakeGreenhouse) -> int:
    return len([r for r in greenhouse.requests if r.path == "/v3/notes" and r.method == "GET"])


def test_write_back_is_idempotent_per_version_and_never_goes_backwards(
    greenhouse: FakeGreenhouse, context: RecordingContext
) -> None:
    greenhouse.add_custom_field("Assessio Score", value_type="number")
    greenhouse.add_custom_field("Assessio Subscores", value_type="long_text")
    candidate = greenhouse.add_candidate("Ada", "Lovelace", "ada@example.com")
    fields = CustomFieldMap(score="assessio_score", subscores="assessio_subscores")
    connector = connector_for(greenhouse, context, fields)
    order = context.invite(invitation_for(candidate))
    connector.push_result(make_pushback(order, score=50))
    connector.push_result(make_pushback(order, score=50))  # a repeat
    (note,) = greenhouse.notes(candidate)
    assert "Subscores: Collaborating 62, Driving Results 80" in note["body"]
    assert greenhouse.custom_field_values(candidate) == {
        "assessio_score": 50,
        "assessio_subscores": "Collaborating 62, Driving Results 80",
    }
    connector.push_result(make_pushback(order, score=60, version=2))
    connector.push_result(make_pushback(order, score=50))  # an old version arriving late
    assert len(greenhouse.notes(candidate)) == 2
    assert greenhouse.custom_field_values(candidate)["assessio_score"] == 60
    kinds = [w.kind for w in greenhouse.writes]
    assert kinds == ["note", "custom_fields", "custom_fields", "note", "custom_fields"]
    assert searches(greenhouse) == 0  # receipts answered every repeat; first attempts never search


def test_a_late_version_older_than_the_one_before_it_writes_nothing(
    greenhouse: FakeGreenhouse, context: RecordingContext
) -> None:
    """Version 3 written (version 2 never came, or came first), then a slow retry of version
    1: neither its note nor its custom fields are written over version 3's."""
    greenhouse.add_custom_field("Assessio Score", value_type="number")
    candidate = greenhouse.add_candidate("Ada", "Lovelace", "ada@example.com")
    connector = connector_for(greenhouse, context, CustomFieldMap(score="assessio_score"))
    order = context.invite(invitation_for(candidate))
    connector.push_result(make_pushback(order, score=88, version=3))
    connector.push_result(make_pushback(order, score=55, version=1, attempt=4))
    (note,) = greenhouse.notes(candidate)
    assert note["body"].endswith(f"assessio-result: {order.result_id} v3")
    assert greenhouse.custom_field_values(candidate) == {"assessio_score": 88}
    assert [w.kind for w in greenhouse.writes] == ["note", "custom_fields"]
    [stale] = context.events("greenhouse.result_stale")
    assert (stale["version"], stale["newest"]) == (1, 3)


def test_a_receipt_of_the_next_version_recorded_without_the_newest_still_counts(
    greenhouse: FakeGreenhouse, context: RecordingContext
) -> None:
    """Receipts recorded before `Receipts` kept the newest version: version 2's receipt
    alone keeps a late version 1 out."""
    greenhouse.add_custom_field("Assessio Score", value_type="number")
    candidate = greenhouse.add_candidate("Ada", "Lovelace", "ada@example.com")
    connector = connector_for(greenhouse, context, CustomFieldMap(score="assessio_score"))
    order = context.invite(invitation_for(candidate))
    Receipts(context.state, "notes").put(order.result_id, 2, "98123")
    connector.push_result(make_pushback(order, score=55, version=1))
    assert greenhouse.writes == []
    assert len(context.events("greenhouse.result_stale")) == 1


def test_a_crash_between_the_note_and_its_receipt_writes_no_second_note(
    greenhouse: FakeGreenhouse, context: RecordingContext
) -> None:
    candidate = greenhouse.add_candidate("Ada", "Lovelace", "ada@example.com")
    connector = connector_for(greenhouse, context, CustomFieldMap())
    order = context.invite(invitation_for(candidate))
    connector.push_result(make_pushback(order))
    (note,) = greenhouse.notes(candidate)
    receipts = Receipts(context.state, "notes")
    assert receipts.get(order.result_id, 1) == str(note["id"])
    # The note was created, then the process died before its receipt was written: the
    # delivery's retry finds the note by its marker, and records it.
    receipts.forget(order.result_id, 1)
    connector.push_result(make_pushback(order, attempt=2))
    assert len(greenhouse.notes(candidate)) == 1
    assert searches(greenhouse) == 1
    assert receipts.get(order.result_id, 1) == str(note["id"])
    connector.push_result(make_pushback(order, attempt=3))  # the receipt answers now
    connector.push_result(make_pushback(order, version=2))
    assert len(greenhouse.notes(candidate)) == 2
    assert searches(greenhouse) == 1


def test_custom_field_problems_are_found_before_anything_is_written(
    greenhouse: FakeGreenhouse, context: RecordingContext
) -> None:
    greenhouse.add_custom_field("Assessio Score", value_type="date")
    candidate = greenhouse.add_candidate("Ada", "Lovelace", "ada@example.com")
    fields = CustomFieldMap(score="assessio_score", report_url="assessio_link")
    connector = connector_for(greenhouse, context, fields)
    with pytest.raises(PermanentError) as caught:
        connector.push_result(make_pushback(context.invite(invitation_for(candidate)), score=50))
    assert str(caught.value) == (
        "cannot write the result into the candidate's custom fields: custom_fields.score: "
        "field 'assessio_score' is of type date, which cannot hold the score (use a text or "
        "number field); custom_fields.report_url: 'assessio_link' is not a candidate custom "
        "field in Greenhouse (fix ats.custom_fields, then requeue the delivery)"
    )
    assert greenhouse.writes == []
    with pytest.raises(PermanentError, match="assessio_link"):
        connector.check()


def test_notes_written_for_other_results_do_not_count() -> None:
    notes = [
        {"id": 1, "body": "assessio-result: result-10 v3"},
        {"id": 2, "body": "hello\n\nassessio-result: result-1 v2"},
        {"id": 3, "body": None},
        "junk",
    ]
    assert note_marked(notes, "result-1", 2) == "2"
    assert note_marked(notes, "result-1", 3) is None  # result-10's, not result-1's
    entries, problems = custom_field_entries(
        Result(result_id="r", score=None), [("score", "s")], {"s": "number"}
    )
    assert (entries, problems) == ([], [])


def test_check_names_what_it_verified(
    greenhouse: FakeGreenhouse, context: RecordingContext
) -> None:
    greenhouse.add_custom_field("Assessio Score", value_type="number")
    connector = connector_for(greenhouse, context, CustomFieldMap(score="assessio_score"))
    said = connector.check()
    author = connector.config.oauth.user_id if connector.config.oauth else None
    assert said == (
        f"Harvest v3 at {greenhouse.url} accepted the OAuth token; writes are attributed to "
        f"user {author} (Robin Recruiter); custom fields assessio_score exist; web hooks are "
        "received at /webhook"
    )
    nobody = GreenhouseConnector(make_config(greenhouse.url, user_id=424242), context)
    with pytest.raises(PermanentError, match="is not a user id"):
        nobody.check()
