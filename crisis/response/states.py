"""The response's states and the tables that say which moves are legal. Pure: no I/O.

Severities live here too: detectors number them 1 (worst) to 4 inside their episodes;
everything stored and shown uses these names."""
from __future__ import annotations

from enum import StrEnum

from crisis.statemachine import InvalidTransition, Machine

__all__ = ["ACTIONS", "ESCALATING", "INCIDENT", "InvalidTransition", "IncidentStatus", "SEVERITIES", "TRANSITIONS",
           "check_transition", "more_severe", "severity_name"]

SEVERITIES = ("sev1", "sev2", "sev3", "sev4")


def more_severe(a: str, b: str) -> bool:
    return SEVERITIES.index(a) < SEVERITIES.index(b)


def severity_name(level: int) -> str:
    """A detector's level (1 worst .. 4) as the stored name."""
    return SEVERITIES[min(max(level, 1), len(SEVERITIES)) - 1]


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
INCIDENT = Machine("an incident", IncidentStatus, TRANSITIONS)

# The API's verbs and the status each one moves to.
ACTIONS: dict[str, IncidentStatus] = {
    "acknowledge": S.ACKNOWLEDGED,
    "mitigate": S.MITIGATED,
    "resolve": S.RESOLVED,
    "reopen": S.TRIGGERED,
}

# Escalation runs only while nobody has taken the incident.
ESCALATING = frozenset({S.TRIGGERED})


def check_transition(old: str, new: str) -> IncidentStatus:
    """Return the new status, or raise InvalidTransition naming what is allowed."""
    return INCIDENT.move(old, new)


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    SKIPPED = "skipped"


# A checklist item may be ticked, skipped, or reopened when it turns out not to be done.
TASK = Machine("a task", TaskStatus, {
    TaskStatus.OPEN: frozenset({TaskStatus.DONE, TaskStatus.SKIPPED}),
    TaskStatus.DONE: frozenset({TaskStatus.OPEN, TaskStatus.SKIPPED}),
    TaskStatus.SKIPPED: frozenset({TaskStatus.OPEN, TaskStatus.DONE}),
})
TASK_CLOSED = frozenset({TaskStatus.DONE, TaskStatus.SKIPPED})


class TimerStatus(StrEnum):
    PENDING = "pending"      # a level is due at due_at
    STOPPED = "stopped"      # someone took the incident, or it was resolved
    EXHAUSTED = "exhausted"  # every level fired and the policy does not repeat


# Re-arming (a reopen) starts a stopped or exhausted timer again from level one.
TIMER = Machine("an escalation timer", TimerStatus, {
    TimerStatus.PENDING: frozenset({TimerStatus.PENDING, TimerStatus.STOPPED, TimerStatus.EXHAUSTED}),
    TimerStatus.STOPPED: frozenset({TimerStatus.PENDING}),
    TimerStatus.EXHAUSTED: frozenset({TimerStatus.PENDING, TimerStatus.STOPPED}),
})


class PostmortemStatus(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    PUBLISHED = "published"


# A reviewer returns a postmortem to its authors or publishes it; a published one is final.
POSTMORTEM = Machine("a postmortem", PostmortemStatus, {
    PostmortemStatus.DRAFT: frozenset({PostmortemStatus.IN_REVIEW}),
    PostmortemStatus.IN_REVIEW: frozenset({PostmortemStatus.DRAFT, PostmortemStatus.PUBLISHED}),
    PostmortemStatus.PUBLISHED: frozenset(),
})


class ActionItemStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"


ACTION_ITEM = Machine("an action item", ActionItemStatus, {
    ActionItemStatus.OPEN: frozenset({ActionItemStatus.IN_PROGRESS, ActionItemStatus.DONE}),
    ActionItemStatus.IN_PROGRESS: frozenset({ActionItemStatus.OPEN, ActionItemStatus.DONE}),
    ActionItemStatus.DONE: frozenset({ActionItemStatus.OPEN, ActionItemStatus.IN_PROGRESS}),
})
