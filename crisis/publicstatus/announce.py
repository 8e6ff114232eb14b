"""An update to members, written as one notification row per enabled member channel in the
caller's transaction and delivered by the notify job after commit (crisis.notify.deliver).

The message is rendered from alerts/templates/public_update/ with a context of public
fields only: the community's name, the incident's public title, the phase, the update and
the status page's address. There is no incident in it to leak."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from crisis import runtime
from crisis.jobs import ringer
from crisis.models import Community, MemberChannel, Notification, PublicIncident, PublicUpdate
from crisis.notify import render, routing
from crisis.publicstatus import channels, statuspage

PHASE_LABELS = {
    "en": {"investigating": "Investigating", "identified": "Identified", "monitoring": "Monitoring",
           "resolved": "Resolved"},
    "zh": {"investigating": "调查中", "identified": "已确认", "monitoring": "观察中", "resolved": "已解决"},
}


def context(session: Session, community: Community, public: PublicIncident, update: PublicUpdate,
            lang: str) -> dict[str, Any]:
    page = statuspage.settings_for(session, community.id)
    return {"community": {"name": statuspage.public_name(community, page)}, "public": {"title": public.title},
            "update": update.body, "phase": update.phase, "phase_label": PHASE_LABELS[lang][update.phase],
            "status_url": statuspage.url(community, page, runtime.current().config.base_url)}


def to_members(session: Session, community: Community, public: PublicIncident, update: PublicUpdate
               ) -> list[Notification]:
    """One row per enabled member channel; none when the community has none."""
    policy = routing.load()
    rows: list[Notification] = []
    for channel in channels.of(session, community.id, enabled_only=True):
        lang = render.language(channel.language or community.locale)
        title, body = render.render("public_update", lang, context(session, community, public, update, lang))
        rows.append(_row(community, public, update, channel, title, body, policy.max_attempts))
    session.add_all(rows)
    session.flush()
    for row in rows:
        ringer.note_notification(session, row.id)
    return rows


def _row(community: Community, public: PublicIncident, update: PublicUpdate, channel: MemberChannel, title: str,
         body: str, max_attempts: int) -> Notification:
    return Notification(community_id=community.id, incident_id=public.incident_id, event="public_update",
                        cause=f"pub{update.id}", destination=f"mc:{channel.id}", member_channel_id=channel.id,
                        recipient_label=f"members: {channel.name}"[:300], title=title, body=body,
                        status="pending", attempts=0, max_attempts=max_attempts, next_attempt_at=update.posted_at,
                        created_at=update.posted_at)
