"""Where notifications go: community channels and staff contact methods (validated with
`check_url`), and a test notification through the real path: a Notification row,
delivered by the notify job after commit. The settings pages and the JSON API both call
these."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.audit.log import record
from crisis.jobs import ringer
from crisis.models import Channel, Community, ContactMethod, Notification, User
from crisis.notify.transport import check_url

PURPOSES = ("team", "stakeholders", "log")


class DestinationError(ValueError):
    """A refused destination; the message starts with the field at fault ("url: ...")."""

    @property
    def field(self) -> str:
        head, sep, _rest = str(self).partition(":")
        return head if sep and " " not in head else ""


class DuplicateDestination(DestinationError):
    pass


def _scheme(url: str) -> str:
    # Only the scheme goes in the audit log: the rest of an apprise URL often holds a token.
    return url.split("://", 1)[0] if "://" in url else ""


def add_channel(session: Session, community: Community, *, name: str, purpose: str, url: str,
                now: datetime, actor: str = "system", actor_user_id: int | None = None) -> Channel:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise DestinationError("name: must be 1 to 100 characters")
    if purpose not in PURPOSES:
        raise DestinationError(f"purpose: {purpose!r} is not one of {', '.join(PURPOSES)}")
    problem = check_url(url)
    if problem:
        raise DestinationError(f"url: {problem}")
    if session.scalar(select(Channel.id).where(Channel.community_id == community.id, Channel.name == name)):
        raise DuplicateDestination(f"name: this community already has a channel {name!r}")
    row = Channel(community_id=community.id, name=name, purpose=purpose, url=url.strip(), created_at=now)
    session.add(row)
    session.flush()
    record(session, community_id=community.id, actor=actor, actor_user_id=actor_user_id, action="channel.create",
           target=f"channel {row.id} (#{name})", after={"name": name, "purpose": purpose, "scheme": _scheme(url)},
           at=now)
    return row


def remove_channel(session: Session, channel: Channel, *, actor: str, actor_user_id: int | None = None) -> None:
    record(session, community_id=channel.community_id, actor=actor, actor_user_id=actor_user_id,
           action="channel.delete", target=f"channel {channel.id} (#{channel.name})",
           before={"name": channel.name, "purpose": channel.purpose, "scheme": _scheme(channel.url)})
    session.delete(channel)


def add_contact_method(session: Session, user: User, *, label: str, url: str, now: datetime) -> ContactMethod:
    problem = check_url(url)
    if problem:
        raise DestinationError(f"url: {problem}")
    row = ContactMethod(user_id=user.id, label=(label or "").strip()[:100], url=url.strip(), created_at=now)
    session.add(row)
    session.flush()
    return row


def send_test(session: Session, community: Community, *, channel: Channel | None = None,
              method: ContactMethod | None = None, requested_by: User, now: datetime) -> Notification:
    """Write a test Notification row; the engine's delivery job sends it after commit."""
    if (channel is None) == (method is None):
        raise DestinationError("pick one channel or one contact method")
    who = requested_by.display_name or requested_by.email
    if channel is not None:
        key, label = f"ch:{channel.id}", f"#{channel.name}"
    else:
        assert method is not None
        key, label = f"cm:{method.id}", f"{who} ({method.label or 'contact'})"
    row = Notification(community_id=community.id, incident_id=None, event="test",
                       cause=f"test:{key}:{now.isoformat()}", destination=key, recipient_user_id=requested_by.id
                       if method is not None else None, contact_method_id=method.id if method else None,
                       channel_id=channel.id if channel else None, recipient_label=label[:300],
                       title=f"Test notification from crisis ({community.name})",
                       body=f"{who} sent this test from the {community.name} settings page. If you can read it, "
                            "this destination works.",
                       status="pending", attempts=0, max_attempts=1, next_attempt_at=now, created_at=now)
    session.add(row)
    session.flush()
    ringer.note_notification(session, row.id)
    return row


def recent_tests(session: Session, community: Community, limit: int = 10) -> list[Notification]:
    return list(session.scalars(select(Notification).where(Notification.community_id == community.id,
                                                           Notification.event == "test")
                                .order_by(Notification.id.desc()).limit(limit)))
