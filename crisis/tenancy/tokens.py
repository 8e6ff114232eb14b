"""API tokens: issued with scopes and an optional expiry (the secret shown once, only its
hash kept), listed, revoked, and checked on use. Every issue and revocation is audited.

A personal token may do what its scopes name AND its user's role allows (crisis.api.staff
checks both); `admin` includes every other personal scope. An ingest token speaks for one
community and can only post events."""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.audit.log import record
from crisis.clock import Clock, isoformat
from crisis.models import ApiToken, Community, User
from crisis.tenancy.credentials import hash_token, new_token
from crisis.tenancy.errors import NotFound, ServiceError

ADMIN = "admin"
# What each scope lets a token do; docs/deploy.md lists the same, and crisis.api.scopes maps
# every API route to one of them.
SCOPES: dict[str, str] = {
    "events:write": "post events for the token's community (ingest tokens)",
    "incidents:read": "read incidents, their tasks, notifications and containment actions",
    "incidents:write": "open, acknowledge, resolve and annotate incidents; propose and approve containment",
    "oncall:read": "read schedules, who is on call and your contact methods",
    "oncall:write": "create schedules and overrides; add and remove your contact methods",
    "settings:read": "read detector settings, channels, platform links, integrations and playbooks",
    ADMIN: "everything the other scopes allow, plus changing settings, channels, links, integrations "
           "and playbooks, and reading the audit log",
}
KIND_SCOPES: dict[str, tuple[str, ...]] = {
    "personal": ("incidents:read", "incidents:write", "oncall:read", "oncall:write", "settings:read", ADMIN),
    "ingest": ("events:write",),
}
MAX_LIFETIME = timedelta(days=3 * 365)
_DURATION = re.compile(r"^(\d{1,4})\s*([hd])$")


class TokenError(ServiceError):
    """Bad input for a token; the message names the field."""


@dataclass(frozen=True)
class IssuedToken:
    id: int
    token: str  # shown once; only its hash is stored


def parse_scopes(kind: str, raw: Iterable[str] | None) -> list[str]:
    """The scopes asked for, checked against the kind's; None means all of them (today's rights)."""
    allowed = KIND_SCOPES[kind]
    if raw is None:
        return list(allowed)
    wanted = [s.strip() for s in raw if s.strip()]
    for scope in wanted:
        if scope not in allowed:
            raise TokenError(f"scopes: {scope[:40]!r} is not a scope a {kind} token can have "
                             f"(one of {', '.join(allowed)})")
    if not wanted:
        raise TokenError(f"scopes: pick at least one ({', '.join(allowed)})")
    return [s for s in allowed if s in wanted]  # the catalogue's order, no repeats


def parse_expiry(raw: str | None, now: datetime) -> datetime | None:
    """'' or None: never. '30d' or '12h' from now, or a date (its 00:00 UTC) or an RFC 3339
    time. It must lie in the future and at most three years ahead."""
    text = (raw or "").strip()
    if not text or text.lower() == "never":
        return None
    match = _DURATION.match(text)
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        at = now + (timedelta(days=amount) if unit == "d" else timedelta(hours=amount))
    else:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise TokenError(f"expires: {text[:40]!r} is not 30d, 12h, a date (2027-01-31) or a time "
                             "with a zone") from None
        if parsed.tzinfo is None and len(text) > 10:
            raise TokenError("expires: a time needs a zone (2027-01-31T12:00:00Z)")
        at = parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    if at <= now:
        raise TokenError("expires: must be in the future")
    if at - now > MAX_LIFETIME:
        raise TokenError("expires: must be at most three years from now (or never)")
    return at


def issue(session: Session, kind: str, *, clock: Clock, actor: str, name: str = "",
          scopes: Iterable[str] | None = None, expires_at: datetime | None = None,
          community: Community | None = None, user: User | None = None,
          actor_user_id: int | None = None) -> IssuedToken:
    """A new token of `kind` for the community (ingest) or the user (personal)."""
    if (kind == "ingest") != (community is not None) or (kind == "personal") != (user is not None):
        raise TokenError("kind: an ingest token needs a community, a personal token a user")
    if len(name) > 200:
        raise TokenError("name: must be at most 200 characters")
    checked = parse_scopes(kind, scopes)
    now = clock.now()
    if expires_at is not None and expires_at <= now:
        raise TokenError("expires: must be in the future")
    secret = new_token(kind)
    row = ApiToken(kind=kind, community_id=community.id if community else None, user_id=user.id if user else None,
                   prefix=secret[:10], token_hash=hash_token(secret), name=name, created_at=now, scopes=checked,
                   expires_at=expires_at)
    session.add(row)
    session.flush()
    record(session, community_id=row.community_id, actor=actor, actor_user_id=actor_user_id,
           subject_user_id=row.user_id, action="token.create", target=_label(row), at=now,
           after={"kind": kind, "name": name, "prefix": row.prefix, "scopes": checked,
                  "expires_at": isoformat(expires_at) if expires_at else None})
    return IssuedToken(id=row.id, token=secret)


def _label(row: ApiToken) -> str:
    return f"{row.kind} token {row.id} ({row.prefix}…{' ' + row.name if row.name else ''})"


def revoke(session: Session, token_id: int, *, clock: Clock, actor: str, actor_user_id: int | None = None,
           community_id: int | None = None, user_id: int | None = None) -> ApiToken:
    """Revoke a token; it stops working at once. `community_id`/`user_id` restrict which
    tokens the caller may name: another's token is NotFound, like one that does not exist."""
    row = session.get(ApiToken, token_id)
    if row is None or (community_id is not None and row.community_id != community_id) \
            or (user_id is not None and row.user_id != user_id):
        raise NotFound(f"no token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = clock.now()
        record(session, community_id=row.community_id, actor=actor, actor_user_id=actor_user_id,
               subject_user_id=row.user_id, action="token.revoke", target=_label(row), at=row.revoked_at,
               before={"revoked_at": None}, after={"revoked_at": isoformat(row.revoked_at)})
    return row


def find(session: Session, secret: str) -> ApiToken | None:
    """The token row for a presented secret, revoked or not (callers say which), or None."""
    return session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))


def expired(row: ApiToken, now: datetime) -> bool:
    return row.expires_at is not None and row.expires_at <= now


def allows(row: ApiToken, scope: str) -> bool:
    held = row.scopes or []
    return scope in held or (row.kind == "personal" and ADMIN in held)


def state(row: ApiToken, now: datetime) -> str:
    if row.revoked_at is not None:
        return "revoked"
    return "expired" if expired(row, now) else "active"


def of_user(session: Session, user_id: int) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.kind == "personal", ApiToken.user_id == user_id)
                                .order_by(ApiToken.id.desc())))


def of_community(session: Session, community_id: int) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.kind == "ingest",
                                                       ApiToken.community_id == community_id)
                                .order_by(ApiToken.id.desc())))


def summary(row: ApiToken, now: datetime) -> dict[str, Any]:
    def when(value: datetime | None) -> str | None:
        return isoformat(value) if value else None

    return {"id": row.id, "kind": row.kind, "name": row.name, "prefix": row.prefix, "scopes": list(row.scopes or []),
            "state": state(row, now), "created_at": when(row.created_at), "expires_at": when(row.expires_at),
            "last_used_at": when(row.last_used_at), "revoked_at": when(row.revoked_at)}
