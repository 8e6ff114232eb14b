"""Notifications: routing and templates from alerts/, rows written with their cause,
delivered through apprise by jobs."""
from __future__ import annotations

from crisis.notify.deliver import Delivery, deliver
from crisis.notify.outbox import Outcome, notify, routed_targets
from crisis.notify.transport import TransportError, check_url, send

__all__ = ["Delivery", "Outcome", "TransportError", "check_url", "deliver", "notify", "routed_targets", "send"]
