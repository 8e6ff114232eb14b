"""Staff pages for the community's rules (read, edit as a new version) and a member's record
(every penalty with its rule, who, when, expiry and platform action; apply a rule's
penalty; approve a waiting action; appeals filed and decided). Parse the form, call
crisis.moderation, commit, redirect."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from crisis import public_links
from crisis.models import Appeal, Case, ModerationTask, Penalty, Role, User
from crisis.moderation import appeals, penalties, rulebook, tasks
from crisis.moderation.penalties import By, PenaltyError
from crisis.moderation.rules import RulebookError
from crisis.web.access import Scope, community_scope
from crisis.web.auth import login_required
from crisis.web.outcome import commit_or_flash
from crisis.webctx import db, rt

bp = Blueprint("moderation", __name__)
EDIT_RULES = Role.MANAGER
DECIDE_APPEALS = Role.RESPONDER


def by(scope: Scope) -> By:
    return By(g.user.display_name or g.user.email, g.user.id, scope.role)


# ---- rules ---------------------------------------------------------------------------------------
def _rules_page(scope: Scope, *, text: str | None = None, problems: list[str] | None = None, comment: str = "",
                status: int = 200) -> tuple[str, int]:
    versions = rulebook.history(db(), scope.community.id)
    wanted = request.args.get("version", type=int)
    shown = next((v for v in versions if v.version == wanted), versions[0] if versions else None)
    authors = {u.id: (u.display_name or u.email) for u in db().scalars(select(User).where(
        User.id.in_([v.created_by_id for v in versions if v.created_by_id])))}
    if text is None:
        text = (versions[0].source_text if versions else "") or rulebook.default_text()
    return render_template("moderation/rules.html", scope=scope, community=scope.community, versions=versions,
                           shown=shown, authors=authors, text=text, problems=problems or [], comment=comment,
                           can_edit=scope.can(EDIT_RULES), Role=Role,
                           public_url=public_links.rules_url(rt().config, scope.community.slug)), status


@bp.get("/c/<slug>/rules")
@login_required
def rules_page(slug: str) -> tuple[str, int]:
    return _rules_page(community_scope(slug))


@bp.post("/c/<slug>/rules")
@login_required
def save_rules(slug: str) -> Any:
    scope = community_scope(slug, EDIT_RULES)
    text, comment = request.form.get("source", ""), request.form.get("comment", "").strip()[:500]
    try:
        row = rulebook.create_from_text(db(), scope.community, text, clock=rt().clock, user_id=g.user.id,
                                        origin="web", comment=comment, actor=g.user.email)
    except RulebookError as exc:
        db().rollback()
        return _rules_page(scope, text=text, problems=exc.problems, comment=comment, status=422)
    db().commit()
    flash(_("Rules saved as version %(n)s.", n=row.version), "info")
    return redirect(url_for("moderation.rules_page", slug=slug), code=303)


# ---- a member's record -----------------------------------------------------------------------------
def _member_context(scope: Scope, member: str) -> dict[str, Any]:
    session = db()
    record = penalties.record(session, scope.community.id, member)
    book = rulebook.latest(session, scope.community.id)
    return dict(scope=scope, community=scope.community, member=member, record=record, rulebook=book,
                actions={p.id: penalties.action_of(session, p) for p in record},
                appeals={p.id: appeals.for_penalty(session, p.id) for p in record},
                milder={p.id: penalties.milder_steps(session, p) for p in record if p.status == "active"},
                tasks={p.id: tasks.for_action(session, p.action_id) for p in record if p.action_id},
                links={p.id: public_links.penalty_url(rt().config, scope.community.slug, p.id) for p in record},
                cases=list(session.scalars(select(Case).where(Case.community_id == scope.community.id,
                                                              Case.subject_member == member)
                                           .order_by(Case.id.desc()).limit(50))),
                previews=_previews(scope, member, book), now=rt().clock.now(), Role=Role,
                can_decide=scope.can(DECIDE_APPEALS))


def _previews(scope: Scope, member: str, book: Any) -> dict[str, dict[str, Any]]:
    """What each rule would do to this member now (the next step of its ladder)."""
    if book is None:
        return {}
    return {r["id"]: penalties.preview(db(), scope.community, member, r["id"], now=rt().clock.now())
            for r in book.spec["rules"]}


@bp.get("/c/<slug>/members")
@login_required
def member_lookup(slug: str) -> Response:
    community_scope(slug)
    member = request.args.get("member", "").strip()
    if not member or len(member) > penalties.MAX_MEMBER:
        flash(_("Give the member's account id."), "error")
        return redirect(url_for("cases.queue", slug=slug), code=303)
    return redirect(url_for("moderation.member_page", slug=slug, member=member), code=303)


@bp.get("/c/<slug>/members/<path:member>")
@login_required
def member_page(slug: str, member: str) -> str:
    scope = community_scope(slug)
    if len(member) > penalties.MAX_MEMBER:
        abort(404)
    return render_template("moderation/member.html", **_member_context(scope, member))


def _back(slug: str, member: str, anchor: str = "") -> Response:
    return redirect(url_for("moderation.member_page", slug=slug, member=member) + (f"#{anchor}" if anchor else ""),
                    code=303)


def _penalty(scope: Scope, penalty_id: int) -> Penalty:
    row = db().get(Penalty, penalty_id)
    if row is None or row.community_id != scope.community.id:
        abort(404)
    return row


@bp.post("/c/<slug>/members/<path:member>/penalties")
@login_required
def apply_penalty(slug: str, member: str) -> Response:
    scope = community_scope(slug)
    raw_level = request.form.get("level", "").strip()
    with commit_or_flash(PenaltyError) as done:
        row = penalties.apply(db(), scope.community, member, request.form.get("rule", ""), by=by(scope),
                              now=rt().clock.now(), note=request.form.get("note", ""),
                              level=int(raw_level) if raw_level.isdigit() else None)
    if done.ok:
        flash(_("Penalty applied: %(what)s.", what=row.enforcement), "info")
        return _back(slug, member, f"penalty-{row.id}")
    return _back(slug, member, "apply")


@bp.post("/c/<slug>/penalties/<int:penalty_id>/approve")
@login_required
def approve_penalty(slug: str, penalty_id: int) -> Response:
    scope = community_scope(slug)
    row = _penalty(scope, penalty_id)
    with commit_or_flash(PenaltyError):
        penalties.approve_action(db(), row, by=by(scope), now=rt().clock.now())
    return _back(slug, row.member, f"penalty-{row.id}")


@bp.post("/c/<slug>/penalties/<int:penalty_id>/appeals")
@login_required
def file_appeal(slug: str, penalty_id: int) -> Response:
    scope = community_scope(slug)
    row = _penalty(scope, penalty_id)
    with commit_or_flash(appeals.AppealError):
        appeals.file(db(), row, request.form.get("text", ""), filed_by=g.user.display_name or g.user.email,
                     filed_by_id=g.user.id, now=rt().clock.now())
    return _back(slug, row.member, f"penalty-{row.id}")


@bp.post("/c/<slug>/appeals/<int:appeal_id>/decide")
@login_required
def decide_appeal(slug: str, appeal_id: int) -> Response:
    scope = community_scope(slug, DECIDE_APPEALS)
    appeal = db().get(Appeal, appeal_id)
    if appeal is None or appeal.community_id != scope.community.id:
        abort(404)
    penalty = _penalty(scope, appeal.penalty_id)
    raw = request.form.get("reduce_to", "").strip()
    reduce_to = int(raw) if raw.lstrip("-").isdigit() else None
    with commit_or_flash(appeals.AppealError) as done:
        appeals.decide(db(), appeal, request.form.get("decision", ""), note=request.form.get("note", ""),
                       by=by(scope), now=rt().clock.now(), reduce_to=reduce_to)
    if done.ok:
        flash(_("Appeal decided."), "info")
    return _back(slug, penalty.member, f"penalty-{penalty.id}")


@bp.post("/c/<slug>/moderation-tasks/<int:mtask_id>/done")
@login_required
def task_done(slug: str, mtask_id: int) -> Response:
    scope = community_scope(slug)
    task = db().get(ModerationTask, mtask_id)
    if task is None or task.community_id != scope.community.id:
        abort(404)
    with commit_or_flash(tasks.TaskError):
        tasks.mark_done(db(), task, user_id=g.user.id, now=rt().clock.now())
    back = request.form.get("next") or ""
    return redirect(back if back.startswith(f"/c/{slug}/") else url_for("cases.queue", slug=slug) + "#tasks",
                    code=303)

