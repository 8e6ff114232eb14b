"""Storing accepted events: one multi-row insert per batch, idempotent on (community, id)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from crisis.clock import Clock
from crisis.events import ValidEvent
from crisis.models import Community, Event

_EVENTS = Event.__table__


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicates: int
    # Types of the accepted events, for the per-type ingest counters.
    types: list[str] = field(default_factory=list)


# PostgreSQL: the whole batch as ONE json parameter, unpacked by the server. The statement
# text never changes, so psycopg prepares it once; the client does one C-speed json.dumps
# per request. (An 8-parameters-per-row VALUES list costs more to build and parse than the
# insert itself at 100 events; text[] array parameters go through psycopg's pure-Python
# array escaping, slower still.)
#
# The transaction-scoped advisory lock on the community, taken before any seq is drawn and
# held to commit, makes one community's events commit in seq order: the detectors' "after
# last_seq" never skips an event that committed late (crisis.pipeline). It serialises
# ingest per community only; SQLite serialises every writer anyway.
_PG_INSERT = text("""
WITH turn AS MATERIALIZED (SELECT pg_advisory_xact_lock(CAST(:lock_space AS integer), CAST(:cid AS integer)))
INSERT INTO events (community_id, event_id, type, ts, received_at, actor_id, payload)
SELECT :cid, e->>0, e->>1, (e->>2)::timestamptz, :now, e->>3, e->4
FROM turn, json_array_elements(CAST(:batch AS json)) AS e
ON CONFLICT (community_id, event_id) DO NOTHING
RETURNING event_id
""")
# The first key of pg_advisory_xact_lock(int, int): this project's locks on communities.
INGEST_LOCK_SPACE = 0x0C515


def _store_postgresql(session: Session, cid: int, events: list[ValidEvent], now: object) -> list[str]:
    batch = json.dumps([[e.event_id, e.type, e.ts.isoformat(), e.actor_id, e.payload] for e in events])
    return list(session.execute(_PG_INSERT, {"cid": cid, "now": now, "batch": batch,
                                                       "lock_space": INGEST_LOCK_SPACE}).scalars())


def _insert_returning_new(session: Session):  # type: ignore[no-untyped-def]
    """INSERT ... ON CONFLICT (community_id, event_id) DO NOTHING RETURNING event_id.

    Core, not the ORM bulk path, and executed with a list of rows, so SQLAlchemy's
    "insertmanyvalues" sends one multi-row VALUES statement per 1000 rows and the
    RETURNING rows name exactly the events this transaction stored.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt = pg_insert(_EVENTS).on_conflict_do_nothing(index_elements=["community_id", "event_id"])
    elif dialect == "sqlite":
        stmt = sqlite_insert(_EVENTS).on_conflict_do_nothing(index_elements=["community_id", "event_id"])
    else:  # pragma: no cover -- PostgreSQL and SQLite are the supported stores
        return None
    return stmt.returning(_EVENTS.c.event_id)


def store_events(session: Session, community: Community, events: list[ValidEvent], *, clock: Clock) -> IngestResult:
    """Insert the events not stored before. The caller commits.

    No lookup before the insert: the unique (community_id, event_id) index decides, in
    one statement, and RETURNING tells which rows are new. That also counts a race
    right: when two requests carry the same id at once, exactly one answer accepts it.
    (A pre-insert `SELECT ... WHERE event_id IN (...)` was the slowest step on
    PostgreSQL: once psycopg prepares it, the generic plan scans the whole community.)
    """
    unique: dict[str, ValidEvent] = {}
    for event in events:
        unique.setdefault(event.event_id, event)
    if not unique:
        return IngestResult(accepted=0, duplicates=len(events))
    now = clock.now()
    cid = community.id
    if session.get_bind().dialect.name == "postgresql":
        new = _store_postgresql(session, cid, list(unique.values()), now)
        return IngestResult(accepted=len(new), duplicates=len(events) - len(new),
                            types=[unique[eid].type for eid in new])
    rows = [{"community_id": cid, "event_id": e.event_id, "type": e.type, "ts": e.ts, "received_at": now,
             "actor_id": e.actor_id, "payload": e.payload} for e in unique.values()]
    stmt = _insert_returning_new(session)
    if stmt is None:  # pragma: no cover
        existing = set(session.scalars(select(Event.event_id).where(Event.community_id == cid,
                                                                    Event.event_id.in_(list(unique)))))
        rows = [r for r in rows if r["event_id"] not in existing]
        if rows:
            session.execute(insert(_EVENTS), rows)
        new = [r["event_id"] for r in rows]
    else:
        new = list(session.execute(stmt, rows).scalars())
    return IngestResult(accepted=len(new), duplicates=len(events) - len(new),
                        types=[unique[eid].type for eid in new])
