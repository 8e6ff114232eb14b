"""Platform links: created with fresh tokens (shown once), found by the token the platform
presents, their rooms, their sealed credentials and their health."""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlparse

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.audit.log import record
from crisis.clock import Clock
from crisis.models import Community, PlatformLink
from crisis.tenancy.communities import Conflict, ServiceError
from crisis.tenancy.credentials import constant_time_equal, hash_token, seal, unseal

PLATFORMS = ("matrix",)
# Room version 12 ids have no :server suffix ("!Abc..."); older ones do ("!abc:server").
MATRIX_ROOM = re.compile(r"^![A-Za-z0-9._~+/=-]{1,200}(:[A-Za-z0-9.-]+(:[0-9]{1,5})?)?$")
CHANNEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class LinkError(ServiceError):
    """Bad input for a link; the message names the field."""


@dataclass(frozen=True)
class IssuedLink:
    link: PlatformLink
    inbound_token: str  # what the platform presents to crisis (Matrix: hs_token); shown once
    outbound_token: str  # what crisis presents to the platform (Matrix: as_token); shown once


def parse_rooms(specs: list[str]) -> dict[str, str]:
    """`!room=channel` pairs (the channel defaults to the room id's first characters)."""
    rooms: dict[str, str] = {}
    for spec in specs:
        room, _, channel = spec.partition("=")
        room, channel = room.strip(), channel.strip()
        if not MATRIX_ROOM.match(room):
            raise LinkError(f"rooms: {room!r} is not a Matrix room id (!opaque or !opaque:server)")
        channel = channel or re.sub(r"[^A-Za-z0-9._-]", "", room)[:32] or "room"
        if not CHANNEL.match(channel):
            raise LinkError(f"rooms: channel name {channel!r} must be 1-64 letters, digits, '.', '_' or '-'")
        rooms[room] = channel
    return rooms


def _server_name(sender: str) -> str:
    return sender.split(":", 1)[1] if ":" in sender else ""


def create_matrix_link(session: Session, community: Community, *, homeserver: str, server_name: str,
                       rooms: dict[str, str], secret_key: str, clock: Clock, name: str = "matrix",
                       admin_token: str | None = None, silence_after: timedelta = timedelta(hours=1),
                       actor: str = "system", actor_user_id: int | None = None) -> IssuedLink:
    url = urlparse(homeserver)
    if len(homeserver) > 500:
        raise LinkError("homeserver: must be at most 500 characters")
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", name):
        raise LinkError(f"name: {name[:70]!r} must be 1-64 letters, digits, '.', '_' or '-'")
    if url.scheme not in ("http", "https") or not url.netloc:
        raise LinkError(f"homeserver: {homeserver!r} must be an http(s) URL")
    if not re.match(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$", server_name):
        raise LinkError(f"server_name: {server_name!r} is not a Matrix server name")
    if not secret_key:
        raise LinkError("the service has no secret key to seal the link's tokens with")
    if session.scalar(select(PlatformLink.id).where(PlatformLink.community_id == community.id,
                                                    PlatformLink.name == name)) is not None:
        raise Conflict(f"community {community.slug!r} already has a link named {name!r}")
    hs_token, as_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    link = PlatformLink(
        community_id=community.id, platform="matrix", name=name, endpoint=homeserver.rstrip("/"),
        service_id=f"crisis-{community.slug[:40]}-{secrets.token_hex(3)}",
        sender=f"@crisis_{community.slug}:{server_name}",
        inbound_token_hash=hash_token(hs_token), outbound_token=seal(secret_key, as_token),
        admin_token=seal(secret_key, admin_token) if admin_token else None, rooms=rooms,
        silence_after_s=int(silence_after.total_seconds()), created_at=clock.now(), last_error="",
        events_received=0, events_skipped=0, disabled=False)
    session.add(link)
    session.flush()
    record(session, community_id=community.id, actor=actor, actor_user_id=actor_user_id, action="link.create",
           target=f"matrix link {link.id} ({name})", at=link.created_at,
           after={"platform": "matrix", "name": name, "homeserver": link.endpoint, "sender": link.sender,
                  "rooms": sorted(rooms), "admin_token": bool(admin_token)})
    return IssuedLink(link, hs_token, as_token)


def by_inbound_token(session: Session, token: str) -> PlatformLink | None:
    link = session.scalar(select(PlatformLink).where(PlatformLink.inbound_token_hash == hash_token(token)))
    if link is None or link.disabled or not constant_time_equal(link.inbound_token_hash, hash_token(token)):
        return None
    return link


def outbound_token(link: PlatformLink, secret_key: str) -> str:
    return unseal(secret_key, link.outbound_token)


def admin_token(link: PlatformLink, secret_key: str) -> str | None:
    return unseal(secret_key, link.admin_token) if link.admin_token else None


def server_name(link: PlatformLink) -> str:
    return _server_name(link.sender)


def links_of(session: Session, community_id: int) -> list[PlatformLink]:
    return list(session.scalars(select(PlatformLink).where(PlatformLink.community_id == community_id)
                                .order_by(PlatformLink.id)))


def record_error(link: PlatformLink, message: str, now: datetime) -> None:
    link.last_error, link.last_error_at = message[:500], now
