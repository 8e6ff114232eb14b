"""How much one reporter's report counts in the review queue.

Modelled on Discourse's reviewable scoring (app/models/reviewable_score.rb): an item's
score is the sum of its flaggers' weights, each weight a base of 1 plus a bonus from the
flagger's track record (the share of their earlier flags that staff agreed with, applied
only once they have enough decided flags) and their trust (Discourse: trust level, staff
counting 5). Here:

    score(item) = Σ weight(r) over the item's distinct reporters (ten reports by one
                  reporter count once)
    weight(r)   = max(0.1, (1 + accuracy_bonus) × age_factor)   staff: 5
    accuracy_bonus = 2.5 × (2 × upheld / decided − 1)   once decided ≥ 3, else 0
                     (all upheld: +2.5; half: 0; none upheld: −2.5, i.e. the floor)
    age_factor  = 0.2 under a day old, 0.5 under a week, 0.8 under a month, else 1;
                  1 when the platform does not say; 0.5 for the anonymous web form

Account age stands in for Discourse's trust levels, which chat platforms do not have: it
is what a brigade of freshly made accounts cannot fake. "Upheld" is a case actioned,
"decided" one actioned or dismissed."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crisis.models import Case

MIN_DECIDED = 3
ACCURACY_SCALE = 2.5
STAFF_WEIGHT = 5.0
FLOOR = 0.1
ANONYMOUS_FACTOR = 0.5
FRESH = timedelta(days=7)  # a reporter this new counts towards a "likely brigade" warning
_AGES = ((timedelta(days=1), 0.2), (timedelta(days=7), 0.5), (timedelta(days=30), 0.8))


@dataclass(frozen=True)
class Weight:
    reporter: str
    weight: float
    upheld: int
    dismissed: int
    age: timedelta | None
    why: str  # one line for the queue: what made the weight

    @property
    def fresh(self) -> bool:
        return self.age is not None and self.age < FRESH


def age_factor(age: timedelta | None, *, anonymous: bool) -> float:
    if anonymous:
        return ANONYMOUS_FACTOR
    if age is None:
        return 1.0
    return next((factor for limit, factor in _AGES if age < limit), 1.0)


def accuracy_bonus(upheld: int, dismissed: int) -> float:
    decided = upheld + dismissed
    if decided < MIN_DECIDED:
        return 0.0
    return ACCURACY_SCALE * (2 * upheld / decided - 1)


def weight(upheld: int, dismissed: int, age: timedelta | None, *, anonymous: bool = False,
           staff: bool = False) -> float:
    if staff:
        return STAFF_WEIGHT
    return round(max(FLOOR, (1 + accuracy_bonus(upheld, dismissed)) * age_factor(age, anonymous=anonymous)), 2)


def _why(upheld: int, dismissed: int, age: timedelta | None, anonymous: bool, staff: bool) -> str:
    if staff:
        return "staff"
    parts = [f"{upheld} upheld, {dismissed} dismissed"]
    if anonymous:
        parts.append("web form")
    elif age is not None:
        parts.append(f"account {age.days} d old" if age.days else "account under a day old")
    return "; ".join(parts)


def records(session: Session, community_id: int, reporters: Iterable[str]) -> dict[str, tuple[int, int]]:
    """(upheld, dismissed) per reporter, from this community's decided cases."""
    wanted = sorted({r for r in reporters if r})
    out: dict[str, tuple[int, int]] = {r: (0, 0) for r in wanted}
    for start in range(0, len(wanted), 500):
        rows = session.execute(select(Case.reporter, Case.status, func.count()).where(
            Case.community_id == community_id, Case.reporter.in_(wanted[start:start + 500]),
            Case.status.in_(("actioned", "dismissed"))).group_by(Case.reporter, Case.status)).all()
        for reporter, status, count in rows:
            upheld, dismissed = out[reporter]
            out[reporter] = (upheld + count, dismissed) if status == "actioned" else (upheld, dismissed + count)
    return out


def weigh(session: Session, community_id: int, cases: Iterable[Case], now: datetime) -> dict[str, Weight]:
    """The weight of each reporter of these cases (keyed by reporter; a case with no
    reporter, filed by staff, is keyed by "case:<id>")."""
    listed = list(cases)
    record = records(session, community_id, (c.reporter for c in listed))
    out: dict[str, Weight] = {}
    for case in listed:
        key = reporter_key(case)
        if key in out:
            continue
        staff = case.source == "staff"
        anonymous = case.reporter.startswith("web:")
        age = now - case.reporter_created_at if case.reporter_created_at is not None else None
        upheld, dismissed = record.get(case.reporter, (0, 0))
        out[key] = Weight(key, weight(upheld, dismissed, age, anonymous=anonymous, staff=staff), upheld, dismissed,
                          age, _why(upheld, dismissed, age, anonymous, staff))
    return out


def reporter_key(case: Case) -> str:
    return case.reporter or f"case:{case.id}"
