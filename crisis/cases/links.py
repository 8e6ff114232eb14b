"""Cases and the complaint incidents they belong to, both ways.

A complaint spike (or report backlog) incident gathers the open cases of its community
received in its window: those already in when it opens (from its evidence's window
before the opening) and those arriving while it is open. Its page lists them, grouped
like the queue, the ones about its most reported targets first; resolving it can close
them with one decision (crisis.cases.service.close_for_incident)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.cases.states import OPEN_VALUES
from crisis.models import Case, CaseEvent, Incident

CASE_KINDS = ("complaint_spike", "report_spike", "report_backlog")
DEFAULT_WINDOW = timedelta(minutes=60)


def window_start(incident: Incident) -> datetime:
    minutes = (incident.evidence or {}).get("window_min")
    window = timedelta(minutes=float(minutes)) if isinstance(minutes, int | float) and minutes > 0 else DEFAULT_WINDOW
    return incident.opened_at - window


def _link(session: Session, case: Case, incident: Incident, now: datetime) -> None:
    case.incident_id, case.updated_at = incident.id, now
    session.add(CaseEvent(**linked_event(case.id, incident, now)))


def open_incidents(session: Session, community_id: int) -> list[Incident]:
    """The community's unresolved complaint incidents, newest first."""
    return list(session.scalars(select(Incident).where(
        Incident.community_id == community_id, Incident.kind.in_(CASE_KINDS),
        Incident.status != "resolved").order_by(Incident.opened_at.desc())))


def incident_for(incidents: list[Incident], received_at: datetime) -> Incident | None:
    """The newest of `incidents` (open_incidents) whose window a case received then falls in."""
    return next((i for i in incidents if received_at >= window_start(i)), None)


def linked_event(case_id: int, incident: Incident, now: datetime) -> dict[str, Any]:
    return {"case_id": case_id, "at": now, "kind": "incident", "actor": "crisis",
            "note": f"part of incident #{incident.id}: {incident.title}"[:1000], "data": {"incident_id": incident.id}}


def attach_incident(session: Session, incident: Incident, now: datetime) -> int:
    """A complaint incident (just opened or updated) gathers the open, unlinked cases of its window."""
    if incident.kind not in CASE_KINDS or incident.status == "resolved":
        return 0
    cases = list(session.scalars(select(Case).where(
        Case.community_id == incident.community_id, Case.incident_id.is_(None), Case.status.in_(OPEN_VALUES),
        Case.received_at >= window_start(incident)).order_by(Case.id)))
    for case in cases:
        _link(session, case, incident, now)
    return len(cases)


def for_incident(session: Session, incident_id: int) -> list[Case]:
    return list(session.scalars(select(Case).where(Case.incident_id == incident_id).order_by(Case.id)))


def most_reported(incident: Incident) -> set[str]:
    """The incident's top targets (accounts or message ids), to mark the cases about them."""
    evidence: dict[str, Any] = incident.evidence or {}
    return {str(t) for t in (evidence.get("most_reported") or {})}


def about_top_target(case: Case, targets: set[str]) -> bool:
    return bool(targets) and (case.subject_member in targets or case.subject_message_id in targets)
