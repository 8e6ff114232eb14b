"""Bearer tokens: ingest tokens speak for one community, personal tokens for a user."""
from __future__ import annotations

from flask import g, request
from sqlalchemy import update

from crisis.api.errors import abort
from crisis.models import ApiToken
from crisis.tenancy.communities import find_token
from crisis.webctx import db, rt


def bearer_value() -> str:
    """The token of the request's `Authorization: Bearer <token>` header, or a 401."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if not header:
        abort(401, "unauthorized", "missing Authorization header (expected 'Bearer <token>')")
    if scheme.lower() != "bearer" or not value.strip():
        abort(401, "unauthorized", "the Authorization header must be 'Bearer <token>'")
    return value.strip()


def bearer_token() -> ApiToken:
    token = find_token(db(), bearer_value())
    if token is None:
        abort(401, "unauthorized", "unknown or revoked token")
    g.api_token = token
    return token


def touch(token: ApiToken) -> None:
    """Record use at most once a minute, so hot ingest paths don't write every time."""
    now = rt().clock.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        db().execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now),
                     execution_options={"synchronize_session": False})
