"""What one person may see of a campaign: the tenant rule applied to its incidents.

A linked incident in a community where the viewer holds a role shows in full (community,
incident, and, next to an incident of theirs it matched, the shared accounts and domains
themselves). One in a community they are not staff of shows only that it exists and what
matched, as kinds and counts: never its community, id, title, times, accounts or text."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.campaigns import match
from crisis.campaigns.boosts import ACTIVE
from crisis.clock import isoformat
from crisis.models import Campaign, CampaignIncident, Community, Incident, Membership


@dataclass
class Entry:
    visible: bool
    matched: dict[str, int]
    incident: Incident | None = None
    community: Community | None = None
    shared: dict[str, list[str]] = field(default_factory=dict)  # only when both sides are visible


@dataclass
class View:
    campaign: Campaign
    active: bool
    entries: list[Entry]
    communities: int  # how many communities it hit (a count: hidden ones are not named)

    @property
    def hidden(self) -> int:
        return sum(1 for e in self.entries if not e.visible)

    @property
    def first_seen(self) -> datetime | None:
        """The earliest opening the viewer may see (a hidden incident's times stay hidden)."""
        seen = [e.incident.opened_at for e in self.entries if e.incident is not None]
        return min(seen) if seen else None


def staff_of(session: Session, user_id: int) -> set[int]:
    return set(session.scalars(select(Membership.community_id).where(Membership.user_id == user_id)))


def view(session: Session, campaign: Campaign, *, viewer_id: int, now: datetime,
         mine: set[int] | None = None) -> View:
    mine = staff_of(session, viewer_id) if mine is None else mine
    links = list(session.scalars(select(CampaignIncident).where(CampaignIncident.campaign_id == campaign.id)
                                 .order_by(CampaignIncident.id)))
    incidents = {i.id: i for i in session.scalars(select(Incident).where(
        Incident.id.in_([link.incident_id for link in links])))}
    entries = []
    for link in links:
        if link.community_id not in mine:
            entries.append(Entry(False, dict(link.matched or {})))
            continue
        incident = incidents[link.incident_id]
        other = incidents.get(link.matched_incident_id or 0)
        shared = match.shared(incident.evidence, other.evidence) \
            if other is not None and other.community_id in mine else {}
        entries.append(Entry(True, dict(link.matched or {}), incident, session.get(Community, link.community_id),
                             shared))
    entries.sort(key=lambda e: (not e.visible, e.incident.opened_at if e.incident else now))
    return View(campaign, now - campaign.last_signal_at <= ACTIVE, entries, len({link.community_id for link in links}))


def for_incident(session: Session, incident_id: int, *, viewer_id: int, now: datetime) -> View | None:
    link = session.scalar(select(CampaignIncident).where(CampaignIncident.incident_id == incident_id))
    if link is None:
        return None
    return view(session, link.campaign, viewer_id=viewer_id, now=now)


def visible_campaigns(session: Session, community_ids: list[int], *, limit: int = 50) -> list[Campaign]:
    """Campaigns that hit any of these communities, latest first."""
    if not community_ids:
        return []
    ids = select(CampaignIncident.campaign_id).where(CampaignIncident.community_id.in_(community_ids))
    return list(session.scalars(select(Campaign).where(Campaign.id.in_(ids))
                                .order_by(Campaign.last_signal_at.desc(), Campaign.id.desc()).limit(limit)))


def serialize(v: View) -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    for e in v.entries:
        if not e.visible or e.incident is None or e.community is None:
            out.append({"visible": False, "matched": e.matched})
            continue
        out.append({"visible": True, "matched": e.matched, "incident_id": e.incident.id,
                    "community": e.community.slug, "community_name": e.community.name, "kind": e.incident.kind,
                    "title": e.incident.title, "severity": e.incident.severity, "status": e.incident.status,
                    "opened_at": isoformat(e.incident.opened_at), "shared": e.shared or None})
    return {"id": v.campaign.id, "active": v.active,
            "first_seen_at": isoformat(v.first_seen) if v.first_seen else None, "communities": v.communities,
            "hidden_incidents": v.hidden, "incidents": out}
