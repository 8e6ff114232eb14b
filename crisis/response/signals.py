"""Where detector signals become incidents: a new episode opens one, a later wave of the
same episode updates it (raising its severity when worse), a quiet spell closes the episode.

The lifecycle (acknowledge, resolve, ...) lives in crisis.response.lifecycle; this module
records what detectors saw and starts the playbook there, in the same transaction."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.clock import Clock
from crisis.containment import service as containment
from crisis.models import Community, Incident, Signal
from crisis.response import lifecycle
from crisis.response.states import IncidentStatus, more_severe
from crisis.timeline import add_timeline


def find_by_episode(session: Session, community_id: int, episode_key: str) -> Incident | None:
    return session.scalar(select(Incident).where(
        Incident.community_id == community_id, Incident.episode_key == episode_key))


def open_detected(session: Session, community: Community, *, episode_key: str, kind: str, severity: str,
                  title: str, opened_at: datetime, evidence: dict[str, Any], score: float, scope: str,
                  clock: Clock) -> Incident | None:
    """Open the incident for a new episode; None when that episode already has one."""
    if find_by_episode(session, community.id, episode_key) is not None:
        return None
    now = clock.now()
    incident = Incident(community_id=community.id, kind=kind, title=title, severity=severity,
                        status=IncidentStatus.TRIGGERED.value, source="detector", episode_key=episode_key,
                        evidence=evidence, opened_at=opened_at, created_at=now, last_signal_at=opened_at)
    session.add(incident)
    session.flush()
    _record_signal(session, incident, kind=kind, severity=severity, score=score, scope=scope,
                   observed_at=opened_at, evidence=evidence, now=now)
    add_timeline(session, incident, "opened", f"Detector opened {kind} incident: {title}", at=now,
                 actor="detector", data={"severity": severity, "observed_at": opened_at.isoformat()})
    lifecycle.start(session, incident, now=now)
    return incident


def update_detected(session: Session, incident: Incident, *, severity: str, title: str, observed_at: datetime,
                    evidence: dict[str, Any], score: float, scope: str, clock: Clock) -> bool:
    """Append a later wave; True when it raised the severity."""
    now = clock.now()
    raised = more_severe(severity, incident.severity)
    _record_signal(session, incident, kind=incident.kind, severity=severity, score=score, scope=scope,
                   observed_at=observed_at, evidence=evidence, now=now)
    incident.evidence = evidence
    incident.last_signal_at = observed_at
    if raised:
        previous = incident.severity
        add_timeline(session, incident, "severity", f"Detector raised severity {previous} → {severity}",
                     at=now, actor="detector", data={"from": previous, "to": severity})
        incident.severity = severity
        incident.title = title
        lifecycle.severity_raised(session, incident, previous=previous, now=now)
    elif incident.status != IncidentStatus.RESOLVED.value:
        spec = lifecycle.pinned_spec(session, incident)
        if spec is not None:  # proposals still waiting for a person follow the wave's accounts
            containment.from_playbook(session, incident, spec, now=now)
    return raised


def close_episode(session: Session, incident: Incident, *, at: datetime, clock: Clock) -> None:
    if incident.episode_closed_at is not None:
        return
    incident.episode_closed_at = at
    add_timeline(session, incident, "quiet", "Detector saw the activity return to normal", at=clock.now(),
                 actor="detector", data={"event_time": at.isoformat()})


def _record_signal(session: Session, incident: Incident, *, kind: str, severity: str, score: float, scope: str,
                   observed_at: datetime, evidence: dict[str, Any], now: datetime) -> None:
    session.add(Signal(incident_id=incident.id, kind=kind, severity=severity, score=score, scope=scope[:300],
                       observed_at=observed_at, created_at=now, evidence=evidence))
