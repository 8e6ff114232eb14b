"""Telling members, through the API: member channels, the status page's settings, an
incident's public face (title, updates, the cadence), and the public status page's JSON.

Staff routes are tenant-scoped (404 outside the community) and role-checked; the public
route needs no token and shows only what was written for members."""
from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, jsonify

from crisis import httpcache
from crisis.api.errors import abort
from crisis.api.serialize import notification, ts
from crisis.api.staff import community_by_slug, community_row, current_user, field, json_body
from crisis.models import Community, Incident, MemberChannel, Role
from crisis.publicstatus import cadence, channels, page, statuspage, updates
from crisis.webctx import db, rt

bp = Blueprint("api_members", __name__)
_bodies = page.RenderCache()  # the public JSON, once per page version


def channel_json(row: MemberChannel) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "kind": row.kind, "destination": channels.masked(row),
            "link_id": row.link_id, "room_id": row.room_id or None, "language": row.language or None,
            "disabled": row.disabled, "last_error": row.last_error, "created_at": ts(row.created_at)}


def _channel(slug: str, channel_id: int, minimum: Role, what: str) -> MemberChannel:
    community = community_by_slug(slug, minimum, what)
    row = db().get(MemberChannel, channel_id)
    if row is None or row.community_id != community.id:
        abort(404, "not_found", f"community {slug} has no member channel {channel_id}")
    return row


def _refused(exc: ValueError, field_name: str = "") -> None:
    db().rollback()
    status = 409 if isinstance(exc, channels.DuplicateChannel) else 422
    abort(status, "conflict" if status == 409 else "invalid", str(exc),
          **({"field": field_name} if field_name else {}))


@bp.get("/api/v1/communities/<slug>/member-channels")
def list_channels(slug: str) -> Response:
    community = community_by_slug(slug)
    return jsonify({"member_channels": [channel_json(r) for r in channels.of(db(), community.id)]})


@bp.post("/api/v1/communities/<slug>/member-channels")
def add_channel(slug: str) -> tuple[Response, int]:
    community = community_by_slug(slug, Role.MANAGER, "adding a member channel")
    body = json_body()
    name = field(body, "name", str)
    language = field(body, "language", str, required=False, default="")
    now = rt().clock.now()
    user = current_user()
    try:
        if body.get("link_id") is not None:
            row = channels.add_bridge_room(db(), community, name=name, link_id=field(body, "link_id", int),
                                           room_id=field(body, "room_id", str), language=language, now=now,
                                           actor=user.email, actor_user_id=user.id)
        else:
            row = channels.add_apprise(db(), community, name=name, url=field(body, "url", str), language=language,
                                       now=now, actor=user.email, actor_user_id=user.id)
    except channels.ChannelError as exc:
        _refused(exc, exc.field)
    db().commit()
    return jsonify(channel_json(row)), 201


@bp.patch("/api/v1/communities/<slug>/member-channels/<int:channel_id>")
def update_channel(slug: str, channel_id: int) -> Response:
    row = _channel(slug, channel_id, Role.MANAGER, "changing a member channel")
    channels.set_disabled(db(), row, field(json_body(), "disabled", bool), actor=current_user().email,
                          actor_user_id=current_user().id)
    db().commit()
    return jsonify(channel_json(row))


@bp.delete("/api/v1/communities/<slug>/member-channels/<int:channel_id>")
def delete_channel(slug: str, channel_id: int) -> tuple[str, int]:
    row = _channel(slug, channel_id, Role.MANAGER, "removing a member channel")
    channels.remove(db(), row, actor=current_user().email, actor_user_id=current_user().id)
    db().commit()
    return "", 204


@bp.post("/api/v1/communities/<slug>/member-channels/<int:channel_id>/test")
def test_channel(slug: str, channel_id: int) -> tuple[Response, int]:
    row = _channel(slug, channel_id, Role.MANAGER, "testing a member channel")
    community = db().get(Community, row.community_id)
    assert community is not None
    note = channels.send_test(db(), community, row, requested_by=current_user(), now=rt().clock.now())
    db().commit()
    db().refresh(note)
    return jsonify(notification(note)), 202


def _page_json(slug: str) -> dict[str, Any]:
    community = community_by_slug(slug)
    settings = statuspage.settings_for(db(), community.id)
    return {"enabled": bool(settings and settings.enabled), "name": settings.name if settings else "",
            "about": settings.about if settings else "",
            "public_name": statuspage.public_name(community, settings),
            "url": statuspage.url(community, settings, rt().config.base_url) or None}


@bp.get("/api/v1/communities/<slug>/status-page")
def get_status_page(slug: str) -> Response:
    return jsonify(_page_json(slug))


@bp.put("/api/v1/communities/<slug>/status-page")
def put_status_page(slug: str) -> Response:
    community = community_by_slug(slug, Role.MANAGER, "changing the status page")
    body = json_body()
    try:
        statuspage.configure(db(), community, enabled=field(body, "enabled", bool, required=False),
                             name=field(body, "name", str, required=False),
                             about=field(body, "about", str, required=False), now=rt().clock.now(),
                             actor=current_user().email, actor_user_id=current_user().id)
    except statuspage.StatusPageError as exc:
        db().rollback()
        abort(422, "invalid", str(exc), field=str(exc).split(":", 1)[0])
    db().commit()
    return jsonify(_page_json(slug))


def _public_json(incident: Incident) -> dict[str, Any]:
    public = updates.public_for(db(), incident.id)
    timer = cadence.timer_for(db(), incident.id)
    return {
        "public": None if public is None else {"title": public.title, "hidden": public.hidden,
                                               "created_at": ts(public.created_at),
                                               "last_update_at": ts(public.last_update_at)},
        "updates": [{"id": u.id, "phase": u.phase, "text": u.body, "posted_at": ts(u.posted_at)}
                    for u in updates.updates_of(db(), incident.id)],
        "cadence": None if timer is None else {"status": timer.status, "every_s": timer.every_s,
                                               "due_at": ts(timer.due_at), "reminders": timer.reminders,
                                               "last_reminded_at": ts(timer.last_reminded_at)},
    }


@bp.get("/api/v1/incidents/<int:incident_id>/public")
def get_public(incident_id: int) -> Response:
    incident = community_row(Incident, incident_id, "incident", Role.MODERATOR, "this")
    return jsonify(_public_json(incident))


@bp.patch("/api/v1/incidents/<int:incident_id>/public")
def update_public(incident_id: int) -> Response:
    incident = community_row(Incident, incident_id, "incident", Role.RESPONDER, "changing what members see")
    body = json_body()
    user = current_user()
    try:
        updates.edit(db(), incident, public_title=field(body, "public_title", str, required=False),
                     hidden=field(body, "hidden", bool, required=False), actor_user_id=user.id,
                     actor_label=user.display_name or user.email, now=rt().clock.now())
    except updates.PublicError as exc:
        db().rollback()
        head = str(exc).split(":", 1)[0]
        abort(409 if head == "incident" else 422, "conflict" if head == "incident" else "invalid", str(exc),
              field=head)
    db().commit()
    return jsonify(_public_json(incident))


@bp.get("/api/v1/status/<slug>")
def public_status(slug: str) -> Response:
    """The public status page as JSON: no token, cached like the page."""
    now = rt().clock.now()
    found = page.index(db(), slug, now=now)
    if found is None:
        abort(404, "not_found", f"no status page {slug!r}")
    digest = found.digest("json")
    if httpcache.fresh(digest):
        return httpcache.not_modified(digest)
    key = ("json", slug, digest)
    body = _bodies.get(key)
    if body is None:
        body = json.dumps(page.to_json(page.view(db(), found, now=now)), ensure_ascii=False)
        _bodies.put(key, body)
    resp = Response(body, mimetype="application/json")
    resp.headers["Access-Control-Allow-Origin"] = "*"  # public data: a community's own site may show it
    return httpcache.apply(resp, digest)
