"""Communities, staff and tokens: the service functions the CLI, API and pages call."""
from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.audit.log import record
from crisis.clock import Clock
from crisis.models import ApiToken, Community, Membership, Role, User
from crisis.tenancy import tokens
from crisis.tenancy.credentials import hash_password, new_password
from crisis.tenancy.errors import Conflict as Conflict
from crisis.tenancy.errors import NotFound as NotFound
from crisis.tenancy.errors import ServiceError as ServiceError
from crisis.tenancy.tokens import IssuedToken as IssuedToken

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def get_community(session: Session, slug: str) -> Community:
    community = session.scalar(select(Community).where(Community.slug == slug))
    if community is None:
        raise NotFound(f"no community {slug!r}")
    return community


def create_community(session: Session, slug: str, *, name: str | None, clock: Clock,
                     actor: str = "system", actor_user_id: int | None = None) -> tuple[Community, IssuedToken]:
    if not SLUG_RE.match(slug):
        raise ServiceError(f"slug {slug!r} must be 1-64 lowercase letters, digits and inner dashes")
    if session.scalar(select(Community.id).where(Community.slug == slug)) is not None:
        raise Conflict(f"community {slug!r} already exists")
    community = Community(slug=slug, name=name or slug, settings={}, created_at=clock.now())
    session.add(community)
    session.flush()
    record(session, community_id=community.id, actor=actor, actor_user_id=actor_user_id, action="community.create",
           target=slug, after={"slug": slug, "name": community.name}, at=community.created_at)
    return community, issue_ingest_token(session, community, clock=clock, actor=actor, actor_user_id=actor_user_id)


def issue_ingest_token(session: Session, community: Community, *, clock: Clock, name: str = "",
                       actor: str = "system", actor_user_id: int | None = None,
                       expires_at: datetime | None = None) -> IssuedToken:
    return tokens.issue(session, "ingest", clock=clock, actor=actor, actor_user_id=actor_user_id, name=name,
                        community=community, expires_at=expires_at)


def issue_personal_token(session: Session, user: User, *, clock: Clock, name: str = "", actor: str = "system",
                         actor_user_id: int | None = None, scopes: Iterable[str] | None = None,
                         expires_at: datetime | None = None) -> IssuedToken:
    """Scopes None: every personal scope, which is what a token could do before scopes existed."""
    return tokens.issue(session, "personal", clock=clock, actor=actor, actor_user_id=actor_user_id, name=name,
                        user=user, scopes=scopes, expires_at=expires_at)


def revoke_token(session: Session, token_id: int, *, clock: Clock, actor: str = "system",
                 actor_user_id: int | None = None) -> ApiToken:
    return tokens.revoke(session, token_id, clock=clock, actor=actor, actor_user_id=actor_user_id)


def find_token(session: Session, token: str) -> ApiToken | None:
    """The unrevoked token row for a presented secret, or None. Expiry is the caller's to tell."""
    row = tokens.find(session, token)
    if row is None or row.revoked_at is not None:
        return None
    return row


def create_user(session: Session, email: str, *, password: str | None, clock: Clock,
                display_name: str = "", actor: str = "system", actor_user_id: int | None = None) -> tuple[User, str]:
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
    record(session, community_id=None, actor=actor, actor_user_id=actor_user_id, subject_user_id=user.id,
           action="user.create", target=email, after={"email": email, "display_name": user.display_name},
           at=user.created_at)
    return user, password


def get_user(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"no user {email!r}")
    return user


def grant_role(session: Session, user: User, community: Community, role: str, *, actor: str = "system",
               actor_user_id: int | None = None) -> Membership:
    try:
        parsed = Role(role)
    except ValueError:
        raise ServiceError(f"role {role!r} is not one of {', '.join(r.value for r in Role)}") from None
    membership = session.scalar(select(Membership).where(
        Membership.user_id == user.id, Membership.community_id == community.id))
    before = membership.role if membership is not None else None
    if membership is None:
        membership = Membership(user_id=user.id, community_id=community.id, role=parsed.value)
        session.add(membership)
    else:
        membership.role = parsed.value
    session.flush()
    if before != parsed.value:
        record(session, community_id=community.id, actor=actor, actor_user_id=actor_user_id, subject_user_id=user.id,
               action="role.grant", target=user.email, before={"role": before}, after={"role": parsed.value})
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
