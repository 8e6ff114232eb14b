"""The incident timeline: one function every part of the response writes through.

Low in the tree on purpose: signals, the lifecycle, escalation, steps, postmortems and
delivery all append here, and none of them needs to import another to do so."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from crisis.models import Incident, TimelineEntry


def add_timeline(session: Session, incident: Incident, kind: str, message: str, *, at: datetime,
                 actor: str = "", actor_user_id: int | None = None,
                 data: dict[str, Any] | None = None) -> TimelineEntry:
    entry = TimelineEntry(incident_id=incident.id, at=at, kind=kind, actor=actor,
                          actor_user_id=actor_user_id, message=message, data=data or {})
    session.add(entry)
    return entry
