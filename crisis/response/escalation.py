"""Escalation timers: the database row is the truth, rq jobs and the sweeper only wake it.

Each incident has one EscalationTimer: the next level to fire and when. Firing claims
the row with a conditional UPDATE on exactly what was read (status, level, round,
due_at); a second sweeper or a duplicate scheduled job matches nothing and moves on.
Claim, notifications and the advanced timer commit together, so a step fires once.

A level that resolves to nobody is recorded and skipped at once: the next level fires
now instead of after the skipped level's delay (GoAlert #4548)."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from crisis.clock import Clock
from crisis.db import session_scope
from crisis.jobs import ringer
from crisis.models import EscalationTimer, Incident
from crisis.notify import outbox, unreached
from crisis.playbooks import parse_duration
from crisis.response.states import ESCALATING, TIMER, TimerStatus
from crisis.timeline import N_, Said, add_timeline, said

log = logging.getLogger(__name__)


def _delay(raw: str) -> timedelta:
    return parse_duration(raw)


def arm(session: Session, incident: Incident, policy: dict[str, Any], *, now: datetime, reason: str,
        event: str = "opened") -> EscalationTimer | None:
    """Start (or restart, on reopen) escalation at level 1, firing it now."""
    if not policy.get("levels"):
        return None
    timer = session.scalar(select(EscalationTimer).where(EscalationTimer.incident_id == incident.id))
    if timer is None:
        timer = EscalationTimer(incident_id=incident.id, policy=policy, level=0, round=0,
                                status=TimerStatus.PENDING.value, due_at=now, fired_count=0, updated_at=now,
                                armed_at=now, unreached_count=0)
        session.add(timer)
    else:
        timer.status = TIMER.move(timer.status, TimerStatus.PENDING).value
        timer.policy, timer.level, timer.round, timer.due_at, timer.updated_at = policy, 0, 0, now, now
        timer.armed_at, timer.unreached_at = now, None
    session.flush()
    add_timeline(session, incident, "escalation", said(N_("Escalation armed (%(reason)s)"), words=("reason",),
                                                       reason=reason), at=now, actor="escalation",
                 data={"levels": len(policy["levels"]), "repeat": policy.get("repeat", {})})
    _run(session, incident, timer, now, first_event=event)
    return timer


def stop(session: Session, incident: Incident, *, now: datetime, why: str | Said) -> bool:
    """Stop escalation in the caller's transaction. True when a pending step was cancelled."""
    result = session.execute(
        update(EscalationTimer).where(EscalationTimer.incident_id == incident.id,
                                      EscalationTimer.status == TimerStatus.PENDING)
        .values(status=TimerStatus.STOPPED.value, due_at=None, updated_at=now),
        execution_options={"synchronize_session": False})
    if result.rowcount:  # type: ignore[attr-defined]  # -- an UPDATE's Result is a CursorResult
        add_timeline(session, incident, "escalation", said(N_("Escalation stopped: %(why)s"), why=why), at=now,
                     actor="escalation")
        return True
    return False


def paged_targets(session: Session, incident: Incident) -> list[dict[str, Any]]:
    """The targets of the escalation level that fired last: who is being paged right now."""
    timer = session.scalar(select(EscalationTimer).where(EscalationTimer.incident_id == incident.id))
    if timer is None or not timer.fired_count:
        return []
    levels = timer.policy["levels"]
    # `level` is the next one due (or past the end once exhausted); the one before it fired.
    last = (timer.level - 1) % len(levels) if timer.status == TimerStatus.PENDING else min(timer.level, len(levels)) - 1
    return list(levels[max(last, 0)]["notify"])


def _run(session: Session, incident: Incident, timer: EscalationTimer, now: datetime,
         first_event: str = "escalated") -> None:
    """Fire timer.level now, skipping empty levels, then set the next due time."""
    levels = timer.policy["levels"]
    repeat = timer.policy.get("repeat") or {"times": 0, "after": "0m"}
    level, rnd = timer.level, timer.round
    empty_in_a_row = 0
    while True:
        event = first_event if level == 0 and rnd == 0 else "escalated"
        fired = _fire_level(session, incident, timer, level, rnd, now, event)
        empty_in_a_row = 0 if fired else empty_in_a_row + 1
        nxt, nxt_round, wait = level + 1, rnd, None
        if nxt >= len(levels):
            if rnd >= repeat.get("times", 0) or empty_in_a_row >= len(levels):
                timer.status = TIMER.move(timer.status, TimerStatus.EXHAUSTED).value
                timer.level, timer.round, timer.due_at, timer.updated_at = nxt, rnd, None, now
                add_timeline(session, incident, "escalation",
                             said(N_("Escalation finished: every level has fired")) if empty_in_a_row < len(levels)
                             else said(N_("Escalation finished: nobody to notify at any level")), at=now,
                             actor="escalation")
                session.flush()
                unreached.check(session, incident, now=now)
                return
            nxt, nxt_round, wait = 0, rnd + 1, _delay(repeat.get("after", "0m"))
        if fired or wait is not None:
            due = now + (wait if wait is not None else _delay(levels[nxt]["after"]))
            timer.level, timer.round, timer.due_at, timer.updated_at = nxt, nxt_round, due, now
            ringer.note_escalation(session, due)
            return
        level, rnd = nxt, nxt_round  # the level was empty: fire the next one now, not after its delay


def _fire_level(session: Session, incident: Incident, timer: EscalationTimer, level: int, rnd: int,
                now: datetime, event: str) -> bool:
    spec = timer.policy["levels"][level]
    timer.fired_count += 1
    result = outbox.notify(session, incident, event, spec["notify"], cause=f"inc{incident.id}:esc:{timer.fired_count}",
                           now=now, extra={"level": level + 1, "round": rnd + 1})
    label = said(N_("level %(level)s (repeat %(round)s)"), level=level + 1, round=rnd) if rnd \
        else said(N_("level %(level)s"), level=level + 1)
    if not result.notifications:
        add_timeline(session, incident, "escalation",
                     said(N_("Escalation %(label)s skipped: nobody to notify (%(why)s)"), label=label,
                          why="; ".join(result.skipped) if result.skipped else said(N_("no targets"))),
                     at=now, actor="escalation",
                     data={"level": level + 1, "round": rnd, "skipped": result.skipped})
        return False
    add_timeline(session, incident, "escalation",
                 said(N_("Escalation %(label)s fired: notifying %(who)s"), label=label, who=", ".join(result.labels)),
                 at=now, actor="escalation",
                 data={"level": level + 1, "round": rnd, "recipients": result.labels, "skipped": result.skipped})
    return True


def _claim(session: Session, row: Any, now: datetime) -> bool:
    # The first statement of the transaction is this write, so SQLite takes the write lock
    # with a fresh snapshot and PostgreSQL re-checks the WHERE after any row lock it waited on.
    result = session.execute(
        update(EscalationTimer)
        .where(EscalationTimer.id == row.id, EscalationTimer.status == TimerStatus.PENDING,
               EscalationTimer.level == row.level, EscalationTimer.round == row.round,
               EscalationTimer.due_at == row.due_at)
        .values(updated_at=now), execution_options={"synchronize_session": False})
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]  # -- an UPDATE's Result is a CursorResult


def fire_one(session: Session, row: Any, *, clock: Clock) -> bool:
    now = clock.now()
    if not _claim(session, row, now):
        return False
    timer = session.get(EscalationTimer, row.id)
    incident = session.get(Incident, row.incident_id)
    assert timer is not None and incident is not None
    session.refresh(timer)
    if incident.status not in ESCALATING:
        timer.status, timer.due_at = TIMER.move(timer.status, TimerStatus.STOPPED).value, None
        return False
    try:
        _run(session, incident, timer, now)
    except Exception:
        log.exception("escalation for incident %s failed; pushing it back a minute", incident.id)
        raise
    return True


def due(session: Session, now: datetime, limit: int) -> list[Any]:
    return list(session.execute(
        select(EscalationTimer.id, EscalationTimer.incident_id, EscalationTimer.level, EscalationTimer.round,
               EscalationTimer.due_at)
        .where(EscalationTimer.status == TimerStatus.PENDING, EscalationTimer.due_at <= now)
        .order_by(EscalationTimer.due_at).limit(limit)).all())


def fire_due(sessions: sessionmaker[Session], *, clock: Clock, limit: int = 200) -> int:
    """Fire every step that is due, each in its own transaction. Returns how many fired."""
    with sessions() as session:
        rows = due(session, clock.now(), limit)
    fired = 0
    for row in rows:
        try:
            with session_scope(sessions) as session:
                fired += fire_one(session, row, clock=clock)
        except OperationalError:
            # SQLite under a racing writer: the other sweeper has (or will) fire it.
            log.info("escalation %s: lost the race for the write lock", row.id)
        except Exception:  # noqa: BLE001
            _push_back(sessions, row, clock)
    return fired


def _push_back(sessions: sessionmaker[Session], row: Any, clock: Clock) -> None:
    """A step that raises is retried a minute later, so one bad row cannot crash-loop the sweeper."""
    with session_scope(sessions) as session:
        session.execute(update(EscalationTimer).where(EscalationTimer.id == row.id,
                                                      EscalationTimer.due_at == row.due_at)
                        .values(due_at=clock.now() + timedelta(minutes=1)),
                        execution_options={"synchronize_session": False})
