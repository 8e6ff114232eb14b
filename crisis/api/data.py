"""A community's data, for its admins: retention status, erasing a member, the export archive.

Every route needs the admin role in the community (404 outside it, 403 below admin)."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select

from crisis.api.errors import abort
from crisis.api.staff import community_by_slug, current_user, json_body
from crisis.erasure import service as erasure
from crisis.export import archive
from crisis.jobs import names
from crisis.models import Erasure, Role
from crisis.retention import status
from crisis.webctx import db, rt

bp = Blueprint("api_data", __name__)


@bp.get("/api/v1/communities/<slug>/retention")
def get_retention(slug: str) -> Response:
    community = community_by_slug(slug, Role.ADMIN, "reading retention")
    return jsonify(status.summary(db(), community, now=rt().clock.now()))


@bp.post("/api/v1/communities/<slug>/erasures")
def post_erasure(slug: str) -> tuple[Response, int]:
    community = community_by_slug(slug, Role.ADMIN, "erasing a member")
    body = json_body()
    unknown = sorted(set(body) - {"member", "also", "force"})
    if unknown:
        abort(422, "invalid", f"{unknown[0]}: is not a field (fields: member, also, force)", field=unknown[0])
    force = body.get("force", False)
    if not isinstance(force, bool):
        abort(422, "invalid", "force: must be true or false", field="force")
    user = current_user()
    try:
        row = erasure.request(db(), community, member=body.get("member"), also=body.get("also"),
                              actor=user.email, actor_user_id=user.id,
                              remote_addr=request.remote_addr, clock=rt().clock, force=force)
    except erasure.ErasureBlocked as exc:
        db().rollback()
        abort(409, "conflict", str(exc), field="member")
    except erasure.ErasureRefused as exc:
        db().rollback()
        field = str(exc).split(":", 1)[0]
        abort(422, "invalid", str(exc), field=field)
    db().commit()
    erasure_id = row.id
    rt().jobs.ring(names.RUN_ERASURE, names.erasure_bell(erasure_id), erasure_id)
    db().expire_all()
    found = db().get(Erasure, erasure_id)
    assert found is not None
    return jsonify(erasure.public(found)), 202


@bp.get("/api/v1/communities/<slug>/erasures")
def list_erasures(slug: str) -> Response:
    community = community_by_slug(slug, Role.ADMIN, "reading erasures")
    return jsonify({"erasures": [erasure.public(e) for e in erasure.of_community(db(), community.id)]})


@bp.get("/api/v1/communities/<slug>/erasures/<int:erasure_id>")
def get_erasure(slug: str, erasure_id: int) -> Response:
    community = community_by_slug(slug, Role.ADMIN, "reading erasures")
    row = db().scalar(select(Erasure).where(Erasure.id == erasure_id, Erasure.community_id == community.id))
    if row is None:
        abort(404, "not_found", f"no erasure {erasure_id}")
    return jsonify(erasure.public(row))


@bp.get("/api/v1/communities/<slug>/export")
def export(slug: str) -> Response:
    community = community_by_slug(slug, Role.ADMIN, "exporting the community's data")
    now = rt().clock.now()
    user = current_user()
    body = archive.export(db(), community, actor=user.email, actor_user_id=user.id, now=now)
    db().commit()
    response = Response(body, mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{archive.filename(community.slug, now)}"'
    response.headers["Cache-Control"] = "no-store"
    return response
