"""Storing accepted events: one multi-row insert per batch, idempotent on (community, id)."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from crisis.clock import Clock
from crisis.events import ValidEvent
from crisis.models import Community, Event

# SQLite caps bound parameters per statement; stay well under it.
_LOOKUP_CHUNK = 500


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicates: int
    # Types of the accepted events, for the per-type ingest counters.
    types: list[str] = field(default_factory=list)


def _existing_ids(session: Session, community_id: int, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        chunk = ids[start:start + _LOOKUP_CHUNK]
        found.update(session.scalars(select(Event.event_id).where(
            Event.community_id == community_id, Event.event_id.in_(chunk))))
    return found


def _insert_ignoring_conflicts(session: Session):  # type: ignore[no-untyped-def]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return pg_insert(Event).on_conflict_do_nothing(index_elements=["community_id", "event_id"])
    if dialect == "sqlite":
        return sqlite_insert(Event).on_conflict_do_nothing(index_elements=["community_id", "event_id"])
    return insert(Event)


def store_events(session: Session, community: Community, events: list[ValidEvent], *, clock: Clock) -> IngestResult:
    """Insert the events not stored before. The caller commits.

    A concurrent request carrying the same ids can race past the lookup; the
    ON CONFLICT clause then keeps the store single, at the cost of counting
    that event as accepted in both answers.
    """
    unique: dict[str, ValidEvent] = {}
    for event in events:
        unique.setdefault(event.event_id, event)
    existing = _existing_ids(session, community.id, list(unique))
    fresh = [e for eid, e in unique.items() if eid not in existing]
    if fresh:
        now = clock.now()
        session.execute(_insert_ignoring_conflicts(session), [
            {"community_id": community.id, "event_id": e.event_id, "type": e.type, "ts": e.ts,
             "received_at": now, "actor_id": e.actor_id, "payload": e.payload, "processed": False}
            for e in fresh
        ])
    return IngestResult(accepted=len(fresh), duplicates=len(events) - len(fresh), types=[e.type for e in fresh])
