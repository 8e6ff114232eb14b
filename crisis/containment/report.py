"""What containment did during an incident, for its postmortem and the dashboard: the log
(what, when, by whom, how many accounts, when reverted) and the counts behind it."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crisis.containment import kinds
from crisis.containment.service import describe, for_incident
from crisis.models import ContainmentAction, Incident
from crisis.models.postmortem import Postmortem


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else "—"


def facts(session: Session, incident: Incident) -> dict[str, Any]:
    actions = for_incident(session, incident.id)
    targets = [t for a in actions if a.applied_at is not None for t in a.targets]
    return {
        "actions": len(actions),
        "applied": sum(a.applied_at is not None for a in actions),
        "reverted": sum(a.status == "reverted" for a in actions),
        "failed": sum(a.status == "failed" for a in actions),
        "accounts_acted_on": sum(t.get("state") in ("done", "released", "reverted") for t in targets),
        # Released one by one from the incident page: people the action caught by mistake.
        "accounts_released": sum(t.get("state") == "released" for t in targets),
    }


def log_md(session: Session, incident: Incident) -> str:
    """One line per action, oldest first; empty when the incident had none."""
    lines = []
    for action in for_incident(session, incident.id):
        kind = kinds.get(action.kind)
        caught = sum(t.get("state") in ("done", "released", "reverted") for t in action.targets)
        released = [t["account"] for t in action.targets if t.get("state") == "released"]
        parts = [f"- **{describe(action)}** — {action.status}",
                 f"proposed by {action.proposed_by or '—'} at {_when(action.created_at)}"]
        if action.approved_by:
            parts.append(f"approved by {action.approved_by} at {_when(action.approved_at)}")
        if action.applied_at is not None:
            parts.append(f"applied at {_when(action.applied_at)}"
                         + (f" to {caught} account(s)" if kind.aims_at == "accounts" else ""))
        if action.reverted_at is not None:
            parts.append(f"reverted at {_when(action.reverted_at)} by {action.reverted_by or 'expiry'}")
        elif action.reverted_by:
            parts.append(f"undo asked by {action.reverted_by}")
        elif action.expires_at is not None and action.status == "applied":
            parts.append(f"reverts itself at {_when(action.expires_at)}")
        elif action.status == "applied" and not kind.reversible:
            parts.append("cannot be undone")
        if released:
            parts.append(f"{len(released)} released as caught by mistake ({', '.join(released[:10])})")
        if action.status == "failed":
            parts.append(f"failed: {action.last_error[:200]}")
        lines.append("; ".join(parts))
    return "\n".join(lines)


def refresh_draft(session: Session, incident: Incident) -> None:
    """Keep a postmortem draft's containment section current while nobody has edited it:
    an action reverted after the incident was resolved (its expiry, a late undo) still
    lands in the record."""
    pm = session.scalar(select(Postmortem).where(Postmortem.incident_id == incident.id))
    if pm is None or pm.status != "draft":
        return
    generated = (pm.facts or {}).get("containment_log")
    sections = [dict(s) for s in pm.sections]
    section = next((s for s in sections if s["key"] == "containment"), None)
    if section is None or section["body"] != generated:
        return  # someone wrote in it: theirs stands
    section["body"] = log_md(session, incident)
    pm.sections = sections
    pm.facts = {**(pm.facts or {}), "containment": facts(session, incident), "containment_log": section["body"]}


def counts(session: Session, community_ids: list[int]) -> dict[str, int]:
    """The dashboard's containment figures: actions ever applied, those still in force,
    reverted, failed, and waiting for approval."""
    if not community_ids:
        return {"applied": 0, "in_force": 0, "reverted": 0, "failed": 0, "proposed": 0}
    rows = dict(session.execute(select(ContainmentAction.status, func.count()).where(
        ContainmentAction.community_id.in_(community_ids)).group_by(ContainmentAction.status)).all())
    ever = session.scalar(select(func.count()).select_from(ContainmentAction).where(
        ContainmentAction.community_id.in_(community_ids), ContainmentAction.applied_at.is_not(None)))
    return {"applied": int(ever or 0), "in_force": int(rows.get("applied", 0)) + int(rows.get("expiring", 0)),
            "reverted": int(rows.get("reverted", 0)), "failed": int(rows.get("failed", 0)),
            "proposed": int(rows.get("proposed", 0))}
