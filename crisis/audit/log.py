"""Writing audit rows. Nothing here commits: the row joins the caller's transaction, so an
act that rolls back leaves no record of something that did not happen, and an act that
commits cannot lose its record."""
from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any

from flask import current_app, has_app_context, has_request_context, request
from sqlalchemy.orm import Session

from crisis import runtime
from crisis.clock import isoformat
from crisis.models import AuditEntry

# Dotted lower-case names: "token.create", "login.failed", "data.erased".
ACTION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){0,3}$")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return isoformat(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


def _document(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """A plain JSON copy: the caller's dict may be the very object it goes on to change."""
    if value is None:
        return None
    copied: dict[str, Any] = json.loads(json.dumps(value, default=_jsonable))
    return copied


def _now() -> datetime:
    # The app's runtime when serving (tests run several apps, each with its clock), else the process's.
    rt = current_app.extensions["crisis"] if has_app_context() else runtime.current()
    now: datetime = rt.clock.now()
    return now


def request_origin() -> str | None:
    """The client address of the request being served, if any (the CLI and jobs have none).
    Behind a TLS proxy ProxyFix has already put the client's address here (crisis.app)."""
    if has_request_context():
        return request.remote_addr
    return None


def record(session: Session, *, community_id: int | None, actor: str, action: str, target: str = "",
           before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
           remote_addr: str | None = None, actor_user_id: int | None = None,
           subject_user_id: int | None = None, at: datetime | None = None) -> AuditEntry:
    """Append one audit row to the caller's transaction and return it (its id is set at flush).

    `community_id` None is for acts of no one community (a login, a personal token, a shared
    playbook); `subject_user_id` names the user such an act concerns, so the admins of that
    user's communities see it (crisis.audit.query). `remote_addr` defaults to the address of
    the request being served. `before`/`after` hold what changed, as JSON."""
    if not ACTION.match(action):
        raise ValueError(f"action: {action!r} must be a dotted lower-case name such as token.create")
    entry = AuditEntry(
        at=at or _now(), community_id=community_id, actor=(actor or "system")[:200],
        actor_user_id=actor_user_id, subject_user_id=subject_user_id, action=action, target=target[:300],
        before=_document(before), after=_document(after),
        remote_addr=(remote_addr if remote_addr is not None else request_origin() or "")[:64] or None)
    session.add(entry)
    return entry


def changes(old: dict[str, Any], new: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(before, after) restricted to the keys whose value differs: what a settings change changed."""
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return {k: old.get(k) for k in keys}, {k: new.get(k) for k in keys}
