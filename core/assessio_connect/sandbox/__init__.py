"""An emulator of Assessio's Recruitment API v1 for tests, demos and integrators.

    with Sandbox([Organisation("pk-1", integrator_secret="s3cret")]) as sandbox:
        ...  # point an AssessioClient at sandbox.url; inspect sandbox.orders(), deliveries()

Besides the Recruitment API it serves a control plane under `/_sandbox/` (orders, requests,
recruitments, deliveries, completing results, faults, a page to take an assessment). That
control plane exists only in the emulator, not at Assessio, and needs no provider-key.
"""

from __future__ import annotations

from ._app import MAX_BODY_BYTES
from ._catalog import DEFAULT_LENSES, DEFAULT_LOCALES, SandboxLens, simulate_result
from ._delivery import USER_AGENT, DeliverySchedule
from ._faults import ApiErrorFault, Faults
from ._sandbox import DeliveryPredicate, Sandbox
from ._state import (
    DeliveryAttempt,
    Organisation,
    ReceivedOrder,
    ReceivedRequest,
    SandboxRecruitment,
)

__all__ = [
    "DEFAULT_LENSES",
    "DEFAULT_LOCALES",
    "MAX_BODY_BYTES",
    "USER_AGENT",
    "ApiErrorFault",
    "DeliveryAttempt",
    "DeliveryPredicate",
    "DeliverySchedule",
    "Faults",
    "Organisation",
    "ReceivedOrder",
    "ReceivedRequest",
    "Sandbox",
    "SandboxLens",
    "SandboxRecruitment",
    "simulate_result",
]
