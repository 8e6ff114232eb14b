"""A community where one member (Mallory) left traces in every place crisis stores anything:
events she sent and events about her, the detectors' checkpoint, an incident's evidence,
title, signals, timeline, tasks, notifications, a containment action and its moves, a
postmortem and its action items, the platform link's account cache and transactions, the
settings' allowlist, and an idempotency key that names her. Plain SQLAlchemy, so the same
world is built on SQLite and on PostgreSQL."""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, LargeBinary, MetaData, String, Text, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import JSON

from crisis.clock import FixedClock, isoformat
from crisis.erasure import tables as erasure_tables
from crisis.ingest.store import store_events
from crisis.ingest.validate import validate_batch
from crisis.models import (
    BridgeTransaction,
    Community,
    ContainmentAction,
    ContainmentMove,
    DetectorState,
    Incident,
    Notification,
    PlatformAccount,
    PlatformLink,
    Signal,
    Task,
    TimelineEntry,
)
from crisis.models.cases import Case, CaseEvent, MemberMessage
from crisis.models.moderation import Appeal, Penalty
from crisis.models.postmortem import ActionItem, Postmortem
from crisis.models.publicstatus import PublicUpdate
from crisis.response import drain
from crisis.tenancy import communities, community_settings

MEMBER = "@mallory:hs.test"
NAMES = ("Mallory Quux", "小明同学")
MESSAGE = "zebra orchid secret plan 4471 is on"
MESSAGE_ZH = "我的秘密计划是明天去北京的老地方见面"
REPORT = "this cabbage keeps flooding the channel"
# Everything that must be gone from every table once Mallory is erased.
NEEDLES = (MEMBER, *NAMES, MESSAGE, MESSAGE_ZH, REPORT)


@dataclass
class World:
    community_id: int
    other_id: int
    incident_id: int
    action_id: int


def _events(start: int, now: Any) -> list[dict[str, Any]]:
    def at(i: int) -> str:
        return isoformat(now - timedelta(minutes=30) + timedelta(seconds=i))

    chat = [{"id": f"c{start + i}", "type": "message.create", "ts": at(i), "actor": {"id": f"@u{i % 4}:hs.test",
             "name": f"User {i % 4}"}, "channel": "general", "content": f"ordinary talk {i}"} for i in range(20)]
    return chat + [
        {"id": f"j{start}", "type": "member.join", "ts": at(21), "channel": "general",
         "actor": {"id": MEMBER, "name": NAMES[0], "created_at": isoformat(now - timedelta(days=2))}},
        {"id": f"m{start}", "type": "message.create", "ts": at(22), "channel": "general", "message_id": f"m{start}",
         "actor": {"id": MEMBER, "name": NAMES[0]}, "content": MESSAGE},
        {"id": f"mz{start}", "type": "message.create", "ts": at(23), "channel": "general",
         "actor": {"id": MEMBER, "name": NAMES[1]}, "content": MESSAGE_ZH},
        {"id": f"r{start}", "type": "report.create", "ts": at(24), "channel": "general",
         "actor": {"id": MEMBER, "name": NAMES[1]}, "target": {"user_id": "@u1:hs.test"}, "reason": REPORT},
        # Other members about her: a reply quoting and mentioning her, a report on her.
        {"id": f"q{start}", "type": "message.create", "ts": at(25), "channel": "general",
         "actor": {"id": "@u2:hs.test"}, "content": f"> {MESSAGE}\n{NAMES[0]}, stop it", "x-mentions": [MEMBER]},
        {"id": f"rr{start}", "type": "report.create", "ts": at(26), "channel": "general",
         "actor": {"id": "@u3:hs.test"}, "target": {"user_id": MEMBER}, "reason": f"{NAMES[1]} 一直在刷屏"},
        # A client whose event ids carry the account (the idempotency index then does too).
        {"id": f"evt-{MEMBER}-{start}", "type": "reaction.add", "ts": at(27), "channel": "general",
         "actor": {"id": MEMBER}, "target": {"message_id": "c1"}},
    ]


def _store(session: Session, community: Community, raw: list[dict[str, Any]], clock: FixedClock) -> None:
    valid, errors = validate_batch(raw, community.slug, clock.now())
    assert not errors, errors
    store_events(session, community, valid, clock=clock)


def build(sessions: sessionmaker[Session], clock: FixedClock, *, with_member_elsewhere: bool = False) -> World:
    now = clock.now()
    with sessions() as s:
        community, _ = communities.create_community(s, "lantern", name="Lantern", clock=clock)
        other, _ = communities.create_community(s, "harbor", name="Harbor", clock=clock)
        s.flush()
        # Through the service, so the audit log records the change as well.
        community_settings.update(s, community, {"allow_users": [MEMBER, "@mod:hs.test"]}, actor="ann@example.test")
        _store(s, community, _events(0, now), clock)
        _store(s, community, _events(100, now)[:5] + _events(100, now)[20:], clock)  # a second batch
        if with_member_elsewhere:
            _store(s, other, _events(0, now), clock)
        s.commit()
        cid, oid = community.id, other.id
    with sessions() as s:
        drain.drain(s, cid, clock=clock)
        if with_member_elsewhere:
            drain.drain(s, oid, clock=clock)
        s.commit()
    with sessions() as s:
        incident_id, action_id = _record(s, cid, now)
        s.commit()
    return World(cid, oid, incident_id, action_id)


def _record(s: Session, cid: int, now: Any) -> tuple[int, int]:
    link = PlatformLink(community_id=cid, platform="matrix", name="hs", endpoint="http://127.0.0.1:9",
                        service_id="crisis-lantern", sender="@crisis:hs.test", inbound_token_hash="h" * 64,
                        outbound_token="x", rooms={"!room:hs.test": "general"}, created_at=now)
    s.add(link)
    s.flush()
    s.add_all([PlatformAccount(link_id=link.id, user_id=MEMBER, display_name=NAMES[0], fetched_at=now),
               PlatformAccount(link_id=link.id, user_id="@u1:hs.test", display_name="User 1", fetched_at=now),
               BridgeTransaction(link_id=link.id, txn_id="t1", received_at=now, events=2, stored=2,
                                 summary={"senders": [MEMBER, "@u1:hs.test"]})])
    evidence = {"accounts": [MEMBER, "@u1:hs.test"], "accounts_total": 2, "samples": [MESSAGE[:200], "ordinary"],
                "reasons": {REPORT: 2, "spam": 1},
                "samples_reports": [{"reporter": MEMBER, "target": "@u1:hs.test", "reason": REPORT}],
                "permalinks": {MEMBER: "https://matrix.to/#/!room/$m0"}}
    title = f"Dispute in #general: {MEMBER} vs @u1:hs.test"
    incident = Incident(community_id=cid, kind="dispute", title=title, severity="sev3", status="resolved",
                        source="detector", episode_key="dispute:general:1", evidence=evidence, opened_at=now,
                        created_at=now, resolved_at=now)
    s.add(incident)
    s.flush()
    action = ContainmentAction(incident_id=incident.id, community_id=cid, kind="ban", status="reverted",
                               executor="manual", approve_role="responder", params={"reason": f"ban {NAMES[0]}"},
                               targets=[{"account": MEMBER, "state": "reverted"}, {"account": "@u1:hs.test"}],
                               receipt={"users": {MEMBER: 0}}, created_at=now, updated_at=now)
    task = Task(incident_id=incident.id, step_id="ban", title=f"Ban {MEMBER} by hand",
                instructions=f"{NAMES[1]} wrote: {MESSAGE}", created_at=now)
    pm = Postmortem(incident_id=incident.id, community_id=cid, status="draft", created_at=now, updated_at=now,
                    sections=[{"key": "summary", "title": "Summary", "body": f"{NAMES[0]} posted '{MESSAGE}'"}],
                    facts={"title": title})
    s.add_all([action, task, pm,
               Signal(incident_id=incident.id, kind="dispute", severity="sev3", scope="channel:general",
                      observed_at=now, created_at=now, evidence=evidence),
               TimelineEntry(incident_id=incident.id, at=now, kind="opened", actor="detector",
                             message=f"Detector opened dispute incident: {title}", data={"accounts": [MEMBER]}),
               Notification(community_id=cid, incident_id=incident.id, event="opened", cause="opened:1",
                            destination="ch:1", recipient_label="#mods", title=f"[SEV3] Lantern: {title}",
                            body=f"{NAMES[0]} and @u1 are fighting", next_attempt_at=now, created_at=now)])
    s.flush()
    s.add_all([ContainmentMove(action_id=action.id, from_status="applied", to_status="reverted", actor="bob",
                               note=f"released {MEMBER}", at=now),
               ActionItem(postmortem_id=pm.id, title=f"Watch for {NAMES[1]} coming back", created_at=now)])
    _record_moderation(s, cid, incident.id, link.id, now)
    return incident.id, action.id


def _record_moderation(s: Session, cid: int, incident_id: int, link_id: int, now: Any) -> None:
    """Issue 19's tables: a case she filed and one about her, her penalty, her appeal, the
    message that told her, and a public update that quotes her."""
    penalty = Penalty(community_id=cid, member=MEMBER, rulebook_version=1, rule_id="spam",
                      rule_title={"en": "No spam", "zh": "禁止刷屏"}, kind="mute", note=f"{NAMES[0]}: {MESSAGE}",
                      applied_by="bob", applied_at=now)
    s.add(penalty)
    s.flush()
    filed = Case(community_id=cid, source="matrix", subject_kind="member", subject_key="member:@u1:hs.test",
                 subject_member="@u1:hs.test", category="harassment", details=f"{NAMES[1]} says: {MESSAGE}",
                 reporter=MEMBER, reporter_name=NAMES[1], due_at=now, received_at=now, created_at=now,
                 updated_at=now, incident_id=incident_id)
    about = Case(community_id=cid, source="form", subject_kind="member", subject_key=f"member:{MEMBER}",
                 subject_member=MEMBER, category="spam", details=f"{NAMES[0]} keeps posting", reporter="web:abc",
                 outcome=f"{NAMES[0]} was muted", due_at=now, received_at=now, created_at=now, updated_at=now,
                 penalty_id=penalty.id)
    s.add_all([filed, about])
    s.flush()
    s.add_all([CaseEvent(case_id=filed.id, at=now, kind="opened", actor=NAMES[1], note=MESSAGE,
                         data={"reporter": MEMBER}),
               Appeal(community_id=cid, penalty_id=penalty.id, text=f"I am {NAMES[0]} and I did not spam",
                      filed_by="member", filed_at=now),
               MemberMessage(community_id=cid, link_id=link_id, case_id=filed.id, cause=f"case:{filed.id}:opened",
                             recipient=MEMBER, body=f"Hello {NAMES[1]}, we got your report", next_attempt_at=now,
                             created_at=now),
               PublicUpdate(incident_id=incident_id, community_id=cid, phase="monitoring",
                            body=f"We muted {NAMES[0]} for spam", posted_at=now)])


def _texts(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        try:
            raw = zlib.decompress(raw)
        except zlib.error:
            pass
        return [raw.decode("utf-8", "replace")]
    if isinstance(value, str):
        return [value]
    import json

    return [json.dumps(value, ensure_ascii=False)]


def find(engine: Engine, needles: tuple[str, ...], *, community_id: int | None = None) -> list[str]:
    """Every (table.column) holding any needle, case-insensitively, over every table the database
    has (reflected, not the models), and every text, JSON or binary column. Binary values are
    inflated when they are zlib, as the batch log is."""
    meta = MetaData()
    meta.reflect(engine)
    lowered = [n.lower() for n in needles]
    hits: list[str] = []
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, (String, Text, JSON, LargeBinary))
                       or c.type.__class__.__name__.upper() in ("JSON", "JSONB", "BYTEA", "BLOB")]
            if not columns:
                continue
            query = select(*columns)
            if community_id is not None:
                # A table without community_id (a case's events) belongs through its foreign keys.
                where = table.c.community_id == community_id if "community_id" in table.c \
                    else erasure_tables.scope(table, community_id)
                if where is None:
                    continue  # staff and shared tables: no community's rows
                query = query.where(where)
            for row in conn.execute(query):
                for column, value in zip(columns, row, strict=True):
                    for text in _texts(value):
                        low = text.lower()
                        for needle in lowered:
                            if needle in low:
                                hits.append(f"{table.name}.{column.name}: {needle!r} in {text[:120]!r}")
    return hits


def detector_state(sessions: sessionmaker[Session], community_id: int) -> tuple[int, Any]:
    with sessions() as s:
        row = s.scalar(select(DetectorState).where(DetectorState.community_id == community_id))
        assert row is not None
        return row.version, row.state
