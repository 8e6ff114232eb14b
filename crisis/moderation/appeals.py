"""Appeals against penalties: filed by the member (through the penalty's public page) or by
staff on their behalf, and decided by staff with a note: upheld (nothing changes),
reduced (a milder step of the rule replaces the penalty) or lifted (the penalty ends and
whatever its platform action still holds is undone). One open appeal per penalty."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.cases import replies
from crisis.models import Appeal, Community, Penalty
from crisis.moderation import penalties
from crisis.moderation.penalties import By, PenaltyError
from crisis.moderation.states import APPEAL, DECISIONS, AppealStatus, PenaltyStatus
from crisis.statemachine import InvalidTransition

MAX_TEXT = 4000
APPEALABLE = (PenaltyStatus.ACTIVE.value, PenaltyStatus.EXPIRED.value)


class AppealError(ValueError):
    """Bad input for an appeal; the message names the field."""


def _text(raw: str, field: str) -> str:
    text = (raw or "").strip()
    if not 0 < len(text) <= MAX_TEXT:
        raise AppealError(f"{field}: write 1 to {MAX_TEXT} characters")
    return text


def open_appeal(session: Session, penalty_id: int) -> Appeal | None:
    return session.scalar(select(Appeal).where(Appeal.penalty_id == penalty_id,
                                               Appeal.status == AppealStatus.OPEN.value))


def for_penalty(session: Session, penalty_id: int) -> list[Appeal]:
    return list(session.scalars(select(Appeal).where(Appeal.penalty_id == penalty_id).order_by(Appeal.id)))


def open_in(session: Session, community_id: int) -> list[Appeal]:
    return list(session.scalars(select(Appeal).where(Appeal.community_id == community_id,
                                                     Appeal.status == AppealStatus.OPEN.value)
                                .order_by(Appeal.filed_at)))


def file(session: Session, penalty: Penalty, text: str, *, filed_by: str, now: datetime,
         filed_by_id: int | None = None) -> Appeal:
    """`filed_by` is "member" for the member's own appeal, else the staff member's name."""
    if penalty.status not in APPEALABLE:
        raise AppealError(f"penalty: it is {penalty.status}; only an active or expired penalty can be appealed")
    if open_appeal(session, penalty.id) is not None:
        raise AppealError("penalty: an appeal of it is already waiting for a decision")
    appeal = Appeal(community_id=penalty.community_id, penalty_id=penalty.id, status=AppealStatus.OPEN.value,
                    text=_text(text, "text"), filed_by=filed_by[:200], filed_by_id=filed_by_id, filed_at=now,
                    decision_note="", decided_by="")
    session.add(appeal)
    session.flush()
    return appeal


def decide(session: Session, appeal: Appeal, decision: str, *, note: str, by: By, now: datetime,
           reduce_to: int | None = None) -> Appeal:
    """Decide an open appeal. `reduce_to` (a reduction) is the ladder step to reduce to, -1 for
    a warning: one of penalties.milder_steps."""
    if decision not in DECISIONS:
        raise AppealError(f"decision: must be one of {', '.join(DECISIONS)}")
    written = _text(note, "note")
    penalty = session.get(Penalty, appeal.penalty_id)
    community = session.get(Community, appeal.community_id)
    assert penalty is not None and community is not None
    try:
        new = APPEAL.move(appeal.status, decision)
    except InvalidTransition as exc:
        raise AppealError(f"status: {exc}") from None
    try:  # refusals come before anything is written
        if new == AppealStatus.LIFTED:
            penalties.end(session, penalty, PenaltyStatus.LIFTED, by=by, now=now)
        elif new == AppealStatus.REDUCED:
            appeal.reduced_to_id = _reduce(session, community, penalty, appeal, reduce_to, by=by, now=now).id
    except PenaltyError as exc:
        raise AppealError(str(exc)) from None
    appeal.status = new.value
    appeal.decision_note, appeal.decided_by, appeal.decided_by_id, appeal.decided_at = \
        written, by.label[:200], by.user_id, now
    replies.appeal_decided(session, community, appeal, penalty, now)
    return appeal


def _reduce(session: Session, community: Community, penalty: Penalty, appeal: Appeal, reduce_to: int | None, *,
            by: By, now: datetime) -> Penalty:
    if penalty.status != PenaltyStatus.ACTIVE.value:
        raise AppealError(f"decision: the penalty is {penalty.status}; only an active one can be reduced")
    options = {s.level: s for s in penalties.milder_steps(session, penalty)}
    if reduce_to not in options:
        listed = ", ".join(str(level) for level in options) or "none"
        raise AppealError(f"reduce_to: pick a milder step of the rule (steps: {listed}; -1 is a warning)")
    rule = penalties.rule_of(session, penalty)
    assert rule is not None
    penalties.end(session, penalty, PenaltyStatus.REDUCED, by=by, now=now)
    return penalties.apply_step(session, community, penalty.member, penalty.rulebook_version, rule,
                                options[reduce_to], by=by, now=now, note=f"reduced on appeal #{appeal.id}",
                                replaces=penalty)
