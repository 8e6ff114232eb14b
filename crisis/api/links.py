"""/api/v1/communities/<slug>/links: a community's platform links, their health, and new
Matrix links (the tokens and registration are in the answer once, never again)."""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, jsonify

from crisis.api.errors import abort
from crisis.api.staff import community_by_slug, current_user, field, json_body
from crisis.bridges import health, links
from crisis.bridges.matrix.registration import registration
from crisis.models import Role
from crisis.tenancy.communities import Conflict
from crisis.webctx import db, rt

bp = Blueprint("api_links", __name__)


@bp.get("/api/v1/communities/<slug>/links")
def list_links(slug: str) -> Response:
    community = community_by_slug(slug, Role.MANAGER, "reading platform links")
    return jsonify({"links": [health.summary(link, rt().clock.now()) for link in links.links_of(db(), community.id)]})


@bp.post("/api/v1/communities/<slug>/links")
def add_link(slug: str) -> tuple[Response, int]:
    community = community_by_slug(slug, Role.ADMIN, "linking a platform")
    body = json_body()
    platform = field(body, "platform", str)
    if platform not in links.PLATFORMS:
        abort(422, "invalid", f"platform: {platform!r} is not one of {', '.join(links.PLATFORMS)}", field="platform")
    rooms = field(body, "rooms", list)
    if not rooms or not all(isinstance(r, str) for r in rooms):
        abort(422, "invalid", "rooms: must be a non-empty list of '!room' or '!room=channel' strings", field="rooms")
    minutes = field(body, "silence_after_minutes", int, required=False, default=60)
    if not 5 <= minutes <= 10080:
        abort(422, "invalid", "silence_after_minutes: must be 5 to 10080", field="silence_after_minutes")
    try:
        issued = links.create_matrix_link(
            db(), community, homeserver=field(body, "homeserver", str), server_name=field(body, "server_name", str),
            rooms=links.parse_rooms(rooms), secret_key=rt().config.secret_key, clock=rt().clock,
            name=field(body, "name", str, required=False, default="matrix"),
            admin_token=field(body, "admin_token", str, required=False),
            silence_after=timedelta(minutes=minutes), actor=current_user().email, actor_user_id=current_user().id)
    except Conflict as exc:
        abort(409, "conflict", str(exc))
    except links.LinkError as exc:
        message = str(exc)
        abort(422, "invalid", message, field=message.split(":", 1)[0])
    document = registration(issued, crisis_url=field(body, "crisis_url", str, required=False,
                                                     default=rt().config.base_url))
    db().commit()
    resp = jsonify({"link": health.summary(issued.link, rt().clock.now()), "registration": document,
                    "note": "the registration holds both tokens; they are shown this once"})
    resp.headers["Cache-Control"] = "no-store"  # the tokens must not stay in any cache
    return resp, 201
