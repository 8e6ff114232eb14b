"""Postmortem editor, review and publishing, and the Markdown export."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from crisis.insight import trends
from crisis.models import Incident, Membership, Role, User
from crisis.models.postmortem import ActionItem, Postmortem
from crisis.response import postmortems
from crisis.web import charts
from crisis.web import risks as risk_views
from crisis.web.access import incident_scope
from crisis.web.auth import login_required
from crisis.web.outcome import commit_or_flash
from crisis.webctx import db, rt

bp = Blueprint("postmortems", __name__)


def _load(slug: str, incident_id: int, needed: Role = Role.MODERATOR) -> tuple[Any, Incident, Postmortem]:
    scope, incident = incident_scope(slug, incident_id, needed)
    pm = postmortems.for_incident(db(), incident.id)
    if pm is None:
        abort(404)
    return scope, incident, pm


def _context(scope: Any, incident: Incident, pm: Postmortem, **extra: Any) -> dict[str, Any]:
    staff = db().scalars(select(User).join(Membership, Membership.user_id == User.id)
                         .where(Membership.community_id == incident.community_id).order_by(User.email)).all()
    activity = trends.incident_activity(db(), incident)
    chart = charts.line_chart(activity.labels, activity.series, baseline=activity.baseline,
                              markers=[(activity.opened_index, _("opened"), "")] if activity.opened_index is not None
                              else [], label=_("Events per minute around the incident"))
    others = db().scalars(select(Incident).where(Incident.community_id == incident.community_id,
                                                 Incident.id != incident.id)
                          .order_by(Incident.opened_at.desc()).limit(50)).all()
    return dict(scope=scope, community=scope.community, incident=incident, pm=pm, staff=staff,
                names={u.id: (u.display_name or u.email) for u in staff}, chart=chart, others=others,
                missing=postmortems.missing(pm), duration=postmortems.duration, now=rt().clock.now(),
                verdicts=postmortems.VERDICTS, action_statuses=postmortems.ACTION_STATUSES, Role=Role,
                risk_panel=risk_views.panel(incident, pm), **extra)


@bp.get("/c/<slug>/incidents/<int:incident_id>/postmortem")
@login_required
def show(slug: str, incident_id: int) -> str:
    scope, incident, pm = _load(slug, incident_id)
    return render_template("postmortems/show.html", **_context(scope, incident, pm))


@bp.post("/c/<slug>/incidents/<int:incident_id>/postmortem/start")
@login_required
def start(slug: str, incident_id: int) -> Response:
    """A postmortem for an incident whose playbook did not require one."""
    _scope, incident = incident_scope(slug, incident_id, Role.RESPONDER)
    postmortems.create_draft(db(), incident, clock=rt().clock, author_id=g.user.id)
    db().commit()
    return _back(slug, incident_id)


def _back(slug: str, incident_id: int, anchor: str = "") -> Response:
    return redirect(url_for("postmortems.show", slug=slug, incident_id=incident_id)
                    + (f"#{anchor}" if anchor else ""), code=303)


def _int(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() else None


@bp.post("/c/<slug>/incidents/<int:incident_id>/postmortem")
@login_required
def save(slug: str, incident_id: int) -> Response:
    _scope, _incident, pm = _load(slug, incident_id, Role.RESPONDER)
    bodies = {s["key"]: request.form[f"section-{s['key']}"] for s in pm.sections
              if f"section-{s['key']}" in request.form}
    with commit_or_flash(postmortems.PostmortemError) as done:
        postmortems.save(db(), pm, bodies=bodies, verdict=request.form.get("verdict") or None,
                         duplicate_of_id=_int(request.form.get("duplicate_of_id")), clock=rt().clock)
    if done.ok:
        flash(_("Postmortem saved."), "info")
    return _back(slug, incident_id)


@bp.post("/c/<slug>/incidents/<int:incident_id>/postmortem/actions")
@login_required
def add_action(slug: str, incident_id: int) -> Response:
    _scope, _incident, pm = _load(slug, incident_id, Role.RESPONDER)
    with commit_or_flash(postmortems.PostmortemError):
        postmortems.add_action(db(), pm, title=request.form.get("title", ""),
                               owner_id=_int(request.form.get("owner_id")),
                               due_at=postmortems.parse_due(request.form.get("due", "")), clock=rt().clock)
    return _back(slug, incident_id, "actions")


@bp.post("/c/<slug>/incidents/<int:incident_id>/postmortem/actions/<int:item_id>")
@login_required
def update_action(slug: str, incident_id: int, item_id: int) -> Response:
    _scope, _incident, pm = _load(slug, incident_id, Role.RESPONDER)
    item = db().get(ActionItem, item_id)
    if item is None or item.postmortem_id != pm.id:
        abort(404)
    with commit_or_flash(postmortems.PostmortemError):
        postmortems.update_action(db(), item, status=request.form.get("status") or None,
                                  owner_id=_int(request.form.get("owner_id")),
                                  due_at=postmortems.parse_due(request.form.get("due", "")), clock=rt().clock)
    return _back(slug, incident_id, "actions")


@bp.post("/c/<slug>/incidents/<int:incident_id>/postmortem/<any(submit, publish, return):step>")
@login_required
def advance(slug: str, incident_id: int, step: str) -> Any:
    scope, incident, pm = _load(slug, incident_id)
    move = {"submit": postmortems.submit, "publish": postmortems.publish, "return": postmortems.return_to_draft}[step]
    try:
        move(db(), pm, user=g.user, role=scope.role, clock=rt().clock)
    except postmortems.PublishRefused as exc:
        db().rollback()
        status = 403 if not scope.can(Role.MANAGER) else 409
        return render_template("postmortems/show.html", refused=exc.reasons,
                               **_context(scope, incident, pm)), status
    except postmortems.PostmortemError as exc:
        db().rollback()
        flash(str(exc), "error")
        return _back(slug, incident_id)
    db().commit()
    return _back(slug, incident_id)


@bp.get("/c/<slug>/incidents/<int:incident_id>/postmortem.md")
@login_required
def export(slug: str, incident_id: int) -> Response:
    _scope, incident, pm = _load(slug, incident_id)
    text = postmortems.to_markdown(db(), pm)
    return Response(text, mimetype="text/markdown", headers={
        "Content-Disposition": f'attachment; filename="postmortem-{slug}-{incident.id}.md"'})
