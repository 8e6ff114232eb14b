"""Escalation that reached nobody: an incident still unacknowledged whose escalation ran out
without one page delivered (no level resolved to anyone, or every page failed).

It is noticed where the last chance ends: when escalation finishes (crisis.response.
escalation), when an escalation page fails for good (crisis.notify.deliver), and by the
sweeper for the case where two deliveries failed at the same moment and each saw the other
still sending. The mark is claimed with a conditional UPDATE, so it happens once per round;
the same transaction writes the timeline entry and a fallback notification to the
community's admins through the outbox."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from crisis.models import EscalationTimer, Incident, Notification
from crisis.notify import outbox
from crisis.response.states import IncidentStatus, TimerStatus
from crisis.timeline import N_, add_timeline, said

FALLBACK_TARGETS = [{"role": "admin"}]
_WAITING = ("pending", "sending")
# Pages retried with backoff give up within about 15 minutes (alerts/routing.yaml); the
# sweeper looks back further than that, and no further, so it does not re-read for ever
# the exhausted incidents that were reached but never acknowledged.
SWEEP_LOOKBACK = timedelta(hours=6)


def escalation_cause_prefix(incident_id: int) -> str:
    return f"inc{incident_id}:esc:"  # crisis.response.escalation._fire_level


def _pages(session: Session, incident: Incident, timer: EscalationTimer) -> dict[str, int]:
    """This round's escalation pages by status."""
    query = select(Notification.status, func.count()).where(
        Notification.incident_id == incident.id,
        Notification.cause.startswith(escalation_cause_prefix(incident.id), autoescape=True))
    if timer.armed_at is not None:
        query = query.where(Notification.created_at >= timer.armed_at)
    return {status: n for status, n in session.execute(query.group_by(Notification.status))}


def _claim(session: Session, timer: EscalationTimer, now: datetime) -> bool:
    result = session.execute(
        update(EscalationTimer).where(EscalationTimer.id == timer.id, EscalationTimer.unreached_at.is_(None),
                                      EscalationTimer.status == TimerStatus.EXHAUSTED)
        .values(unreached_at=now, unreached_count=EscalationTimer.unreached_count + 1),
        execution_options={"synchronize_session": False})
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]  # -- an UPDATE's Result is a CursorResult


def check(session: Session, incident: Incident, *, now: datetime) -> bool:
    """Mark the incident unreached and page its admins, if escalation ran out without a
    delivery and nothing is still on its way. True when it did so now."""
    if incident.status != IncidentStatus.TRIGGERED:
        return False  # someone took it: they were reached, or found it themselves
    timer = session.scalar(select(EscalationTimer).where(EscalationTimer.incident_id == incident.id))
    if timer is None or timer.status != TimerStatus.EXHAUSTED or timer.unreached_at is not None:
        return False
    pages = _pages(session, incident, timer)
    if pages.get("sent") or any(pages.get(s) for s in _WAITING):
        return False
    if not _claim(session, timer, now):
        return False  # another worker marked it first
    session.refresh(timer)
    failed = pages.get("failed", 0)
    why = said(N_("all %(failed)s page(s) failed"), failed=failed) if failed \
        else said(N_("no level resolved to anyone with a contact method"))
    add_timeline(session, incident, "escalation", said(N_("Nobody was reached: escalation ended and %(why)s"), why=why),
                 at=now,
                 actor="escalation", data={"unreached": True, "failed_pages": failed})
    result = outbox.notify(session, incident, "unreached", FALLBACK_TARGETS,
                           cause=f"inc{incident.id}:unreached:{timer.unreached_count}", now=now,
                           extra={"failed_pages": failed})
    add_timeline(session, incident, "notification",
                 said(N_("Fallback to the community's admins: %(who)s"), who=result.summary), at=now,
                 actor="escalation", data={"recipients": result.labels, "skipped": result.skipped,
                                           "fallback": True})
    return True


def banner(session: Session, incident_id: int) -> dict[str, Any] | None:
    """What the incident page says when escalation reached nobody: when, and how many
    fallback notifications went to the admins (none: no admin has a contact method either)."""
    at = session.scalar(select(EscalationTimer.unreached_at).where(EscalationTimer.incident_id == incident_id))
    if at is None:
        return None
    rows = session.execute(select(Notification.status, func.count()).where(
        Notification.incident_id == incident_id, Notification.event == "unreached",
        Notification.created_at >= at).group_by(Notification.status)).all()
    counts = {status: n for status, n in rows}
    return {"at": at, "fallback": sum(counts.values()), "fallback_sent": counts.get("sent", 0)}


def candidates(session: Session, now: datetime, limit: int) -> list[int]:
    """Incidents the sweeper should look at: unacknowledged, escalation exhausted lately, not
    yet marked. check() decides; most of these were reached and are skipped cheaply."""
    return list(session.scalars(
        select(EscalationTimer.incident_id).join(Incident, Incident.id == EscalationTimer.incident_id)
        .where(EscalationTimer.status == TimerStatus.EXHAUSTED, EscalationTimer.unreached_at.is_(None),
               EscalationTimer.updated_at >= now - SWEEP_LOOKBACK, Incident.status == IncidentStatus.TRIGGERED)
        .order_by(EscalationTimer.updated_at.desc()).limit(limit)))


def sweep_one(session: Session, incident_id: int, now: datetime) -> bool:
    incident = session.get(Incident, incident_id)
    return incident is not None and check(session, incident, now=now)
