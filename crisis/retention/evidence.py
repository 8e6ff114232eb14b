"""The members' text in incidents' evidence, replaced by tombstones once retention allows.

Detectors put message text in evidence in two shapes only: `samples` (a raid's or dispute's
messages, a report backlog's reports with their reason) and `reasons` (report reasons with
their counts). Accounts, counts, series and permalinks stay: they are what the incident
page, the postmortem and the dashboard show, and they are not what members wrote."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from crisis.models import Incident, Signal
from crisis.models.postmortem import Postmortem
from crisis.retention.policy import hold_ends

EXPIRED = "[expired]"


def _sample(sample: Any) -> Any:
    if isinstance(sample, str):
        return EXPIRED
    if isinstance(sample, dict) and "reason" in sample:
        return {**sample, "reason": EXPIRED}
    return sample


def expire_text(evidence: dict[str, Any]) -> dict[str, Any]:
    """The evidence with its message text replaced; counts (how many samples, how many
    reports of all reasons) are kept."""
    if not isinstance(evidence, dict):
        return evidence
    out = dict(evidence)
    samples = out.get("samples")
    if isinstance(samples, list):
        out["samples"] = [_sample(s) for s in samples]
    reasons = out.get("reasons")
    if isinstance(reasons, dict) and reasons and set(reasons) != {EXPIRED}:
        out["reasons"] = {EXPIRED: sum(v for v in reasons.values() if isinstance(v, (int, float)))}
    return out


def expirable(session: Session, community_id: int, *, now: datetime, cutoff: datetime, grace: timedelta,
              limit: int) -> list[int]:
    """Incidents written before the cutoff whose hold ended and whose evidence still has text
    (never expired, or evidence added since: a reopened incident resolved again)."""
    rows = session.execute(
        select(Incident.id, Incident.status, Incident.resolved_at, Postmortem.status, Postmortem.published_at)
        .outerjoin(Postmortem, Postmortem.incident_id == Incident.id)
        .where(Incident.community_id == community_id, Incident.status == "resolved", Incident.created_at < cutoff,
               or_(Incident.evidence_expired_at.is_(None), Incident.evidence_expired_at < Incident.resolved_at))
        .order_by(Incident.id)).all()
    out = []
    for incident_id, status, resolved, pm_status, published in rows:
        ends = hold_ends(status=status, resolved_at=resolved, postmortem_status=pm_status, published_at=published,
                         grace=grace)
        if ends is not None and ends <= now:
            out.append(incident_id)
            if len(out) >= limit:
                break
    return out


def expire(session: Session, incident_id: int, *, now: datetime) -> None:
    """Replace the text in one incident's evidence and its signals'. The caller commits."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        return
    incident.evidence = expire_text(incident.evidence or {})
    for signal in session.scalars(select(Signal).where(Signal.incident_id == incident_id)):
        signal.evidence = expire_text(signal.evidence or {})
    incident.evidence_expired_at = now
