"""Which stored events the detectors have not consumed yet: the batches after their
community's checkpoint (DetectorState.last_seq). No detector code here, so the web process
can ask."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crisis.models import Community, DetectorState, EventBatch


def _watermark() -> Any:
    return func.coalesce(select(DetectorState.last_seq).where(DetectorState.community_id == Community.id)
                         .correlate(Community).scalar_subquery(), 0)


def communities_with_pending(session: Session) -> list[int]:
    """One index probe per community (ix_event_batches_community_seq), not a scan of the
    log: the sweeper asks this every few seconds of a table that only grows."""
    pending = (select(EventBatch.seq).where(EventBatch.community_id == Community.id, EventBatch.seq > _watermark())
               .correlate(Community).exists())
    return list(session.scalars(select(Community.id).where(pending).order_by(Community.id)))


def pending_count(session: Session, community_id: int | None = None) -> int:
    """Events stored but not yet consumed by the detectors (one index range per community)."""
    return _count(session, EventBatch.seq > _watermark(), community_id)


def consumed_count(session: Session, community_id: int | None = None) -> int:
    """Events the detectors have consumed (in batches at or before their community's checkpoint)."""
    return _count(session, EventBatch.seq <= _watermark(), community_id)


def _count(session: Session, side: Any, community_id: int | None) -> int:
    per_community = (select(func.coalesce(func.sum(EventBatch.count), 0))
                     .where(EventBatch.community_id == Community.id, side)
                     .correlate(Community).scalar_subquery())
    query = select(func.coalesce(func.sum(per_community), 0)).select_from(Community)
    if community_id is not None:
        query = query.where(Community.id == community_id)
    return int(session.scalar(query) or 0)
