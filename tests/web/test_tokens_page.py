"""The token pages: a person's own personal tokens, a community's ingest tokens (admins):
the secret shown once, scopes and expiry chosen, last use shown, revocation at once, and
no reach into another person's or community's tokens."""
from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.clock import FixedClock
from crisis.models import ApiToken
from crisis.tenancy import tokens
from crisis.tenancy.credentials import hash_token
from tests.conftest import Factory
from tests.web.conftest import Team, as_user, post


def _secret(html: str) -> str:
    match = re.search(r'id="issued-secret">([^<]+)<', html)
    assert match, "the answer shows the new secret"
    return match.group(1)


def test_a_person_creates_a_scoped_expiring_token_and_sees_the_secret_once(client: FlaskClient, team: Team,
                                                                           session: Session,
                                                                           clock: FixedClock) -> None:
    as_user(client, team.responder)
    resp = post(client, "/account/tokens", {"name": "bot", "scopes": "incidents:read", "expires": "30d"},
                page="/account/tokens")
    assert resp.status_code == 201 and resp.headers["Cache-Control"] == "no-store"
    secret = _secret(resp.get_data(as_text=True))
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
    assert row is not None and row.scopes == ["incidents:read"] and row.user_id == team.responder.user.id
    assert row.expires_at is not None and (row.expires_at - clock.now()).days == 30
    client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {secret}"})
    again = client.get("/account/tokens").get_data(as_text=True)
    assert secret not in again and row.prefix in again and "2026-10-05 12:00" in again, "last use is shown"


def test_bad_input_is_named_and_nothing_is_created(client: FlaskClient, team: Team, session: Session) -> None:
    as_user(client, team.responder)
    resp = post(client, "/account/tokens", {"name": "x", "expires": "date", "expires_on": "2020-01-01"},
                page="/account/tokens")
    assert resp.status_code == 422 and "expires: must be in the future" in resp.get_data(as_text=True)
    resp = post(client, "/account/tokens", {"name": "x", "expires": "7d"}, page="/account/tokens")
    assert resp.status_code == 422 and "scopes: pick at least one" in resp.get_data(as_text=True)
    assert session.scalar(select(ApiToken).where(ApiToken.name == "x")) is None


def test_revoking_stops_the_token_and_another_persons_token_is_out_of_reach(client: FlaskClient, team: Team,
                                                                            factory: Factory,
                                                                            session: Session) -> None:
    mine = factory.personal_token(team.responder.user)
    theirs = factory.personal_token(team.manager.user)
    ids = {s: session.scalar(select(ApiToken.id).where(ApiToken.token_hash == hash_token(s))) for s in (mine, theirs)}
    as_user(client, team.responder)
    post(client, f"/account/tokens/{ids[theirs]}/revoke", page="/account/tokens")
    post(client, f"/account/tokens/{ids[mine]}/revoke", page="/account/tokens")
    session.expire_all()
    assert session.get(ApiToken, ids[theirs]).revoked_at is None  # type: ignore[union-attr]
    assert client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {mine}"}).status_code == 401
    assert "revoked" in client.get("/account/tokens").get_data(as_text=True)


def test_ingest_tokens_are_for_the_communitys_admins(client: FlaskClient, team: Team, factory: Factory,
                                                     session: Session, clock: FixedClock) -> None:
    as_user(client, team.manager)
    assert client.get("/c/lantern/tokens").status_code == 403
    admin = factory.staff("ada@example.test", team.tenant.community, "admin")
    harbor = factory.community("harbor")
    as_user(client, admin)
    page = client.get("/c/lantern/tokens").get_data(as_text=True)
    assert "events:write" in page and 'name="scopes"' not in page, "an ingest token's scope is fixed"
    resp = post(client, "/c/lantern/tokens", {"name": "bridge", "expires": "never"}, page="/c/lantern/tokens")
    secret = _secret(resp.get_data(as_text=True))
    row = tokens.find(session, secret)
    assert row is not None and row.community_id == team.tenant.community.id and row.expires_at is None
    assert client.get("/c/harbor/tokens").status_code == 404
    post(client, f"/c/lantern/tokens/{harbor.token_id}/revoke", page="/c/lantern/tokens")
    session.expire_all()
    assert session.get(ApiToken, harbor.token_id).revoked_at is None  # type: ignore[union-attr]
