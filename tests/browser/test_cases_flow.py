"""Complaints, penalties and appeals in a browser: a member's complaint through the public
form becomes a case, a moderator triages it in the review queue and actions it with a rule's
penalty, and the complainant's page shows the outcome (desktop, English); a penalty given
from a member's record is appealed from the member's own page and lifted by a responder
(a phone, Chinese); hostile strings stay inert on the public pages and the staff pages
that show them."""
from __future__ import annotations

import re
from typing import Any

import pytest

from crisis.clock import SystemClock
from crisis.db import session_scope
from crisis.models import Case, Penalty
from crisis.moderation import rulebook
from tests.browser.conftest import PHONE, Site, log_in, no_sideways_scroll
from tests.ops.test_hostile import ATTR, DOM_PROBLEMS, IMG, MARKUP, RTL, SCRIPT, SVG, UNICODE, _flat, _visit

pytestmark = pytest.mark.browser
TROLL = "@troll:example.org"


@pytest.fixture
def ruled(site: Site) -> Site:
    with session_scope(site.app.extensions["crisis"].sessions) as session:
        rulebook.sync(session, clock=SystemClock())
    return site


def test_a_complaint_from_the_public_form_is_triaged_actioned_and_answered(ruled: Site, new_page: Any) -> None:
    site = ruled
    member = new_page()
    member.goto(f"{site.url}/p/lantern/rules")
    member.locator("#rules li[data-rule=no-spam]").wait_for()
    member.click("a.button")  # "Report a problem"
    member.check("input[name=subject_kind][value=message]")
    member.fill("input[name=message]", "https://chat.example/rooms/general/m/42")
    member.fill("input[name=member]", TROLL)
    member.select_option("select[name=category]", "spam")
    member.select_option("select[name=rule]", "no-spam")
    member.fill("textarea[name=details]", "Posting follower-selling links every few minutes")
    member.click("button.send-report")
    member.locator("#received").wait_for()
    case_url = member.locator("#received input.copy").input_value()
    assert "/p/lantern/cases/" in case_url and member.url.startswith(case_url)
    assert member.locator("#case").get_attribute("data-status") == "new"
    assert "Received" in member.inner_text("#case .status")

    staff = new_page()
    log_in(staff, site.url, site.users["moderator"])
    staff.goto(f"{site.url}/c/lantern/queue")
    item = staff.locator("article.qitem[data-subject='message:https://chat.example/rooms/general/m/42']")
    item.wait_for()
    assert item.get_attribute("data-reports") == "1"
    assert "Posting follower-selling links" in item.inner_text()
    item.locator("button.take-item").click()
    item = staff.locator("article.qitem").first
    item.locator(".badge.owner", has_text="Mo").wait_for()
    with session_scope(site.app.extensions["crisis"].sessions) as session:
        assert session.query(Case).one().status == "triaged"

    assert item.locator("select[name=rule]").input_value() == "no-spam"  # the rule the complainant cited
    assert item.locator("input[name=member]").input_value() == TROLL
    item.locator("textarea[name=outcome]").fill("The links were removed and the member was warned.")
    item.locator("button[value=penalty]").click()
    staff.locator(".flash", has_text="1 case actioned").wait_for()
    assert staff.locator("article.qitem").count() == 0
    staff.locator("#decided", has_text="actioned").wait_for()

    # The member's record shows the penalty: a warning, the rule's first step.
    staff.goto(f"{site.url}/c/lantern/members/{TROLL}")
    penalty = staff.locator("li.penalty").first
    assert penalty.get_attribute("data-kind") == "warn" and penalty.get_attribute("data-status") == "active"
    assert "No spam or advertising" in penalty.inner_text() and "Mo" in penalty.inner_text()

    member.goto(case_url)
    assert member.locator("#case").get_attribute("data-status") == "actioned"
    assert "Acted on" in member.inner_text("#case .status")
    assert "The links were removed and the member was warned." in member.inner_text("#case .outcome")


def test_an_appeal_from_the_members_page_lifts_the_penalty_on_a_phone_in_chinese(ruled: Site,
                                                                               new_page: Any) -> None:
    site = ruled
    staff = new_page(viewport=PHONE, locale="zh-CN")
    log_in(staff, site.url, site.users["responder"])
    staff.goto(f"{site.url}/c/lantern/members/{TROLL}")
    assert "成员" in staff.inner_text(".crumbs")
    staff.select_option("#apply select[name=rule]", "no-scams")
    staff.fill("#apply textarea[name=note]", "钓鱼链接")
    staff.click("button.apply-penalty")
    penalty = staff.locator("li.penalty[data-kind=ban]")
    penalty.wait_for()
    assert penalty.get_attribute("data-status") == "active" and "封禁" in penalty.inner_text()
    no_sideways_scroll(staff)
    link = penalty.locator("input.copy").input_value()
    assert "/p/lantern/penalties/" in link
    link = site.url + link[link.index("/p/lantern/"):]  # the copy names the configured base URL

    member = new_page(viewport=PHONE, locale="zh-CN")
    member.goto(link)
    assert member.locator("#penalty").get_attribute("data-status") == "active"
    assert "禁止诈骗和钓鱼" in member.inner_text("#penalty")
    no_sideways_scroll(member)
    member.fill(".appeal-form textarea[name=text]", "我的账号被盗了，链接不是我发的。")
    member.click("button.send-appeal")
    member.locator("#appeals .appeal[data-status=open]").wait_for()
    assert "等待决定" in member.inner_text("#appeals")
    assert member.locator(".appeal-form").count() == 0  # one open appeal at a time

    staff.reload()
    appeal = staff.locator("li.penalty[data-kind=ban] .appeal[data-status=open]")
    assert "我的账号被盗了" in appeal.inner_text()
    appeal.locator("select[name=decision]").select_option("lifted")
    appeal.locator("textarea[name=note]").fill("账号已找回，撤销封禁。")
    appeal.locator("button.decide").click()
    staff.locator("li.penalty[data-kind=ban][data-status=lifted]").wait_for()
    no_sideways_scroll(staff)
    with session_scope(site.app.extensions["crisis"].sessions) as session:
        row = session.query(Penalty).one()
        assert row.status == "lifted" and row.ended_at is not None

    member.reload()
    assert member.locator("#penalty").get_attribute("data-status") == "lifted"
    assert "已撤销" in member.inner_text("#penalty .status")
    assert "账号已找回，撤销封禁。" in member.inner_text("#appeals .decision")


def test_hostile_strings_stay_inert_on_the_public_pages(ruled: Site, new_page: Any) -> None:
    site = ruled
    rt = site.app.extensions["crisis"]
    hostile_title = f"No {IMG} {SVG} {RTL}"
    with session_scope(rt.sessions) as session:
        from crisis.models import Community

        community = session.query(Community).one()
        spec = rulebook.latest(session, community.id).spec  # type: ignore[union-attr]
        spec["rules"][0]["title"] = {"en": hostile_title, "zh": hostile_title}
        spec["rules"][0]["text"] = {"en": f"{SCRIPT}\n{ATTR}", "zh": IMG}
        rulebook.create_version(session, community, spec, clock=SystemClock(), user_id=None)
    dialogs: list[str] = []
    member = new_page()
    member.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    rules = _visit(member, f"{site.url}/p/lantern/rules", dialogs)
    assert _flat(hostile_title) in _flat(rules) and SCRIPT in rules

    member.goto(f"{site.url}/p/lantern/report")
    member.check("input[name=subject_kind][value=member]")
    member.fill("input[name=member]", f"{IMG}{ATTR}")
    member.select_option("select[name=category]", "harassment")
    member.select_option("select[name=rule]", "be-kind")
    member.fill("textarea[name=details]", f"{MARKUP} {UNICODE}")
    member.fill("input[name=name]", SCRIPT)
    member.click("button.send-report")
    member.locator("#received").wait_for()
    assert not member.evaluate(DOM_PROBLEMS) and not dialogs
    case_text = _visit(member, member.url, dialogs)
    assert _flat(f"{MARKUP} {UNICODE}") in _flat(case_text) and IMG in case_text

    # A refused form shows what was typed back as text too.
    member.goto(f"{site.url}/p/lantern/report")
    member.check("input[name=subject_kind][value=message]")
    member.select_option("select[name=category]", "spam")
    member.fill("textarea[name=details]", MARKUP)
    member.click("button.send-report")
    member.locator("#form-error").wait_for()
    assert not member.evaluate(DOM_PROBLEMS) and not dialogs
    assert member.locator("textarea[name=details]").input_value() == MARKUP

    staff = new_page()
    staff.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    log_in(staff, site.url, site.users["responder"])
    queue = _visit(staff, f"{site.url}/c/lantern/queue", dialogs)
    assert _flat(f"{IMG}{ATTR}") in _flat(queue)
    item = staff.locator("article.qitem").first
    item.locator("textarea[name=outcome]").fill(f"Done {SCRIPT}")
    item.locator("button[value=penalty]").click()
    staff.locator(".flash").first.wait_for()
    with session_scope(rt.sessions) as session:
        penalty = session.query(Penalty).one()
        member_id = penalty.member
    staff.goto(f"{site.url}/c/lantern/members/{member_id}")
    link = staff.locator("li.penalty input.copy").first.input_value()
    link = site.url + link[link.index("/p/lantern/"):]
    assert not staff.evaluate(DOM_PROBLEMS) and not dialogs
    penalty_text = _visit(member, link, dialogs)
    assert _flat(hostile_title) in _flat(penalty_text)
    member.fill(".appeal-form textarea[name=text]", f"{MARKUP} {UNICODE}")
    member.click("button.send-appeal")
    member.locator("#appeals .appeal").wait_for()
    assert not member.evaluate(DOM_PROBLEMS) and not dialogs
    assert re.search(r"xss-script", member.inner_text("#appeals"))  # shown as the text it is


def test_the_form_the_queue_and_a_case_fit_a_phone(ruled: Site, new_page: Any) -> None:
    site = ruled
    member = new_page(viewport=PHONE)
    member.goto(f"{site.url}/p/lantern/report")
    no_sideways_scroll(member)
    member.check("input[name=subject_kind][value=member]")
    member.fill("input[name=member]", "@someone-with-a-very-long-account-name-indeed:matrix.example.org")
    member.select_option("select[name=category]", "other")
    member.fill("textarea[name=details]", "x" * 300)
    member.click("button.send-report")
    member.locator("#received").wait_for()
    no_sideways_scroll(member)
    staff = new_page(viewport=PHONE)
    log_in(staff, site.url, site.users["moderator"])
    staff.goto(f"{site.url}/c/lantern/queue")
    staff.locator("article.qitem").first.wait_for()
    no_sideways_scroll(staff)
    staff.locator("article.qitem .case-links a").first.click()
    staff.locator("#case").wait_for()
    no_sideways_scroll(staff)
    staff.goto(f"{site.url}/c/lantern/rules")
    no_sideways_scroll(staff)
