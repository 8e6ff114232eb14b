"""The Data page of a community (admins only): how long raw events and message text are kept
(and the incidents holding them longer), erasing a member, downloading the export archive."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from crisis.erasure import service as erasure
from crisis.export import archive
from crisis.jobs import names
from crisis.models import Erasure, Role
from crisis.retention import status
from crisis.tenancy import community_settings
from crisis.web.access import Scope, community_scope
from crisis.web.auth import login_required
from crisis.webctx import db, rt

bp = Blueprint("data", __name__)


def _page(scope: Scope, *, errors: list[str] | None = None, form: dict[str, Any] | None = None,
          code: int = 200) -> tuple[str, int]:
    now = rt().clock.now()
    return render_template("data.html", community=scope.community, scope=scope, now=now,
                           retention=status.summary(db(), scope.community, now=now),
                           erasures=erasure.of_community(db(), scope.community.id), errors=errors or [],
                           form=form or {}), code


@bp.get("/c/<slug>/data")
@login_required
def data_page(slug: str) -> tuple[str, int]:
    return _page(community_scope(slug, Role.ADMIN))


def _days(raw: str | None) -> Any:
    text = (raw or "").strip()
    return int(text) if text.isdigit() else text


@bp.post("/c/<slug>/data/retention")
@login_required
def save_retention(slug: str) -> Any:
    scope = community_scope(slug, Role.ADMIN)
    changes = {"retention_days": _days(request.form.get("retention_days")),
               "evidence_grace_days": _days(request.form.get("evidence_grace_days"))}
    try:
        community_settings.update(db(), scope.community, changes, actor=g.user.email, actor_user_id=g.user.id)
    except community_settings.InvalidSettings as exc:
        db().rollback()
        return _page(scope, errors=[f"{e.field}: {e.message}" for e in exc.errors], form=request.form, code=422)
    db().commit()
    flash(_("Retention saved."), "info")
    return redirect(url_for("data.data_page", slug=slug), code=303)


@bp.post("/c/<slug>/data/erasures")
@login_required
def erase(slug: str) -> Any:
    scope = community_scope(slug, Role.ADMIN)
    form = request.form
    member = form.get("member", "").strip()
    if form.get("confirm", "").strip() != member or not member:
        return _page(scope, errors=[_("confirm: type the member's id a second time, exactly, to erase them")],
                     form=form, code=422)
    also = [line.strip() for line in form.get("also", "").splitlines() if line.strip()]
    try:
        row = erasure.request(db(), scope.community, member=member, also=also, actor=g.user.email,
                              actor_user_id=g.user.id, remote_addr=request.remote_addr, clock=rt().clock,
                              force=form.get("force") == "on")
    except erasure.ErasureRefused as exc:
        db().rollback()
        return _page(scope, errors=[str(exc)], form=form, code=409 if isinstance(exc, erasure.ErasureBlocked) else 422)
    db().commit()
    erasure_id = row.id
    rt().jobs.ring(names.RUN_ERASURE, names.erasure_bell(erasure_id), erasure_id)
    db().expire_all()
    found = db().get(Erasure, erasure_id)
    assert found is not None
    if found.status == "done":
        flash(_("The member is erased; they are now %(tombstone)s.", tombstone=found.tombstone), "info")
    else:
        flash(_("Erasure %(id)s is under way; this page shows when it is done.", id=erasure_id), "info")
    return redirect(url_for("data.data_page", slug=slug) + "#erasures", code=303)


@bp.get("/c/<slug>/data/export.zip")
@login_required
def export(slug: str) -> Response:
    scope = community_scope(slug, Role.ADMIN)
    now = rt().clock.now()
    body = archive.export(db(), scope.community, actor=g.user.email, actor_user_id=g.user.id, now=now)
    db().commit()
    response = Response(body, mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{archive.filename(scope.community.slug, now)}"'
    response.headers["Cache-Control"] = "no-store"
    return response
