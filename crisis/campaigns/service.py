"""Linking raid incidents of different communities into campaigns.

`consider` runs in the drain transaction of the community whose raid opened, grew or went
quiet (crisis.response.drain), so a campaign is built from committed incidents of other
communities: of two raids opening at once in two drains, the second to commit links them,
and if neither saw the other, the next update or the close of either does (a raid always
closes, after its quiet period). All times compared are event times."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.campaigns import boosts, match
from crisis.clock import Clock
from crisis.models import Campaign, CampaignIncident, Incident
from crisis.response.related import activity_end


def span(incident: Incident) -> tuple[datetime, datetime]:
    """When the detector saw the incident's raid: its opening to its last activity."""
    end = activity_end(incident.kind, incident.last_signal_at, incident.episode_closed_at) or incident.opened_at
    return incident.opened_at, max(end, incident.opened_at)


def link_of(session: Session, incident_id: int) -> CampaignIncident | None:
    return session.scalar(select(CampaignIncident).where(CampaignIncident.incident_id == incident_id))


def _neighbours(session: Session, incident: Incident) -> list[tuple[Incident, match.Matched]]:
    """Raids of other communities near this one in time that match its evidence, best first."""
    start, end = span(incident)
    rows = session.scalars(select(Incident).where(
        Incident.kind.in_(match.ATTACKS), Incident.community_id != incident.community_id,
        Incident.last_signal_at.is_not(None), Incident.last_signal_at >= start - match.WINDOW,
        Incident.opened_at <= end + match.WINDOW).order_by(Incident.id))
    mine = match.traits(incident.evidence)
    found = []
    for other in rows:
        if not match.near((start, end), span(other)):
            continue
        matched = match.compare(mine, match.traits(other.evidence))
        if matched.linked:
            found.append((other, matched))
    found.sort(key=lambda om: -om[1].weight)
    return found


def consider(session: Session, incident: Incident, *, clock: Clock) -> set[int]:
    """Link the incident to matching raids of other communities (creating, joining or
    merging campaigns) and move its campaign's times. Returns the communities whose
    campaign boost windows changed (their detectors read them at their next batch)."""
    if incident.kind not in match.ATTACKS or incident.last_signal_at is None:
        return set()
    session.flush()
    now = clock.now()
    mine = link_of(session, incident.id)
    neighbours = _neighbours(session, incident)
    campaigns: dict[int, Campaign] = {}
    if mine is not None:
        campaigns[mine.campaign_id] = mine.campaign
    for other, _m in neighbours:
        theirs = link_of(session, other.id)
        if theirs is not None:
            campaigns.setdefault(theirs.campaign_id, theirs.campaign)
    if not campaigns and not neighbours:
        return set()
    gone: list[int] = []
    if campaigns:
        keep = min(campaigns.values(), key=lambda c: c.id)
        for absorbed in [c for c in campaigns.values() if c.id != keep.id]:
            for row in list(absorbed.links):
                row.campaign_id = keep.id
            gone.append(absorbed.id)
            session.flush()
            session.delete(absorbed)
    else:
        keep = Campaign(first_seen_at=incident.opened_at, last_signal_at=span(incident)[1], created_at=now,
                        updated_at=now)
        session.add(keep)
        session.flush()
    if mine is None and neighbours:
        best, matched = neighbours[0]
        session.add(CampaignIncident(campaign_id=keep.id, incident_id=incident.id,
                                     community_id=incident.community_id, matched_incident_id=best.id,
                                     matched=matched.to_dict(), linked_at=now))
    for other, matched in neighbours:
        if link_of(session, other.id) is None:
            session.add(CampaignIncident(campaign_id=keep.id, incident_id=other.id, community_id=other.community_id,
                                         matched_incident_id=incident.id, matched=matched.to_dict(), linked_at=now))
    session.flush()
    session.expire(keep, ["links"])
    _rematch(session, incident)
    _times(session, keep, now)
    return boosts.refresh(session, keep, gone=gone, now=now)


def _rematch(session: Session, incident: Incident) -> None:
    """A raid's evidence grows after it links (a close carries every account): the counts
    shown for it, and for the incidents that matched it, follow."""
    rows = session.scalars(select(CampaignIncident).where(
        (CampaignIncident.incident_id == incident.id) | (CampaignIncident.matched_incident_id == incident.id)))
    for row in rows:
        a = session.get(Incident, row.incident_id)
        b = session.get(Incident, row.matched_incident_id) if row.matched_incident_id else None
        if a is None or b is None:
            continue
        counts = match.compare(match.traits(a.evidence), match.traits(b.evidence)).to_dict()
        if counts != (row.matched or {}):
            row.matched = counts


def _times(session: Session, campaign: Campaign, now: datetime) -> None:
    linked = select(CampaignIncident.incident_id).where(CampaignIncident.campaign_id == campaign.id)
    spans = [span(i) for i in session.scalars(select(Incident).where(Incident.id.in_(linked)))]
    if not spans:
        return
    first, last = min(s for s, _e in spans), max(e for _s, e in spans)
    if (campaign.first_seen_at, campaign.last_signal_at) != (first, last):
        campaign.first_seen_at, campaign.last_signal_at, campaign.updated_at = first, last, now
