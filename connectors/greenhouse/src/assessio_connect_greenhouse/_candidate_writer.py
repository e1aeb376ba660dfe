"""`CandidateWriter`: one result version into a Greenhouse candidate through Harvest v3, as a
note (`POST /v3/notes`, once per version however often it is pushed) and the mapped custom
fields (`PATCH /v3/candidates/{id}`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from assessio_connect import ConnectorState, PermanentError, Pushback, Receipts, Result

from ._config import GreenhouseConfig
from ._harvest import HarvestClient
from ._writeback import custom_field_entries, note_body, note_marked

__all__ = ["FIELD_CACHE_SECONDS", "NOTE_TYPE", "CandidateWriter"]

FIELD_CACHE_SECONDS = 600.0
NOTE_TYPE = "NOTE"
"""`note_type` of a plain note: upper case, as Harvest v3 accepts it."""


def _id_value(value: str) -> int | str:
    """Greenhouse ids are numbers in JSON bodies."""
    return int(value) if value.isdigit() else value


class CandidateWriter:
    """Writes results into candidates; safe to repeat after a crash at any point: each
    version's note is recorded as a receipt in the tenant's connector state, and a retry
    that finds none looks for the note's marker among the candidate's notes."""

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
        self.notes = Receipts(state, "notes")
        """Result id and version -> the id of the note it became."""
        self._config = config
        self._log = log
        self._clock = clock
        self._fields_lock = threading.Lock()
        self._field_types: tuple[float, dict[str, str]] | None = None

    def write(self, pushback: Pushback, lens: str | None) -> None:
        """The note for the version (unless written before) and the custom fields; nothing
        when the next version was written already."""
        result, version = pushback.result, pushback.version
        candidate = pushback.order.candidate_id
        newest = self._newest_written(result.result_id, version)
        if newest is not None and newest > version:
            # A slow retry of an older version: its note and fields would undo the newer's.
            self._log(
                "greenhouse.result_stale",
                candidate_id=candidate,
                result_id=result.result_id,
                version=version,
                newest=newest,
            )
            return
        entries = self._entries(result)

        def add_note() -> str:
            created = self._harvest.write(
                "POST",
                "/notes",
                {
                    "candidate_id": _id_value(candidate),
                    "body": note_body(result, version, lens),
                    "visibility": self._config.note_visibility,
                    "note_type": NOTE_TYPE,
                },
                action=f"add the result note to candidate {candidate}",
            )
            note_id = created.get("id") if isinstance(created, dict) else None
            return str(note_id or "created")

        def find_note() -> str | None:
            notes = self._harvest.read_all(
                "notes",
                {"candidate_ids": candidate},
                action=f"read the notes of candidate {candidate}",
            )
            return note_marked(notes, result.result_id, version)

        # A first attempt cannot have created the note: only a retry looks for it.
        note_id = self.notes.ensure(
            result.result_id, version, add_note, find=find_note if pushback.attempt > 1 else None
        )
        if entries:
            self._harvest.write(
                "PATCH",
                "/candidates/{id}",
                {"custom_fields": entries},
                params={"id": candidate},
                action=f"write custom fields of candidate {candidate}",
            )
        self._log(
            "greenhouse.result_written",
            candidate_id=candidate,
            result_id=result.result_id,
            version=version,
            note_id=note_id,
            custom_fields=len(entries),
        )

    def _newest_written(self, result_id: str, version: int) -> int | None:
        """The newest version of `result_id` whose note was written, or None."""
        newest = self.notes.newest_version(result_id)
        if newest is None and self.notes.get(result_id, version + 1) is not None:
            return version + 1  # a receipt recorded before `Receipts` kept the newest version
        return newest

    def _entries(self, result: Result) -> list[dict[str, Any]]:
        """The custom-field entries, checked against Greenhouse before anything is written."""
        fields = self._config.custom_fields.items()
        if not fields:
            return []
        entries, problems = custom_field_entries(result, fields, self.custom_field_types())
        if problems:
            raise PermanentError(
                "cannot write the result into the candidate's custom fields: "
                + "; ".join(problems)
                + " (fix ats.custom_fields, then requeue the delivery)"
            )
        return entries

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
