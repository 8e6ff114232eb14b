"""The audit log where people meet it: sign-ins recorded with their address, the admin
page and API (filtered, paged, exported as CSV and JSON, tenant-scoped), and no way for
anyone, a manager included, to change or delete a row through the product."""
from __future__ import annotations

import csv
import io
import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crisis.audit.log import record
from crisis.models import AuditEntry
from crisis.tenancy import communities
from tests.conftest import Factory, Staff, Tenant
from tests.engine.openapi_check import check
from tests.web.conftest import PASSWORD, as_user, csrf


def _rows(session: Session, action: str) -> list[AuditEntry]:
    session.expire_all()
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def test_sign_ins_failures_and_sign_outs_are_recorded_with_the_address(client: FlaskClient, ada: Staff,
                                                                       session: Session) -> None:
    token = csrf(client)
    environ = {"REMOTE_ADDR": "203.0.113.7"}
    client.post("/login", data={"email": "ada@example.test", "password": "wrong", "_csrf": token},
                environ_base=environ)
    client.post("/login", data={"email": "nobody@example.test", "password": "x", "_csrf": token},
                environ_base=environ)
    client.post("/login", data={"email": "ada@example.test", "password": PASSWORD, "_csrf": token},
                environ_base=environ)
    client.post("/logout", data={"_csrf": csrf(client, "/")}, environ_base=environ)
    failed = _rows(session, "login.failed")
    assert [(r.actor, r.subject_user_id, (r.after or {})["reason"]) for r in failed] == [
        ("ada@example.test", ada.user.id, "wrong password"), ("nobody@example.test", None, "no such user")]
    [login] = _rows(session, "login")
    assert login.actor_user_id == ada.user.id and login.remote_addr == "203.0.113.7"
    assert [r.subject_user_id for r in _rows(session, "logout")] == [ada.user.id]


def test_an_admin_filters_the_page_and_exports_it(client: FlaskClient, ada: Staff, lantern: Tenant,
                                                  session: Session) -> None:
    for i in range(3):
        record(session, community_id=lantern.community.id, actor=f"bot{i}@example.test", action="settings.update",
               target="detector settings", before={"sensitivity": 1.0}, after={"sensitivity": "<b>high</b>"})
    session.commit()
    as_user(client, ada)
    page = client.get("/c/lantern/audit?action=settings.update&actor=bot1")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert html.count('class="audit-row"') == 1 and "bot1@example.test" in html
    assert "&lt;b&gt;high&lt;/b&gt;" in html and "<b>high</b>" not in html, "what people typed is shown as text"
    exported = client.get("/c/lantern/audit/export.csv?action=settings.update")
    assert exported.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in exported.headers["Content-Disposition"]
    lines = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert [r["actor"] for r in lines] == ["bot2@example.test", "bot1@example.test", "bot0@example.test"]
    as_json = client.get("/c/lantern/audit/export.json?actor=bot0").get_json()
    assert [e["actor"] for e in as_json["entries"]] == ["bot0@example.test"]
    assert _rows(session, "audit.export")[-1].actor == "ada@example.test", "the export is itself recorded"


def test_the_page_names_a_bad_filter(client: FlaskClient, ada: Staff) -> None:
    as_user(client, ada)
    resp = client.get("/c/lantern/audit?since=last+week")
    assert resp.status_code == 422 and "since: &#39;last week&#39; is not a date" in resp.get_data(as_text=True)


def test_a_manager_can_neither_read_nor_change_the_log(client: FlaskClient, meg: Staff, ada: Staff,
                                                       factory: Factory, session: Session, app: Flask) -> None:
    as_user(client, meg)
    assert client.get("/c/lantern/audit").status_code == 403
    assert client.get("/c/lantern/audit/export.csv").status_code == 403
    token = csrf(client, "/")
    personal = factory.personal_token(meg.user)
    count = session.scalar(select(func.count()).select_from(AuditEntry))
    audit_rules = [r for r in app.url_map.iter_rules() if "audit" in r.rule]
    assert audit_rules and all((r.methods or set()) <= {"GET", "HEAD", "OPTIONS"} for r in audit_rules), \
        "no audit route accepts a write"
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert client.open("/c/lantern/audit", method=method, data={"_csrf": token}).status_code == 405
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        resp = client.open("/api/v1/communities/lantern/audit", method=method, json={},
                           headers={"Authorization": f"Bearer {personal}"})
        assert resp.status_code == 405, method
    api = client.get("/api/v1/communities/lantern/audit", headers={"Authorization": f"Bearer {personal}"})
    assert api.status_code == 403 and "admin role" in api.get_json()["message"]
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == count

    # Even an admin's page offers no control that writes: its only forms are the
    # filter (GET) and the layout's language switch and sign-out.
    as_user(client, ada)
    html = client.get("/c/lantern/audit").get_data(as_text=True)
    main = html.split("<main>", 1)[1]
    assert 'method="post"' not in main.lower()
    assert re.findall(r'<form method="get"[^>]*id="audit-filters"', main)


def test_the_api_reads_pages_and_exports_for_admins_of_this_community_only(client: FlaskClient, ada: Staff,
                                                                           lantern: Tenant, factory: Factory,
                                                                           session: Session) -> None:
    harbor = factory.community("harbor")
    hal = factory.staff("hal@example.test", harbor.community, "admin")
    for i in range(3):
        record(session, community_id=lantern.community.id, actor=f"a{i}", action="link.create", target=f"link {i}")
    record(session, community_id=harbor.community.id, actor="hal", action="link.create", target="harbor's link")
    session.commit()
    mine = {"Authorization": f"Bearer {factory.personal_token(ada.user)}"}
    path = "/api/v1/communities/lantern/audit"
    first = client.get(f"{path}?action=link.create&limit=2", headers=mine)
    body = check(first, path)
    assert [e["target"] for e in body["entries"]] == ["link 2", "link 1"] and body["next_before_id"]
    rest = check(client.get(f"{path}?action=link.create&before_id={body['next_before_id']}", headers=mine), path)
    assert [e["target"] for e in rest["entries"]] == ["link 0"] and rest["next_before_id"] is None
    bad = client.get(f"{path}?limit=0", headers=mine)
    assert check(bad, path)["message"].startswith("limit:")
    exported = client.get(f"{path}/export?format=csv&action=link.create", headers=mine)
    assert exported.status_code == 200 and "harbor's link" not in exported.get_data(as_text=True)
    theirs = {"Authorization": f"Bearer {factory.personal_token(hal.user)}"}
    assert check(client.get(path, headers=theirs), path)["error"] == "not_found"
    assert client.get(f"{path}/export", headers=theirs).status_code == 404


def test_a_staff_members_sign_ins_reach_each_of_their_communities(client: FlaskClient, ada: Staff,
                                                                  factory: Factory, session: Session) -> None:
    harbor = factory.community("harbor")
    communities.grant_role(session, ada.user, harbor.community, "admin", actor="cli (ops)")
    session.commit()
    as_user(client, ada)
    for slug in ("lantern", "harbor"):
        html = client.get(f"/c/{slug}/audit?action=login").get_data(as_text=True)
        assert html.count('class="audit-row"') == 1, slug
