"""The audit log page of a community (admins only): filter by actor, action and time, page
back, export as CSV or JSON. GET only: nothing here edits or deletes a row."""
from __future__ import annotations

from flask import Blueprint, abort, g, render_template, request
from sqlalchemy import select
from werkzeug.wrappers import Response

from crisis.api.audit import stream_export
from crisis.audit import export, query
from crisis.models import Role, User
from crisis.web.access import community_scope
from crisis.web.auth import login_required
from crisis.webctx import db, rt

bp = Blueprint("audit", __name__)


def _emails(rows: list[object]) -> dict[int, str]:
    ids = {uid for r in rows for uid in (getattr(r, "actor_user_id", None), getattr(r, "subject_user_id", None))
           if uid is not None}
    if not ids:
        return {}
    return {uid: email for uid, email in db().execute(select(User.id, User.email).where(User.id.in_(ids)))}


@bp.get("/c/<slug>/audit")
@login_required
def audit_page(slug: str) -> tuple[str, int]:
    scope = community_scope(slug, Role.ADMIN)
    errors: list[str] = []
    try:
        filters = query.parse_filters(request.args)
    except query.BadFilter as exc:
        errors.append(str(exc))
        filters = query.Filters()
    raw_before = request.args.get("before_id", "")
    before_id = int(raw_before) if raw_before.isdigit() else None
    rows, next_before = query.page(db(), scope.community.id, filters, before_id=before_id)
    kept = {k: v for k, v in request.args.items() if k in ("actor", "action", "since", "until") and v}
    return render_template("audit.html", scope=scope, community=scope.community, rows=rows, errors=errors,
                           args=kept, next_before=next_before, actions=query.actions(db(), scope.community.id),
                           emails=_emails(list(rows)), formats=list(export.FORMATS), now=rt().clock.now(),
                           paged=before_id is not None), (422 if errors else 200)


@bp.get("/c/<slug>/audit/export.<fmt>")
@login_required
def audit_export(slug: str, fmt: str) -> Response:
    scope = community_scope(slug, Role.ADMIN)
    if fmt not in export.FORMATS:
        abort(404)
    try:
        filters = query.parse_filters(request.args)
    except query.BadFilter as exc:
        abort(422, description=str(exc))
    return stream_export(scope.community, filters, fmt, actor=g.user.email, actor_user_id=g.user.id)
