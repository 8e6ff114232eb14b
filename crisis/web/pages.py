"""Home and community pages."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, g, jsonify, render_template
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from crisis.clock import isoformat
from crisis.insight import activity
from crisis.models import Community, Incident, Role
from crisis.response.states import SEVERITIES
from crisis.tenancy.communities import NotFound, communities_of, get_community, role_in
from crisis.web.auth import login_required
from crisis.webctx import db, rt

bp = Blueprint("pages", __name__)


def member_community(slug: str) -> Community:
    """The community, if the signed-in user holds a role in it; 404 otherwise (no existence leak)."""
    try:
        community = get_community(db(), slug)
    except NotFound:
        abort(404)
    if role_in(db(), g.user.id, community.id) is None:
        abort(404)
    return community


@bp.get("/")
@login_required
def home() -> Any:
    memberships = communities_of(db(), g.user.id)
    ids = [c.id for c, _role in memberships]
    open_counts = dict(db().execute(select(Incident.community_id, func.count()).where(
        Incident.community_id.in_(ids), Incident.status != "resolved").group_by(Incident.community_id)).all())
    return render_template("home.html", memberships=memberships, open_counts=open_counts)


@bp.get("/c/<slug>")
@login_required
def community(slug: str) -> Any:
    c = member_community(slug)
    role = role_in(db(), g.user.id, c.id)
    return render_template("community.html", community=c, role=role, incidents=activity.recent_incidents(db(), c.id),
                           severities=SEVERITIES, can_open=role is not None and role.at_least(Role.RESPONDER),
                           Role=Role)


@bp.get("/c/<slug>/activity.json")
@login_required
def community_activity(slug: str) -> Response:
    c = member_community(slug)
    end = activity.latest_event_time(db(), c.id) or rt().clock.now()
    data = activity.per_minute(db(), c.id, end=end, minutes=60)
    data["incidents"] = [
        {"id": i.id, "kind": i.kind, "title": i.title, "severity": i.severity, "status": i.status,
         "opened_at": isoformat(i.opened_at)}
        for i in activity.recent_incidents(db(), c.id, limit=10)
    ]
    return jsonify(data)
