"""A result payload's identity: the same result in any key order at any depth, with any
spacing, is one payload; any changed value is another."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assessio_connect.runtime._sqlite_store import SQLiteStore
from assessio_connect.store import ResultOutcome, payload_digest
from store_contract import NOW, new_order

# Assessio's documented result example, verbatim (docs/assessio-contract.md, "Endpoint hosted
# by the integrator: the result webhook").
DOCUMENTED = b"""{
  "resultId": "6ef46985-9ca2-4c65-a184-47fa0d332246",
  "score": 71,
  "subscores": {"Driving Leadership": 73, "Influencing & Inspiring": 68}
}"""

names = st.text(st.characters(codec="utf-8"), min_size=1, max_size=12)
scores = st.integers(0, 100)
urls = st.from_regex(r"https://assessio\.example/[a-z0-9/]{1,20}", fullmatch=True)
results = st.fixed_dictionaries(
    {"resultId": names},
    optional={
        "score": scores,
        "subscores": st.dictionaries(names, scores, max_size=6),
        "recruitmentUrl": urls,
        "assessmentReportUrl": urls,
    },
)
spacings = st.sampled_from(["", " ", "\n", "\t", "\r\n  "])


def render(value: Any, rng: random.Random, spacing: list[str]) -> str:
    """JSON text of `value` with the keys of every object shuffled and random whitespace."""

    def space() -> str:
        return rng.choice(spacing)

    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        members = [
            f"{space()}{json.dumps(key)}{space()}:{space()}{render(value[key], rng, spacing)}"
            for key in keys
        ]
        return "{" + ",".join(members) + space() + "}"
    return json.dumps(value, ensure_ascii=rng.random() < 0.5)


def encoded(value: Any, seed: int, spacing: list[str]) -> bytes:
    return render(value, random.Random(seed), spacing).encode("utf-8")  # noqa: S311 - shuffling


def test_the_documented_example_with_its_subscores_reversed_is_the_same_payload() -> None:
    reversed_subscores = (
        b'{"resultId":"6ef46985-9ca2-4c65-a184-47fa0d332246","score":71,'
        b'"subscores":{"Influencing & Inspiring":68,"Driving Leadership":73}}'
    )
    assert payload_digest(reversed_subscores) == payload_digest(DOCUMENTED)


@given(result=results, first=st.integers(), second=st.integers(), spacing=st.lists(spacings))
def test_any_key_order_and_spacing_is_the_same_payload(
    result: dict[str, Any], first: int, second: int, spacing: list[str]
) -> None:
    spacing = spacing or [""]
    assert payload_digest(encoded(result, first, spacing)) == payload_digest(
        encoded(result, second, [" "])
    )


def _changed(
    result: dict[str, Any], data: st.DataObject, *, keep: tuple[str, ...] = ()
) -> dict[str, Any]:
    """`result` with one value changed: a field's value (not one in `keep`), a subscore, or a
    subscore's name."""
    changed: dict[str, Any] = json.loads(json.dumps(result))
    subscores = changed.get("subscores") or {}
    choice = data.draw(st.sampled_from(["field"] + (["score", "name"] if subscores else [])))
    if choice == "field":
        key = data.draw(st.sampled_from(sorted(set(changed) - set(keep))))
        strategy = {
            "resultId": names,
            "score": scores,
            "subscores": st.dictionaries(names, scores, max_size=6),
        }.get(key, urls)
        changed[key] = data.draw(strategy.filter(lambda new: new != result[key]))
    elif choice == "score":
        name = data.draw(st.sampled_from(sorted(subscores)))
        subscores[name] = data.draw(scores.filter(lambda new: new != result["subscores"][name]))
    else:
        name = data.draw(st.sampled_from(sorted(subscores)))
        new_name = data.draw(names.filter(lambda new: new not in subscores))
        subscores[new_name] = subscores.pop(name)
    return changed


@given(result=results, data=st.data(), seed=st.integers())
def test_any_changed_value_is_another_payload(
    result: dict[str, Any], data: st.DataObject, seed: int
) -> None:
    changed = _changed(result, data)
    assert payload_digest(encoded(changed, seed, [" "])) != payload_digest(
        encoded(result, seed, [" "])
    )


@given(result=results, extra=st.sampled_from(["score", "recruitmentUrl", "assessmentReportUrl"]))
def test_a_field_added_or_removed_is_another_payload(result: dict[str, Any], extra: str) -> None:
    with_field = {**result, extra: 50 if extra == "score" else "https://assessio.example/x"}
    without = {key: value for key, value in result.items() if key != extra}
    assert payload_digest(json.dumps(with_field).encode()) != payload_digest(
        json.dumps(without).encode()
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path_factory.mktemp("digest") / "state.db")
    opened.migrate()
    yield opened
    opened.close()


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(result=results, data=st.data(), first=st.integers(), second=st.integers())
def test_the_store_keeps_a_reordered_payload_once_and_a_changed_one_as_an_update(
    store: SQLiteStore, result: dict[str, Any], data: st.DataObject, first: int, second: int
) -> None:
    result_id = f"r-{uuid.uuid4()}"  # each example its own result in the shared store
    result = {**result, "resultId": result_id, "score": result.get("score", 50)}
    store.add_order(new_order(result_id), now=NOW)
    original = store.record_result("acme", result_id, encoded(result, first, ["", " "]), now=NOW)
    again = store.record_result("acme", result_id, encoded(result, second, ["\n"]), now=NOW)
    changed = _changed(result, data, keep=("resultId",))
    updated = store.record_result("acme", result_id, encoded(changed, second, [""]), now=NOW)
    assert (original.outcome, again.outcome, updated.outcome) == (
        ResultOutcome.NEW,
        ResultOutcome.DUPLICATE,
        ResultOutcome.UPDATED,
    )
