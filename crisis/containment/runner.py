"""Carry out containment actions from their committed rows: apply, revert on expiry or undo,
release one account. Shaped like notification delivery (crisis.notify.deliver):

1. claim with a conditional UPDATE (approved → applying, applied → expiring): one worker
   wins however many jobs and sweepers race for the row;
2. read the platform's state and write the receipt before changing anything, so a retry
   after a worker died mid-action never records crisis's own change as "what was there";
3. call the platform outside any transaction, recording progress per chunk of accounts;
4. record the outcome: applied / reverted; transient failures go back with a backoff;
   permanent ones become failed, with the platform's words and a task for a person.

Every entry point is idempotent and takes an id, so the rq job, its scheduled retries and
the sweeper can all call it."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from crisis.bridges.base import ActionFailed, Executor, Plan
from crisis.clock import Clock
from crisis.containment import kinds, report
from crisis.containment.service import describe, record, spoken, timeline_note
from crisis.containment.states import ACTION, ActionStatus
from crisis.db import session_scope
from crisis.jobs import ringer
from crisis.models import ContainmentAction, Incident, ModerationTask, Task
from crisis.timeline import N_, said

log = logging.getLogger(__name__)
A = ActionStatus
MAX_ATTEMPTS = 8
CHUNK = 10  # accounts per recorded step: a crash repeats at most this many platform calls
STALE = timedelta(minutes=10)  # a claim older than this belongs to a worker that died (jobs time out at 5)

# Finds the executor for an action's row (None: carried out by hand, as a task).
Executors = Callable[[Session, ContainmentAction], Executor | None]


def backoff(attempt: int) -> timedelta:
    return timedelta(seconds=min(5 * 2 ** max(attempt - 1, 0), 600))


@dataclass
class Outcome:
    step: str  # apply | revert | release | none
    result: str  # applied | reverted | released | retry | failed | skipped
    retry_at: datetime | None = None


def run(sessions: sessionmaker[Session], action_id: int, *, clock: Clock, executors: Executors) -> Outcome:
    """Do whatever is due for this action now."""
    with sessions() as session:
        action = session.get(ContainmentAction, action_id)
        if action is None:
            return Outcome("none", "skipped")
        status, due = action.status, action.next_attempt_at
        releasing = any(t.get("state") == "releasing" for t in action.targets)
        expires = action.expires_at
    now = clock.now()
    if due is None or due > now:
        return Outcome("none", "skipped")
    if status == A.APPROVED:
        return _apply(sessions, action_id, clock=clock, executors=executors)
    if status == A.APPLIED and releasing:
        return _release(sessions, action_id, clock=clock, executors=executors)
    if status == A.APPLIED and expires is not None and expires <= now:
        return _revert(sessions, action_id, clock=clock, executors=executors)
    return Outcome("none", "skipped")


def _plan(action: ContainmentAction, incident: Incident | None) -> Plan:
    reason = action.reason or (f"crisis incident #{incident.id}: {incident.title}" if incident else "crisis")
    return Plan(action_id=action.id, kind=action.kind, params=dict(action.params), rooms=tuple(action.rooms),
                reason=reason[:250])


def _claim(session: Session, action_id: int, old: ActionStatus, new: ActionStatus, now: datetime) -> bool:
    extra: list[Any] = []
    if old == A.APPLIED:  # a release in progress holds the row too
        extra.append(or_(ContainmentAction.claimed_at.is_(None), ContainmentAction.claimed_at < now - STALE))
    result = session.execute(
        update(ContainmentAction)
        .where(ContainmentAction.id == action_id, ContainmentAction.status == old.value,
               ContainmentAction.next_attempt_at <= now, *extra)
        .values(status=ACTION.move(old, new).value, claimed_at=now, attempts=ContainmentAction.attempts + 1,
                updated_at=now), execution_options={"synchronize_session": False})
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]  # -- an UPDATE's Result is a CursorResult


def _load(session: Session, action_id: int) -> tuple[ContainmentAction, Incident | None]:
    """The action and its incident (None: the action carries out a penalty)."""
    action = session.get(ContainmentAction, action_id)
    assert action is not None
    session.refresh(action)
    incident = session.get(Incident, action.incident_id) if action.incident_id is not None else None
    assert incident is not None or action.incident_id is None
    return action, incident


def _human_task(session: Session, incident: Incident | None, action: ContainmentAction, title: str,
                instructions: str, now: datetime) -> Task | ModerationTask:
    """A task for a person: on the incident, or (a penalty's action) the community's moderation tasks."""
    if incident is None:
        mod_task = ModerationTask(community_id=action.community_id, action_id=action.id, title=title[:300],
                                  instructions=instructions, status="open", due_at=now + timedelta(minutes=15),
                                  created_at=now)
        session.add(mod_task)
        session.flush()
        return mod_task
    step = f"containment-{action.id}" + ("-undo" if action.task_id else "")
    position = len(session.scalars(select(Task.id).where(Task.incident_id == incident.id)).all())
    task = Task(incident_id=incident.id, step_id=step[:64], position=position, title=title[:300],
                instructions=instructions, owner_role="commander", owner_id=incident.owner_id, required=True,
                status="open", due_at=now + timedelta(minutes=15), created_at=now)
    session.add(task)
    session.flush()
    action.task_id = task.id
    return task


# ---- apply -------------------------------------------------------------------------------------
def _apply(sessions: sessionmaker[Session], action_id: int, *, clock: Clock, executors: Executors) -> Outcome:
    with session_scope(sessions) as session:
        if not _claim(session, action_id, A.APPROVED, A.APPLYING, clock.now()):
            return Outcome("apply", "skipped")
        action, incident = _load(session, action_id)
        record(session, action, A.APPROVED.value, actor="runner", now=clock.now(), note=f"attempt {action.attempts}")
        executor = executors(session, action)
        if executor is None:
            return _apply_by_hand(session, action, incident, clock.now())
        plan, receipt = _plan(action, incident), dict(action.receipt or {})
        pending = [t["account"] for t in action.targets if t["state"] == "pending"]
    try:
        if not receipt:
            prepared = executor.prepare(plan, pending)
            receipt = prepared.receipt
            with session_scope(sessions) as session:
                action, _ = _load(session, action_id)
                if not action.receipt:
                    action.receipt = receipt
                    action.targets = [dict(t, state="skipped", why=prepared.protected[t["account"]])
                                      if t["state"] == "pending" and t["account"] in prepared.protected else t
                                      for t in action.targets]
                    action.excluded = [*action.excluded, *({"account": t["account"], "why": t["why"]}
                                                           for t in action.targets if t["state"] == "skipped")]
                pending = [t["account"] for t in action.targets if t["state"] == "pending"]
                receipt = dict(action.receipt)
        if kinds.get(plan.kind).aims_at == "room":
            rooms_done = executor.apply(plan, receipt, list(plan.rooms))
            with session_scope(sessions) as session:
                action, _ = _load(session, action_id)
                action.receipt = {**action.receipt, "applied": rooms_done}
        else:
            for i in range(0, len(pending), CHUNK):
                chunk = pending[i:i + CHUNK]
                done = executor.apply(plan, receipt, chunk)
                with session_scope(sessions) as session:
                    action, _ = _load(session, action_id)
                    action.targets = [dict(t, state="done", note=done[t["account"]]) if t["account"] in done else t
                                      for t in action.targets]
    except ActionFailed as exc:
        return _failed(sessions, action_id, exc, _APPLY, clock=clock)
    with session_scope(sessions) as session:
        action, incident = _load(session, action_id)
        now = clock.now()
        action.status = ACTION.move(action.status, A.APPLIED).value
        action.applied_at, action.claimed_at, action.last_error, action.updated_at = now, None, "", now
        if action.expires_after_s and kinds.get(action.kind).reversible:
            action.expires_at = now + timedelta(seconds=action.expires_after_s)
        action.next_attempt_at = action.expires_at
        record(session, action, A.APPLYING.value, actor="runner", now=now)
        left_out = [t for t in action.targets if t["state"] == "skipped"]
        timeline_note(session, action, f"Applied: {describe(action)}"
                      + (f"; left out {len(left_out)} (" + ", ".join(sorted({t['why'] for t in left_out})) + ")"
                         if left_out else "")
                      + (f"; reverts itself at {action.expires_at:%H:%M} UTC" if action.expires_at else ""),
                      at=now, actor="containment",
                      data={"action_id": action.id, "kind": action.kind, "status": "applied",
                            "approved_by": action.approved_by, "accounts": sum(t["state"] == "done"
                                                                               for t in action.targets),
                            "rooms": action.receipt.get("applied", {})})
        if action.expires_at is not None:
            ringer.note_containment(session, action.id, at=action.expires_at)
    return Outcome("apply", "applied")


def _apply_by_hand(session: Session, action: ContainmentAction, incident: Incident | None,
                   now: datetime) -> Outcome:
    """No bridge: the approved action becomes a task for a person; its expiry, another task."""
    accounts = [t["account"] for t in action.targets]
    task = _human_task(session, incident, action, f"By hand: {describe(action)}",
                       "crisis has no bridge to this community's platform, so do this by hand:\n\n"
                       f"{kinds.get(action.kind).label}" + (f" for: {', '.join(accounts)}" if accounts else "")
                       + "\n\nWrite down what each setting was before, for the undo.", now)
    action.status = ACTION.move(action.status, A.APPLIED).value
    action.receipt = {"manual": True, ("task_id" if incident is not None else "moderation_task_id"): task.id}
    action.applied_at, action.claimed_at, action.updated_at = now, None, now
    if action.expires_after_s and kinds.get(action.kind).reversible:
        action.expires_at = now + timedelta(seconds=action.expires_after_s)
    action.next_attempt_at = action.expires_at
    action.targets = [dict(t, state="done", note="by hand") for t in action.targets]
    record(session, action, A.APPLYING.value, actor="runner", now=now, note=f"task {task.id}")
    timeline_note(session, action, said(N_("Handed to a person (no bridge): %(what)s"), what=spoken(action)), at=now,
                  actor="containment", data={"action_id": action.id, "kind": action.kind, "status": "applied",
                                             "task_id": task.id, "manual": True})
    if action.expires_at is not None:
        ringer.note_containment(session, action.id, at=action.expires_at)
    return Outcome("apply", "applied")


@dataclass(frozen=True)
class _Step:
    """What a failed apply or revert goes back to, and how its failure reads."""

    name: str
    claimed: ActionStatus  # the claim the failure ends
    retry_from: ActionStatus  # where a transient failure waits for its retry
    failed: str  # timeline prefix of a permanent failure
    retrying: str  # timeline prefix of a retry
    task_title: str
    task_text: str  # formatted with the error and the receipt's rooms


_APPLY = _Step("apply", A.APPLYING, A.APPROVED, "Failed ({why}): {what}", "Attempt {n} of {what} failed",
               "Do by hand: {what} ({why})", "crisis could not carry this out: {error}\n\nDo it on the platform by "
               "hand, or fix what the platform says and propose it again.")
_REVERT = _Step("revert", A.EXPIRING, A.APPLIED, "Undo failed: {what}", "Undo of {what} failed",
                "Undo by hand: {what}", "crisis could not undo this: {error}\n\nPut the settings back by hand "
                "(recorded before the change: {rooms}).")


def _failed(sessions: sessionmaker[Session], action_id: int, exc: ActionFailed, step: _Step, *,
            clock: Clock) -> Outcome:
    """Record a failed apply or revert: permanent (or out of attempts) ends the action failed
    with a task for a person; transient goes back to wait for its retry with a backoff."""
    with session_scope(sessions) as session:
        action, incident = _load(session, action_id)
        now = clock.now()
        error = exc.message[:500]
        action.last_error, action.claimed_at, action.updated_at = error, None, now
        words = {"what": describe(action), "error": exc.message, "n": action.attempts,
                 "rooms": action.receipt.get("rooms", {}),
                 "why": "the platform refused" if exc.permanent else f"gave up after {action.attempts} attempts"}
        if exc.permanent or action.attempts >= MAX_ATTEMPTS:
            action.status = ACTION.move(action.status, A.FAILED).value
            record(session, action, step.claimed.value, actor="runner", now=now, note=error)
            task = _human_task(session, incident, action, step.task_title.format(**words),
                               step.task_text.format(**words), now)
            timeline_note(session, action, step.failed.format(**words) + f": {exc.message}",
                          at=now, actor="containment", data={"action_id": action.id, "kind": action.kind,
                                                             "status": "failed", "error": error, "task_id": task.id})
            return Outcome(step.name, "failed")
        delay = backoff(action.attempts)
        action.status = ACTION.move(action.status, step.retry_from).value
        action.next_attempt_at = now + delay
        record(session, action, step.claimed.value, actor="runner", now=now, note=error)
        timeline_note(session, action, step.retrying.format(**words) + f": {exc.message}; "
                      f"retrying in {int(delay.total_seconds())}s", at=now, actor="containment",
                      data={"action_id": action.id, "status": "retry", "error": error})
        ringer.note_containment(session, action.id, at=action.next_attempt_at)
        return Outcome(step.name, "retry", action.next_attempt_at)


# ---- revert (expiry and undo) -------------------------------------------------------------------
def _revert(sessions: sessionmaker[Session], action_id: int, *, clock: Clock, executors: Executors) -> Outcome:
    with session_scope(sessions) as session:
        now = clock.now()
        if not _claim(session, action_id, A.APPLIED, A.EXPIRING, now):
            return Outcome("revert", "skipped")
        action, incident = _load(session, action_id)
        if action.expires_at is None or action.expires_at > now:  # undo withdrawn or expiry moved: not due
            action.status, action.claimed_at = ACTION.move(action.status, A.APPLIED).value, None
            return Outcome("revert", "skipped")
        record(session, action, A.APPLIED.value, actor=action.reverted_by or "expiry", now=now)
        executor = executors(session, action)
        if executor is None:
            task = _human_task(session, incident, action, f"Undo by hand: {describe(action)}",
                               "Put back each setting recorded when this was done.", now)
            return _reverted(session, action, incident, now, note=f"handed to a person: task {task.id}")
        plan, receipt = _plan(action, incident), dict(action.receipt)
        room_kind = kinds.get(action.kind).aims_at == "room"
        items = list(plan.rooms) if room_kind else [t["account"] for t in action.targets if t["state"] == "done"]
    try:
        done = executor.revert(plan, receipt, items) if items else {}
    except ActionFailed as exc:
        return _failed(sessions, action_id, exc, _REVERT, clock=clock)
    with session_scope(sessions) as session:
        action, incident = _load(session, action_id)
        if not room_kind:
            action.targets = [dict(t, state="reverted") if t["account"] in done else t for t in action.targets]
        action.receipt = {**action.receipt, "reverted": done} if room_kind else action.receipt
        return _reverted(session, action, incident, clock.now())


def _reverted(session: Session, action: ContainmentAction, incident: Incident | None, now: datetime,
              note: str = "") -> Outcome:
    action.status = ACTION.move(action.status, A.REVERTED).value
    action.reverted_at, action.claimed_at, action.next_attempt_at, action.updated_at = now, None, None, now
    who = action.reverted_by or "expiry"
    action.reverted_by = who
    record(session, action, A.EXPIRING.value, actor=who, now=now, note=note)
    why = said(N_("expired")) if who == "expiry" else said(N_("undone by %(who)s"), who=who)
    session.flush()
    if incident is not None:
        report.refresh_draft(session, incident)
    timeline_note(session, action, said(N_("Reverted (%(why)s): %(what)s%(note)s"), why=why, what=spoken(action),
                                        note=f"; {note}" if note else ""), at=now, actor="containment",
                  data={"action_id": action.id, "kind": action.kind, "status": "reverted", "by": who,
                        "rooms": action.receipt.get("reverted", {})})
    return Outcome("revert", "reverted")


# ---- release one account -----------------------------------------------------------------------
def _release(sessions: sessionmaker[Session], action_id: int, *, clock: Clock, executors: Executors) -> Outcome:
    with session_scope(sessions) as session:
        now = clock.now()
        claimed = session.execute(
            update(ContainmentAction)
            .where(ContainmentAction.id == action_id, ContainmentAction.status == A.APPLIED.value,
                   or_(ContainmentAction.claimed_at.is_(None), ContainmentAction.claimed_at < now - STALE))
            .values(claimed_at=now), execution_options={"synchronize_session": False})
        if claimed.rowcount != 1:  # type: ignore[attr-defined]  # -- an UPDATE's Result is a CursorResult
            return Outcome("release", "skipped")
        action, incident = _load(session, action_id)
        executor = executors(session, action)
        plan, receipt = _plan(action, incident), dict(action.receipt)
        accounts = [t["account"] for t in action.targets if t["state"] == "releasing"]
    try:
        done = executor.revert(plan, receipt, accounts) if executor is not None else dict.fromkeys(accounts, "by hand")
    except ActionFailed as exc:
        with session_scope(sessions) as session:
            action, incident = _load(session, action_id)
            now = clock.now()
            action.claimed_at, action.last_error = None, exc.message[:500]
            action.next_attempt_at = now + (timedelta(days=3650) if exc.permanent else backoff(2))
            timeline_note(session, action, f"Release from {describe(action)} failed: {exc.message}",
                          at=now, actor="containment", data={"action_id": action.id, "status": "release_failed",
                                                             "accounts": accounts})
            if not exc.permanent:
                ringer.note_containment(session, action.id, at=action.next_attempt_at)
        return Outcome("release", "failed" if exc.permanent else "retry")
    with session_scope(sessions) as session:
        action, incident = _load(session, action_id)
        now = clock.now()
        action.targets = [dict(t, state="released", released_at=now.isoformat()) if t["account"] in done else t
                          for t in action.targets]
        action.claimed_at, action.next_attempt_at, action.updated_at = None, action.expires_at, now
        timeline_note(session, action, said(N_("Released %(accounts)s from %(what)s"), accounts=", ".join(done),
                                            what=spoken(action)),
                      at=now, actor="containment", data={"action_id": action.id, "status": "released",
                                                         "accounts": list(done)})
        if action.expires_at is not None:
            ringer.note_containment(session, action.id, at=action.expires_at)
    return Outcome("release", "released")


# ---- the sweeper's part --------------------------------------------------------------------------
def due(session: Session, now: datetime, limit: int) -> list[int]:
    return list(session.scalars(
        select(ContainmentAction.id)
        .where(ContainmentAction.status.in_((A.APPROVED.value, A.APPLIED.value)),
               ContainmentAction.next_attempt_at <= now)
        .order_by(ContainmentAction.next_attempt_at).limit(limit)))


def recover_stale(sessions: sessionmaker[Session], *, clock: Clock) -> int:
    """A worker that died holding a claim: applying goes back to approved, expiring back to
    applied, each due now; the receipt already written keeps the retry honest."""
    now = clock.now()
    revived = 0
    with session_scope(sessions) as session:
        stale = list(session.scalars(select(ContainmentAction).where(
            ContainmentAction.status.in_((A.APPLYING.value, A.EXPIRING.value)),
            ContainmentAction.claimed_at < now - STALE)))
        for action in stale:
            old = action.status
            back = A.APPROVED if old == A.APPLYING else A.APPLIED
            action.status = ACTION.move(old, back).value
            action.claimed_at, action.next_attempt_at, action.updated_at = None, now, now
            record(session, action, old, actor="sweeper", now=now, note="the worker carrying it out was lost")
            revived += 1
    return revived
