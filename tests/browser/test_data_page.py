"""The Data page in Chromium: an admin erases a member whose events came in through the API
(typed twice; a mismatch is refused), sees the erasure done, changes retention (a bad value
is refused with its field named), downloads the export; then the page in Chinese."""
from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime, timezone
from typing import Any

import pytest
from sqlalchemy import select

from crisis.clock import SystemClock
from crisis.db import session_scope
from crisis.ingest.store import decode_batch
from crisis.models import EventBatch
from crisis.tenancy import communities
from tests.browser.conftest import PASSWORD, PHONE, Site, log_in

pytestmark = pytest.mark.browser
MEMBER = "@mallory:hs.test"


def _admin(site: Site) -> str:
    rt = site.app.extensions["crisis"]
    with session_scope(rt.sessions) as session:
        community = communities.get_community(session, site.slug)
        user, _ = communities.create_user(session, "ada@example.test", password=PASSWORD, clock=SystemClock(),
                                          display_name="Ada")
        communities.grant_role(session, user, community, "admin")
    return "ada@example.test"


def _events(site: Site) -> None:
    now = datetime.now(timezone.utc).isoformat()
    site.post_events([
        {"id": "m1", "type": "message.create", "ts": now, "channel": "general",
         "actor": {"id": MEMBER, "name": "Mallory"}, "content": "my address is 12 Elm Street"},
        {"id": "m2", "type": "message.create", "ts": now, "channel": "general",
         "actor": {"id": "@bob:hs.test", "name": "Bob"}, "content": "Mallory, please stop"}])


def _stored(site: Site) -> list[dict[str, Any]]:
    rt = site.app.extensions["crisis"]
    with rt.sessions() as session:
        return [e for b in session.scalars(select(EventBatch)) for e in decode_batch(b.body, b.fresh, b.count)]


def test_an_admin_erases_a_member_changes_retention_and_exports(site: Site, new_page: Any) -> None:
    _events(site)
    page = new_page()
    log_in(page, site.url, _admin(site))
    page.goto(f"{site.url}/c/{site.slug}")
    page.click("nav.subnav a:has-text('Data')")
    page.wait_for_url(f"{site.url}/c/{site.slug}/data")

    form = page.locator("#erase-form")
    form.locator("input[name=member]").fill(MEMBER)
    form.locator("input[name=confirm]").fill("@mallory")
    form.locator("button[type=submit]").click()
    assert "type the member's id a second time" in page.locator("#data-errors").inner_text()
    assert page.locator("#erase-form input[name=member]").input_value() == MEMBER  # nothing typed is lost
    assert [e["actor"]["id"] for e in _stored(site)] == [MEMBER, "@bob:hs.test"]

    page.locator("#erase-form input[name=confirm]").fill(MEMBER)
    page.locator("#erase-form button[type=submit]").click()
    page.locator("#erasures tr.erasure[data-status=done]").wait_for()
    tombstone = page.locator("#erasures tr.erasure code").first.inner_text()
    assert tombstone.startswith("erased:")
    assert f"they are now {tombstone}" in page.locator("p.flash").inner_text()
    stored = _stored(site)
    assert [e["actor"]["id"] for e in stored] == [tombstone, "@bob:hs.test"]
    assert [e["content"] for e in stored] == ["[erased]", "[erased], please stop"]

    retention = page.locator("#retention-form")
    retention.locator("input[name=retention_days]").fill("0")
    retention.locator("button[type=submit]").click()
    assert "retention_days: must be a whole number of days from 1 to 3650" in page.locator("#data-errors").inner_text()
    page.locator("#retention-form input[name=retention_days]").fill("14")
    page.locator("#retention-form button[type=submit]").click()
    page.locator("p.flash:has-text('Retention saved.')").wait_for()
    assert "deleted 14 days after they arrive" in page.locator("#retention").inner_text()

    with page.expect_download() as download:
        page.click("#export-link")
    archive = zipfile.ZipFile(io.BytesIO(open(download.value.path(), "rb").read()))
    assert download.value.suggested_filename.startswith(f"crisis-{site.slug}-")
    assert json.loads(archive.read("community.json"))["settings"]["retention_days"] == 14


def test_the_data_page_in_chinese_on_a_phone(site: Site, new_page: Any) -> None:
    page = new_page(viewport=PHONE, locale="zh-CN")
    log_in(page, site.url, _admin(site))
    page.goto(f"{site.url}/c/{site.slug}/data")
    assert page.locator("#erase h2").inner_text() == "抹除成员"
    assert page.locator("#erase-form button[type=submit]").is_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways on a phone ({width}px)"
