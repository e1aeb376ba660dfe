"""`Receipts`: what a result version became in the ATS ("result r version 2 = note 98123"),
kept in the connector's durable state, so a write-back to a create-only API is idempotent
without listing everything the ATS holds."""

from __future__ import annotations

from collections.abc import Callable

from assessio_connect.runtime.connector_state import ConnectorState

__all__ = ["Receipts"]


class Receipts:
    """Receipts of one kind (e.g. "notes") in `state` (`context.state`): shared by every
    replica and kept across restarts in the daemon's store (SQLite or PostgreSQL).

    The pattern is *look up the receipt, else create, then record the receipt*, which
    `ensure` does. One window stays open: the ATS created the object, then the process died
    before the receipt was written. The next attempt finds no receipt; give `ensure` a `find`
    that looks for the object by a marker the connector put into it (e.g. the result id in
    the note's text), and it is searched only then, not on every write-back; pass it only
    when `pushback.attempt > 1`, since a first attempt cannot have created anything yet.

    Receipts per version also remember the newest version written of each result, so an older
    version whose delivery arrives after a newer one's (a slow retry) writes nothing over it."""

    def __init__(self, state: ConnectorState, kind: str) -> None:
        if not kind or "/" in kind:
            raise ValueError(f"a receipt kind is a non-empty name without '/', not {kind!r}")
        self._state = state
        self.kind = kind

    def __repr__(self) -> str:
        return f"Receipts({self.kind!r})"

    def key(self, result_id: str, version: int | None = None) -> str:
        """The state key of a receipt: per result version, or per result with None."""
        if version is not None and version < 1:
            raise ValueError(f"result versions count from 1, not {version}")
        suffix = "" if version is None else f"/v{version}"
        return f"receipt/{self.kind}/{result_id}{suffix}"

    def get(self, result_id: str, version: int | None = None) -> str | None:
        """The ATS's id of what `result_id` (at `version`) became, or None."""
        return self._state.value(self.key(result_id, version))

    def put(self, result_id: str, version: int | None, ats_id: str) -> None:
        """Record that `result_id` (at `version`) became `ats_id` (durable on return)."""
        self._state.put(self.key(result_id, version), ats_id)

    def forget(self, result_id: str, version: int | None = None) -> None:
        """Drop a receipt (e.g. the ATS object was deleted and must be written again)."""
        self._state.delete(self.key(result_id, version))

    def ensure(
        self,
        result_id: str,
        version: int | None,
        create: Callable[[], str],
        *,
        find: Callable[[], str | None] | None = None,
    ) -> str:
        """The ATS id for `result_id` at `version`: from its receipt; else from `find()` (the
        crash window, see the class); else from `create()`; recorded before returning. If
        another replica recorded one meanwhile, that one is returned. A `version` older than
        one already written creates nothing: the newest version's id is returned."""
        key = self.key(result_id, version)
        known = self._state.value(key)
        if known is not None:
            return known
        if version is not None:
            newest = self.newest_version(result_id)
            if newest is not None and newest > version:
                return self._state.value(self.key(result_id, newest)) or ""
        found = find() if find is not None else None
        made = found if found is not None else create()
        if self._state.swap(key, made, expect_version=0) is None:
            return self._state.value(key) or made
        if version is not None:
            self._note_newest(result_id, version)
        return made

    def newest_version(self, result_id: str) -> int | None:
        """The newest version of `result_id` written through `ensure`, or None."""
        entry = self._state.get(self._newest_key(result_id))
        return None if entry is None else int(entry.value)

    def _newest_key(self, result_id: str) -> str:
        return f"receipt/{self.kind}/{result_id}/newest"

    def _note_newest(self, result_id: str, version: int) -> None:
        """Raise the newest version written to `version` (compare-and-set: replicas race)."""
        key = self._newest_key(result_id)
        while True:
            entry = self._state.get(key)
            if entry is not None and int(entry.value) >= version:
                return
            expected = 0 if entry is None else entry.version
            if self._state.swap(key, str(version), expect_version=expected) is not None:
                return
