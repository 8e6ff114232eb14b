"""A case's states and the moves between them. Pure: no I/O.

    new ──▶ triaged ──▶ actioned
     │         └──────▶ dismissed
     ├────────────────▶ actioned     (a one-click decision from the queue)
     └────────────────▶ dismissed

actioned: staff acted on it (a rule's penalty, or by hand); dismissed: nothing to act on.
Both are final; the complainant's page shows which, with the outcome staff wrote."""
from __future__ import annotations

from enum import StrEnum

from crisis.statemachine import Machine


class CaseStatus(StrEnum):
    NEW = "new"
    TRIAGED = "triaged"
    ACTIONED = "actioned"
    DISMISSED = "dismissed"


C = CaseStatus
CASE = Machine("a case", CaseStatus, {
    C.NEW: frozenset({C.TRIAGED, C.ACTIONED, C.DISMISSED}),
    C.TRIAGED: frozenset({C.ACTIONED, C.DISMISSED}),
    C.ACTIONED: frozenset(),
    C.DISMISSED: frozenset(),
})
OPEN = frozenset({C.NEW, C.TRIAGED})
OPEN_VALUES = tuple(s.value for s in OPEN)
SUBJECTS = ("message", "member", "feedback")
