"""Incident statuses and the one table that says which moves are legal. Pure: no I/O."""
from __future__ import annotations

from enum import StrEnum


class IncidentStatus(StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"


S = IncidentStatus

# Direct moves exist where people really make them: a raid that stopped on its own
# is resolved without anyone acknowledging it first; a mitigation that did not hold
# goes back to acknowledged (someone is still on it) rather than to triggered.
TRANSITIONS: dict[IncidentStatus, frozenset[IncidentStatus]] = {
    S.TRIGGERED: frozenset({S.ACKNOWLEDGED, S.MITIGATED, S.RESOLVED}),
    S.ACKNOWLEDGED: frozenset({S.MITIGATED, S.RESOLVED}),
    S.MITIGATED: frozenset({S.ACKNOWLEDGED, S.RESOLVED}),
    S.RESOLVED: frozenset({S.TRIGGERED}),
}

# The API's verbs and the status each one moves to.
ACTIONS: dict[str, IncidentStatus] = {
    "acknowledge": S.ACKNOWLEDGED,
    "mitigate": S.MITIGATED,
    "resolve": S.RESOLVED,
    "reopen": S.TRIGGERED,
}

# Escalation runs only while nobody has taken the incident.
ESCALATING = frozenset({S.TRIGGERED})


class InvalidTransition(ValueError):
    def __init__(self, old: str, new: str) -> None:
        allowed = ", ".join(sorted(TRANSITIONS.get(IncidentStatus(old), frozenset()))) if old in _VALUES else ""
        super().__init__(f"cannot move an incident from {old} to {new}"
                         + (f" (from {old} it can go to: {allowed})" if allowed else ""))
        self.old = old
        self.new = new


_VALUES = {s.value for s in IncidentStatus}


def check_transition(old: str, new: str) -> IncidentStatus:
    """Return the new status, or raise InvalidTransition naming what is allowed."""
    if old not in _VALUES or new not in _VALUES or IncidentStatus(new) not in TRANSITIONS[IncidentStatus(old)]:
        raise InvalidTransition(old, new)
    return IncidentStatus(new)
