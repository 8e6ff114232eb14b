"""The whole response in a browser: a raid posted to the ingest API appears live, a responder
works it to resolution, a manager publishes the postmortem, and the UI switches to Chinese."""
from __future__ import annotations

import re
import threading
from datetime import date, timedelta
from typing import Any

import pytest

from tests.browser.conftest import PHONE, Site, log_in, open_raid, raid_events

pytestmark = pytest.mark.browser


def _fill_sections(page: Any) -> None:
    for area in page.locator("#pm-form textarea").all():
        if not area.input_value().strip():
            area.fill("Written in the browser test.")


def test_a_live_refresh_keeps_the_box_a_responder_ticked_in_the_header(site: Site, new_page: Any) -> None:
    # The header's first refresh starts as the page loads; it is held here until the box is
    # ticked, as a slow answer would be, and its swap must not untick it under the click.
    page = new_page()
    log_in(page, site.url, site.users["responder"])
    held: list[Any] = []
    page.route("**/live/header", lambda route: held.append(route))
    open_raid(site, page)
    assert held, "the header's first refresh went out"
    page.check("#incident-header input[name=confirm_active]")
    page.locator("body").click(position={"x": 1, "y": 1})  # focus leaves the header: only the tick keeps it
    with page.expect_response("**/live/header"):
        held[0].continue_()
    page.wait_for_timeout(500)  # the answer has been read and, were it swapped in, swapped
    assert page.is_checked("#incident-header input[name=confirm_active]")
    assert page.get_attribute("#incident-header", "data-refreshed") is None
    page.click("button[data-action=resolve]")
    page.locator("#incident-header .status-resolved").wait_for()


def test_it_takes_a_raid_from_detection_to_a_published_postmortem(site: Site, new_page: Any) -> None:
    history, raid = raid_events(site.slug)
    site.post_events(history)

    page = new_page()
    log_in(page, site.url, site.users["responder"])
    page.goto(f"{site.url}/incidents?status=open")
    assert page.locator("tr.incident-row").count() == 0

    # The raid arrives while the list is open: the live refresh must show it.
    poster = threading.Thread(target=site.post_events, args=(raid,))
    poster.start()
    row = page.locator("tr.incident-row").first
    row.wait_for(timeout=60_000)
    poster.join(60)
    assert "Raid" in row.inner_text()
    row.locator("a").first.click()

    page.click("button[data-action=acknowledge]")
    page.locator("#incident-header .status-acknowledged").wait_for()

    page.locator("li.task-open button.check").first.click()
    page.locator("li.task-done").first.wait_for()

    page.fill("#note textarea[name=text]", "Invites **paused**; slow mode on in #general.")
    page.click("#note button[type=submit]")
    page.locator(".timeline .tl-note strong", has_text="paused").wait_for()

    page.fill("#update textarea[name=text]", "We are removing the spam; do not click links from the raid.")
    page.click("#update button[type=submit]")
    page.locator(".timeline .tl-status_update", has_text="do not click links").wait_for()

    # The raid signalled moments ago: resolving asks to confirm over the detector first.
    page.click("button[data-action=resolve]")
    page.locator(".flash", has_text="the detector still sees this crisis (raid)").wait_for()
    assert page.locator("#incident-header .status-resolved").count() == 0
    page.check("#incident-header input[name=confirm_active]")
    page.click("button[data-action=resolve]")
    page.locator("#incident-header .status-resolved").wait_for()

    # The pinned raid playbook requires a postmortem for sev1/sev2: the draft is prefilled.
    page.click(".pm-link a")
    postmortem_url = page.url.split("#")[0]
    assert "Time to detect" in page.inner_text("body")
    assert page.locator("#section-timeline").input_value().strip(), "the timeline section is prefilled"
    _fill_sections(page)
    page.check("input[name=verdict][value=true_alarm]")
    page.click("button[name=save]")
    page.click("button[name=submit]")

    # A responder may submit but not publish.
    page.click("button[name=publish]")
    refused = page.locator("#refused")
    refused.wait_for()
    assert "only a manager publishes" in refused.inner_text()
    assert page.locator(".pm-in_review").count() == 1

    manager = new_page()
    log_in(manager, site.url, site.users["manager"])
    manager.goto(postmortem_url)
    manager.fill("input[name=title]", "Require phone verification for new members")
    manager.select_option(".add-action select[name=owner_id]", label="Ray")
    manager.fill(".add-action input[name=due]", (date.today() + timedelta(days=14)).isoformat())
    manager.click("button[name=add-action]")
    manager.locator(".actions-table td", has_text="phone verification").wait_for()
    manager.click("button[name=publish]")
    manager.locator(".pm-published").first.wait_for()
    assert "Published" in manager.inner_text("#review")

    export = manager.request.get(postmortem_url + ".md")
    assert export.ok and "## Action items" in export.text() and "phone verification" in export.text()


def test_it_switches_the_interface_to_chinese(site: Site, new_page: Any) -> None:
    page = new_page(viewport=PHONE)
    log_in(page, site.url, site.users["moderator"])
    assert page.locator("h1").first.inner_text() == "Your communities"
    page.click("button[data-locale=zh_Hans]")
    page.wait_for_load_state()
    assert page.locator("h1").first.inner_text() == "您的社区"
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    page.goto(f"{site.url}/incidents")
    assert page.locator("h1").first.inner_text() == "事件"  # the choice is remembered for the user


def test_it_follows_the_browser_language_until_a_choice_is_made(site: Site, new_page: Any) -> None:
    page = new_page(locale="zh-CN")
    page.goto(f"{site.url}/login")
    assert re.search("登录", page.locator("h1").inner_text())
