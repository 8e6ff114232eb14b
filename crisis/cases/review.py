"""The review queue: open cases grouped by what they are about (ten reports of one message
are one item), each item scored by its reporters' weights (crisis.cases.scoring), the
heaviest first, then the soonest due."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.cases import scoring
from crisis.cases.states import OPEN_VALUES
from crisis.models import Case

BRIGADE_SHARE = 0.5  # more than half the reporters fresh accounts: say so
BRIGADE_MIN = 3


@dataclass
class Item:
    key: str
    kind: str  # message | member | feedback
    member: str
    message_id: str
    channel: str
    link: str
    cases: list[Case] = field(default_factory=list)
    weights: list[scoring.Weight] = field(default_factory=list)

    @property
    def score(self) -> float:
        return round(sum(w.weight for w in self.weights), 2)

    @property
    def reports(self) -> int:
        return len(self.cases)

    @property
    def due_at(self) -> datetime:
        return min(c.due_at for c in self.cases)

    @property
    def categories(self) -> list[tuple[str, int]]:
        return Counter(c.category for c in self.cases).most_common()

    @property
    def rules(self) -> list[tuple[str, int]]:
        return Counter(c.rule_id for c in self.cases if c.rule_id).most_common()

    @property
    def fresh_share(self) -> float:
        known = [w for w in self.weights if w.age is not None]
        return sum(w.fresh for w in known) / len(known) if known else 0.0

    @property
    def likely_brigade(self) -> bool:
        """Many reporters, most of them accounts made days ago: weigh before acting."""
        return len(self.weights) >= BRIGADE_MIN and self.fresh_share > BRIGADE_SHARE

    @property
    def owner_ids(self) -> set[int]:
        return {c.owner_id for c in self.cases if c.owner_id is not None}

    @property
    def details(self) -> list[str]:
        return [c.details for c in self.cases if c.details][:5]

    def overdue(self, now: datetime) -> bool:
        return self.due_at <= now


def group(cases: Iterable[Case], weights: dict[str, scoring.Weight]) -> list[Item]:
    """Items in queue order: score, then due time, then the oldest case."""
    items: dict[str, Item] = {}
    for case in sorted(cases, key=lambda c: c.id):
        item = items.get(case.subject_key)
        if item is None:
            item = items[case.subject_key] = Item(case.subject_key, case.subject_kind, case.subject_member,
                                                  case.subject_message_id, case.subject_channel, case.subject_link)
        item.cases.append(case)
        item.member = item.member or case.subject_member
        item.link = item.link or case.subject_link
        weight = weights[scoring.reporter_key(case)]
        if weight not in item.weights:
            item.weights.append(weight)
    return sorted(items.values(), key=lambda i: (-i.score, i.due_at, i.cases[0].id))


def open_cases(session: Session, community_id: int, subject_key: str | None = None) -> list[Case]:
    query = select(Case).where(Case.community_id == community_id, Case.status.in_(OPEN_VALUES))
    if subject_key is not None:
        query = query.where(Case.subject_key == subject_key)
    return list(session.scalars(query.order_by(Case.id)))


def items(session: Session, community_id: int, now: datetime, *, limit: int = 2000) -> list[Item]:
    cases = open_cases(session, community_id)[:limit]
    return group(cases, scoring.weigh(session, community_id, cases, now))


def item_for(session: Session, community_id: int, subject_key: str, now: datetime) -> Item | None:
    cases = open_cases(session, community_id, subject_key)
    found = group(cases, scoring.weigh(session, community_id, cases, now))
    return found[0] if found else None
