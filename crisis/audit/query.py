"""Reading the audit log: what one community's admins may see, filtered and paged.

A community's admins see the rows of their community, the rows about a user who is staff
there (logins, personal tokens: `community_id` None, `subject_user_id` set), and the rows
about playbooks, which every community shares. Rows about nobody in particular (a failed
login for an unknown address) are for operators only (`crisis audit export`)."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.orm import Session

from crisis.clock import isoformat
from crisis.models import AuditEntry, Membership

PAGE = 100
MAX_PAGE = 1000
SHARED_PREFIX = "playbook."


class BadFilter(ValueError):
    """A filter the log cannot apply; the message names the parameter."""


@dataclass(frozen=True)
class Filters:
    actor: str = ""  # a part of the actor, any case
    action: str = ""  # an exact action, or a prefix ending in "." ("token.")
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


def _time(name: str, raw: str, *, end_of_day: bool) -> datetime:
    """An RFC 3339 time, or a date: its start (since) or the start of the next day (until)."""
    text = raw.strip()
    try:
        if len(text) == 10:
            day = datetime.fromisoformat(text).replace(tzinfo=timezone.utc)
            return day + timedelta(days=1) if end_of_day else day
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadFilter(f"{name}: {text[:40]!r} is not a date (2026-10-05) or a time with a zone") from None
    if parsed.tzinfo is None:
        raise BadFilter(f"{name}: a time needs a zone (2026-10-05T12:00:00Z)")
    return parsed


def parse_filters(args: Mapping[str, str]) -> Filters:
    since = _time("since", args["since"], end_of_day=False) if args.get("since", "").strip() else None
    until = _time("until", args["until"], end_of_day=True) if args.get("until", "").strip() else None
    if since and until and until <= since:
        raise BadFilter("until: must be after since")
    actor, action = args.get("actor", "").strip(), args.get("action", "").strip()
    if len(actor) > 200 or len(action) > 64:
        raise BadFilter("actor: at most 200 characters; action: at most 64")
    return Filters(actor=actor, action=action, since=since, until=until)


def parse_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return PAGE
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise BadFilter(f"limit: must be a whole number from 1 to {MAX_PAGE}")
    return int(raw)


def visible_to(community_id: int) -> ColumnElement[bool]:
    staff = select(Membership.user_id).where(Membership.community_id == community_id).scalar_subquery()
    return or_(AuditEntry.community_id == community_id,
               and_(AuditEntry.community_id.is_(None),
                    or_(AuditEntry.subject_user_id.in_(staff), AuditEntry.action.startswith(SHARED_PREFIX))))


def _filtered(community_id: int | None, filters: Filters) -> Select[Any]:
    query = select(AuditEntry)
    if community_id is not None:
        query = query.where(visible_to(community_id))
    if filters.actor:
        query = query.where(AuditEntry.actor.icontains(filters.actor, autoescape=True))
    if filters.action.endswith("."):
        query = query.where(AuditEntry.action.startswith(filters.action, autoescape=True))
    elif filters.action:
        query = query.where(AuditEntry.action == filters.action)
    if filters.since:
        query = query.where(AuditEntry.at >= filters.since)
    if filters.until:
        query = query.where(AuditEntry.at < filters.until)
    return query


def page(session: Session, community_id: int | None, filters: Filters, *, limit: int = PAGE,
         before_id: int | None = None) -> tuple[list[AuditEntry], int | None]:
    """Newest first: up to `limit` rows older than `before_id`, and the id to ask for the
    next page with (None on the last page). `community_id` None reads every row (operators)."""
    query = _filtered(community_id, filters)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    rows = list(session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)


def stream(session: Session, community_id: int | None, filters: Filters, *, batch: int = 1000
           ) -> Iterator[AuditEntry]:
    """Every matching row, newest first, read in keyset pages so an export of a long log
    never holds it all in memory."""
    before: int | None = None
    while True:
        rows, before = page(session, community_id, filters, limit=batch, before_id=before)
        yield from rows
        if before is None:
            return


def actions(session: Session, community_id: int) -> list[str]:
    """The actions present in what the community's admins see, for the filter's choices."""
    return list(session.scalars(select(AuditEntry.action).where(visible_to(community_id)).distinct()
                                .order_by(AuditEntry.action)))


def as_dict(entry: AuditEntry) -> dict[str, Any]:
    return {"id": entry.id, "at": isoformat(entry.at), "community_id": entry.community_id, "actor": entry.actor,
            "actor_user_id": entry.actor_user_id, "subject_user_id": entry.subject_user_id, "action": entry.action,
            "target": entry.target, "before": entry.before, "after": entry.after, "remote_addr": entry.remote_addr}
