"""Retention enforced: a community's raw events past their time, deleted in bounded batches.

What goes: batch-log rows (`event_batches`) received before the cutoff that the detectors
have consumed (at or before their checkpoint's last_seq) and that no incident holds
(crisis.retention.policy.holds), with their ids in `event_ids`; then the members' text in
the evidence of incidents whose hold ended (crisis.retention.evidence). What stays: the
per-minute counts the charts read (`activity_counts`), the detectors' checkpoint (its own
rolling windows), incidents, timelines, postmortems and every count.

Each transaction deletes at most CHUNK_ROWS batch rows (CHUNK_EVENTS events) and commits,
so no lock is held for long; on PostgreSQL it skips rows another transaction has locked
(an erasure rewriting them) and gives up on a lock it waits for past LOCK_TIMEOUT. A run
stops after its time budget and leaves a cursor; the next job resumes there.
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, not_, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from crisis.clock import Clock
from crisis.db import session_scope
from crisis.ingest.store import decode_batch
from crisis.models import Community, DetectorState, EventBatch, EventId, RetentionState
from crisis.retention import evidence, policy

CHUNK_ROWS = 100
CHUNK_EVENTS = 20_000
RUN_EVERY = timedelta(hours=1)
# A run claims its community for this long: a worker that dies mid-run leaves it due again.
CLAIM_FOR = timedelta(minutes=15)
INCIDENTS_PER_TRANSACTION = 50
LOCK_TIMEOUT = "2s"
_SQLITE_IDS = 500  # SQLite's bound-variable limit is far above this; a statement stays small
log = logging.getLogger(__name__)


@dataclass
class RunReport:
    community_id: int
    claimed: bool = False
    finished: bool = False
    cutoff: str = ""
    held: int = 0
    batches: int = 0
    events: int = 0
    incidents: int = 0
    transactions: int = 0
    max_transaction_ms: float = 0.0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def due(session: Session, now: datetime, limit: int) -> list[int]:
    """Communities whose retention is due: never run, or next_run_at passed."""
    state = select(RetentionState.community_id).where(RetentionState.community_id == Community.id)
    late = select(RetentionState.community_id).where(RetentionState.community_id == Community.id,
                                                      RetentionState.next_run_at <= now)
    query = (select(Community.id).where(or_(not_(exists(state)), exists(late)))
             .order_by(Community.id).limit(limit))
    return list(session.scalars(query))


def _ensure_state(session: Session, community_id: int, now: datetime) -> None:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    table = RetentionState.__table__
    session.execute(insert(table).values(  # type: ignore[arg-type]  # -- a declarative __table__ is a Table
        community_id=community_id, next_run_at=now, cursor_seq=0, last_error="", batches_deleted=0,
        events_deleted=0, evidence_expired=0, last_run={}).on_conflict_do_nothing(index_elements=["community_id"]))


def claim(session: Session, community_id: int, now: datetime, *, force: bool = False) -> bool:
    """Take this community's run (one worker at a time); True when this caller has it."""
    _ensure_state(session, community_id, now)
    where = [RetentionState.community_id == community_id]
    if not force:
        where.append(RetentionState.next_run_at <= now)
    result = session.execute(update(RetentionState).where(*where)
                             .values(next_run_at=now + CLAIM_FOR, claimed_at=now),
                             execution_options={"synchronize_session": False})
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]  # -- an UPDATE's Result is a CursorResult


@dataclass(frozen=True)
class _Plan:
    cutoff: datetime
    upto: int  # the detectors' checkpoint: nothing after it is deleted
    holds: list[tuple[datetime, datetime | None]]
    grace: timedelta


def _plan(session: Session, community: Community, now: datetime) -> _Plan:
    rules = policy.of(community)
    upto = session.scalar(select(DetectorState.last_seq).where(DetectorState.community_id == community.id)) or 0
    windows = policy.merged(policy.holds(session, community.id, now=now, grace=rules.grace))
    return _Plan(cutoff=now - rules.retention, upto=int(upto), holds=windows, grace=rules.grace)


def _expired_rows(community_id: int, after: int, plan: _Plan, limit: int, postgres: bool) -> Any:
    c = EventBatch.__table__.c
    query = select(c.seq, c.count, c.fresh, c.body).where(
        c.community_id == community_id, c.seq > after, c.seq <= plan.upto, c.received_at < plan.cutoff)
    for start, end in plan.holds:
        inside = c.received_at >= start if end is None else and_(c.received_at >= start, c.received_at <= end)
        query = query.where(not_(inside))
    query = query.order_by(c.seq).limit(limit)
    return query.with_for_update(skip_locked=True) if postgres else query


def _ids(row: Any) -> list[str]:
    """The ids this batch row stored in event_ids (`fresh`, or all its events')."""
    if row.fresh is not None:
        return [str(i) for i in row.fresh]
    return [str(e["id"]) for e in decode_batch(row.body, None, row[1])]


def _delete_ids(session: Session, community_id: int, ids: list[str], postgres: bool) -> None:
    if not ids:
        return
    if postgres:
        session.execute(text("DELETE FROM event_ids WHERE community_id = :cid AND event_id = ANY(:ids)"),
                        {"cid": community_id, "ids": ids})
        return
    for i in range(0, len(ids), _SQLITE_IDS):
        session.execute(delete(EventId).where(EventId.community_id == community_id,
                                              EventId.event_id.in_(ids[i:i + _SQLITE_IDS])))


def delete_chunk(session: Session, community_id: int, after: int, plan: _Plan, *,
                 limit: int = CHUNK_ROWS) -> tuple[int, int, int]:
    """Delete the next expired batch rows after seq `after`: (last seq looked at, rows, events).
    The caller commits. A last seq equal to `after` means nothing is left."""
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    rows = session.execute(_expired_rows(community_id, after, plan, limit, postgres)).all()
    seqs: list[int] = []
    ids: list[str] = []
    events = 0
    for row in rows:
        seqs.append(row.seq)
        ids.extend(_ids(row))
        events += row[1]  # count: a Row's .count is Sequence.count
        if events >= CHUNK_EVENTS:
            break
    if not seqs:
        return after, 0, 0
    _delete_ids(session, community_id, ids, postgres)
    session.execute(delete(EventBatch).where(EventBatch.seq.in_(seqs)),
                    execution_options={"synchronize_session": False})
    session.execute(update(RetentionState).where(RetentionState.community_id == community_id).values(
        cursor_seq=seqs[-1], batches_deleted=RetentionState.batches_deleted + len(seqs),
        events_deleted=RetentionState.events_deleted + events), execution_options={"synchronize_session": False})
    return seqs[-1], len(seqs), events


def run(sessions: sessionmaker[Session], community_id: int, *, clock: Clock, budget_s: float = 20.0,
        chunk_rows: int = CHUNK_ROWS, force: bool = False) -> RunReport:
    """One retention run of one community, in short transactions, within `budget_s`.

    Idempotent and safe to race: a run that cannot claim the community does nothing."""
    report = RunReport(community_id)
    started = time.monotonic()
    now = clock.now()
    with session_scope(sessions) as session:
        community = session.get(Community, community_id)
        if community is None or not claim(session, community_id, now, force=force):
            return report
        plan = _plan(session, community, now)
        after = session.scalar(select(RetentionState.cursor_seq).where(RetentionState.community_id == community_id))
    report.claimed, report.cutoff, report.held = True, plan.cutoff.isoformat(), len(plan.holds)
    after = int(after or 0)
    out_of_time = False
    while not (out_of_time := time.monotonic() - started >= budget_s):
        t0 = time.monotonic()
        try:
            with session_scope(sessions) as session:
                last, rows, events = delete_chunk(session, community_id, after, plan, limit=chunk_rows)
        except OperationalError:
            # A lock waited for past LOCK_TIMEOUT (or SQLite busy): stop here, due again at once.
            log.info("community %s: retention met a lock; it goes on at the next sweep", community_id)
            out_of_time = True
            break
        _count_transaction(report, t0)
        if rows == 0:
            break
        after, report.batches, report.events = last, report.batches + rows, report.events + events
    while not out_of_time and not (out_of_time := time.monotonic() - started >= budget_s):
        t0 = time.monotonic()
        with session_scope(sessions) as session:
            done = _expire_evidence(session, community_id, plan, now)
        _count_transaction(report, t0)
        report.incidents += done
        if done < INCIDENTS_PER_TRANSACTION:
            break
    report.finished = not out_of_time
    report.seconds = round(time.monotonic() - started, 3)
    with session_scope(sessions) as session:
        _finish(session, community_id, report, now=clock.now())
    return report


def _count_transaction(report: RunReport, t0: float) -> None:
    report.transactions += 1
    report.max_transaction_ms = max(report.max_transaction_ms, round((time.monotonic() - t0) * 1000, 1))


def _expire_evidence(session: Session, community_id: int, plan: _Plan, now: datetime) -> int:
    ids = evidence.expirable(session, community_id, now=now, cutoff=plan.cutoff, grace=plan.grace,
                             limit=INCIDENTS_PER_TRANSACTION)
    for incident_id in ids:
        evidence.expire(session, incident_id, now=now)
    if ids:
        session.execute(update(RetentionState).where(RetentionState.community_id == community_id).values(
            evidence_expired=RetentionState.evidence_expired + len(ids)),
            execution_options={"synchronize_session": False})
    return len(ids)


def _finish(session: Session, community_id: int, report: RunReport, *, now: datetime) -> None:
    """A finished run starts the next from the beginning in RUN_EVERY; an unfinished one is
    due again at once, from its cursor."""
    values: dict[str, Any] = {"claimed_at": None, "last_error": ""}
    if report.finished:
        values |= {"next_run_at": now + RUN_EVERY, "cursor_seq": 0, "last_run_at": now, "last_run": report.as_dict()}
    else:
        values |= {"next_run_at": now}
    session.execute(update(RetentionState).where(RetentionState.community_id == community_id).values(**values),
                    execution_options={"synchronize_session": False})


def record_failure(sessions: sessionmaker[Session], community_id: int, error: str) -> None:
    """A run that raised: say so on the state, and let it be due again after the claim lapses."""
    with session_scope(sessions) as session:
        session.execute(update(RetentionState).where(RetentionState.community_id == community_id)
                        .values(last_error=error[:500], claimed_at=None),
                        execution_options={"synchronize_session": False})
