"""The real acts write their audit rows: containment approved and undone, a platform link
created, an integration key rotated, member channels added, paused, resumed and removed, the status page
changed, a rulebook version stored. Each row names the actor, the community and the
client's address, holds before/after where a value changed, and never a secret; a refused
act writes no row."""
from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis import playbooks
from crisis.alert_intake import integrations
from crisis.audit.query import as_dict
from crisis.bridges import links
from crisis.clock import FixedClock
from crisis.models import AuditEntry, ContainmentAction, Incident, MemberChannel
from crisis.moderation import rulebook
from crisis.publicstatus import channels
from crisis.response import signals
from crisis.runtime import Runtime
from tests.conftest import Factory, Staff, Tenant
from tests.web.conftest import PASSWORD, as_user, csrf

ADDR = "198.51.100.23"
RAIDERS = ["@r1:hs", "@r2:hs"]
MEMBER_URL = "matrixs://bot:hunter2-secret@matrix.example.org/!abc:example.org"


@pytest.fixture
def rob(factory: Factory, lantern: Tenant) -> Staff:
    return factory.staff("rob@example.test", lantern.community, "moderator", password=PASSWORD)


def _api(client: FlaskClient, factory: Factory, staff: Staff, method: str, path: str, body: Any = None, *,
         status: int) -> Any:
    token = factory.personal_token(staff.user)
    response = client.open(path, method=method, json=body, headers={"Authorization": f"Bearer {token}"},
                           environ_base={"REMOTE_ADDR": ADDR})
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def _rows(session: Session, action: str) -> list[AuditEntry]:
    session.expire_all()
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def _text(entry: AuditEntry) -> str:
    return json.dumps(as_dict(entry), ensure_ascii=False)


def _by(entry: AuditEntry, staff: Staff, community: Tenant) -> None:
    assert (entry.actor_user_id, entry.community_id, entry.remote_addr) == (staff.user.id, community.community.id,
                                                                           ADDR)


# ---- containment, links, integrations: rows the code wrote without a test of the act ----------
def _raid(session: Session, tenant: Tenant, clock: FixedClock) -> Incident:
    playbooks.sync(session, clock=clock)
    incident = signals.open_detected(session, tenant.community, episode_key="raid:audit", kind="raid",
                                     severity="sev2", title="Raid", opened_at=clock.now(),
                                     evidence={"accounts": RAIDERS}, score=12.0, scope="", clock=clock)
    assert incident is not None
    session.commit()
    return incident


def test_it_records_containment_approved_and_undone_with_counts_never_the_accounts(
        client: FlaskClient, session: Session, factory: Factory, lantern: Tenant, ada: Staff, rob: Staff,
        clock: FixedClock) -> None:
    incident = _raid(session, lantern, clock)
    ban = session.scalar(select(ContainmentAction).where(ContainmentAction.incident_id == incident.id,
                                                         ContainmentAction.kind == "ban"))
    assert ban is not None and ban.status == "proposed"
    base = f"/api/v1/incidents/{incident.id}/actions/{ban.id}"
    _api(client, factory, rob, "POST", f"{base}/approve", {}, status=403)
    assert _rows(session, "containment.approve") == [], "a refused approval writes no row"
    assert _api(client, factory, ada, "POST", f"{base}/approve", {}, status=200)["status"] == "applied"
    [approved] = _rows(session, "containment.approve")
    _by(approved, ada, lantern)
    assert approved.actor == ada.user.display_name
    assert approved.target == f"incident {incident.id} action {ban.id} (ban)"
    assert approved.before == {"status": "proposed"}
    assert approved.after == {"status": "approved", "accounts": 2, "rooms": 0, "via": ""}
    _api(client, factory, ada, "POST", f"{base}/undo", {}, status=200)
    [undone] = _rows(session, "containment.undo")
    _by(undone, ada, lantern)
    assert undone.before == {"status": "applied"} and undone.after["accounts"] == 2  # type: ignore[index]
    for row in (approved, undone):
        assert not [r for r in RAIDERS if r in _text(row)], "the accounts are members' data, not the log's"
    _api(client, factory, ada, "POST", f"{base}/undo", {}, status=409)
    assert len(_rows(session, "containment.undo")) == 1


def test_it_records_a_platform_link_without_its_tokens(client: FlaskClient, session: Session, factory: Factory,
                                                        lantern: Tenant, ada: Staff, meg: Staff) -> None:
    body = {"platform": "matrix", "homeserver": "https://matrix.example.org", "server_name": "example.org",
            "rooms": ["!general:example.org=general"], "admin_token": "syt_admin_very_secret"}
    _api(client, factory, meg, "POST", "/api/v1/communities/lantern/links", body, status=403)
    issued = _api(client, factory, ada, "POST", "/api/v1/communities/lantern/links", body, status=201)
    _api(client, factory, ada, "POST", "/api/v1/communities/lantern/links", body, status=409)
    [row] = _rows(session, "link.create")
    _by(row, ada, lantern)
    assert row.actor == "ada@example.test" and row.before is None
    assert row.after == {"platform": "matrix", "name": "matrix", "homeserver": "https://matrix.example.org",
                         "sender": "@crisis_lantern:example.org", "rooms": ["!general:example.org"],
                         "admin_token": True}
    secrets = ["syt_admin_very_secret", *(v for k, v in _flat(issued) if "token" in k and isinstance(v, str))]
    assert len(secrets) >= 3 and not [s for s in secrets if s in _text(row)]


def _flat(doc: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(doc, dict):
        return [pair for k, v in doc.items() for pair in _flat(v, f"{prefix}{k}.")]
    return [(prefix, doc)]


def test_it_records_a_key_rotation_with_the_hints_never_the_keys(
        client: FlaskClient, session: Session, factory: Factory, lantern: Tenant, ada: Staff, meg: Staff,
        clock: FixedClock) -> None:
    first = integrations.create(session, lantern.community, kind="alertmanager", name="prom", clock=clock)
    session.commit()
    path = f"/api/v1/integrations/{first.integration.id}/rotate"
    _api(client, factory, meg, "POST", path, status=403)
    assert _rows(session, "integration.rotate") == []
    rotated = _api(client, factory, ada, "POST", path, status=200)
    [row] = _rows(session, "integration.rotate")
    _by(row, ada, lantern)
    assert row.target == f"alertmanager integration {first.integration.id} (prom)"
    assert row.before == {"key_hint": f"…{first.key[-4:]}"} and row.after == {"key_hint": f"…{rotated['key'][-4:]}"}
    assert first.key not in _text(row) and rotated["key"] not in _text(row)


# ---- member channels, the status page, rulebooks: the acts of issue 19 -----------------------------
def test_it_records_a_member_channel_added_and_removed_with_the_url_masked(
        client: FlaskClient, session: Session, factory: Factory, lantern: Tenant, meg: Staff) -> None:
    base = "/api/v1/communities/lantern/member-channels"
    made = _api(client, factory, meg, "POST", base, {"name": "announcements", "url": MEMBER_URL}, status=201)
    _api(client, factory, meg, "POST", base, {"name": "announcements", "url": MEMBER_URL}, status=409)
    _api(client, factory, meg, "POST", base, {"name": "other", "url": "mailto://a@b.example"}, status=422)
    [created] = _rows(session, "member_channel.create")
    _by(created, meg, lantern)
    assert created.actor == "meg@example.test" and created.target == f"member channel {made['id']} (announcements)"
    assert created.after == {"name": "announcements", "kind": "apprise", "language": "",
                             "destination": "matrixs://matrix.example.org/…"}
    for disabled in (True, True, False):  # the second pause changes nothing and writes nothing
        _api(client, factory, meg, "PATCH", f"{base}/{made['id']}", {"disabled": disabled}, status=200)
    [paused] = _rows(session, "member_channel.pause")
    [resumed] = _rows(session, "member_channel.resume")
    _by(paused, meg, lantern)
    assert (paused.before, paused.after) == ({"disabled": False}, {"disabled": True})
    assert (resumed.before, resumed.after) == ({"disabled": True}, {"disabled": False})
    _api(client, factory, meg, "DELETE", f"{base}/{made['id']}", status=204)
    [removed] = _rows(session, "member_channel.delete")
    _by(removed, meg, lantern)
    assert removed.before == created.after and removed.after is None
    for row in (created, removed):
        assert "hunter2" not in _text(row) and "bot:" not in _text(row)


def test_it_records_a_bridge_room_and_a_removal_from_the_page(
        client: FlaskClient, session: Session, factory: Factory, lantern: Tenant, meg: Staff, clock: FixedClock,
        rt: Runtime) -> None:
    link = links.create_matrix_link(session, lantern.community, homeserver="https://hs.example.org",
                                    server_name="example.org", rooms={"!room:example.org": "general"},
                                    secret_key=rt.config.secret_key, clock=clock).link
    session.commit()
    with pytest.raises(channels.ChannelError, match="room_id"):
        channels.add_bridge_room(session, lantern.community, name="general", link_id=link.id, room_id="!nope",
                                 now=clock.now(), actor="meg@example.test")
    session.rollback()
    assert _rows(session, "member_channel.create") == []
    row = channels.add_bridge_room(session, lantern.community, name="general", link_id=link.id,
                                   room_id="!room:example.org", now=clock.now(), actor="meg@example.test",
                                   actor_user_id=meg.user.id)
    session.commit()
    row_id = row.id
    [created] = _rows(session, "member_channel.create")
    assert created.after == {"name": "general", "kind": "bridge", "destination": "bridge room !room:example.org",
                             "language": "", "link_id": link.id}
    as_user(client, meg)
    token = csrf(client, "/c/lantern/member-updates")
    page = client.post(f"/c/lantern/member-updates/channels/{row_id}/pause", data={"_csrf": token},
                       environ_base={"REMOTE_ADDR": ADDR})
    assert page.status_code == 303
    [paused] = _rows(session, "member_channel.pause")
    _by(paused, meg, lantern)
    page = client.post(f"/c/lantern/member-updates/channels/{row_id}/remove", data={"_csrf": token},
                       environ_base={"REMOTE_ADDR": ADDR})
    assert page.status_code == 303
    [removed] = _rows(session, "member_channel.delete")
    _by(removed, meg, lantern)
    assert removed.before == created.after and session.get(MemberChannel, row_id) is None


@pytest.mark.parametrize(("url", "shown"), [
    ("matrixs://bot:p@ss@matrix.example.org/!abc:example.org", "matrixs://matrix.example.org/…"),
    ("matrix://bot:pa/ss@matrix.example.org/%23room:example.org", "matrix://…/…"),
    ("json://user:secret@127.0.0.1:8080/hook", "json://127.0.0.1:8080/…"),
    ("tgram://123456789:ABCdefGh/-100123", "tgram://…/…"),
])
def test_a_masked_member_url_keeps_no_part_of_a_password(url: str, shown: str) -> None:
    assert channels.masked(MemberChannel(kind="apprise", url=url, room_id="")) == shown


def test_it_records_status_page_changes_with_before_and_after(client: FlaskClient, session: Session,
                                                              factory: Factory, lantern: Tenant, meg: Staff) -> None:
    path = "/api/v1/communities/lantern/status-page"
    _api(client, factory, meg, "PUT", path, {"enabled": True, "name": "Lantern status"}, status=200)
    [first] = _rows(session, "status_page.update")
    _by(first, meg, lantern)
    assert first.actor == "meg@example.test" and first.target == "status page"
    assert (first.before, first.after) == ({"enabled": False, "name": ""}, {"enabled": True, "name": "Lantern status"})
    _api(client, factory, meg, "PUT", path, {"enabled": True, "name": "Lantern status"}, status=200)
    _api(client, factory, meg, "PUT", path, {"enabled": False, "about": "x" * 1001}, status=422)
    assert len(_rows(session, "status_page.update")) == 1, "no change and a refused change write no row"
    assert _api(client, factory, meg, "GET", path, status=200)["enabled"] is True, "the refused change changed nothing"
    _api(client, factory, meg, "PUT", path, {"about": "Updates about the guild's chat."}, status=200)
    last = _rows(session, "status_page.update")[-1]
    assert (last.before, last.after) == ({"about": ""}, {"about": "Updates about the guild's chat."})


def test_it_records_rulebook_versions_from_sync_and_from_staff(client: FlaskClient, session: Session,
                                                               factory: Factory, lantern: Tenant, meg: Staff,
                                                               clock: FixedClock) -> None:
    rulebook.sync(session, clock=clock, actor="cli (ops)")
    session.commit()
    [synced] = _rows(session, "rulebook.version")
    assert (synced.actor, synced.community_id, synced.target, synced.before) == (
        "cli (ops)", lantern.community.id, "rules v1", None)
    assert synced.after is not None and synced.after["origin"] == "default" and synced.after["version"] == 1
    rulebook.sync(session, clock=clock, actor="cli (ops)")
    session.commit()
    assert len(_rows(session, "rulebook.version")) == 1, "an unchanged file stores nothing and writes no row"
    path = "/api/v1/communities/lantern/rules"
    rules = _api(client, factory, meg, "GET", path, status=200)["rules"]
    _api(client, factory, meg, "POST", path, {"rules": [{"id": "x", "title": "X", "ladder": [{"penalty": "mute"}]}]},
         status=422)
    _api(client, factory, meg, "POST", path, {"rules": rules}, status=422)  # nothing changed
    assert len(_rows(session, "rulebook.version")) == 1, "refused edits write no row"
    made = _api(client, factory, meg, "POST", path, {"rules": rules[:2], "comment": "two rules only"}, status=201)
    edited = _rows(session, "rulebook.version")[-1]
    _by(edited, meg, lantern)
    assert edited.actor == "meg@example.test" and edited.target == "rules v2"
    assert edited.before == {"version": 1}
    assert edited.after == {"version": 2, "origin": "api", "content_hash": made["content_hash"],
                            "comment": "two rules only"}
