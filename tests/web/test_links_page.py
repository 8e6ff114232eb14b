"""Linking Matrix rooms from the settings page: admins only, the registration file shown
once on the answer and nowhere after, bad input named on the page, and the links' health."""
from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.models import PlatformLink
from tests.conftest import Factory
from tests.web.conftest import Team, as_user, post

FORM = {"homeserver": "http://127.0.0.1:8008", "server_name": "localhost",
        "rooms": "!AbCdEf123=general\n!XyZ987=offtopic", "silence_after": "45"}


def test_an_admin_links_rooms_and_sees_the_registration_once(client: FlaskClient, team: Team, factory: Factory,
                                                             session: Session) -> None:
    admin = factory.staff("ada@example.test", team.tenant.community, "admin")
    as_user(client, admin)
    resp = post(client, "/c/lantern/settings/links", FORM, page="/c/lantern/settings")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 201 and "hs_token:" in html and "as_token:" in html
    link = session.scalar(select(PlatformLink))
    assert link is not None and link.rooms == {"!AbCdEf123": "general", "!XyZ987": "offtopic"}
    assert link.silence_after_s == 45 * 60
    again = client.get("/c/lantern/settings").get_data(as_text=True)
    assert "hs_token" not in again and "#offtopic" in again and "@crisis_lantern:localhost" in again


def test_bad_input_is_named_on_the_page_and_nothing_is_linked(client: FlaskClient, team: Team, factory: Factory,
                                                              session: Session) -> None:
    admin = factory.staff("ada@example.test", team.tenant.community, "admin")
    as_user(client, admin)
    resp = post(client, "/c/lantern/settings/links", {**FORM, "rooms": "#alias:localhost"},
                page="/c/lantern/settings")
    assert resp.status_code == 422 and "is not a Matrix room id" in resp.get_data(as_text=True)
    assert session.scalar(select(PlatformLink)) is None


def test_a_manager_may_not_link_rooms(client: FlaskClient, team: Team, session: Session) -> None:
    as_user(client, team.manager)
    resp = post(client, "/c/lantern/settings/links", FORM, page="/c/lantern/settings")
    assert resp.status_code == 403
    assert session.scalar(select(PlatformLink)) is None


def test_a_silence_threshold_that_is_not_whole_minutes_is_refused(client: FlaskClient, team: Team,
                                                                  factory: Factory, session: Session) -> None:
    admin = factory.staff("ada@example.test", team.tenant.community, "admin")
    as_user(client, admin)
    resp = post(client, "/c/lantern/settings/links", {**FORM, "silence_after": "ten"}, page="/c/lantern/settings")
    assert resp.status_code == 422 and "whole number of minutes" in resp.get_data(as_text=True)
    assert session.scalar(select(PlatformLink)) is None
