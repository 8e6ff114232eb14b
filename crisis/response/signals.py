"""Where detector signals become incidents: a new episode opens one, or joins the open
incident it is related to (crisis.response.related: a second wave, the mass leave a raid
provokes); a later wave of an episode updates its incident (raising its severity when
worse); a quiet spell closes the episode.

The lifecycle (acknowledge, resolve, ...) lives in crisis.response.lifecycle; this module
records what detectors saw and starts the playbook there, in the same transaction."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.clock import Clock
from crisis.containment import service as containment
from crisis.containment.kinds import MAX_TARGETS
from crisis.models import Community, Incident, IncidentEpisode, Signal
from crisis.response import lifecycle, related
from crisis.response.states import SEVERITIES, IncidentStatus, more_severe
from crisis.timeline import N_, Said, add_timeline, said

REASONS = {"accounts": N_("it shares %(shared_accounts)s accounts with the incident"),
           "channel": N_("it is in the same channel #%(channel)s"),
           "follows": N_("it follows the %(follows)s within an hour")}


@dataclass(frozen=True)
class Located:
    incident: Incident
    episode: IncidentEpisode | None  # None: the episode that opened the incident


@dataclass(frozen=True)
class Detected:
    incident: Incident
    opened: bool  # False: the episode joined an open incident (`match` says why)
    match: related.Match | None = None


def locate(session: Session, community_id: int, episode_key: str) -> Located | None:
    """The incident an episode feeds: the one it opened, or the one it joined."""
    incident = session.scalar(select(Incident).where(
        Incident.community_id == community_id, Incident.episode_key == episode_key))
    if incident is not None:
        return Located(incident, None)
    joined = session.scalar(select(IncidentEpisode).where(
        IncidentEpisode.community_id == community_id, IncidentEpisode.episode_key == episode_key))
    if joined is None:
        return None
    found = session.get(Incident, joined.incident_id)
    return Located(found, joined) if found is not None else None


def find_by_episode(session: Session, community_id: int, episode_key: str) -> Incident | None:
    found = locate(session, community_id, episode_key)
    return found.incident if found is not None else None


def detected(session: Session, community: Community, *, episode_key: str, kind: str, severity: str, title: str,
             opened_at: datetime, evidence: dict[str, Any], score: float, scope: str,
             clock: Clock) -> Detected | None:
    """A new episode: join the related open incident, else open one. None when this
    episode is already known (a replayed or redelivered open)."""
    if locate(session, community.id, episode_key) is not None:
        return None
    match = related.find(session, community.id, related.Incoming(kind, scope, opened_at,
                                                                 related.accounts_of(evidence)))
    target = session.get(Incident, match.incident_id) if match is not None else None
    if match is not None and target is not None:
        attach(session, target, match, episode_key=episode_key, kind=kind, severity=severity, title=title,
               opened_at=opened_at, evidence=evidence, score=score, scope=scope, clock=clock)
        return Detected(target, opened=False, match=match)
    incident = open_detected(session, community, episode_key=episode_key, kind=kind, severity=severity, title=title,
                             opened_at=opened_at, evidence=evidence, score=score, scope=scope, clock=clock)
    return Detected(incident, opened=True) if incident is not None else None


def open_detected(session: Session, community: Community, *, episode_key: str, kind: str, severity: str,
                  title: str, opened_at: datetime, evidence: dict[str, Any], score: float, scope: str,
                  clock: Clock) -> Incident | None:
    """Open the incident for a new episode; None when that episode already has one."""
    if locate(session, community.id, episode_key) is not None:
        return None
    now = clock.now()
    incident = Incident(community_id=community.id, kind=kind, title=title, severity=severity,
                        status=IncidentStatus.TRIGGERED.value, source="detector", episode_key=episode_key,
                        evidence=evidence, opened_at=opened_at, created_at=now, last_signal_at=opened_at)
    session.add(incident)
    session.flush()
    _record_signal(session, incident, kind=kind, severity=severity, score=score, scope=scope,
                   observed_at=opened_at, evidence=evidence, now=now)
    add_timeline(session, incident, "opened", said(N_("Detector opened %(kind)s incident: %(title)s"), kind=kind,
                                                   title=title), at=now,
                 actor="detector", data={"severity": severity, "observed_at": opened_at.isoformat()})
    lifecycle.start(session, incident, now=now)
    return incident


def step_up(severity: str) -> str:
    return SEVERITIES[max(0, SEVERITIES.index(severity) - 1)]


def attach(session: Session, incident: Incident, match: related.Match, *, episode_key: str, kind: str,
           severity: str, title: str, opened_at: datetime, evidence: dict[str, Any], score: float, scope: str,
           clock: Clock) -> bool:
    """A new episode joins an open incident: its signal is recorded with its own kind and
    evidence, it shows on the timeline with the reason, and it raises the incident one
    severity step (or to its own severity if that is worse): the crisis came back, spread
    or is costing members, which is more than the incident was opened for. True when raised."""
    now = clock.now()
    session.add(IncidentEpisode(incident_id=incident.id, community_id=incident.community_id,
                                episode_key=episode_key[:200], kind=kind, scope=scope[:300], reason=match.reason,
                                detail=match.detail, opened_at=opened_at, last_signal_at=opened_at,
                                created_at=now))
    _record_signal(session, incident, kind=kind, severity=severity, score=score, scope=scope,
                   observed_at=opened_at, evidence=evidence, now=now)
    _take_accounts(incident, kind, evidence)
    incident.last_signal_at = max(incident.last_signal_at or opened_at, opened_at)
    why = Said(REASONS[match.reason], dict(match.detail))
    add_timeline(session, incident, "related", said(N_("Detector attached a related %(kind)s signal (%(why)s): "
                                                       "%(title)s"), kind=kind, why=why, title=title), at=now,
                 actor="detector", data={"kind": kind, "severity": severity, "reason": match.reason,
                                                 **match.detail, "episode_key": episode_key,
                                                 "observed_at": opened_at.isoformat()})
    target = step_up(incident.severity)
    if more_severe(severity, target):
        target = severity
    return _raise(session, incident, target, title=None, now=now, why=f"a related {kind} signal")


def update_detected(session: Session, incident: Incident, *, severity: str, title: str, observed_at: datetime,
                    evidence: dict[str, Any], score: float, scope: str, clock: Clock,
                    episode: IncidentEpisode | None = None) -> bool:
    """Append a later wave of one of the incident's episodes; True when it raised the severity."""
    now = clock.now()
    kind = episode.kind if episode is not None else incident.kind
    _record_signal(session, incident, kind=kind, severity=severity, score=score, scope=scope,
                   observed_at=observed_at, evidence=evidence, now=now)
    if episode is None:
        if incident.kind in related.ATTACKS:  # waves that joined keep their accounts in the evidence
            evidence = {**evidence, "accounts": _union(evidence.get("accounts"), incident.evidence.get("accounts"))}
        incident.evidence = evidence
    else:
        episode.last_signal_at = max(episode.last_signal_at, observed_at)
        _take_accounts(incident, kind, evidence)
    incident.last_signal_at = max(incident.last_signal_at or observed_at, observed_at)
    return _raise(session, incident, severity, title=title if episode is None else None, now=now,
                  why="a later wave" if episode is None else f"the related {kind} signal")


def _raise(session: Session, incident: Incident, severity: str, *, title: str | None, now: datetime,
           why: str) -> bool:
    """Raise to `severity` when worse (whoever holds the incident hears it); otherwise the
    playbook's proposals still waiting for a person follow the accounts named now."""
    if not more_severe(severity, incident.severity):
        if incident.status != IncidentStatus.RESOLVED.value:
            spec = lifecycle.pinned_spec(session, incident)
            if spec is not None:
                containment.from_playbook(session, incident, spec, now=now)
        return False
    previous = incident.severity
    add_timeline(session, incident, "severity", said(N_("Detector raised severity %(old)s → %(new)s"),
                                                     old=previous, new=severity), at=now,
                 actor="detector", data={"from": previous, "to": severity, "why": why})
    incident.severity = severity
    if title:
        incident.title = title
    lifecycle.severity_raised(session, incident, previous=previous, now=now)
    return True


def close_episode(session: Session, incident: Incident, *, at: datetime, clock: Clock,
                  episode: IncidentEpisode | None = None, evidence: dict[str, Any] | None = None) -> None:
    """The episode went quiet. An attack's close carries every account the episode saw
    (the detector merges them between the updates it sends): they join the evidence, so
    containment and campaign matching see the whole cohort, not the opening few."""
    kind = episode.kind if episode is not None else incident.kind
    if evidence:
        _take_accounts(incident, kind, evidence)
    if episode is not None:
        if episode.closed_at is None:
            episode.closed_at = at
            add_timeline(session, incident, "quiet",
                         said(N_("Detector saw the related %(kind)s activity end"), kind=episode.kind), at=clock.now(),
                         actor="detector", data={"event_time": at.isoformat(), "kind": episode.kind})
        return
    if incident.episode_closed_at is not None:
        return
    incident.episode_closed_at = at
    add_timeline(session, incident, "quiet", said(N_("Detector saw the activity return to normal")), at=clock.now(),
                 actor="detector", data={"event_time": at.isoformat()})


def kinds_of(session: Session, incident: Incident) -> list[str]:
    """The incident's kind, then the kinds of the episodes that joined it, once each."""
    joined = session.scalars(select(IncidentEpisode.kind).where(IncidentEpisode.incident_id == incident.id)
                             .order_by(IncidentEpisode.id))
    return list(dict.fromkeys([incident.kind, *joined]))


def _union(first: Any, then: Any) -> list[str]:
    merged = dict.fromkeys(str(a) for a in [*(first or []), *(then or [])])
    return list(merged)[:MAX_TARGETS]


def _take_accounts(incident: Incident, kind: str, evidence: dict[str, Any]) -> None:
    """Another attack wave's accounts join the incident's evidence (the accounts its
    containment acts on), newest first. A consequence's accounts (the members who left)
    stay on its own signal: they are the raid's victims, not its accounts."""
    if kind in related.ATTACKS and incident.kind in related.ATTACKS and evidence.get("accounts"):
        old = incident.evidence or {}
        merged = _union(evidence["accounts"], old.get("accounts"))
        if merged != old.get("accounts"):
            total = max(len(merged), int(old.get("accounts_total") or 0))
            incident.evidence = {**old, "accounts": merged, "accounts_total": total}


def _record_signal(session: Session, incident: Incident, *, kind: str, severity: str, score: float, scope: str,
                   observed_at: datetime, evidence: dict[str, Any], now: datetime) -> None:
    session.add(Signal(incident_id=incident.id, kind=kind, severity=severity, score=score, scope=scope[:300],
                       observed_at=observed_at, created_at=now, evidence=evidence))
