"""A connector's durable key-value space for one tenant, kept in the daemon's store.

Connectors keep here what must survive a restart and be shared by every replica: write-back
receipts ("result r version 2 = note 98123"), rotated OAuth refresh tokens, and short leases
that let one replica at a time do a job such as refreshing a token.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable

from assessio_connect.contract.errors import StoreError

from .store import StateEntry, Store

__all__ = ["ConnectorState", "MemoryState", "StoreState"]


class ConnectorState:
    """Key-value operations over a backend; subclasses provide `_get`, `_put` and `_delete`."""

    owner: str
    """Who takes leases through this object (unique per process and tenant)."""

    def _get(self, key: str) -> StateEntry | None:
        raise NotImplementedError

    def _put(self, key: str, value: str, expect_version: int | None) -> StateEntry | None:
        raise NotImplementedError

    def _delete(self, key: str) -> None:
        raise NotImplementedError

    def _now(self) -> float:
        raise NotImplementedError

    def get(self, key: str) -> StateEntry | None:
        """The stored entry of `key`, or None."""
        return self._get(key)

    def value(self, key: str) -> str | None:
        """The stored value of `key`, or None."""
        entry = self._get(key)
        return None if entry is None else entry.value

    def put(self, key: str, value: str) -> StateEntry:
        """Write `value` whatever is stored (durable when this returns)."""
        entry = self._put(key, value, None)
        if entry is None:  # an unconditional write cannot lose a race: a backend's bug
            raise StoreError(f"the store did not save the connector state {key!r}")
        return entry

    def swap(self, key: str, value: str, *, expect_version: int) -> StateEntry | None:
        """Write `value` only if the stored version is `expect_version` (0: `key` must not exist);
        None when another writer got there first."""
        return self._put(key, value, expect_version)

    def delete(self, key: str) -> None:
        """Forget `key`."""
        self._delete(key)

    def try_lease(self, key: str, *, seconds: float) -> bool:
        """Hold the lease `key` for `seconds` (taking it, or renewing our own); False while
        another owner holds an unexpired one. A holder that dies loses it when it expires."""
        if not (seconds > 0 and math.isfinite(seconds)):
            raise ValueError(f"a lease lasts a positive number of seconds, not {seconds!r}")
        now = self._now()
        entry = self._get(key)
        if entry is not None:
            holder = _lease_holder(entry.value)
            if holder is not None and holder[0] != self.owner and holder[1] > now:
                return False
        value = json.dumps({"owner": self.owner, "until": now + seconds})
        return self._put(key, value, 0 if entry is None else entry.version) is not None

    def release_lease(self, key: str) -> None:
        """Give back the lease `key` if we hold it."""
        entry = self._get(key)
        if entry is None:
            return
        holder = _lease_holder(entry.value)
        if holder is not None and holder[0] == self.owner:
            value = json.dumps({"owner": self.owner, "until": 0})
            self._put(key, value, entry.version)


def _lease_holder(value: str) -> tuple[str, float] | None:
    try:
        data = json.loads(value)
        return str(data["owner"]), float(data["until"])
    except (ValueError, KeyError, TypeError):
        return None


class StoreState(ConnectorState):
    """The state of `namespace` (a connector kind) for `tenant`, in a `Store`."""

    def __init__(
        self,
        store: Store,
        tenant: str,
        namespace: str,
        *,
        owner: str,
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._tenant = tenant
        self._namespace = namespace
        self.owner = owner
        self._clock = clock

    def __repr__(self) -> str:
        return f"StoreState({self._tenant!r}, {self._namespace!r})"

    def _now(self) -> float:
        return self._clock()

    def _get(self, key: str) -> StateEntry | None:
        return self._store.get_state(self._tenant, self._namespace, key)

    def _put(self, key: str, value: str, expect_version: int | None) -> StateEntry | None:
        return self._store.put_state(
            self._tenant,
            self._namespace,
            key,
            value,
            expect_version=expect_version,
            now=self._clock(),
        )

    def _delete(self, key: str) -> None:
        self._store.delete_state(self._tenant, self._namespace, key)


class MemoryState(ConnectorState):
    """An in-memory state for tests (`RecordingContext`, a connector's own tests); nothing
    survives the object but what its `replica`s share."""

    def __init__(self, *, owner: str = "memory", clock: Callable[[], float]) -> None:
        self.owner = owner
        self._clock = clock
        self._lock = threading.Lock()
        self.entries: dict[str, StateEntry] = {}

    def __repr__(self) -> str:
        return f"MemoryState({len(self.entries)} key(s))"

    def replica(self, owner: str) -> MemoryState:
        """Another replica's view of the same entries, leasing as `owner`: two daemons (or a
        restarted one) sharing one store."""
        twin = MemoryState(owner=owner, clock=self._clock)
        twin.entries = self.entries
        twin._lock = self._lock
        return twin

    def _now(self) -> float:
        return self._clock()

    def _get(self, key: str) -> StateEntry | None:
        with self._lock:
            return self.entries.get(key)

    def _put(self, key: str, value: str, expect_version: int | None) -> StateEntry | None:
        with self._lock:
            current = self.entries.get(key)
            version = 0 if current is None else current.version
            if expect_version is not None and expect_version != version:
                return None
            entry = StateEntry(value=value, version=version + 1, updated_at=self._clock())
            self.entries[key] = entry
            return entry

    def _delete(self, key: str) -> None:
        with self._lock:
            self.entries.pop(key, None)
