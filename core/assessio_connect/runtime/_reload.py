"""Reloading a running daemon's configuration: what a new file changes, and the running tenants
as one table that a reload swaps at once while work on the old ones finishes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import attrs

from ._logging import Scrubber

if TYPE_CHECKING:
    from ._tenant import TenantRuntime
    from .config import DaemonConfig
    from .store import DeliveryRecord, Store, WorkKind

__all__ = ["ReloadPlan", "RunningTenants", "RunningTenantsOutbox", "SecretScrubber", "plan_reload"]

_RESTART_PATHS = {
    ("server", "host"): "$.server.listen",
    ("server", "port"): "$.server.listen",
    ("store_url", ""): "$.store.url",
}
_TENANT_FIELDS = ("source", "tenants", "warnings")
"""What a reload applies (the tenants) or only reports; every other setting needs a restart."""


@attrs.frozen
class ReloadPlan:
    """What applying a new configuration does: tenants by fate (names sorted), and the
    settings that changed but only take effect on a restart (as configuration paths)."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    needs_restart: tuple[str, ...] = ()

    @property
    def to_build(self) -> tuple[str, ...]:
        """Tenants that need a new runtime: the added and the changed."""
        return self.added + self.changed

    @property
    def to_retire(self) -> tuple[str, ...]:
        """Tenants whose runtime goes: the removed and the changed."""
        return self.removed + self.changed


def _changed_settings(running: DaemonConfig, wanted: DaemonConfig) -> tuple[str, ...]:
    """The paths of the settings outside the tenants that differ, e.g. `$.server.listen`."""
    paths: list[str] = []
    for field in attrs.fields(type(running)):
        if field.name in _TENANT_FIELDS:
            continue
        old, new = getattr(running, field.name), getattr(wanted, field.name)
        if old == new:
            continue
        if attrs.has(type(old)) and type(old) is type(new):
            for inner in attrs.fields(type(old)):
                if getattr(old, inner.name) != getattr(new, inner.name):
                    default = f"$.{field.name}.{inner.name}"
                    paths.append(_RESTART_PATHS.get((field.name, inner.name), default))
        else:
            paths.append(_RESTART_PATHS.get((field.name, ""), f"$.{field.name}"))
    return tuple(dict.fromkeys(paths))


def plan_reload(running: DaemonConfig, wanted: DaemonConfig) -> ReloadPlan:
    """Compare the running configuration with a newly loaded one."""
    old, new = running.tenants, wanted.tenants
    return ReloadPlan(
        added=tuple(sorted(new.keys() - old.keys())),
        removed=tuple(sorted(old.keys() - new.keys())),
        changed=tuple(sorted(n for n in old.keys() & new.keys() if old[n] != new[n])),
        kept=tuple(sorted(n for n in old.keys() & new.keys() if old[n] == new[n])),
        needs_restart=_changed_settings(running, wanted),
    )


class RunningTenants(Mapping[str, "TenantRuntime"]):
    """The daemon's tenants by name. `replace` swaps them all at once for every reader; work
    taken with `use` is counted, so a replaced runtime is closed only once it is idle."""

    def __init__(self, tenants: Mapping[str, TenantRuntime] | None = None) -> None:
        self._cond = threading.Condition()
        self._tenants: dict[str, TenantRuntime] = dict(tenants or {})
        self._busy: dict[int, int] = {}
        """id(runtime) -> pieces of work in progress on it."""

    def __getitem__(self, name: str) -> TenantRuntime:
        return self._tenants[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tenants)

    def __len__(self) -> int:
        return len(self._tenants)

    def __repr__(self) -> str:
        return f"RunningTenants({sorted(self._tenants)})"

    def replace(self, tenants: Mapping[str, TenantRuntime]) -> None:
        """Make `tenants` the running ones; work already in `use` goes on with what it holds."""
        with self._cond:
            self._tenants = dict(tenants)

    @contextmanager
    def use(self, name: str) -> Iterator[TenantRuntime | None]:
        """The running tenant `name` (None when there is none), held busy until the block ends."""
        with self._cond:
            runtime = self._tenants.get(name)
            if runtime is not None:
                self._busy[id(runtime)] = self._busy.get(id(runtime), 0) + 1
        try:
            yield runtime
        finally:
            if runtime is not None:
                with self._cond:
                    left = self._busy[id(runtime)] - 1
                    if left:
                        self._busy[id(runtime)] = left
                    else:
                        del self._busy[id(runtime)]
                        self._cond.notify_all()

    def wait_idle(self, runtime: TenantRuntime, timeout: float) -> bool:
        """Wait until no work holds `runtime`, up to `timeout` seconds; False if some still does."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while id(runtime) in self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True


class SecretScrubber:
    """A `Scrubber` that learns the secrets of tenants a reload adds, and forgets none (an old
    secret can still come back in a late answer to a request made with it)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._scrubber = Scrubber(secrets)

    def __repr__(self) -> str:
        return f"SecretScrubber({self._scrubber!r})"

    def __call__(self, text: str) -> str:
        return self._scrubber(text)

    def learn(self, secrets: Iterable[str]) -> None:
        """Scrub `secrets` too from now on (one swap: a caller sees the old or the new)."""
        self._scrubber = self._scrubber.extended(secrets)


class RunningTenantsOutbox:
    """The outbox as the delivery workers see it: deliveries of the running tenants only, so
    a tenant a reload removed keeps its deliveries in the store, untouched, not pushed."""

    def __init__(self, store: Store, tenants: Mapping[str, object]) -> None:
        self._store = store
        self._tenants = tenants

    def claim_deliveries(
        self, *, owner: str, now: float, lease: float, limit: int
    ) -> Sequence[DeliveryRecord]:
        return self._store.claim_deliveries(
            owner=owner, now=now, lease=lease, limit=limit, tenants=list(self._tenants)
        )

    def next_due(self, kind: WorkKind | None = None) -> float | None:
        return self._store.next_due(kind, tenants=list(self._tenants))

    def delivery_done(self, delivery_id: int, *, owner: str, now: float) -> bool:
        return self._store.delivery_done(delivery_id, owner=owner, now=now)

    def delivery_retry(
        self, delivery_id: int, *, owner: str, error: str, due: float, now: float
    ) -> bool:
        return self._store.delivery_retry(delivery_id, owner=owner, error=error, due=due, now=now)

    def delivery_dead(self, delivery_id: int, *, owner: str, error: str, now: float) -> bool:
        return self._store.delivery_dead(delivery_id, owner=owner, error=error, now=now)

    def renew_delivery_leases(
        self, ids: Sequence[int], *, owner: str, now: float, lease: float
    ) -> Sequence[int]:
        return self._store.renew_delivery_leases(ids, owner=owner, now=now, lease=lease)

    def release(self, owner: str | None, *, now: float) -> int:
        return self._store.release(owner, now=now)
