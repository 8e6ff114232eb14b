"""An erasure's states and phases. Pure: no I/O.

    requested ─claim─▶ running ─▶ done
        ▲                 │
        └─── released ────┤  (its time budget ran out, or it failed and will be retried)
                          └─▶ failed  (after MAX_ATTEMPTS failures; the error is kept)

The phases run in order, each resumable from its cursor: collect (the member's names and
texts from the stored events), rewrite (the stored events), detectors (the checkpoint),
tables (every other table of the community)."""
from __future__ import annotations

from enum import StrEnum

from crisis.statemachine import Machine


class ErasureStatus(StrEnum):
    REQUESTED = "requested"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


E = ErasureStatus
ERASURE = Machine("an erasure", ErasureStatus, {
    E.REQUESTED: frozenset({E.RUNNING}),
    E.RUNNING: frozenset({E.REQUESTED, E.DONE, E.FAILED}),
    E.DONE: frozenset(),
    E.FAILED: frozenset(),
})
OPEN = frozenset({E.REQUESTED, E.RUNNING})
PHASES = ("collect", "rewrite", "detectors", "tables", "done")
MAX_ATTEMPTS = 5
