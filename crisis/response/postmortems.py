"""Postmortems: drafted on resolve, written in the playbook's sections, reviewed, published.

States: draft → in_review → published (in_review may go back to draft). Any responder
writes and submits; only a manager publishes, and publishing is refused while a required
section is empty, an action item lacks an owner or a due date, or no verdict is given.
The verdict (true alarm, false alarm, duplicate) feeds detector precision (crisis.insight.trends).
Overdue action items notify their owners once, through the engine's notification outbox."""
from __future__ import annotations

import re
from datetime import date, datetime, time, timezone
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from crisis import playbooks
from crisis.clock import Clock, isoformat
from crisis.containment import report as containment_report
from crisis.db import sweep
from crisis.insight import trends
from crisis.models import Community, Incident, Role, Task, TimelineEntry, User
from crisis.models.postmortem import ActionItem, Postmortem
from crisis.notify import outbox
from crisis.response.states import (
    ACTION_ITEM,
    POSTMORTEM,
    TASK,
    ActionItemStatus,
    InvalidTransition,
    PostmortemStatus,
    TaskStatus,
)
from crisis.timeline import N_, add_timeline, said

STATES = ("draft", "in_review", "published")
VERDICTS = ("true_alarm", "false_alarm", "duplicate")
ACTION_STATUSES = tuple(s.value for s in ActionItemStatus)
DEFAULT_SECTIONS = ("Summary", "Impact", "Root cause", "What went well", "What went badly", "Action items")
ACTIONS_KEY = "action_items"
TIMELINE_KINDS = ("opened", "status", "severity", "assign", "note", "status_update", "quiet", "task", "containment")
CONTAINMENT_KEY = "containment"
MAX_SECTION = 50_000


class PostmortemError(ValueError):
    """A change the postmortem refuses; the message says why."""


class PublishRefused(PostmortemError):
    def __init__(self, reasons: list[str]) -> None:
        super().__init__("cannot publish: " + "; ".join(reasons))
        self.reasons = reasons


def section_key(title: str) -> str:
    key = re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")
    return ACTIONS_KEY if key in ("action_items", "actions", "follow_ups") else (key or "section")


def _spec(session: Session, incident: Incident) -> dict[str, Any] | None:
    if not incident.playbook_name or incident.playbook_version is None:
        return None
    row = playbooks.get_version(session, incident.playbook_name, incident.playbook_version)
    return row.spec if row is not None else None


def required(session: Session, incident: Incident) -> bool:
    spec = _spec(session, incident)
    return bool(spec) and incident.severity in spec.get("postmortem", {}).get("required_for", [])  # type: ignore[union-attr]


def for_incident(session: Session, incident_id: int) -> Postmortem | None:
    return session.scalar(select(Postmortem).where(Postmortem.incident_id == incident_id))


def ensure_draft(session: Session, incident: Incident, *, clock: Clock) -> Postmortem | None:
    """Open the prefilled draft of a resolved incident whose pinned playbook requires one.
    Returns the new draft, or None when none is needed or one exists."""
    if incident.status != "resolved" or for_incident(session, incident.id) is not None:
        return None
    if not required(session, incident):
        return None
    return create_draft(session, incident, clock=clock, author_id=None)


def create_draft(session: Session, incident: Incident, *, clock: Clock, author_id: int | None) -> Postmortem:
    existing = for_incident(session, incident.id)
    if existing is not None:
        return existing
    now = clock.now()
    spec = _spec(session, incident) or {}
    titles = list(spec.get("postmortem", {}).get("sections") or DEFAULT_SECTIONS)
    if not any(section_key(t) == ACTIONS_KEY for t in titles):
        titles.append("Action items")
    facts = _facts(session, incident)
    containment_log = containment_report.log_md(session, incident)
    if containment_log and not any(section_key(t) == CONTAINMENT_KEY for t in titles):
        # What crisis did on the platform is part of the record, wherever the playbook's sections are silent.
        titles.insert(next((i for i, t in enumerate(titles) if section_key(t) == ACTIONS_KEY), len(titles)),
                      "Containment")
    prefill = {"summary": _summary(incident, facts), "timeline": _timeline_md(session, incident),
               "detection": _detection_md(incident, facts), CONTAINMENT_KEY: containment_log}
    sections = [{"key": section_key(t), "title": t, "body": prefill.get(section_key(t), ""),
                 "required": section_key(t) != ACTIONS_KEY} for t in titles]
    if containment_log:
        facts["containment_log"] = containment_log  # what refresh_draft may still replace
    pm = Postmortem(incident_id=incident.id, community_id=incident.community_id, status="draft", sections=sections,
                    playbook_name=incident.playbook_name, playbook_version=incident.playbook_version, facts=facts,
                    author_id=author_id, created_at=now, updated_at=now)
    session.add(pm)
    session.flush()
    add_timeline(session, incident, "postmortem", said(N_("Postmortem draft opened")), at=now, actor="postmortems",
                 actor_user_id=author_id, data={"postmortem_id": pm.id})
    return pm


def _seconds(a: datetime | None, b: datetime | None) -> int | None:
    return int((b - a).total_seconds()) if a is not None and b is not None else None


def _onset(incident: Incident) -> datetime:
    return trends.onset(incident)


def _facts(session: Session, incident: Incident) -> dict[str, Any]:
    onset = _onset(incident)
    return {
        "onset_at": isoformat(onset), "opened_at": isoformat(incident.opened_at),
        "detected_at": isoformat(incident.created_at),
        "acknowledged_at": isoformat(incident.acknowledged_at) if incident.acknowledged_at else None,
        "mitigated_at": isoformat(incident.mitigated_at) if incident.mitigated_at else None,
        "resolved_at": isoformat(incident.resolved_at) if incident.resolved_at else None,
        "time_to_detect": _seconds(onset, incident.created_at),
        "time_to_acknowledge": _seconds(incident.created_at, incident.acknowledged_at),
        "time_to_mitigate": _seconds(incident.created_at, incident.mitigated_at),
        "time_to_resolve": _seconds(incident.created_at, incident.resolved_at),
        "kind": incident.kind, "severity": incident.severity, "title": incident.title,
        "accounts_total": (incident.evidence or {}).get("accounts_total"),
        "containment": containment_report.facts(session, incident),
    }


def duration(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(int(seconds), 0)
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m {seconds % 60:02d}s" if minutes < 10 else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours < 48 else f"{hours // 24}d {hours % 24}h"


def _summary(incident: Incident, facts: dict[str, Any]) -> str:
    return (f"A {incident.severity} {incident.kind} incident: {incident.title}. "
            f"Detected {duration(facts['time_to_detect'])} after it started, acknowledged after "
            f"{duration(facts['time_to_acknowledge'])}, resolved after {duration(facts['time_to_resolve'])}.")


def _timeline_md(session: Session, incident: Incident) -> str:
    entries = session.scalars(select(TimelineEntry).where(TimelineEntry.incident_id == incident.id,
                                                          TimelineEntry.kind.in_(TIMELINE_KINDS))
                              .order_by(TimelineEntry.at, TimelineEntry.id))
    return "\n".join(f"- {e.at.strftime('%Y-%m-%d %H:%M')} UTC — "
                     f"{e.message.splitlines()[0][:300] if e.message else e.kind}"
                     for e in entries)


def _detection_md(incident: Incident, facts: dict[str, Any]) -> str:
    ev = incident.evidence or {}
    lines = [f"- Detector: {incident.kind} ({incident.source})", f"- Anomaly began about {facts['onset_at']}",
             f"- Incident opened at {facts['detected_at']}"]
    if ev.get("accounts_total") is not None:
        lines.append(f"- Accounts involved: {ev['accounts_total']}")
    return "\n".join(lines)


def _move(pm: Postmortem, new: PostmortemStatus, refusal: str) -> None:
    try:
        pm.status = POSTMORTEM.move(pm.status, new).value
    except InvalidTransition:
        raise PostmortemError(refusal) from None


def _editable(pm: Postmortem) -> None:
    if pm.status in POSTMORTEM.terminal():
        raise PostmortemError("a published postmortem is read-only")


def save(session: Session, pm: Postmortem, *, bodies: dict[str, str], verdict: str | None,
         duplicate_of_id: int | None, clock: Clock) -> Postmortem:
    """Update section bodies (by key) and the verdict."""
    _editable(pm)
    if verdict not in (None, "", *VERDICTS):
        raise PostmortemError(f"verdict: {verdict!r} is not one of {', '.join(VERDICTS)}")
    sections = []
    for section in pm.sections:
        body = bodies.get(section["key"], section["body"])
        if len(body) > MAX_SECTION:
            raise PostmortemError(f"{section['title']}: at most {MAX_SECTION} characters")
        sections.append({**section, "body": body.replace("\r\n", "\n")})
    pm.sections = sections
    pm.verdict = verdict or None
    if duplicate_of_id is not None:
        other = session.get(Incident, duplicate_of_id)
        if other is None or other.community_id != pm.community_id or other.id == pm.incident_id:
            raise PostmortemError(f"duplicate of: incident {duplicate_of_id} is not another incident of this community")
    pm.duplicate_of_id = duplicate_of_id if pm.verdict == "duplicate" else None
    pm.updated_at = clock.now()
    return pm


def parse_due(raw: str) -> datetime | None:
    """'YYYY-MM-DD' → the end of that day, UTC; '' → None."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise PostmortemError(f"due date: {raw!r} must be a date YYYY-MM-DD") from None
    return datetime.combine(day, time(23, 59), tzinfo=timezone.utc)


def _staff(session: Session, pm: Postmortem, owner_id: int | None) -> int | None:
    if owner_id is None:
        return None
    from crisis.tenancy.communities import role_in

    if role_in(session, owner_id, pm.community_id) is None:
        raise PostmortemError(f"owner: user {owner_id} is not staff of this community")
    return owner_id


def add_action(session: Session, pm: Postmortem, *, title: str, owner_id: int | None, due_at: datetime | None,
               clock: Clock) -> ActionItem:
    _editable(pm)
    title = (title or "").strip()
    if not title or len(title) > 300:
        raise PostmortemError("action item: the title must be 1 to 300 characters")
    item = ActionItem(postmortem_id=pm.id, title=title, owner_id=_staff(session, pm, owner_id), due_at=due_at,
                      status="open", position=len(pm.action_items), created_at=clock.now())
    session.add(item)
    session.flush()
    session.refresh(pm)
    return item


def update_action(session: Session, item: ActionItem, *, status: str | None = None, owner_id: int | None = None,
                  due_at: datetime | None = None, clock: Clock) -> ActionItem:
    """Owners, due dates and status stay editable after publishing: action items outlive the review."""
    if status is not None:
        if status not in ACTION_STATUSES:
            raise PostmortemError(f"status: {status!r} is not one of {', '.join(ACTION_STATUSES)}")
        if status != item.status:
            item.status = ACTION_ITEM.move(item.status, status).value
        item.completed_at = clock.now() if status == ActionItemStatus.DONE else None
    if owner_id is not None:
        item.owner_id = _staff(session, item.postmortem, owner_id)
    if due_at is not None:
        if due_at != item.due_at:
            item.overdue_notified_at = None  # a new due date earns a new reminder
        item.due_at = due_at
    return item


def missing(pm: Postmortem) -> list[str]:
    """What stops publishing, each naming the section or action item."""
    out = [f"section “{s['title']}” is empty" for s in pm.sections
           if s.get("required") and not (s.get("body") or "").strip()]
    for n, item in enumerate(pm.action_items, 1):
        lacks = [what for what, ok in (("an owner", item.owner_id), ("a due date", item.due_at)) if not ok]
        if lacks:
            out.append(f"action item {n} “{item.title}” lacks {' and '.join(lacks)}")
    if not pm.verdict:
        out.append("the detector verdict is not set")
    elif pm.verdict == "duplicate" and pm.duplicate_of_id is None:
        out.append("a duplicate verdict needs the incident it duplicates")
    return out


def submit(session: Session, pm: Postmortem, *, user: User, role: Role, clock: Clock) -> Postmortem:
    if not role.at_least(Role.RESPONDER):
        raise PostmortemError("submitting for review needs the responder role")
    _move(pm, PostmortemStatus.IN_REVIEW, f"only a draft can be submitted for review (this one is {pm.status})")
    pm.submitted_at, pm.updated_at = clock.now(), clock.now()
    _log(session, pm, user, "Postmortem submitted for review", clock)
    return pm


def return_to_draft(session: Session, pm: Postmortem, *, user: User, role: Role, clock: Clock) -> Postmortem:
    if not role.at_least(Role.MANAGER):
        raise PostmortemError("only a manager returns a postmortem for changes")
    _move(pm, PostmortemStatus.DRAFT, f"only a postmortem in review can go back to draft (this one is {pm.status})")
    pm.updated_at = clock.now()
    _log(session, pm, user, "Postmortem returned for changes", clock)
    return pm


def publish(session: Session, pm: Postmortem, *, user: User, role: Role, clock: Clock) -> Postmortem:
    """Publish, or raise PublishRefused listing every reason."""
    reasons = []
    if not role.at_least(Role.MANAGER):
        reasons.append("only a manager publishes a postmortem")
    if pm.status not in POSTMORTEM.sources(PostmortemStatus.PUBLISHED):
        reasons.append(f"it must be in review first (it is {pm.status.replace('_', ' ')})")
    reasons += missing(pm)
    if reasons:
        raise PublishRefused(reasons)
    now = clock.now()
    pm.status = POSTMORTEM.move(pm.status, PostmortemStatus.PUBLISHED).value
    pm.published_at, pm.published_by_id, pm.updated_at = now, user.id, now
    _log(session, pm, user, "Postmortem published", clock)
    task = session.scalar(select(Task).where(Task.incident_id == pm.incident_id, Task.step_id == "postmortem",
                                             Task.status == TaskStatus.OPEN))
    if task is not None:
        task.status = TASK.move(task.status, TaskStatus.DONE).value
        task.completed_at, task.completed_by_id = now, user.id
    return pm


def _log(session: Session, pm: Postmortem, user: User, message: str, clock: Clock) -> None:
    incident = session.get(Incident, pm.incident_id)
    assert incident is not None
    add_timeline(session, incident, "postmortem", f"{user.display_name or user.email}: {message}", at=clock.now(),
                 actor=user.display_name or user.email, actor_user_id=user.id,
                 data={"postmortem_id": pm.id, "status": pm.status})


def to_markdown(session: Session, pm: Postmortem) -> str:
    incident = session.get(Incident, pm.incident_id)
    community = session.get(Community, pm.community_id)
    assert incident is not None and community is not None
    facts = pm.facts or {}

    def name(user_id: int | None) -> str:
        user = session.get(User, user_id) if user_id else None
        return (user.display_name or user.email) if user else "—"

    out = [f"# Postmortem: {incident.title}", "",
           f"- Community: {community.name} ({community.slug})",
           f"- Incident: #{incident.id}, {incident.kind}, {incident.severity}",
           f"- Playbook: {pm.playbook_name} v{pm.playbook_version}" if pm.playbook_name else "- Playbook: none",
           f"- Status: {pm.status.replace('_', ' ')}"
           + (f" ({isoformat(pm.published_at)} by {name(pm.published_by_id)})" if pm.published_at else ""),
           f"- Verdict: {(pm.verdict or 'not set').replace('_', ' ')}"
           + (f" of incident #{pm.duplicate_of_id}" if pm.duplicate_of_id else ""), "",
           "| Time to detect | Time to acknowledge | Time to mitigate | Time to resolve |", "|---|---|---|---|",
           "| " + " | ".join(duration(facts.get(k)) for k in ("time_to_detect", "time_to_acknowledge",
                                                            "time_to_mitigate", "time_to_resolve")) + " |", ""]
    for section in pm.sections:
        out += [f"## {section['title']}", ""]
        if section["key"] == ACTIONS_KEY:
            if section.get("body", "").strip():
                out += [section["body"].strip(), ""]
            out += ["| # | Action | Owner | Due | Status |", "|---|---|---|---|---|"]
            out += [f"| {n} | {i.title.replace('|', '/')} | {name(i.owner_id)} | "
                    f"{i.due_at.date().isoformat() if i.due_at else '—'} | {i.status.replace('_', ' ')} |"
                    for n, i in enumerate(pm.action_items, 1)]
            out.append("")
        else:
            out += [(section.get("body") or "").strip() or "_(empty)_", ""]
    return "\n".join(out).rstrip() + "\n"


def _overdue(session: Session, now: datetime, limit: int) -> list[int]:
    return list(session.scalars(select(ActionItem.id).where(
        ActionItem.status != "done", ActionItem.due_at <= now, ActionItem.overdue_notified_at.is_(None),
        ActionItem.owner_id.is_not(None)).order_by(ActionItem.due_at).limit(limit)))


def notify_overdue_action(session: Session, item_id: int, now: datetime) -> bool:
    """Claim the item (once per due date), then notify its owner through the outbox."""
    claimed = session.execute(update(ActionItem).where(ActionItem.id == item_id,
                                                       ActionItem.overdue_notified_at.is_(None),
                                                       ActionItem.status != "done")
                              .values(overdue_notified_at=now), execution_options={"synchronize_session": False})
    if claimed.rowcount != 1:  # type: ignore[attr-defined]  # -- an UPDATE's Result is a CursorResult
        return False
    item = session.get(ActionItem, item_id)
    assert item is not None
    session.refresh(item)
    pm = item.postmortem
    incident = session.get(Incident, pm.incident_id)
    owner = session.get(User, item.owner_id) if item.owner_id else None
    if incident is None or owner is None:
        return False
    late = int(max((now - item.due_at).total_seconds(), 0) // 60) if item.due_at else 0
    result = outbox.notify(session, incident, "task_overdue", [{"user": owner.email}],
                           cause=f"pm-action{item.id}:overdue:{item.due_at.date().isoformat() if item.due_at else ''}",
                           now=now, extra={"task": {"title": f"Postmortem action: {item.title}",
                                                    "step": "postmortem-action",
                                                    "owner": owner.display_name or owner.email,
                                                    "late_minutes": late}})
    add_timeline(session, incident, "postmortem",
                 said(N_("Action item %(title)r is overdue; notified %(who)s"), title=item.title, who=result.summary),
                 at=now, actor="postmortems", data={"action_item_id": item.id, "recipients": result.labels})
    return True


def notify_overdue_actions(sessions: sessionmaker[Session], *, clock: Clock, limit: int = 200) -> int:
    """For the periodic sweep: each overdue, owned, unfinished action item notifies once."""
    return sweep(sessions, _overdue, notify_overdue_action, now=clock.now(), limit=limit)
