"""The community team's pages at phone and desktop width: a risk and the add-risk form, the
heat map, "Telling members", the incident page's members and cases panels, a member's
record and the public rules. Each page is filled with long names, titles and links, the
whole page must not scroll sideways, and its main action must be on screen and clickable
(Playwright's trial click: visible, enabled, not covered by anything)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from crisis.cases import service as case_service
from crisis.clock import SystemClock
from crisis.db import session_scope
from crisis.models import Community, User
from crisis.moderation import rulebook
from crisis.publicstatus import channels, statuspage, updates
from crisis.response import lifecycle
from crisis.risks import register
from tests.browser.conftest import DESKTOP, PHONE, Site, in_reach, log_in, no_sideways_scroll

pytestmark = pytest.mark.browser
LONG_MEMBER = "@someone-with-a-very-long-account-name-indeed-and-then-some:matrix.example.org"
LONG_TITLE = "Raid through an invite link that was posted on a raid board and never expired (again)"
LONG_LINK = "https://chat.example/rooms/general-discussion-and-announcements/messages/0123456789abcdef0123456789"


@dataclass
class World:
    site: Site
    risk_id: int
    incident_id: int


@pytest.fixture
def world(site: Site) -> World:
    """Risks in the heat map, a complaint spike with cases about a long-named member and a
    public update, the status page on and a member channel with a long address."""
    clock = SystemClock()
    now = clock.now()
    with session_scope(site.app.extensions["crisis"].sessions) as session:
        rulebook.sync(session, clock=clock)
        community = session.query(Community).one()
        manager = session.query(User).filter_by(email=site.users["manager"]).one()
        actor = register.Actor(manager.id, "Meg")
        risk = register.create(session, community, {"title": LONG_TITLE, "likelihood": 4, "impact": 5,
                                                    "description": LONG_LINK, "owner_id": manager.id,
                                                    "playbooks": ["raid"]}, actor=actor, now=now)
        for i in range(3):
            register.create(session, community, {"title": f"{LONG_TITLE} #{i}", "likelihood": 4, "impact": 5},
                            actor=actor, now=now)
        incident = lifecycle.open_manual(
            session, community, kind="complaint_spike", severity="sev3", title="Complaints about one member",
            description="Many reports", actor=lifecycle.Actor(None, "test"), clock=clock,
            evidence={"window_min": 60, "most_reported": {LONG_MEMBER: 4}})
        for i in range(4):
            case_service.open_case(session, community, case_service.Complaint(
                subject_kind="message" if i % 2 else "member", category="harassment", details="x" * 300,
                subject_member=LONG_MEMBER, subject_message_id=f"{LONG_LINK}-{i}" if i % 2 else "",
                reporter=f"@reporter-{i}:matrix.example.org", source="ingest"), now=now)
        updates.publish(session, incident, "We are looking into the reports. " * 5, public_title=LONG_TITLE,
                        actor_user_id=manager.id, actor_label="Meg", now=now)
        statuspage.configure(session, community, enabled=True, name="Lantern Guild", now=now)
        channels.add_apprise(session, community, name="announcements-in-the-main-matrix-room",
                             url="json://127.0.0.1:9/" + "very-long-path/" * 8, now=now)
        session.flush()
        return World(site, risk.id, incident.id)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_staff_pages_fit_and_their_main_action_is_in_reach(world: World, new_page: Any,
                                                              viewport: dict[str, int]) -> None:
    site, base = world.site, f"{world.site.url}/c/{world.site.slug}"
    page = new_page(viewport=viewport)
    log_in(page, site.url, site.users["manager"])

    page.goto(f"{base}/risks/{world.risk_id}")
    page.locator("#risk").wait_for()
    no_sideways_scroll(page)
    in_reach(page, "#review button[name=review]")
    page.click("#edit summary")
    in_reach(page, "#edit button[name=save-risk]")
    no_sideways_scroll(page)

    # The register: the whole page, heat map and all, not only the #heatmap box.
    page.goto(f"{base}/risks")
    page.locator("#heatmap").wait_for()
    no_sideways_scroll(page)
    in_reach(page, "#heatmap td[data-likelihood='4'][data-impact='5'] a")
    page.click("#add summary")
    in_reach(page, "#add input[name=title]")
    in_reach(page, "#add button[name=save-risk]")
    no_sideways_scroll(page)

    page.goto(f"{base}/member-updates")
    page.locator("#channels tr[data-channel]").wait_for()
    no_sideways_scroll(page)
    in_reach(page, "button[name=save-status-page]")
    in_reach(page, "button[name=add-channel]")

    page.goto(f"{base}/incidents/{world.incident_id}")
    page.locator("#cases .icase").first.wait_for()
    page.locator("#cases [data-live][data-refreshed]").wait_for(state="attached")  # the first live swap is done
    no_sideways_scroll(page)
    in_reach(page, "#cases .case-links a")
    in_reach(page, "#cases a[href$='/queue']")
    in_reach(page, "#incident-header select[name=close_cases]")
    in_reach(page, "#incident-header button[data-action=resolve]")
    in_reach(page, "#members input[name=public_title]")
    in_reach(page, "#members button[type=submit]")

    page.goto(f"{base}/members/{LONG_MEMBER}")
    page.locator("#apply").wait_for()
    no_sideways_scroll(page)
    in_reach(page, "button.apply-penalty")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_public_rules_fit_and_lead_to_the_report_form(world: World, new_page: Any,
                                                          viewport: dict[str, int]) -> None:
    member = new_page(viewport=viewport)
    member.goto(f"{world.site.url}/p/{world.site.slug}/rules")
    member.locator("#rules li[data-rule]").first.wait_for()
    no_sideways_scroll(member)
    in_reach(member, "header .langswitch a[data-locale=zh_Hans]")
    in_reach(member, "main a.button")
    member.click("header .langswitch a[data-locale=zh_Hans]")
    member.locator("html[lang=zh-Hans]").wait_for()
    no_sideways_scroll(member)
    member.click("main a.button")
    member.locator("form.report-form").wait_for()
    assert member.locator("html").get_attribute("lang") == "zh-Hans"  # the language came along
    no_sideways_scroll(member)
    in_reach(member, "button.send-report")
