"""Is the detector still seeing an incident's crisis? Its own episode and those that joined
it later (crisis.response.related) are open until the detector's quiet period closes them.

Low in the tree: the lifecycle asks before a resolution, the pages and API show it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.models import Incident, IncidentEpisode


@dataclass(frozen=True)
class OpenEpisode:
    kind: str
    opened_at: datetime  # event time
    last_signal_at: datetime | None  # event time


def open_episodes(session: Session, incident: Incident) -> list[OpenEpisode]:
    """The incident's detector episodes still open, its own first."""
    out = []
    if incident.episode_key and incident.source == "detector" and incident.episode_closed_at is None:
        out.append(OpenEpisode(incident.kind, incident.opened_at, incident.last_signal_at))
    out += [OpenEpisode(ep.kind, ep.opened_at, ep.last_signal_at) for ep in session.scalars(
        select(IncidentEpisode).where(IncidentEpisode.incident_id == incident.id, IncidentEpisode.closed_at.is_(None))
        .order_by(IncidentEpisode.id))]
    return out


def describe(episodes: list[OpenEpisode]) -> str:
    """'raid (last signal 2026-10-05T12:00:00+00:00), mass_leave (...)' for messages."""
    return ", ".join(f"{ep.kind} (last signal {(ep.last_signal_at or ep.opened_at).isoformat()})" for ep in episodes)
