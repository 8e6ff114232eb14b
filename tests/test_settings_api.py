"""Detector settings through the API: defaults, validation, roles, tenants, and effect."""
from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from crisis.detection import DetectorSettings
from tests.conftest import Factory, Tenant
from tests.openapi import assert_matches_spec

URL = "/api/v1/communities/{}/settings"


@pytest.fixture
def lantern(factory: Factory) -> Tenant:
    return factory.community("lantern")


def call(client: FlaskClient, method: str, slug: str, token: str, body: Any = None) -> Any:
    resp = client.open(URL.format(slug), method=method, json=body, headers={"Authorization": f"Bearer {token}"})
    assert_matches_spec(URL.format(slug), method, resp.status_code, resp.get_json())
    return resp


def token_for(factory: Factory, tenant: Tenant, role: str, email: str = "ann@example.test") -> str:
    return factory.personal_token(factory.staff(email, tenant.community, role).user)


def test_it_returns_the_defaults(client: FlaskClient, factory: Factory, lantern: Tenant) -> None:
    resp = call(client, "GET", "lantern", token_for(factory, lantern, "moderator"))
    assert resp.status_code == 200
    assert resp.get_json()["sensitivity"] == DetectorSettings().sensitivity


def test_it_stores_changes_a_manager_makes(client: FlaskClient, factory: Factory, lantern: Tenant) -> None:
    token = token_for(factory, lantern, "manager")
    body = {"sensitivity": "high", "allow_users": ["bot1"],
            "surge_windows": [{"start": "2026-10-06T18:00:00Z", "end": "2026-10-06T21:00:00Z", "factor": 4,
                               "label": "launch stream"}]}
    assert call(client, "PATCH", "lantern", token, body).status_code == 200
    got = call(client, "GET", "lantern", token).get_json()
    assert got["sensitivity"] == "high" and got["allow_users"] == ["bot1"]
    assert got["surge_windows"][0]["label"] == "launch stream"
    loaded = DetectorSettings.from_dict(lantern.community.settings or got)
    assert loaded.surge_factor(loaded.surge_windows[0].start + 60) == 4


def test_it_names_each_bad_setting(client: FlaskClient, factory: Factory, lantern: Tenant) -> None:
    token = token_for(factory, lantern, "admin")
    resp = call(client, "PATCH", "lantern", token, {
        "sensitivity": 9, "colour": "red", "enabled_kinds": ["raid", "meteor"],
        "surge_windows": [{"start": "2026-10-06T18:00:00Z", "end": "2026-10-06T17:00:00Z"}]})
    assert resp.status_code == 422
    fields = {e["field"] for e in resp.get_json()["errors"]}
    assert fields == {"sensitivity", "colour", "enabled_kinds", "surge_windows[0].end"}
    assert call(client, "GET", "lantern", token).get_json()["sensitivity"] == DetectorSettings().sensitivity


def test_it_refuses_changes_below_manager(client: FlaskClient, factory: Factory, lantern: Tenant) -> None:
    resp = call(client, "PATCH", "lantern", token_for(factory, lantern, "responder"), {"sensitivity": 0.5})
    assert resp.status_code == 403 and "manager" in resp.get_json()["message"]


def test_it_hides_another_communitys_settings(client: FlaskClient, factory: Factory, lantern: Tenant) -> None:
    factory.community("harbor")
    token = token_for(factory, lantern, "admin")
    assert call(client, "GET", "harbor", token).status_code == 404
    assert call(client, "PATCH", "harbor", token, {"sensitivity": 0.5}).status_code == 404


def test_it_refuses_ingest_tokens(client: FlaskClient, lantern: Tenant) -> None:
    assert call(client, "GET", "lantern", lantern.token).status_code == 403
