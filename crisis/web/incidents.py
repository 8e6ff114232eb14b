"""Incident list and incident page: parse the form, call the engine, render or redirect."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import case, select
from werkzeug.wrappers import Response

from crisis.campaigns import boosts, visibility
from crisis.cases import links as case_links
from crisis.cases import review, scoring
from crisis.cases import service as case_service
from crisis.cases.states import OPEN_VALUES
from crisis.containment import kinds as containment_kinds
from crisis.containment import service as containment
from crisis.containment.kinds import DEFAULT_TARGETS
from crisis.insight import trends
from crisis.models import (
    ContainmentAction,
    Incident,
    IncidentEpisode,
    Membership,
    Notification,
    Responder,
    Role,
    Task,
    User,
)
from crisis.notify import unreached
from crisis.playbooks import parse_duration
from crisis.response import episodes, lifecycle, postmortems, signals, steps
from crisis.response.states import ACTIONS, SEVERITIES, TRANSITIONS, IncidentStatus, InvalidTransition
from crisis.tenancy.communities import communities_of
from crisis.web import charts, members, moderation
from crisis.web.access import actor, community_scope, incident_scope
from crisis.web.auth import login_required
from crisis.web.outcome import commit_or_flash
from crisis.webctx import db, rt

bp = Blueprint("incidents", __name__)
STATUSES = [s.value for s in IncidentStatus]
# Who may press each button: moderators take an incident; moving it further needs a responder.
ACTION_ROLES = {"acknowledge": Role.MODERATOR, "mitigate": Role.RESPONDER, "resolve": Role.RESPONDER,
                "reopen": Role.RESPONDER}


def _filters() -> dict[str, str]:
    return {k: request.args.get(k, "") for k in ("community", "status", "kind", "severity")}


def _list(filters: dict[str, str]) -> tuple[list[tuple[Incident, Any]], list[Any], list[str]]:
    memberships = communities_of(db(), g.user.id)
    by_id = {c.id: c for c, _role in memberships}
    ids = list(by_id)
    if filters["community"]:
        ids = [c.id for c, _r in memberships if c.slug == filters["community"]]
    query = select(Incident).where(Incident.community_id.in_(ids))
    if filters["status"] == "open":
        query = query.where(Incident.status != IncidentStatus.RESOLVED.value)
    elif filters["status"] in STATUSES:
        query = query.where(Incident.status == filters["status"])
    if filters["kind"]:
        query = query.where(Incident.kind == filters["kind"])
    if filters["severity"] in SEVERITIES:
        query = query.where(Incident.severity == filters["severity"])
    open_first = case((Incident.status == IncidentStatus.RESOLVED.value, 1), else_=0)
    rows = db().scalars(query.order_by(open_first, Incident.opened_at.desc(), Incident.id.desc()).limit(200))
    kinds = sorted(set(db().scalars(select(Incident.kind).distinct().where(
        Incident.community_id.in_(list(by_id))))))
    return [(i, by_id[i.community_id]) for i in rows], memberships, kinds


@bp.get("/incidents")
@login_required
def index() -> str:
    filters = _filters()
    rows, memberships, kinds = _list(filters)
    return render_template("incidents/list.html", rows=rows, filters=filters, memberships=memberships, kinds=kinds,
                           statuses=STATUSES, severities=SEVERITIES, now=rt().clock.now())


@bp.get("/incidents/rows")
@login_required
def rows() -> str:
    """The table body alone, for the list's live refresh."""
    found, _m, _k = _list(_filters())
    return render_template("incidents/_rows.html", rows=found, now=rt().clock.now())


def _page_context(slug: str, incident_id: int) -> dict[str, Any]:
    scope, incident = incident_scope(slug, incident_id)
    session = db()
    staff = session.execute(select(User, Membership.role).join(Membership, Membership.user_id == User.id)
                            .where(Membership.community_id == incident.community_id).order_by(User.email)).all()
    names = {u.id: (u.display_name or u.email) for u, _r in staff}
    task_rows = list(session.scalars(select(Task).where(Task.incident_id == incident.id).order_by(Task.position)))
    responders = list(session.scalars(select(Responder).where(Responder.incident_id == incident.id)
                                      .order_by(Responder.id)))
    notifications = list(session.scalars(select(Notification).where(Notification.incident_id == incident.id)
                                         .order_by(Notification.id.desc()).limit(100)))
    activity = trends.incident_activity(session, incident)
    chart = charts.line_chart(activity.labels, activity.series, baseline=activity.baseline,
                              markers=[(activity.opened_index, _("opened"), "")] if activity.opened_index is not None
                              else [], label=_("Events per minute around the incident"))
    allowed = {a for a, target in ACTIONS.items()
               if target in TRANSITIONS[IncidentStatus(incident.status)] and scope.can(ACTION_ROLES[a])}
    return dict(scope=scope, community=scope.community, incident=incident, staff=staff, names=names,
                tasks=task_rows, responders=responders, notifications=notifications, chart=chart,
                activity=activity, actions=[a for a in ACTIONS if a in allowed], now=rt().clock.now(),
                postmortem=postmortems.for_incident(session, incident.id), severities=SEVERITIES,
                evidence=incident.evidence or {}, Role=Role,
                containment=containment.for_incident(session, incident.id),
                in_force=containment.in_force(session, incident.id), kinds=containment_kinds.KINDS,
                kind_labels=kind_labels(), unreached=unreached.banner(session, incident.id),
                task_by_id={t.id: t for t in task_rows}, members_panel=members.incident_panel(incident),
                open_episodes=episodes.open_episodes(session, incident, now=rt().clock.now()),
                incident_kinds=signals.kinds_of(session, incident),
                related=list(session.scalars(select(IncidentEpisode).where(IncidentEpisode.incident_id == incident.id)
                                             .order_by(IncidentEpisode.id))),
                campaign=visibility.for_incident(session, incident.id, viewer_id=g.user.id, now=rt().clock.now()),
                boost=boost_shown(session, scope.community),
                **_cases_context(incident))

def _cases_context(incident: Incident) -> dict[str, Any]:
    """The complaint cases the incident gathered, grouped like the review queue."""
    linked = case_links.for_incident(db(), incident.id)
    weights = scoring.weigh(db(), incident.community_id, linked, rt().clock.now())
    return {"case_items": review.group(linked, weights), "case_top": case_links.most_reported(incident),
            "open_cases": [c for c in linked if c.status in OPEN_VALUES],
            "case_kind": incident.kind in case_links.CASE_KINDS}


def boost_shown(session: Any, community: Any) -> dict[str, Any] | None:
    """The campaign boost in force now, when the community opted in: for the page to say so."""
    factor = (community.settings or {}).get("campaign_boost", 1.0)
    if not isinstance(factor, (int, float)) or factor <= 1.0:
        return None
    window = boosts.active_window(session, community.id, rt().clock.now())
    return {"factor": factor, "end": window["end"], "campaign_id": window["campaign_id"]} if window else None


def _accounts(raw: str) -> list[str] | None:
    """The propose form's account list, one per line; none given: the incident's evidence."""
    accounts = [line.strip() for line in raw.splitlines() if line.strip()]
    return accounts or None


def _preview(incident: Incident) -> dict[str, Any] | None:
    """The propose form's preview (`?kind=…`): what the action would touch, or why it cannot."""
    kind = request.args.get("kind", "")
    if not kind:
        return None
    form = {"kind": kind, "accounts": request.args.get("accounts", ""),
            "expires_after": request.args.get("expires_after", "").strip()}
    try:
        seen = containment.preview(db(), incident, kind, accounts=_accounts(form["accounts"]), limit=DEFAULT_TARGETS)
    except containment.ContainmentError as exc:
        return {"form": form, "error": str(exc)}
    return {"form": form, "seen": seen}


@bp.get("/c/<slug>/incidents/<int:incident_id>")
@login_required
def show(slug: str, incident_id: int) -> str:
    context = _page_context(slug, incident_id)
    return render_template("incidents/show.html", preview=_preview(context["incident"]), **context)


@bp.get("/c/<slug>/incidents/<int:incident_id>/live/<any(timeline, notifications, header, tasks, containment, cases)"
        ":part>")
@login_required
def live(slug: str, incident_id: int, part: str) -> str:
    return render_template(f"incidents/_{part}.html", **_page_context(slug, incident_id))


def _back(slug: str, incident_id: int, anchor: str = "") -> Response:
    return redirect(url_for("incidents.show", slug=slug, incident_id=incident_id) + (f"#{anchor}" if anchor else ""),
                    code=303)


@bp.post("/c/<slug>/incidents/<int:incident_id>/<any(acknowledge, mitigate, resolve, reopen):action>")
@login_required
def move(slug: str, incident_id: int, action: str) -> Response:
    scope, incident = incident_scope(slug, incident_id, ACTION_ROLES[action])
    session = db()
    try:
        who = actor()
        lifecycle.transition(session, incident.id, ACTIONS[action], actor=who, clock=rt().clock,
                             note=request.form.get("note", "").strip(),
                             confirm=bool(request.form.get("confirm_active")))
        if action == "resolve" and request.form.get("close_cases") in case_service.DECISIONS:
            # Same transaction as the resolution: the incident and its cases close together.
            closed = case_service.close_for_incident(
                db(), incident, request.form["close_cases"], by=moderation.by(scope), now=rt().clock.now(),
                outcome=request.form.get("cases_outcome", ""))
            if closed:
                flash(ngettext("Closed %(num)s case with the incident.", "Closed %(num)s cases with the incident.",
                               len(closed)), "info")
        if action == "resolve" and request.form.get("revert_actions"):
            # Same transaction as the resolution: both happen, or neither.
            undone = containment.undo_in_force(db(), incident, actor=who.label, actor_user_id=who.user_id,
                                               now=rt().clock.now())
            if undone:
                flash(ngettext("Undoing %(num)s containment action still in force.",
                               "Undoing %(num)s containment actions still in force.", len(undone)), "info")
    except lifecycle.EpisodeStillActive as exc:
        session.rollback()
        flash(_("Not resolved: the detector still sees this crisis (%(what)s). Tick “Resolve although the detector "
                "still sees it” to resolve it anyway.", what=", ".join(e.kind for e in exc.episodes)), "error")
        return _back(slug, incident_id, "incident-header")
    except (InvalidTransition, lifecycle.ConcurrentTransition, case_service.CaseError) as exc:
        session.rollback()
        flash(_("Could not %(action)s: %(reason)s", action=action, reason=str(exc)), "error")
        return _back(slug, incident_id)
    session.commit()
    return _back(slug, incident_id)


@bp.post("/c/<slug>/incidents/<int:incident_id>/notes")
@login_required
def note(slug: str, incident_id: int) -> Response:
    _scope, incident = incident_scope(slug, incident_id, Role.MODERATOR)
    with commit_or_flash(lifecycle.LifecycleError) as done:
        lifecycle.add_note(db(), incident, request.form.get("text", ""), actor=actor(), clock=rt().clock)
    return _back(slug, incident_id, "timeline" if done.ok else "note")


@bp.post("/c/<slug>/incidents/<int:incident_id>/updates")
@login_required
def status_update(slug: str, incident_id: int) -> Response:
    _scope, incident = incident_scope(slug, incident_id, Role.RESPONDER)
    public = bool(request.form.get("public"))
    with commit_or_flash(lifecycle.LifecycleError) as done:
        result = lifecycle.post_update(db(), incident, request.form.get("text", ""), actor=actor(), clock=rt().clock,
                                       public=public, public_title=request.form.get("public_title") or None)
    if not done.ok:
        return _back(slug, incident_id, "update")
    flash(_("Status update posted; notified: %(who)s", who=", ".join(result.labels) or _("nobody")), "info")
    return _back(slug, incident_id, "timeline")


def _member(incident: Incident, user_id: str | None) -> User:
    user = db().get(User, int(user_id)) if user_id and user_id.isdigit() else None
    if user is None or db().scalar(select(Membership.id).where(
            Membership.user_id == user.id, Membership.community_id == incident.community_id)) is None:
        abort(400, description=_("Pick someone who is staff of this community."))
    return user


@bp.post("/c/<slug>/incidents/<int:incident_id>/assign")
@login_required
def assign(slug: str, incident_id: int) -> Response:
    _scope, incident = incident_scope(slug, incident_id, Role.RESPONDER)
    user = _member(incident, request.form.get("user_id"))
    with commit_or_flash(lifecycle.LifecycleError):
        lifecycle.assign(db(), incident, user, role=request.form.get("role", "responder").strip(), actor=actor(),
                         clock=rt().clock)
    return _back(slug, incident_id, "people")


@bp.post("/c/<slug>/incidents/<int:incident_id>/severity")
@login_required
def severity(slug: str, incident_id: int) -> Response:
    _scope, incident = incident_scope(slug, incident_id, Role.RESPONDER)
    with commit_or_flash(lifecycle.LifecycleError):
        lifecycle.set_severity(db(), incident, request.form.get("severity", ""), actor=actor(), clock=rt().clock)
    return _back(slug, incident_id)


@bp.post("/c/<slug>/incidents/<int:incident_id>/tasks/<int:task_id>")
@login_required
def task(slug: str, incident_id: int, task_id: int) -> Response:
    _scope, incident = incident_scope(slug, incident_id, Role.MODERATOR)
    row = db().get(Task, task_id)
    if row is None or row.incident_id != incident.id:
        abort(404)
    owner = request.form.get("owner_id")
    owner_id = _member(incident, owner).id if owner else None
    with commit_or_flash(steps.TaskError):
        steps.update_task(db(), incident, row, status=request.form.get("status") or None, owner_id=owner_id,
                          actor_user_id=g.user.id, actor_label=g.user.display_name or g.user.email,
                          now=rt().clock.now())
    return _back(slug, incident_id, "tasks")


@bp.post("/c/<slug>/incidents")
@login_required
def open_manual(slug: str) -> Response:
    scope = community_scope(slug, Role.RESPONDER)
    with commit_or_flash(lifecycle.LifecycleError) as done:
        incident = lifecycle.open_manual(db(), scope.community, kind=request.form.get("kind", "").strip(),
                                         severity=request.form.get("severity", ""),
                                         title=request.form.get("title", ""),
                                         description=request.form.get("description", ""), actor=actor(),
                                         clock=rt().clock)
    if not done.ok:
        return redirect(url_for("pages.community", slug=slug), code=303)
    return _back(slug, incident.id)


# ---- containment actions -----------------------------------------------------------------------
def kind_labels() -> dict[str, str]:
    """crisis.containment.kinds' labels, in the page's language."""
    labels = {"lockdown": _("Lock down (pause joins)"), "quiet": _("Quiet the room (members may not post)"),
              "mute": _("Mute accounts"), "kick": _("Remove accounts (kick)"), "ban": _("Ban accounts"),
              "redact": _("Delete the accounts' recent messages"), "unban": _("Unban accounts")}
    return {name: labels.get(name, kind.label) for name, kind in containment_kinds.KINDS.items()}


def _verb_labels() -> dict[str, str]:
    return {"propose": _("propose the action"), "approve": _("approve the action"),
            "cancel": _("cancel the action"), "undo": _("undo the action"), "release": _("release the account")}


def _refused(verb: str, exc: Exception, action: ContainmentAction | None = None) -> None:
    db().rollback()
    reason = str(exc)
    if reason.startswith("confirm:") and action is not None:
        reason = _("%(what)s cannot be undone: tick “I understand this cannot be undone” to approve it.",
                   what=kind_labels().get(action.kind, action.kind))
    flash(_("Could not %(action)s: %(reason)s", action=_verb_labels()[verb], reason=reason), "error")


@bp.post("/c/<slug>/incidents/<int:incident_id>/containment")
@login_required
def propose_action(slug: str, incident_id: int) -> Response:
    _scope, incident = incident_scope(slug, incident_id, Role.MODERATOR)
    who = actor()
    raw_expiry = request.form.get("expires_after", "").strip()
    try:
        try:
            expiry = parse_duration(raw_expiry) if raw_expiry else None
        except ValueError as exc:
            raise containment.ContainmentError(f"expires_after: {exc}") from None
        made = containment.propose(db(), incident, request.form.get("kind", ""), actor=who.label,
                                   actor_user_id=who.user_id, now=rt().clock.now(), expires_after=expiry,
                                   accounts=_accounts(request.form.get("accounts", "")), limit=DEFAULT_TARGETS)
    except containment.ContainmentError as exc:
        _refused("propose", exc)
        return _back(slug, incident_id, "propose")
    db().commit()
    return _back(slug, incident_id, f"action-{made.id}")


@bp.post("/c/<slug>/incidents/<int:incident_id>/containment/<int:action_id>/"
         "<any(approve, cancel, undo, release):verb>")
@login_required
def action_verb(slug: str, incident_id: int, action_id: int, verb: str) -> Response:
    scope, incident = incident_scope(slug, incident_id, Role.MODERATOR)
    row = db().get(ContainmentAction, action_id)
    if row is None or row.incident_id != incident.id:
        abort(404)
    who, now = actor(), rt().clock.now()
    try:
        if verb == "approve":
            containment.approve(db(), row, actor=who.label, actor_user_id=who.user_id, role=scope.role, now=now,
                                confirm=bool(request.form.get("confirm")))
        elif verb == "cancel":
            containment.cancel(db(), row, actor=who.label, actor_user_id=who.user_id, now=now,
                               note=request.form.get("note", "").strip()[:500])
        elif verb == "undo":
            containment.undo(db(), row, actor=who.label, actor_user_id=who.user_id, now=now)
        else:
            containment.release(db(), row, request.form.get("account", ""), actor=who.label,
                                actor_user_id=who.user_id, now=now)
    except (containment.ContainmentError, containment.NotAllowed) as exc:
        _refused(verb, exc, row)
        return _back(slug, incident_id, f"action-{action_id}")
    # The job runs after the commit (inline in tests and demos, else on a worker).
    db().commit()
    return _back(slug, incident_id, f"action-{action_id}")
