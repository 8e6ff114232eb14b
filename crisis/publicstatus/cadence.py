"""The playbook's member-update cadence: `member_updates: {every: 30m, severities: [sev1]}`.

While an incident is open at one of those severities, members are owed an update every
period. The timer row is the truth (due_at); rq's scheduler and the sweeper only wake it,
and both read the injected clock. Past due, the incident's liaison is reminded through the
notification outbox (its commander when nobody is liaison, and the reminder says so), and
the timer moves one period on, so an unanswered reminder repeats each period. An update
to members moves it a full period from the update.

`sync` is the one function that arms or stops the timer; the lifecycle calls it wherever an
incident's status or severity changes."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from crisis import runtime
from crisis.clock import Clock
from crisis.db import sweep
from crisis.jobs import ringer
from crisis.models import Community, Incident, MemberUpdateTimer, PublicUpdate
from crisis.notify import outbox, recipients
from crisis.playbooks import parse_duration
from crisis.publicstatus.states import CADENCE, CadenceStatus
from crisis.timeline import add_timeline

log = logging.getLogger(__name__)
C = CadenceStatus


def timer_for(session: Session, incident_id: int) -> MemberUpdateTimer | None:
    return session.scalar(select(MemberUpdateTimer).where(MemberUpdateTimer.incident_id == incident_id))


def _wanted(incident: Incident, policy: dict[str, Any] | None) -> bool:
    return policy is not None and incident.status != "resolved" and incident.severity in policy["severities"]


def _minutes(seconds: float) -> int:
    return max(int(seconds // 60), 0)


def sync(session: Session, incident: Incident, spec: dict[str, Any] | None, *, now: datetime) -> None:
    """Arm the timer (the first update is due a period from now), keep it, or stop it, to
    match the incident's status and severity against the pinned playbook's cadence."""
    policy = (spec or {}).get("member_updates")
    timer = timer_for(session, incident.id)
    if _wanted(incident, policy):
        assert policy is not None
        if timer is not None and timer.status == C.PENDING:
            return
        every = int(parse_duration(policy["every"]).total_seconds())
        if timer is None:
            timer = MemberUpdateTimer(incident_id=incident.id, every_s=every, status=C.PENDING.value, reminders=0,
                                      updated_at=now)
            session.add(timer)
        else:
            timer.status = CADENCE.move(timer.status, C.PENDING).value
            timer.every_s = every
        timer.due_at, timer.updated_at = now + timedelta(seconds=every), now
        session.flush()
        add_timeline(session, incident, "members", f"Members are owed an update every {_minutes(every)}m at "
                     f"{incident.severity} (the playbook's cadence); the next by "
                     f"{timer.due_at.strftime('%H:%M')} UTC", at=now, actor="playbook",
                     data={"every_s": every, "due_at": timer.due_at.isoformat()})
        ringer.note_member_update(session, timer.due_at)
        return
    if timer is not None and timer.status == C.PENDING:
        timer.status = CADENCE.move(timer.status, C.STOPPED).value
        timer.due_at, timer.updated_at = None, now
        why = "the incident is resolved" if incident.status == "resolved" else \
            f"{incident.severity} is outside the playbook's cadence"
        add_timeline(session, incident, "members", f"Member-update reminders stopped: {why}", at=now,
                     actor="playbook")


def posted(session: Session, incident: Incident, *, now: datetime) -> None:
    """Members just heard an update: the next is due a full period from now."""
    timer = timer_for(session, incident.id)
    if timer is None or timer.status != C.PENDING:
        return
    timer.status = CADENCE.move(timer.status, C.PENDING).value
    timer.due_at, timer.updated_at = now + timedelta(seconds=timer.every_s), now
    ringer.note_member_update(session, timer.due_at)


def _due(session: Session, now: datetime, limit: int) -> list[int]:
    return list(session.scalars(select(MemberUpdateTimer.id).where(MemberUpdateTimer.status == C.PENDING,
                                                                   MemberUpdateTimer.due_at <= now)
                                .order_by(MemberUpdateTimer.due_at).limit(limit)))


def _claim(session: Session, timer_id: int, now: datetime) -> bool:
    # The first statement of the transaction is this write: SQLite takes the write lock with a
    # fresh snapshot, PostgreSQL re-checks the WHERE after any row lock it waited on, so a
    # racing sweeper or scheduled job finds due_at moved on and claims nothing.
    result = session.execute(update(MemberUpdateTimer)
                             .where(MemberUpdateTimer.id == timer_id, MemberUpdateTimer.status == C.PENDING,
                                    MemberUpdateTimer.due_at <= now)
                             .values(reminders=MemberUpdateTimer.reminders + 1, last_reminded_at=now, updated_at=now),
                             execution_options={"synchronize_session": False})
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]  # -- an UPDATE's Result is a CursorResult


def remind_one(session: Session, timer_id: int, now: datetime) -> bool:
    """Claim a due timer, remind the liaison, move it one period on. False when another
    process had it (or it is not due)."""
    if not _claim(session, timer_id, now):
        return False
    timer = session.get(MemberUpdateTimer, timer_id)
    assert timer is not None
    session.refresh(timer)
    incident = session.get(Incident, timer.incident_id)
    community = session.get(Community, incident.community_id) if incident else None
    assert incident is not None and community is not None
    silent_since = session.scalar(select(func.max(PublicUpdate.posted_at))
                                  .where(PublicUpdate.incident_id == incident.id)) or incident.created_at
    timer.status = CADENCE.move(timer.status, C.PENDING).value
    timer.due_at = now + timedelta(seconds=timer.every_s)
    liaisons, _reason = recipients.users_for(session, incident, "incident_role", "liaison", now)
    role = "liaison" if liaisons else "commander"
    base = runtime.current().config.base_url
    result = outbox.notify(session, incident, "member_update_due", [{"incident_role": role}],
                           cause=f"inc{incident.id}:members:{timer.reminders}", now=now,
                           extra={"silent_minutes": _minutes((now - silent_since).total_seconds()),
                                  "every_minutes": _minutes(timer.every_s), "fallback": not liaisons,
                                  "page_url": f"{base}/c/{community.slug}/incidents/{incident.id}"})
    add_timeline(session, incident, "members",
                 f"Members have had no update for {_minutes((now - silent_since).total_seconds())}m (the playbook "
                 f"asks every {_minutes(timer.every_s)}m); reminded the {role}: {result.summary}", at=now,
                 actor="playbook", data={"reminder": timer.reminders, "role": role, "recipients": result.labels,
                                         "skipped": result.skipped})
    ringer.note_member_update(session, timer.due_at)
    return True


def remind_due(sessions: sessionmaker[Session], *, clock: Clock, limit: int = 200) -> int:
    """Every due reminder, each in its own transaction (rq's scheduled job and the sweeper)."""
    return sweep(sessions, _due, remind_one, now=clock.now(), limit=limit)
