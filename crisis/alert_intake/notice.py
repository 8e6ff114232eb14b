"""What every sender's body becomes: one notification about one group of alerts.

Parsers (alertmanager, pagerduty, webhook) collect every problem with where it is, so a
refusal names them all at once; the service (crisis.alert_intake.groups) never sees a body."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

FIRING, RESOLVED = "firing", "resolved"
# Bounds on what one alert may carry: label and annotation values are free text from the sender.
MAX_ALERTS = 1000
MAX_PAIRS = 100
MAX_VALUE = 4000


@dataclass(frozen=True)
class AlertIn:
    fingerprint: str
    status: str  # firing | resolved
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    url: str = ""


@dataclass(frozen=True)
class Notice:
    group_key: str
    alerts: list[AlertIn]
    title: str
    severity: str  # sev1..sev4, already mapped
    details: dict[str, Any] = field(default_factory=dict)  # lands in the incident's evidence
    action: str = ""  # "" (the alerts say), or PagerDuty's acknowledge / resolve

    @property
    def firing(self) -> bool:
        return any(a.status == FIRING for a in self.alerts)


@dataclass
class Problems:
    """Every problem of one body, each "where: what"."""

    items: list[tuple[str, str]] = field(default_factory=list)

    def add(self, where: str, what: str) -> None:
        if len(self.items) < 100:
            self.items.append((where, what))

    def __bool__(self) -> bool:
        return bool(self.items)

    def messages(self) -> list[str]:
        return [f"{where}: {what}" for where, what in self.items]


class Refused(ValueError):
    """The body is wrong; `problems` says where and what."""

    def __init__(self, problems: Problems) -> None:
        super().__init__("; ".join(problems.messages()[:5]))
        self.problems = problems


def string_map(value: Any, where: str, problems: Problems) -> dict[str, str]:
    """Labels and annotations: string to string, bounded."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add(where, f"must be an object of strings, got {type(value).__name__}")
        return {}
    if len(value) > MAX_PAIRS:
        problems.add(where, f"has {len(value)} entries; at most {MAX_PAIRS}")
        return {}
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(item, str):
            problems.add(f"{where}.{key}", f"must be a string, got {type(item).__name__}")
        elif len(item) > MAX_VALUE or len(key) > 200:
            problems.add(f"{where}.{key[:200]}", f"is longer than {MAX_VALUE} characters")
        else:
            out[key] = item
    return out


def timestamp(value: Any, where: str, problems: Problems) -> datetime | None:
    """RFC 3339; Alertmanager's zero time (0001-01-01T00:00:00Z) means "not set"."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        problems.add(where, f"must be an RFC 3339 time, got {type(value).__name__}")
        return None
    if value.startswith("0001-01-01"):
        return None
    text = value.replace("Z", "+00:00").replace("z", "+00:00")
    # Go writes nanoseconds; Python takes at most microseconds.
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        rest = rest[:min(digits, 6)] + rest[digits:]
        text = f"{head}.{rest}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        problems.add(where, f"{value[:40]!r} is not an RFC 3339 time")
        return None
    if parsed.tzinfo is None:
        problems.add(where, f"{value[:40]!r} has no time zone")
        return None
    return parsed


def text(value: Any, where: str, problems: Problems, *, required: bool = False, limit: int = 1024) -> str:
    if value is None or value == "":
        if required:
            problems.add(where, "is required")
        return ""
    if not isinstance(value, str):
        problems.add(where, f"must be a string, got {type(value).__name__}")
        return ""
    if len(value) > limit:
        problems.add(where, f"is longer than {limit} characters")
        return ""
    return value


def title_of(alertname: str, summary: str, fallback: str) -> str:
    """One line of at most 300 characters (the incident title's limit)."""
    parts = [p for p in (alertname, summary) if p]
    line = " ".join((": ".join(parts) or fallback).split())
    return line[:300] or fallback
