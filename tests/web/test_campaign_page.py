"""Pages for related signals and campaigns: the incident page's Related signals and
Campaign sections (another community's incident shown only as what matched, unless the
viewer is its staff too), the manager dashboard's campaigns, the resolve confirm step while
the detector still sees the crisis, the opt-in setting, and all of it in Chinese."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from crisis import playbooks
from crisis.clock import FixedClock
from crisis.models import Campaign, CampaignIncident, Community, Incident
from crisis.response import related, signals
from crisis.tenancy import communities
from tests.conftest import Factory
from tests.web.conftest import Team, as_user, csrf, post

RAIDERS = [f"rd{i}" for i in range(12)]
ZH = {"Accept-Language": "zh-CN"}


def _detected(session: Session, clock: FixedClock, community: Community, key: str, title: str) -> Incident:
    incident = signals.open_detected(session, community, episode_key=key, kind="raid", severity="sev2", title=title,
                                     opened_at=clock.now(), evidence={"accounts": RAIDERS,
                                                                      "link_domains": {"g3ms.example": 9}},
                                     score=12.0, scope="community", clock=clock)
    assert incident is not None
    return incident


@pytest.fixture
def pair(session: Session, clock: FixedClock, team: Team, factory: Factory) -> tuple[Incident, Incident]:
    """A raid in lantern and one in harbor, linked into one campaign."""
    playbooks.sync(session, clock=clock)
    harbor = factory.community("harbor").community
    ours = _detected(session, clock, team.tenant.community, "raid:1", "Raid in #general")
    theirs = _detected(session, clock, harbor, "raid:2", "Harbor secret raid title")
    now = clock.now()
    campaign = Campaign(first_seen_at=now - timedelta(minutes=20), last_signal_at=now, created_at=now, updated_at=now)
    session.add(campaign)
    session.flush()
    session.add_all([
        CampaignIncident(campaign_id=campaign.id, incident_id=theirs.id, community_id=harbor.id, matched={},
                         linked_at=now),
        CampaignIncident(campaign_id=campaign.id, incident_id=ours.id, community_id=team.tenant.community.id,
                         matched_incident_id=theirs.id, matched={"accounts": 12, "domains": 1}, linked_at=now)])
    session.commit()
    return ours, theirs


def _section(html: str, name: str) -> str:
    found = re.search(rf'<section class="card" id="{name}">(.*?)</section>', html, re.S)
    assert found, f"no {name} section"
    return found.group(1)


def test_staff_of_one_community_see_that_a_linked_incident_exists_and_what_matched(
        client: FlaskClient, team: Team, pair: tuple[Incident, Incident]) -> None:
    ours, theirs = pair
    html = as_user(client, team.responder).get(f"/c/lantern/incidents/{ours.id}").get_data(as_text=True)
    section = _section(html, "campaign")
    assert "A linked incident in a community you are not staff of" in section
    assert "12 shared accounts" in section and "1 shared link domain" in section
    assert "Harbor" not in html and "harbor" not in html and theirs.title not in html
    assert f"#{theirs.id} " not in section and "What both raids share" not in section
    assert 'class="badge campaign-badge"' in html


def test_a_manager_of_both_sees_the_other_incident_and_what_both_share(
        client: FlaskClient, session: Session, team: Team, pair: tuple[Incident, Incident]) -> None:
    ours, theirs = pair
    communities.grant_role(session, team.manager.user, session.get(Community, theirs.community_id), "manager")  # type: ignore[arg-type]
    session.commit()
    html = as_user(client, team.manager).get(f"/c/lantern/incidents/{ours.id}").get_data(as_text=True)
    section = _section(html, "campaign")
    assert f'href="/c/harbor/incidents/{theirs.id}"' in section and theirs.title in section
    assert "What both raids share" in section and "<code>rd0</code>" in section and "g3ms.example" in section
    dashboard = _section(client.get("/dashboard").get_data(as_text=True), "campaigns")
    assert "Campaign #" in dashboard
    assert "Harbor" in dashboard and theirs.title in dashboard and "not staff of" not in dashboard


def test_the_dashboard_of_a_manager_of_one_community_hides_the_other(
        client: FlaskClient, team: Team, pair: tuple[Incident, Incident]) -> None:
    _ours, theirs = pair
    dashboard = _section(as_user(client, team.manager).get("/dashboard").get_data(as_text=True), "campaigns")
    assert "A linked incident in a community you are not staff of" in dashboard
    assert theirs.title not in dashboard and "Harbor" not in dashboard


def test_an_incident_outside_any_campaign_has_no_campaign_section(
        client: FlaskClient, team: Team, incident: Incident) -> None:
    html = as_user(client, team.responder).get(f"/c/lantern/incidents/{incident.id}").get_data(as_text=True)
    assert 'id="campaign"' not in html and 'id="related"' not in html


def test_related_signals_show_with_their_reason(client: FlaskClient, session: Session, clock: FixedClock,
                                                team: Team, pair: tuple[Incident, Incident]) -> None:
    ours, _theirs = pair
    signals.attach(session, ours, related.Match(ours.id, "follows", {"follows": "raid"}), episode_key="leave:1",
                   kind="mass_leave", severity="sev3", title="Mass leave", opened_at=clock.now(), evidence={},
                   score=30.0, scope="community", clock=clock)
    session.commit()
    html = as_user(client, team.responder).get(f"/c/lantern/incidents/{ours.id}").get_data(as_text=True)
    section = _section(html, "related")
    assert "mass_leave" in section and "follows the raid within an hour" in section and "still active" in section
    assert "+ mass_leave" in html  # the header lists the joined kind


def test_resolving_while_the_detector_still_sees_it_takes_a_confirm_step(
        client: FlaskClient, session: Session, team: Team, pair: tuple[Incident, Incident]) -> None:
    ours, _theirs = pair
    page = f"/c/lantern/incidents/{ours.id}"
    as_user(client, team.responder)
    html = client.get(page).get_data(as_text=True)
    assert 'name="confirm_active"' in html and "detector active" in html
    refused = post(client, f"{page}/resolve", page=page)
    assert refused.status_code == 303
    shown = client.get(page).get_data(as_text=True)
    assert "Not resolved: the detector still sees this crisis (raid)" in shown
    session.expire_all()
    assert session.get(Incident, ours.id).status == "triggered"  # type: ignore[union-attr]
    post(client, f"{page}/resolve", {"confirm_active": "1"}, page=page)
    session.expire_all()
    assert session.get(Incident, ours.id).status == "resolved"  # type: ignore[union-attr]
    after = client.get(page).get_data(as_text=True)
    assert "confirmed while the detector still saw the crisis" in after


def test_the_pages_speak_chinese(client: FlaskClient, session: Session, clock: FixedClock, team: Team,
                                 pair: tuple[Incident, Incident]) -> None:
    ours, _theirs = pair
    as_user(client, team.manager)
    html = client.get(f"/c/lantern/incidents/{ours.id}", headers=ZH).get_data(as_text=True)
    section = _section(html, "campaign")
    assert "攻击活动 #" in section and "12 个共同账号" in section and "您不是其工作人员的社区中的关联事件" in section
    assert "检测器仍在活动" in html and "尽管检测器仍看到，仍然解决" in html
    dashboard = client.get("/dashboard", headers=ZH).get_data(as_text=True)
    assert "跨社区攻击活动" in _section(dashboard, "campaigns")
    settings = client.get("/c/lantern/settings", headers=ZH).get_data(as_text=True)
    assert "当攻击活动波及兄弟社区时" in settings


def test_the_settings_page_saves_the_campaign_boost(client: FlaskClient, session: Session, team: Team) -> None:
    as_user(client, team.manager)
    page = "/c/lantern/settings"
    html = client.get(page).get_data(as_text=True)
    assert 'name="campaign_boost"' in html and '<option value="1.0" selected>' in html
    resp = client.post(page, data={"sensitivity": "normal", "enabled_kinds": ["raid"], "campaign_boost": "1.5",
                                   "_csrf": csrf(client, page)})
    assert resp.status_code == 303
    session.expire_all()
    assert communities.get_community(session, "lantern").settings["campaign_boost"] == 1.5
    assert '<option value="1.5" selected>' in client.get(page).get_data(as_text=True)
    bad = client.post(page, data={"sensitivity": "normal", "campaign_boost": "9", "_csrf": csrf(client, page)})
    assert bad.status_code == 422 and "campaign_boost" in bad.get_data(as_text=True)
