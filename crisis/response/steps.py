"""Incident tasks from playbook steps: owners from roles, due times, overdue once.

Roles are filled when the incident opens (the first of `filled_by` that names somebody:
on call in a schedule, a user, or the longest-standing member with a community role),
and each step's task goes to whoever fills its owner role."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from crisis.clock import Clock
from crisis.db import sweep
from crisis.models import Incident, Responder, Task, User
from crisis.notify import outbox, recipients
from crisis.playbooks import parse_duration
from crisis.response.states import TASK, TASK_CLOSED, InvalidTransition, TaskStatus
from crisis.timeline import N_, Said, add_timeline, joined, said

TASK_STATUSES = tuple(s.value for s in TaskStatus)


class TaskError(ValueError):
    pass


def fill_roles(session: Session, incident: Incident, spec: dict[str, Any], now: datetime) -> dict[str, int]:
    """Pick one person per playbook role and record them as responders."""
    filled: dict[str, int] = {}
    for role, body in spec.get("roles", {}).items():
        for target in body.get("filled_by", []):
            (kind, value), = target.items()
            users, _reason = recipients.users_for(session, incident, kind, value, now)
            if users:
                filled[role] = users[0]
                break
    for role, user_id in filled.items():
        session.add(Responder(incident_id=incident.id, user_id=user_id, role=role, added_at=now))
    if "commander" in filled and incident.owner_id is None:
        incident.owner_id = filled["commander"]
    session.flush()
    names = {uid: (u.display_name or u.email) for uid in set(filled.values()) if (u := session.get(User, uid))}
    missing = sorted(set(spec.get("roles", {})) - set(filled))
    if filled or missing:
        text: Said = joined([said("%(role)s: %(who)s", words=("role",), role=role, who=names[uid])
                             for role, uid in filled.items()]) if filled else said(N_("nobody"))
        message = said(N_("Roles filled from the playbook: %(roles)s (unfilled: %(unfilled)s)"), roles=text,
                       unfilled=", ".join(missing)) if missing \
            else said(N_("Roles filled from the playbook: %(roles)s"), roles=text)
        add_timeline(session, incident, "assign", message, at=now, actor="playbook",
                     data={"roles": filled, "unfilled": missing})
    return filled


def create_from_playbook(session: Session, incident: Incident, spec: dict[str, Any], roles: dict[str, int],
                         now: datetime) -> list[Task]:
    tasks = []
    for position, step in enumerate(spec.get("steps", [])):
        task = Task(incident_id=incident.id, step_id=step["id"], position=position, title=step["title"],
                    instructions=step.get("instructions", ""), owner_role=step["owner"],
                    owner_id=roles.get(step["owner"]), required=step.get("required", True), status="open",
                    due_at=now + parse_duration(step["due"]), created_at=now)
        session.add(task)
        tasks.append(task)
    session.flush()
    return tasks


def add_postmortem_task(session: Session, incident: Incident, spec: dict[str, Any], now: datetime) -> Task | None:
    """A required postmortem becomes a task for the commander, listing its sections."""
    postmortem = spec.get("postmortem") or {}
    if incident.severity not in postmortem.get("required_for", []):
        return None
    existing = session.scalar(select(Task).where(Task.incident_id == incident.id, Task.step_id == "postmortem"))
    if existing is not None:
        return None
    sections = "\n".join(f"## {s}\n" for s in postmortem.get("sections", []))
    position = len(spec.get("steps", []))
    task = Task(incident_id=incident.id, step_id="postmortem", position=position, title="Write the postmortem",
                instructions=f"Write and circulate the postmortem with these sections:\n\n{sections}",
                owner_role="commander", owner_id=incident.owner_id, required=True, status="open",
                due_at=now + parse_duration(postmortem.get("due", "7d")), created_at=now)
    session.add(task)
    session.flush()
    add_timeline(session, incident, "task", said(N_("Postmortem required for %(severity)s: task created"),
                                                 severity=incident.severity),
                 at=now, actor="playbook", data={"task_id": task.id})
    return task


def update_task(session: Session, incident: Incident, task: Task, *, status: str | None, owner_id: int | None,
                actor_user_id: int, actor_label: str, now: datetime) -> Task:
    if status is not None and status not in TASK_STATUSES:
        raise TaskError(f"status: {status!r} is not one of {', '.join(TASK_STATUSES)}")
    if status == "skipped" and task.required:
        raise TaskError(f"status: step {task.step_id!r} is required and cannot be skipped")
    changes: list[Said | str] = []
    if status is not None and status != task.status:
        try:
            new = TASK.move(task.status, status)
        except InvalidTransition as exc:
            raise TaskError(f"status: {exc}") from None
        changes.append(said(N_("%(old)s → %(new)s"), words=("old", "new"), old=task.status, new=new.value))
        task.status = new.value
        task.completed_at = now if new in TASK_CLOSED else None
        task.completed_by_id = actor_user_id if new in TASK_CLOSED else None
    if owner_id is not None and owner_id != task.owner_id:
        user = session.get(User, owner_id)
        changes.append(said(N_("owner → %(owner)s"), owner=(user.display_name or user.email) if user else owner_id))
        task.owner_id = owner_id
    if changes:
        add_timeline(session, incident, "task", said(N_("Task %(title)r: %(changes)s"), title=task.title,
                                                     changes=joined(changes)), at=now,
                     actor=actor_label, actor_user_id=actor_user_id, data={"task_id": task.id, "step": task.step_id})
    return task


def _overdue(session: Session, now: datetime, limit: int) -> list[int]:
    return list(session.scalars(
        select(Task.id).join(Incident, Incident.id == Task.incident_id)
        .where(Task.status == "open", Task.due_at <= now, Task.overdue_notified_at.is_(None),
               Incident.status != "resolved")
        .order_by(Task.due_at).limit(limit)))


def notify_overdue_one(session: Session, task_id: int, now: datetime) -> bool:
    claimed = session.execute(update(Task).where(Task.id == task_id, Task.overdue_notified_at.is_(None),
                                                 Task.status == "open")
                              .values(overdue_notified_at=now), execution_options={"synchronize_session": False})
    if claimed.rowcount != 1:  # type: ignore[attr-defined]  # -- an UPDATE's Result is a CursorResult
        return False
    task = session.get(Task, task_id)
    assert task is not None
    incident = session.get(Incident, task.incident_id)
    assert incident is not None
    targets: list[dict[str, str]] = [{"incident_role": "commander"}]
    owner = session.get(User, task.owner_id) if task.owner_id else None
    if owner is not None:
        targets.insert(0, {"user": owner.email})
    late = now - task.due_at if task.due_at else timedelta(0)
    result = outbox.notify(session, incident, "task_overdue", targets, cause=f"task{task.id}:overdue", now=now,
                           extra={"task": {"title": task.title, "step": task.step_id,
                                           "owner": (owner.display_name or owner.email) if owner else "",
                                           "late_minutes": int(late.total_seconds() // 60)}})
    add_timeline(session, incident, "task", said(N_("Task %(title)r is overdue; notified %(who)s"), title=task.title,
                                                 who=result.summary), at=now,
                 actor="tasks", data={"task_id": task.id, "recipients": result.labels})
    return True


def notify_overdue(sessions: sessionmaker[Session], *, clock: Clock, limit: int = 200) -> int:
    return sweep(sessions, _overdue, notify_overdue_one, now=clock.now(), limit=limit)
