"""Token scopes and expiry: every API route needs a named scope, a token outside it hears
403 naming that scope, a token past its expiry hears 401 saying when, on the staff API and
on both ingest paths; existing tokens keep today's rights through the migration."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from crisis import migrate
from crisis.api import scopes
from crisis.clock import FixedClock, isoformat
from crisis.config import Config
from crisis.db import make_engine
from crisis.models import ApiToken, AuditEntry
from crisis.tenancy import tokens
from tests.conftest import Factory, Staff, Tenant
from tests.engine.openapi_check import check
from tests.servers import PostgresServer
from tests.test_cli import crisis
from tests.test_ingest_direct import pg_app, pg_factory, pg_session  # noqa: F401 -- fixtures

# Routes no token reaches: probes, the document, and senders that present keys of their own.
PUBLIC_API = {"openapi.openapi_json", "api_alerts.alertmanager_webhook", "api_alerts.generic_webhook",
              "api_alerts.enqueue_api", "api_members.public_status"}  # no token: the status page as JSON


def _event(clock: FixedClock, eid: str = "e1") -> list[dict[str, object]]:
    return [{"id": eid, "type": "message.create", "ts": isoformat(clock.now() - timedelta(seconds=1)),
             "actor": {"id": "u1"}, "content": "hi"}]


@pytest.fixture
def ann(factory: Factory) -> tuple[Tenant, Staff]:
    tenant = factory.community("lantern")
    return tenant, factory.staff("ann@example.test", tenant.community, "admin")


def test_every_api_route_names_the_scope_it_needs(app: Flask) -> None:
    endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.rule.startswith("/api/")} - PUBLIC_API
    missing = sorted(endpoints - set(scopes.BY_ENDPOINT))
    assert not missing, f"routes without a scope in crisis.api.scopes (they fall back to admin): {missing}"
    assert set(scopes.BY_ENDPOINT.values()) <= set(tokens.SCOPES)
    assert not set(scopes.BY_ENDPOINT) - endpoints, "the table names routes that do not exist"


def test_a_token_outside_its_scope_hears_which_scope_the_route_needs(client: FlaskClient, factory: Factory,
                                                                     ann: tuple[Tenant, Staff], clock: FixedClock,
                                                                     session: Session) -> None:
    _tenant, staff = ann
    issued = tokens.issue(session, "personal", clock=clock, actor="test", user=staff.user, scopes=["incidents:read"])
    session.commit()
    headers = {"Authorization": f"Bearer {issued.token}"}
    assert client.get("/api/v1/incidents", headers=headers).status_code == 200
    refused = client.post("/api/v1/incidents", headers=headers, json={"community": "lantern", "kind": "raid",
                                                                        "severity": "sev2", "title": "x"})
    body = check(refused, "/api/v1/incidents", "POST")
    assert refused.status_code == 403 and body["error"] == "insufficient_scope" and body["scope"] == "incidents:write"
    assert "lacks the incidents:write scope" in body["message"] and "its scopes: incidents:read" in body["message"]
    assert 'scope="incidents:write"' in refused.headers["WWW-Authenticate"]
    audit = client.get("/api/v1/communities/lantern/audit", headers=headers)
    assert audit.status_code == 403 and audit.get_json()["scope"] == "admin"


def test_admin_includes_every_other_scope_but_never_more_than_the_role(client: FlaskClient, factory: Factory,
                                                                       ann: tuple[Tenant, Staff],
                                                                       clock: FixedClock, session: Session) -> None:
    tenant, _staff = ann
    mo = factory.staff("mo@example.test", tenant.community, "moderator")
    for user, status in ((ann[1].user, 200), (mo.user, 403)):
        issued = tokens.issue(session, "personal", clock=clock, actor="test", user=user, scopes=["admin"])
        session.commit()
        resp = client.patch("/api/v1/communities/lantern/settings", json={"sensitivity": "high"},
                            headers={"Authorization": f"Bearer {issued.token}"})
        assert resp.status_code == status, resp.get_json()
    assert "manager role" in resp.get_json()["message"], "the moderator's refusal is about the role, not the scope"


def test_an_expired_token_hears_when_it_expired(client: FlaskClient, ann: tuple[Tenant, Staff],
                                                clock: FixedClock, session: Session) -> None:
    _tenant, staff = ann
    issued = tokens.issue(session, "personal", clock=clock, actor="test", user=staff.user,
                          expires_at=clock.now() + timedelta(hours=1))
    session.commit()
    headers = {"Authorization": f"Bearer {issued.token}"}
    assert client.get("/api/v1/incidents", headers=headers).status_code == 200
    clock.advance(timedelta(hours=1))
    resp = client.get("/api/v1/incidents", headers=headers)
    body = check(resp, "/api/v1/incidents")
    assert resp.status_code == 401 and body["error"] == "token_expired"
    assert body["expired_at"] == "2026-10-05T13:00:00.000Z" and "expired at 2026-10-05T13:00:00.000Z" in body["message"]


def test_staff_reads_record_when_the_token_was_last_used(client: FlaskClient, ann: tuple[Tenant, Staff],
                                                         factory: Factory, clock: FixedClock,
                                                         session: Session) -> None:
    secret = factory.personal_token(ann[1].user)
    client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {secret}"})
    session.expire_all()
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == tokens.hash_token(secret)))
    assert row is not None and row.last_used_at == clock.now()


def _ingest_refusals(client: FlaskClient, tenant: Tenant, session: Session, clock: FixedClock) -> None:
    path = f"/api/v1/communities/{tenant.community.slug}/events"
    headers = {"Authorization": f"Bearer {tenant.token}"}
    assert client.post(path, json=_event(clock, "ok"), headers=headers).status_code == 202
    session.execute(update(ApiToken).where(ApiToken.id == tenant.token_id).values(scopes=[]))
    session.commit()
    refused = client.post(path, json=_event(clock, "no-scope"), headers=headers)
    assert refused.status_code == 403 and refused.get_json()["scope"] == "events:write"
    session.execute(update(ApiToken).where(ApiToken.id == tenant.token_id)
                    .values(scopes=["events:write"], expires_at=clock.now()))
    session.commit()
    expired = client.post(path, json=_event(clock, "late"), headers=headers)
    assert expired.status_code == 401 and expired.get_json()["error"] == "token_expired"


def test_ingest_refuses_expired_and_unscoped_tokens(client: FlaskClient, factory: Factory, session: Session,
                                                    clock: FixedClock) -> None:
    _ingest_refusals(client, factory.community("lantern"), session, clock)


@pytest.mark.postgres
def test_the_postgresql_hot_path_refuses_them_too(pg_app: Flask, pg_factory: Factory,  # noqa: F811
                                                  pg_session: Session, clock: FixedClock) -> None:  # noqa: F811
    from crisis.models import EventId

    _ingest_refusals(pg_app.test_client(), pg_factory.community("lantern"), pg_session, clock)
    pg_session.expire_all()
    assert list(pg_session.scalars(select(EventId.event_id))) == ["ok"], "nothing stored past the refusals"


def test_expiry_and_scope_input_is_checked(clock: FixedClock) -> None:
    now = clock.now()
    assert tokens.parse_expiry("30d", now) == now + timedelta(days=30)
    assert tokens.parse_expiry("2027-01-31", now) == datetime(2027, 1, 31, tzinfo=timezone.utc)
    assert tokens.parse_expiry("never", now) is None
    for raw, message in (("yesterday", "is not 30d"), ("2026-10-01", "in the future"),
                         ("2027-01-31T12:00:00", "needs a zone"), ("4000d", "three years")):
        with pytest.raises(tokens.TokenError, match=message):
            tokens.parse_expiry(raw, now)
    with pytest.raises(tokens.TokenError, match="not a scope a ingest token can have"):
        tokens.parse_scopes("ingest", ["admin"])
    with pytest.raises(tokens.TokenError, match="pick at least one"):
        tokens.parse_scopes("personal", [])
    assert tokens.parse_scopes("personal", ["admin", "incidents:read"]) == ["incidents:read", "admin"]


def _existing_tokens_keep_their_rights(url: str) -> None:
    migrate.upgrade(url, "0010")
    engine = make_engine(url)
    now = datetime(2026, 10, 5, 12, 0, tzinfo=timezone.utc)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO communities (id, slug, name, platform, locale, timezone, settings, created_at) "
                          "VALUES (1, 'lantern', 'Lantern', 'other', 'en', 'UTC', '{}', :now)"), {"now": now})
        conn.execute(text("INSERT INTO users (id, email, display_name, password_hash, failed_logins, created_at) "
                          "VALUES (1, 'a@example.test', 'A', 'x', 0, :now)"), {"now": now})
        for tid, kind, cid, uid in ((1, "ingest", 1, None), (2, "personal", None, 1)):
            conn.execute(text("INSERT INTO api_tokens (id, kind, community_id, user_id, prefix, token_hash, name, "
                              "created_at) VALUES (:id, :kind, :cid, :uid, 'p', :hash, '', :now)"),
                         {"id": tid, "kind": kind, "cid": cid, "uid": uid, "hash": f"h{tid}", "now": now})
    migrate.upgrade(url)
    with engine.connect() as conn:
        rows = {kind: (json.loads(s) if isinstance(s, str) else s, exp) for kind, s, exp in
                conn.execute(text("SELECT kind, scopes, expires_at FROM api_tokens"))}
    assert rows["ingest"] == (["events:write"], None)
    assert rows["personal"] == (list(tokens.KIND_SCOPES["personal"]), None)
    migrate.downgrade(url, "0010")
    engine.dispose()


def test_the_migration_gives_existing_tokens_todays_rights_on_sqlite(tmp_path: Path) -> None:
    _existing_tokens_keep_their_rights(f"sqlite:///{tmp_path / 'm.db'}")


@pytest.mark.postgres
def test_the_migration_gives_existing_tokens_todays_rights_on_postgresql(postgres_server: PostgresServer) -> None:
    _existing_tokens_keep_their_rights(postgres_server.create_database("token_rights"))


def test_the_cli_issues_scoped_expiring_tokens_lists_and_revokes_them(config: Config, session: Session) -> None:
    crisis(config, "community", "create", "lantern")
    crisis(config, "user", "create", "ann@example.test", "--community", "lantern", "--role", "admin",
           stdin="a long password\n")
    out = crisis(config, "user", "token", "ann@example.test", "--scope", "incidents:read", "--expires", "30d",
                 "--name", "bot", "--json")
    assert out.returncode == 0, out.stderr
    issued = json.loads(out.stdout)
    assert issued["scopes"] == ["incidents:read"] and issued["expires_at"]
    listed = json.loads(crisis(config, "user", "tokens", "ann@example.test", "--json").stdout)
    assert [(t["id"], t["state"], t["name"]) for t in listed] == [(issued["id"], "active", "bot")]
    assert "token" not in listed[0], "a listing never shows a secret"
    bad = crisis(config, "token", "create", "lantern", "--expires", "soon")
    assert bad.returncode == 1 and "expires: 'soon'" in bad.stderr
    assert crisis(config, "token", "revoke", str(issued["id"])).returncode == 0
    ingest = json.loads(crisis(config, "token", "list", "lantern", "--json").stdout)
    assert [t["scopes"] for t in ingest] == [["events:write"]]
    actors = {(a, actor.split(" ")[0]) for a, actor in session.execute(select(AuditEntry.action, AuditEntry.actor))}
    assert {("token.create", "cli"), ("token.revoke", "cli"), ("role.grant", "cli")} <= actors
