"""From stored events to incidents: the step the detect worker and replay share.

One community's events are consumed in arrival order by one transaction at a time.
Progress is the checkpoint's `last_seq`: the events after it are the pending ones, and
nothing is written back to an event (ingest commits a community's events in seq order, so
none commits behind it: crisis.ingest). The checkpoint carries a version; a drain that
raced another on the same community fails the compare-and-set and rolls back, so an
event is never applied twice and nothing is lost when a worker dies mid-drain.
"""
from __future__ import annotations

import logging
import operator
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from crisis.campaigns import boosts
from crisis.campaigns import service as campaigns
from crisis.cases import intake as case_intake
from crisis.cases import links as case_links
from crisis.clock import Clock
from crisis.db import after_commit
from crisis.detection import CommunityDetector, DetectorSettings, parse_event
from crisis.detection.cache import DetectorCache
from crisis.ingest.store import decode_batch
from crisis.ingest.validate import parse_rfc3339
from crisis.insight import activity, metrics
from crisis.models import Community, DetectorState, EventBatch, Incident
from crisis.response import related, signals

# Batch-log rows per read: at the usual 100-500 events per ingest request, up to a few
# thousand events handed to the detectors at once.
BATCH = 20
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
    # New episodes that joined an open incident instead of opening one (crisis.response.related):
    # (incident id, episode key). The detector opened them; `opened` counts incidents.
    attached: list[tuple[int, str]] = field(default_factory=list)
    # Communities whose campaign windows a campaign change rewrote (crisis.campaigns.boosts).
    boosted: set[int] = field(default_factory=set)
    # The detectors as this drain left them and the checkpoint version it wrote: what a
    # DetectorCache keeps once the drain has committed.
    detector: CommunityDetector | None = None
    version: int = 0
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Checkpoint:
    version: int  # 0: no checkpoint stored yet
    last_seq: int


def effective_settings(session: Session, community: Community) -> dict[str, Any]:
    """The stored settings, plus the campaign windows when the community opted in to
    the campaign boost (one small read then; none for the others)."""
    stored = community.settings or {}
    boost = stored.get("campaign_boost", 1.0)
    if isinstance(boost, (int, float)) and boost > 1.0:
        windows = boosts.windows_of(session, community.id)
        if windows:
            return {**stored, "campaign_windows": windows}
    return stored


def settings_for(session: Session, community: Community) -> DetectorSettings:
    return DetectorSettings.from_dict(effective_settings(session, community))


def read_checkpoint(session: Session, community_id: int) -> Checkpoint:
    row = session.execute(select(DetectorState.version, DetectorState.last_seq)
                          .where(DetectorState.community_id == community_id)).first()
    return Checkpoint(version=row.version, last_seq=row.last_seq) if row else Checkpoint(0, 0)


def load_detector(session: Session, community: Community, checkpoint: Checkpoint,
                  cache: DetectorCache | None = None, effective: dict[str, Any] | None = None) -> CommunityDetector:
    """The community's detectors at the checkpoint, running with `effective` settings
    (effective_settings when not given)."""
    effective = effective_settings(session, community) if effective is None else effective
    if cache is not None:
        cached = cache.take(community.id, checkpoint.version, effective)
        if cached is not None:
            return cached
    settings = DetectorSettings.from_dict(effective)
    state = session.scalar(select(DetectorState.state).where(DetectorState.community_id == community.id))
    if state is None:
        return CommunityDetector(community.slug, settings)
    return CommunityDetector.from_state(community.slug, settings, state)


def with_permalinks(evidence: dict[str, Any], events: list[Any]) -> dict[str, Any]:
    """The evidence, plus a link to each named account's latest event on its platform when
    the events came through a bridge (Matrix: matrix.to permalinks). Runs per incident
    opened or updated, never per event."""
    accounts = evidence.get("accounts")
    if not accounts or not events:
        return evidence
    wanted = set(accounts[:100])
    latest: dict[str, str] = {}
    for e in events:
        if e.actor in wanted:
            link = e.permalink
            if link is not None:
                latest[e.actor] = link
    return {**evidence, "permalinks": latest} if latest else evidence


def apply_actions(session: Session, community: Community, actions: Iterable[Any], *, clock: Clock,
                  outcome: BatchOutcome, events: list[Any] | None = None) -> None:
    """Turn detector episode actions into incident rows (idempotent per episode key): a
    new episode opens an incident or joins the related open one; updates and closes
    reach the incident their episode feeds. Raid incidents touched are then looked at
    for campaigns across communities (crisis.campaigns)."""
    events = events or []
    attacks: dict[int, Any] = {}
    for action in actions:
        kind = action.action
        key = action.episode_key
        at = _when(action)
        if kind in ("open", "update"):
            outcome.signals.append((str(action.kind), str(action.severity)))
        score = float(getattr(action, "score", 0.0) or 0.0)
        scope = str(getattr(action, "scope", "") or "")
        if kind == "open":
            found = signals.detected(
                session, community, episode_key=key, kind=action.kind, severity=action.severity,
                title=action.title, opened_at=at, evidence=with_permalinks(action.evidence, events),
                score=score, scope=scope, clock=clock)
            if found is None:
                continue
            if found.opened:
                outcome.opened.append(found.incident.id)
                outcome.opened_kinds.append((str(action.kind), str(action.severity)))
            else:
                outcome.attached.append((found.incident.id, key))
            _note_attack(attacks, found.incident)
            continue
        located = signals.locate(session, community.id, key)
        if located is None:
            continue
        existing = located.incident
        if kind == "update":
            signals.update_detected(
                session, existing, severity=action.severity, title=action.title, observed_at=at,
                evidence=with_permalinks(action.evidence, events), score=score, scope=scope, clock=clock,
                episode=located.episode)
            outcome.updated.append(existing.id)
        elif kind == "close":
            signals.close_episode(session, existing, at=at, clock=clock, episode=located.episode,
                                  evidence=getattr(action, "evidence", None))
            outcome.closed.append(existing.id)
        _note_attack(attacks, existing)
    for incident in attacks.values():
        outcome.boosted |= campaigns.consider(session, incident, clock=clock)


def _note_attack(attacks: dict[int, Any], incident: Any) -> None:
    if incident.kind in related.ATTACKS:
        attacks[incident.id] = incident


# Events' ts is already a float (crisis.detection.event); attrgetter sorts without a
# Python call per event.
_EVENT_TIME = operator.attrgetter("ts")


def _when(action: Any) -> datetime:
    raw = getattr(action, "at", None) or action.opened_at
    if isinstance(raw, datetime):
        return raw
    parsed = parse_rfc3339(raw)
    if parsed is None:
        raise ValueError(f"detector produced a bad time {raw!r}")
    return parsed


_BATCHES = EventBatch.__table__.c
# Built once and run on the connection: a Core statement skips the ORM's per-execution
# compile step, a few percent of a detect worker's CPU when it was rebuilt every loop.
_PENDING = (select(_BATCHES.seq, _BATCHES.received_at, _BATCHES.count, _BATCHES.fresh, _BATCHES.body)
            .where(_BATCHES.community_id == bindparam("cid"), _BATCHES.seq > bindparam("after"))
            .order_by(_BATCHES.seq).limit(bindparam("limit")))


def process_pending(session: Session, community_id: int, *, clock: Clock, limit: int = BATCH) -> BatchOutcome:
    """Feed the next batch of this community's pending events to its detectors.

    Commits nothing itself; the caller commits, and a LostRace means roll back.
    Returns the outcome; `events == 0` means nothing was pending.
    """
    return drain(session, community_id, clock=clock, limit=limit, max_batches=1)


def drain(session: Session, community_id: int, *, clock: Clock, limit: int = BATCH, max_batches: int = 50,
          max_events: int = 50_000, max_seconds: float = 1.0, linger: float = 0.0,
          sleep: Any = None, cache: DetectorCache | None = None) -> BatchOutcome:
    """Feed batch after batch of this community's pending events to its detectors in
    ONE transaction, with one checkpoint at the end.

    The checkpoint (every detector's state, hundreds of KB of JSON for a busy community)
    costs far more than detecting a few hundred events, so it is paid once per
    transaction rather than once per batch. The loop stops when nothing is pending
    (after waiting up to `linger` seconds for more), after `max_seconds`,
    `max_events` or `max_batches`, or after a batch that wrote incidents (so those
    commit, and SQLite's write lock is not held while more batches are read).

    The checkpoint is read before the events and written at the end under a
    compare-and-set on its version: a worker that dies mid-drain has committed nothing,
    and the next one redoes the whole drain; a drain that a rival overtook raises
    LostRace. Commits nothing itself; LostRace means roll back.
    """
    outcome = BatchOutcome()
    community = session.get(Community, community_id)
    if community is None:
        return outcome
    started = time.monotonic()
    checkpoint = read_checkpoint(session, community_id)
    detector: CommunityDetector | None = None
    effective: dict[str, Any] = {}
    # (arrival, events) per batch row: lags are observed per batch, not per event.
    arrivals: list[tuple[datetime, int]] = []
    consumed = 0
    after = checkpoint.last_seq
    batches = 0
    per_minute: Counter[tuple[int, str]] = Counter()
    while batches < max_batches and consumed < max_events:
        rows = session.connection().execute(_PENDING, {"cid": community_id, "after": after, "limit": limit}).all()
        if not rows:
            remaining = min(linger, max_seconds) - (time.monotonic() - started)
            if not consumed or remaining <= 0:
                break
            (sleep or time.sleep)(min(0.05, remaining))
            continue
        batches += 1
        if detector is None:
            # Read once per drain: campaign windows this drain writes reach the next one.
            effective = effective_settings(session, community)
            detector = load_detector(session, community, checkpoint, cache, effective)
        parsed = []
        for row in rows:
            # row.count is the column: SQLAlchemy's Row resolves the clash with Sequence.count.
            events = [parse_event(wire, community.slug)
                      for wire in decode_batch(row.body, row.fresh, row.count)]  # type: ignore[arg-type]
            parsed.extend(events)
            arrivals.append((row.received_at, len(events)))
            consumed += len(events)
        for e in parsed:
            per_minute[(int(e.ts // 60), e.type)] += 1
        # Event time, not arrival order, drives the detectors; a batch is sorted by it.
        parsed.sort(key=_EVENT_TIME)
        # Members' reports become cases in this transaction, before the detectors may open
        # the complaint incident that gathers them.
        case_intake.from_events(session, community, parsed, now=clock.now())
        writes_before = _writes(outcome)
        apply_actions(session, community, detector.process(parsed), clock=clock, outcome=outcome, events=parsed)
        after = rows[-1].seq
        if _writes(outcome) != writes_before:
            break
        if time.monotonic() - started >= max_seconds:
            break
    if not consumed or detector is None:
        return outcome
    for incident_id in dict.fromkeys(outcome.opened + outcome.updated):
        incident = session.get(Incident, incident_id)
        if incident is not None:
            case_links.attach_incident(session, incident, clock.now())
    activity.record(session, community_id, per_minute)
    outcome.version = _save_state(session, community_id, checkpoint, detector, last_seq=after, now=clock.now())
    outcome.detector = detector
    outcome.settings = effective  # the settings the detector ran with; DetectorCache.put keeps its own copy
    outcome.events = consumed
    _count_after_commit(session, community.slug, arrivals, outcome, clock)
    return outcome


def _writes(outcome: BatchOutcome) -> int:
    return len(outcome.opened) + len(outcome.updated) + len(outcome.closed) + len(outcome.attached)


def _count_after_commit(session: Session, slug: str, arrivals: list[tuple[datetime, int]], outcome: BatchOutcome,
                        clock: Clock) -> None:
    # A batch that loses the race is rolled back and redone elsewhere: count it only once it commits.
    after_commit(session, "drain.metrics", list, _record_metrics).append((slug, arrivals, outcome, clock))


def _record_metrics(batches: list[tuple[str, list[tuple[datetime, int]], BatchOutcome, Clock]]) -> None:
    for slug, arrivals, outcome, clock in batches:
        now = clock.now()
        metrics.observe_lags(slug, [((now - at).total_seconds(), n) for at, n in arrivals])
        metrics.count_detections(outcome.opened_kinds, outcome.signals)


def _save_state(session: Session, community_id: int, checkpoint: Checkpoint, detector: CommunityDetector,
                *, last_seq: int, now: datetime) -> int:
    """Write the checkpoint if nobody moved it since `checkpoint` was read; the new version."""
    state = detector.to_state()
    if checkpoint.version == 0:
        session.add(DetectorState(community_id=community_id, state=state, last_seq=last_seq,
                                  updated_at=now, version=1))
        session.flush()  # a racing insert fails here on the primary key
        return 1
    result = session.execute(
        update(DetectorState).where(DetectorState.community_id == community_id,
                                    DetectorState.version == checkpoint.version)
        .values(state=state, last_seq=last_seq, updated_at=now, version=checkpoint.version + 1),
        execution_options={"synchronize_session": False})
    if result.rowcount != 1:  # type: ignore[attr-defined]  # -- an UPDATE's Result is a CursorResult
        raise LostRace(f"community {community_id}: detector state moved under us")
    return checkpoint.version + 1
