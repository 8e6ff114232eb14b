"""What a community's retention looks like now: its settings, its holds, its last run."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from crisis.clock import isoformat
from crisis.models import Community, RetentionState
from crisis.retention import policy


def _when(value: datetime | None) -> str | None:
    return isoformat(value) if value is not None else None


def summary(session: Session, community: Community, *, now: datetime) -> dict[str, Any]:
    rules = policy.of(community)
    state = session.get(RetentionState, community.id)
    holding = policy.holds(session, community.id, now=now, grace=rules.grace)
    return {
        "retention_days": rules.retention_days, "evidence_grace_days": rules.grace_days,
        "cutoff": isoformat(now - rules.retention),
        "holding_incidents": sorted(h.incident_id for h in holding),
        "next_run_at": _when(state.next_run_at) if state else None,
        "last_run_at": _when(state.last_run_at) if state else None,
        "last_error": state.last_error if state else "",
        "last_run": (state.last_run or {}) if state else {},
        "batches_deleted": state.batches_deleted if state else 0,
        "events_deleted": state.events_deleted if state else 0,
        "evidence_expired": state.evidence_expired if state else 0,
    }
