"""Login, CSRF, sessions and the community page, without a browser."""
from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from tests.conftest import Factory, Tenant


def csrf(client: FlaskClient, path: str = "/login") -> str:
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="_csrf" value="([^"]+)"', html)
    assert match, "no CSRF field on the form"
    return match.group(1)


def login(client: FlaskClient, email: str, password: str) -> int:
    token = csrf(client)
    return client.post("/login", data={"email": email, "password": password, "_csrf": token}).status_code


@pytest.fixture
def lantern(factory: Factory) -> Tenant:
    return factory.community("lantern")


def test_it_redirects_anonymous_users_to_login(client: FlaskClient) -> None:
    resp = client.get("/c/lantern")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_it_logs_in_with_the_right_password(client: FlaskClient, factory: Factory, lantern: Tenant) -> None:
    factory.staff("ann@example.test", lantern.community, "moderator")
    assert login(client, "ann@example.test", "correct horse battery") == 302
    assert "Lantern" in client.get("/").get_data(as_text=True)


def test_it_refuses_a_wrong_password(client: FlaskClient, factory: Factory, lantern: Tenant) -> None:
    factory.staff("ann@example.test", lantern.community)
    assert login(client, "ann@example.test", "wrong") == 401


def test_it_locks_an_account_after_repeated_failures(client: FlaskClient, factory: Factory,
                                                     lantern: Tenant) -> None:
    factory.staff("ann@example.test", lantern.community)
    for _ in range(5):
        login(client, "ann@example.test", "wrong")
    assert login(client, "ann@example.test", "correct horse battery") == 401


def test_it_refuses_a_form_without_its_csrf_token(client: FlaskClient, factory: Factory, lantern: Tenant) -> None:
    factory.staff("ann@example.test", lantern.community)
    client.get("/login")
    resp = client.post("/login", data={"email": "ann@example.test", "password": "correct horse battery"})
    assert resp.status_code == 400


def test_it_hides_other_communities_from_staff(client: FlaskClient, factory: Factory, lantern: Tenant) -> None:
    factory.community("harbor")
    factory.staff("ann@example.test", lantern.community)
    login(client, "ann@example.test", "correct horse battery")
    assert client.get("/c/lantern").status_code == 200
    assert client.get("/c/harbor").status_code == 404
    assert client.get("/c/harbor/activity.json").status_code == 404


def test_it_shows_events_per_minute_by_type(client: FlaskClient, factory: Factory, lantern: Tenant) -> None:
    factory.staff("ann@example.test", lantern.community)
    login(client, "ann@example.test", "correct horse battery")
    events = [{"id": f"e{i}", "type": t, "ts": f"2026-10-05T11:5{i}:00Z", "actor": {"id": "u1"}}
              for i, t in enumerate(["member.join", "message.create", "message.create"])]
    client.post("/api/v1/communities/lantern/events", json=events,
                headers={"Authorization": f"Bearer {lantern.token}"})
    data = client.get("/c/lantern/activity.json").get_json()
    assert sum(data["series"]["message.create"]) == 2
    assert sum(data["series"]["member.join"]) == 1


def test_it_escapes_user_content_in_pages(client: FlaskClient, factory: Factory, lantern: Tenant) -> None:
    from crisis.tenancy.communities import create_user, grant_role

    user, _ = create_user(factory.session, "eve@example.test", password="correct horse battery",
                          clock=factory.clock, display_name="<script>alert(1)</script>")
    grant_role(factory.session, user, lantern.community, "admin")
    lantern.community.name = "<img src=x onerror=alert(1)>"
    factory.session.commit()
    login(client, "eve@example.test", "correct horse battery")
    html = client.get("/").get_data(as_text=True)
    assert "<img src=x" not in html and "&lt;img src=x" in html


def test_it_sends_security_headers(client: FlaskClient) -> None:
    resp = client.get("/login")
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]


def test_it_answers_health_checks(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_it_reports_what_is_not_ready(client: FlaskClient) -> None:
    resp = client.get("/readyz")
    assert resp.status_code == 503  # the test config points Redis at a closed port
    assert "redis" in resp.get_json()["problems"]


def test_it_is_ready_when_database_and_redis_answer(redis_url: str, config: object, clock: object) -> None:
    from dataclasses import replace

    from crisis import runtime
    from crisis.app import create_app

    app = create_app(replace(config, redis_url=redis_url), clock=clock)  # type: ignore[type-var]
    assert app.test_client().get("/readyz").get_json() == {"status": "ready"}
    runtime.reset()
