"""Write-back receipts: which note each result version became, kept in the tenant's connector
state so a repeated push writes nothing twice.

Before a note is created its version is marked as attempted; afterwards the note id is
recorded. A version marked but without a note id is the one case (a crash between the two)
where the candidate's notes must be searched for the result's marker.
"""

from __future__ import annotations

import attrs

from assessio_connect import codec
from assessio_connect.connector_state import ConnectorState
from assessio_connect.errors import PayloadError
from assessio_connect.store import StateEntry

__all__ = ["NoteReceipt", "ResultReceipt", "WriteBackReceipts"]


@attrs.frozen
class NoteReceipt:
    """One result version's note: its id, or None while it is being created."""

    version: int
    note_id: str | None = None


@attrs.frozen
class ResultReceipt:
    """Every version of one result written back so far."""

    notes: tuple[NoteReceipt, ...] = ()

    def get(self, version: int) -> NoteReceipt | None:
        return next((note for note in self.notes if note.version == version), None)

    def newest(self) -> int:
        """The highest version with a note (0: none yet)."""
        return max((note.version for note in self.notes if note.note_id), default=0)

    def with_note(self, version: int, note_id: str | None) -> ResultReceipt:
        others = tuple(note for note in self.notes if note.version != version)
        ordered = sorted((*others, NoteReceipt(version, note_id)), key=lambda n: n.version)
        return ResultReceipt(tuple(ordered))


def _key(result_id: str) -> str:
    return f"writeback.{result_id}"


class WriteBackReceipts:
    """Receipts per result id, updated with compare-and-set."""

    def __init__(self, state: ConnectorState) -> None:
        self._state = state

    def get(self, result_id: str) -> ResultReceipt | None:
        """The result's receipt; None when nothing was ever written for it."""
        return _parse(self._state.get(_key(result_id)))

    def record(self, result_id: str, version: int, note_id: str | None) -> None:
        """Note that `version` is being written (`note_id` None) or became note `note_id`."""
        key = _key(result_id)
        while True:
            entry = self._state.get(key)
            updated = (_parse(entry) or ResultReceipt()).with_note(version, note_id)
            value = codec.dumps(updated).decode("utf-8")
            expected = 0 if entry is None else entry.version
            if self._state.swap(key, value, expect_version=expected) is not None:
                return


def _parse(entry: StateEntry | None) -> ResultReceipt | None:
    if entry is None:
        return None
    try:
        return codec.loads(entry.value.encode("utf-8"), ResultReceipt)
    except PayloadError:
        return None  # unreadable: treated as unknown, so the candidate's notes are searched
