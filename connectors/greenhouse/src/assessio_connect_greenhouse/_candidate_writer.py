"""`CandidateWriter`: one result version into a Greenhouse candidate through Harvest v3, as a
note (`POST /v3/notes`, once per version, however often it is pushed) and the mapped custom
fields (`PATCH /v3/candidates/{id}`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from assessio_connect.connector_state import ConnectorState
from assessio_connect.errors import PermanentError
from assessio_connect.models import Result
from assessio_connect.store import OrderRecord

from ._config import GreenhouseConfig
from ._harvest import HarvestClient
from ._receipts import WriteBackReceipts
from ._writeback import custom_field_entries, note_body, written_versions

__all__ = ["FIELD_CACHE_SECONDS", "NOTE_TYPE", "CandidateWriter"]

FIELD_CACHE_SECONDS = 600.0
NOTE_TYPE = "NOTE"
"""`note_type` of a plain note: upper case, as Harvest v3 accepts it."""


def _id_value(value: str) -> int | str:
    """Greenhouse ids are numbers in JSON bodies."""
    return int(value) if value.isdigit() else value


class CandidateWriter:
    """Writes results into candidates; safe to repeat after a crash at any point."""

    def __init__(
        self,
        harvest: HarvestClient,
        state: ConnectorState,
        config: GreenhouseConfig,
        *,
        log: Callable[..., None],
        clock: Callable[[], float],
    ) -> None:
        self._harvest = harvest
        self._receipts = WriteBackReceipts(state)
        self._config = config
        self._log = log
        self._clock = clock
        self._fields_lock = threading.Lock()
        self._field_types: tuple[float, dict[str, str]] | None = None

    def write(self, order: OrderRecord, result: Result, version: int, lens: str | None) -> None:
        """The note for `version` (unless written before) and the custom fields; nothing
        when a newer version was already written."""
        candidate = order.candidate_id
        entries: list[dict[str, Any]] = []
        fields = self._config.custom_fields.items()
        if fields:
            entries, problems = custom_field_entries(result, fields, self.custom_field_types())
            if problems:
                raise PermanentError(
                    "cannot write the result into the candidate's custom fields: "
                    + "; ".join(problems)
                    + " (fix ats.custom_fields, then requeue the delivery)"
                )
        written = self._written(result.result_id, candidate)
        newest = max(written, default=0)
        if newest > version:
            self._log(
                "greenhouse.result_stale",
                candidate_id=candidate,
                result_id=result.result_id,
                version=version,
                written=newest,
            )
            return
        if version not in written:
            self._receipts.record(result.result_id, version, None)
            created = self._harvest.write(
                "POST",
                "notes",
                {
                    "candidate_id": _id_value(candidate),
                    "body": note_body(result, version, lens),
                    "visibility": self._config.note_visibility,
                    "note_type": NOTE_TYPE,
                },
                action=f"add the result note to candidate {candidate}",
            )
            note_id = created.get("id") if isinstance(created, dict) else None
            self._receipts.record(result.result_id, version, str(note_id or "created"))
        if entries:
            self._harvest.write(
                "PATCH",
                self._harvest.item_path("candidates", candidate),
                {"custom_fields": entries},
                action=f"write custom fields of candidate {candidate}",
            )
        self._log(
            "greenhouse.result_written",
            candidate_id=candidate,
            result_id=result.result_id,
            version=version,
            note="already there" if version in written else "added",
            custom_fields=len(entries),
        )

    def _written(self, result_id: str, candidate: str) -> dict[int, str]:
        """Version -> note id of the result's notes: from the receipt, and from the
        candidate's notes when the receipt cannot tell (never seen, or a note whose creation
        was not confirmed)."""
        receipt = self._receipts.get(result_id)
        known = {n.version: n.note_id for n in receipt.notes if n.note_id} if receipt else {}
        unconfirmed = receipt is not None and any(n.note_id is None for n in receipt.notes)
        if receipt is None or unconfirmed:
            notes = self._harvest.read_all(
                "notes",
                {"candidate_ids": candidate},
                action=f"read the notes of candidate {candidate}",
            )
            for version, note_id in written_versions(notes, result_id).items():
                if version not in known:
                    self._receipts.record(result_id, version, note_id or "found")
                    known[version] = note_id or "found"
        return known

    def custom_field_types(self, *, force: bool = False) -> dict[str, str]:
        """Candidate custom fields' `name_key` -> `value_type` (cached; read again when a
        configured key is missing, in case the field was just created)."""
        wanted = {key for _, key in self._config.custom_fields.items()}
        with self._fields_lock:
            cached = self._field_types
            fresh = cached is not None and self._clock() - cached[0] < FIELD_CACHE_SECONDS
            if cached is not None and fresh and not force and wanted <= cached[1].keys():
                return cached[1]
            items = self._harvest.read_all(
                "custom_fields",
                {"field_type": "candidate"},
                action="list the candidate custom fields",
            )
            types = {
                str(item["name_key"]): str(item.get("value_type"))
                for item in items
                if isinstance(item, dict) and isinstance(item.get("name_key"), str)
            }
            self._field_types = (self._clock(), types)
            return types
