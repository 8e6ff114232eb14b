"""From stored events to incidents: the step the detect worker and replay share.

One community's events are consumed in arrival order by one transaction at a
time. The detector checkpoint carries a version; a second worker that raced
on the same community fails the compare-and-set and rolls back, so an event is
never applied twice and nothing is lost when a worker dies mid-batch.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, any_, bindparam, event, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from crisis import incidents, metrics
from crisis.clock import Clock
from crisis.detection import CommunityDetector, DetectorSettings, parse_event
from crisis.events import parse_rfc3339
from crisis.models import Community, DetectorState, Event

BATCH = 5000
log = logging.getLogger(__name__)


class LostRace(RuntimeError):
    """Another worker advanced this community's detectors first."""


@dataclass
class BatchOutcome:
    events: int = 0
    opened: list[int] = field(default_factory=list)
    opened_kinds: list[tuple[str, str]] = field(default_factory=list)
    signals: list[tuple[str, str]] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)


def settings_for(community: Community) -> DetectorSettings:
    return DetectorSettings.from_dict(community.settings or {})


def load_detector(session: Session, community: Community) -> tuple[CommunityDetector, DetectorState | None]:
    row = session.get(DetectorState, community.id)
    settings = settings_for(community)
    if row is None:
        return CommunityDetector(community.slug, settings), None
    return CommunityDetector.from_state(community.slug, settings, row.state), row


def apply_actions(session: Session, community: Community, actions: Iterable[Any], *, clock: Clock,
                  outcome: BatchOutcome) -> None:
    """Turn detector episode actions into incident rows (idempotent per episode key)."""
    for action in actions:
        kind = getattr(action, "action")
        key = action.episode_key
        at = _when(action)
        if kind in ("open", "update"):
            outcome.signals.append((str(action.kind), str(action.severity)))
        if kind == "open":
            incident = incidents.open_detected(
                session, community, episode_key=key, kind=action.kind, severity=action.severity,
                title=action.title, opened_at=at, evidence=action.evidence,
                score=float(getattr(action, "score", 0.0) or 0.0), scope=str(getattr(action, "scope", "") or ""),
                clock=clock)
            if incident is not None:
                outcome.opened.append(incident.id)
                outcome.opened_kinds.append((str(action.kind), str(action.severity)))
            continue
        existing = incidents.find_by_episode(session, community.id, key)
        if existing is None:
            continue
        if kind == "update":
            incidents.update_detected(
                session, existing, severity=action.severity, title=action.title, observed_at=at,
                evidence=action.evidence, score=float(getattr(action, "score", 0.0) or 0.0),
                scope=str(getattr(action, "scope", "") or ""), clock=clock)
            outcome.updated.append(existing.id)
        elif kind == "close":
            incidents.close_episode(session, existing, at=at, clock=clock)
            outcome.closed.append(existing.id)


def _when(action: Any) -> datetime:
    raw = getattr(action, "at", None) or getattr(action, "opened_at")
    if isinstance(raw, datetime):
        return raw
    parsed = parse_rfc3339(raw)
    if parsed is None:
        raise ValueError(f"detector produced a bad time {raw!r}")
    return parsed


def process_pending(session: Session, community_id: int, *, clock: Clock, limit: int = BATCH) -> BatchOutcome:
    """Feed the next batch of this community's unprocessed events to its detectors.

    Commits nothing itself; the caller commits, and a LostRace means roll back.
    Returns the outcome; `events == 0` means nothing was pending.
    """
    return drain(session, community_id, clock=clock, limit=limit, max_batches=1)


def drain(session: Session, community_id: int, *, clock: Clock, limit: int = BATCH, max_batches: int = 50,
          max_events: int = 50_000, max_seconds: float = 1.0, linger: float = 0.0,
          sleep: Any = None) -> BatchOutcome:
    """Feed batch after batch of this community's unprocessed events to its detectors in
    ONE transaction, with one checkpoint at the end.

    The checkpoint (every detector's state, hundreds of KB of JSON for a busy community)
    costs far more than detecting a few hundred events, so it is paid once per
    transaction rather than once per batch. The loop stops when nothing is pending
    (after waiting up to `linger` seconds for more), after `max_seconds`,
    `max_events` or `max_batches`, or after a batch that wrote incidents (so those
    commit, and SQLite's write lock is not held while more batches are read).

    Events are marked processed and the state saved at the end, with the same
    compare-and-set as before: a worker that dies mid-drain has committed nothing, and
    the next one redoes the whole drain. Commits nothing itself; LostRace means roll back.
    """
    outcome = BatchOutcome()
    community = session.get(Community, community_id)
    if community is None:
        return outcome
    started = time.monotonic()
    detector: CommunityDetector | None = None
    state_row: DetectorState | None = None
    seqs: list[int] = []
    received: list[datetime] = []
    after = 0
    batches = 0
    while batches < max_batches and len(seqs) < max_events:
        rows = session.execute(
            select(Event.seq, Event.payload, Event.received_at)
            .where(Event.community_id == community_id, Event.processed.is_(False), Event.seq > after)
            .order_by(Event.seq).limit(limit)).all()
        if not rows:
            remaining = min(linger, max_seconds) - (time.monotonic() - started)
            if not seqs or remaining <= 0:
                break
            (sleep or time.sleep)(min(0.05, remaining))
            continue
        batches += 1
        if detector is None:
            detector, state_row = load_detector(session, community)
        # Event time, not arrival order, drives the detectors; a batch is sorted by it.
        parsed = sorted((parse_event(row.payload) for row in rows), key=lambda e: e.ts)
        writes_before = len(outcome.opened) + len(outcome.updated) + len(outcome.closed)
        apply_actions(session, community, detector.process(parsed), clock=clock, outcome=outcome)
        seqs.extend(row.seq for row in rows)
        received.extend(row.received_at for row in rows)
        after = rows[-1].seq
        if len(outcome.opened) + len(outcome.updated) + len(outcome.closed) != writes_before:
            break
        if time.monotonic() - started >= max_seconds:
            break
    if not seqs or detector is None:
        return outcome
    now = clock.now()
    _mark_processed(session, community_id, seqs, now)
    _save_state(session, community_id, state_row, detector, last_seq=max(seqs), now=now)
    outcome.events = len(seqs)
    _count_after_commit(session, community.slug, received, outcome, clock)
    return outcome


def _mark_processed(session: Session, community_id: int, seqs: list[int], now: datetime) -> None:
    """Mark the drained events processed, or raise LostRace when another drain got any of
    them first. The version check on the checkpoint alone is not enough: on PostgreSQL a
    drain that read the events before a rival committed can load the rival's newer
    checkpoint afterwards and pass that check with events already applied."""
    pending = Event.processed.is_(False)
    marked = 0
    if session.get_bind().dialect.name == "postgresql":
        # One array parameter: a constant statement psycopg prepares once, instead of an
        # IN list of thousands of parameters that it re-parses every time.
        seq_list = bindparam("seqs", seqs, type_=ARRAY(BigInteger))
        marked = session.execute(
            update(Event).where(Event.community_id == community_id, Event.seq == any_(seq_list), pending)
            .values(processed=True, processed_at=now), execution_options={"synchronize_session": False}).rowcount
    else:
        for start in range(0, len(seqs), BATCH):  # SQLite caps the parameters per statement
            chunk = seqs[start:start + BATCH]
            marked += session.execute(
                update(Event).where(Event.community_id == community_id, Event.seq.in_(chunk), pending)
                .values(processed=True, processed_at=now), execution_options={"synchronize_session": False}).rowcount
    if marked != len(seqs):
        raise LostRace(f"community {community_id}: {len(seqs) - marked} of these events were processed by another drain")


_METRICS_KEY = "crisis.pipeline.metrics"


def _count_after_commit(session: Session, slug: str, received: list[datetime], outcome: BatchOutcome,
                        clock: Clock) -> None:
    # A batch that loses the race is rolled back and redone elsewhere: count it only once it commits.
    session.info.setdefault(_METRICS_KEY, []).append((slug, received, outcome, clock))


@event.listens_for(Session, "after_commit")
def _record_metrics(session: Session) -> None:
    for slug, received, outcome, clock in session.info.pop(_METRICS_KEY, ()):
        now = clock.now()
        try:
            metrics.observe_lags(slug, [(now - at).total_seconds() for at in received])
            metrics.count_detections(outcome.opened_kinds, outcome.signals)
        except Exception:  # noqa: BLE001 -- the batch is committed; metrics must not fail it
            log.warning("could not record detection metrics", exc_info=True)


@event.listens_for(Session, "after_rollback")
def _forget_metrics(session: Session) -> None:
    session.info.pop(_METRICS_KEY, None)


def _save_state(session: Session, community_id: int, row: DetectorState | None, detector: CommunityDetector,
                *, last_seq: int, now: datetime) -> None:
    state = detector.to_state()
    if row is None:
        session.add(DetectorState(community_id=community_id, state=state, last_seq=last_seq,
                                  updated_at=now, version=1))
        session.flush()  # a racing insert fails here on the primary key
        return
    result = session.execute(
        update(DetectorState).where(DetectorState.community_id == community_id,
                                    DetectorState.version == row.version)
        .values(state=state, last_seq=max(last_seq, row.last_seq), updated_at=now, version=row.version + 1),
        execution_options={"synchronize_session": False})
    if result.rowcount != 1:
        raise LostRace(f"community {community_id}: detector state moved under us")


def communities_with_pending(session: Session) -> list[int]:
    """One index probe per community (ix_events_pending), not a scan of every event: the
    sweeper asks this every few seconds of a table that only grows."""
    pending = select(Event.seq).where(Event.community_id == Community.id,
                                      Event.processed == False).exists()  # noqa: E712 -- SQL, and indexable
    return list(session.scalars(select(Community.id).where(pending).order_by(Community.id)))

