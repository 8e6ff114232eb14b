"""/api/v1/communities/{slug}/rules: the community's rules (every version kept), and a new
version from staff. Views parse, call crisis.moderation.rulebook, commit, serialize."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify

from crisis.api import moderation_serialize as out
from crisis.api.errors import abort
from crisis.api.staff import community_by_slug, current_user, field, json_body
from crisis.models import Role
from crisis.moderation import rulebook
from crisis.moderation.rules import RulebookError
from crisis.webctx import db, rt

bp = Blueprint("api_rules", __name__)


@bp.get("/api/v1/communities/<slug>/rules")
def current(slug: str) -> Response:
    community = community_by_slug(slug, Role.MODERATOR, "reading the rules")
    row = rulebook.latest(db(), community.id)
    if row is None:
        abort(404, "not_found", f"{slug} has no rules yet (POST a version, or run crisis rules sync)")
    return jsonify(out.rulebook(row))


@bp.get("/api/v1/communities/<slug>/rules/versions")
def versions(slug: str) -> Response:
    community = community_by_slug(slug, Role.MODERATOR, "reading the rules")
    return jsonify({"versions": [out.rulebook(r) for r in rulebook.history(db(), community.id)]})


@bp.post("/api/v1/communities/<slug>/rules")
def publish(slug: str) -> tuple[Response, int]:
    community = community_by_slug(slug, Role.MANAGER, "changing the rules")
    body = json_body()
    comment = field(body, "comment", str, required=False, default="")
    source = field(body, "source", str, required=False, default=None)
    doc = {k: v for k, v in body.items() if k not in ("comment", "source")}
    try:
        if source is not None:
            row = rulebook.create_from_text(db(), community, source, clock=rt().clock, user_id=current_user().id,
                                            origin="api", comment=comment, actor=current_user().email)
        else:
            row = rulebook.create_version(db(), community, doc, clock=rt().clock, user_id=current_user().id,
                                          origin="api", comment=comment, actor=current_user().email)
    except RulebookError as exc:
        db().rollback()
        abort(422, "invalid_rules", f"{len(exc.problems)} problem(s) found; nothing was changed",
              errors=[{"field": p.split(":", 1)[0], "message": p.split(":", 1)[-1].strip()} for p in exc.problems])
    db().commit()
    return jsonify(out.rulebook(row)), 201
