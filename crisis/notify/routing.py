"""Routing rules and delivery policy from alerts/routing.yaml: data, not code."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from crisis.config import ROOT
from crisis.playbooks.spec import PlaybookError, _Checker
from crisis.response.states import SEVERITIES

ALERTS_DIR = ROOT / "alerts"
EVENTS = ("opened", "escalated", "acknowledged", "mitigated", "resolved", "reopened", "severity_raised",
          "task_overdue", "status_update", "postmortem_review", "case_overdue", "moderation_task_overdue",
          "member_update_due")


@dataclass(frozen=True)
class Rule:
    name: str
    communities: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    targets: tuple[tuple[str, str], ...] = ()

    def matches(self, *, community: str, kind: str, severity: str, event: str) -> bool:
        return all(not allowed or value in allowed for allowed, value in (
            (self.communities, community), (self.kinds, kind), (self.severities, severity), (self.events, event)))


@dataclass(frozen=True)
class Routing:
    rules: tuple[Rule, ...] = ()
    max_attempts: int = 6
    backoff_seconds: tuple[int, ...] = (5, 30, 120, 600, 1800)
    ack_link_hours: int = 24
    stale_sending_seconds: int = 300
    extra: dict[str, Any] = field(default_factory=dict)

    def targets_for(self, *, community: str, kind: str, severity: str, event: str) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        for rule in self.rules:
            if rule.matches(community=community, kind=kind, severity=severity, event=event):
                out.extend({k: v} for k, v in rule.targets)
        return out

    def backoff(self, attempt: int) -> int:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        return self.backoff_seconds[min(attempt, len(self.backoff_seconds)) - 1]


def _strings(c: _Checker, raw: object, where: str, allowed: tuple[str, ...] | None = None) -> tuple[str, ...]:
    if raw is None:
        return ()
    values = raw if isinstance(raw, list) else [raw]
    if not all(isinstance(v, str) for v in values) or (allowed and any(v not in allowed for v in values)):
        c.add(where, "must be a list of " + (", ".join(allowed) if allowed else "strings"))
        return ()
    return tuple(values)


def parse(data: object, source: str = "routing.yaml") -> Routing:
    c = _Checker([])
    if not isinstance(data, dict):
        raise PlaybookError(source, ["the document must be a mapping with delivery and rules"])
    delivery = data.get("delivery") or {}
    attempts = delivery.get("max_attempts", 6)
    if not isinstance(attempts, int) or not 1 <= attempts <= 20:
        c.add("delivery.max_attempts", "must be an integer from 1 to 20")
    backoff = delivery.get("backoff_seconds", [5, 30, 120, 600, 1800])
    if not isinstance(backoff, list) or not backoff or not all(isinstance(b, int) and b > 0 for b in backoff):
        c.add("delivery.backoff_seconds", "must be a non-empty list of positive integers")
        backoff = [60]
    ack_hours = delivery.get("ack_link_hours", 24)
    if not isinstance(ack_hours, int) or not 1 <= ack_hours <= 24 * 14:
        c.add("delivery.ack_link_hours", "must be an integer from 1 to 336")
    rules = []
    for i, raw in enumerate(data.get("rules") or []):
        where = f"rules[{i}]"
        if not isinstance(raw, dict):
            c.add(where, "must be a mapping with match and notify")
            continue
        match = raw.get("match") or {}
        targets = c.targets(raw.get("notify"), f"{where}.notify", set())
        rules.append(Rule(
            name=str(raw.get("name", where)),
            communities=_strings(c, match.get("community"), f"{where}.match.community"),
            kinds=_strings(c, match.get("kind"), f"{where}.match.kind"),
            severities=_strings(c, match.get("severity"), f"{where}.match.severity", SEVERITIES),
            events=_strings(c, match.get("events"), f"{where}.match.events", EVENTS),
            targets=tuple(next(iter(t.items())) for t in targets)))
    if c.problems:
        raise PlaybookError(source, c.problems)
    return Routing(rules=tuple(rules), max_attempts=attempts, backoff_seconds=tuple(backoff),
                   ack_link_hours=ack_hours)


@cache
def load(path: Path = ALERTS_DIR / "routing.yaml") -> Routing:
    if not path.exists():
        return Routing()
    return parse(yaml.safe_load(path.read_text()), path.name)
