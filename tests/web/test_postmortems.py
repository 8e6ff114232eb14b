"""Postmortem drafting, publishing rules, export, and overdue action items."""
from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.clock import FixedClock
from crisis.insight import trends
from crisis.models import Incident, Notification, Role
from crisis.models.postmortem import Postmortem
from crisis.response import lifecycle, postmortems
from crisis.runtime import Runtime
from tests.web.conftest import Team, as_user, post


def _resolve(session: Session, incident: Incident, clock: FixedClock) -> Postmortem:
    lifecycle.transition(session, incident.id, lifecycle.S.RESOLVED, actor=lifecycle.Actor(None, "t"), clock=clock)
    session.commit()
    pm = postmortems.for_incident(session, incident.id)  # resolving drafted it, whatever the path
    assert pm is not None
    return pm


def test_it_drafts_a_prefilled_postmortem_when_the_playbook_requires_one(session: Session, clock: FixedClock,
                                                                        incident: Incident) -> None:
    pm = _resolve(session, incident, clock)
    keys = [s["key"] for s in pm.sections]
    assert keys[:2] == ["summary", "timeline"] and "action_items" in keys
    assert "Raid in #general" in pm.sections[0]["body"]
    assert pm.playbook_name == "raid" and pm.facts["time_to_resolve"] == 0


def test_it_names_what_is_missing_when_publishing_is_refused(session: Session, clock: FixedClock, team: Team,
                                                            incident: Incident) -> None:
    pm = _resolve(session, incident, clock)
    postmortems.add_action(session, pm, title="Tighten join rules", owner_id=None, due_at=None, clock=clock)
    with pytest.raises(postmortems.PublishRefused) as refused:
        postmortems.publish(session, pm, user=team.responder.user, role=Role.RESPONDER, clock=clock)
    reasons = " | ".join(refused.value.reasons)
    assert "only a manager publishes" in reasons
    assert "section “Impact on members” is empty" in reasons
    assert "“Tighten join rules” lacks an owner and a due date" in reasons
    assert "verdict" in reasons


def test_it_publishes_a_complete_postmortem_as_a_manager(session: Session, clock: FixedClock, team: Team,
                                                         incident: Incident) -> None:
    pm = _resolve(session, incident, clock)
    postmortems.save(session, pm, bodies={s["key"]: "Written." for s in pm.sections}, verdict="true_alarm",
                     duplicate_of_id=None, clock=clock)
    postmortems.add_action(session, pm, title="Tighten join rules", owner_id=team.responder.user.id,
                           due_at=clock.now() + timedelta(days=7), clock=clock)
    postmortems.submit(session, pm, user=team.responder.user, role=Role.RESPONDER, clock=clock)
    postmortems.publish(session, pm, user=team.manager.user, role=Role.MANAGER, clock=clock)
    session.commit()
    assert pm.status == "published"
    text = postmortems.to_markdown(session, pm)
    assert "# Postmortem: Raid in #general" in text and "| 1 | Tighten join rules | ray |" in text
    precision = trends.detector_precision(session, [team.tenant.community.id])
    assert precision == []  # a manual incident is not a detector's alarm
    with pytest.raises(postmortems.PostmortemError):
        postmortems.save(session, pm, bodies={}, verdict=None, duplicate_of_id=None, clock=clock)


def test_it_notifies_an_overdue_action_owner_once(session: Session, clock: FixedClock, team: Team,
                                                 incident: Incident, rt: Runtime) -> None:
    from crisis.models import ContactMethod

    session.add(ContactMethod(user_id=team.responder.user.id, label="mail", url="json://127.0.0.1:1/hook",
                              created_at=clock.now()))
    pm = _resolve(session, incident, clock)
    postmortems.add_action(session, pm, title="Tighten join rules", owner_id=team.responder.user.id,
                           due_at=clock.now() + timedelta(days=1), clock=clock)
    session.commit()
    assert postmortems.notify_overdue_actions(rt.sessions, clock=clock) == 0
    clock.advance(timedelta(days=2))
    assert postmortems.notify_overdue_actions(rt.sessions, clock=clock) == 1
    assert postmortems.notify_overdue_actions(rt.sessions, clock=clock) == 0
    rows = session.scalars(select(Notification).where(Notification.event == "task_overdue")).all()
    assert [n.title for n in rows] == ["Overdue task on Raid in #general: Postmortem action: Tighten join rules"]


def test_it_refuses_a_responder_at_publishing_in_the_page(client: FlaskClient, session: Session, clock: FixedClock,
                                                          team: Team, incident: Incident) -> None:
    pm = _resolve(session, incident, clock)
    postmortems.submit(session, pm, user=team.responder.user, role=Role.RESPONDER, clock=clock)
    session.commit()
    as_user(client, team.responder)
    page = f"/c/lantern/incidents/{incident.id}/postmortem"
    resp = post(client, page + "/publish", page=page)
    assert resp.status_code == 403
    assert "only a manager publishes" in resp.get_data(as_text=True)


def test_it_sanitizes_markdown_notes(client: FlaskClient, team: Team, incident: Incident) -> None:
    as_user(client, team.moderator)
    page = f"/c/lantern/incidents/{incident.id}"
    post(client, page + "/notes", {"text": "**bold** <script>alert(1)</script> [x](javascript:alert(1))"}, page=page)
    html = client.get(page + "/live/timeline").get_data(as_text=True)
    assert "<strong>bold</strong>" in html
    assert "<script>alert(1)" not in html and "javascript:" not in html
