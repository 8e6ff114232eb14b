"""JSON shapes of rules, penalties, appeals, moderation tasks and cases (described in
spec/rules.yaml, spec/penalties.yaml and spec/cases.yaml)."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from crisis import public_links
from crisis.api.serialize import person, ts
from crisis.cases import review
from crisis.cases.scoring import Weight
from crisis.config import Config
from crisis.models import (
    Appeal,
    Case,
    CaseEvent,
    Community,
    ContainmentAction,
    ModerationTask,
    Penalty,
    RulebookVersion,
)


def rulebook(row: RulebookVersion) -> dict[str, Any]:
    return {"version": row.version, "offence_window": row.spec["offence_window"], "rules": row.spec["rules"],
            "origin": row.origin, "comment": row.comment, "content_hash": row.content_hash,
            "created_at": ts(row.created_at)}


def action(row: ContainmentAction | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"id": row.id, "kind": row.kind, "status": row.status, "executor": row.executor,
            "approve_role": row.approve_role, "approved_by": row.approved_by or None,
            "applied_at": ts(row.applied_at), "expires_at": ts(row.expires_at), "reverted_at": ts(row.reverted_at),
            "last_error": row.last_error}


def penalty(session: Session, config: Config, community: Community, row: Penalty) -> dict[str, Any]:
    return {"id": row.id, "member": row.member, "rule": row.rule_id, "rule_title": row.rule_title,
            "rulebook_version": row.rulebook_version, "level": row.level, "kind": row.kind,
            "duration_s": row.duration_s, "status": row.status, "note": row.note, "applied_by": row.applied_by,
            "applied_at": ts(row.applied_at), "expires_at": ts(row.expires_at), "ended_at": ts(row.ended_at),
            "enforcement": row.enforcement, "replaces": row.replaces_id,
            "action": action(session.get(ContainmentAction, row.action_id) if row.action_id else None),
            "public_url": public_links.penalty_url(config, community.slug, row.id)}


def appeal(row: Appeal) -> dict[str, Any]:
    return {"id": row.id, "penalty": row.penalty_id, "status": row.status, "text": row.text,
            "filed_by": row.filed_by, "filed_at": ts(row.filed_at), "decision_note": row.decision_note,
            "decided_by": row.decided_by or None, "decided_at": ts(row.decided_at), "reduced_to": row.reduced_to_id}


def moderation_task(row: ModerationTask) -> dict[str, Any]:
    return {"id": row.id, "action": row.action_id, "title": row.title, "instructions": row.instructions,
            "status": row.status, "due_at": ts(row.due_at), "done_at": ts(row.done_at)}


def case(session: Session, config: Config, community: Community, row: Case,
         events: list[CaseEvent] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": row.id, "community": community.slug, "status": row.status, "source": row.source,
        "subject": {"kind": row.subject_kind, "key": row.subject_key, "member": row.subject_member or None,
                    "message_id": row.subject_message_id or None, "channel": row.subject_channel or None,
                    "link": row.subject_link or None},
        "category": row.category, "rule": row.rule_id or None, "details": row.details,
        "reporter": row.reporter or None, "owner": person(session, row.owner_id), "due_at": ts(row.due_at),
        "overdue_notified_at": ts(row.overdue_notified_at), "outcome": row.outcome,
        "decided_by": row.decided_by or None, "decided_at": ts(row.decided_at), "penalty": row.penalty_id,
        "incident": row.incident_id, "received_at": ts(row.received_at), "created_at": ts(row.created_at),
        "public_url": public_links.case_url(config, community.slug, row.id)}
    if events is not None:
        data["events"] = [{"at": ts(e.at), "kind": e.kind, "from": e.from_status or None, "to": e.to_status or None,
                           "actor": e.actor, "note": e.note} for e in events]
    return data


def weight(w: Weight) -> dict[str, Any]:
    return {"reporter": w.reporter, "weight": w.weight, "upheld": w.upheld, "dismissed": w.dismissed,
            "account_age_days": w.age.days if w.age is not None else None, "why": w.why}


def item(item: review.Item) -> dict[str, Any]:
    return {"subject": item.key, "kind": item.kind, "member": item.member or None,
            "message_id": item.message_id or None, "link": item.link or None, "score": item.score,
            "reports": item.reports, "reporters": [weight(w) for w in item.weights],
            "categories": dict(item.categories), "rules": dict(item.rules), "due_at": ts(item.due_at),
            "likely_brigade": item.likely_brigade, "cases": [c.id for c in item.cases]}
