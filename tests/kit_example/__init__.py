"""A Lever-style connector built on the connector kit, its fake Lever, and its plugin."""

from __future__ import annotations

from .connector import LeverConfig, LeverConnector, marker
from .fake import FakeLever, LeverNote, WebhookDelivery

__all__ = ["FakeLever", "LeverConfig", "LeverConnector", "LeverNote", "WebhookDelivery", "marker"]
