"""The campaign state the detectors read: event-time windows of raised raid sensitivity.

While a campaign is active (until `ACTIVE` after its last signal, event time), every
community that shares an operator with a community the campaign hit (a person who is
manager or admin of both: the game's Discord, its Telegram, its forum) gets a window
from that hit's opening to the campaign's end. A community uses it only when it opted in
(its `campaign_boost` setting above 1.0): then its raid detector's sensitivity is
multiplied by that factor inside the window (crisis.detection.settings.raid_sensitivity).

How it reaches the detector deterministically: the windows are rows written in the
transaction that linked the campaign, and the drain reads them with the settings at the
start of the community's next batch (crisis.response.drain.effective_settings), so they
are part of the settings the detector ran with (the DetectorCache compares them too, so
a cached detector is rebuilt when they change). They are event times, so whether an event
is judged boosted depends only on its own time and the windows known when its batch ran:
replaying the same stream in the same order (crisis.response.replay flushes every
community each minute of event time, as a live feed drains within seconds) writes the
same windows at the same points and opens the same incidents."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from crisis.clock import isoformat
from crisis.detection.event import parse_ts
from crisis.models import Campaign, CampaignIncident, DetectorBoost, Incident, Membership, Role

ACTIVE = timedelta(hours=1)
OPERATOR_ROLES = (Role.MANAGER.value, Role.ADMIN.value)
KEEP_WINDOWS = 20
KEEP_FOR = timedelta(days=7)  # windows that ended this long before the newest one are dropped


def siblings(session: Session, community_id: int) -> set[int]:
    """Communities sharing an operator (manager or admin of both) with this one."""
    mine, theirs = aliased(Membership), aliased(Membership)
    rows = session.scalars(select(theirs.community_id).join(mine, mine.user_id == theirs.user_id).where(
        mine.community_id == community_id, mine.role.in_(OPERATOR_ROLES), theirs.role.in_(OPERATOR_ROLES),
        theirs.community_id != community_id))
    return set(rows)


def _hits(session: Session, campaign: Campaign) -> dict[int, datetime]:
    """Each community the campaign hit, with its first incident's opening (event time)."""
    out: dict[int, datetime] = {}
    rows = session.execute(select(CampaignIncident.community_id, Incident.opened_at).join(
        Incident, Incident.id == CampaignIncident.incident_id).where(CampaignIncident.campaign_id == campaign.id))
    for community_id, opened_at in rows:
        out[community_id] = min(opened_at, out.get(community_id, opened_at))
    return out


def targets(session: Session, campaign: Campaign) -> dict[int, datetime]:
    """Community -> when its window starts: the earliest hit on one of its siblings."""
    out: dict[int, datetime] = {}
    for hit, opened_at in _hits(session, campaign).items():
        for sibling in siblings(session, hit):
            out[sibling] = min(opened_at, out.get(sibling, opened_at))
    return out


def refresh(session: Session, campaign: Campaign, *, gone: list[int], now: datetime) -> set[int]:
    """Rewrite this campaign's windows (and drop those of campaigns merged into it);
    returns the communities whose windows changed."""
    end = campaign.last_signal_at + ACTIVE
    wanted = {c: {"start": isoformat(start), "end": isoformat(end), "campaign_id": campaign.id}
              for c, start in targets(session, campaign).items()}
    dropped = {campaign.id, *gone}
    rows = {b.community_id: b for b in session.scalars(select(DetectorBoost).where(
        DetectorBoost.community_id.in_(list(wanted))))} if wanted else {}
    if gone:  # merged campaigns may have windows in communities no longer targeted
        for b in session.scalars(select(DetectorBoost)):
            if any(w.get("campaign_id") in gone for w in b.windows or []):
                rows.setdefault(b.community_id, b)
    changed = set()
    for community_id, row in rows.items():
        windows = _pruned([w for w in row.windows or [] if w.get("campaign_id") not in dropped]
                          + ([wanted[community_id]] if community_id in wanted else []))
        if windows != (row.windows or []):
            row.windows, row.updated_at = windows, now
            changed.add(community_id)
    for community_id in set(wanted) - set(rows):
        session.add(DetectorBoost(community_id=community_id, windows=[wanted[community_id]], updated_at=now))
        changed.add(community_id)
    return changed


def _pruned(windows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not windows:
        return []
    newest = max(parse_ts(w["end"]) for w in windows)
    kept = [w for w in windows if parse_ts(w["end"]) >= newest - KEEP_FOR.total_seconds()]
    return sorted(kept, key=lambda w: (w["start"], w["campaign_id"]))[-KEEP_WINDOWS:]


def windows_of(session: Session, community_id: int) -> list[dict[str, Any]]:
    row = session.get(DetectorBoost, community_id)
    return list(row.windows or []) if row is not None else []


def active_window(session: Session, community_id: int, at: datetime) -> dict[str, Any] | None:
    """The window covering `at`, for pages that say why the raid detector is eager."""
    ts = at.timestamp()
    for w in windows_of(session, community_id):
        if parse_ts(w["start"]) <= ts <= parse_ts(w["end"]):
            return w
    return None
