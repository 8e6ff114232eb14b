"""A containment action's states and the moves between them. Pure: no I/O.

    proposed ─approve─▶ approved ─claim─▶ applying ─▶ applied ─claim─▶ expiring ─▶ reverted
        │                  │  ▲               │                           │
        └──cancel──────────┴──┼── cancelled   ├─ transient: back to approved (retried with backoff)
                              └───────────────┤
                                              └─ permanent: failed (a task for a person)

`applying` and `expiring` are claims (conditional UPDATEs: one worker carries the action
out); a worker that dies inside one is put back by the sweeper, and the receipt written
before the platform call keeps the retry from recording the changed state as the old one.
An applied action that cannot be undone (a redaction, a kick) stays applied."""
from __future__ import annotations

from enum import StrEnum

from crisis.statemachine import Machine


class ActionStatus(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    APPLYING = "applying"
    APPLIED = "applied"
    EXPIRING = "expiring"  # being undone: its expiry came, or a person asked
    REVERTED = "reverted"
    FAILED = "failed"
    CANCELLED = "cancelled"


A = ActionStatus
ACTION = Machine("a containment action", ActionStatus, {
    A.PROPOSED: frozenset({A.APPROVED, A.CANCELLED}),
    A.APPROVED: frozenset({A.APPLYING, A.CANCELLED}),
    A.APPLYING: frozenset({A.APPLIED, A.APPROVED, A.FAILED}),
    A.APPLIED: frozenset({A.EXPIRING}),
    A.EXPIRING: frozenset({A.REVERTED, A.APPLIED, A.FAILED}),  # transient: back to applied, retried
    A.REVERTED: frozenset(),
    A.FAILED: frozenset(),
    A.CANCELLED: frozenset(),
})
# What a person sees as "still in force": the resolve dialog offers to undo these.
IN_FORCE = frozenset({A.APPLYING, A.APPLIED})
OPEN = frozenset({A.PROPOSED, A.APPROVED, A.APPLYING, A.APPLIED, A.EXPIRING})
