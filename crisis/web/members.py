"""The "Telling members" page (member channels, the public status page's settings, recent
updates to members) and the members panel of the incident page. Parse the form, call
crisis.publicstatus, redirect."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from crisis.bridges import links
from crisis.models import Incident, MemberChannel, PublicIncident, PublicUpdate, Role
from crisis.publicstatus import announce, cadence, channels, statuspage, updates
from crisis.web.access import community_scope, incident_scope
from crisis.web.auth import login_required
from crisis.web.outcome import commit_or_flash
from crisis.webctx import db, rt

bp = Blueprint("members", __name__)
RECENT = 20


def phase_labels() -> dict[str, str]:
    return {"investigating": _("Investigating"), "identified": _("Identified"), "monitoring": _("Monitoring"),
            "resolved": _("Resolved")}


def _recent(community_id: int) -> list[tuple[PublicUpdate, PublicIncident]]:
    return [(u, p) for u, p in db().execute(
        select(PublicUpdate, PublicIncident)
        .join(PublicIncident, PublicIncident.incident_id == PublicUpdate.incident_id)
        .where(PublicUpdate.community_id == community_id)
        .order_by(PublicUpdate.posted_at.desc(), PublicUpdate.id.desc()).limit(RECENT)).all()]


@bp.get("/c/<slug>/member-updates")
@login_required
def page(slug: str) -> str:
    scope = community_scope(slug)
    community = scope.community
    settings = statuspage.settings_for(db(), community.id)
    rooms = [(link, room, name) for link in links.links_of(db(), community.id) if not link.disabled
             for room, name in sorted((link.rooms or {}).items())]
    return render_template("members/page.html", scope=scope, community=community, settings=settings,
                           public_url=statuspage.url(community, settings, rt().config.base_url),
                           public_name=statuspage.public_name(community, settings),
                           rows=channels.of(db(), community.id), masked=channels.masked, rooms=rooms,
                           recent=_recent(community.id), phase_labels=phase_labels(), Role=Role,
                           can_edit=scope.can(Role.MANAGER), now=rt().clock.now())


def _back(slug: str, anchor: str) -> Response:
    return redirect(url_for("members.page", slug=slug) + f"#{anchor}", code=303)


@bp.post("/c/<slug>/member-updates/status-page")
@login_required
def save_status_page(slug: str) -> Response:
    scope = community_scope(slug, Role.MANAGER)
    with commit_or_flash(statuspage.StatusPageError) as done:
        statuspage.configure(db(), scope.community, enabled=bool(request.form.get("enabled")),
                             name=request.form.get("name", ""), about=request.form.get("about", ""),
                             now=rt().clock.now(), actor=g.user.email, actor_user_id=g.user.id)
    if done.ok:
        flash(_("Status page saved."), "info")
    return _back(slug, "status-page")


@bp.post("/c/<slug>/member-updates/channels")
@login_required
def add_channel(slug: str) -> Response:
    scope = community_scope(slug, Role.MANAGER)
    with commit_or_flash(channels.ChannelError) as done:
        channels.add_apprise(db(), scope.community, name=request.form.get("name", ""),
                             url=request.form.get("url", ""), language=request.form.get("language", ""),
                             now=rt().clock.now(), actor=g.user.email, actor_user_id=g.user.id)
    if done.ok:
        flash(_("Member channel added."), "info")
    return _back(slug, "channels")


@bp.post("/c/<slug>/member-updates/bridge-rooms")
@login_required
def add_bridge_room(slug: str) -> Response:
    scope = community_scope(slug, Role.MANAGER)
    link_id, _sep, room = request.form.get("room", "").partition(" ")
    with commit_or_flash(channels.ChannelError) as done:
        channels.add_bridge_room(db(), scope.community, name=request.form.get("name", ""),
                                 link_id=int(link_id) if link_id.isdigit() else 0, room_id=room,
                                 language=request.form.get("language", ""), now=rt().clock.now(),
                                 actor=g.user.email, actor_user_id=g.user.id)
    if done.ok:
        flash(_("Member channel added."), "info")
    return _back(slug, "channels")


@bp.post("/c/<slug>/member-updates/channels/<int:channel_id>/<any(test, pause, resume, remove):verb>")
@login_required
def channel_verb(slug: str, channel_id: int, verb: str) -> Response:
    scope = community_scope(slug, Role.MANAGER)
    row = db().get(MemberChannel, channel_id)
    if row is None or row.community_id != scope.community.id:
        abort(404)
    if verb == "test":
        channels.send_test(db(), scope.community, row, requested_by=g.user, now=rt().clock.now())
        flash(_("Test announcement sent to %(name)s.", name=row.name), "info")
    elif verb == "remove":
        channels.remove(db(), row, actor=g.user.email, actor_user_id=g.user.id)
    else:
        channels.set_disabled(db(), row, verb == "pause", actor=g.user.email, actor_user_id=g.user.id)
    db().commit()
    return _back(slug, "channels")


# ---- the incident page's members panel --------------------------------------------------------
def incident_panel(incident: Incident) -> dict[str, Any]:
    public = updates.public_for(db(), incident.id)
    settings = statuspage.settings_for(db(), incident.community_id)
    return {"public": public, "updates": updates.updates_of(db(), incident.id),
            "timer": cadence.timer_for(db(), incident.id),
            "channels": channels.of(db(), incident.community_id, enabled_only=True),
            "page_on": bool(settings and settings.enabled), "phase_labels": phase_labels(),
            "max_text": updates.MAX_BODY, "phase_words": announce.PHASE_LABELS}


@bp.post("/c/<slug>/incidents/<int:incident_id>/public")
@login_required
def edit_public(slug: str, incident_id: int) -> Response:
    _scope, incident = incident_scope(slug, incident_id, Role.RESPONDER)
    hidden = {"hide": True, "show": False}.get(request.form.get("visibility", ""))
    title = request.form.get("public_title")
    with commit_or_flash(updates.PublicError):
        updates.edit(db(), incident, public_title=title if title else None, hidden=hidden, actor_user_id=g.user.id,
                     actor_label=g.user.display_name or g.user.email, now=rt().clock.now())
    return redirect(url_for("incidents.show", slug=slug, incident_id=incident_id) + "#members", code=303)
