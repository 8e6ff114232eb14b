"""The data API: retention status, erasures and the export, admin only and tenant-scoped, every
answer as the OpenAPI document says; retention settings need an admin to change."""
from __future__ import annotations

import io
import json
import zipfile

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.cases import service as case_service
from crisis.clock import FixedClock, isoformat
from crisis.ingest.store import decode_batch, store_events
from crisis.ingest.validate import validate_batch
from crisis.models import AuditEntry, Community, ContainmentAction, EventBatch, Incident
from tests.conftest import Factory, Tenant
from tests.engine.openapi_check import check

MEMBER = "@mallory:hs.test"


def _setup(factory: Factory) -> tuple[Tenant, dict[str, str]]:
    tenant = factory.community("lantern")
    other = factory.community("harbor")
    tokens = {}
    for who, community, role in (("ada", tenant.community, "admin"), ("meg", tenant.community, "manager"),
                                 ("olga", other.community, "admin")):
        staff = factory.staff(f"{who}@example.test", community, role)
        tokens[who] = factory.personal_token(staff.user)
    return tenant, tokens


def _auth(tokens: dict[str, str], who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[who]}"}


def _store(session: Session, tenant: Tenant, clock: FixedClock) -> None:
    raw = [{"id": "m1", "type": "report.create", "ts": isoformat(clock.now()), "actor": {"id": MEMBER},
            "target": {"user_id": "@bob:hs.test"}, "reason": "bob has been sending me threats all week"}]
    valid, _ = validate_batch(raw, "lantern", clock.now())
    store_events(session, tenant.community, valid, clock=clock)
    session.commit()


def test_erasure_is_for_admins_of_the_community(client: FlaskClient, factory: Factory) -> None:
    _, tokens = _setup(factory)
    path = "/api/v1/communities/lantern/erasures"
    manager = client.post(path, json={"member": MEMBER}, headers=_auth(tokens, "meg"))
    assert manager.status_code == 403 and "needs the admin role" in manager.get_json()["message"]
    check(manager, path, "POST")
    outsider = client.post(path, json={"member": MEMBER}, headers=_auth(tokens, "olga"))
    assert outsider.status_code == 404
    for route in ("/api/v1/communities/lantern/export", "/api/v1/communities/lantern/retention", path):
        assert client.get(route, headers=_auth(tokens, "olga")).status_code == 404
        assert client.get(route, headers=_auth(tokens, "meg")).status_code == 403


def test_an_admin_erases_a_member_and_reads_the_erasure(client: FlaskClient, factory: Factory, session: Session,
                                                         clock: FixedClock) -> None:
    tenant, tokens = _setup(factory)
    _store(session, tenant, clock)
    path = "/api/v1/communities/lantern/erasures"
    resp = client.post(path, json={"member": MEMBER, "also": ["Mallory"]}, headers=_auth(tokens, "ada"))
    body = check(resp, path, "POST")
    assert resp.status_code == 202 and body["status"] == "done" and body["counts"]["events_own"] == 1
    assert MEMBER not in json.dumps(body)
    one = client.get(f"{path}/{body['id']}", headers=_auth(tokens, "ada"))
    assert check(one, f"{path}/{body['id']}")["tombstone"] == body["tombstone"]
    listed = check(client.get(path, headers=_auth(tokens, "ada")), path)
    assert [e["id"] for e in listed["erasures"]] == [body["id"]]
    assert client.get(f"{path}/{body['id']}", headers=_auth(tokens, "olga")).status_code == 404
    (event,) = [e for b in session.scalars(select(EventBatch)) for e in decode_batch(b.body, b.fresh, b.count)]
    assert event["actor"] == {"id": body["tombstone"]} and event["reason"] == "[erased]"
    audit = session.scalar(select(AuditEntry).where(AuditEntry.action == "member.erased"))
    assert audit is not None and audit.actor == "ada@example.test" and audit.target == body["tombstone"]


def test_bad_erasure_requests_say_what_and_where(client: FlaskClient, factory: Factory, session: Session,
                                                 clock: FixedClock) -> None:
    tenant, tokens = _setup(factory)
    path = "/api/v1/communities/lantern/erasures"
    for payload, field in (({}, "member"), ({"member": ""}, "member"), ({"member": "@a", "also": "x"}, "also"),
                           ({"member": "@a", "also": [""]}, "also[0]"), ({"member": "@a", "who": 1}, "who"),
                           ({"member": "@a", "force": "yes"}, "force")):
        resp = client.post(path, json=payload, headers=_auth(tokens, "ada"))
        assert resp.status_code == 422, payload
        assert check(resp, path, "POST")["field"] == field
        assert resp.get_json()["message"].startswith(f"{field}:")
    now = clock.now()
    incident = Incident(community_id=tenant.community.id, kind="raid", title="Raid", severity="sev2",
                        status="triggered", source="manual", evidence={}, opened_at=now, created_at=now)
    session.add(incident)
    session.flush()
    session.add(ContainmentAction(incident_id=incident.id, community_id=tenant.community.id, kind="ban",
                                  status="applied", executor="manual", approve_role="responder",
                                  targets=[{"account": MEMBER}], created_at=now, updated_at=now))
    session.commit()
    blocked = client.post(path, json={"member": MEMBER}, headers=_auth(tokens, "ada"))
    assert blocked.status_code == 409 and "undo or cancel them first" in check(blocked, path, "POST")["message"]
    forced = client.post(path, json={"member": MEMBER, "force": True}, headers=_auth(tokens, "ada"))
    assert forced.status_code == 202


def test_the_export_comes_as_a_zip_and_is_audited(client: FlaskClient, factory: Factory, session: Session) -> None:
    tenant, tokens = _setup(factory)
    harbor = session.scalar(select(Community).where(Community.slug == "harbor"))
    assert harbor is not None
    for community, text in ((tenant.community, "they keep spamming #general"), (harbor, "harbor's own complaint")):
        complaint = case_service.Complaint(subject_kind="member", category="spam", subject_member="@spammer:hs.test",
                                           details=text)
        case_service.open_case(session, community, complaint, now=factory.clock.now())
    session.commit()
    resp = client.get("/api/v1/communities/lantern/export", headers=_auth(tokens, "ada"))
    assert resp.status_code == 200 and resp.mimetype == "application/zip"
    check(resp, "/api/v1/communities/lantern/export")
    archive = zipfile.ZipFile(io.BytesIO(resp.data))
    names = set(archive.namelist())
    assert {"manifest.json", "community.json", "staff.json", "incidents.json", "postmortems.json",
            "cases.json"} <= names
    assert [c["details"] for c in json.loads(archive.read("cases.json"))] == ["they keep spamming #general"]
    settings = json.loads(zipfile.ZipFile(io.BytesIO(resp.data)).read("community.json"))["settings"]
    assert settings["retention_days"] == 30 and settings["sensitivity"] == 1.0
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "data.exported")) is not None


def test_retention_settings_need_an_admin_and_are_checked(client: FlaskClient, factory: Factory) -> None:
    _, tokens = _setup(factory)
    path = "/api/v1/communities/lantern/settings"
    refused = client.patch(path, json={"retention_days": 7}, headers=_auth(tokens, "meg"))
    assert refused.status_code == 403
    assert "changing retention_days needs the admin role" in refused.get_json()["message"]
    assert client.patch(path, json={"sensitivity": "high"}, headers=_auth(tokens, "meg")).status_code == 200
    bad = client.patch(path, json={"retention_days": 0, "evidence_grace_days": True}, headers=_auth(tokens, "ada"))
    assert bad.status_code == 422
    assert [e["field"] for e in bad.get_json()["errors"]] == ["retention_days", "evidence_grace_days"]
    ok = client.patch(path, json={"retention_days": 7, "evidence_grace_days": 0}, headers=_auth(tokens, "ada"))
    assert check(ok, path, "PATCH")["retention_days"] == 7
    status = client.get("/api/v1/communities/lantern/retention", headers=_auth(tokens, "ada"))
    got = check(status, "/api/v1/communities/lantern/retention")
    assert (got["retention_days"], got["evidence_grace_days"], got["holding_incidents"]) == (7, 0, [])
