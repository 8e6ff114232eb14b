"""Per-community response times for cases, one per category, in the community's settings
(`case_response`: {"harassment": "30m", "feedback": "7d", ...}); unset categories keep
crisis.cases.categories' defaults."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from crisis.cases.categories import CATEGORIES, DEFAULT_DUE
from crisis.ingest.validate import FieldError
from crisis.models import Community
from crisis.playbooks import parse_duration

KEY = "case_response"
SHORTEST = timedelta(minutes=5)
LONGEST = timedelta(days=30)


def validate(value: Any) -> list[FieldError]:
    if not isinstance(value, dict):
        return [FieldError(0, KEY, "must be an object of category: duration (e.g. {\"spam\": \"4h\"})")]
    errors = []
    for category, raw in value.items():
        where = f"{KEY}.{category}"
        if category not in CATEGORIES:
            errors.append(FieldError(0, where, f"is not a category ({', '.join(CATEGORIES)})"))
            continue
        try:
            due = parse_duration(raw)
        except ValueError as exc:
            errors.append(FieldError(0, where, str(exc)))
            continue
        if not SHORTEST <= due <= LONGEST:
            errors.append(FieldError(0, where, "must be from 5m to 30d"))
    return errors


def response_times(community: Community) -> dict[str, timedelta]:
    stored = (community.settings or {}).get(KEY) or {}
    return {c: parse_duration(stored[c]) if c in stored else DEFAULT_DUE[c] for c in CATEGORIES}


def defaults() -> dict[str, str]:
    return {c: f"{int(d.total_seconds() // 60)}m" if d < timedelta(hours=1) else f"{int(d.total_seconds() // 3600)}h"
            for c, d in DEFAULT_DUE.items()}
