"""Cases: open one from a complaint (the public form, a report event, staff), triage and
assign it, decide it (actioned, with a rule's penalty or by hand; or dismissed), one by one
or a whole queue item at once, and close an incident's cases with one decision.

Every change goes through `move` (the transition table of crisis.cases.states), writes a
CaseEvent, and is made in the caller's transaction; answers to the complainant through
the bridge are outbox rows (crisis.cases.replies)."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from crisis.cases import links, replies
from crisis.cases.categories import CATEGORIES
from crisis.cases.settings import response_times
from crisis.cases.states import CASE, OPEN_VALUES, SUBJECTS, CaseStatus
from crisis.models import Case, CaseEvent, Community, Incident, Membership, Penalty
from crisis.moderation import penalties, rulebook
from crisis.moderation.penalties import By, PenaltyError
from crisis.moderation.rules import find
from crisis.statemachine import InvalidTransition

C = CaseStatus
SOURCES = ("form", "ingest", "matrix", "staff")
DECISIONS = (C.ACTIONED.value, C.DISMISSED.value)
MAX_DETAILS = 4000
MAX_OUTCOME = 2000


class CaseError(ValueError):
    """Bad input for a case; the message names the field."""


@dataclass(frozen=True)
class Complaint:
    """What a complainant said, as intake hands it over."""

    subject_kind: str
    category: str
    details: str = ""
    subject_member: str = ""
    subject_message_id: str = ""
    subject_channel: str = ""
    subject_link: str = ""
    rule_id: str = ""
    reporter: str = ""
    reporter_name: str = ""
    reporter_created_at: datetime | None = None
    source: str = "form"
    source_event_id: str | None = None
    received_at: datetime | None = None


def check(session: Session, community: Community, c: Complaint) -> Complaint:
    """The complaint with its text trimmed, or CaseError naming the first bad field (the
    public form and the API; report events are taken as the ingest API validated them)."""
    if c.subject_kind not in SUBJECTS:
        raise CaseError(f"subject: must be one of {', '.join(SUBJECTS)}")
    if c.category not in CATEGORIES:
        raise CaseError(f"category: must be one of {', '.join(CATEGORIES)}")
    fields = {"details": (c.details, MAX_DETAILS), "member": (c.subject_member, 255),
              "message_id": (c.subject_message_id, 200), "channel": (c.subject_channel, 200),
              "link": (c.subject_link, 500), "rule": (c.rule_id, 64), "reporter_name": (c.reporter_name, 200)}
    for name, (value, limit) in fields.items():
        if len(value) > limit:
            raise CaseError(f"{name}: is {len(value)} characters long; the limit is {limit}")
    c = replace(c, details=c.details.strip(), subject_member=c.subject_member.strip(),
                subject_message_id=c.subject_message_id.strip(), subject_link=c.subject_link.strip(),
                subject_channel=c.subject_channel.strip(), rule_id=c.rule_id.strip())
    if c.subject_link and not c.subject_link.startswith(("https://", "http://")):
        raise CaseError("link: must be an http(s) link to the message")
    if c.subject_kind == "message" and not (c.subject_message_id or c.subject_link):
        raise CaseError("message_id: name the message (its id or a link to it)")
    if c.subject_kind == "member" and not c.subject_member:
        raise CaseError("member: name the member (their account or user name)")
    if c.subject_kind == "feedback" and not c.details:
        raise CaseError("details: write your feedback")
    if c.rule_id:
        book = rulebook.latest(session, community.id)
        if book is None or find(book.spec, c.rule_id) is None:
            raise CaseError(f"rule: {c.rule_id!r} is not one of this community's rules")
    return c


def subject_key(c: Complaint) -> str:
    """What groups reports in the queue: the message (by id, else by link), else the member;
    each piece of general feedback is its own item."""
    if c.subject_kind == "message":
        return f"message:{c.subject_message_id or c.subject_link}"[:300]
    if c.subject_kind == "member":
        return f"member:{c.subject_member}"[:300]
    return f"feedback:{c.source_event_id or secrets.token_hex(8)}"[:300]


def open_case(session: Session, community: Community, c: Complaint, *, now: datetime, actor: str = "") -> Case:
    [case_id] = open_cases(session, community, [c], now=now, actor=actor)
    case = session.get(Case, case_id)
    assert case is not None
    return case


def open_cases(session: Session, community: Community, complaints: list[Complaint], *, now: datetime,
               actor: str = "") -> list[int]:
    """Cases for these complaints, each with its opening event, joined to the open complaint
    incident whose window it falls in, its complainant told through the bridge they came by.

    Two INSERT statements for the lot, not an ORM object per case: the drain hands over a
    batch's reports at once, and building and flushing ORM rows cost it a quarter of its
    time on the dev set's report-heavy community (bench/case_intake.py)."""
    if any(c.source not in SOURCES for c in complaints):
        raise CaseError(f"source: must be one of {', '.join(SOURCES)}")
    times = response_times(community)
    incidents = links.open_incidents(session, community.id)
    joined = [links.incident_for(incidents, c.received_at or now) for c in complaints]
    rows = [{"community_id": community.id, "source": c.source, "source_event_id": c.source_event_id,
             "subject_kind": c.subject_kind, "subject_key": subject_key(c), "subject_member": c.subject_member[:255],
             "subject_message_id": c.subject_message_id[:200], "subject_channel": c.subject_channel[:200],
             "subject_link": c.subject_link[:500], "category": c.category, "rule_id": c.rule_id[:64],
             "details": c.details[:MAX_DETAILS], "reporter": c.reporter[:255], "reporter_name": c.reporter_name[:200],
             "reporter_created_at": c.reporter_created_at, "status": C.NEW.value, "due_at": now + times[c.category],
             "outcome": "", "decided_by": "", "incident_id": incident.id if incident else None,
             "received_at": c.received_at or now, "created_at": now, "updated_at": now}
            for c, incident in zip(complaints, joined)]
    ids = list(session.scalars(insert(Case).returning(Case.id, sort_by_parameter_order=True), rows))
    events = []
    for case_id, c, incident in zip(ids, complaints, joined):
        events.append({"case_id": case_id, "at": now, "kind": "opened", "from_status": "", "to_status": C.NEW.value,
                       "actor": (actor or c.reporter_name or c.source)[:200], "note": "",
                       "data": {"source": c.source, "category": c.category}})
        if incident is not None:
            events.append({"from_status": "", "to_status": "", **links.linked_event(case_id, incident, now)})
    session.execute(insert(CaseEvent), events)
    bridged = [case_id for case_id, c in zip(ids, complaints) if c.source == "matrix"]
    if bridged:
        for case in session.scalars(select(Case).where(Case.id.in_(bridged))):
            replies.case_received(session, community, case, now)
    return ids


def move(session: Session, case: Case, new: CaseStatus, *, by: By, now: datetime, note: str = "") -> None:
    """The one place a case's status changes: checked against the table, recorded."""
    old = case.status
    try:
        case.status = CASE.move(old, new).value
    except InvalidTransition as exc:
        raise CaseError(f"status: {exc}") from None
    case.updated_at = now
    session.add(CaseEvent(case_id=case.id, at=now, kind="status", from_status=old, to_status=new.value,
                          actor=by.label[:200], actor_user_id=by.user_id, note=note))


def _staff(session: Session, community_id: int, user_id: int) -> None:
    if session.scalar(select(Membership.id).where(Membership.user_id == user_id,
                                                  Membership.community_id == community_id)) is None:
        raise CaseError("owner: pick someone who is staff of this community")


def assign(session: Session, case: Case, owner_id: int, *, by: By, now: datetime) -> None:
    _staff(session, case.community_id, owner_id)
    if case.owner_id != owner_id:
        case.owner_id, case.updated_at = owner_id, now
        session.add(CaseEvent(case_id=case.id, at=now, kind="owner", actor=by.label[:200], actor_user_id=by.user_id,
                              data={"owner_id": owner_id}))


def triage(session: Session, case: Case, *, by: By, now: datetime, owner_id: int | None = None,
           note: str = "") -> None:
    """Take the case: it is triaged, owned by `owner_id` or by whoever took it."""
    owner = owner_id if owner_id is not None else by.user_id
    if owner is not None:
        assign(session, case, owner, by=by, now=now)
    if case.status == C.NEW.value:
        move(session, case, C.TRIAGED, by=by, now=now, note=note)


def decide(session: Session, community: Community, cases: list[Case], decision: str, *, by: By, now: datetime,
           outcome: str = "", penalty: Penalty | None = None) -> list[Case]:
    if decision not in DECISIONS:
        raise CaseError(f"decision: must be one of {', '.join(DECISIONS)}")
    outcome = (outcome or "").strip()
    if len(outcome) > MAX_OUTCOME:
        raise CaseError(f"outcome: at most {MAX_OUTCOME} characters")
    for case in cases:
        move(session, case, C(decision), by=by, now=now, note=outcome)
        case.outcome, case.decided_by, case.decided_by_id, case.decided_at = outcome, by.label[:200], by.user_id, now
        if penalty is not None:
            case.penalty_id = penalty.id
        if case.owner_id is None and by.user_id is not None:
            case.owner_id = by.user_id
        replies.case_decided(session, community, case, now)
    return cases


def open_about(session: Session, community_id: int, key: str) -> list[Case]:
    return list(session.scalars(select(Case).where(Case.community_id == community_id, Case.subject_key == key,
                                                   Case.status.in_(OPEN_VALUES)).order_by(Case.id)))


def decide_item(session: Session, community: Community, key: str, decision: str, *, by: By, now: datetime,
                outcome: str = "", rule_id: str = "", member: str = "") -> tuple[list[Case], Penalty | None]:
    """One decision for every open case about one subject (a queue item)."""
    cases = open_about(session, community.id, key)
    if not cases:
        raise CaseError("subject: nothing open about it (it may have been decided already)")
    return decide_with_rule(session, community, cases, decision, by=by, now=now, outcome=outcome, rule_id=rule_id,
                            member=member)


def decide_with_rule(session: Session, community: Community, cases: list[Case], decision: str, *, by: By,
                     now: datetime, outcome: str = "", rule_id: str = "",
                     member: str = "") -> tuple[list[Case], Penalty | None]:
    """Dismiss the cases, or action them, applying `rule_id`'s penalty (its ladder's next
    step) to the member they are about (or `member`, when staff name the account)."""
    penalty = None
    if rule_id:
        if decision != C.ACTIONED.value:
            raise CaseError("rule: a penalty goes with actioned, not with dismissed")
        target = member.strip() or next((c.subject_member for c in cases if c.subject_member), "")
        if not target:
            raise CaseError("member: the reports name no member to penalise; give the account")
        try:
            penalty = penalties.apply(session, community, target, rule_id, by=by, now=now,
                                      note=outcome or f"from {len(cases)} report(s)")
        except PenaltyError as exc:
            raise CaseError(str(exc)) from None
    return decide(session, community, cases, decision, by=by, now=now, outcome=outcome, penalty=penalty), penalty


def close_for_incident(session: Session, incident: Incident, decision: str, *, by: By, now: datetime,
                       outcome: str = "") -> list[Case]:
    """Resolving a complaint incident: its open cases closed with one decision."""
    community = session.get(Community, incident.community_id)
    assert community is not None
    cases = [c for c in links.for_incident(session, incident.id) if c.status in OPEN_VALUES]
    return decide(session, community, cases, decision, by=by, now=now, outcome=outcome)


def events(session: Session, case_id: int) -> list[CaseEvent]:
    return list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)))


def reporter_of_form(secret_key: str, address: str, community_id: int) -> str:
    """The anonymous form's reporter: a keyed hash of the sender's address, so reports from
    one sender count once and build a track record, without keeping the address."""
    digest = hmac.new(secret_key.encode(), f"{community_id}\0{address}".encode(), hashlib.sha256).hexdigest()
    return f"web:{digest[:16]}"
