"""Where alert notifications become incidents: one incident per group (Alertmanager's
groupKey, PagerDuty's dedup_key); later notifications update it without paging again;
every alert is kept by its fingerprint.

The group's moves, with the hysteresis detector episodes use (crisis.response.signals:
an episode closes only after a quiet spell, and a signal inside it joins the episode):

| group was            | notification          | incident is          | what happens                         |
|----------------------|-----------------------|----------------------|--------------------------------------|
| new                  | firing                | -                    | open (pages through the playbook)    |
| new                  | all resolved          | -                    | alerts kept, no incident             |
| any                  | firing                | open                 | update: evidence, new alerts on the  |
|                      |                       |                      | timeline, severity raised; no page   |
| any                  | firing, new alerts    | resolved, within     | reopen (pages: reopened)             |
|                      |                       | reopen_within_s      |                                      |
| any                  | firing, new alerts    | resolved, later      | open anew (generation + 1)           |
| any                  | firing, nothing new   | resolved             | alerts kept (a repeat after a person |
|                      |                       |                      | resolved it does not reopen)         |
| firing               | all resolved          | open                 | timeline; resolve if auto_resolve    |
| resolved             | all resolved          | any                  | nothing more (a retry)               |

Everything happens in the caller's transaction; notifications are rows (crisis.notify.outbox)
written by the lifecycle, so a retried delivery of the same body changes nothing twice."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.alert_intake.notice import FIRING, RESOLVED, AlertIn, Notice
from crisis.clock import Clock, isoformat, utc
from crisis.models import AlertGroup, AlertInstance, AlertIntegration, Community, Incident
from crisis.response import lifecycle
from crisis.response.states import IncidentStatus, more_severe
from crisis.timeline import add_timeline

S = IncidentStatus
SOURCE = "alert"  # Incident.source of everything opened here (detectors write "detector")
EVIDENCE_ALERTS = 50  # alerts copied into the incident's evidence; every alert stays in alert_instances
TEXT_ALERTS = 10  # alerts listed in notification text


@dataclass(frozen=True)
class Received:
    group_key: str
    outcome: str  # opened | updated | reopened | resolved | acknowledged | recorded
    incident_id: int | None = None


def key_hash(group_key: str) -> str:
    return hashlib.sha256(group_key.encode()).hexdigest()


def actor_for(integration: AlertIntegration) -> lifecycle.Actor:
    return lifecycle.Actor(None, f"{integration.name} ({integration.kind})", via="alert")


def find_group(session: Session, integration: AlertIntegration, group_key: str) -> AlertGroup | None:
    # FOR UPDATE: two notifications of one group (a retry racing the next) apply one after the other.
    return session.scalar(select(AlertGroup).where(AlertGroup.integration_id == integration.id,
                                                   AlertGroup.key_hash == key_hash(group_key)).with_for_update())


def receive(session: Session, integration: AlertIntegration, notice: Notice, *, clock: Clock) -> Received:
    """Apply one notification. A unique-key race on a new group raises IntegrityError: the
    caller rolls back and calls again (the group then exists)."""
    now = clock.now()
    _touch(integration, now)
    group = find_group(session, integration, notice.group_key)
    if group is None:
        group = AlertGroup(integration_id=integration.id, community_id=integration.community_id,
                           key_hash=key_hash(notice.group_key), group_key=notice.group_key, status=RESOLVED,
                           generation=0, first_seen_at=now, last_notified_at=now, notifications=0)
        session.add(group)
        session.flush()
    group.notifications += 1
    group.last_notified_at = now
    if notice.action == "acknowledge":
        return _acknowledge(session, integration, group, clock)
    if notice.action == "resolve":
        _store(session, group, [AlertIn(a.fingerprint, RESOLVED, a.labels, a.annotations, a.starts_at, now, a.url)
                                for a in _stored(session, group)], now)
        return _all_resolved(session, integration, group, clock, resolve=True, explicit=True)
    newly_firing = _store(session, group, notice.alerts, now)
    if notice.firing:
        return _firing(session, integration, group, notice, newly_firing, clock)
    return _all_resolved(session, integration, group, clock, resolve=integration.auto_resolve)


def _touch(integration: AlertIntegration, now: datetime) -> None:
    last = integration.last_received_at
    if last is None or (now - utc(last)).total_seconds() > 60:
        integration.last_received_at = now


def _stored(session: Session, group: AlertGroup) -> list[AlertInstance]:
    return list(session.scalars(select(AlertInstance).where(AlertInstance.group_id == group.id)
                                .order_by(AlertInstance.id)))


def _store(session: Session, group: AlertGroup, alerts: list[AlertIn], now: datetime) -> list[AlertIn]:
    """Upsert by fingerprint; returns the alerts that fire now and did not before."""
    known = {row.fingerprint: row for row in _stored(session, group)}
    newly: list[AlertIn] = []
    for alert in alerts:
        row = known.get(alert.fingerprint)
        if row is None:
            row = AlertInstance(group_id=group.id, fingerprint=alert.fingerprint, status=alert.status,
                                first_seen_at=now, last_seen_at=now)
            session.add(row)
            known[alert.fingerprint] = row
            if alert.status == FIRING:
                newly.append(alert)
        elif row.status != FIRING and alert.status == FIRING:
            newly.append(alert)
        row.status, row.last_seen_at = alert.status, now
        if alert.labels or alert.annotations or row.labels is None:
            row.labels, row.annotations = alert.labels, alert.annotations
        row.starts_at, row.ends_at = alert.starts_at or row.starts_at, alert.ends_at
        row.url = alert.url or row.url or ""
    session.flush()
    return newly


def _firing(session: Session, integration: AlertIntegration, group: AlertGroup, notice: Notice,
            newly_firing: list[AlertIn], clock: Clock) -> Received:
    now = clock.now()
    was_resolved = group.status == RESOLVED
    group.status, group.resolved_at = FIRING, None
    incident = session.get(Incident, group.incident_id) if group.incident_id else None
    if incident is not None and incident.status == S.RESOLVED.value:
        if not newly_firing:
            return Received(notice.group_key, "recorded", incident.id)
        since = utc(incident.resolved_at) if incident.resolved_at else now
        if now - since > timedelta(seconds=integration.reopen_within_s):
            incident = None  # the quiet spell passed: a new crisis, a new incident
        else:
            _refresh(session, integration, group, incident, notice, newly_firing, now, again=was_resolved)
            lifecycle.transition(session, incident.id, S.TRIGGERED, actor=actor_for(integration), clock=clock,
                                 note=f"{len(newly_firing)} alert(s) of the group fire again")
            return Received(notice.group_key, "reopened", incident.id)
    if incident is None:
        incident = _open(session, integration, group, notice, clock)
        return Received(notice.group_key, "opened", incident.id)
    _refresh(session, integration, group, incident, notice, newly_firing, now, again=was_resolved)
    if more_severe(notice.severity, incident.severity):
        previous = incident.severity
        add_timeline(session, incident, "severity", f"{actor_for(integration).label} raised severity "
                     f"{previous} → {notice.severity}", at=now, actor=actor_for(integration).label,
                     data={"from": previous, "to": notice.severity})
        incident.severity = notice.severity
        lifecycle.severity_raised(session, incident, previous=previous, now=now)
    return Received(notice.group_key, "updated", incident.id)


def _open(session: Session, integration: AlertIntegration, group: AlertGroup, notice: Notice,
          clock: Clock) -> Incident:
    community = session.get(Community, integration.community_id)
    assert community is not None
    group.generation += 1
    incident = lifecycle.open_manual(
        session, community, kind=integration.incident_kind, severity=notice.severity, title=notice.title,
        description=f"Alerts from {integration.name} ({integration.kind})", actor=actor_for(integration),
        clock=clock, source=SOURCE, episode_key=f"alert:{integration.id}:{group.id}:{group.generation}",
        evidence=evidence(session, integration, group, notice.details), playbook=integration.playbook)
    group.incident_id = incident.id
    return incident


def _refresh(session: Session, integration: AlertIntegration, group: AlertGroup, incident: Incident,
             notice: Notice, newly_firing: list[AlertIn], now: datetime, *, again: bool) -> None:
    incident.evidence = {**(incident.evidence or {}), **evidence(session, integration, group, notice.details)}
    incident.last_signal_at = now
    label = actor_for(integration).label
    if again:
        add_timeline(session, incident, "alert", f"The alert group fires again ({len(newly_firing)} alert(s))",
                     at=now, actor=label, data={"fingerprints": [a.fingerprint for a in newly_firing][:100]})
    elif newly_firing:
        names = ", ".join(_alert_line(a) for a in newly_firing[:5])
        add_timeline(session, incident, "alert", f"{len(newly_firing)} more alert(s) firing: {names}"[:2000],
                     at=now, actor=label, data={"fingerprints": [a.fingerprint for a in newly_firing][:100]})


def _all_resolved(session: Session, integration: AlertIntegration, group: AlertGroup, clock: Clock, *,
                  resolve: bool, explicit: bool = False) -> Received:
    """Every alert resolved; `explicit` is a sender's resolve event (PagerDuty), which
    resolves the incident even when the group was already quiet."""
    now = clock.now()
    incident = session.get(Incident, group.incident_id) if group.incident_id else None
    if group.status == RESOLVED and not explicit:
        return Received(group.group_key, "recorded", incident.id if incident else None)
    if group.status != RESOLVED or group.resolved_at is None:
        group.status, group.resolved_at = RESOLVED, now
        if incident is not None:
            incident.evidence = {**(incident.evidence or {}), **evidence(session, integration, group, {})}
            add_timeline(session, incident, "alert", f"Every alert of the group resolved "
                         f"({incident.evidence['alerts_total']})", at=now, actor=actor_for(integration).label,
                         data={"auto_resolve": resolve})
    if incident is None:
        return Received(group.group_key, "recorded")
    if resolve and incident.status != S.RESOLVED.value:
        lifecycle.transition(session, incident.id, S.RESOLVED, actor=actor_for(integration), clock=clock,
                             note="every alert of the group resolved")
        return Received(group.group_key, "resolved", incident.id)
    return Received(group.group_key, "recorded", incident.id)


def _acknowledge(session: Session, integration: AlertIntegration, group: AlertGroup, clock: Clock) -> Received:
    incident = session.get(Incident, group.incident_id) if group.incident_id else None
    if incident is None or incident.status != S.TRIGGERED.value:
        return Received(group.group_key, "recorded", incident.id if incident else None)
    lifecycle.transition(session, incident.id, S.ACKNOWLEDGED, actor=actor_for(integration), clock=clock,
                         note="acknowledged by the sender")
    return Received(group.group_key, "acknowledged", incident.id)


def _alert_line(alert: AlertIn | AlertInstance) -> str:
    name = alert.labels.get("alertname") or alert.labels.get("source") or alert.fingerprint
    others = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()) if k != "alertname")[:300]
    summary = alert.annotations.get("summary") or alert.annotations.get("description") or ""
    return f"{name}{{{others}}}" + (f": {summary[:300]}" if summary else "")


def _alert_row(row: AlertInstance) -> dict[str, Any]:
    return {"fingerprint": row.fingerprint, "status": row.status, "labels": row.labels,
            "annotations": row.annotations, "url": row.url,
            "starts_at": isoformat(row.starts_at) if row.starts_at else None,
            "ends_at": isoformat(row.ends_at) if row.ends_at else None}


def evidence(session: Session, integration: AlertIntegration, group: AlertGroup,
             details: dict[str, Any]) -> dict[str, Any]:
    """What the incident shows: the group's alerts (firing first), the sender's details, and
    the plain text notification templates list (crisis.notify.outbox: incident.details)."""
    rows = sorted(_stored(session, group), key=lambda r: (r.status != FIRING, r.id))
    firing = sum(1 for r in rows if r.status == FIRING)
    lines = [f"{firing} firing, {len(rows) - firing} resolved · {integration.name} ({integration.kind})"]
    lines += [f"- [{r.status}] {_alert_line(r)}" for r in rows[:TEXT_ALERTS]]
    if len(rows) > TEXT_ALERTS:
        lines.append(f"… and {len(rows) - TEXT_ALERTS} more")
    return {**details, "integration": {"id": integration.id, "name": integration.name,
                                              "kind": integration.kind},
            "group_key": group.group_key[:1000], "alerts": [_alert_row(r) for r in rows[:EVIDENCE_ALERTS]],
            "alerts_total": len(rows), "alerts_firing": firing, "alert_text": "\n".join(lines)}
