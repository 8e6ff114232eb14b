"""/api/v1/communities/<slug>/channels: where a community's team and stakeholders hear about incidents."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import select

from crisis.api import serialize
from crisis.api.errors import abort
from crisis.api.staff import community_by_slug, current_user, field, json_body
from crisis.models import Channel, Role
from crisis.notify import destinations
from crisis.webctx import db, rt

bp = Blueprint("api_channels", __name__)


@bp.get("/api/v1/communities/<slug>/channels")
def list_channels(slug: str) -> Response:
    community = community_by_slug(slug)
    rows = db().scalars(select(Channel).where(Channel.community_id == community.id).order_by(Channel.name))
    return jsonify({"channels": [serialize.channel(c) for c in rows]})


@bp.post("/api/v1/communities/<slug>/channels")
def add_channel(slug: str) -> tuple[Response, int]:
    community = community_by_slug(slug, Role.MANAGER, "adding a channel")
    body = json_body()
    try:
        row = destinations.add_channel(
            db(), community, name=field(body, "name", str),
            purpose=field(body, "purpose", str, required=False, default="team"),
            url=field(body, "url", str), now=rt().clock.now(), actor=current_user().email,
            actor_user_id=current_user().id)
    except destinations.DuplicateDestination as exc:
        abort(409, "conflict", str(exc), field=exc.field)
    except destinations.DestinationError as exc:
        abort(422, "invalid", str(exc), field=exc.field)
    db().commit()
    return jsonify(serialize.channel(row)), 201


@bp.delete("/api/v1/communities/<slug>/channels/<int:channel_id>")
def delete_channel(slug: str, channel_id: int) -> tuple[str, int]:
    community = community_by_slug(slug, Role.MANAGER, "removing a channel")
    row = db().get(Channel, channel_id)
    if row is None or row.community_id != community.id:
        abort(404, "not_found", f"community {slug} has no channel {channel_id}")
    destinations.remove_channel(db(), row, actor=current_user().email, actor_user_id=current_user().id)
    db().commit()
    return "", 204
