"""The review queue and the case page: open cases grouped by subject with their reporters'
weights, one-click decisions (take, apply a rule's penalty, handled, dismiss), moderation
tasks and appeals waiting. Parse the form, call crisis.cases.service, commit, redirect."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select
from werkzeug.wrappers import Response

from crisis import public_links
from crisis.cases import review, scoring, service
from crisis.cases.categories import CATEGORIES
from crisis.cases.states import OPEN_VALUES
from crisis.models import Case, Incident, Membership, Penalty, Role, User
from crisis.moderation import appeals, penalties, rulebook, tasks
from crisis.web.access import Scope, community_scope
from crisis.web.auth import login_required
from crisis.web.moderation import by
from crisis.web.outcome import commit_or_flash
from crisis.webctx import db, rt

bp = Blueprint("cases", __name__)


def staff_names(community_id: int) -> dict[int, str]:
    return {u.id: (u.display_name or u.email) for u in db().scalars(
        select(User).join(Membership, Membership.user_id == User.id).where(Membership.community_id == community_id))}


def _waiting_penalties(scope: Scope) -> list[tuple[Penalty, Any]]:
    """Active penalties whose platform action waits for someone allowed to approve it."""
    rows = db().scalars(select(Penalty).where(Penalty.community_id == scope.community.id, Penalty.status == "active",
                                              Penalty.action_id.is_not(None)).order_by(Penalty.id.desc()).limit(200))
    out = []
    for row in rows:
        action = penalties.action_of(db(), row)
        if action is not None and action.status == "proposed":
            out.append((row, action))
    return out


@bp.get("/c/<slug>/queue")
@login_required
def queue(slug: str) -> str:
    scope = community_scope(slug)
    now = rt().clock.now()
    book = rulebook.latest(db(), scope.community.id)
    decided = list(db().scalars(select(Case).where(Case.community_id == scope.community.id,
                                                   Case.status.not_in(OPEN_VALUES))
                                .order_by(Case.decided_at.desc(), Case.id.desc()).limit(20)))
    return render_template("cases/queue.html", scope=scope, community=scope.community, now=now,
                           items=review.items(db(), scope.community.id, now), rulebook=book,
                           suggested=_suggested(book), names=staff_names(scope.community.id),
                           tasks=tasks.open_in(db(), scope.community.id),
                           appeals=[(a, db().get(Penalty, a.penalty_id)) for a in appeals.open_in(db(),
                                                                                                   scope.community.id)],
                           waiting=_waiting_penalties(scope), decided=decided, Role=Role)


def _suggested(book: Any) -> dict[str, str]:
    """category -> the first rule that answers it, to preselect in each item's rule picker."""
    out: dict[str, str] = {}
    for rule in (book.spec["rules"] if book is not None else []):
        for category in rule.get("categories", []):
            out.setdefault(category, rule["id"])
    return out


@bp.post("/c/<slug>/queue/take")
@login_required
def take(slug: str) -> Response:
    scope = community_scope(slug)
    key = request.form.get("subject", "")
    with commit_or_flash(service.CaseError):
        for case in service.open_about(db(), scope.community.id, key):
            service.triage(db(), case, by=by(scope), now=rt().clock.now())
    return redirect(url_for("cases.queue", slug=slug), code=303)


@bp.post("/c/<slug>/queue/decide")
@login_required
def decide(slug: str) -> Response:
    scope = community_scope(slug)
    verb = request.form.get("verb", "")
    decision = "dismissed" if verb == "dismiss" else "actioned"
    rule = request.form.get("rule", "").strip() if verb == "penalty" else ""
    with commit_or_flash(service.CaseError) as done:
        decided, penalty = service.decide_item(
            db(), scope.community, request.form.get("subject", ""), decision, by=by(scope), now=rt().clock.now(),
            outcome=request.form.get("outcome", ""), rule_id=rule, member=request.form.get("member", ""))
    if done.ok:
        message = ngettext("%(num)s case %(what)s.", "%(num)s cases %(what)s.", len(decided),
                           what=_("dismissed") if decision == "dismissed" else _("actioned"))
        if penalty is not None:
            message += " " + _("Penalty: %(what)s.", what=penalty.enforcement)
        flash(message, "info")
    return redirect(url_for("cases.queue", slug=slug), code=303)


def _case(scope: Scope, case_id: int) -> Case:
    row = db().get(Case, case_id)
    if row is None or row.community_id != scope.community.id:
        abort(404)
    return row


@bp.get("/c/<slug>/cases/<int:case_id>")
@login_required
def show(slug: str, case_id: int) -> str:
    scope = community_scope(slug)
    case = _case(scope, case_id)
    weights = scoring.weigh(db(), scope.community.id, [case], rt().clock.now())
    return render_template("cases/show.html", scope=scope, community=scope.community, case=case,
                           events=service.events(db(), case.id), names=staff_names(scope.community.id),
                           weight=weights[scoring.reporter_key(case)], rulebook=rulebook.latest(db(),
                                                                                                scope.community.id),
                           incident=db().get(Incident, case.incident_id) if case.incident_id else None,
                           penalty=db().get(Penalty, case.penalty_id) if case.penalty_id else None,
                           public_url=public_links.case_url(rt().config, slug, case.id), now=rt().clock.now(),
                           categories=CATEGORIES)


@bp.post("/c/<slug>/cases/<int:case_id>/<any(take, decide):verb>")
@login_required
def case_verb(slug: str, case_id: int, verb: str) -> Response:
    scope = community_scope(slug)
    case = _case(scope, case_id)
    with commit_or_flash(service.CaseError):
        if verb == "take":
            owner = request.form.get("owner_id", "")
            service.triage(db(), case, by=by(scope), now=rt().clock.now(),
                           owner_id=int(owner) if owner.isdigit() else None)
        else:
            decision = request.form.get("decision", "")
            service.decide_with_rule(db(), scope.community, [case], decision, by=by(scope), now=rt().clock.now(),
                                     outcome=request.form.get("outcome", ""),
                                     rule_id=request.form.get("rule", "").strip() if decision == "actioned" else "",
                                     member=request.form.get("member", ""))
    return redirect(url_for("cases.show", slug=slug, case_id=case_id), code=303)


@bp.post("/c/<slug>/cases")
@login_required
def file_case(slug: str) -> Response:
    """A moderator files what a member told them elsewhere (a DM, a call)."""
    scope = community_scope(slug)
    name = g.user.display_name or g.user.email
    with commit_or_flash(service.CaseError) as done:
        complaint = service.check(db(), scope.community, service.Complaint(
            subject_kind=request.form.get("subject_kind", ""), category=request.form.get("category", ""),
            details=request.form.get("details", ""), subject_member=request.form.get("member", ""),
            subject_message_id=request.form.get("message_id", ""), subject_link=request.form.get("link", ""),
            rule_id=request.form.get("rule", ""), reporter_name=name, source="staff"))
        case = service.open_case(db(), scope.community, complaint, now=rt().clock.now(), actor=name)
    if done.ok:
        return redirect(url_for("cases.show", slug=slug, case_id=case.id), code=303)
    return redirect(url_for("cases.queue", slug=slug) + "#file", code=303)
