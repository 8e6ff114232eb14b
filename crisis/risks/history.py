"""A risk's history: the incidents it materialised as (in its community, of one of its
detector kinds or run by one of its playbooks, or named by a postmortem that changed the
risk), how fast each was detected and resolved (crisis.insight.trends, the postmortem's
own definitions), and the action items of their postmortems."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from crisis.insight import trends
from crisis.models import Incident, Risk, RiskChange
from crisis.models.postmortem import ActionItem, Postmortem

MAX_INCIDENTS = 200


@dataclass(frozen=True)
class Materialised:
    incident: Incident
    why: tuple[str, ...]  # detector | playbook | postmortem
    times: trends.ResponseTimes
    postmortem: Postmortem | None


@dataclass
class History:
    incidents: list[Materialised] = field(default_factory=list)
    action_items: list[tuple[ActionItem, Incident]] = field(default_factory=list)

    @property
    def median_detect(self) -> int | None:
        return trends.median_seconds([m.times.time_to_detect for m in self.incidents])

    @property
    def median_resolve(self) -> int | None:
        return trends.median_seconds([m.times.time_to_resolve for m in self.incidents])

    @property
    def open_action_items(self) -> int:
        return sum(1 for item, _i in self.action_items if item.status != "done")


def _linked_incidents(session: Session, risk_id: int) -> set[int]:
    return {i for i in session.scalars(select(RiskChange.incident_id).where(RiskChange.risk_id == risk_id,
                                                                             RiskChange.incident_id.is_not(None)))
            if i is not None}


def _why(incident: Incident, risk: Risk, linked: set[int]) -> tuple[str, ...]:
    return tuple(reason for reason, hit in (("detector", incident.kind in risk.detectors),
                                            ("playbook", incident.playbook_name in risk.playbooks),
                                            ("postmortem", incident.id in linked)) if hit)


def history(session: Session, risk: Risk) -> History:
    linked = _linked_incidents(session, risk.id)
    matches = [Incident.id.in_(linked)] if linked else []
    if risk.detectors:
        matches.append(Incident.kind.in_(risk.detectors))
    if risk.playbooks:
        matches.append(Incident.playbook_name.in_(risk.playbooks))
    if not matches:
        return History()
    incidents = list(session.scalars(select(Incident).where(Incident.community_id == risk.community_id,
                                                            or_(*matches))
                                     .order_by(Incident.opened_at.desc(), Incident.id.desc()).limit(MAX_INCIDENTS)))
    ids = [i.id for i in incidents]
    postmortems = {pm.incident_id: pm for pm in session.scalars(select(Postmortem)
                                                                .where(Postmortem.incident_id.in_(ids)))}
    out = History([Materialised(i, _why(i, risk, linked), trends.response_times(i), postmortems.get(i.id))
                   for i in incidents])
    by_incident = {i.id: i for i in incidents}
    rows = session.execute(select(ActionItem, Postmortem.incident_id)
                           .join(Postmortem, Postmortem.id == ActionItem.postmortem_id)
                           .where(Postmortem.incident_id.in_(ids))
                           .order_by(ActionItem.status == "done", ActionItem.due_at, ActionItem.id)).all()
    out.action_items = [(item, by_incident[incident_id]) for item, incident_id in rows]
    return out


def risks_for_incident(session: Session, incident: Incident) -> list[Risk]:
    """The community's active risks this incident materialises (for its postmortem page)."""
    linked = set(session.scalars(select(RiskChange.risk_id).where(RiskChange.incident_id == incident.id)))
    out = []
    for risk in session.scalars(select(Risk).where(Risk.community_id == incident.community_id,
                                                   Risk.status == "active").order_by(Risk.id)):
        if incident.kind in risk.detectors or incident.playbook_name in risk.playbooks or risk.id in linked:
            out.append(risk)
    return out
