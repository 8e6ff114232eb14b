"""Request-scoped access to the runtime and a database session."""
from __future__ import annotations

from flask import current_app, g
from sqlalchemy.orm import Session

from crisis.runtime import Runtime


def rt() -> Runtime:
    return current_app.extensions["crisis"]  # type: ignore[no-any-return]


def db() -> Session:
    session: Session | None = g.get("db_session")
    if session is None:
        session = g.db_session = rt().sessions()
    return session
