"""Erasing a member: the request (validated, refused while containment still acts on them)
and the job that carries it out in short transactions, resumable phase by phase.

Order matters against the detect drain running beside it: the stored events are rewritten
first, then the detectors' checkpoint under a compare-and-set on its version (a drain that
read an old batch and commits later fails its own compare-and-set and redoes the work from
the rewritten events), then every other table, which by then no drain can write the member
into again. When it is done, the row forgets the member (subject and needles cleared) and
the audit log gets one `member.erased` row naming only the tombstone.
"""
from __future__ import annotations

import logging
import secrets
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import MetaData, select, update
from sqlalchemy.orm import Session, sessionmaker

from crisis.audit import log as audit_log
from crisis.clock import Clock, isoformat
from crisis.containment.states import OPEN as OPEN_ACTIONS
from crisis.db import Base, session_scope
from crisis.detection import dispute as dispute_state
from crisis.erasure import batches, tables
from crisis.erasure.redact import Redactor
from crisis.erasure.states import ERASURE, MAX_ATTEMPTS, ErasureStatus
from crisis.models import Community, ContainmentAction, DetectorState, Erasure
from crisis.tenancy.communities import ServiceError

log = logging.getLogger(__name__)
E = ErasureStatus
MAX_MEMBER = 255
MAX_ALSO = 20
# A claim older than this belongs to a worker that died: the sweeper gives the erasure back.
STALE_CLAIM = timedelta(minutes=10)


class ErasureRefused(ServiceError):
    """The request cannot be carried out as asked; the message says why and what to do."""


class ErasureBlocked(ErasureRefused):
    """Containment still acts on the member: undo or cancel it first, or force."""


def _strings(value: Any, name: str, limit: int, most: int) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > most:
        raise ErasureRefused(f"{name}: must be a list of at most {most} names")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip() or len(item) > limit:
            raise ErasureRefused(f"{name}[{i}]: must be a non-empty string of at most {limit} characters")
        out.append(item.strip())
    return out


def acting_on(session: Session, community_id: int, redactor: Redactor) -> list[ContainmentAction]:
    """Containment actions not yet finished that name the member: erasing them would leave a
    ban nobody can undo, or an approval aimed at a tombstone."""
    actions = session.scalars(select(ContainmentAction).where(
        ContainmentAction.community_id == community_id,
        ContainmentAction.status.in_([s.value for s in OPEN_ACTIONS])).order_by(ContainmentAction.id))
    return [a for a in actions if redactor.touches([a.targets, a.receipt, a.params])]


def request(session: Session, community: Community, *, member: Any, also: Any = None, actor: str,
            actor_user_id: int | None, remote_addr: str | None, clock: Clock, force: bool = False) -> Erasure:
    """Write the erasure for the job to carry out. The caller commits, then rings the job."""
    if not isinstance(member, str) or not member.strip() or len(member) > MAX_MEMBER:
        raise ErasureRefused(f"member: must be the member's platform id, 1 to {MAX_MEMBER} characters")
    member = member.strip()
    names = _strings(also, "also", 200, MAX_ALSO)
    tombstone = f"erased:{secrets.token_hex(5)}"
    if not force:
        busy = acting_on(session, community.id, Redactor(ids=[member], tombstone=tombstone))
        if busy:
            listed = ", ".join(f"{a.id} ({a.kind}, {a.status})" for a in busy)
            raise ErasureBlocked(f"member: containment still acts on this member (actions {listed}); undo or "
                                 "cancel them first, or erase anyway with force")
    row = Erasure(community_id=community.id, status=E.REQUESTED.value, phase="collect", tombstone=tombstone,
                  subject=member, needles={"names": names, "texts": []}, cursor_seq=0, high_seq=0, counts={},
                  requested_by=actor[:200], requested_by_id=actor_user_id, remote_addr=(remote_addr or "")[:64],
                  attempts=0, last_error="", created_at=clock.now())
    session.add(row)
    session.flush()
    return row


def redactor_for(row: Erasure, cache: dict[str, Any] | None = None) -> Redactor:
    """The row's redactor; `cache` keeps it across one run's steps while the needles stay the
    same (building the pattern over thousands of texts costs more than a step's work)."""
    needles = row.needles or {}
    key = (row.subject, row.tombstone, tuple(needles.get("names", [])), tuple(needles.get("texts", [])))
    if cache is not None and cache.get("key") == key:
        return cache["redactor"]  # type: ignore[no-any-return]
    redactor = Redactor(ids=[row.subject or ""], names=needles.get("names", []), texts=needles.get("texts", []),
                        tombstone=row.tombstone)
    if cache is not None:
        cache.update(key=key, redactor=redactor)
    return redactor


def _claim(session: Session, erasure_id: int, now: datetime) -> bool:
    assert E.REQUESTED in ERASURE.sources(E.RUNNING)
    result = session.execute(update(Erasure).where(Erasure.id == erasure_id, Erasure.status == E.REQUESTED.value)
                             .values(status=E.RUNNING.value, claimed_at=now, attempts=Erasure.attempts + 1),
                             execution_options={"synchronize_session": False})
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]  # -- an UPDATE's Result is a CursorResult


def _move(row: Erasure, new: ErasureStatus) -> None:
    row.status = ERASURE.move(row.status, new).value


def run(sessions: sessionmaker[Session], erasure_id: int, *, clock: Clock, budget_s: float = 30.0,
        metadata: MetaData | None = None) -> str:
    """Carry the erasure as far as `budget_s` allows; its status afterwards (requested: ring
    it again; done; failed). Idempotent: a claimed or finished erasure is left alone."""
    with session_scope(sessions) as session:
        if not _claim(session, erasure_id, clock.now()):
            row = session.get(Erasure, erasure_id)
            return row.status if row is not None else "missing"
    started = time.monotonic()
    cache: dict[str, Any] = {}
    try:
        while True:
            with session_scope(sessions) as session:
                row = session.get(Erasure, erasure_id)
                assert row is not None
                if row.phase == "done":
                    return row.status
                if time.monotonic() - started >= budget_s:
                    _move(row, E.REQUESTED)
                    row.claimed_at = None
                    return row.status
                _step(session, row, clock=clock, metadata=metadata or Base.metadata, cache=cache)
    except Exception as exc:  # noqa: BLE001 -- recorded on the row; the sweeper retries it
        log.warning("erasure %s failed", erasure_id, exc_info=True)
        return _failed(sessions, erasure_id, f"{type(exc).__name__}: {exc}")


def _failed(sessions: sessionmaker[Session], erasure_id: int, error: str) -> str:
    with session_scope(sessions) as session:
        row = session.get(Erasure, erasure_id)
        assert row is not None
        _move(row, E.FAILED if row.attempts >= MAX_ATTEMPTS else E.REQUESTED)
        row.claimed_at, row.last_error = None, error[:500]
        return row.status


def _count(row: Erasure, **add: int) -> None:
    counts = dict(row.counts or {})
    for key, n in add.items():
        counts[key] = counts.get(key, 0) + n
    row.counts = counts


def _step(session: Session, row: Erasure, *, clock: Clock, metadata: MetaData, cache: dict[str, Any]) -> None:
    """One short unit of work of the current phase, committed by the caller."""
    redactor = redactor_for(row, cache)
    if row.phase == "collect":
        if row.high_seq == 0:
            row.high_seq = batches.max_seq(session, row.community_id)
        found = batches.Found(set((row.needles or {}).get("names", [])), set((row.needles or {}).get("texts", [])))
        last = batches.collect_chunk(session, row.community_id, redactor, found, after=row.cursor_seq,
                                     upto=row.high_seq)
        row.needles = {"names": sorted(found.names), "texts": sorted(found.texts)}
        if last == row.cursor_seq:
            row.phase, row.cursor_seq, row.high_seq = "rewrite", 0, batches.max_seq(session, row.community_id)
            _count(row, names_found=len(found.names), texts_found=len(found.texts))
        else:
            row.cursor_seq = last
    elif row.phase == "rewrite":
        done = batches.rewrite_chunk(session, row.community_id, redactor, after=row.cursor_seq, upto=row.high_seq)
        _count(row, events_own=done.own_events, events_other=done.other_events,
               batches_rewritten=done.rows_changed, ids_renamed=done.ids_renamed)
        if done.rows == 0:
            row.phase, row.cursor_seq = "detectors", 0
        else:
            row.cursor_seq = done.last
    elif row.phase == "detectors":
        _count(row, detector_state=int(scrub_detectors(session, row.community_id, redactor)))
        row.phase = "tables"
    elif row.phase == "tables":
        _finish(session, row, redactor, clock=clock, metadata=metadata)


def _expanded(state: Any) -> Any:
    # A checkpoint of 2026-12-08 holds the dispute detector's parent memory (texts and
    # authors) packed: search it unpacked, and write it back plain, as the detector does now.
    if isinstance(state, dict) and isinstance(state.get("dispute"), dict):
        return {**state, "dispute": dispute_state.expanded(state["dispute"])}
    return state


def scrub_detectors(session: Session, community_id: int, redactor: Redactor, attempts: int = 5) -> bool:
    """Take the member out of the detectors' checkpoint; its version moves on, so a drain
    that loaded the old one loses its compare-and-set, and a worker's cached detectors are
    not reused. True when it held the member."""
    for _ in range(attempts):
        found = session.execute(select(DetectorState.version, DetectorState.state)
                                .where(DetectorState.community_id == community_id)).first()
        if found is None:
            return False
        plain = _expanded(found.state)
        cleaned = redactor.value(plain)
        if cleaned == plain:
            return False
        result = session.execute(update(DetectorState).where(DetectorState.community_id == community_id,
                                                             DetectorState.version == found.version)
                                 .values(state=cleaned, version=found.version + 1),
                                 execution_options={"synchronize_session": False})
        if result.rowcount == 1:  # type: ignore[attr-defined]  # -- an UPDATE's Result is a CursorResult
            return True
        session.rollback()
    raise RuntimeError(f"community {community_id}: the detectors' checkpoint kept moving; try again")


def _finish(session: Session, row: Erasure, redactor: Redactor, *, clock: Clock, metadata: MetaData) -> None:
    changed = tables.scrub_all(session, metadata, row.community_id, redactor)
    needles = [row.subject or "", *(row.needles or {}).get("names", [])]
    renamed = tables.stale_event_ids(session, row.community_id, redactor, needles)
    session.refresh(row)  # scrub_all committed chunk by chunk
    _count(row, ids_renamed=renamed, rows_changed=sum(changed.values()))
    row.counts = {**row.counts, "tables": changed}
    _move(row, E.DONE)
    row.phase, row.subject, row.needles = "done", None, None
    row.finished_at, row.claimed_at, row.last_error = clock.now(), None, ""
    # The audit row names the tombstone, never the member: the log is append-only, and an
    # erasure that wrote the member's id into it would undo itself.
    audit_log.record(session, community_id=row.community_id, actor=row.requested_by, action="member.erased",
                     target=row.tombstone, actor_user_id=row.requested_by_id, remote_addr=row.remote_addr,
                     after={k: v for k, v in row.counts.items() if k != "tables"}, at=row.finished_at)


def run_to_end(sessions: sessionmaker[Session], erasure_id: int, *, clock: Clock) -> str:
    """The CLI's way: keep going, budget after budget, until done or failed."""
    while True:
        status = run(sessions, erasure_id, clock=clock)
        if status != E.REQUESTED.value:
            return status


def recover_stale(session: Session, now: datetime) -> int:
    """Give back erasures whose worker died mid-run (their claim went stale)."""
    assert E.REQUESTED in ERASURE.moves[E.RUNNING]
    result = session.execute(update(Erasure).where(Erasure.status == E.RUNNING.value,
                                                   Erasure.claimed_at < now - STALE_CLAIM)
                             .values(status=E.REQUESTED.value, claimed_at=None),
                             execution_options={"synchronize_session": False})
    return int(result.rowcount)  # type: ignore[attr-defined]  # -- an UPDATE's Result is a CursorResult


def waiting(session: Session, limit: int) -> list[int]:
    return list(session.scalars(select(Erasure.id).where(Erasure.status == E.REQUESTED.value)
                                .order_by(Erasure.id).limit(limit)))


def of_community(session: Session, community_id: int, limit: int = 50) -> list[Erasure]:
    return list(session.scalars(select(Erasure).where(Erasure.community_id == community_id)
                                .order_by(Erasure.id.desc()).limit(limit)))


def public(row: Erasure) -> dict[str, Any]:
    """What the API and pages show: never the member's id or texts."""
    return {"id": row.id, "status": row.status, "phase": row.phase, "tombstone": row.tombstone,
            "counts": row.counts or {}, "requested_by": row.requested_by,
            "created_at": isoformat(row.created_at), "finished_at": isoformat(row.finished_at)
            if row.finished_at else None, "attempts": row.attempts, "last_error": row.last_error}
