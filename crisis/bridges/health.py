"""A silent bridge must never look like a quiet community.

A link that delivers nothing for longer than its `silence_after_s` (one hour by default:
set it above the community's longest normal quiet) is marked silent once, by a conditional
UPDATE so two sweepers cannot both alert, and opens a `bridge_silent` incident that runs
the community's playbook (its channel hears of it once). When events flow again the mark
is cleared and that incident resolves itself, saying for how long the link was silent."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from crisis.clock import Clock, isoformat
from crisis.db import sweep
from crisis.models import Community, Incident, PlatformLink
from crisis.response import lifecycle
from crisis.response.states import IncidentStatus

SILENT_KIND = "bridge_silent"
MONITOR = lifecycle.Actor(None, "bridge monitor", via="system")


def _episode_prefix(link_id: int) -> str:
    return f"bridge:{link_id}:silent:"


def silent_now(link: PlatformLink, now: datetime) -> bool:
    last = link.last_event_at or link.created_at
    return not link.disabled and now - last > timedelta(seconds=link.silence_after_s)


def summary(link: PlatformLink, now: datetime) -> dict[str, Any]:
    """A link's health as the API and the pages show it (never its tokens)."""
    last = link.last_event_at
    return {
        "id": link.id, "platform": link.platform, "name": link.name, "endpoint": link.endpoint,
        "sender": link.sender, "rooms": link.rooms, "disabled": link.disabled,
        "last_event_at": isoformat(last) if last else None,
        "seconds_since_last_event": round((now - last).total_seconds(), 1) if last else None,
        "last_transaction_at": isoformat(link.last_transaction_at) if link.last_transaction_at else None,
        "events_received": link.events_received, "events_skipped": link.events_skipped,
        "last_error": link.last_error, "last_error_at": isoformat(link.last_error_at) if link.last_error_at else None,
        "silence_after_s": link.silence_after_s,
        "silent": link.silent_since is not None or silent_now(link, now),
        "silent_since": isoformat(link.silent_since) if link.silent_since else None,
    }


def check(sessions: sessionmaker[Session], *, clock: Clock) -> int:
    """Mark every newly silent link and open its incident; returns how many."""
    def find(session: Session, now: datetime, limit: int) -> list[int]:
        return [link.id for link in session.scalars(
            select(PlatformLink).where(PlatformLink.silent_since.is_(None), PlatformLink.disabled.is_(False))
            .order_by(PlatformLink.id).limit(limit)) if silent_now(link, now)]

    return sweep(sessions, find, lambda session, link_id, now: mark_silent(session, link_id, now=now, clock=clock),
                 now=clock.now(), limit=1000)


def mark_silent(session: Session, link_id: int, *, now: datetime, clock: Clock) -> bool:
    claimed = session.execute(update(PlatformLink).where(PlatformLink.id == link_id,
                                                         PlatformLink.silent_since.is_(None))
                              .values(silent_since=now), execution_options={"synchronize_session": False})
    if claimed.rowcount != 1:  # type: ignore[attr-defined]  # -- an UPDATE's result is a CursorResult
        return False  # another sweeper got there first
    link = session.get(PlatformLink, link_id)
    community = session.get(Community, link.community_id) if link else None
    assert link is not None and community is not None
    session.refresh(link)
    last = link.last_event_at or link.created_at
    minutes = int((now - last).total_seconds() // 60)
    lifecycle.open_manual(
        session, community, kind=SILENT_KIND, severity="sev3",
        title=f"The {link.platform} link {link.name!r} has delivered nothing for {minutes} min",
        description=(f"No events from {link.endpoint} since {last.isoformat()} (the link alerts after "
                     f"{link.silence_after_s // 60} min). A quiet room looks the same as a broken bridge: check "
                     f"that the homeserver lists the registration and can reach crisis. Last error: "
                     f"{link.last_error or 'none'}"),
        actor=MONITOR, clock=clock, source="bridge", episode_key=f"{_episode_prefix(link.id)}{now.isoformat()}")
    return True


def resumed(session: Session, link: PlatformLink, *, clock: Clock) -> None:
    """Events arrived on a link marked silent: clear the mark, resolve its incident."""
    now = clock.now()
    since = link.silent_since
    link.silent_since = None
    incident = session.scalar(select(Incident).where(
        Incident.community_id == link.community_id, Incident.kind == SILENT_KIND,
        Incident.episode_key.startswith(_episode_prefix(link.id)),
        Incident.status != IncidentStatus.RESOLVED.value).order_by(Incident.id.desc()))
    if incident is not None:
        gap = int((now - since).total_seconds() // 60) if since else 0
        lifecycle.transition(session, incident.id, IncidentStatus.RESOLVED, actor=MONITOR, clock=clock,
                             note=f"events are flowing again (silent for {gap} min after the alert)")
