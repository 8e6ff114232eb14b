"""The public status page and the pages that feed it: no login and no cookie, cached with an
ETag, English and Chinese, hostile text inert, and nothing internal on it (the internal
title, notes, staff-only updates, severity, kind, evidence)."""
from __future__ import annotations

import re
from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from crisis.clock import FixedClock
from crisis.models import Incident
from crisis.publicstatus import statuspage
from crisis.response import lifecycle
from tests.conftest import Factory
from tests.web.conftest import Team, as_user, post

HOSTILE = '<script>alert("xss-pub")</script><img src=x onerror=alert("xss-img")>'
STAFF_UPDATE = "Staff only: the leak came from a moderator's account"
NOTE = "note: suspect is troll42"


def _publish(session: Session, team: Team, clock: FixedClock) -> None:
    statuspage.configure(session, team.tenant.community, enabled=True, name="Lantern Guild", now=clock.now())
    session.commit()


def _post(client: FlaskClient, incident: Incident, text: str, **extra: str) -> object:
    page = f"/c/lantern/incidents/{incident.id}"
    return post(client, f"{page}/updates", {"text": text, **extra}, page=page)


def test_an_unpublished_page_is_a_cookieless_404(client: FlaskClient, team: Team) -> None:
    resp = client.get("/status/lantern")
    assert resp.status_code == 404 and "No status page here" in resp.get_data(as_text=True)
    assert "Set-Cookie" not in resp.headers
    assert client.get("/status/nope").status_code == 404


def test_a_public_update_reaches_the_page_and_nothing_internal_does(
        client: FlaskClient, team: Team, incident: Incident, session: Session, clock: FixedClock) -> None:
    _publish(session, team, clock)
    as_user(client, team.responder)
    incident_page = f"/c/lantern/incidents/{incident.id}"
    post(client, f"{incident_page}/notes", {"text": NOTE}, page=incident_page)
    _post(client, incident, STAFF_UPDATE)
    refused = _post(client, incident, "Spam is being removed.", public="1")
    assert refused.status_code == 303  # type: ignore[attr-defined]
    shown = client.get(f"/c/lantern/incidents/{incident.id}").get_data(as_text=True)
    assert "public_title: the first update to members needs a public title" in shown
    _post(client, incident, "Spam is being removed.\nDo not click links in DMs.", public="1",
          public_title="Spam in the general channel")
    panel = client.get(f"/c/lantern/incidents/{incident.id}").get_data(as_text=True)
    assert 'class="public-title">Spam in the general channel<' in panel
    assert panel.count('class="badge to-members"') == 1  # the public update, not the staff-only one

    anonymous = client.application.test_client()
    resp = anonymous.get("/status/lantern")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Set-Cookie" not in resp.headers
    assert "Spam in the general channel" in html and "Do not click links in DMs." in html
    assert "1 ongoing incident" in html and ">Investigating<" in html and "Lantern Guild" in html
    for secret in ("Raid in #general", "giftbot", STAFF_UPDATE, "troll42", "sev2", ">raid<", "playbook", "csrf"):
        assert secret not in html, secret
    assert resp.headers["Cache-Control"].startswith("public, max-age=") and "Accept-Language" in resp.headers["Vary"]

    etag = resp.headers["ETag"]
    again = anonymous.get("/status/lantern", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    zh = anonymous.get("/status/lantern?lang=zh")
    assert zh.headers["ETag"] != etag and "调查中" in zh.get_data(as_text=True)
    assert 'lang="zh-Hans"' in anonymous.get("/status/lantern", headers={"Accept-Language": "zh-CN"}).get_data(
        as_text=True)

    # Acknowledged, then resolved: members see the phase move and the incident under "resolved".
    lifecycle.transition(session, incident.id, lifecycle.S.RESOLVED, actor=lifecycle.Actor(None, "t"), clock=clock)
    session.commit()
    moved = anonymous.get("/status/lantern", headers={"If-None-Match": etag})
    assert moved.status_code == 200
    html = moved.get_data(as_text=True)
    resolved = html.split('id="resolved"', 1)[1]
    assert "Spam in the general channel" in resolved and "No ongoing incidents" in html

    clock.advance(timedelta(days=8))
    assert "Spam in the general channel" not in anonymous.get("/status/lantern").get_data(as_text=True)


def test_hostile_public_text_stays_inert(client: FlaskClient, team: Team, incident: Incident, session: Session,
                                         clock: FixedClock) -> None:
    _publish(session, team, clock)
    statuspage.configure(session, team.tenant.community, about=HOSTILE, now=clock.now())
    session.commit()
    as_user(client, team.responder)
    _post(client, incident, f"update {HOSTILE}", public="1", public_title=f"title {HOSTILE}")
    html = client.application.test_client().get("/status/lantern").get_data(as_text=True)
    assert "<script>alert" not in html and "<img src=x" not in html and "onerror=alert" not in html.replace(
        "onerror=alert(&#34;", "")
    assert html.count("&lt;script&gt;alert(&#34;xss-pub&#34;)&lt;/script&gt;") == 3  # title, update, about
    assert not re.search(r"<script(?![^>]*src=)", html)  # no inline script at all


def test_the_members_page_takes_member_channels_from_managers_only(client: FlaskClient, team: Team,
                                                                   incident: Incident, factory: Factory) -> None:
    as_user(client, team.manager)
    page = "/c/lantern/member-updates"
    resp = post(client, f"{page}/channels", {"name": "announcements", "url": "json://127.0.0.1:9/members"}, page=page)
    assert resp.status_code == 303
    bad = post(client, f"{page}/channels", {"name": "mail", "url": "mailto://a@example.test"}, page=page)
    assert bad.status_code == 303
    html = client.get(page).get_data(as_text=True)
    assert 'data-channel="announcements"' in html and "url: member channels take matrix://" in html
    assert "%23alias:server" in html  # the help text's escaped %, rendered once
    zh = client.get(page, headers={"Accept-Language": "zh"}).get_data(as_text=True)
    assert "告知成员" in zh and "成员频道" in zh
    client.post("/logout")
    as_user(client, team.moderator)
    assert 'id="add-member-channel"' not in client.get(page).get_data(as_text=True)
    assert post(client, f"{page}/channels", {"name": "x", "url": "json://127.0.0.1:9/x"}, page=page).status_code == 403
    outsider = factory.staff("out@example.test", factory.community("harbor").community, "admin")
    fresh = client.application.test_client()
    as_user(fresh, outsider)
    assert fresh.get(page).status_code == 404
