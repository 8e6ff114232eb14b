"""Events per minute of event time by type: kept by the detect drain, read by pages and charts."""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import cast

from sqlalchemy import Table, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from crisis.clock import isoformat
from crisis.models import ActivityCount, Incident


def record(session: Session, community_id: int, per_minute: Counter[tuple[int, str]]) -> None:
    """Add a drain's events, counted by (epoch minute, type), in one statement. The drain
    commits them with its checkpoint, so each event is counted exactly once."""
    if not per_minute:
        return
    rows = [{"community_id": community_id, "minute": datetime.fromtimestamp(m * 60, timezone.utc), "type": t,
             "count": n} for (m, t), n in sorted(per_minute.items())]
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(cast(Table, ActivityCount.__table__))  # declarative types __table__ as a FromClause
    session.execute(stmt.on_conflict_do_update(index_elements=["community_id", "minute", "type"],
                                               set_={"count": ActivityCount.__table__.c.count + stmt.excluded.count}),
                    rows)


def counts(session: Session, community_id: int, start: datetime, stop: datetime,
           types: Iterable[str] | None = None) -> list[tuple[str, datetime, int]]:
    """(type, minute, count) for the minutes in [start, stop)."""
    query = select(ActivityCount.type, ActivityCount.minute, ActivityCount.count).where(
        ActivityCount.community_id == community_id, ActivityCount.minute >= start, ActivityCount.minute < stop)
    if types is not None:
        query = query.where(ActivityCount.type.in_(list(types)))
    return [(t, m, n) for t, m, n in session.execute(query)]


def per_minute(session: Session, community_id: int, *, end: datetime, minutes: int = 60) -> dict[str, object]:
    """Events per minute by type over the `minutes` before `end` (event time)."""
    start = (end - timedelta(minutes=minutes)).replace(second=0, microsecond=0)
    rows = counts(session, community_id, start, start + timedelta(minutes=minutes + 1))
    buckets: dict[str, list[int]] = defaultdict(lambda: [0] * (minutes + 1))
    total = 0
    for etype, minute, n in rows:
        index = int((minute - start).total_seconds() // 60)
        if 0 <= index <= minutes:
            buckets[etype][index] += n
            total += n
    return {
        "start": isoformat(start),
        "minutes": [isoformat(start + timedelta(minutes=i)) for i in range(minutes + 1)],
        "series": {etype: counts for etype, counts in sorted(buckets.items())},
        "total": total,
    }


def latest_event_time(session: Session, community_id: int) -> datetime | None:
    """The last minute (event time) with any event the detectors have consumed."""
    return session.scalar(select(func.max(ActivityCount.minute)).where(ActivityCount.community_id == community_id))


def recent_incidents(session: Session, community_id: int, limit: int = 20) -> list[Incident]:
    return list(session.scalars(select(Incident).where(Incident.community_id == community_id)
                                .order_by(Incident.opened_at.desc()).limit(limit)))
