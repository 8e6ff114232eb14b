"""/api/v1/communities/<slug>/channels: where a community's team and stakeholders hear about incidents."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import select

from crisis.api import serialize
from crisis.api.errors import abort
from crisis.api.staff import community_by_slug, field, json_body
from crisis.models import Channel, Role
from crisis.notify import check_url
from crisis.webctx import db, rt

bp = Blueprint("api_channels", __name__)
PURPOSES = ("team", "stakeholders", "log")


@bp.get("/api/v1/communities/<slug>/channels")
def list_channels(slug: str) -> Response:
    community = community_by_slug(slug)
    rows = db().scalars(select(Channel).where(Channel.community_id == community.id).order_by(Channel.name))
    return jsonify({"channels": [serialize.channel(c) for c in rows]})


@bp.post("/api/v1/communities/<slug>/channels")
def add_channel(slug: str) -> tuple[Response, int]:
    community = community_by_slug(slug, Role.MANAGER, "adding a channel")
    body = json_body()
    name = field(body, "name", str).strip()
    if not name or len(name) > 100:
        abort(422, "invalid", "name: must be 1 to 100 characters", field="name")
    purpose = field(body, "purpose", str, required=False, default="team")
    if purpose not in PURPOSES:
        abort(422, "invalid", f"purpose: {purpose!r} is not one of {', '.join(PURPOSES)}", field="purpose")
    url = field(body, "url", str)
    problem = check_url(url)
    if problem:
        abort(422, "invalid", f"url: {problem}", field="url")
    if db().scalar(select(Channel.id).where(Channel.community_id == community.id, Channel.name == name)):
        abort(409, "conflict", f"name: community {slug} already has a channel {name!r}", field="name")
    row = Channel(community_id=community.id, name=name, purpose=purpose, url=url, created_at=rt().clock.now())
    db().add(row)
    db().commit()
    return jsonify(serialize.channel(row)), 201


@bp.delete("/api/v1/communities/<slug>/channels/<int:channel_id>")
def delete_channel(slug: str, channel_id: int) -> tuple[str, int]:
    community = community_by_slug(slug, Role.MANAGER, "removing a channel")
    row = db().get(Channel, channel_id)
    if row is None or row.community_id != community.id:
        abort(404, "not_found", f"community {slug} has no channel {channel_id}")
    db().delete(row)
    db().commit()
    return "", 204
