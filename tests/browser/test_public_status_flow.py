"""Telling members in a browser: a manager adds a Matrix room as a member channel and
publishes the status page; a responder posts an update marked public on an incident; it
appears on the public status page (no login, phone width, Chinese) and in the real Matrix
room on a local Synapse (apprise matrix://). Hostile public text stays inert: no dialog,
no injected element, the characters shown as typed. Internal text never appears."""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from tests.browser.conftest import PHONE, Site, log_in
from tests.live import wait_for
from tests.synapse import MatrixUser, Synapse
from tests.test_matrix_bridge import synapse as synapse  # noqa: F401  -- the module's one Synapse

pytestmark = [pytest.mark.browser, pytest.mark.slow]
INTERNAL = "Raid planned on the dramaboard by troll42"
IMG = '<img src=x id=pwn-img onerror=alert("xss-img")>'
SCRIPT = '<script>alert("xss-script")</script>'
PUBLIC = f"Spam in the general channel {IMG}"
UPDATE = f"We are removing the spam. Do not click links in DMs. {SCRIPT}"


def _room_messages(reader: MatrixUser, room: str) -> list[str]:
    filt = quote(json.dumps({"types": ["m.room.message"]}), safe="")
    page = reader.call("GET", f"/_matrix/client/v3/rooms/{quote(room, safe='')}/messages?dir=b&limit=50&filter={filt}")
    return [e["content"].get("body", "") for e in page.get("chunk") or []]


def _open_incident(page: Any, site: Site) -> str:
    page.goto(f"{site.url}/c/{site.slug}")
    page.click("details.card summary")
    page.fill("input[name=title]", INTERNAL)
    page.fill("textarea[name=description]", "internal: the invite was leaked from the mod channel")
    page.click("details.card button[type=submit]")
    page.locator("#incident-header").wait_for()
    return page.url.split("#")[0]


def test_a_public_update_reaches_the_status_page_and_a_matrix_room(site: Site, new_page: Any,
                                                                   synapse: Synapse) -> None:
    reader = synapse.register("member_reader")
    synapse.register("lantern_announcer", password="announce-pw-0123")
    room = reader.create_room(room_alias_name="lantern_news", name="Lantern news")
    port = synapse.url.rsplit(":", 1)[1]

    manager = new_page()
    log_in(manager, site.url, site.users["manager"])
    manager.goto(f"{site.url}/c/{site.slug}")
    manager.click("nav.subnav a[href$='/member-updates']")
    form = manager.locator("#add-member-channel")
    form.locator("input[name=name]").fill("lantern-news")
    form.locator("input[name=url]").fill(f"matrix://lantern_announcer:announce-pw-0123@127.0.0.1:{port}/"
                                          "%23lantern_news:localhost")
    form.locator("button[name=add-channel]").click()
    manager.locator("tr[data-channel=lantern-news]").wait_for()
    assert "announce-pw" not in manager.inner_text("#channels")  # the password is never shown
    manager.check("#status-page input[name=enabled]")
    manager.fill("#status-page input[name=name]", "Lantern Guild")
    manager.click("#status-page button[name=save-status-page]")
    link = manager.locator("a.public-url").get_attribute("href")
    assert link is not None and link.endswith(f"/status/{site.slug}")  # on CRISIS_BASE_URL
    public_url = f"{site.url}/status/{site.slug}"

    page = new_page()
    log_in(page, site.url, site.users["responder"])
    _open_incident(page, site)
    page.fill("#update textarea[name=text]", UPDATE)
    page.check("#update input[name=public]")
    page.fill("#update input[name=public_title]", PUBLIC)
    page.click("#update button[name=post-update]")
    page.locator("#members .public-title").wait_for()
    assert page.locator("#members .public-title").inner_text() == PUBLIC
    page.locator(".timeline .tl-status_update", has_text="We are removing the spam").wait_for()

    # The Matrix room: the public title and the update, as text, and nothing internal.
    bodies = wait_for(lambda: [b for b in _room_messages(reader, room) if "Spam in the general channel" in b],
                      timeout=30, message="the announcement in the Matrix room")
    assert PUBLIC in bodies[0] and UPDATE in bodies[0] and INTERNAL not in bodies[0] and "troll42" not in bodies[0]

    # The public page, with no login, at phone width: shown as typed, nothing runs or is injected.
    dialogs: list[str] = []
    visitor = new_page(viewport=PHONE)
    visitor.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    visitor.goto(public_url)
    visitor.locator("article.pub-incident").first.wait_for()
    article = visitor.locator("article.pub-incident").first
    assert article.locator(".pub-title").inner_text() == PUBLIC
    assert UPDATE in article.locator(".pub-body").first.inner_text()
    assert visitor.locator("#pwn-img").count() == 0 and visitor.locator("main script").count() == 0
    text = visitor.inner_text("body")
    assert INTERNAL not in text and "troll42" not in text and "leaked" not in text and "sev" not in text
    assert "1 ongoing incident" in text and "Investigating" in text
    assert visitor.context.cookies() == []  # no session for the public
    width = visitor.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways at phone width ({width}px)"

    zh = new_page(locale="zh-CN")
    zh.goto(public_url)
    assert "调查中" in zh.inner_text("article.pub-incident") and "1 起进行中的事件" in zh.inner_text("#state")
    assert dialogs == []
