"""Member channels: where in the community members read announcements.

Two kinds. An apprise URL of a chat room members are in (matrix://, matrixs://, discord://,
tgram://, or json:// for a forum or a bot that posts for crisis), checked by apprise and
required to name its room or chat: an announcement must not go to a bot's owner or a room
apprise would create. Or a room of one of the community's platform links, posted to by the
bridge's own user (crisis.notify.rooms).

Staff routing never reaches these: they are not Channels, and only crisis.publicstatus
writes notifications to them."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import apprise
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.audit.log import record
from crisis.jobs import ringer
from crisis.models import Community, MemberChannel, Notification, PlatformLink, User
from crisis.notify.transport import check_url

KINDS = ("apprise", "bridge")
SCHEMES = ("matrix", "matrixs", "discord", "tgram", "json", "jsons")
LANGUAGES = ("", "en", "zh")
# A host shown in a masked URL must look like one: an apprise URL may put a token or a
# password where a parser would look for the host.
_HOST = re.compile(r"[A-Za-z0-9.-]+\.[A-Za-z]{2,}(:\d+)?|localhost(:\d+)?|[\d.]+(:\d+)?")


class ChannelError(ValueError):
    """A refused member channel; the message starts with the field at fault ("url: ...")."""

    @property
    def field(self) -> str:
        head, sep, _rest = str(self).partition(":")
        return head if sep and " " not in head else ""


class DuplicateChannel(ChannelError):
    pass


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def check_member_url(url: str) -> str | None:
    """None when the URL reaches a members' room or chat, else what is wrong (never echoing it)."""
    problem = check_url(url)
    if problem:
        return problem
    scheme = _scheme(url.strip())
    if scheme not in SCHEMES:
        return (f"member channels take {', '.join(s + '://' for s in SCHEMES)} URLs "
                f"(a room or chat members read), not {scheme}://")
    sender = apprise.Apprise()
    sender.add(url.strip())
    plugin = sender[0]
    if scheme.startswith("matrix") and not getattr(plugin, "rooms", None):
        return "a matrix:// URL must name the room (…/%23room:server or …/!roomid:server)"
    if scheme == "tgram" and not getattr(plugin, "targets", None):
        return "a tgram:// URL must name the chat (tgram://bottoken/chat_id): members' chat, not the bot's owner"
    return None


def _name(session: Session, community: Community, name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ChannelError("name: must be 1 to 100 characters")
    if session.scalar(select(MemberChannel.id).where(MemberChannel.community_id == community.id,
                                                     MemberChannel.name == name)):
        raise DuplicateChannel(f"name: this community already has a member channel {name!r}")
    return name


def _language(language: str) -> str:
    if language not in LANGUAGES:
        raise ChannelError("language: must be en, zh or empty (the community's language)")
    return language


def _audit_fields(row: MemberChannel) -> dict[str, Any]:
    # masked(), never the URL: an apprise URL can hold a password or a bot token.
    fields: dict[str, Any] = {"name": row.name, "kind": row.kind, "destination": masked(row),
                              "language": row.language}
    if row.kind == "bridge":
        fields["link_id"] = row.link_id
    return fields


def _created(session: Session, row: MemberChannel, actor: str, actor_user_id: int | None) -> None:
    record(session, community_id=row.community_id, actor=actor, actor_user_id=actor_user_id,
           action="member_channel.create", target=f"member channel {row.id} ({row.name})",
           after=_audit_fields(row), at=row.created_at)


def add_apprise(session: Session, community: Community, *, name: str, url: str, language: str = "",
                now: datetime, actor: str = "system", actor_user_id: int | None = None) -> MemberChannel:
    problem = check_member_url(url) if isinstance(url, str) else "must be an apprise URL"
    if problem:
        raise ChannelError(f"url: {problem}")
    row = MemberChannel(community_id=community.id, name=_name(session, community, name), kind="apprise",
                        url=url.strip(), room_id="", language=_language(language), disabled=False, last_error="",
                        created_at=now)
    session.add(row)
    session.flush()
    _created(session, row, actor, actor_user_id)
    return row


def add_bridge_room(session: Session, community: Community, *, name: str, link_id: int, room_id: str,
                    language: str = "", now: datetime, actor: str = "system",
                    actor_user_id: int | None = None) -> MemberChannel:
    link = session.get(PlatformLink, link_id)
    if link is None or link.community_id != community.id:
        raise ChannelError(f"link_id: this community has no platform link {link_id}")
    if link.disabled:
        raise ChannelError(f"link_id: the link {link.name!r} is disabled")
    if room_id not in (link.rooms or {}):
        rooms = ", ".join(sorted(link.rooms or {})) or "none"
        raise ChannelError(f"room_id: not a room of the link {link.name!r} (its rooms: {rooms})")
    row = MemberChannel(community_id=community.id, name=_name(session, community, name), kind="bridge", url="",
                        link_id=link.id, room_id=room_id, language=_language(language), disabled=False,
                        last_error="", created_at=now)
    session.add(row)
    session.flush()
    _created(session, row, actor, actor_user_id)
    return row


def remove(session: Session, row: MemberChannel, *, actor: str, actor_user_id: int | None = None) -> None:
    record(session, community_id=row.community_id, actor=actor, actor_user_id=actor_user_id,
           action="member_channel.delete", target=f"member channel {row.id} ({row.name})",
           before=_audit_fields(row))
    session.delete(row)


def of(session: Session, community_id: int, *, enabled_only: bool = False) -> list[MemberChannel]:
    query = select(MemberChannel).where(MemberChannel.community_id == community_id)
    if enabled_only:
        query = query.where(MemberChannel.disabled.is_(False))
    return list(session.scalars(query.order_by(MemberChannel.name)))


def set_disabled(session: Session, row: MemberChannel, disabled: bool, *, actor: str,
                 actor_user_id: int | None = None) -> None:
    """Pause or resume; a pause stops announcements, so who did it is kept (no row when nothing changes)."""
    if row.disabled != disabled:
        record(session, community_id=row.community_id, actor=actor, actor_user_id=actor_user_id,
               action="member_channel.pause" if disabled else "member_channel.resume",
               target=f"member channel {row.id} ({row.name})", before={"disabled": row.disabled},
               after={"disabled": disabled})
    row.disabled = disabled
    if not disabled:
        row.last_error = ""


def masked(row: MemberChannel) -> str:
    """What pages and the API show of the destination: the scheme and host, never a secret."""
    if row.kind == "bridge":
        return f"bridge room {row.room_id}"
    scheme, _, rest = row.url.partition("://")
    # The host is after the authority's last "@" (a password may hold one itself).
    host = rest.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    if scheme.lower() in ("discord", "tgram") or not _HOST.fullmatch(host):
        host = "…"  # discord's and telegram's "host" is the webhook id or the bot token
    return f"{scheme}://{host}/…"


def send_test(session: Session, community: Community, row: MemberChannel, *, requested_by: User,
              now: datetime) -> Notification:
    """A test announcement through the real path; members of that room will see it."""
    who = requested_by.display_name or requested_by.email
    note = Notification(community_id=community.id, incident_id=None, event="test",
                        cause=f"test:mc:{row.id}:{now.isoformat()}", destination=f"mc:{row.id}",
                        member_channel_id=row.id, recipient_label=f"members: {row.name}"[:300],
                        title=f"{community.name}: test announcement",
                        body=f"{who} is checking that announcements from the {community.name} team reach this "
                             "room. No action is needed.",
                        status="pending", attempts=0, max_attempts=1, next_attempt_at=now, created_at=now)
    session.add(note)
    session.flush()
    ringer.note_notification(session, note.id)
    return note
