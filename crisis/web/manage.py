"""Playbooks (list, history, side-by-side diff, editor), on-call, and community settings."""
from __future__ import annotations

import difflib
from datetime import datetime, timedelta, timezone
from typing import Any

import yaml
from flask import Blueprint, abort, flash, g, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from crisis import playbooks
from crisis.alert_intake import integrations
from crisis.bridges import health as bridge_health
from crisis.bridges import links
from crisis.bridges.matrix.registration import registration, to_yaml
from crisis.cases import settings as case_settings
from crisis.cases.categories import CATEGORIES
from crisis.clock import utc
from crisis.models import Channel, ContactMethod, Membership, PlaybookVersion, Role, Schedule, User
from crisis.notify import destinations, reach
from crisis.tenancy import community_settings, oncall
from crisis.tenancy.communities import ServiceError, communities_of
from crisis.web.access import community_scope
from crisis.web.auth import login_required
from crisis.web.outcome import commit_or_flash
from crisis.webctx import db, rt

bp = Blueprint("manage", __name__)


# ---- playbooks: shared by every community; editing needs a manager role somewhere -----------
def _best_role() -> Role | None:
    roles = [role for _c, role in communities_of(db(), g.user.id)]
    return max(roles, key=lambda r: r.rank) if roles else None


def _require_member(needed: Role = Role.MODERATOR) -> Role:
    role = _best_role()
    if role is None:
        abort(404)
    if not role.at_least(needed):
        abort(403, description=_("Editing playbooks needs the manager role in a community."))
    return role


def _versions(name: str) -> list[PlaybookVersion]:
    rows = list(db().scalars(select(PlaybookVersion).where(PlaybookVersion.name == name)
                             .order_by(PlaybookVersion.version.desc())))
    if not rows:
        abort(404)
    return rows


@bp.get("/playbooks")
@login_required
def playbook_list() -> str:
    role = _require_member()
    rows = [playbooks.latest(db(), name) for name in playbooks.names(db())]
    return render_template("playbooks/list.html", rows=[r for r in rows if r], can_edit=role.at_least(Role.MANAGER))


@bp.get("/playbooks/<name>")
@login_required
def playbook_history(name: str) -> str:
    role = _require_member()
    versions = _versions(name)
    authors = {u.id: (u.display_name or u.email) for u in db().scalars(select(User).where(
        User.id.in_([v.created_by_id for v in versions if v.created_by_id])))}
    return render_template("playbooks/history.html", name=name, versions=versions, authors=authors,
                           can_edit=role.at_least(Role.MANAGER))


def _dump(row: PlaybookVersion) -> list[str]:
    body = {k: v for k, v in row.spec.items() if k != "version"}
    return yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=100).splitlines()


def side_by_side(old: list[str], new: list[str]) -> list[tuple[str, str, str]]:
    """(tag, left, right) rows: equal, replace, delete (left only) or insert (right only)."""
    rows: list[tuple[str, str, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        left, right = old[i1:i2], new[j1:j2]
        for k in range(max(len(left), len(right))):
            lt = left[k] if k < len(left) else ""
            rt_ = right[k] if k < len(right) else ""
            kind = tag if tag == "equal" else ("delete" if not rt_ and k >= len(right) else
                                               "insert" if k >= len(left) else "replace")
            rows.append((kind, lt, rt_))
    return rows


@bp.get("/playbooks/<name>/diff")
@login_required
def playbook_diff(name: str) -> str:
    _require_member()
    versions = _versions(name)
    by_number = {v.version: v for v in versions}
    newest = versions[0].version
    b = request.args.get("b", type=int) or newest
    a = request.args.get("a", type=int) or max(b - 1, 1)
    if a not in by_number or b not in by_number:
        abort(404)
    summary = playbooks.diff(by_number[a], by_number[b])
    return render_template("playbooks/diff.html", name=name, versions=versions, a=a, b=b,
                           rows=side_by_side(_dump(by_number[a]), _dump(by_number[b])), summary=summary)


@bp.route("/playbooks/<name>/edit", methods=["GET", "POST"])
@login_required
def playbook_edit(name: str) -> Any:
    _require_member(Role.MANAGER)
    latest = _versions(name)[0]
    text = latest.source_text or yaml.safe_dump(latest.spec, sort_keys=False, allow_unicode=True)
    problems: list[str] = []
    comment = ""
    if request.method == "POST":
        text = request.form.get("source", "")
        comment = request.form.get("comment", "")
        try:
            data = yaml.safe_load(text)
            row = playbooks.create_version(db(), name, data, clock=rt().clock, user_id=g.user.id, comment=comment,
                                           source_text=text, actor=g.user.email)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problems = [(f"line {mark.line + 1}, column {mark.column + 1}: " if mark else "")
                        + f"not valid YAML ({getattr(exc, 'problem', exc)})"]
        except playbooks.PlaybookError as exc:
            problems = exc.problems
        else:
            db().commit()
            flash(_("Saved %(name)s version %(version)s.", name=name, version=row.version), "info")
            return redirect(url_for("manage.playbook_diff", name=name, b=row.version), code=303)
        db().rollback()
    return render_template("playbooks/edit.html", name=name, latest=latest, text=text, comment=comment,
                           problems=problems), (422 if problems else 200)


# ---- on-call --------------------------------------------------------------------------------
@bp.get("/c/<slug>/oncall")
@login_required
def oncall_page(slug: str) -> str:
    scope = community_scope(slug)
    now = rt().clock.now()
    schedules = list(db().scalars(select(Schedule).where(Schedule.community_id == scope.community.id)
                                  .order_by(Schedule.name)))
    staff = db().scalars(select(User).join(Membership, Membership.user_id == User.id)
                         .where(Membership.community_id == scope.community.id).order_by(User.email)).all()
    names = {u.id: (u.display_name or u.email) for u in staff}
    views = []
    for schedule in schedules:
        shifts = oncall.upcoming(schedule, now, now + timedelta(days=14), limit=8)
        current = oncall.on_call(schedule, now)
        views.append({"schedule": schedule, "now": current,
                      "next": [s for s in shifts if s.start > now][:4],
                      "overrides": [o for o in schedule.overrides if o.ends_at > now]})
    return render_template("oncall.html", scope=scope, community=scope.community, views=views, names=names,
                           staff=staff, now=now, Role=Role, gaps=reach.gaps(db(), scope.community, now))


def _local(raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise oncall.ScheduleError(f"{raw!r} is not a date and time") from None
    # The form's datetime-local fields are UTC (the page says so).
    return utc(value) if value.tzinfo else value.replace(tzinfo=timezone.utc)


@bp.post("/c/<slug>/oncall/<int:schedule_id>/overrides")
@login_required
def add_override(slug: str, schedule_id: int) -> Response:
    scope = community_scope(slug, Role.MANAGER)
    schedule = db().get(Schedule, schedule_id)
    if schedule is None or schedule.community_id != scope.community.id:
        abort(404)
    with commit_or_flash(ValueError, oncall.ScheduleError) as done:
        user_id = int(request.form.get("user_id", "0"))
        oncall.add_override(db(), schedule, user_id=user_id, starts_at=_local(request.form.get("starts_at", "")),
                            ends_at=_local(request.form.get("ends_at", "")), clock=rt().clock)
    if done.ok:
        flash(_("Override added."), "info")
    return redirect(url_for("manage.oncall_page", slug=slug), code=303)


# ---- community settings ----------------------------------------------------------------------
def _settings_from_form() -> dict[str, Any]:
    form = request.form
    raw = form.get("sensitivity", "normal").strip()
    try:
        sensitivity: float | str = float(raw)
    except ValueError:
        sensitivity = raw

    def lines(name: str) -> list[str]:
        return [v.strip() for v in form.get(name, "").splitlines() if v.strip()]

    windows = []
    for line in lines("surge_windows"):
        parts = [p.strip() for p in line.split(",")]
        window: dict[str, Any] = {"start": parts[0], "end": parts[1] if len(parts) > 1 else ""}
        if len(parts) > 2 and parts[2]:
            try:
                window["factor"] = float(parts[2])
            except ValueError:
                window["factor"] = parts[2]
        if len(parts) > 3:
            window["label"] = ",".join(parts[3:])
        windows.append(window)
    raw_boost = form.get("campaign_boost", "1.0").strip()
    try:
        boost: float | str = float(raw_boost)
    except ValueError:
        boost = raw_boost  # the validator names the field
    changes: dict[str, Any] = {
        "sensitivity": sensitivity, "allow_users": lines("allow_users"), "allow_roles": lines("allow_roles"),
        "ignore_bots": form.get("ignore_bots") == "on", "surge_windows": windows,
        "enabled_kinds": form.getlist("enabled_kinds"), "campaign_boost": boost}
    response = {c: form[f"case_response.{c}"].strip() for c in CATEGORIES if form.get(f"case_response.{c}", "").strip()}
    if response:
        changes[case_settings.KEY] = response
    return changes


def _settings_page(scope: Any, values: dict[str, Any], errors: list[str], status: int = 200,
                   registration_yaml: str = "", issued_key: dict[str, str] | None = None) -> tuple[str, int]:
    session = db()
    channels = list(session.scalars(select(Channel).where(Channel.community_id == scope.community.id)
                                    .order_by(Channel.name)))
    methods = list(session.scalars(select(ContactMethod).where(ContactMethod.user_id == g.user.id)
                                   .order_by(ContactMethod.id)))
    return render_template("settings.html", scope=scope, community=scope.community, values=values, errors=errors,
                           kinds=community_settings.KINDS, channels=channels, methods=methods,
                           case_categories=CATEGORIES,
                           purposes=destinations.PURPOSES, tests=destinations.recent_tests(session, scope.community),
                           can_edit=scope.can(Role.MANAGER), Role=Role,
                           links=[bridge_health.summary(link, rt().clock.now())
                                  for link in links.links_of(session, scope.community.id)],
                           can_link=scope.can(Role.ADMIN), registration_yaml=registration_yaml,
                           integrations=integrations.of_community(session, scope.community.id),
                           integration_kinds=integrations.KINDS, issued_key=issued_key,
                           gaps=reach.gaps(session, scope.community, rt().clock.now())), status


@bp.get("/c/<slug>/settings")
@login_required
def settings_page(slug: str) -> tuple[str, int]:
    scope = community_scope(slug)
    return _settings_page(scope, community_settings.current(scope.community), [])


@bp.post("/c/<slug>/settings")
@login_required
def save_settings(slug: str) -> Any:
    scope = community_scope(slug, Role.MANAGER)
    changes = _settings_from_form()
    try:
        community_settings.update(db(), scope.community, changes, actor=g.user.email, actor_user_id=g.user.id)
    except community_settings.InvalidSettings as exc:
        db().rollback()
        errors = [f"{e.field}: {e.message}" for e in exc.errors]
        return _settings_page(scope, {**community_settings.current(scope.community), **changes}, errors, 422)
    except (TypeError, ValueError, KeyError) as exc:
        db().rollback()
        return _settings_page(scope, {**community_settings.current(scope.community), **changes}, [str(exc)], 422)
    db().commit()
    flash(_("Detector settings saved."), "info")
    return redirect(url_for("manage.settings_page", slug=slug), code=303)


@bp.post("/c/<slug>/settings/channels")
@login_required
def add_channel(slug: str) -> Response:
    scope = community_scope(slug, Role.MANAGER)
    with commit_or_flash(destinations.DestinationError):
        destinations.add_channel(db(), scope.community, name=request.form.get("name", ""),
                                 purpose=request.form.get("purpose", "team"), url=request.form.get("url", ""),
                                 now=rt().clock.now(), actor=g.user.email, actor_user_id=g.user.id)
    return redirect(url_for("manage.settings_page", slug=slug) + "#channels", code=303)


@bp.post("/c/<slug>/settings/links")
@login_required
def add_link(slug: str) -> Response | tuple[str, int]:
    """Link Matrix rooms. The answer is the page itself, with the registration file shown
    this once: its tokens are never stored where a redirect could show them again."""
    scope = community_scope(slug, Role.ADMIN)
    form = request.form
    rooms = [line.strip() for line in form.get("rooms", "").splitlines() if line.strip()]
    minutes_text = form.get("silence_after", "60").strip() or "60"
    try:
        if not minutes_text.isdigit() or not 5 <= int(minutes_text) <= 10080:
            raise links.LinkError("silence_after: must be a whole number of minutes, 5 to 10080")
        if not rooms:
            raise links.LinkError("rooms: name at least one room id")
        issued = links.create_matrix_link(
            db(), scope.community, homeserver=form.get("homeserver", "").strip(),
            server_name=form.get("server_name", "").strip(), rooms=links.parse_rooms(rooms),
            secret_key=rt().config.secret_key, clock=rt().clock, name=form.get("name", "").strip() or "matrix",
            admin_token=form.get("admin_token", "").strip() or None,
            silence_after=timedelta(minutes=int(minutes_text)), actor=g.user.email, actor_user_id=g.user.id)
    except ServiceError as exc:
        db().rollback()
        return _settings_page(scope, community_settings.current(scope.community), [str(exc)], 422)
    document = to_yaml(registration(issued, crisis_url=rt().config.base_url))
    db().commit()
    page = make_response(_settings_page(scope, community_settings.current(scope.community), [], 201,
                                        registration_yaml=document))
    page.headers["Cache-Control"] = "no-store"  # the registration's tokens must not stay in any cache
    return page


@bp.post("/c/<slug>/settings/integrations")
@login_required
def add_integration(slug: str) -> Response | tuple[str, int]:
    """Add an alert integration; the answer is the page with the key shown this once."""
    scope = community_scope(slug, Role.ADMIN)
    form = request.form
    try:
        issued = integrations.create(
            db(), scope.community, kind=form.get("kind", ""), name=form.get("name", "").strip(), clock=rt().clock,
            default_severity=form.get("default_severity", "sev3"),
            severity_map=form.get("severity_map", "").strip() or None, auto_resolve=form.get("auto_resolve") == "on",
            actor=g.user.email, actor_user_id=g.user.id)
    except ServiceError as exc:
        db().rollback()
        return _settings_page(scope, community_settings.current(scope.community), [str(exc)], 422)
    db().commit()
    shown = {"name": issued.integration.name, "key": issued.key,
             "url": rt().config.base_url + integrations.ENDPOINTS[issued.integration.kind]}
    page = make_response(_settings_page(scope, community_settings.current(scope.community), [], 201,
                                        issued_key=shown))
    page.headers["Cache-Control"] = "no-store"  # the key must not stay in any cache
    return page


@bp.post("/c/<slug>/settings/contact-methods")
@login_required
def add_contact_method(slug: str) -> Response:
    community_scope(slug)
    with commit_or_flash(destinations.DestinationError):
        destinations.add_contact_method(db(), g.user, label=request.form.get("label", ""),
                                        url=request.form.get("url", ""), now=rt().clock.now())
    return redirect(url_for("manage.settings_page", slug=slug) + "#contacts", code=303)


@bp.post("/c/<slug>/settings/test")
@login_required
def send_test(slug: str) -> Response:
    scope = community_scope(slug)
    target = request.form.get("target", "")
    kind, _sep, raw_id = target.partition(":")
    channel = method = None
    if kind == "ch" and raw_id.isdigit():
        if not scope.can(Role.MANAGER):
            abort(403)
        channel = db().get(Channel, int(raw_id))
        if channel is None or channel.community_id != scope.community.id:
            abort(404)
    elif kind == "cm" and raw_id.isdigit():
        method = db().get(ContactMethod, int(raw_id))
        if method is None or method.user_id != g.user.id:
            abort(404)
    else:
        abort(400)
    destinations.send_test(db(), scope.community, channel=channel, method=method, requested_by=g.user,
                           now=rt().clock.now())
    db().commit()
    flash(_("Test notification queued; its delivery state is listed below."), "info")
    return redirect(url_for("manage.settings_page", slug=slug) + "#tests", code=303)

