"""Cases through the real intake: report events sent to the ingest API become cases once
(the detect drain, inline), grouped and weighted in the review queue, decided with a rule's
penalty, overdue on the community's response times, gathered by the complaint spike the
same reports open, and closed with it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.cases import links, overdue, review, scoring, service
from crisis.cases.categories import guess
from crisis.cases.states import CASE
from crisis.clock import FixedClock
from crisis.models import Case, Incident, MemberMessage, Notification, PlatformLink, Role
from crisis.moderation import rulebook
from crisis.moderation.penalties import By
from crisis.response import lifecycle
from crisis.statemachine import InvalidTransition
from crisis.tenancy import community_settings
from tests.detection.streams import COMM, T0, Stream
from tests.engine.conftest import World

BOB = By("Bob", None, Role.RESPONDER)
NOW = "2026-10-05T11:59:00.000Z"


def _report(i: int, reporter: str, *, message: str = "", member: str = "", reason: str = "spam",
            age_days: float = 800, ts: str = NOW, event_id: str = "") -> dict[str, Any]:
    created = (datetime(2026, 10, 5, 12, tzinfo=timezone.utc) - timedelta(days=age_days)).isoformat()
    target = {k: v for k, v in (("message_id", message), ("user_id", member)) if v}
    return {"id": event_id or f"r{i}", "type": "report.create", "ts": ts, "channel": "general",
            "actor": {"id": reporter, "name": reporter.strip("@").split(":")[0], "created_at": created},
            **({"target": target} if target else {}), "reason": reason}


def _post(client: FlaskClient, world: World, events: list[dict[str, Any]], slug: str = "lantern",
          token: str | None = None) -> None:
    resp = client.post(f"/api/v1/communities/{slug}/events", json=events,
                       headers={"Authorization": f"Bearer {token or world.ingest_token}"})
    assert resp.status_code == 202, resp.get_json()


@pytest.fixture
def ruled(session: Session, world: World, clock: FixedClock) -> World:
    rulebook.sync(session, clock=clock)
    session.commit()
    return world


def _cases(session: Session, world: World) -> list[Case]:
    session.expire_all()
    return list(session.scalars(select(Case).where(Case.community_id == world.community.id).order_by(Case.id)))


def test_report_events_become_cases_once_with_their_subject_and_category(
        client: FlaskClient, session: Session, ruled: World) -> None:
    events = [_report(1, "@a:hs", message="$m1", member="@troll:hs", reason="spam link"),
              _report(2, "@b:hs", member="@troll:hs", reason="他一直在骚扰我"),
              _report(3, "@c:hs", reason="please add a rules channel")]
    _post(client, ruled, events)
    _post(client, ruled, events)  # redelivered: stored once, so one case each
    cases = _cases(session, ruled)
    assert [(c.subject_kind, c.subject_key, c.subject_member, c.category, c.source) for c in cases] == [
        ("message", "message:$m1", "@troll:hs", "spam", "ingest"),
        ("member", "member:@troll:hs", "@troll:hs", "harassment", "ingest"),
        ("feedback", "feedback:r3", "", "other", "ingest")]
    assert cases[0].reporter == "@a:hs" and cases[0].reporter_created_at is not None
    # Response times per category: harassment within the hour, spam within four.
    assert cases[1].due_at - cases[1].created_at == timedelta(hours=1)
    assert cases[0].due_at - cases[0].created_at == timedelta(hours=4)


@pytest.mark.parametrize(("reason", "category"), [
    ("spam", "spam"), ("phishing link, a scam", "scam"), ("racist slur", "hate"), ("刷屏广告", "spam"),
    ("诈骗链接", "scam"), ("人身攻击", "harassment"), ("porn", "nsfw"), ("跑题", "off_topic"), ("", "other"),
    ("feedback", "feedback"), ("no reason I can name", "other")])
def test_a_reports_reason_names_its_category_in_english_or_chinese(reason: str, category: str) -> None:
    assert guess(reason) == category


def test_ten_reports_of_one_message_are_one_item_scored_by_distinct_reporters(
        client: FlaskClient, session: Session, ruled: World, clock: FixedClock) -> None:
    events = [_report(i, f"@r{i}:hs", message="$bad", member="@troll:hs") for i in range(10)]
    events += [_report(100 + i, "@r0:hs", message="$bad", member="@troll:hs") for i in range(5)]  # one reporter again
    events.append(_report(200, "@x:hs", message="$other", member="@else:hs"))
    _post(client, ruled, events)
    items = review.items(session, ruled.community.id, clock.now())
    assert [(i.key, i.reports, len(i.weights)) for i in items] == [("message:$bad", 15, 10), ("message:$other", 1, 1)]
    assert items[0].score == 10.0 and items[0].member == "@troll:hs"


def test_a_reporter_with_upheld_reports_counts_more_and_a_brigade_of_fresh_accounts_less() -> None:
    assert scoring.weight(0, 0, timedelta(days=400)) == 1.0
    assert scoring.weight(2, 0, timedelta(days=400)) == 1.0  # too few decided reports to tell
    assert scoring.weight(4, 0, timedelta(days=400)) == 3.5
    assert scoring.weight(0, 4, timedelta(days=400)) == 0.1
    assert scoring.weight(0, 0, timedelta(hours=3)) == 0.2
    assert scoring.weight(0, 0, None, anonymous=True) == 0.5
    assert scoring.weight(0, 9, None, staff=True) == 5.0


def test_the_queue_puts_a_trusted_reporter_above_a_brigade(client: FlaskClient, session: Session, ruled: World,
                                                           clock: FixedClock) -> None:
    history = [_report(i, "@trusted:hs", message=f"$old{i}", member=f"@x{i}:hs") for i in range(4)]
    _post(client, ruled, history)
    for case in _cases(session, ruled):
        service.decide(session, ruled.community, [case], "actioned", by=BOB, now=clock.now())
    session.commit()
    brigade = [_report(10 + i, f"@new{i}:hs", message="$victim", member="@victim:hs", age_days=0.1)
               for i in range(6)]
    _post(client, ruled, [*brigade, _report(30, "@trusted:hs", message="$real", member="@troll:hs")])
    items = review.items(session, ruled.community.id, clock.now())
    assert [i.key for i in items] == ["message:$real", "message:$victim"]
    assert items[0].score == 3.5 and items[1].score == pytest.approx(1.2)
    assert items[1].likely_brigade and not items[0].likely_brigade


def test_one_decision_actions_every_case_of_an_item_with_the_rules_penalty(
        client: FlaskClient, session: Session, ruled: World, clock: FixedClock) -> None:
    _post(client, ruled, [_report(i, f"@r{i}:hs", message="$bad", member="@troll:hs") for i in range(3)])
    cases, penalty = service.decide_item(session, ruled.community, "message:$bad", "actioned", by=BOB,
                                         now=clock.now(), outcome="Removed; the member was warned.",
                                         rule_id="no-spam")
    assert penalty is not None and (penalty.member, penalty.kind, penalty.rule_id) == ("@troll:hs", "warn", "no-spam")
    assert {(c.status, c.penalty_id, c.outcome) for c in cases} == {
        ("actioned", penalty.id, "Removed; the member was warned.")}
    with pytest.raises(service.CaseError, match="nothing open about it"):
        service.decide_item(session, ruled.community, "message:$bad", "dismissed", by=BOB, now=clock.now())
    with pytest.raises(InvalidTransition):
        CASE.move("actioned", "triaged")


def test_a_penalty_needs_a_member_and_goes_only_with_actioned(client: FlaskClient, session: Session, ruled: World,
                                                              clock: FixedClock) -> None:
    _post(client, ruled, [_report(1, "@a:hs", message="$m")])
    with pytest.raises(service.CaseError, match="member: the reports name no member"):
        service.decide_item(session, ruled.community, "message:$m", "actioned", by=BOB, now=clock.now(),
                            rule_id="no-spam")
    with pytest.raises(service.CaseError, match="rule: a penalty goes with actioned"):
        service.decide_item(session, ruled.community, "message:$m", "dismissed", by=BOB, now=clock.now(),
                            rule_id="no-spam")
    cases, penalty = service.decide_item(session, ruled.community, "message:$m", "actioned", by=BOB,
                                         now=clock.now(), rule_id="no-spam", member="@author:hs")
    assert penalty is not None and penalty.member == "@author:hs"


def test_an_overdue_case_notifies_its_owner_or_the_moderators_once(
        client: FlaskClient, session: Session, ruled: World, clock: FixedClock, rt: Any) -> None:
    community_settings.update(session, ruled.community, {"case_response": {"spam": "30m"}})
    session.commit()
    _post(client, ruled, [_report(1, "@a:hs", message="$m1"), _report(2, "@b:hs", message="$m2")])
    first, second = _cases(session, ruled)
    assert first.due_at - first.created_at == timedelta(minutes=30)
    service.triage(session, first, by=By("Carol", ruled.carol.id, Role.MODERATOR), now=clock.now())
    session.commit()
    clock.advance(timedelta(minutes=31))
    assert overdue.notify_overdue(rt.sessions, clock=clock) == 2
    assert overdue.notify_overdue(rt.sessions, clock=clock) == 0
    rows = {(n.cause, n.recipient_label.split(" (")[0]) for n in session.scalars(
        select(Notification).where(Notification.event == "case_overdue"))}
    assert rows == {(f"case{first.id}:overdue", "Carol"), (f"case{second.id}:overdue", "Alice"),
                    (f"case{second.id}:overdue", "Bob"), (f"case{second.id}:overdue", "Carol")}
    [body] = {n.body for n in session.scalars(select(Notification).where(
        Notification.cause == f"case{first.id}:overdue"))}
    assert "waited 1 minute(s) past its response time" in body and "/c/lantern/queue" in body


def test_response_times_are_validated_per_category(session: Session, world: World) -> None:
    with pytest.raises(community_settings.InvalidSettings) as err:
        community_settings.update(session, world.community, {"case_response": {"spam": "1m", "rude": "1h"}})
    assert {(e.field, e.message) for e in err.value.errors} == {
        ("case_response.spam", "must be from 5m to 30d"),
        ("case_response.rude", "is not a category (harassment, hate, scam, nsfw, spam, off_topic, other, feedback)")}


def test_a_complaint_spike_gathers_its_cases_and_resolving_it_closes_them(
        client: FlaskClient, session: Session, world: World, clock: FixedClock, factory: Any) -> None:
    tenant = factory.community(COMM)
    rulebook.sync(session, clock=clock)
    session.commit()
    s = Stream()
    s.background(T0, 6, reports_per_hour=0.5)
    s.reports(T0 + 5 * 3600, 40, 2.0, ["u1", "u2"])
    events = s.events()
    clock.set(datetime.fromtimestamp(T0 + 6 * 3600, tz=timezone.utc))
    for i in range(0, len(events), 2000):
        _post(client, world, events[i:i + 2000], slug=COMM, token=tenant.token)
    session.expire_all()
    [incident] = session.scalars(select(Incident).where(Incident.community_id == tenant.community.id))
    assert incident.kind == "complaint_spike"
    linked = links.for_incident(session, incident.id)
    start = links.window_start(incident).timestamp()
    in_window = [e for e in events if e["type"] == "report.create"
                 and datetime.fromisoformat(e["ts"]).timestamp() >= start]
    # Every report of the window, and only those, is one of the incident's cases.
    assert sorted(c.source_event_id for c in linked) == sorted(e["id"] for e in in_window)
    assert len(linked) >= 20 and {c.subject_member for c in linked} >= {"u1", "u2"}
    assert links.most_reported(incident) & {"u1", "u2"}

    # A report arriving while the incident is open joins it.
    late = s.add(T0 + 6 * 3600 - 10, "report.create", "u9", target={"user_id": "u1"}, reason="harassment")
    _post(client, world, [late], slug=COMM, token=tenant.token)
    assert len(links.for_incident(session, incident.id)) == len(linked) + 1

    by = By("Bob", world.bob.id, Role.RESPONDER)
    closed = service.close_for_incident(session, incident, "dismissed", by=by, now=clock.now(),
                                        outcome="A brigade: nothing broke the rules.")
    lifecycle.transition(session, incident.id, lifecycle.S.RESOLVED, actor=lifecycle.Actor(world.bob.id, "Bob"),
                         clock=clock, confirm=True)  # the spike's last report is minutes old
    session.commit()
    assert len(closed) == len(linked) + 1
    assert {c.status for c in links.for_incident(session, incident.id)} == {"dismissed"}


def test_a_report_through_the_matrix_bridge_is_answered_through_it(
        session: Session, ruled: World, clock: FixedClock) -> None:
    link = PlatformLink(community_id=ruled.community.id, platform="matrix", name="matrix", endpoint="http://hs",
                        service_id="crisis-test", sender="@crisis_lantern:hs", inbound_token_hash="h" * 64,
                        outbound_token="x", rooms={"!room": "general"}, silence_after_s=3600,
                        created_at=clock.now(), last_error="", events_received=0, events_skipped=0, disabled=False)
    session.add(link)
    session.commit()
    case = service.open_case(session, ruled.community, service.Complaint(
        subject_kind="message", category="spam", subject_message_id="$e", subject_member="@troll:hs",
        reporter="@alice:hs", source="matrix", source_event_id="matrix-report-1-7"), now=clock.now())
    service.decide(session, ruled.community, [case], "dismissed", by=BOB, now=clock.now(),
                   outcome="It was a quote, not spam.")
    rows = list(session.scalars(select(MemberMessage).where(MemberMessage.case_id == case.id)
                                .order_by(MemberMessage.id)))
    assert [(r.cause, r.recipient) for r in rows] == [(f"case{case.id}:received", "@alice:hs"),
                                                      (f"case{case.id}:decided", "@alice:hs")]
    assert "/p/lantern/cases/" in rows[0].body and "It was a quote, not spam." in rows[1].body
    # A form complaint has no channel back: its complainant follows the case page instead.
    form = service.open_case(session, ruled.community, service.Complaint(subject_kind="feedback", category="feedback",
                                                                         details="more events please"),
                             now=clock.now())
    assert session.scalar(select(MemberMessage.id).where(MemberMessage.case_id == form.id)) is None


def test_staff_owners_must_be_staff_of_the_community(session: Session, ruled: World, clock: FixedClock) -> None:
    case = service.open_case(session, ruled.community, service.Complaint(subject_kind="feedback",
                                                                         category="feedback", details="hi"),
                             now=clock.now())
    with pytest.raises(service.CaseError, match="owner: pick someone who is staff"):
        service.assign(session, case, ruled.dave.id, by=BOB, now=clock.now())
