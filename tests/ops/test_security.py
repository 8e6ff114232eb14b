"""Rate limits (429 + Retry-After), security headers behind a TLS proxy, and tokens never logged."""
from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

import pytest
from flask import Flask

from crisis import runtime
from crisis.api import ratelimit
from crisis.app import create_app
from crisis.clock import FixedClock, isoformat
from crisis.config import Config
from tests.conftest import Factory


@pytest.fixture
def limited_app(redis_config: Config, clock: FixedClock) -> Flask:
    app = create_app(redis_config, clock=clock)
    # The limiter's fixed windows follow the wall clock: hour-long windows, so a test's few
    # requests cannot straddle an edge (five login requests once did in CI, and counted again).
    app.config["RATELIMIT_INGEST"] = ratelimit.Limit(3, 3600)
    app.config["RATELIMIT_LOGIN_ADDRESS"] = ratelimit.Limit(4, 3600)
    yield app
    runtime.reset()


def _event(clock: FixedClock, i: int) -> dict[str, object]:
    return {"id": f"r{i}", "type": "message.create", "ts": isoformat(clock.now() - timedelta(seconds=1)),
            "actor": {"id": "u1"}, "content": "hi"}


def test_it_limits_ingest_per_token_with_retry_after(limited_app: Flask, factory: Factory,
                                                     clock: FixedClock) -> None:
    tenant = factory.community("lantern")
    client = limited_app.test_client()
    auth = {"Authorization": f"Bearer {tenant.token}"}
    codes = [client.post("/api/v1/communities/lantern/events", json=[_event(clock, i)], headers=auth)
             for i in range(4)]
    assert [r.status_code for r in codes] == [202, 202, 202, 429]
    assert 1 <= int(codes[-1].headers["Retry-After"]) <= 3600
    assert codes[-1].get_json()["error"] == "rate_limited"


def test_refused_bodies_count_against_the_ingest_limit_too(limited_app: Flask, factory: Factory,
                                                             clock: FixedClock) -> None:
    tenant = factory.community("lantern")
    client = limited_app.test_client()
    auth = {"Authorization": f"Bearer {tenant.token}"}
    bad = [client.post("/api/v1/communities/lantern/events", json=[{"id": "x"}], headers=auth) for _ in range(3)]
    assert [r.status_code for r in bad] == [422, 422, 422]
    late = client.post("/api/v1/communities/lantern/events", json=[_event(clock, 9)], headers=auth)
    assert late.status_code == 429


def test_it_limits_login_attempts_with_retry_after(limited_app: Flask) -> None:
    client = limited_app.test_client()
    with client.session_transaction() as sess:
        sess["_csrf"] = "csrf-token"
    statuses = []
    for i in range(5):
        resp = client.post("/login", data={"email": f"who{i}@example.test", "password": "x", "_csrf": "csrf-token"})
        statuses.append(resp.status_code)
    assert statuses[-1] == 429 and 429 not in statuses[:4]
    assert int(resp.headers["Retry-After"]) >= 1


def test_it_lets_requests_through_when_redis_is_down(client, factory: Factory, clock: FixedClock) -> None:  # type: ignore[no-untyped-def]
    from redis import Redis

    limits = ratelimit.RateLimits(lambda: Redis.from_url("redis://127.0.0.1:1/0"))
    assert limits.hit("x", ratelimit.Limit(1, 60)) is None


def test_it_sends_security_headers_and_hsts_behind_a_tls_proxy(config: Config, clock: FixedClock) -> None:
    app = create_app(replace(config, base_url="https://crisis.example"), clock=clock)
    client = app.test_client()
    plain = client.get("/login")
    assert plain.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in plain.headers["Content-Security-Policy"]
    assert plain.headers["X-Content-Type-Options"] == "nosniff"
    proxied = client.get("/login", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
    assert "max-age=" in proxied.headers["Strict-Transport-Security"]
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]
    runtime.reset()


def test_it_never_logs_tokens(client, factory: Factory, clock: FixedClock, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    tenant = factory.community("lantern")
    caplog.set_level(logging.DEBUG)
    auth = {"Authorization": f"Bearer {tenant.token}"}
    client.post("/api/v1/communities/lantern/events", json=[_event(clock, 1)], headers=auth)
    client.post("/api/v1/communities/lantern/events", json=[{"bad": 1}], headers=auth)
    client.post("/api/v1/communities/lantern/events", json=[], headers={"Authorization": "Bearer " + tenant.token[:-2]})
    client.get("/metrics")
    assert tenant.token not in caplog.text and tenant.token[:-2] not in caplog.text
