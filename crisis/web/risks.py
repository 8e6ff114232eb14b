"""The risk register pages: the heat map and list, one risk with its history, and the risk
panel of a postmortem (add a risk from it, re-score one). Parse the form, call
crisis.risks.register, redirect."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from crisis import playbooks as playbook_store
from crisis.models import Incident, Membership, Risk, Role, User
from crisis.models.postmortem import Postmortem
from crisis.response import postmortems
from crisis.risks import heatmap, history, register
from crisis.web.access import Scope, community_scope, incident_scope
from crisis.web.auth import login_required
from crisis.web.outcome import commit_or_flash
from crisis.webctx import db, rt

bp = Blueprint("risks", __name__)


def flag_labels() -> dict[str, str]:
    return {"no_owner": _("no owner"), "no_detector": _("no detector answers it"),
            "no_playbook": _("no playbook answers it"), "unknown_playbook": _("names a playbook that is gone"),
            "review_overdue": _("past its review date")}


def level_labels() -> dict[str, str]:
    return {"low": _("low"), "medium": _("medium"), "high": _("high"), "critical": _("critical")}


def why_labels() -> dict[str, str]:
    return {"detector": _("detector"), "playbook": _("playbook"), "postmortem": _("postmortem")}


def _staff(community_id: int) -> list[User]:
    return list(db().scalars(select(User).join(Membership, Membership.user_id == User.id)
                             .where(Membership.community_id == community_id).order_by(User.email)))


def _choices(community_id: int) -> dict[str, Any]:
    return {"staff": _staff(community_id), "detector_kinds": register.detector_kinds(db(), community_id),
            "playbook_names": playbook_store.names(db()), "flag_labels": flag_labels(),
            "level_labels": level_labels(), "why_labels": why_labels(), "score": heatmap.score,
            "level": heatmap.level, "duration": postmortems.duration}


def _int(raw: str | None) -> int | None:
    return int(raw) if raw and raw.strip().isdigit() else None


def _form_values(*, partial: bool = False) -> dict[str, Any]:
    """The risk form's fields; on a partial form (a re-score), only those sent."""
    form = request.form
    values: dict[str, Any] = {}
    for key in ("title", "description"):
        if key in form or not partial:
            values[key] = form.get(key, "")
    for key in ("likelihood", "impact"):
        if key in form or not partial:
            raw = form.get(key, "")
            values[key] = int(raw) if raw.isdigit() else raw
    if "owner_id" in form or not partial:
        values["owner_id"] = _int(form.get("owner_id"))
    for key in ("detectors", "playbooks"):
        if f"{key}-sent" in form or not partial:
            values[key] = form.getlist(key)
    if form.get("review_at"):
        values["review_at"] = postmortems.parse_due(form["review_at"])
    return values


def _actor() -> register.Actor:
    return register.Actor(g.user.id, g.user.display_name or g.user.email)


def _rows(scope: Scope) -> list[dict[str, Any]]:
    staff, names = register.flag_context(db(), scope.community.id)
    now = rt().clock.now()
    return [{"risk": r, "flags": register.flags(r, now=now, staff_ids=staff, playbook_names=names)}
            for r in register.of(db(), scope.community.id)]


@bp.get("/c/<slug>/risks")
@login_required
def index(slug: str) -> str:
    scope = community_scope(slug)
    rows = _rows(scope)
    risks = [row["risk"] for row in rows]
    retired = [r for r in register.of(db(), scope.community.id, include_retired=True) if r.status == "retired"]
    return render_template("risks/list.html", scope=scope, community=scope.community, rows=rows,
                           grid=heatmap.grid(risks), retired=retired, Role=Role, now=rt().clock.now(),
                           **_choices(scope.community.id))


@bp.post("/c/<slug>/risks")
@login_required
def create(slug: str) -> Response:
    scope = community_scope(slug, Role.MANAGER)
    created: Risk | None = None
    with commit_or_flash(register.RiskError, postmortems.PostmortemError) as done:
        created = register.create(db(), scope.community, _form_values(), actor=_actor(), now=rt().clock.now(),
                                  note=request.form.get("note", ""))
    if not done.ok or created is None:
        return redirect(url_for("risks.index", slug=slug) + "#add", code=303)
    flash(_("Risk added."), "info")
    return redirect(url_for("risks.show", slug=slug, risk_id=created.id), code=303)


def _risk(scope: Scope, risk_id: int) -> Risk:
    risk = db().get(Risk, risk_id)
    if risk is None or risk.community_id != scope.community.id:
        abort(404)
    return risk


@bp.get("/c/<slug>/risks/<int:risk_id>")
@login_required
def show(slug: str, risk_id: int) -> str:
    scope = community_scope(slug)
    risk = _risk(scope, risk_id)
    staff, names = register.flag_context(db(), scope.community.id)
    now = rt().clock.now()
    return render_template("risks/show.html", scope=scope, community=scope.community, risk=risk,
                           flags=register.flags(risk, now=now, staff_ids=staff, playbook_names=names),
                           found=history.history(db(), risk), changes=register.changes_of(db(), risk.id), Role=Role,
                           now=now, names={u.id: (u.display_name or u.email) for u in _staff(scope.community.id)},
                           **_choices(scope.community.id))


@bp.post("/c/<slug>/risks/<int:risk_id>")
@login_required
def update(slug: str, risk_id: int) -> Response:
    scope = community_scope(slug, Role.MANAGER)
    risk = _risk(scope, risk_id)
    with commit_or_flash(register.RiskError, postmortems.PostmortemError) as done:
        register.update(db(), risk, _form_values(partial=True), actor=_actor(), now=rt().clock.now(),
                        note=request.form.get("note", ""))
    if done.ok:
        flash(_("Risk saved."), "info")
    return redirect(url_for("risks.show", slug=slug, risk_id=risk_id), code=303)


@bp.post("/c/<slug>/risks/<int:risk_id>/review")
@login_required
def review(slug: str, risk_id: int) -> Response:
    scope = community_scope(slug)
    risk = _risk(scope, risk_id)
    if risk.owner_id != g.user.id and not scope.can(Role.MANAGER):
        abort(403, description=_("Only the risk's owner or a manager records a review."))
    with commit_or_flash(register.RiskError, postmortems.PostmortemError):
        next_at = postmortems.parse_due(request.form.get("next_review_at", ""))
        if next_at is None:
            raise register.RiskError(_("next review: pick a date"))
        register.mark_reviewed(db(), risk, next_review_at=next_at, actor=_actor(), now=rt().clock.now(),
                               note=request.form.get("note", ""))
    return redirect(url_for("risks.show", slug=slug, risk_id=risk_id) + "#review", code=303)


@bp.post("/c/<slug>/risks/<int:risk_id>/<any(retire, restore):verb>")
@login_required
def status(slug: str, risk_id: int, verb: str) -> Response:
    scope = community_scope(slug, Role.MANAGER)
    risk = _risk(scope, risk_id)
    with commit_or_flash(register.RiskError):
        register.set_status(db(), risk, "retired" if verb == "retire" else "active", actor=_actor(),
                            now=rt().clock.now(), note=request.form.get("note", ""))
    return redirect(url_for("risks.show", slug=slug, risk_id=risk_id), code=303)


# ---- the postmortem's risk panel ----------------------------------------------------------------
def panel(incident: Incident, pm: Postmortem) -> dict[str, Any]:
    """For the postmortem page: the risks this incident materialises, every active risk (to
    re-score one it touched though nothing linked them), and what a new risk would start from."""
    touched = history.risks_for_incident(db(), incident)
    return {"touched": touched, "others": [r for r in register.of(db(), incident.community_id) if r not in touched],
            "kinds": register.detector_kinds(db(), incident.community_id), "playbook_names": playbook_store.names(db()),
            "level": heatmap.level, "score": heatmap.score, "level_labels": level_labels()}


def _from_postmortem(slug: str, incident_id: int) -> tuple[Scope, Incident, Postmortem]:
    scope, incident = incident_scope(slug, incident_id, Role.RESPONDER)
    pm = postmortems.for_incident(db(), incident.id)
    if pm is None:
        abort(404)
    return scope, incident, pm


def _back_to_postmortem(slug: str, incident_id: int) -> Response:
    return redirect(url_for("postmortems.show", slug=slug, incident_id=incident_id) + "#risks", code=303)


@bp.post("/c/<slug>/incidents/<int:incident_id>/postmortem/risks")
@login_required
def add_from_postmortem(slug: str, incident_id: int) -> Response:
    scope, _incident, pm = _from_postmortem(slug, incident_id)
    with commit_or_flash(register.RiskError, postmortems.PostmortemError) as done:
        register.create(db(), scope.community, _form_values(), actor=_actor(), now=rt().clock.now(), postmortem=pm,
                        note=request.form.get("note", ""))
    if done.ok:
        flash(_("Risk added to the register from this postmortem."), "info")
    return _back_to_postmortem(slug, incident_id)


@bp.post("/c/<slug>/incidents/<int:incident_id>/postmortem/risks/rescore")
@login_required
def rescore_from_postmortem(slug: str, incident_id: int) -> Response:
    scope, _incident, pm = _from_postmortem(slug, incident_id)
    risk = _risk(scope, _int(request.form.get("risk_id")) or 0)
    with commit_or_flash(register.RiskError) as done:
        register.update(db(), risk, _form_values(partial=True), actor=_actor(), now=rt().clock.now(), postmortem=pm,
                        note=request.form.get("note", ""))
    if done.ok:
        flash(_("Risk re-scored from this postmortem."), "info")
    return _back_to_postmortem(slug, incident_id)

