"""ORM tables, one module per area; import from here."""
from __future__ import annotations

from crisis.models.activity import DetectorState, Event
from crisis.models.community import ApiToken, Community, Membership, Role, User
from crisis.models.incident import Incident, Signal, TimelineEntry

__all__ = [
    "ApiToken", "Community", "DetectorState", "Event", "Incident", "Membership", "Role",
    "Signal", "TimelineEntry", "User",
]
