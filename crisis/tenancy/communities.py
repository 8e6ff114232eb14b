"""Communities, staff and tokens: the service functions the CLI, API and pages call."""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.clock import Clock
from crisis.models import ApiToken, Community, Membership, Role, User
from crisis.tenancy.credentials import hash_password, hash_token, new_password, new_token

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ServiceError(ValueError):
    """A request the service refuses; the message says why."""


class NotFound(ServiceError):
    pass


class Conflict(ServiceError):
    pass


@dataclass(frozen=True)
class IssuedToken:
    id: int
    token: str  # shown once; only its hash is stored


def get_community(session: Session, slug: str) -> Community:
    community = session.scalar(select(Community).where(Community.slug == slug))
    if community is None:
        raise NotFound(f"no community {slug!r}")
    return community


def create_community(session: Session, slug: str, *, name: str | None, clock: Clock) -> tuple[Community, IssuedToken]:
    if not SLUG_RE.match(slug):
        raise ServiceError(f"slug {slug!r} must be 1-64 lowercase letters, digits and inner dashes")
    if session.scalar(select(Community.id).where(Community.slug == slug)) is not None:
        raise Conflict(f"community {slug!r} already exists")
    community = Community(slug=slug, name=name or slug, settings={}, created_at=clock.now())
    session.add(community)
    session.flush()
    return community, issue_ingest_token(session, community, clock=clock)


def issue_ingest_token(session: Session, community: Community, *, clock: Clock, name: str = "") -> IssuedToken:
    return _issue(session, "ingest", clock=clock, community_id=community.id, name=name)


def issue_personal_token(session: Session, user: User, *, clock: Clock, name: str = "") -> IssuedToken:
    return _issue(session, "personal", clock=clock, user_id=user.id, name=name)


def _issue(session: Session, kind: str, *, clock: Clock, name: str,
           community_id: int | None = None, user_id: int | None = None) -> IssuedToken:
    token = new_token(kind)
    row = ApiToken(kind=kind, community_id=community_id, user_id=user_id, prefix=token[:10],
                   token_hash=hash_token(token), name=name, created_at=clock.now())
    session.add(row)
    session.flush()
    return IssuedToken(id=row.id, token=token)


def revoke_token(session: Session, token_id: int, *, clock: Clock) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = clock.now()
    return row


def find_token(session: Session, token: str) -> ApiToken | None:
    """The live token row for a presented secret, or None."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None:
        return None
    return row


def create_user(session: Session, email: str, *, password: str | None, clock: Clock,
                display_name: str = "") -> tuple[User, str]:
    """Create a staff user; returns the user and the password (generated when None)."""
    email = email.strip().lower()
    if not EMAIL_RE.match(email):
        raise ServiceError(f"{email!r} is not an email address")
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"user {email!r} already exists")
    password = password or new_password()
    if len(password) < 8:
        raise ServiceError("password must be at least 8 characters")
    user = User(email=email, display_name=display_name or email.split("@")[0],
                password_hash=hash_password(password), created_at=clock.now())
    session.add(user)
    session.flush()
    return user, password


def get_user(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"no user {email!r}")
    return user


def grant_role(session: Session, user: User, community: Community, role: str) -> Membership:
    try:
        parsed = Role(role)
    except ValueError:
        raise ServiceError(f"role {role!r} is not one of {', '.join(r.value for r in Role)}") from None
    membership = session.scalar(select(Membership).where(
        Membership.user_id == user.id, Membership.community_id == community.id))
    if membership is None:
        membership = Membership(user_id=user.id, community_id=community.id, role=parsed.value)
        session.add(membership)
    else:
        membership.role = parsed.value
    session.flush()
    return membership


def role_in(session: Session, user_id: int, community_id: int) -> Role | None:
    role = session.scalar(select(Membership.role).where(
        Membership.user_id == user_id, Membership.community_id == community_id))
    return Role(role) if role else None


def communities_of(session: Session, user_id: int) -> list[tuple[Community, Role]]:
    rows = session.execute(
        select(Community, Membership.role).join(Membership, Membership.community_id == Community.id)
        .where(Membership.user_id == user_id).order_by(Community.slug)).all()
    return [(c, Role(r)) for c, r in rows]
