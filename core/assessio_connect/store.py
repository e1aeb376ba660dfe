"""The store's public interface, for plugins that implement `Store` (PostgreSQL, for one).

The `Store` protocol with its records and states lives in the runtime
(`assessio_connect.runtime.store`); this module is the path a store plugin imports it from,
and stays where it is whatever the runtime's layout.
"""

from __future__ import annotations

from .runtime.store import (
    POLL_SUCCEEDED,
    AttemptOutcome,
    DeliveryAttempt,
    DeliveryRecord,
    DeliveryState,
    InboundRecord,
    InboundState,
    NewOrder,
    OrderRecord,
    OrderState,
    PollLocks,
    ProcessLock,
    RecordedResult,
    ResultOutcome,
    ResultRecord,
    SchemaCheck,
    StateEntry,
    Store,
    TenantActivity,
    WorkKind,
    WorkNotifications,
    email_key,
    payload_digest,
    result_digest,
)

__all__ = [
    "POLL_SUCCEEDED",
    "AttemptOutcome",
    "DeliveryAttempt",
    "DeliveryRecord",
    "DeliveryState",
    "InboundRecord",
    "InboundState",
    "NewOrder",
    "OrderRecord",
    "OrderState",
    "PollLocks",
    "ProcessLock",
    "RecordedResult",
    "ResultOutcome",
    "ResultRecord",
    "SchemaCheck",
    "StateEntry",
    "Store",
    "TenantActivity",
    "WorkKind",
    "WorkNotifications",
    "email_key",
    "payload_digest",
    "result_digest",
]
