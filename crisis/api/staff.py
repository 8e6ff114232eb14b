"""Personal-token authentication for staff routes, and tenant scoping.

Every object belongs to a community. A caller with no role there gets 404, the same
answer as for an object that does not exist, so ids cannot be probed across tenants;
a caller with too small a role gets 403 naming the role needed. The token must also hold
the scope the route needs (crisis.api.scopes), whatever the role: 403 naming the scope."""
from __future__ import annotations

import json
from typing import Any, Protocol, TypeVar

from flask import g, request
from sqlalchemy import select

from crisis.api.auth import bearer_token, check_scope, touch_now
from crisis.api.errors import abort
from crisis.models import Community, Membership, Role, User
from crisis.tenancy import scope
from crisis.webctx import db


def current_user() -> User:
    user: User | None = g.get("staff_user")
    if user is not None:
        return user
    token = bearer_token()
    if token.kind != "personal" or token.user_id is None:
        abort(403, "forbidden", "this route takes a personal token (crisis user token); ingest tokens cannot use it")
    check_scope(token)
    user = db().get(User, token.user_id)
    if user is None:
        abort(401, "unauthorized", "the token's user no longer exists")
    touch_now(token)
    g.staff_user = user
    return user


def require(community_id: int, minimum: Role, what: str, *, not_found: str) -> Role:
    """404 `not_found` unless the caller is staff of the community; 403 below `minimum`."""
    try:
        return scope.role_for(db(), current_user().id, community_id, minimum)
    except scope.OutsideCommunity:
        abort(404, "not_found", not_found)
    except scope.BelowRole as exc:
        abort(403, "forbidden", f"{what} {exc}")


def community_by_slug(slug: str, minimum: Role = Role.MODERATOR, what: str = "this") -> Community:
    community = db().scalar(select(Community).where(Community.slug == slug))
    if community is None:
        abort(404, "not_found", f"no community {slug!r}")
    require(community.id, minimum, what, not_found=f"no community {slug!r}")
    return community


class _InCommunity(Protocol):
    @property
    def community_id(self) -> int: ...


Row = TypeVar("Row", bound=_InCommunity)


def community_row(model: type[Row], row_id: int, noun: str, minimum: Role, what: str) -> Row:
    """The row with this id: 404 "no <noun> <id>" alike when it is missing or in another community."""
    row = db().get(model, row_id)
    missing = f"no {noun} {row_id}"
    if row is None:
        abort(404, "not_found", missing)
    require(row.community_id, minimum, what, not_found=missing)
    return row


def my_community_ids() -> list[int]:
    return list(db().scalars(select(Membership.community_id).where(Membership.user_id == current_user().id)))


def json_body() -> dict[str, Any]:
    if not request.data:
        return {}
    if request.mimetype != "application/json":
        abort(415, "unsupported_media_type", f"send application/json, not {request.mimetype or 'no Content-Type'}")
    try:
        body = json.loads(request.get_data())
    except (ValueError, UnicodeDecodeError) as exc:
        abort(400, "bad_json", f"the body is not valid JSON: {exc}")
    if not isinstance(body, dict):
        abort(400, "bad_body", "the body must be a JSON object")
    return body


def field(body: dict[str, Any], name: str, kind: type | tuple[type, ...], *, required: bool = True,
          default: Any = None) -> Any:
    if name not in body or body[name] is None:
        if required:
            abort(422, "invalid", f"{name}: is required", field=name)
        return default
    value = body[name]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        abort(422, "invalid", f"{name}: must be {names}, got {type(value).__name__}", field=name)
    return value


def unprocessable(message: str) -> None:
    """Service errors say 'field: problem'; pass the field through for clients."""
    field_name = message.split(":", 1)[0] if ":" in message else ""
    abort(422, "invalid", message, **({"field": field_name} if field_name and " " not in field_name else {}))
