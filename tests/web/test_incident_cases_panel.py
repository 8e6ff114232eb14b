"""The incident page's cases panel, through the test client: a complaint spike opened by the
detector from real report events lists the cases it gathered; resolving it with a decision
closes them all with what the complainants are told, with the empty choice leaves them open
in the review queue, and another community's staff find neither the page nor the button."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis import playbooks
from crisis.cases import links
from crisis.clock import FixedClock
from crisis.models import Case, Incident
from crisis.moderation import rulebook
from tests.conftest import Factory, Staff
from tests.detection.streams import COMM, T0, Stream
from tests.web.conftest import as_user, post


@dataclass
class Spike:
    incident: Incident
    responder: Staff
    page: str


@pytest.fixture
def spike(client: FlaskClient, session: Session, factory: Factory, clock: FixedClock) -> Spike:
    """A complaint spike the detector opened from report events, with the cases it gathered."""
    playbooks.sync(session, clock=clock)
    rulebook.sync(session, clock=clock)
    tenant = factory.community(COMM)
    responder = factory.staff("ray@example.test", tenant.community, "responder")
    session.commit()
    stream = Stream()
    stream.background(T0, 6, reports_per_hour=0.5)
    stream.reports(T0 + 5 * 3600, 40, 2.0, ["u1", "u2"])
    events = stream.events()
    clock.set(datetime.fromtimestamp(T0 + 6 * 3600, tz=timezone.utc))
    for i in range(0, len(events), 2000):
        resp = client.post(f"/api/v1/communities/{COMM}/events", json=events[i:i + 2000],
                           headers={"Authorization": f"Bearer {tenant.token}"})
        assert resp.status_code == 202, resp.get_json()
    session.expire_all()
    [incident] = session.scalars(select(Incident).where(Incident.community_id == tenant.community.id))
    assert incident.kind == "complaint_spike" and len(links.for_incident(session, incident.id)) >= 20
    return Spike(incident, responder, f"/c/{COMM}/incidents/{incident.id}")


def _cases(session: Session, incident: Incident) -> list[Case]:
    session.expire_all()
    return links.for_incident(session, incident.id)


def test_it_lists_the_cases_the_spike_gathered(client: FlaskClient, session: Session, spike: Spike) -> None:
    html = as_user(client, spike.responder).get(spike.page).get_data(as_text=True)
    assert 'id="cases"' in html
    for case in _cases(session, spike.incident):
        assert f"/c/{COMM}/cases/{case.id}" in html
    assert 'data-subject="member:u1"' in html and "most reported" in html
    assert 'name="close_cases"' in html and 'name="cases_outcome"' in html


def test_resolving_with_a_decision_closes_its_cases_with_the_outcome(client: FlaskClient, session: Session,
                                                                    spike: Spike) -> None:
    staff = as_user(client, spike.responder)
    resp = post(staff, spike.page + "/resolve", {"close_cases": "dismissed", "confirm_active": "1",
                                                 "cases_outcome": "A brigade: nothing broke the rules."},
                page=spike.page)
    assert resp.status_code == 303
    session.refresh(spike.incident)
    assert spike.incident.status == "resolved"
    cases = _cases(session, spike.incident)
    assert {c.status for c in cases} == {"dismissed"}
    assert {c.outcome for c in cases} == {"A brigade: nothing broke the rules."}
    assert {(c.decided_by, c.decided_by_id) for c in cases} == {("ray", spike.responder.user.id)}
    html = staff.get(spike.page).get_data(as_text=True)
    assert f"Closed {len(cases)} cases with the incident." in html
    assert 'class="badge case-new"' not in html
    assert 'class="qitem' not in staff.get(f"/c/{COMM}/queue").get_data(as_text=True)


def test_resolving_with_the_empty_choice_leaves_its_cases_open_in_the_queue(client: FlaskClient, session: Session,
                                                                           spike: Spike) -> None:
    before = {c.id: c.status for c in _cases(session, spike.incident)}
    staff = as_user(client, spike.responder)
    resp = post(staff, spike.page + "/resolve", {"close_cases": "", "confirm_active": "1", "cases_outcome": "x"},
                page=spike.page)
    assert resp.status_code == 303
    session.refresh(spike.incident)
    assert spike.incident.status == "resolved"
    after = _cases(session, spike.incident)
    assert {c.id: c.status for c in after} == before and {c.outcome for c in after} == {""}
    queue = staff.get(f"/c/{COMM}/queue").get_data(as_text=True)
    assert 'data-subject="member:u1"' in queue and 'data-subject="member:u2"' in queue


def test_without_confirming_over_the_active_detector_nothing_closes(client: FlaskClient, session: Session,
                                                                    spike: Spike) -> None:
    staff = as_user(client, spike.responder)
    resp = post(staff, spike.page + "/resolve", {"close_cases": "dismissed", "cases_outcome": "no"}, page=spike.page)
    assert resp.status_code == 303
    session.refresh(spike.incident)
    assert spike.incident.status != "resolved"
    assert "dismissed" not in {c.status for c in _cases(session, spike.incident)}


def test_another_communitys_staff_get_404(client: FlaskClient, session: Session, factory: Factory,
                                          spike: Spike) -> None:
    other = factory.community("harbor")
    outsider = factory.staff("out@example.test", other.community, "manager")
    session.commit()
    staff = as_user(client, outsider)
    assert staff.get(spike.page).status_code == 404
    assert staff.get(spike.page + "/live/cases").status_code == 404
    resp = post(staff, spike.page + "/resolve", {"close_cases": "dismissed", "confirm_active": "1"}, page="/")
    assert resp.status_code == 404
    assert "dismissed" not in {c.status for c in _cases(session, spike.incident)}
