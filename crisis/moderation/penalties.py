"""Penalties under a community's rules: apply one (the rule's ladder picks the step from the
member's record), carry it out through the containment action its step names, expire it,
and end it early (an appeal), undoing the action still in force.

A penalty's platform action is an ordinary containment action with no incident
(crisis.containment.service.propose_for_member): through the community's bridge it is
done on the platform, retried, undone at expiry, and refused with the platform's words
and a task for a person; without a bridge the runner hands it to a person as a
moderation task. Nothing here calls a platform; everything is written in the caller's
transaction."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from crisis.cases import replies
from crisis.clock import Clock
from crisis.containment import kinds
from crisis.containment import service as containment
from crisis.db import sweep
from crisis.models import Community, ContainmentAction, Penalty, Role
from crisis.moderation import rulebook
from crisis.moderation.rules import PENALTIES, find, step_duration
from crisis.moderation.states import COUNTED, PENALTY, PenaltyStatus
from crisis.playbooks import parse_duration
from crisis.statemachine import InvalidTransition

P = PenaltyStatus
MAX_MEMBER = 255


class PenaltyError(ValueError):
    """Bad input for a penalty; the message names the field."""


@dataclass(frozen=True)
class By:
    """Who applies or ends a penalty: a person (with their role in the community) or the system."""

    label: str
    user_id: int | None = None
    role: Role | None = None


@dataclass(frozen=True)
class Step:
    """The ladder step a penalty takes: its index, and the step as the rule states it."""

    level: int
    penalty: str
    duration: timedelta | None
    action: str
    repeat: int  # earlier counted offences of this rule in the window


def record(session: Session, community_id: int, member: str) -> list[Penalty]:
    """Every penalty the member has had in this community, newest first."""
    return list(session.scalars(select(Penalty).where(Penalty.community_id == community_id, Penalty.member == member)
                                .order_by(Penalty.applied_at.desc(), Penalty.id.desc())))


def next_step(spec: dict[str, Any], rule: dict[str, Any], earlier: list[Penalty], now: datetime) -> Step:
    """The step of `rule`'s ladder for this offence: one up for each earlier counted
    penalty under the same rule within the offence window; the last step repeats."""
    since = now - parse_duration(spec["offence_window"])
    repeat = sum(1 for p in earlier if p.rule_id == rule["id"] and p.status in COUNTED and p.applied_at >= since)
    level = min(repeat, len(rule["ladder"]) - 1)
    step = rule["ladder"][level]
    return Step(level, step["penalty"], step_duration(step), step["action"], repeat)


def _rule(session: Session, community: Community, rule_id: str) -> tuple[Any, dict[str, Any]]:
    book = rulebook.latest(session, community.id)
    if book is None:
        raise PenaltyError("rule: this community has no rules yet (publish them on the Rules page)")
    rule = find(book.spec, rule_id)
    if rule is None:
        known = ", ".join(r["id"] for r in book.spec["rules"])
        raise PenaltyError(f"rule: {rule_id!r} is not one of this community's rules ({known})")
    return book, rule


def _member(member: str) -> str:
    member = (member or "").strip()
    if not 0 < len(member) <= MAX_MEMBER:
        raise PenaltyError(f"member: must be the member's platform account id (1 to {MAX_MEMBER} characters)")
    return member


def preview(session: Session, community: Community, member: str, rule_id: str, *, now: datetime) -> dict[str, Any]:
    """What applying the rule to the member would do now: the step, and how it is carried out."""
    member = _member(member)
    book, rule = _rule(session, community, rule_id)
    step = next_step(book.spec, rule, record(session, community.id, member), now)
    return {"member": member, "rule": rule["id"], "rulebook_version": book.version, "level": step.level,
            "penalty": step.penalty, "duration_s": int(step.duration.total_seconds()) if step.duration else None,
            "action": step.action, "earlier_offences": step.repeat,
            "executor": "none" if step.action == "none" else containment.executor_for(session, community.id)}


def apply(session: Session, community: Community, member: str, rule_id: str, *, by: By, now: datetime,
          note: str = "", level: int | None = None) -> Penalty:
    """Apply the rule's penalty to the member (the ladder's step, or `level` when staff pick
    one) and start carrying it out. The containment action is approved at once when the
    person's role may approve its kind; otherwise it waits for someone who may."""
    member = _member(member)
    book, rule = _rule(session, community, rule_id)
    step = next_step(book.spec, rule, record(session, community.id, member), now)
    if level is not None:
        if not 0 <= level < len(rule["ladder"]):
            raise PenaltyError(f"level: rule {rule['id']!r} has steps 0 to {len(rule['ladder']) - 1}")
        chosen = rule["ladder"][level]
        step = Step(level, chosen["penalty"], step_duration(chosen), chosen["action"], step.repeat)
    return apply_step(session, community, member, book.version, rule, step, by=by, now=now, note=note)


def apply_step(session: Session, community: Community, member: str, version: int, rule: dict[str, Any], step: Step,
               *, by: By, now: datetime, note: str = "", replaces: Penalty | None = None) -> Penalty:
    """Write the penalty for this step of the rule (of rulebook `version`) and carry it out."""
    if len(note) > 4000:
        raise PenaltyError("note: at most 4000 characters")
    penalty = Penalty(community_id=community.id, member=member, rulebook_version=version, rule_id=rule["id"],
                      rule_title=dict(rule["title"]), level=step.level, kind=step.penalty,
                      duration_s=int(step.duration.total_seconds()) if step.duration else None,
                      status=P.ACTIVE.value, note=note.strip(), applied_by=by.label[:200], applied_by_id=by.user_id,
                      applied_at=now, expires_at=now + step.duration if step.duration else None,
                      enforcement="", replaces_id=replaces.id if replaces else None)
    session.add(penalty)
    session.flush()
    _enforce(session, community, penalty, step, by=by, now=now)
    replies.penalty_applied(session, community, penalty, now)
    return penalty


def _enforce(session: Session, community: Community, penalty: Penalty, step: Step, *, by: By, now: datetime) -> None:
    if step.action == "none":
        penalty.enforcement = "recorded (no platform action for this step)"
        return
    title = penalty.rule_title.get("en") or penalty.rule_title.get("zh") or penalty.rule_id
    reason = f"{title} (rule {penalty.rule_id}; crisis penalty #{penalty.id})"
    kind = kinds.get(step.action)
    try:
        action = containment.propose_for_member(
            session, community, step.action, penalty.member, actor=by.label, actor_user_id=by.user_id, now=now,
            reason=reason, expires_after=step.duration if kind.reversible else None)
    except containment.ContainmentError as exc:
        penalty.enforcement = f"not carried out: {exc}"[:300]
        return
    penalty.action_id = action.id
    where = "by hand (no bridge)" if action.executor == "manual" else f"on {action.executor}"
    if by.role is not None and by.role.at_least(Role(action.approve_role)):
        containment.approve(session, action, actor=by.label, actor_user_id=by.user_id, role=by.role, now=now,
                            via=f"penalty #{penalty.id}")
        penalty.enforcement = f"{kind.label} {where}"
    else:
        penalty.enforcement = f"{kind.label} {where}: waiting for a {action.approve_role} to approve"


def action_of(session: Session, penalty: Penalty) -> ContainmentAction | None:
    """The penalty's action as the database holds it now: the runner moves it in its own
    transactions, and deciding from a stale copy could cancel an action already applied."""
    action = session.get(ContainmentAction, penalty.action_id) if penalty.action_id else None
    if action is not None:
        session.refresh(action)
    return action


def approve_action(session: Session, penalty: Penalty, *, by: By, now: datetime) -> ContainmentAction:
    """A responder approves the platform action a moderator's penalty is waiting on."""
    action = action_of(session, penalty)
    if action is None or action.status != "proposed":
        raise PenaltyError("status: this penalty has no platform action waiting for approval")
    if penalty.status != P.ACTIVE.value:
        raise PenaltyError(f"status: the penalty is {penalty.status}; its action can only be cancelled")
    if by.role is None:
        raise PenaltyError("role: approving needs a person's role")
    try:
        containment.approve(session, action, actor=by.label, actor_user_id=by.user_id, role=by.role, now=now,
                            via=f"penalty #{penalty.id}")
    except containment.NotAllowed as exc:
        raise PenaltyError(f"role: {exc}") from None
    kind = kinds.get(action.kind)
    where = "by hand (no bridge)" if action.executor == "manual" else f"on {action.executor}"
    penalty.enforcement = f"{kind.label} {where}"
    return action


def end(session: Session, penalty: Penalty, new: PenaltyStatus, *, by: By, now: datetime) -> None:
    """End a penalty early (lifted or reduced): its move checked, and whatever the platform
    action still holds undone (cancelled if not yet carried out, undone if reversible, the
    member invited back after a removal)."""
    try:
        penalty.status = PENALTY.move(penalty.status, new).value
    except InvalidTransition as exc:
        raise PenaltyError(f"status: {exc}") from None
    penalty.ended_at = now
    action = action_of(session, penalty)
    if action is None:
        return
    try:
        if action.status in ("proposed", "approved"):
            containment.cancel(session, action, actor=by.label, actor_user_id=by.user_id, now=now,
                               note=f"penalty #{penalty.id} {new.value}")
        elif action.status == "applied" and kinds.get(action.kind).reversible and not action.reverted_by:
            containment.undo(session, action, actor=by.label, actor_user_id=by.user_id, now=now,
                             via=f"penalty #{penalty.id} {new.value}")
        elif action.status == "applied" and kinds.get(action.kind).releasable:
            for target in action.targets:
                if target.get("state") == "done":
                    containment.release(session, action, target["account"], actor=by.label,
                                        actor_user_id=by.user_id, now=now)
        elif action.status in ("applying", "expiring"):
            raise PenaltyError("status: the platform action is being carried out right now; try again in a minute")
    except containment.ContainmentError as exc:
        raise PenaltyError(f"action: {exc}") from None


WARNING = Step(-1, "warn", None, "none", 0)  # a reduction to a warning, whatever the ladder says


def milder_steps(session: Session, penalty: Penalty) -> list[Step]:
    """What an appeal may reduce the penalty to, from its rule's ladder as pinned: a milder
    penalty, the same one for a shorter time (or for a time, instead of for good), and always a
    warning."""
    book = rulebook.get_version(session, penalty.community_id, penalty.rulebook_version)
    rule = find(book.spec, penalty.rule_id) if book is not None else None
    rank = PENALTIES.index(penalty.kind)
    held = penalty.duration_s
    out: list[Step] = []
    for i, raw in enumerate(rule["ladder"] if rule else []):
        step = Step(i, raw["penalty"], step_duration(raw), raw["action"], 0)
        seconds = step.duration.total_seconds() if step.duration else None
        same = PENALTIES.index(step.penalty) == rank
        if PENALTIES.index(step.penalty) < rank or (same and seconds is not None and (held is None or seconds < held)):
            out.append(step)
    if penalty.kind != "warn" and not any(s.penalty == "warn" for s in out):
        out.insert(0, WARNING)
    return out


def rule_of(session: Session, penalty: Penalty) -> dict[str, Any] | None:
    book = rulebook.get_version(session, penalty.community_id, penalty.rulebook_version)
    return find(book.spec, penalty.rule_id) if book is not None else None


# ---- the sweeper's part ------------------------------------------------------------------------
def _due(session: Session, now: datetime, limit: int) -> list[int]:
    return list(session.scalars(select(Penalty.id).where(Penalty.status == P.ACTIVE.value, Penalty.expires_at <= now)
                                .order_by(Penalty.expires_at).limit(limit)))


def _expire_one(session: Session, penalty_id: int, now: datetime) -> bool:
    assert P.EXPIRED in PENALTY.moves[P.ACTIVE]  # the claim below is a move of the table
    claimed = session.execute(update(Penalty).where(Penalty.id == penalty_id, Penalty.status == P.ACTIVE.value)
                              .values(status=P.EXPIRED.value, ended_at=now),
                              execution_options={"synchronize_session": False})
    return claimed.rowcount == 1  # type: ignore[attr-defined,no-any-return]  # -- an UPDATE's Result is a CursorResult


def expire_due(sessions: sessionmaker[Session], *, clock: Clock, limit: int = 500) -> int:
    """Active penalties whose time is up become expired (their actions revert by their own expiry)."""
    return sweep(sessions, _due, _expire_one, now=clock.now(), limit=limit)
