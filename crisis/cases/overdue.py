"""Overdue cases notify once, like overdue tasks (crisis.response.steps): the case's owner,
or when nobody owns it the community's moderators and everyone above them, plus whatever
alerts/routing.yaml routes for `case_overdue`."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from crisis import runtime
from crisis.cases.states import OPEN_VALUES
from crisis.clock import Clock
from crisis.db import sweep
from crisis.models import Case, Community, User
from crisis.notify import outbox, routing


def _overdue(session: Session, now: datetime, limit: int) -> list[int]:
    return list(session.scalars(select(Case.id).where(Case.status.in_(OPEN_VALUES), Case.due_at <= now,
                                                      Case.overdue_notified_at.is_(None))
                                .order_by(Case.due_at).limit(limit)))


def subject_label(case: Case) -> str:
    if case.subject_kind == "message":
        return f"message {case.subject_message_id or case.subject_link}" + (
            f" by {case.subject_member}" if case.subject_member else "")
    if case.subject_kind == "member":
        return f"member {case.subject_member}"
    return "general feedback"


def notify_overdue_one(session: Session, case_id: int, now: datetime) -> bool:
    claimed = session.execute(update(Case).where(Case.id == case_id, Case.overdue_notified_at.is_(None),
                                                 Case.status.in_(OPEN_VALUES))
                              .values(overdue_notified_at=now), execution_options={"synchronize_session": False})
    if claimed.rowcount != 1:  # type: ignore[attr-defined]  # -- an UPDATE's Result is a CursorResult
        return False
    case = session.get(Case, case_id)
    assert case is not None
    community = session.get(Community, case.community_id)
    assert community is not None
    owner = session.get(User, case.owner_id) if case.owner_id else None
    targets: list[dict[str, str]] = [{"user": owner.email}] if owner is not None else [{"role": "moderator"}]
    targets += routing.load().targets_for(community=community.slug, kind="case", severity="", event="case_overdue")
    late = int((now - case.due_at).total_seconds() // 60)
    url = f"{runtime.current().config.base_url}/c/{community.slug}/queue"
    outbox.notify_community(session, community, "case_overdue", targets, cause=f"case{case.id}:overdue", now=now,
                            context={"case": {"id": case.id, "category": case.category,
                                              "subject": subject_label(case), "late_minutes": late,
                                              "owner": (owner.display_name or owner.email) if owner else "",
                                              "url": url}})
    return True


def notify_overdue(sessions: sessionmaker[Session], *, clock: Clock, limit: int = 200) -> int:
    return sweep(sessions, _overdue, notify_overdue_one, now=clock.now(), limit=limit)
