"""Is the detector still seeing an incident's crisis? Its own episode and those that joined
it later (crisis.response.related) are open until the detector's quiet period closes them.

The detector closes an episode on event time, so it closes only when the community's next
event arrives. A room that goes silent after a raid would keep its episode open for ever and
every resolution would ask for confirmation. So an open episode counts as active only while its
last signal is within the kind's quiet period of now (the injected clock): past that, the
detector would close it on the next event anyway.

Low in the tree: the lifecycle asks before a resolution, the pages and API show it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.detection.episodes import QUIET
from crisis.models import Incident, IncidentEpisode


@dataclass(frozen=True)
class OpenEpisode:
    kind: str
    opened_at: datetime  # event time
    last_signal_at: datetime | None  # event time


def open_episodes(session: Session, incident: Incident, *, now: datetime) -> list[OpenEpisode]:
    """The incident's detector episodes still open and signalled within their quiet period
    of `now`, its own first."""
    out = []
    if incident.episode_key and incident.source == "detector" and incident.episode_closed_at is None:
        out.append(OpenEpisode(incident.kind, incident.opened_at, incident.last_signal_at))
    out += [OpenEpisode(ep.kind, ep.opened_at, ep.last_signal_at) for ep in session.scalars(
        select(IncidentEpisode).where(IncidentEpisode.incident_id == incident.id, IncidentEpisode.closed_at.is_(None))
        .order_by(IncidentEpisode.id))]
    return [ep for ep in out if _recent(ep, now)]


def _recent(ep: OpenEpisode, now: datetime) -> bool:
    last = ep.last_signal_at or ep.opened_at
    return now - last < timedelta(seconds=QUIET.get(ep.kind, 1800.0))


def describe(episodes: list[OpenEpisode]) -> str:
    """'raid (last signal 2026-10-05T12:00:00+00:00), mass_leave (...)' for messages."""
    return ", ".join(f"{ep.kind} (last signal {(ep.last_signal_at or ep.opened_at).isoformat()})" for ep in episodes)
