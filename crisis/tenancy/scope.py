"""The tenant rule, written once for pages and the API: a caller who holds no role in a
community is told nothing exists there (404, so ids cannot be probed across tenants); a
caller whose role is too small is told which role is needed (403). Views turn the two
exceptions into their own kind of answer."""
from __future__ import annotations

from sqlalchemy.orm import Session

from crisis.models import Role
from crisis.tenancy.communities import role_in


class OutsideCommunity(LookupError):
    """The caller holds no role in the community: answer as if it did not exist."""


class BelowRole(PermissionError):
    def __init__(self, needed: Role, held: Role) -> None:
        super().__init__(f"needs the {needed.value} role or above in this community; you are {held.value}")
        self.needed = needed
        self.held = held


def check_role(held: Role | None, needed: Role) -> Role:
    if held is None:
        raise OutsideCommunity()
    if not held.at_least(needed):
        raise BelowRole(needed, held)
    return held


def role_for(session: Session, user_id: int, community_id: int, needed: Role) -> Role:
    """The user's role in the community, at least `needed`; OutsideCommunity or BelowRole otherwise."""
    return check_role(role_in(session, user_id, community_id), needed)
