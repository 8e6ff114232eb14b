"""Updates to members and an incident's public face.

The first update to members needs a public title, written for members and kept apart from
the internal one (which may name a suspect, a tool or a guess). Each update records the
phase members were shown (from the incident's status), goes to every enabled member
channel through the outbox, and resets the playbook's cadence. All in the caller's
transaction; nothing is sent here."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.models import Community, Incident, Notification, PublicIncident, PublicUpdate
from crisis.publicstatus import announce, cadence
from crisis.publicstatus.states import phase
from crisis.timeline import add_timeline

MAX_TITLE = 200
# Discord refuses messages over 2000 characters; members read short updates anyway.
MAX_BODY = 2000


class PublicError(ValueError):
    """A refused public change; the message starts with the field."""


@dataclass
class Published:
    public: PublicIncident
    update: PublicUpdate
    notifications: list[Notification] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        return [n.recipient_label for n in self.notifications]


def public_for(session: Session, incident_id: int) -> PublicIncident | None:
    return session.scalar(select(PublicIncident).where(PublicIncident.incident_id == incident_id))


def updates_of(session: Session, incident_id: int) -> list[PublicUpdate]:
    return list(session.scalars(select(PublicUpdate).where(PublicUpdate.incident_id == incident_id)
                                .order_by(PublicUpdate.posted_at.desc(), PublicUpdate.id.desc())))


def _title(raw: str | None) -> str | None:
    if raw is None:
        return None
    title = " ".join(raw.split())
    if not title or len(title) > MAX_TITLE:
        raise PublicError(f"public_title: must be 1 to {MAX_TITLE} characters")
    return title


def check_text(text: str) -> str:
    text = (text or "").strip().replace("\r\n", "\n")
    if not text or len(text) > MAX_BODY:
        raise PublicError(f"text: an update to members must be 1 to {MAX_BODY} characters")
    return text


def publish(session: Session, incident: Incident, text: str, *, public_title: str | None,
            actor_user_id: int | None, actor_label: str, now: datetime) -> Published:
    """Post an update to members. Raises PublicError before writing anything."""
    body = check_text(text)
    title = _title(public_title)
    public = public_for(session, incident.id)
    if public is None:
        if title is None:
            raise PublicError("public_title: the first update to members needs a public title "
                              "(what members will read, not the internal one)")
        public = PublicIncident(incident_id=incident.id, community_id=incident.community_id, title=title,
                                hidden=False, created_at=now, updated_at=now)
        session.add(public)
    else:
        if title is not None and title != public.title:
            _log(session, incident, f"{actor_label} changed the public title to “{title}”", now, actor_label,
                 actor_user_id)
            public.title = title
        if public.hidden:
            public.hidden = False
            _log(session, incident, f"{actor_label} put the incident back on the status page", now, actor_label,
                 actor_user_id)
    public.updated_at = public.last_update_at = now
    update = PublicUpdate(incident_id=incident.id, community_id=incident.community_id, phase=phase(incident.status),
                          body=body, posted_at=now, posted_by_id=actor_user_id)
    session.add(update)
    session.flush()
    community = session.get(Community, incident.community_id)
    assert community is not None
    sent = announce.to_members(session, community, public, update)
    cadence.posted(session, incident, now=now)
    return Published(public, update, sent)


def edit(session: Session, incident: Incident, *, public_title: str | None = None, hidden: bool | None = None,
         actor_user_id: int | None, actor_label: str, now: datetime) -> PublicIncident:
    """Change the public title or take the incident off the status page (or back on).
    Messages already delivered to member channels stay as they were."""
    public = public_for(session, incident.id)
    if public is None:
        raise PublicError("incident: nothing was posted to members yet; post an update marked public first")
    title = _title(public_title)
    if title is not None and title != public.title:
        public.title = title
        _log(session, incident, f"{actor_label} changed the public title to “{title}”", now, actor_label,
             actor_user_id)
    if hidden is not None and hidden != public.hidden:
        public.hidden = hidden
        _log(session, incident, f"{actor_label} " + ("took the incident off the status page" if hidden
                                                     else "put the incident back on the status page"),
             now, actor_label, actor_user_id)
    public.updated_at = now
    return public


def _log(session: Session, incident: Incident, message: str, now: datetime, actor: str,
         actor_user_id: int | None) -> None:
    add_timeline(session, incident, "members", message, at=now, actor=actor, actor_user_id=actor_user_id)
