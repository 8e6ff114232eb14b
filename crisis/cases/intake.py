"""Report events become cases: the detect drain hands over each batch's `report.create`
events (from the ingest API, or the Matrix bridge's room reports), and each becomes a case
once, in the drain's own transaction (the event's id is the case's source key, so a drain
redone after a lost race writes nothing twice)."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.cases import service
from crisis.cases.categories import guess
from crisis.detection.event import Event
from crisis.ingest.validate import parse_rfc3339
from crisis.models import Case, Community

REPORT = "report.create"
MATRIX_PREFIX = "matrix-report-"  # crisis.bridges.matrix.reports names its events so


def complaint(e: Event) -> service.Complaint:
    """What one report event says: a message (with its author, when the event names one),
    else a member, else general feedback; the category from its reason."""
    message, member = e.target_msg or "", e.target_user or ""
    kind = "message" if message else "member" if member else "feedback"
    created = e.created_raw
    return service.Complaint(
        subject_kind=kind, category=guess(e.reason or ""), details=(e.reason or "")[:service.MAX_DETAILS],
        subject_member=member, subject_message_id=message, subject_channel=e.channel or "",
        subject_link=(e.permalink or "")[:500], reporter=e.actor, reporter_name=e.name,
        reporter_created_at=parse_rfc3339(created) if isinstance(created, str) else None,
        source="matrix" if e.id.startswith(MATRIX_PREFIX) else "ingest", source_event_id=e.id,
        received_at=datetime.fromtimestamp(e.ts, tz=timezone.utc))


def from_events(session: Session, community: Community, events: Iterable[Event], *, now: datetime) -> list[int]:
    """The ids of the cases opened for the events' reports not seen before."""
    reports = [e for e in events if e.type == REPORT]
    if not reports:
        return []
    ids = [e.id for e in reports]
    seen: set[str] = set()
    for start in range(0, len(ids), 500):
        seen.update(session.scalars(select(Case.source_event_id).where(
            Case.community_id == community.id, Case.source_event_id.in_(ids[start:start + 500]))))
    fresh = [complaint(e) for e in reports if e.id not in seen]
    return service.open_cases(session, community, fresh, now=now) if fresh else []
