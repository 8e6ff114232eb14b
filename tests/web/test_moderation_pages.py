"""The rules, the review queue, cases, members' records and the public pages, through the
test client: a complaint from the public form to its outcome on the complainant's page, a
penalty appealed from the member's page and lifted, the rules edited as a new version,
roles and tenants refused, the public pages in Chinese, and the form's rate limit."""
from __future__ import annotations

import re
from dataclasses import replace

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis import runtime
from crisis.api.ratelimit import Limit
from crisis.app import create_app
from crisis.clock import FixedClock
from crisis.config import Config
from crisis.db import session_scope
from crisis.models import Appeal, Case, Penalty
from crisis.moderation import rulebook
from crisis.tenancy import communities
from tests.conftest import Factory
from tests.web.conftest import Team, as_user, csrf, post

pytestmark = pytest.mark.usefixtures("ruled")


@pytest.fixture
def ruled(session: Session, team: Team, clock: FixedClock) -> Team:
    rulebook.sync(session, clock=clock)
    session.commit()
    return team


def _report(client: FlaskClient, **fields: str) -> str:
    data = {"subject_kind": "message", "message": "https://chat.example/m/42", "member": "@troll:example.org",
            "category": "spam", "rule": "no-spam", "details": "buy followers here", **fields}
    resp = client.post("/p/lantern/report", data={**data, "_csrf": csrf(client, "/p/lantern/report")})
    assert resp.status_code == 303, resp.get_data(as_text=True)
    return resp.headers["Location"]


def test_the_public_rules_page_needs_no_login_and_follows_the_language(client: FlaskClient) -> None:
    en = client.get("/p/lantern/rules", headers={"Accept-Language": "en"})
    assert en.status_code == 200 and "No spam or advertising" in en.get_data(as_text=True)
    assert en.headers["Cache-Control"] == "public, max-age=60"
    zh = client.get("/p/lantern/rules", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "禁止刷屏和广告" in zh and "社区规则" in zh and "禁言" in zh
    assert client.get("/p/nowhere/rules").status_code == 404


def test_a_complaint_from_the_form_is_a_case_and_its_page_shows_the_outcome(
        client: FlaskClient, session: Session, team: Team) -> None:
    location = _report(client)
    assert re.match(r"^/p/lantern/cases/[^/]+\?new=1$", location)
    page = client.get(location)
    html = page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store" and page.headers["Referrer-Policy"] == "no-referrer"
    assert "Received" in html and "buy followers here" in html
    case = session.scalars(select(Case)).one()
    assert (case.subject_kind, case.subject_link, case.subject_member, case.source) == (
        "message", "https://chat.example/m/42", "@troll:example.org", "form")
    assert case.reporter.startswith("web:") and "127.0.0.1" not in case.reporter

    staff = as_user(client, team.moderator)
    queue = staff.get("/c/lantern/queue").get_data(as_text=True)
    assert 'data-subject="message:https://chat.example/m/42"' in queue and "buy followers here" in queue
    resp = post(staff, "/c/lantern/queue/decide", {"subject": "message:https://chat.example/m/42", "verb": "penalty",
                                                   "rule": "no-spam", "member": "@troll:example.org",
                                                   "outcome": "Removed, and the member was warned."},
                page="/c/lantern/queue")
    assert resp.status_code == 303
    session.expire_all()
    assert case.status == "actioned" and case.penalty_id is not None
    html = client.get(location.split("?")[0]).get_data(as_text=True)
    assert "Acted on" in html and "Removed, and the member was warned." in html


def test_the_form_names_what_is_missing_and_keeps_what_was_typed(client: FlaskClient) -> None:
    resp = client.post("/p/lantern/report", data={"subject_kind": "member", "category": "harassment",
                                                  "details": "keeps insulting me", "_csrf": csrf(client,
                                                                                                "/p/lantern/report")})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "Name the member" in html and "keeps insulting me" in html
    zh = client.post("/p/lantern/report", headers={"Accept-Language": "zh-CN"},
                     data={"subject_kind": "member", "category": "harassment", "_csrf": csrf(client,
                                                                                            "/p/lantern/report")})
    assert "请写明被举报的成员" in zh.get_data(as_text=True)
    assert client.post("/p/lantern/report", data={"subject_kind": "member"}).status_code == 400  # no CSRF token


def test_a_penalty_appealed_by_the_member_is_lifted_by_a_responder(client: FlaskClient, session: Session,
                                                                  team: Team) -> None:
    staff = as_user(client, team.responder)
    member_page = "/c/lantern/members/@troll:example.org"
    resp = post(staff, member_page + "/penalties", {"rule": "no-scams", "note": "phishing link"}, page=member_page)
    assert resp.status_code == 303
    penalty = session.scalars(select(Penalty)).one()
    assert penalty.kind == "ban"
    html = staff.get(member_page).get_data(as_text=True)
    token_url = re.search(r'value="(http://[^"]+/p/lantern/penalties/[^"]+)"', html)
    assert token_url and f'id="penalty-{penalty.id}"' in html
    public_path = token_url.group(1).split("127.0.0.1:8000", 1)[-1]

    member = client.application.test_client()
    page = member.get(public_path).get_data(as_text=True)
    assert "No scams or phishing" in page and "Send the appeal" in page
    resp = member.post(public_path + "/appeal", data={"text": "My account was stolen", "_csrf": csrf(member,
                                                                                                    public_path)})
    assert resp.status_code == 303
    assert "My account was stolen" in member.get(public_path).get_data(as_text=True)
    appeal = session.scalars(select(Appeal)).one()
    assert appeal.filed_by == "member"

    resp = post(staff, f"/c/lantern/appeals/{appeal.id}/decide", {"decision": "lifted", "note": "Recovered."},
                page=member_page)
    assert resp.status_code == 303
    session.expire_all()
    assert (penalty.status, appeal.status) == ("lifted", "lifted")
    page = member.get(public_path).get_data(as_text=True)
    assert "lifted" in page and "Recovered." in page and "Send the appeal" not in page


def test_a_moderator_cannot_decide_appeals_or_edit_rules_and_a_manager_saves_a_version(
        client: FlaskClient, session: Session, team: Team) -> None:
    mod = as_user(client, team.moderator)
    assert post(mod, "/c/lantern/rules", {"source": "rules: []"}, page="/c/lantern/rules").status_code == 403
    assert post(mod, "/c/lantern/appeals/1/decide", {"decision": "lifted", "note": "x"},
                page="/c/lantern/rules").status_code == 403
    manager = as_user(client.application.test_client(), team.manager)
    bad = post(manager, "/c/lantern/rules", {"source": "rules:\n  - id: BAD\n"}, page="/c/lantern/rules")
    assert bad.status_code == 422 and "rules[0].id: must be" in bad.get_data(as_text=True)
    text = rulebook.default_text().replace("24h", "12h")
    good = post(manager, "/c/lantern/rules", {"source": text, "comment": "shorter mutes"}, page="/c/lantern/rules")
    assert good.status_code == 303
    html = manager.get("/c/lantern/rules").get_data(as_text=True)
    assert "version 2" in html and "shorter mutes" in html


def test_other_tenants_staff_and_tokens_are_404(client: FlaskClient, session: Session, factory: Factory,
                                                 team: Team) -> None:
    location = _report(client).split("?")[0]
    other = factory.community("harbor")
    outsider = factory.staff("oz@example.test", other.community, "admin")
    rulebook.sync(session, clock=FixedClock(session.scalars(select(Case)).one().created_at))
    session.commit()
    oz = as_user(client.application.test_client(), outsider)
    case = session.scalars(select(Case)).one()
    for path in ("/c/lantern/queue", f"/c/lantern/cases/{case.id}", "/c/lantern/members/@troll:example.org",
                 "/c/lantern/rules"):
        assert oz.get(path).status_code == 404, path
    assert oz.get(f"/c/harbor/cases/{case.id}").status_code == 404
    # A lantern case link under harbor's name, or a forged token, is not a page.
    assert client.get(location.replace("/p/lantern/", "/p/harbor/")).status_code == 404
    assert client.get(location[:-3] + "xyz").status_code == 404


def test_the_form_is_rate_limited_per_sender(config: Config, clock: FixedClock, redis_url: str) -> None:
    app = create_app(replace(config, redis_url=redis_url), clock=clock)
    app.config["RATELIMIT_REPORTS_ADDRESS"] = Limit(2, 600)
    try:
        with session_scope(app.extensions["crisis"].sessions) as s:
            communities.create_community(s, "quiet", name="Quiet", clock=clock)
        client = app.test_client()
        token = csrf(client, "/p/quiet/report")
        codes = [client.post("/p/quiet/report", data={"subject_kind": "feedback", "category": "feedback",
                                                      "details": f"idea {i}", "_csrf": token}).status_code
                 for i in range(3)]
        assert codes == [303, 303, 429]
        limited = client.post("/p/quiet/report", data={"subject_kind": "feedback", "category": "feedback",
                                                       "details": "again", "_csrf": token})
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    finally:
        runtime.reset()
