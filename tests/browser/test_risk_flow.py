"""The risk register in a browser: a manager adds a risk answered by the raid playbook; a raid
posted to the ingest API becomes an incident, and the risk's history shows it; the heat map
reads at phone width and in Chinese (score and level printed in the cell, not colour alone)."""
from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import PHONE, Site, log_in, raid_events

pytestmark = pytest.mark.browser


def test_a_risk_linked_to_the_raid_playbook_shows_the_raid_in_its_history(site: Site, new_page: Any) -> None:
    page = new_page()
    log_in(page, site.url, site.users["manager"])
    page.goto(f"{site.url}/c/{site.slug}")
    page.click("nav.subnav a[href$='/risks']")
    page.locator("#heatmap").wait_for()
    assert page.locator("#heatmap td.hm-cell").count() == 25

    form = page.locator("#add form.risk-form")
    form.locator("input[name=title]").fill("Raid through a leaked invite link")
    form.locator("textarea[name=description]").fill("Our invite links never expire and get posted on raid boards.")
    form.locator("select[name=likelihood]").select_option("4")
    form.locator("select[name=impact]").select_option("5")
    form.locator("select[name=owner_id]").select_option(label="Meg")
    form.locator("input[name=playbooks][value=raid]").check()  # answered by the playbook, no detector named
    form.locator("button[name=save-risk]").click()
    page.locator("#risk").wait_for()
    risk_url = page.url
    flags = page.locator("#risk .risk-flag")
    assert flags.count() == 1 and flags.first.get_attribute("data-flag") == "no_detector"
    assert "no incident has materialised" in page.inner_text("#history").lower()

    history, raid = raid_events(site.slug)
    site.post_events(history)
    site.post_events(raid)
    page.goto(f"{site.url}/incidents?status=open")
    page.locator("tr.incident-row").first.wait_for(timeout=60_000)

    page.goto(risk_url)
    row = page.locator("#history tr.history-incident[data-kind=raid]").first
    row.wait_for()
    assert "playbook" in row.inner_text()
    assert page.locator("#history .history-count").inner_text() == "1"
    # Detected by the raid detector: a time to detect is shown, not a dash.
    assert row.locator("td").nth(2).inner_text() != "—"

    # The heat map cell at likelihood 4, impact 5 links the risk, with its score and level in words.
    page.goto(f"{site.url}/c/{site.slug}/risks")
    cell = page.locator("#heatmap td[data-likelihood='4'][data-impact='5']")
    assert cell.get_attribute("data-count") == "1"
    assert "20" in cell.inner_text() and "critical" in cell.inner_text()

    phone = new_page(viewport=PHONE, locale="zh-CN")
    log_in(phone, site.url, site.users["manager"])
    phone.goto(f"{site.url}/c/{site.slug}/risks")
    cell = phone.locator("#heatmap td[data-likelihood='4'][data-impact='5']")
    assert "严重" in cell.inner_text() and "20" in cell.inner_text()
    box = phone.locator("#heatmap").bounding_box()
    assert box is not None and box["width"] <= PHONE["width"]  # fits the phone: no sideways scrolling
    assert phone.locator("h1", has_text="风险登记表").count() == 1
