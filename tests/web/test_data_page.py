"""The Data page: admins only; retention settings with errors that say where; erasing a member
(typed twice) through the job; the export archive, recorded in the audit log; in Chinese too."""
from __future__ import annotations

import io
import json
import zipfile

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.clock import FixedClock, isoformat
from crisis.ingest.store import decode_batch, store_events
from crisis.ingest.validate import validate_batch
from crisis.models import AuditEntry, Community, Erasure, EventBatch, Incident
from tests.conftest import Factory
from tests.web.conftest import Team, as_user, csrf

MEMBER = "@mallory:hs.test"


def _store(session: Session, community: Community, clock: FixedClock) -> None:
    raw = [{"id": "m1", "type": "message.create", "ts": isoformat(clock.now()), "actor": {"id": MEMBER,
            "name": "Mallory"}, "channel": "general", "content": "meet me behind the library at nine"},
           {"id": "m2", "type": "message.create", "ts": isoformat(clock.now()), "actor": {"id": "@bob:hs.test"},
            "channel": "general", "content": "Mallory is lying"}]
    valid, errors = validate_batch(raw, community.slug, clock.now())
    assert not errors
    store_events(session, community, valid, clock=clock)
    session.commit()


def test_only_admins_see_the_data_page(client: FlaskClient, factory: Factory, team: Team) -> None:
    as_user(client, team.manager)
    assert client.get("/c/lantern/data").status_code == 403
    other = factory.community("harbor")
    outsider = factory.staff("olga@example.test", other.community, "admin")
    client.post("/logout", data={"_csrf": csrf(client, "/")})
    as_user(client, outsider)
    assert client.get("/c/lantern/data").status_code == 404
    assert client.get("/c/lantern/data/export.zip").status_code == 404


def test_an_admin_changes_retention_and_bad_values_say_which_field(client: FlaskClient, factory: Factory,
                                                                   team: Team, session: Session) -> None:
    admin = factory.staff("ada@example.test", team.tenant.community, "admin")
    as_user(client, admin)
    page = client.get("/c/lantern/data").get_data(as_text=True)
    assert "deleted 30 days after they arrive" in page and 'id="erase-form"' in page
    token = csrf(client, "/c/lantern/data")
    bad = client.post("/c/lantern/data/retention", data={"retention_days": "0", "evidence_grace_days": "x",
                                                         "_csrf": token})
    body = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "retention_days: must be a whole number of days from 1 to 3650" in body
    assert "evidence_grace_days: must be a whole number of days from 0 to 3650" in body
    ok = client.post("/c/lantern/data/retention", data={"retention_days": "14", "evidence_grace_days": "7",
                                                        "_csrf": token})
    assert ok.status_code == 303
    session.expire_all()
    community = session.get(Community, team.tenant.community.id)
    assert community is not None
    assert (community.settings["retention_days"], community.settings["evidence_grace_days"]) == (14, 7)
    audit = session.scalar(select(AuditEntry).where(AuditEntry.action == "settings.update")
                           .order_by(AuditEntry.id.desc()))
    assert audit is not None and audit.after == {"retention_days": 14, "evidence_grace_days": 7}
    assert "deleted 14 days after they arrive" in client.get("/c/lantern/data").get_data(as_text=True)
    assert "Raw events are kept 14 days" in client.get("/c/lantern/settings").get_data(as_text=True)


def test_an_admin_erases_a_member_typed_twice(client: FlaskClient, factory: Factory, team: Team,
                                              session: Session, clock: FixedClock) -> None:
    admin = factory.staff("ada@example.test", team.tenant.community, "admin")
    _store(session, team.tenant.community, clock)
    as_user(client, admin)
    token = csrf(client, "/c/lantern/data")
    mismatch = client.post("/c/lantern/data/erasures", data={"member": MEMBER, "confirm": "@mallory:hs",
                                                             "_csrf": token})
    assert mismatch.status_code == 422 and "type the member&#39;s id a second time" in mismatch.get_data(as_text=True)
    assert session.scalar(select(Erasure)) is None
    done = client.post("/c/lantern/data/erasures", data={"member": MEMBER, "confirm": MEMBER, "_csrf": token},
                       follow_redirects=True)
    html = done.get_data(as_text=True)
    row = session.scalar(select(Erasure))
    assert row is not None and row.status == "done"
    assert f"The member is erased; they are now {row.tombstone}." in html
    assert 'data-status="done"' in html and row.tombstone in html
    events = [e for b in session.scalars(select(EventBatch)) for e in decode_batch(b.body, b.fresh, b.count)]
    assert [e["actor"]["id"] for e in events] == [row.tombstone, "@bob:hs.test"]
    assert [e["content"] for e in events] == ["[erased]", "[erased] is lying"]
    audit = session.scalar(select(AuditEntry).where(AuditEntry.action == "member.erased"))
    assert audit is not None and audit.actor == "ada@example.test" and audit.target == row.tombstone


def test_the_export_is_a_zip_of_json_and_is_audited(client: FlaskClient, factory: Factory, team: Team,
                                                    session: Session, clock: FixedClock) -> None:
    admin = factory.staff("ada@example.test", team.tenant.community, "admin")
    now = clock.now()
    session.add(Incident(community_id=team.tenant.community.id, kind="raid", title="Raid in #general",
                         severity="sev2", status="triggered", source="manual", evidence={}, opened_at=now,
                         created_at=now))
    session.commit()
    as_user(client, admin)
    resp = client.get("/c/lantern/data/export.zip")
    assert resp.status_code == 200 and resp.mimetype == "application/zip"
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="crisis-lantern-20261005T120000Z.zip"'
    archive = zipfile.ZipFile(io.BytesIO(resp.data))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["counts"]["incidents"] == 1 and "postmortems.json" in manifest["files"]
    assert json.loads(archive.read("incidents.json"))[0]["title"] == "Raid in #general"
    staff = json.loads(archive.read("staff.json"))
    assert {s["role"] for s in staff} == {"moderator", "responder", "manager", "admin"}
    assert "@example.test" not in archive.read("staff.json").decode()  # no e-mail addresses
    audit = session.scalar(select(AuditEntry).where(AuditEntry.action == "data.exported"))
    assert audit is not None and audit.actor == "ada@example.test" and audit.after["incidents"] == 1


def test_the_data_page_speaks_chinese(client: FlaskClient, factory: Factory, team: Team) -> None:
    admin = factory.staff("ada@example.test", team.tenant.community, "admin")
    as_user(client, admin)
    html = client.get("/c/lantern/data", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "抹除成员" in html and "原始事件保留（天）" in html and "下载归档" in html
