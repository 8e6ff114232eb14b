"""Metrics computed at scrape time from the database and Redis, and the exposition.

State the database already records (open incidents, time to acknowledge, notification
outcomes, escalation steps) is read when Prometheus scrapes instead of being counted
in the engine's code paths: one source of truth, no edits to the engine's modules, and
restarts cannot lose counts. These are monotonic as long as rows are not deleted.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import cast

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from redis import Redis
from rq import Queue
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crisis.bridges import health as bridge_health
from crisis.clock import Clock, SystemClock
from crisis.ingest import backlog
from crisis.insight import metrics
from crisis.jobs import names
from crisis.models import (
    Channel,
    Community,
    ContactMethod,
    ContainmentAction,
    EscalationTimer,
    Incident,
    Notification,
    PlatformLink,
)

log = logging.getLogger(__name__)

# Minutes to hours: acknowledging within minutes is the goal, resolving takes longer.
RESPONSE_BUCKETS = (60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 43200.0, 86400.0, 259200.0)
OPEN_STATUSES = ("triggered", "acknowledged", "mitigated")


def _histogram(name: str, doc: str, durations: list[float]) -> HistogramMetricFamily:
    buckets, acc = [], 0
    ordered = sorted(durations)
    index = 0
    for bound in RESPONSE_BUCKETS:
        while index < len(ordered) and ordered[index] <= bound:
            index += 1
        acc = index
        buckets.append((str(bound), acc))
    buckets.append(("+Inf", len(ordered)))
    return HistogramMetricFamily(name, doc, buckets=buckets, sum_value=sum(ordered))


_Spans = list[tuple[datetime, datetime]]


def _seconds(pairs: _Spans) -> list[float]:
    return [max((end - start).total_seconds(), 0.0) for start, end in pairs]


def _scheme(url: str | None) -> str:
    # Only the scheme: the rest of an apprise URL often carries a token.
    if not url or "://" not in url:
        return "unknown"
    scheme = url.split("://", 1)[0].lower()
    return scheme if scheme.isalnum() and len(scheme) <= 20 else "unknown"


class DatabaseCollector(Collector):
    def __init__(self, sessions: sessionmaker[Session], clock: Clock | None = None) -> None:
        self.sessions = sessions
        self.clock = clock or SystemClock()

    def collect(self) -> Iterator[Metric]:
        try:
            with self.sessions() as session:
                yield from self._incidents(session)
                yield from self._notifications(session)
                yield from self._backlog(session)
                yield from self._bridges(session)
                yield from self._containment(session)
            yield _up("database", True)
        except Exception as exc:  # noqa: BLE001 -- a scrape must still return the other metrics
            log.warning("metrics: the database could not be read (%s)", type(exc).__name__)
            yield _up("database", False)

    def _incidents(self, session: Session) -> Iterator[Metric]:
        open_gauge = GaugeMetricFamily("crisis_open_incidents", "Incidents not yet resolved.",
                                       labels=["severity", "status"])
        for severity, status, n in session.execute(
                select(Incident.severity, Incident.status, func.count()).where(Incident.status.in_(OPEN_STATUSES))
                .group_by(Incident.severity, Incident.status)):
            open_gauge.add_metric([severity, status], n)
        yield open_gauge
        acked = session.execute(select(Incident.created_at, Incident.acknowledged_at)
                                .where(Incident.acknowledged_at.is_not(None))).all()
        # The where clauses keep only rows whose end is set.
        yield _histogram("crisis_incident_time_to_acknowledge_seconds",
                         "From an incident's creation to its first acknowledgement.",
                         _seconds(cast(_Spans, acked)))
        resolved = session.execute(select(Incident.created_at, Incident.resolved_at)
                                   .where(Incident.resolved_at.is_not(None))).all()
        yield _histogram("crisis_incident_time_to_resolve_seconds",
                         "From an incident's creation to its resolution.", _seconds(cast(_Spans, resolved)))
        fired = session.scalar(select(func.coalesce(func.sum(EscalationTimer.fired_count), 0)))
        yield CounterMetricFamily("crisis_escalations_fired", "Escalation levels fired.", value=int(fired or 0))
        yield from self._unreached(session)

    def _unreached(self, session: Session) -> Iterator[Metric]:
        """Escalations that ended without delivering a page (crisis.notify.unreached): a count
        that only grows, and the unacknowledged incidents in that state now (alert on > 0)."""
        total = session.scalar(select(func.coalesce(func.sum(EscalationTimer.unreached_count), 0)))
        yield CounterMetricFamily("crisis_escalations_unreached", "Escalation rounds that ended without "
                                  "delivering a page to anyone.", value=int(total or 0))
        now_open = GaugeMetricFamily("crisis_incidents_unreached", "Unacknowledged incidents whose escalation "
                                     "reached nobody.", labels=["community", "severity"])
        for slug, severity, n in session.execute(
                select(Community.slug, Incident.severity, func.count())
                .join(EscalationTimer, EscalationTimer.incident_id == Incident.id)
                .join(Community, Community.id == Incident.community_id)
                .where(EscalationTimer.unreached_at.is_not(None), Incident.status == "triggered")
                .group_by(Community.slug, Incident.severity)):
            now_open.add_metric([slug, severity], n)
        yield now_open

    def _notifications(self, session: Session) -> Iterator[Metric]:
        done = CounterMetricFamily("crisis_notifications", "Notifications sent or given up on, by channel kind.",
                                   labels=["kind", "outcome"])
        pending = GaugeMetricFamily("crisis_notifications_pending", "Notifications waiting to be (re)sent.",
                                    labels=["kind"])
        url = func.coalesce(ContactMethod.url, Channel.url)
        rows = session.execute(
            select(Notification.status, url, func.count()).select_from(Notification)
            .outerjoin(ContactMethod, ContactMethod.id == Notification.contact_method_id)
            .outerjoin(Channel, Channel.id == Notification.channel_id)
            .group_by(Notification.status, url))
        sent: dict[tuple[str, str], int] = {}
        waiting: dict[str, int] = {}
        for status, target, n in rows:
            kind = _scheme(target)
            if status in ("sent", "failed"):
                sent[(kind, status)] = sent.get((kind, status), 0) + n
            else:
                waiting[kind] = waiting.get(kind, 0) + n
        for (kind, status), n in sorted(sent.items()):
            done.add_metric([kind, status], n)
        for kind, n in sorted(waiting.items()):
            pending.add_metric([kind], n)
        yield done
        yield pending

    def _bridges(self, session: Session) -> Iterator[Metric]:
        """Per platform link: a silent bridge must show, not look like a quiet community."""
        labels = ["community", "platform", "link"]
        silent = GaugeMetricFamily("crisis_bridge_silent", "1 when a platform link delivered nothing for longer "
                                   "than its silence threshold.", labels=labels)
        age = GaugeMetricFamily("crisis_bridge_seconds_since_last_event", "Seconds since a platform link "
                                "delivered an event (since it was created, before the first).", labels=labels)
        received = CounterMetricFamily("crisis_bridge_events_received", "Events a platform link stored.",
                                       labels=labels)
        skipped = CounterMetricFamily("crisis_bridge_events_skipped", "Pushed events a link did not store "
                                      "(unlinked rooms, unmapped or malformed events).", labels=labels)
        now = self.clock.now()
        rows = session.execute(select(PlatformLink, Community.slug)
                               .join(Community, Community.id == PlatformLink.community_id)).all()
        for link, slug in rows:
            key = [slug, link.platform, link.name]
            silent.add_metric(key, 1.0 if link.silent_since is not None or bridge_health.silent_now(link, now)
                              else 0.0)
            age.add_metric(key, (now - (link.last_event_at or link.created_at)).total_seconds())
            received.add_metric(key, link.events_received)
            skipped.add_metric(key, link.events_skipped)
        yield from (silent, age, received, skipped)

    def _containment(self, session: Session) -> Iterator[Metric]:
        """Containment actions by kind and status (applied, reverted, failed, ...), from the
        rows themselves, so every process's work counts and a restart loses nothing."""
        actions = GaugeMetricFamily("crisis_containment_actions", "Containment actions by kind and status.",
                                    labels=["kind", "status"])
        for kind, status, n in session.execute(
                select(ContainmentAction.kind, ContainmentAction.status, func.count())
                .group_by(ContainmentAction.kind, ContainmentAction.status)):
            actions.add_metric([kind, status], n)
        applied = CounterMetricFamily("crisis_containment_applied", "Containment actions ever applied "
                                      "(reverted or not).", labels=["kind"])
        for kind, n in session.execute(select(ContainmentAction.kind, func.count())
                                       .where(ContainmentAction.applied_at.is_not(None))
                                       .group_by(ContainmentAction.kind)):
            applied.add_metric([kind], n)
        yield from (actions, applied)

    def _backlog(self, session: Session) -> Iterator[Metric]:
        yield GaugeMetricFamily("crisis_events_pending", "Stored events the detectors have not consumed yet.",
                                value=backlog.pending_count(session))


class RedisCollector(Collector):
    def __init__(self, redis: Redis[bytes]) -> None:
        self.redis = redis

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily("crisis_queue_depth", "Jobs waiting in each rq queue.", labels=["queue"])
        scheduled = GaugeMetricFamily("crisis_queue_scheduled", "Jobs scheduled for later.", labels=["queue"])
        failed = GaugeMetricFamily("crisis_queue_failed_jobs", "Jobs kept in rq's failed registry.",
                                   labels=["queue"])
        try:
            for name in names.QUEUES:
                q = Queue(name, connection=self.redis)
                depth.add_metric([name], q.count)
                later = ScheduledJobRegistry(queue=q)  # type: ignore[no-untyped-call]  # -- rq: unannotated __init__
                scheduled.add_metric([name], later.count)
                failed.add_metric([name], FailedJobRegistry(queue=q).count)
        except Exception as exc:  # noqa: BLE001
            log.warning("metrics: Redis could not be read (%s)", type(exc).__name__)
            yield _up("redis", False)
            return
        yield depth
        yield scheduled
        yield failed
        yield _up("redis", True)


def _up(source: str, ok: bool) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"crisis_scrape_{source}_up", f"1 when this scrape could read {source}.",
                             value=1.0 if ok else 0.0)


class GroupsCollector(Collector):
    """prometheus-client's multiprocess merge over every process group's directory at once
    (one collector per directory would emit each metric family several times)."""

    def __init__(self, own: Path, root: Path) -> None:
        # A directory set by hand (not by prepare_group) is read on its own.
        self.pattern = "*/*.db" if own.parent == root else f"{own.name}/*.db"
        self.root = own.parent

    def collect(self) -> Iterator[Metric]:
        files = sorted(str(f) for f in self.root.glob(self.pattern))
        merged = MultiProcessCollector.merge(files, accumulate=True)  # type: ignore[no-untyped-call]  # -- unannotated
        return iter(merged)


def render(sessions: sessionmaker[Session], redis: Redis[bytes], var_dir: Path, clock: Clock | None = None) -> bytes:
    """The /metrics body: every process group's files plus the scrape-time collectors."""
    registry = CollectorRegistry(auto_describe=False)
    own = metrics.multiprocess_dir()
    if own is None:
        registry.register(_Forward(REGISTRY))  # single process (tests, embedded): live objects
    else:
        registry.register(GroupsCollector(own, metrics.metrics_root(var_dir)))
    registry.register(DatabaseCollector(sessions, clock))
    registry.register(RedisCollector(redis))
    return generate_latest(registry)


class _Forward(Collector):
    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        return iter(self.source.collect())
