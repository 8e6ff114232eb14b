"""A page a shared cache may keep (`Cache-Control: public`) is the same for every visitor: it
sets no cookie and carries no session's CSRF token, or a proxy would hand one visitor's
session to the next. Every GET page of the public blueprints is checked, for a visitor
without a cookie and for a signed-in one; the public pages switch language by `?lang=`
in the URL instead of the session, and keep it through their links and forms."""
from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from crisis.clock import FixedClock
from crisis.moderation import rulebook
from crisis.publicstatus import statuspage
from crisis.tenancy.communities import get_user
from tests.web.conftest import Team, as_user, csrf, post

PUBLIC_BLUEPRINTS = ("public", "status_page")


@pytest.fixture
def pages(client: FlaskClient, session: Session, team: Team, clock: FixedClock) -> list[str]:
    """One URL per GET page of the public blueprints (a case and a penalty exist to link to)."""
    rulebook.sync(session, clock=clock)
    statuspage.configure(session, team.tenant.community, enabled=True, name="Lantern Guild", now=clock.now())
    session.commit()
    member = client.application.test_client()
    sent = member.post("/p/lantern/report", data={"subject_kind": "feedback", "category": "feedback",
                                                  "details": "the rules page is great",
                                                  "_csrf": csrf(member, "/p/lantern/report")})
    assert sent.status_code == 303
    staff = as_user(client.application.test_client(), team.responder)
    member_page = "/c/lantern/members/@troll:example.org"
    assert post(staff, member_page + "/penalties", {"rule": "no-spam"}, page=member_page).status_code == 303
    penalty = re.search(r"/p/lantern/penalties/[^\"]+", staff.get(member_page).get_data(as_text=True))
    assert penalty
    urls = {"public.rules": "/p/lantern/rules", "public.report_form": "/p/lantern/report",
            "public.case_page": sent.headers["Location"].split("?")[0], "public.penalty_page": penalty.group(0),
            "status_page.status": "/status/lantern"}
    gets = {r.endpoint for r in client.application.url_map.iter_rules()
            if r.endpoint.split(".")[0] in PUBLIC_BLUEPRINTS and "GET" in (r.methods or ())}
    assert gets == set(urls), "a new public page: add it here, so its caching is checked"
    return [*urls.values(), "/status/nowhere", "/p/lantern/rules?lang=zh", "/status/lantern?lang=zh"]


def _check(resp_headers: dict[str, str], body: str, url: str) -> bool:
    """True when the response is publicly cacheable; then it must hold nobody's session."""
    shared = "public" in resp_headers.get("Cache-Control", "")
    if shared:
        assert "Set-Cookie" not in resp_headers, f"{url} is publicly cacheable but sets a cookie"
        assert 'name="_csrf"' not in body, f"{url} is publicly cacheable but embeds a CSRF token"
    return shared


def test_a_publicly_cacheable_page_sets_no_cookie_for_a_new_visitor(client: FlaskClient, pages: list[str]) -> None:
    shared = []
    for url in pages:
        resp = client.application.test_client().get(url)
        assert resp.status_code in (200, 404), url
        if _check(dict(resp.headers), resp.get_data(as_text=True), url):
            shared.append(url.split("?")[0])
    assert {"/p/lantern/rules", "/status/lantern", "/status/nowhere"} <= set(shared)
    assert "/p/lantern/report" not in shared  # its form holds a CSRF token: never shared


def test_nor_for_a_signed_in_visitor_whose_language_is_saved(client: FlaskClient, session: Session, team: Team,
                                                            pages: list[str]) -> None:
    staff = as_user(client, team.manager)
    staff.post("/locale", data={"locale": "zh_Hans", "next": "/", "_csrf": csrf(staff, "/")})
    assert get_user(session, team.manager.user.email).locale == "zh_Hans"
    for url in pages:
        resp = staff.get(url, headers={"Accept-Language": "en"})
        _check(dict(resp.headers), resp.get_data(as_text=True), url)
    # The shared rules page follows the URL and the browser, never the visitor's saved choice.
    rules = staff.get("/p/lantern/rules", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Community rules" in rules and 'lang="en"' in rules
    # The pages nobody shares still follow it.
    assert "举报问题" in staff.get("/p/lantern/report", headers={"Accept-Language": "en"}).get_data(as_text=True)


def test_the_rules_page_switches_language_by_its_url(client: FlaskClient, team: Team, pages: list[str]) -> None:
    en = client.get("/p/lantern/rules", headers={"Accept-Language": "en"})
    html = en.get_data(as_text=True)
    assert "Community rules" in html and "Accept-Language" in en.headers["Vary"]
    assert 'href="/p/lantern/rules?lang=zh"' in html and 'href="/p/lantern/rules?lang=en"' in html
    assert 'action="/locale"' not in html
    zh = client.get("/p/lantern/rules?lang=zh", headers={"Accept-Language": "en"})
    text = zh.get_data(as_text=True)
    assert "社区规则" in text and 'lang="zh-Hans"' in text and "Set-Cookie" not in zh.headers
    assert 'href="/p/lantern/report?lang=zh"' in text  # the choice goes on with the links


def test_a_report_sent_in_chinese_stays_in_chinese(client: FlaskClient, team: Team, pages: list[str]) -> None:
    form = client.get("/p/lantern/report?lang=zh", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'action="/p/lantern/report?lang=zh"' in form and "举报问题" in form
    token = re.search(r'name="_csrf" value="([^"]+)"', form)
    assert token
    refused = client.post("/p/lantern/report?lang=zh", headers={"Accept-Language": "en"},
                          data={"subject_kind": "member", "category": "harassment", "_csrf": token.group(1)})
    assert refused.status_code == 422 and "请写明被举报的成员" in refused.get_data(as_text=True)
    sent = client.post("/p/lantern/report?lang=zh", headers={"Accept-Language": "en"},
                       data={"subject_kind": "feedback", "category": "feedback", "details": "谢谢",
                             "_csrf": token.group(1)})
    assert sent.status_code == 303 and "lang=zh" in sent.headers["Location"]
    case = client.get(sent.headers["Location"], headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'lang="zh-Hans"' in case
