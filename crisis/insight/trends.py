"""Read models for dashboards and charts: incidents per week, response times, detector
precision from postmortem verdicts, overdue action items, notification failures, and a
community's health (joins, leaves, messages, reports per day and per hour).

Everything is bucketed in Python over narrow row selections, so the same code runs on
SQLite and PostgreSQL; the windows are small (weeks of incidents, days of events)."""
from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crisis.clock import utc
from crisis.insight import activity
from crisis.models import Community, Incident, Notification, User
from crisis.models.postmortem import ActionItem, Postmortem
from crisis.response.states import SEVERITIES

HEALTH_TYPES = {"member.join": "joins", "member.leave": "leaves", "message.create": "messages",
                "report.create": "reports"}
VERDICTS = ("true_alarm", "false_alarm", "duplicate")


def week_start(at: datetime) -> datetime:
    day = utc(at).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def _weeks(now: datetime, count: int) -> list[datetime]:
    last = week_start(now)
    return [last - timedelta(weeks=count - 1 - i) for i in range(count)]


@dataclass
class WeeklySeries:
    weeks: list[str]
    series: dict[str, list[float | None]] = field(default_factory=dict)


def incidents_per_week(session: Session, community_ids: list[int], *, now: datetime,
                       weeks: int = 8) -> dict[str, WeeklySeries]:
    """Incidents opened per week, split by kind, by severity and by source (what opened them:
    detectors, alert integrations, people, bridge monitors)."""
    starts = _weeks(now, weeks)
    labels = [w.date().isoformat() for w in starts]
    rows = session.execute(select(Incident.opened_at, Incident.kind, Incident.severity, Incident.source).where(
        Incident.community_id.in_(community_ids), Incident.opened_at >= starts[0])).all()
    by_kind: dict[str, list[float | None]] = defaultdict(lambda: [0] * weeks)
    by_sev: dict[str, list[float | None]] = {s: [0] * weeks for s in SEVERITIES}
    by_source: dict[str, list[float | None]] = defaultdict(lambda: [0] * weeks)
    for opened, kind, severity, source in rows:
        i = labels.index(week_start(opened).date().isoformat()) if week_start(opened) >= starts[0] else -1
        if 0 <= i < weeks:
            by_kind[kind][i] += 1  # type: ignore[operator]
            by_sev.setdefault(severity, [0] * weeks)[i] += 1  # type: ignore[operator]
            by_source[source][i] += 1  # type: ignore[operator]
    return {"kind": WeeklySeries(labels, dict(sorted(by_kind.items()))), "severity": WeeklySeries(labels, by_sev),
            "source": WeeklySeries(labels, dict(sorted(by_source.items())))}


def response_times_per_week(session: Session, community_ids: list[int], *, now: datetime,
                            weeks: int = 8) -> WeeklySeries:
    """Median minutes from the incident being written to acknowledged and to resolved, per week opened."""
    starts = _weeks(now, weeks)
    labels = [w.date().isoformat() for w in starts]
    rows = session.execute(select(Incident.created_at, Incident.acknowledged_at, Incident.resolved_at).where(
        Incident.community_id.in_(community_ids), Incident.created_at >= starts[0])).all()
    ack: dict[int, list[float]] = defaultdict(list)
    res: dict[int, list[float]] = defaultdict(list)
    for created, acked, resolved in rows:
        i = labels.index(week_start(created).date().isoformat())
        if acked is not None:
            ack[i].append(max((acked - created).total_seconds(), 0) / 60)
        if resolved is not None:
            res[i].append(max((resolved - created).total_seconds(), 0) / 60)

    def medians(values: dict[int, list[float]]) -> list[float | None]:
        return [round(statistics.median(values[i]), 1) if values.get(i) else None for i in range(weeks)]

    return WeeklySeries(labels, {"acknowledge": medians(ack), "resolve": medians(res)})


@dataclass
class Precision:
    kind: str
    true_alarm: int = 0
    false_alarm: int = 0
    duplicate: int = 0

    @property
    def judged(self) -> int:
        return self.true_alarm + self.false_alarm

    @property
    def precision(self) -> float | None:
        """True alarms over true + false alarms; duplicates are neither (the detector was right twice)."""
        return round(self.true_alarm / self.judged, 3) if self.judged else None


def detector_precision(session: Session, community_ids: list[int]) -> list[Precision]:
    """Per detector kind, from the verdicts of postmortems (draft verdicts count: they are a person's call)."""
    rows = session.execute(select(Incident.kind, Postmortem.verdict, func.count())
                           .join(Postmortem, Postmortem.incident_id == Incident.id)
                           .where(Incident.community_id.in_(community_ids), Incident.source == "detector",
                                  Postmortem.verdict.is_not(None))
                           .group_by(Incident.kind, Postmortem.verdict)).all()
    out: dict[str, Precision] = {}
    for kind, verdict, count in rows:
        if verdict in VERDICTS:
            setattr(out.setdefault(kind, Precision(kind)), verdict, count)
    return [out[k] for k in sorted(out)]


@dataclass
class OverdueItem:
    item: ActionItem
    incident: Incident
    owner: User | None
    days_late: int
    slug: str


def overdue_action_items(session: Session, community_ids: list[int], *, now: datetime) -> list[OverdueItem]:
    rows = session.execute(select(ActionItem, Incident, User, Community.slug)
                           .join(Postmortem, Postmortem.id == ActionItem.postmortem_id)
                           .join(Incident, Incident.id == Postmortem.incident_id)
                           .join(Community, Community.id == Incident.community_id)
                           .outerjoin(User, User.id == ActionItem.owner_id)
                           .where(Incident.community_id.in_(community_ids), ActionItem.status != "done",
                                  ActionItem.due_at < now)
                           .order_by(ActionItem.due_at)).all()
    # `due_at < now` keeps only items that have a due date.
    return [OverdueItem(item, incident, owner, (now - cast(datetime, item.due_at)).days, slug)
            for item, incident, owner, slug in rows]


def notification_failures(session: Session, community_ids: list[int], *, now: datetime,
                          weeks: int = 8) -> tuple[WeeklySeries, list[Notification]]:
    """Failed deliveries per week (by creation), and the latest ten with their errors."""
    starts = _weeks(now, weeks)
    labels = [w.date().isoformat() for w in starts]
    rows = session.execute(select(Notification.created_at, Notification.status).where(
        Notification.community_id.in_(community_ids), Notification.created_at >= starts[0])).all()
    failed = [0.0] * weeks
    sent = [0.0] * weeks
    for created, status in rows:
        i = labels.index(week_start(created).date().isoformat())
        if status == "failed":
            failed[i] += 1
        elif status == "sent":
            sent[i] += 1
    latest = list(session.scalars(select(Notification).where(
        Notification.community_id.in_(community_ids), Notification.status == "failed")
        .order_by(Notification.created_at.desc()).limit(10)))
    return WeeklySeries(labels, {"failed": list(failed), "sent": list(sent)}), latest


@dataclass
class Health:
    labels: list[str]
    series: dict[str, list[float | None]]
    incidents: list[tuple[int, Incident]]  # (bucket index, incident) for markers


def community_health(session: Session, community_id: int, *, end: datetime, buckets: int,
                     bucket: timedelta) -> Health:
    """Joins, leaves, messages and reports per bucket (a day or an hour) ending at `end`."""
    if bucket >= timedelta(days=1):
        last = utc(end).replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        last = utc(end).replace(minute=0, second=0, microsecond=0)
    start = last - bucket * (buckets - 1)
    stop = last + bucket
    series: dict[str, list[float | None]] = {name: [0] * buckets for name in HEALTH_TYPES.values()}
    for etype, minute, n in activity.counts(session, community_id, start, stop, HEALTH_TYPES):
        i = int((minute - start) / bucket)
        if 0 <= i < buckets:
            series[HEALTH_TYPES[etype]][i] += n  # type: ignore[operator]
    incidents = session.scalars(select(Incident).where(Incident.community_id == community_id,
                                                       Incident.opened_at >= start, Incident.opened_at < stop)
                                .order_by(Incident.opened_at))
    fmt = "%m-%d" if bucket >= timedelta(days=1) else "%d %H:00"
    labels = [(start + bucket * i).strftime(fmt) for i in range(buckets)]
    return Health(labels, series, [(int((inc.opened_at - start) / bucket), inc) for inc in incidents])


@dataclass
class ActivityWindow:
    """The per-minute activity around an incident, for its evidence chart."""

    labels: list[str]
    series: dict[str, list[float | None]]
    baseline: dict[str, float]  # expected events per minute, by series name
    opened_index: int | None
    source: str  # "events" (stored events) or "evidence" (what the detector kept)


_EVIDENCE_SERIES = {"per_minute_joins": "member.join", "per_minute_messages": "message.create",
                    "per_minute_reports": "report.create", "per_minute_leaves": "member.leave"}


def _baselines(evidence: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    joins = evidence.get("joins")
    if isinstance(joins, dict) and joins.get("window_min"):
        out["member.join"] = float(joins.get("expected", 0)) / float(joins["window_min"])
    if evidence.get("window_min") and "expected" in evidence:
        target = "report.create" if "per_minute_reports" in evidence else (
            "member.leave" if "per_minute_leaves" in evidence else "message.create")
        out[target] = float(evidence["expected"]) / float(evidence["window_min"])
    return {k: round(v, 3) for k, v in out.items()}


def incident_activity(session: Session, incident: Incident, *, before: int = 45, after: int = 30) -> ActivityWindow:
    """Stored events per minute from `before` minutes ahead of the opening to `after` past it
    (or the latest event); falls back to the detector's own series when no events are stored."""
    evidence = incident.evidence or {}
    baseline = _baselines(evidence)
    opened = utc(incident.opened_at).replace(second=0, microsecond=0)
    start = opened - timedelta(minutes=before)
    latest = activity.latest_event_time(session, incident.community_id)
    end = min(opened + timedelta(minutes=after), latest) if latest else opened
    end = max(end, opened)
    minutes = int((end - start).total_seconds() // 60) + 1
    rows = activity.counts(session, incident.community_id, start, start + timedelta(minutes=minutes), HEALTH_TYPES)
    if rows:
        series: dict[str, list[float | None]] = {}
        for etype, minute, n in rows:
            series.setdefault(etype, [0] * minutes)
            series[etype][int((minute - start).total_seconds() // 60)] += n  # type: ignore[operator]
        labels = [(start + timedelta(minutes=i)).strftime("%H:%M") for i in range(minutes)]
        return ActivityWindow(labels, dict(sorted(series.items())), baseline, before, "events")
    found = {etype: [float(v) for v in evidence[key]] for key, etype in _EVIDENCE_SERIES.items()
             if isinstance(evidence.get(key), list) and evidence[key]}
    if not found:
        return ActivityWindow([], {}, baseline, None, "none")
    length = max(len(v) for v in found.values())
    last = utc(incident.last_signal_at or incident.opened_at).replace(second=0, microsecond=0)
    first = last - timedelta(minutes=length - 1)
    labels = [(first + timedelta(minutes=i)).strftime("%H:%M") for i in range(length)]
    index = int((opened - first).total_seconds() // 60)
    return ActivityWindow(labels, dict(sorted(found.items())), baseline,  # type: ignore[arg-type]
                          index if 0 <= index < length else None, "evidence")


def onset(incident: Incident) -> datetime:
    """The first minute of the anomaly: walk back from the opening while a series stays
    above twice its expected rate. The opening itself when the evidence cannot tell."""
    evidence = incident.evidence or {}
    baselines = _baselines(evidence)
    opened = utc(incident.opened_at)
    best = 0
    for key, etype in _EVIDENCE_SERIES.items():
        series = evidence.get(key)
        if not isinstance(series, list) or etype not in baselines:
            continue
        limit = max(2 * baselines[etype], baselines[etype] + 2)
        run = 0
        for value in reversed(series):
            if value <= limit:
                break
            run += 1
        best = max(best, run)
    return opened - timedelta(minutes=max(best - 1, 0))


def _seconds(a: datetime | None, b: datetime | None) -> int | None:
    return int((b - a).total_seconds()) if a is not None and b is not None else None


@dataclass(frozen=True)
class ResponseTimes:
    """Seconds, as postmortems state them: detect from the onset to the incident being
    written; acknowledge and resolve from then. None where it has not happened."""

    time_to_detect: int | None
    time_to_acknowledge: int | None
    time_to_resolve: int | None


def response_times(incident: Incident) -> ResponseTimes:
    return ResponseTimes(_seconds(onset(incident), incident.created_at),
                         _seconds(incident.created_at, incident.acknowledged_at),
                         _seconds(incident.created_at, incident.resolved_at))


def median_seconds(values: list[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return int(statistics.median(known)) if known else None


def counts_by_status(session: Session, community_ids: list[int]) -> Counter[str]:
    rows = session.execute(select(Incident.status, func.count()).where(Incident.community_id.in_(community_ids))
                           .group_by(Incident.status)).all()
    return Counter({status: count for status, count in rows})


def counts_by_source(session: Session, community_ids: list[int]) -> dict[str, Counter[str]]:
    """Per source (detector, alert, manual, bridge): incidents per status."""
    rows = session.execute(select(Incident.source, Incident.status, func.count())
                           .where(Incident.community_id.in_(community_ids))
                           .group_by(Incident.source, Incident.status)).all()
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for source, status, count in rows:
        out[source][status] = count
    return dict(sorted(out.items()))
