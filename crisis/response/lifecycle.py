"""The incident lifecycle: the one transition function and the other changes people make.

Every function here takes the caller's session and clock, writes the change, its
timeline entry and its notification rows in that one transaction, and sends nothing:
notification rows are delivered by jobs after commit (see crisis.jobs.ringer)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crisis import playbooks
from crisis.clock import Clock
from crisis.containment import service as containment
from crisis.models import Community, Incident, PlaybookVersion, Responder, User
from crisis.notify import outbox
from crisis.publicstatus import cadence, updates
from crisis.response import episodes, escalation, postmortems, steps
from crisis.response.states import SEVERITIES, IncidentStatus, check_transition, more_severe
from crisis.timeline import N_, add_timeline, said

S = IncidentStatus
TIMESTAMP = {S.ACKNOWLEDGED: "acknowledged_at", S.MITIGATED: "mitigated_at", S.RESOLVED: "resolved_at"}
EVENT = {S.ACKNOWLEDGED: "acknowledged", S.MITIGATED: "mitigated", S.RESOLVED: "resolved", S.TRIGGERED: "reopened"}


class ConcurrentTransition(RuntimeError):
    """Someone else changed the status between our read and our write."""


class LifecycleError(ValueError):
    """Bad input for a lifecycle change; the message names the field."""


class EpisodeStillActive(RuntimeError):
    """A resolution asked for while the detector still sees the crisis: it needs `confirm`."""

    def __init__(self, incident_id: int, open_episodes: list[episodes.OpenEpisode]) -> None:
        super().__init__(f"incident {incident_id}: the detector still sees its crisis "
                         f"({episodes.describe(open_episodes)})")
        self.episodes = open_episodes


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    label: str
    via: str = "api"  # api | link | detector | system

    @classmethod
    def of(cls, user: User, via: str = "api") -> Actor:
        return cls(user.id, user.display_name or user.email, via)


def pinned_spec(session: Session, incident: Incident) -> dict[str, Any] | None:
    if not incident.playbook_name or incident.playbook_version is None:
        return None
    row = playbooks.get_version(session, incident.playbook_name, incident.playbook_version)
    return row.spec if row is not None else None


def start(session: Session, incident: Incident, *, now: datetime,
          playbook: str | None = None) -> PlaybookVersion | None:
    """Pin the playbook (the one named, else the best match for kind and severity), fill
    roles, create tasks, arm escalation (level 1 fires now) and write the opened
    notifications: all in the caller's transaction."""
    version = (playbooks.latest(session, playbook) if playbook else None) \
        or playbooks.select_for(session, incident.kind, incident.severity)
    if version is None:
        add_timeline(session, incident, "playbook", said(N_("No playbook is stored: nobody was notified "
                                                            "(run `crisis playbooks sync`)")), at=now, actor="playbook")
        return None
    incident.playbook_name, incident.playbook_version = version.name, version.version
    add_timeline(session, incident, "playbook", said(N_("Running playbook %(name)s v%(version)s"), name=version.name,
                                                      version=version.version), at=now,
                 actor="playbook", data={"name": version.name, "version": version.version,
                                         "content_hash": version.content_hash})
    spec = version.spec
    roles = steps.fill_roles(session, incident, spec, now)
    steps.create_from_playbook(session, incident, spec, roles, now)
    # Before the page goes out, so the level-1 alert can carry the action's one-click link.
    containment.from_playbook(session, incident, spec, now=now)
    escalation.arm(session, incident, spec["escalation"], now=now, reason=N_("incident opened"))
    cadence.sync(session, incident, spec, now=now)
    _route(session, incident, "opened", spec, cause=f"inc{incident.id}:opened", now=now)
    return version


def _route(session: Session, incident: Incident, event: str, spec: dict[str, Any] | None, *, cause: str,
           now: datetime, extra: dict[str, Any] | None = None) -> outbox.Outcome:
    routes = (spec or {}).get("notify", {}).get(event, [])
    targets = outbox.routed_targets(session, incident, event, routes)
    if not targets:
        return outbox.Outcome()
    return outbox.notify(session, incident, event, targets, cause=cause, now=now, extra=extra)


def severity_raised(session: Session, incident: Incident, *, previous: str, now: datetime) -> outbox.Outcome:
    """A later wave made an open incident worse: whoever holds it hears now, as PagerDuty
    re-notifies on a rise in urgency, instead of at the next escalation step or never (an
    acknowledged incident no longer escalates). Unacknowledged: the level being paged, with
    an acknowledge link; taken: its commander. Plus the routing rules for the event.
    The playbook's actions are looked at again: one it approves at the new severity is approved now."""
    spec = pinned_spec(session, incident)
    if spec is not None and incident.status != S.RESOLVED.value:
        containment.from_playbook(session, incident, spec, now=now)
    cadence.sync(session, incident, spec, now=now)
    if incident.status == S.RESOLVED.value:
        holders: list[dict[str, Any]] = []
    elif incident.status == S.TRIGGERED.value:
        holders = escalation.paged_targets(session, incident)
    else:
        holders = [{"incident_role": "commander"}]
    targets = [*holders, *outbox.routed_targets(session, incident, "severity_raised", [])]
    if not targets:
        return outbox.Outcome()
    outcome = outbox.notify(session, incident, "severity_raised", targets,
                            cause=f"inc{incident.id}:severity:{incident.severity}", now=now,
                            extra={"previous_severity": previous})
    add_timeline(session, incident, "notification",
                 said(N_("Severity raise sent to %(summary)s"), summary=outcome.summary), at=now,
                 actor="detector", data={"recipients": outcome.labels, "skipped": outcome.skipped})
    return outcome


def open_manual(session: Session, community: Community, *, kind: str, severity: str, title: str,
                description: str, actor: Actor, clock: Clock, source: str = "manual",
                episode_key: str | None = None, evidence: dict[str, Any] | None = None,
                playbook: str | None = None) -> Incident:
    """Open an incident a person (or a monitor such as crisis.bridges.health, or an alert
    source through crisis.alert_intake) reports."""
    if severity not in SEVERITIES:
        raise LifecycleError(f"severity: {severity!r} is not one of {', '.join(SEVERITIES)}")
    if not kind or len(kind) > 64:
        raise LifecycleError("kind: must be 1 to 64 characters (e.g. raid, dispute, complaint_spike)")
    if not title.strip() or len(title) > 300:
        raise LifecycleError("title: must be 1 to 300 characters")
    now = clock.now()
    incident = Incident(community_id=community.id, kind=kind, title=title.strip(), severity=severity,
                        status=S.TRIGGERED.value, source=source, episode_key=episode_key,
                        evidence={**(evidence or {}), "description": description},
                        opened_at=now, created_at=now)
    session.add(incident)
    session.flush()
    add_timeline(session, incident, "opened",
                 said(N_("%(actor)s opened %(kind)s incident: %(title)s"), actor=actor.label, kind=kind,
                      title=incident.title), at=now,
                 actor=actor.label, actor_user_id=actor.user_id, data={"severity": severity,
                                                                        "description": description})
    start(session, incident, now=now, playbook=playbook)
    return incident


def transition(session: Session, incident_id: int, new: IncidentStatus, *, actor: Actor, clock: Clock,
               note: str = "", confirm: bool = False) -> Incident:
    """Move an incident to `new`.

    1. check the move against the transition table (InvalidTransition: nothing changes);
       a resolution while a detector episode of the incident is still open needs `confirm`
       (EpisodeStillActive: nothing changes), as the raid may not be over;
    2. compare-and-set the status (ConcurrentTransition if it moved under us);
    3. set the status time, stop or re-arm escalation, append the timeline entry;
    4. write the notification rows the pinned playbook and routing rules ask for."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise LookupError(f"incident {incident_id} does not exist")
    old = incident.status
    target = check_transition(old, new)
    now = clock.now()
    still_open = episodes.open_episodes(session, incident, now=now) if target == S.RESOLVED else []
    if still_open and not confirm:
        raise EpisodeStillActive(incident.id, still_open)
    values: dict[str, Any] = {"status": target.value}
    if target in TIMESTAMP:
        values[TIMESTAMP[target]] = now
    else:  # reopen: the next resolution gets its own times; the timeline keeps the old ones
        values.update(acknowledged_at=None, mitigated_at=None, resolved_at=None)
    result = session.execute(update(Incident).where(Incident.id == incident_id, Incident.status == old)
                             .values(**values), execution_options={"synchronize_session": False})
    if result.rowcount != 1:  # type: ignore[attr-defined]  # -- an UPDATE's Result is a CursorResult
        raise ConcurrentTransition(f"incident {incident_id} changed status while we were moving it from {old}")
    session.refresh(incident)
    if target == S.ACKNOWLEDGED and incident.owner_id is None and actor.user_id is not None:
        incident.owner_id = actor.user_id  # whoever takes an unowned incident commands it
    moved = said("%(move)s%(via)s%(note)s%(confirmed)s",
                 move=said(N_("%(actor)s moved the incident %(old)s → %(new)s"), words=("old", "new"),
                           actor=actor.label, old=old, new=target.value),
                 via=said(N_(" via %(via)s"), words=("via",), via=actor.via) if actor.via not in ("api",) else "",
                 note=said(N_(": %(note)s"), note=note) if note else "",
                 confirmed=said(N_(" (confirmed while the detector still saw the crisis)")) if still_open else "")
    entry = add_timeline(session, incident, "status", moved, at=now, actor=actor.label, actor_user_id=actor.user_id,
                         data={"from": old, "to": target.value, "via": actor.via, "note": note,
                               **({"detector_active": episodes.describe(still_open)} if still_open else {})})
    session.flush()
    spec = pinned_spec(session, incident)
    cadence.sync(session, incident, spec, now=now)
    if target == S.TRIGGERED:
        if spec is not None:
            escalation.arm(session, incident, spec["escalation"], now=now, reason=N_("incident reopened"),
                           event="reopened")
    else:
        escalation.stop(session, incident, now=now, why=said(N_("%(status)s by %(actor)s"), words=("status",),
                                                           status=target.value, actor=actor.label))
    if target == S.RESOLVED:
        # Every path that resolves (API, web, ack link) opens the draft the playbook asks for.
        postmortems.ensure_draft(session, incident, clock=clock)
    if target == S.RESOLVED and spec is not None:
        task = steps.add_postmortem_task(session, incident, spec, now)
        if task is not None:
            _route(session, incident, "resolved", spec, cause=f"inc{incident.id}:resolved:{entry.id}", now=now,
                   extra={"actor": actor.label, "note": note})
            outbox.notify(session, incident, "postmortem_review", [{"incident_role": "commander"}],
                          cause=f"inc{incident.id}:postmortem:{entry.id}", now=now,
                          extra={"due_at": task.due_at.isoformat() if task.due_at else "",
                                 "sections": spec["postmortem"]["sections"]})
            return incident
    # Every move is routed, reopen included: the routing rules may page managers on it.
    _route(session, incident, EVENT[target], spec, cause=f"inc{incident.id}:{EVENT[target]}:{entry.id}",
           now=now, extra={"actor": actor.label, "note": note})
    return incident


def add_note(session: Session, incident: Incident, text: str, *, actor: Actor, clock: Clock) -> None:
    text = (text or "").strip()
    if not text or len(text) > 10_000:
        raise LifecycleError("text: a note must be 1 to 10000 characters")
    add_timeline(session, incident, "note", text, at=clock.now(), actor=actor.label, actor_user_id=actor.user_id)


def post_update(session: Session, incident: Incident, text: str, *, actor: Actor, clock: Clock,
                public: bool = False, public_title: str | None = None) -> outbox.Outcome:
    """A status update for stakeholders: on the timeline and through the notification path.
    Marked public, it also goes to members (crisis.publicstatus.updates): their channels and
    the status page, under the incident's public title."""
    text = (text or "").strip()
    if not text or len(text) > 4000:
        raise LifecycleError("text: a status update must be 1 to 4000 characters")
    now = clock.now()
    published = None
    if public:
        try:
            published = updates.publish(session, incident, text, public_title=public_title,
                                        actor_user_id=actor.user_id, actor_label=actor.label, now=now)
        except updates.PublicError as exc:
            raise LifecycleError(str(exc)) from None
    entry = add_timeline(session, incident, "status_update", text, at=now, actor=actor.label,
                         actor_user_id=actor.user_id)
    session.flush()
    result = _route(session, incident, "status_update", pinned_spec(session, incident),
                    cause=f"inc{incident.id}:update:{entry.id}", now=now, extra={"update": text, "actor": actor.label})
    entry.data = {"recipients": result.labels, "skipped": result.skipped}
    if published is not None:
        entry.data = {**entry.data, "public": True, "public_update_id": published.update.id,
                      "public_title": published.public.title, "members": published.labels}
        result.notifications.extend(published.notifications)
    return result


def assign(session: Session, incident: Incident, user: User, *, role: str, actor: Actor, clock: Clock) -> None:
    if not role or len(role) > 64:
        raise LifecycleError("role: must be 1 to 64 characters (commander, responder, liaison, ...)")
    now = clock.now()
    if role == "commander":
        incident.owner_id = user.id
    exists = session.scalar(select(Responder).where(Responder.incident_id == incident.id,
                                                    Responder.user_id == user.id, Responder.role == role))
    if exists is None:
        session.add(Responder(incident_id=incident.id, user_id=user.id, role=role, added_at=now))
    add_timeline(session, incident, "assign", said(N_("%(actor)s assigned %(user)s as %(role)s"), words=("role",),
                                                   actor=actor.label, user=user.display_name or user.email, role=role),
                 at=now, actor=actor.label, actor_user_id=actor.user_id, data={"user_id": user.id, "role": role})


def set_severity(session: Session, incident: Incident, severity: str, *, actor: Actor, clock: Clock) -> bool:
    if severity not in SEVERITIES:
        raise LifecycleError(f"severity: {severity!r} is not one of {', '.join(SEVERITIES)}")
    if severity == incident.severity:
        return False
    add_timeline(session, incident, "severity",
                 said(N_("%(actor)s changed severity %(old)s → %(new)s"), actor=actor.label, old=incident.severity,
                      new=severity),
                 at=clock.now(), actor=actor.label, actor_user_id=actor.user_id,
                 data={"from": incident.severity, "to": severity})
    previous, incident.severity = incident.severity, severity
    spec = pinned_spec(session, incident)
    if more_severe(severity, previous) and incident.status != S.RESOLVED.value and spec is not None:
        # a person's raise may meet a playbook's auto approval, as a detector's does
        containment.from_playbook(session, incident, spec, now=clock.now())
    cadence.sync(session, incident, spec, now=clock.now())
    return True
