"""Read models over stored events: counts per minute by type, for pages and charts."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.clock import isoformat
from crisis.models import Event, Incident


def per_minute(session: Session, community_id: int, *, end: datetime, minutes: int = 60) -> dict[str, object]:
    """Events per minute by type over the `minutes` before `end` (event time)."""
    start = (end - timedelta(minutes=minutes)).replace(second=0, microsecond=0)
    rows = session.execute(select(Event.type, Event.ts).where(
        Event.community_id == community_id, Event.ts >= start, Event.ts <= end)).all()
    buckets: dict[str, list[int]] = defaultdict(lambda: [0] * (minutes + 1))
    for etype, ts in rows:
        index = int((ts - start).total_seconds() // 60)
        if 0 <= index <= minutes:
            buckets[etype][index] += 1
    return {
        "start": isoformat(start),
        "minutes": [isoformat(start + timedelta(minutes=i)) for i in range(minutes + 1)],
        "series": {etype: counts for etype, counts in sorted(buckets.items())},
        "total": len(rows),
    }


def latest_event_time(session: Session, community_id: int) -> datetime | None:
    return session.scalar(select(Event.ts).where(Event.community_id == community_id)
                          .order_by(Event.ts.desc()).limit(1))


def recent_incidents(session: Session, community_id: int, limit: int = 20) -> list[Incident]:
    return list(session.scalars(select(Incident).where(Incident.community_id == community_id)
                                .order_by(Incident.opened_at.desc()).limit(limit)))
