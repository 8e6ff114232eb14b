"""/api/v1/communities/<slug>/audit: the community's audit log, for its admins. Read-only:
there is no route that writes, edits or deletes a row (the database refuses too)."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request, stream_with_context

from crisis.api.errors import abort
from crisis.api.staff import community_by_slug, current_user
from crisis.audit import export, query
from crisis.audit.log import record
from crisis.models import Community, Role
from crisis.webctx import db

bp = Blueprint("api_audit", __name__)


def _filters() -> query.Filters:
    try:
        return query.parse_filters(request.args)
    except query.BadFilter as exc:
        abort(422, "invalid", str(exc), field=str(exc).split(":", 1)[0])


def _community(slug: str) -> Community:
    return community_by_slug(slug, Role.ADMIN, "reading the audit log")


@bp.get("/api/v1/communities/<slug>/audit")
def list_entries(slug: str) -> Response:
    community = _community(slug)
    filters = _filters()
    try:
        limit = query.parse_limit(request.args.get("limit"))
        raw_before = request.args.get("before_id", "")
        if raw_before and not raw_before.isdigit():
            raise query.BadFilter("before_id: must be an entry id")
    except query.BadFilter as exc:
        abort(422, "invalid", str(exc), field=str(exc).split(":", 1)[0])
    rows, next_before = query.page(db(), community.id, filters, limit=limit,
                                   before_id=int(raw_before) if raw_before else None)
    return jsonify({"entries": [query.as_dict(r) for r in rows], "next_before_id": next_before})


@bp.get("/api/v1/communities/<slug>/audit/export")
def export_entries(slug: str) -> Response:
    community = _community(slug)
    filters = _filters()
    fmt = request.args.get("format", "json")
    if fmt not in export.FORMATS:
        abort(422, "invalid", f"format: {fmt[:20]!r} is not one of {', '.join(export.FORMATS)}", field="format")
    return stream_export(community, filters, fmt, actor=current_user().email, actor_user_id=current_user().id)


def stream_export(community: Community, filters: query.Filters, fmt: str, *, actor: str,
                  actor_user_id: int) -> Response:
    """The export, recorded first (exporting the log is itself an act the log keeps)."""
    record(db(), community_id=community.id, actor=actor, actor_user_id=actor_user_id, action="audit.export",
           target=f"audit log ({fmt})", after={"format": fmt, "actor": filters.actor, "action": filters.action,
                                               "since": filters.since, "until": filters.until})
    db().commit()
    rows = query.stream(db(), community.id, filters)
    resp = Response(stream_with_context(export.render(rows, fmt)), mimetype=export.FORMATS[fmt].split(";")[0])
    resp.headers["Content-Type"] = export.FORMATS[fmt]
    resp.headers["Content-Disposition"] = f'attachment; filename="audit-{community.slug}.{fmt}"'
    resp.headers["Cache-Control"] = "no-store"
    return resp
