"""Bearer tokens: ingest tokens speak for one community, personal tokens for a user.

Refusals, in this order: 401 unknown or revoked, 401 expired (saying when), 403 outside
the token's scopes (naming the scope the route needs)."""
from __future__ import annotations

from flask import g, request
from sqlalchemy import update

from crisis.api import scopes
from crisis.api.errors import abort
from crisis.clock import isoformat
from crisis.models import ApiToken
from crisis.tenancy import tokens
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
    token = tokens.find(db(), bearer_value())
    if token is None or token.revoked_at is not None:
        abort(401, "unauthorized", "unknown or revoked token")
    check_live(token)
    g.api_token = token
    return token


def check_live(token: ApiToken) -> None:
    """401 for a token past its expiry, saying when it expired."""
    if tokens.expired(token, rt().clock.now()):
        assert token.expires_at is not None
        when = isoformat(token.expires_at)
        abort(401, "token_expired", f"this token expired at {when}; issue a new one (the Tokens page, or "
              "crisis user token / crisis token create)", expired_at=when,
              headers={"WWW-Authenticate": 'Bearer error="invalid_token", error_description="the token expired"'})


def check_scope(token: ApiToken) -> None:
    """403 naming the scope this route needs when the token does not hold it (RFC 6750's
    insufficient_scope)."""
    needed = scopes.needed(request.endpoint)
    if not tokens.allows(token, needed):
        held = ", ".join(token.scopes or []) or "none"
        abort(403, "insufficient_scope", f"this token lacks the {needed} scope, which {request.method} "
              f"{request.path} needs (its scopes: {held})", scope=needed,
              headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{needed}"'})


def _stale(token: ApiToken) -> bool:
    # At most once a minute, so hot paths don't write the token row on every request.
    last = token.last_used_at
    return last is None or (rt().clock.now() - last).total_seconds() > 60


def touch(token: ApiToken) -> None:
    """Record use in the request's transaction (the ingest path commits it with the batch)."""
    if _stale(token):
        db().execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=rt().clock.now()),
                     execution_options={"synchronize_session": False})


def touch_now(token: ApiToken) -> None:
    """Record use in a transaction of its own: most staff requests only read and never
    commit, and the Tokens page must still show when a token was last used."""
    if _stale(token):
        with rt().single_writer, rt().engine.begin() as conn:
            conn.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=rt().clock.now()))
