"""The member-update timer's states, and how an incident's status reads to members. Pure."""
from __future__ import annotations

from enum import StrEnum

from crisis.statemachine import Machine


class CadenceStatus(StrEnum):
    PENDING = "pending"  # an update to members is due at due_at
    STOPPED = "stopped"  # resolved, or the severity is outside the playbook's cadence


C = CadenceStatus
# Pending → pending is a reminder sent or an update posted: the due time moves on.
CADENCE = Machine("a member-update timer", CadenceStatus, {
    C.PENDING: frozenset({C.PENDING, C.STOPPED}),
    C.STOPPED: frozenset({C.PENDING}),
})

# Statuspage's words, which members of many communities already know.
PHASES = ("investigating", "identified", "monitoring", "resolved")
PHASE_OF_STATUS = {"triggered": "investigating", "acknowledged": "identified", "mitigated": "monitoring",
                   "resolved": "resolved"}


def phase(incident_status: str) -> str:
    return PHASE_OF_STATUS.get(incident_status, "investigating")
