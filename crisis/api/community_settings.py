"""GET/PATCH /api/v1/communities/<slug>/settings: detector and retention settings."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify

from crisis.api.errors import abort
from crisis.api.staff import community_by_slug, current_user, json_body, require
from crisis.models import Role
from crisis.tenancy import community_settings
from crisis.webctx import db

bp = Blueprint("settings", __name__)


@bp.get("/api/v1/communities/<slug>/settings")
def get_settings(slug: str) -> Response:
    community = community_by_slug(slug, Role.MODERATOR, "reading detector settings")
    return jsonify(community_settings.current(community))


@bp.patch("/api/v1/communities/<slug>/settings")
def patch_settings(slug: str) -> Response:
    community = community_by_slug(slug, Role.MANAGER, "changing detector settings")
    body = json_body()
    governed = sorted(set(body) & set(community_settings.ADMIN_FIELDS))
    if governed:
        require(community.id, Role.ADMIN, f"changing {', '.join(governed)}", not_found=f"no community {slug!r}")
    try:
        result = community_settings.update(db(), community, body, actor=current_user().email,
                                           actor_user_id=current_user().id)
    except community_settings.InvalidSettings as exc:
        abort(422, "invalid_settings", f"{len(exc.errors)} problem(s) found; nothing was changed",
              errors=[{"field": e.field, "message": e.message} for e in exc.errors])
    db().commit()
    return jsonify(result)
