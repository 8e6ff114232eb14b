"""Moderation tasks: a penalty's platform action for a person to carry out (no bridge, or
the platform refused), listed on the review queue, done by a click, and notified once when
overdue, like incident tasks (crisis.response.steps)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from crisis import runtime
from crisis.clock import Clock
from crisis.db import sweep
from crisis.models import Community, ModerationTask
from crisis.moderation.states import MODERATION_TASK, TaskStatus
from crisis.notify import outbox
from crisis.statemachine import InvalidTransition

T = TaskStatus


class TaskError(ValueError):
    pass


def open_in(session: Session, community_id: int) -> list[ModerationTask]:
    return list(session.scalars(select(ModerationTask).where(ModerationTask.community_id == community_id,
                                                             ModerationTask.status == T.OPEN.value)
                                .order_by(ModerationTask.due_at)))


def for_action(session: Session, action_id: int) -> list[ModerationTask]:
    return list(session.scalars(select(ModerationTask).where(ModerationTask.action_id == action_id)
                                .order_by(ModerationTask.id)))


def mark_done(session: Session, task: ModerationTask, *, user_id: int, now: datetime) -> ModerationTask:
    try:
        task.status = MODERATION_TASK.move(task.status, T.DONE).value
    except InvalidTransition as exc:
        raise TaskError(f"status: {exc}") from None
    task.done_by_id, task.done_at = user_id, now
    return task


def _overdue(session: Session, now: datetime, limit: int) -> list[int]:
    return list(session.scalars(select(ModerationTask.id).where(
        ModerationTask.status == T.OPEN.value, ModerationTask.due_at <= now,
        ModerationTask.overdue_notified_at.is_(None)).order_by(ModerationTask.due_at).limit(limit)))


def notify_overdue_one(session: Session, task_id: int, now: datetime) -> bool:
    claimed = session.execute(update(ModerationTask).where(ModerationTask.id == task_id,
                                                           ModerationTask.overdue_notified_at.is_(None),
                                                           ModerationTask.status == T.OPEN.value)
                              .values(overdue_notified_at=now), execution_options={"synchronize_session": False})
    if claimed.rowcount != 1:  # type: ignore[attr-defined]  # -- an UPDATE's Result is a CursorResult
        return False
    task = session.get(ModerationTask, task_id)
    assert task is not None
    community = session.get(Community, task.community_id)
    assert community is not None
    late = int((now - task.due_at).total_seconds() // 60)
    url = f"{runtime.current().config.base_url}/c/{community.slug}/queue#tasks"
    # Who works the queue: the community's moderators and everyone above them.
    outbox.notify_community(session, community, "moderation_task_overdue", [{"role": "moderator"}],
                            cause=f"mtask{task.id}:overdue", now=now,
                            context={"mtask": {"title": task.title, "instructions": task.instructions,
                                               "late_minutes": late, "url": url}})
    return True


def notify_overdue(sessions: sessionmaker[Session], *, clock: Clock, limit: int = 200) -> int:
    return sweep(sessions, _overdue, notify_overdue_one, now=clock.now(), limit=limit)
