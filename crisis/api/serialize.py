"""JSON shapes of engine objects, shared by the API blueprints (and described in spec/*.yaml)."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.campaigns import visibility
from crisis.clock import isoformat
from crisis.models import (
    Channel,
    Community,
    ContactMethod,
    Incident,
    IncidentEpisode,
    Notification,
    PlaybookVersion,
    Responder,
    Schedule,
    Signal,
    Task,
    TimelineEntry,
    User,
)
from crisis.response import episodes
from crisis.tenancy import oncall


def ts(value: datetime | None) -> str | None:
    return isoformat(value) if value is not None else None


def person(session: Session, user_id: int | None) -> dict[str, Any] | None:
    user = session.get(User, user_id) if user_id else None
    return None if user is None else {"id": user.id, "name": user.display_name or user.email, "email": user.email}


def incident_summary(session: Session, incident: Incident) -> dict[str, Any]:
    community = session.get(Community, incident.community_id)
    return {
        "id": incident.id, "community": community.slug if community else "", "kind": incident.kind,
        "title": incident.title, "severity": incident.severity, "status": incident.status, "source": incident.source,
        "owner": person(session, incident.owner_id),
        "playbook": ({"name": incident.playbook_name, "version": incident.playbook_version}
                     if incident.playbook_name else None),
        "opened_at": ts(incident.opened_at), "created_at": ts(incident.created_at),
        "acknowledged_at": ts(incident.acknowledged_at), "mitigated_at": ts(incident.mitigated_at),
        "resolved_at": ts(incident.resolved_at), "last_signal_at": ts(incident.last_signal_at),
    }


def task(session: Session, row: Task) -> dict[str, Any]:
    return {"id": row.id, "step": row.step_id, "title": row.title, "instructions": row.instructions,
            "owner_role": row.owner_role, "owner": person(session, row.owner_id), "required": row.required,
            "status": row.status, "due_at": ts(row.due_at), "overdue_notified_at": ts(row.overdue_notified_at),
            "completed_at": ts(row.completed_at)}


def timeline_entry(row: TimelineEntry) -> dict[str, Any]:
    return {"id": row.id, "at": ts(row.at), "kind": row.kind, "actor": row.actor, "actor_user_id": row.actor_user_id,
            "message": row.message, "data": row.data or {}}


def incident_detail(session: Session, incident: Incident, *, viewer_id: int | None = None,
                    now: datetime | None = None) -> dict[str, Any]:
    """The incident with its people, evidence, signals, related episodes, tasks and
    timeline; with a viewer, its campaign as that viewer may see it (campaigns.visibility)."""
    out = incident_summary(session, incident)
    joined = list(session.scalars(select(IncidentEpisode).where(IncidentEpisode.incident_id == incident.id)
                                  .order_by(IncidentEpisode.id)))
    out["kinds"] = list(dict.fromkeys([incident.kind, *(e.kind for e in joined)]))
    out["related_episodes"] = [{"kind": e.kind, "scope": e.scope, "reason": e.reason, "detail": e.detail or {},
                                "opened_at": ts(e.opened_at), "last_signal_at": ts(e.last_signal_at),
                                "closed_at": ts(e.closed_at)} for e in joined]
    out["detector_active"] = now is not None and bool(episodes.open_episodes(session, incident, now=now))
    view = visibility.for_incident(session, incident.id, viewer_id=viewer_id, now=now) \
        if viewer_id is not None and now is not None else None
    out["campaign"] = visibility.serialize(view) if view is not None else None
    responders = session.scalars(select(Responder).where(Responder.incident_id == incident.id).order_by(Responder.id))
    out["responders"] = [{"role": r.role, "user": person(session, r.user_id)} for r in responders]
    out["evidence"] = incident.evidence or {}
    signals = session.scalars(select(Signal).where(Signal.incident_id == incident.id).order_by(Signal.id))
    out["signals"] = [{"id": s.id, "kind": s.kind, "severity": s.severity, "score": s.score, "scope": s.scope,
                       "observed_at": ts(s.observed_at)} for s in signals]
    tasks = session.scalars(select(Task).where(Task.incident_id == incident.id).order_by(Task.position))
    out["tasks"] = [task(session, t) for t in tasks]
    entries = session.scalars(select(TimelineEntry).where(TimelineEntry.incident_id == incident.id)
                              .order_by(TimelineEntry.id))
    out["timeline"] = [timeline_entry(e) for e in entries]
    return out


def notification(row: Notification) -> dict[str, Any]:
    return {"id": row.id, "event": row.event, "recipient": row.recipient_label, "status": row.status,
            "attempts": row.attempts, "last_error": row.last_error, "created_at": ts(row.created_at),
            "sent_at": ts(row.sent_at), "next_attempt_at": ts(row.next_attempt_at) if row.status == "pending" else None}


def playbook_version(row: PlaybookVersion, *, full: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"name": row.name, "version": row.version, "title": row.spec.get("title", ""),
                           "content_hash": row.content_hash, "origin": row.origin, "comment": row.comment,
                           "created_at": ts(row.created_at)}
    if full:
        out["spec"] = row.spec
    return out


def schedule(row: Schedule, at: datetime) -> dict[str, Any]:
    return {
        "id": row.id, "name": row.name, "timezone": row.timezone,
        "rotations": [{"id": r.id, "name": r.name, "participants": r.participants, "shift_hours": r.shift_hours,
                       "handoff_time": r.handoff_time, "start_date": r.start_date} for r in row.rotations],
        "overrides": [{"id": o.id, "user_id": o.user_id, "starts_at": ts(o.starts_at), "ends_at": ts(o.ends_at)}
                      for o in row.overrides if o.ends_at > at],
        "on_call": [shift(s) for s in oncall.on_call(row, at)],
    }


def shift(s: oncall.Shift) -> dict[str, Any]:
    return {"user_id": s.user_id, "start": ts(s.start), "end": ts(s.end),
            "source": "override" if s.override_id else "rotation"}


def mask(url: str) -> str:
    """Show the scheme and host only: apprise URLs carry tokens and passwords."""
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    # Many schemes put a token where the host would be (tgram://bot-token/...): show a host
    # only when it looks like one.
    if not re.fullmatch(r"[A-Za-z0-9.-]+\.[A-Za-z]{2,}(:\d+)?|localhost(:\d+)?|[\d.]+(:\d+)?", host):
        host = ""
    return f"{scheme}://{host}/…" if scheme else "…"


def contact_method(row: ContactMethod) -> dict[str, Any]:
    return {"id": row.id, "label": row.label, "url": mask(row.url), "disabled": row.disabled,
            "created_at": ts(row.created_at)}


def channel(row: Channel) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "purpose": row.purpose, "url": mask(row.url), "disabled": row.disabled,
            "last_error": row.last_error, "created_at": ts(row.created_at)}
