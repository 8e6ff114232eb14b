"""Risk register pages: the heat map prints score and level in every cell (not colour alone)
in English and Chinese, managers add and edit, responders add and re-score from a
postmortem only, flags show, other communities get 404."""
from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.clock import FixedClock
from crisis.models import Incident, Risk, RiskChange
from crisis.response import lifecycle
from tests.conftest import Factory
from tests.web.conftest import Team, as_user, post


def _add(client: FlaskClient, **extra: str | list[str]) -> object:
    data: dict[str, object] = {"title": "Raid through a leaked invite", "description": "Invites never expire.",
                               "likelihood": "4", "impact": "5", "detectors-sent": "1", "playbooks-sent": "1",
                               "detectors": ["raid"], "playbooks": ["raid"], "review_at": "2026-12-31", **extra}
    return post(client, "/c/lantern/risks", data, page="/c/lantern/risks")  # type: ignore[arg-type]


def test_a_manager_adds_a_risk_and_the_heat_map_shows_it_in_words(client: FlaskClient, team: Team,
                                                                  incident: Incident, session: Session) -> None:
    as_user(client, team.manager)
    resp = _add(client, owner_id=str(team.manager.user.id))
    assert resp.status_code == 303 and re.search(r"/c/lantern/risks/\d+$", resp.headers["Location"])  # type: ignore[attr-defined]
    html = client.get("/c/lantern/risks").get_data(as_text=True)
    cell = html.split('data-likelihood="4" data-impact="5"', 1)[1].split("</td>", 1)[0]
    assert 'data-count="1"' in cell and "<span class=\"hm-score\">20</span>" in cell and "critical" in cell
    assert "Raid through a leaked invite" in cell
    empty = html.split('data-likelihood="1" data-impact="1"', 1)[1].split("</td>", 1)[0]
    assert 'data-count="0"' in empty and "hm-score\">1</span>" in empty and "low" in empty
    assert "<caption>" in html and 'scope="row"' in html and 'scope="col"' in html
    zh = client.get("/c/lantern/risks", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "风险登记" in zh and "严重" in zh  # "critical" in Chinese
    risk = session.scalar(select(Risk))
    assert risk is not None and risk.owner_id == team.manager.user.id
    # The raid incident (the fixture's) is in its history.
    page = client.get(f"/c/lantern/risks/{risk.id}").get_data(as_text=True)
    assert f'data-incident="{incident.id}"' in page and "Raid in #general" in page


def test_it_flags_a_risk_without_owner_detector_or_playbook(client: FlaskClient, team: Team,
                                                            incident: Incident) -> None:
    as_user(client, team.manager)
    _add(client, title="Brigading", detectors=[], playbooks=[])
    html = client.get("/c/lantern/risks").get_data(as_text=True)
    for flag in ("no_owner", "no_detector", "no_playbook"):
        assert f'data-flag="{flag}"' in html
    assert "no owner" in html and "no playbook answers it" in html


def test_it_refuses_a_bad_score_naming_the_field(client: FlaskClient, team: Team, incident: Incident,
                                                 session: Session) -> None:
    as_user(client, team.manager)
    resp = _add(client, likelihood="9")
    assert resp.status_code == 303  # type: ignore[attr-defined]
    html = client.get("/c/lantern/risks").get_data(as_text=True)
    assert "likelihood: must be a whole number from 1 to 5, got 9" in html
    assert session.scalar(select(Risk)) is None


def test_a_responder_cannot_change_the_register_but_can_from_a_postmortem(
        client: FlaskClient, team: Team, incident: Incident, session: Session, clock: FixedClock) -> None:
    as_user(client, team.responder)
    assert _add(client).status_code == 403  # type: ignore[attr-defined]
    lifecycle.transition(session, incident.id, lifecycle.S.RESOLVED, actor=lifecycle.Actor(None, "t"), clock=clock)
    session.commit()
    pm_page = f"/c/lantern/incidents/{incident.id}/postmortem"
    assert 'id="risks"' in client.get(pm_page).get_data(as_text=True)
    resp = post(client, f"{pm_page}/risks", {"title": "Invite links leak", "likelihood": "4", "impact": "4",
                                             "detectors-sent": "1", "playbooks-sent": "1", "detectors": "raid"},
                page=pm_page)
    assert resp.status_code == 303 and resp.headers["Location"].endswith("#risks")
    risk = session.scalar(select(Risk))
    assert risk is not None and risk.detectors == ["raid"]
    html = client.get(pm_page).get_data(as_text=True)
    assert f'data-risk="{risk.id}"' in html  # the incident materialises it
    post(client, f"{pm_page}/risks/rescore", {"risk_id": str(risk.id), "likelihood": "5", "impact": "4",
                                              "note": "it happened twice"}, page=pm_page)
    session.expire_all()
    change = session.scalar(select(RiskChange).order_by(RiskChange.id.desc()))
    assert change is not None and change.kind == "rescored" and change.incident_id == incident.id
    assert change.note == "it happened twice" and session.get(Risk, risk.id).likelihood == 5  # type: ignore[union-attr]


def test_another_communitys_staff_get_404(client: FlaskClient, team: Team, factory: Factory,
                                          incident: Incident) -> None:
    as_user(client, team.manager)
    _add(client)
    other = factory.community("harbor")
    outsider = factory.staff("out@example.test", other.community, "admin")
    client.post("/logout")
    as_user(client, outsider)
    assert client.get("/c/lantern/risks").status_code == 404
    assert client.get("/c/lantern/risks/1").status_code == 404
