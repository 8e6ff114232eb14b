"""Risks: validated at the edge, every change logged, and flagged when they lack what a
prepared response needs (an owner, a detector, a playbook) or are past their review date.

The caller's session and clock; nothing is committed here. A change made from a
postmortem names it (and so its incident joins the risk's history, crisis.risks.history)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis import playbooks as playbook_store
from crisis.models import AlertIntegration, Community, Incident, Membership, Risk, RiskChange
from crisis.models.postmortem import Postmortem
from crisis.risks import heatmap
from crisis.statemachine import InvalidTransition, Machine
from crisis.tenancy.community_settings import KINDS as DETECTOR_KINDS

# Incident kinds that answer a risk beyond the detectors: a silent bridge and alert integrations.
OTHER_KINDS = ("bridge_silent", "alert")
MAX_TITLE = 200
MAX_DESCRIPTION = 10_000
MAX_LINKS = 20
DEFAULT_REVIEW = timedelta(days=90)
FIELDS = ("title", "description", "likelihood", "impact", "owner_id", "detectors", "playbooks", "review_at")
FLAGS = ("no_owner", "no_detector", "no_playbook", "unknown_playbook", "review_overdue")



class RiskStatus(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"  # no longer applies; kept with its history, off the heat map


STATUSES = tuple(s.value for s in RiskStatus)
STATUS_MACHINE = Machine("a risk", RiskStatus, {
    RiskStatus.ACTIVE: frozenset({RiskStatus.RETIRED}),
    RiskStatus.RETIRED: frozenset({RiskStatus.ACTIVE}),
})


class RiskError(ValueError):
    """A refused risk change; the message starts with the field ("likelihood: ...")."""

    @property
    def field(self) -> str:
        head, sep, _rest = str(self).partition(":")
        return head.split("[", 1)[0] if sep and " " not in head else ""


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    label: str


def detector_kinds(session: Session, community_id: int) -> list[str]:
    """Kinds a risk may name: the detectors, the bridge monitor, the community's alert
    integrations' kinds, and any kind its incidents have had (people open their own)."""
    found = set(DETECTOR_KINDS) | set(OTHER_KINDS)
    found |= set(session.scalars(select(AlertIntegration.incident_kind)
                                 .where(AlertIntegration.community_id == community_id)))
    found |= set(session.scalars(select(Incident.kind).where(Incident.community_id == community_id).distinct()))
    return sorted(found)


def _score(value: object, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 5:
        raise RiskError(f"{name}: must be a whole number from 1 to 5, got {value!r}")
    return value


def _text(value: object, name: str, limit: int, *, required: bool) -> str:
    if not isinstance(value, str):
        raise RiskError(f"{name}: must be text")
    text = value.strip().replace("\r\n", "\n")
    if (required and not text) or len(text) > limit:
        raise RiskError(f"{name}: must be {'1' if required else '0'} to {limit} characters")
    return text


def _names(value: object, name: str, allowed: list[str], what: str) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_LINKS:
        raise RiskError(f"{name}: must be a list of at most {MAX_LINKS} {what} names")
    out: list[str] = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or item not in allowed:
            raise RiskError(f"{name}[{i}]: {item!r} is not a {what} here ({', '.join(allowed) or 'none stored'})")
        if item not in out:
            out.append(item)
    return out


def _owner(session: Session, community_id: int, value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or session.scalar(
            select(Membership.id).where(Membership.user_id == value, Membership.community_id == community_id)) is None:
        raise RiskError(f"owner: user {value!r} is not staff of this community")
    return value


def _review(value: object) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise RiskError("review_at: must be a date")
    return value


def _clean(session: Session, community_id: int, values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    # In the form's order, so the first problem named is the first field a person reads.
    order = {name: i for i, name in enumerate(FIELDS)}
    for key, value in sorted(values.items(), key=lambda kv: order.get(kv[0], -1)):
        if key == "title":
            out[key] = _text(value, "title", MAX_TITLE, required=True)
        elif key == "description":
            out[key] = _text(value, "description", MAX_DESCRIPTION, required=False)
        elif key in ("likelihood", "impact"):
            out[key] = _score(value, key)
        elif key == "owner_id":
            out[key] = _owner(session, community_id, value)
        elif key == "detectors":
            out[key] = _names(value, "detectors", detector_kinds(session, community_id), "detector kind")
        elif key == "playbooks":
            out[key] = _names(value, "playbooks", playbook_store.names(session), "playbook")
        elif key == "review_at":
            out[key] = _review(value)
        else:
            raise RiskError(f"{key}: not a field of a risk ({', '.join(FIELDS)})")
    return out


def _postmortem(session: Session, community_id: int, postmortem: Postmortem | None) -> Postmortem | None:
    if postmortem is not None and postmortem.community_id != community_id:
        raise RiskError(f"postmortem_id: no postmortem {postmortem.id} in this community")
    return postmortem


def _log(session: Session, risk: Risk, kind: str, changes: dict[str, Any], *, actor: Actor, now: datetime,
         postmortem: Postmortem | None, note: str) -> RiskChange:
    row = RiskChange(risk_id=risk.id, at=now, kind=kind, actor_user_id=actor.user_id, actor=actor.label[:200],
                     postmortem_id=postmortem.id if postmortem else None,
                     incident_id=postmortem.incident_id if postmortem else None,
                     changes={k: [_plain(a), _plain(b)] for k, (a, b) in changes.items()}, note=note[:2000])
    session.add(row)
    return row


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def create(session: Session, community: Community, values: dict[str, Any], *, actor: Actor, now: datetime,
           postmortem: Postmortem | None = None, note: str = "") -> Risk:
    """A new active risk. `values` holds FIELDS; title, likelihood and impact are required."""
    for key in ("title", "likelihood", "impact"):
        if values.get(key) is None:
            raise RiskError(f"{key}: is required")
    clean = _clean(session, community.id, {"description": "", "detectors": [], "playbooks": [],
                                           "owner_id": None, "review_at": now + DEFAULT_REVIEW,
                                           **{k: v for k, v in values.items() if v is not None or k == "owner_id"}})
    postmortem = _postmortem(session, community.id, postmortem)
    risk = Risk(community_id=community.id, status="active", created_by_id=actor.user_id, created_at=now,
                updated_at=now, **clean)
    session.add(risk)
    session.flush()
    _log(session, risk, "created", {k: (None, v) for k, v in clean.items()}, actor=actor, now=now,
         postmortem=postmortem, note=note)
    return risk


def update(session: Session, risk: Risk, values: dict[str, Any], *, actor: Actor, now: datetime,
           postmortem: Postmortem | None = None, note: str = "") -> RiskChange | None:
    """Change fields; logged as re-scored when only the score moved. None when nothing changed
    (unless a postmortem or a note was given: then the risk was looked at, and that is logged)."""
    clean = _clean(session, risk.community_id, values)
    postmortem = _postmortem(session, risk.community_id, postmortem)
    changes = {k: (getattr(risk, k), v) for k, v in clean.items() if getattr(risk, k) != v}
    if not changes and postmortem is None and not note.strip():
        return None
    for key, (_old, new) in changes.items():
        setattr(risk, key, new)
    risk.updated_at = now
    kind = "rescored" if changes and set(changes) <= {"likelihood", "impact"} else "edited" if changes else "noted"
    return _log(session, risk, kind, changes, actor=actor, now=now, postmortem=postmortem, note=note)


def mark_reviewed(session: Session, risk: Risk, *, next_review_at: datetime, actor: Actor, now: datetime,
                  note: str = "") -> RiskChange:
    """The owner looked at the risk: it is current until the next review date."""
    if next_review_at <= now:
        raise RiskError("review_at: the next review must be in the future")
    changes = {"review_at": (risk.review_at, next_review_at)}
    risk.review_at, risk.reviewed_at, risk.updated_at = next_review_at, now, now
    return _log(session, risk, "reviewed", changes, actor=actor, now=now, postmortem=None, note=note)


def set_status(session: Session, risk: Risk, status: str, *, actor: Actor, now: datetime, note: str = "") -> RiskChange:
    """Retire a risk that no longer applies (kept with its history), or restore it."""
    try:
        new = STATUS_MACHINE.move(risk.status, status)
    except InvalidTransition as exc:
        raise RiskError(f"status: {exc}") from None
    old, risk.status, risk.updated_at = risk.status, new.value, now
    return _log(session, risk, "retired" if new.value == "retired" else "restored", {"status": (old, new.value)},
                actor=actor, now=now, postmortem=None, note=note)


def of(session: Session, community_id: int, *, include_retired: bool = False) -> list[Risk]:
    query = select(Risk).where(Risk.community_id == community_id)
    if not include_retired:
        query = query.where(Risk.status == "active")
    risks = list(session.scalars(query))
    return sorted(risks, key=lambda r: (-heatmap.score(r.likelihood, r.impact), r.title.lower(), r.id))


def flags(risk: Risk, *, now: datetime, staff_ids: set[int], playbook_names: set[str]) -> list[str]:
    """What the risk lacks, in FLAGS' order: an owner still on staff, a detector, a playbook
    that still exists, a review date in the future."""
    out = []
    if risk.owner_id is None or risk.owner_id not in staff_ids:
        out.append("no_owner")
    if not risk.detectors:
        out.append("no_detector")
    if not risk.playbooks:
        out.append("no_playbook")
    elif any(name not in playbook_names for name in risk.playbooks):
        out.append("unknown_playbook")
    if risk.review_at < now:
        out.append("review_overdue")
    return out


def flag_context(session: Session, community_id: int) -> tuple[set[int], set[str]]:
    """The staff ids and playbook names `flags` compares against, read once per page."""
    staff = set(session.scalars(select(Membership.user_id).where(Membership.community_id == community_id)))
    return staff, set(playbook_store.names(session))


def changes_of(session: Session, risk_id: int) -> list[RiskChange]:
    return list(session.scalars(select(RiskChange).where(RiskChange.risk_id == risk_id)
                                .order_by(RiskChange.at.desc(), RiskChange.id.desc())))
