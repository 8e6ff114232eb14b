"""From escalation and routing targets to concrete destinations (contact methods, channels).

Everything that makes a target empty is returned as a reason, so "why was I not paged?"
has an answer on the timeline."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.models import Channel, ContactMethod, Incident, Membership, Responder, Role, User
from crisis.tenancy import oncall


@dataclass(frozen=True)
class Destination:
    key: str  # "cm:<id>" or "ch:<id>": what the unique constraint on notifications sees
    label: str
    user_id: int | None = None
    contact_method_id: int | None = None
    channel_id: int | None = None


def _user_label(user: User) -> str:
    return user.display_name or user.email


def users_for(session: Session, incident: Incident, kind: str, value: str, at: datetime,
              roles: dict[str, int] | None = None) -> tuple[list[int], str]:
    """User ids a person-target names, and a reason when there are none. `roles` stands in
    for the incident's responders when there is no incident yet (crisis.notify.reach)."""
    if kind == "incident_role" and roles is not None:
        return ([roles[value]], "") if value in roles else ([], f"nobody would hold the incident role {value}")
    if kind == "incident_role":
        users = list(session.scalars(select(Responder.user_id).where(Responder.incident_id == incident.id,
                                                                     Responder.role == value)
                                     .order_by(Responder.id)))
        if value == "commander" and incident.owner_id and incident.owner_id not in users:
            users.insert(0, incident.owner_id)
        return users, "" if users else f"nobody holds the incident role {value}"
    return staff_for(session, incident.community_id, kind, value, at)


def staff_for(session: Session, cid: int, kind: str, value: str, at: datetime) -> tuple[list[int], str]:
    """User ids a target names among the community's staff (no incident roles here)."""
    if kind == "user":
        user_id = session.scalar(select(User.id).join(Membership, Membership.user_id == User.id)
                                 .where(User.email == value, Membership.community_id == cid))
        return ([user_id], "") if user_id else ([], f"{value} is not staff of this community")
    if kind == "schedule":
        schedule = oncall.find_schedule(session, cid, value)
        if schedule is None:
            return [], f"no schedule named {value!r}"
        users = [s.user_id for s in oncall.on_call(schedule, at)]
        return users, "" if users else f"nobody is on call in schedule {value!r}"
    if kind == "role":
        wanted = Role(value)
        rows = session.execute(select(Membership.user_id, Membership.role).where(Membership.community_id == cid)
                               .order_by(Membership.id)).all()
        users = [uid for uid, role in rows if Role(role).at_least(wanted)]
        return users, "" if users else f"nobody has the role {value} or above"
    return [], f"{kind} does not name people"


def resolve(session: Session, incident: Incident, targets: list[dict[str, str]],
            at: datetime, roles: dict[str, int] | None = None) -> tuple[list[Destination], list[str]]:
    return _resolve(session, incident.community_id, targets,
                    lambda kind, value: users_for(session, incident, kind, value, at, roles))


def resolve_in_community(session: Session, community_id: int, targets: list[dict[str, str]],
                         at: datetime, roles: dict[str, int] | None = None) -> tuple[list[Destination], list[str]]:
    """Destinations for work outside any incident (an overdue case, a moderation task)."""
    return _resolve(session, community_id, targets,
                    lambda kind, value: staff_for(session, community_id, kind, value, at))


def _resolve(session: Session, community_id: int, targets: list[dict[str, str]],
             people: Callable[[str, str], tuple[list[int], str]]) -> tuple[list[Destination], list[str]]:
    destinations: list[Destination] = []
    reasons: list[str] = []
    seen: set[str] = set()

    def add(dest: Destination) -> None:
        if dest.key not in seen:
            seen.add(dest.key)
            destinations.append(dest)

    for target in targets:
        (kind, value), = target.items()
        if kind in ("channel", "channel_purpose"):
            column = Channel.name if kind == "channel" else Channel.purpose
            channels = list(session.scalars(select(Channel).where(Channel.community_id == community_id,
                                                                  column == value).order_by(Channel.id)))
            live = [ch for ch in channels if not ch.disabled]
            if not live:
                reasons.append(f"no enabled channel {'named' if kind == 'channel' else 'for'} {value!r}")
            for ch in live:
                add(Destination(f"ch:{ch.id}", f"#{ch.name}", channel_id=ch.id))
            continue
        user_ids, reason = people(kind, value)
        if reason:
            reasons.append(reason)
        for user_id in user_ids:
            user = session.get(User, user_id)
            if user is None:
                continue
            methods = list(session.scalars(select(ContactMethod).where(ContactMethod.user_id == user_id,
                                                                       ContactMethod.disabled.is_(False))
                                           .order_by(ContactMethod.id)))
            if not methods:
                reasons.append(f"{_user_label(user)} has no contact method")
            for method in methods:
                add(Destination(f"cm:{method.id}", f"{_user_label(user)} ({method.label or 'contact'})",
                                user_id=user_id, contact_method_id=method.id))
    return destinations, reasons
