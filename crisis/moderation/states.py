"""Penalties', appeals' and moderation tasks' states and the moves between them. Pure: no I/O.

    penalty:  active ─▶ expired          (its duration ran out; the containment action reverts itself)
                 │  ─▶ lifted           (an appeal lifted it: the action in force is undone)
                 └──▶ reduced          (an appeal reduced it: a milder penalty replaces it)
              expired ─▶ lifted         (an appeal can still clear the record of an expired one)

    appeal:   open ─▶ upheld | reduced | lifted

    task:     open ─▶ done
"""
from __future__ import annotations

from enum import StrEnum

from crisis.statemachine import Machine


class PenaltyStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    LIFTED = "lifted"
    REDUCED = "reduced"


P = PenaltyStatus
PENALTY = Machine("a penalty", PenaltyStatus, {
    P.ACTIVE: frozenset({P.EXPIRED, P.LIFTED, P.REDUCED}),
    P.EXPIRED: frozenset({P.LIFTED}),
    P.LIFTED: frozenset(),
    P.REDUCED: frozenset(),
})
# What counts as an earlier offence when the next penalty climbs the ladder: a lifted
# penalty was overturned, and a reduced one is counted through its replacement.
COUNTED = frozenset({P.ACTIVE, P.EXPIRED})


class AppealStatus(StrEnum):
    OPEN = "open"
    UPHELD = "upheld"
    REDUCED = "reduced"
    LIFTED = "lifted"


AP = AppealStatus
APPEAL = Machine("an appeal", AppealStatus, {
    AP.OPEN: frozenset({AP.UPHELD, AP.REDUCED, AP.LIFTED}),
    AP.UPHELD: frozenset(),
    AP.REDUCED: frozenset(),
    AP.LIFTED: frozenset(),
})
DECISIONS = (AP.UPHELD.value, AP.REDUCED.value, AP.LIFTED.value)


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"


MODERATION_TASK = Machine("a moderation task", TaskStatus, {TaskStatus.OPEN: frozenset({TaskStatus.DONE}),
                                                          TaskStatus.DONE: frozenset()})
