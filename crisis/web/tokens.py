"""Token pages: your personal tokens (/account/tokens) and a community's ingest tokens
(/c/<slug>/tokens, admins). Creating one shows its secret on the answer, once; listing
shows scopes, expiry and last use; revoking stops it at once. All of it audited
(crisis.tenancy.tokens)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from crisis.models import Community, Role
from crisis.tenancy import tokens
from crisis.tenancy.communities import NotFound
from crisis.web.access import community_scope
from crisis.web.auth import login_required
from crisis.web.outcome import commit_or_flash
from crisis.webctx import db, rt

bp = Blueprint("tokens", __name__)
EXPIRY_CHOICES = ("7d", "30d", "90d", "365d", "never")


def _page(community: Community | None, issued: dict[str, Any] | None = None, errors: list[str] | None = None,
          status: int = 200) -> Response:
    now = rt().clock.now()
    rows = tokens.of_community(db(), community.id) if community else tokens.of_user(db(), g.user.id)
    kind = "ingest" if community else "personal"
    page = make_response(render_template(
        "tokens.html", community=community, kind=kind, rows=[tokens.summary(r, now) for r in rows], now=now,
        scopes=tokens.KIND_SCOPES[kind], descriptions=tokens.SCOPES, expiry_choices=EXPIRY_CHOICES,
        issued=issued, errors=errors or [], form=request.form if request.method == "POST" else {}), status)
    if issued:
        page.headers["Cache-Control"] = "no-store"  # the secret must not stay in any cache
    return page


def _create(community: Community | None) -> Response:
    form = request.form
    kind = "ingest" if community else "personal"
    try:
        expiry = form.get("expires", "90d")
        if expiry == "date":
            expiry = form.get("expires_on", "")
        issued = tokens.issue(
            db(), kind, clock=rt().clock, actor=g.user.email, actor_user_id=g.user.id,
            name=form.get("name", "").strip(), community=community, user=None if community else g.user,
            scopes=form.getlist("scopes") if kind == "personal" else None,
            expires_at=tokens.parse_expiry(expiry, rt().clock.now()))
    except tokens.TokenError as exc:
        db().rollback()
        return _page(community, errors=[str(exc)], status=422)
    db().commit()
    return _page(community, issued={"id": issued.id, "token": issued.token}, status=201)


def _revoke(token_id: int, community: Community | None, back: str) -> Response:
    with commit_or_flash(NotFound) as done:
        tokens.revoke(db(), token_id, clock=rt().clock, actor=g.user.email, actor_user_id=g.user.id,
                      community_id=community.id if community else None, user_id=None if community else g.user.id)
    if done.ok:
        flash(_("Token %(id)s revoked; it stops working now.", id=token_id), "info")
    return redirect(back, code=303)


@bp.get("/account/tokens")
@login_required
def personal() -> Response:
    return _page(None)


@bp.post("/account/tokens")
@login_required
def create_personal() -> Response:
    return _create(None)


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_personal(token_id: int) -> Response:
    return _revoke(token_id, None, url_for("tokens.personal"))


@bp.get("/c/<slug>/tokens")
@login_required
def ingest(slug: str) -> Response:
    return _page(community_scope(slug, Role.ADMIN).community)


@bp.post("/c/<slug>/tokens")
@login_required
def create_ingest(slug: str) -> Response:
    return _create(community_scope(slug, Role.ADMIN).community)


@bp.post("/c/<slug>/tokens/<int:token_id>/revoke")
@login_required
def revoke_ingest(slug: str, token_id: int) -> Response:
    return _revoke(token_id, community_scope(slug, Role.ADMIN).community, url_for("tokens.ingest", slug=slug))
