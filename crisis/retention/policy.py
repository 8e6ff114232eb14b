"""How long a community keeps raw events and message text, and what incidents hold back.

Two settings, stored with the community's other settings (crisis.tenancy.community_settings):
`retention_days` (raw events and the members' text in evidence, 30 by default) and
`evidence_grace_days` (how long an incident's evidence outlives its postmortem's publication,
30 by default). Pure rules plus the one query that lists the holds."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crisis.ingest.validate import FieldError
from crisis.models import Community, Incident, Signal
from crisis.models.postmortem import Postmortem

DEFAULT_RETENTION_DAYS = 30
DEFAULT_GRACE_DAYS = 30
MAX_DAYS = 3650
FIELDS = ("retention_days", "evidence_grace_days")
# The raw events an incident cites reach back before it was written: the report-backlog
# detector judges reports up to 32 h old (crisis.detection.report_evidence.AGES), the others
# look back minutes to two hours. A hold covers that span before the incident's creation,
# plus a margin after its end for events that arrived late.
EVIDENCE_LOOKBACK = timedelta(hours=48)
EVIDENCE_MARGIN = timedelta(hours=1)


@dataclass(frozen=True)
class Policy:
    retention: timedelta
    grace: timedelta

    @property
    def retention_days(self) -> int:
        return self.retention.days

    @property
    def grace_days(self) -> int:
        return self.grace.days


def defaults() -> dict[str, Any]:
    return {"retention_days": DEFAULT_RETENTION_DAYS, "evidence_grace_days": DEFAULT_GRACE_DAYS}


def of(community: Community) -> Policy:
    settings = {**defaults(), **{k: v for k, v in (community.settings or {}).items() if k in FIELDS}}
    return Policy(retention=timedelta(days=int(settings["retention_days"])),
                  grace=timedelta(days=int(settings["evidence_grace_days"])))


def _whole_days(errors: list[FieldError], body: dict[str, Any], name: str, low: int) -> None:
    if name not in body:
        return
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_DAYS:
        errors.append(FieldError(0, name, f"must be a whole number of days from {low} to {MAX_DAYS}"))


def validate(body: dict[str, Any]) -> list[FieldError]:
    """Problems with the retention fields of a settings change (other fields are not looked at)."""
    errors: list[FieldError] = []
    _whole_days(errors, body, "retention_days", 1)
    _whole_days(errors, body, "evidence_grace_days", 0)
    return errors


def hold_ends(*, status: str, resolved_at: datetime | None, postmortem_status: str | None,
              published_at: datetime | None, grace: timedelta) -> datetime | None:
    """When an incident stops holding its evidence; None while it holds it for now.

    Until it is resolved it holds; a postmortem, once started, holds until its publication
    plus the grace period; an incident resolved without one holds for the grace period."""
    if status != "resolved" or resolved_at is None:
        return None
    if postmortem_status is not None:
        return published_at + grace if postmortem_status == "published" and published_at else None
    return resolved_at + grace


@dataclass(frozen=True)
class Hold:
    incident_id: int
    start: datetime
    end: datetime | None  # None: open-ended (the incident is still gathering evidence)


def holds(session: Session, community_id: int, *, now: datetime, grace: timedelta) -> list[Hold]:
    """The received-time windows of raw events that the community's incidents still hold.

    An incident's window runs from EVIDENCE_LOOKBACK before it was written to its
    resolution (or its detector's last update) plus EVIDENCE_MARGIN; received time and
    the incident's own times come from the same server clock, so backfilled events are
    held as well as live ones."""
    last_signal = (select(func.max(Signal.created_at)).where(Signal.incident_id == Incident.id)
                   .correlate(Incident).scalar_subquery())
    rows = session.execute(
        select(Incident.id, Incident.status, Incident.created_at, Incident.resolved_at, Incident.episode_closed_at,
               Postmortem.status, Postmortem.published_at, last_signal)
        .outerjoin(Postmortem, Postmortem.incident_id == Incident.id)
        .where(Incident.community_id == community_id)).all()
    out = []
    for incident_id, status, created, resolved, closed, pm_status, published, signalled in rows:
        ends = hold_ends(status=status, resolved_at=resolved, postmortem_status=pm_status,
                         published_at=published, grace=grace)
        if ends is not None and ends <= now:
            continue
        if status == "resolved" and resolved is not None:
            end: datetime | None = max(resolved, signalled or resolved) + EVIDENCE_MARGIN
        elif closed is not None:
            end = max(created, signalled or created) + EVIDENCE_MARGIN
        else:
            end = None
        out.append(Hold(incident_id, created - EVIDENCE_LOOKBACK, end))
    return out


def merged(windows: list[Hold]) -> list[tuple[datetime, datetime | None]]:
    """The holds' windows as disjoint intervals in time order (an open end swallows the rest)."""
    spans = sorted((h.start, h.end) for h in windows)
    out: list[tuple[datetime, datetime | None]] = []
    for start, end in spans:
        if out:
            last_start, last_end = out[-1]
            if last_end is None or start <= last_end:
                out[-1] = (last_start, None if end is None or last_end is None else max(last_end, end))
                continue
        out.append((start, end))
    return out
