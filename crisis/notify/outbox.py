"""Write notification rows in the caller's transaction. Nothing is sent here.

Each row carries its rendered title and body (with a per-recipient acknowledge link),
so delivery is a plain send and a retry sends exactly what the first attempt tried."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis import runtime
from crisis.clock import isoformat
from crisis.jobs import ringer
from crisis.models import Community, ContainmentAction, Incident, Notification
from crisis.notify import ack_tokens, recipients, render, routing

# Messages to people about an incident nobody has taken yet carry an acknowledge link
# (a severity raise of an incident already acknowledged does not).
ACK_EVENTS = frozenset({"opened", "escalated", "reopened", "severity_raised", "unreached"})
NOTIFY_TYPES = {"opened": "failure", "escalated": "failure", "reopened": "failure", "severity_raised": "failure",
                "unreached": "failure",
                "task_overdue": "warning", "case_overdue": "warning", "moderation_task_overdue": "warning",
                "member_update_due": "warning", "public_update": "info",
                "resolved": "success", "mitigated": "success", "acknowledged": "info"}


@dataclass
class Outcome:
    notifications: list[Notification] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        return [n.recipient_label for n in self.notifications]

    @property
    def summary(self) -> str:
        """Who was notified, for a timeline line: the recipients, or "nobody (why each target was skipped)"."""
        return ", ".join(self.labels) or "nobody (" + "; ".join(self.skipped) + ")"


def incident_context(incident: Incident, community: Community) -> dict[str, Any]:
    config = runtime.current().config
    return {
        "incident": {
            "id": incident.id, "title": incident.title, "kind": incident.kind, "severity": incident.severity,
            "status": incident.status, "opened_at": isoformat(incident.opened_at),
            "playbook": f"{incident.playbook_name} v{incident.playbook_version}" if incident.playbook_name else "",
            "url": f"{config.base_url}/api/v1/incidents/{incident.id}",
            # Alert incidents list their alerts (crisis.alert_intake); sender text, shown as text.
            "source": incident.source, "details": str((incident.evidence or {}).get("alert_text", ""))[:4000],
        },
        "community": {"slug": community.slug, "name": community.name},
    }


def notify(session: Session, incident: Incident, event: str, targets: list[dict[str, str]], *, cause: str,
           now: datetime, extra: dict[str, Any] | None = None) -> Outcome:
    community = session.get(Community, incident.community_id)
    assert community is not None
    destinations, skipped = recipients.resolve(session, incident, targets, now)
    policy = routing.load()
    lang = render.language(community.locale)
    config = runtime.current().config
    outcome = Outcome(skipped=skipped)
    lockdown = _lockdown(session, incident) if event in ACK_EVENTS else None
    for dest in destinations:
        ctx = {**incident_context(incident, community), **(extra or {}), "recipient": dest.label,
               "ack_url": "", "lockdown_url": "", "lockdown_hours": 0, "undo_lockdown_url": ""}
        if event in ACK_EVENTS and incident.status == "triggered" and dest.user_id is not None:
            ctx["ack_url"] = ack_tokens.make_link(config, incident_id=incident.id, user_id=dest.user_id, now=now,
                                                hours=policy.ack_link_hours)
            if lockdown is not None:
                # The phone in the on-call's hand can close the door, or open one the playbook
                # closed by itself, without logging in.
                verb = "approve" if lockdown.status == "proposed" else "undo"
                link = ack_tokens.make_action_link(config, action_id=lockdown.id, user_id=dest.user_id, now=now,
                                                   hours=policy.ack_link_hours, verb=verb)
                ctx["lockdown_url" if verb == "approve" else "undo_lockdown_url"] = link
                ctx["lockdown_hours"] = f"{(lockdown.expires_after_s or 0) / 3600:g}"
        outcome.notifications.append(_pending_row(session, community, incident.id, event, cause, dest,
                                                  render.render(event, lang, ctx), policy.max_attempts, now))
    return _ring(session, outcome)


def notify_community(session: Session, community: Community, event: str, targets: list[dict[str, str]], *,
                     cause: str, now: datetime, context: dict[str, Any]) -> Outcome:
    """Notification rows about work outside any incident (an overdue case or moderation
    task): the same rows, rendering and delivery, with no incident and no acknowledge link."""
    destinations, skipped = recipients.resolve_in_community(session, community.id, targets, now)
    policy = routing.load()
    lang = render.language(community.locale)
    outcome = Outcome(skipped=skipped)
    for dest in destinations:
        ctx = {**context, "community": {"slug": community.slug, "name": community.name}, "recipient": dest.label}
        outcome.notifications.append(_pending_row(session, community, None, event, cause, dest,
                                                  render.render(event, lang, ctx), policy.max_attempts, now))
    return _ring(session, outcome)


def _pending_row(session: Session, community: Community, incident_id: int | None, event: str, cause: str,
                 dest: recipients.Destination, rendered: tuple[str, str], max_attempts: int,
                 now: datetime) -> Notification:
    title, body = rendered
    row = Notification(community_id=community.id, incident_id=incident_id, event=event, cause=cause[:200],
                       destination=dest.key, recipient_user_id=dest.user_id,
                       contact_method_id=dest.contact_method_id, channel_id=dest.channel_id,
                       recipient_label=dest.label[:300], title=title, body=body, status="pending",
                       attempts=0, max_attempts=max_attempts, next_attempt_at=now, created_at=now)
    session.add(row)
    return row


def _ring(session: Session, outcome: Outcome) -> Outcome:
    """Ids first (flush), then one doorbell per row, rung after the commit."""
    session.flush()
    for row in outcome.notifications:
        ringer.note_notification(session, row.id)
    return outcome


def _lockdown(session: Session, incident: Incident) -> ContainmentAction | None:
    """The incident's lockdown a link can act on: proposed (approve it) or approved or
    applied and not yet being undone (undo it)."""
    return session.scalar(select(ContainmentAction).where(
        ContainmentAction.incident_id == incident.id, ContainmentAction.kind == "lockdown",
        ContainmentAction.status.in_(("proposed", "approved", "applying", "applied")),
        ContainmentAction.reverted_by == "").order_by(ContainmentAction.id).limit(1))


def routed_targets(session: Session, incident: Incident, event: str, playbook_routes: list[dict[str, str]]
                   ) -> list[dict[str, str]]:
    """The pinned playbook's routes for this event plus the matching rules of alerts/routing.yaml."""
    community = session.get(Community, incident.community_id)
    assert community is not None
    rules = routing.load().targets_for(community=community.slug, kind=incident.kind, severity=incident.severity,
                                       event=event)
    return [*playbook_routes, *rules]
