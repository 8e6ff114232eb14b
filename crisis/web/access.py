"""Tenant isolation and role checks for views: 404 outside your communities, 403 below the role."""
from __future__ import annotations

from dataclasses import dataclass

from flask import abort, g
from flask_babel import gettext as _

from crisis.models import Community, Incident, Role
from crisis.response.lifecycle import Actor
from crisis.tenancy import scope
from crisis.tenancy.communities import NotFound, get_community
from crisis.webctx import db


@dataclass(frozen=True)
class Scope:
    community: Community
    role: Role

    def can(self, needed: Role) -> bool:
        return self.role.at_least(needed)


def community_scope(slug: str, needed: Role = Role.MODERATOR) -> Scope:
    """The community and the signed-in user's role in it.

    404 when the community does not exist or the user holds no role there (no existence
    leak); 403 when the role is below `needed`."""
    try:
        community = get_community(db(), slug)
        role = scope.role_for(db(), g.user.id, community.id, needed)
    except (NotFound, scope.OutsideCommunity):
        abort(404)
    except scope.BelowRole:
        abort(403, description=_("This needs the %(role)s role or above.", role=_role_label(needed)))
    return Scope(community, role)


def incident_scope(slug: str, incident_id: int, needed: Role = Role.MODERATOR) -> tuple[Scope, Incident]:
    scope = community_scope(slug, needed)
    incident = db().get(Incident, incident_id)
    if incident is None or incident.community_id != scope.community.id:
        abort(404)
    return scope, incident


def actor() -> Actor:
    return Actor.of(g.user, via="web")


def _role_label(role: Role) -> str:
    labels: dict[Role, str] = {Role.MODERATOR: _("moderator"), Role.RESPONDER: _("responder"),
                               Role.MANAGER: _("manager"), Role.ADMIN: _("admin")}
    return labels[role]


def role_label(role: Role | str) -> str:
    return _role_label(Role(role))
