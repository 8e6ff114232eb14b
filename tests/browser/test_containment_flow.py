"""Containment in a browser: a raid opens an incident whose pinned playbook proposes a ban (and
a lockdown); the community has no bridge, so approving hands the action to a person as a task.
A responder approves the ban, undoes it, and the page shows each step; then the section in Chinese."""
from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Site, log_in, open_raid

pytestmark = pytest.mark.browser


def test_it_approves_and_undoes_a_ban_from_the_incident_page(site: Site, new_page: Any) -> None:
    page = new_page()
    log_in(page, site.url, site.users["responder"])
    open_raid(site, page)

    ban = page.locator("#containment li.caction[data-kind=ban]")
    assert ban.get_attribute("data-status") == "proposed"
    assert "by hand" in ban.locator(".executor").inner_text()
    accounts = ban.locator("tr.target").count()
    assert accounts > 0, "the ban targets the raid's accounts"
    lockdown = page.locator("#containment li.caction[data-kind=lockdown]")
    assert lockdown.get_attribute("data-status") in ("proposed", "applied")  # applied by itself at sev1

    ban.locator("button[data-verb=approve]").click()
    page.locator("#containment li.caction[data-kind=ban][data-status=applied]").wait_for()
    ban = page.locator("#containment li.caction[data-kind=ban]")
    assert "applied" in ban.locator(".cstatus").inner_text()
    assert "Ray" in ban.locator(".caction-facts").inner_text()  # who approved
    assert ban.locator("tr.target .tstate-done").count() == accounts
    # The person who has to do it by hand gets a task, linked from the action.
    task_anchor = ban.locator("a.task-link").first.get_attribute("href")
    assert task_anchor and task_anchor.startswith("#task-")
    task = page.locator(f"li{task_anchor}")
    assert task.count() == 1 and "By hand: Ban accounts" in task.inner_text()

    # Release one account caught by mistake, then undo the whole ban.
    ban.locator("tr.target button.release").first.click()
    page.locator("#containment li.caction[data-kind=ban] tr.target .tstate-released").wait_for()
    page.locator("#containment li.caction[data-kind=ban] button[data-verb=undo]").click()
    page.locator("#containment li.caction[data-kind=ban][data-status=reverted]").wait_for()
    ban = page.locator("#containment li.caction[data-kind=ban]")
    assert "reverted" in ban.locator(".cstatus").inner_text()
    assert "Ray" in ban.locator(".caction-reverted").inner_text()
    assert ban.locator("button[data-verb=undo]").count() == 0
    assert page.locator("li.task", has_text="Undo by hand: Ban accounts").count() == 1

    timeline = page.locator("#timeline")
    for line in ("playbook proposed: Ban accounts", "Ray approved: Ban accounts",
                 "Handed to a person (no bridge): Ban accounts", "Ray released", "Ray asked to undo: Ban accounts",
                 "Reverted (undone by Ray): Ban accounts"):
        timeline.locator(".tl-containment", has_text=line).first.wait_for()

    # The lockdown (proposed at sev2, applied by itself at sev1) is still in force when the raid is over:
    # resolving offers to undo it, ticked by default.
    if lockdown.get_attribute("data-status") == "proposed":
        lockdown.locator("button[data-verb=approve]").click()
        page.locator("#containment li.caction[data-kind=lockdown][data-status=applied]").wait_for()
    assert "reverts itself at" in page.locator("#containment li.caction[data-kind=lockdown]").inner_text()
    box = page.locator("#incident-header input[name=revert_actions]")
    assert box.is_checked()
    assert "Also undo the containment still in force (1 action)" in page.inner_text("#incident-header")
    page.check("#incident-header input[name=confirm_active]")  # the raid signalled moments ago
    page.click("button[data-action=resolve]")
    page.locator("#incident-header .status-resolved").wait_for()
    page.locator("#containment li.caction[data-kind=lockdown][data-status=reverted]").wait_for()
    assert page.locator("#incident-header input[name=revert_actions]").count() == 0
    timeline.locator(".tl-containment", has_text="Ray asked to undo: Lock down").first.wait_for()
    assert "via resolving the incident" in timeline.locator(".tl-containment", has_text="asked to undo: Lock down")\
        .first.inner_text()


def test_a_moderator_sees_why_they_cannot_approve_and_the_section_speaks_chinese(site: Site,
                                                                                new_page: Any) -> None:
    page = new_page(locale="zh-CN")
    log_in(page, site.url, site.users["moderator"])
    open_raid(site, page)
    section = page.locator("#containment")
    assert section.locator("h2").inner_text() == "遏制措施"
    ban = section.locator("li.caction[data-kind=ban]")
    assert ban.locator(".cstatus").inner_text() == "已提议"
    assert ban.locator(".executor").inner_text() == "人工执行"
    assert ban.locator("button[data-verb=approve]").count() == 0
    assert "批准此措施需要响应者或更高的角色" in ban.locator(".needs-role").inner_text()
    text = section.inner_text()
    for english in ("Containment", "by hand", "Proposed", "Approved", "Expires", "Cancel", "Propose an action",
                    "Ban accounts", "accounts"):
        assert english not in text, english
