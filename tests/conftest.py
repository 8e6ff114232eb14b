"""Shared fixtures: a migrated SQLite database per test (copied from one template
migrated once per session), a fixed clock, the app, and real servers on demand."""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from crisis import migrate, runtime
from crisis.app import create_app
from crisis.clock import FixedClock
from crisis.config import Config
from crisis.models import Community, User
from crisis.tenancy import communities
from tests.servers import PostgresServer, RedisServer, postgres_available

CURRENT_TIME = datetime(2026, 10, 5, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "crisis.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(CURRENT_TIME)


@pytest.fixture
def config(tmp_path: Path, migrated_template: Path) -> Config:
    db_path = tmp_path / "crisis.db"
    shutil.copy(migrated_template, db_path)
    return Config(var_dir=tmp_path, database_url=f"sqlite:///{db_path}", redis_url="redis://127.0.0.1:1/0",
                  secret_key="test-secret-key-0123456789", testing=True, sync_jobs=True)


@pytest.fixture
def app(config: Config, clock: FixedClock) -> Iterator[Flask]:
    application = create_app(config, clock=clock)
    yield application
    runtime.reset()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def rt(app: Flask) -> runtime.Runtime:
    return app.extensions["crisis"]  # type: ignore[no-any-return]


@pytest.fixture
def session(rt: runtime.Runtime) -> Iterator[Session]:
    s = rt.sessions()
    yield s
    s.close()


@dataclass
class Tenant:
    community: Community
    token: str
    token_id: int


@dataclass
class Staff:
    user: User
    password: str


class Factory:
    """Builds named tenants and staff; commits so the app's own sessions see them."""

    def __init__(self, session: Session, clock: FixedClock) -> None:
        self.session = session
        self.clock = clock

    def community(self, slug: str = "lantern") -> Tenant:
        community, issued = communities.create_community(self.session, slug, name=slug.title(), clock=self.clock)
        self.session.commit()
        return Tenant(community, issued.token, issued.id)

    def staff(self, email: str, community: Community, role: str = "responder",
              password: str = "correct horse battery") -> Staff:
        user, used = communities.create_user(self.session, email, password=password, clock=self.clock)
        communities.grant_role(self.session, user, community, role)
        self.session.commit()
        return Staff(user, used)

    def personal_token(self, user: User) -> str:
        issued = communities.issue_personal_token(self.session, user, clock=self.clock)
        self.session.commit()
        return issued.token


@pytest.fixture
def factory(session: Session, clock: FixedClock) -> Factory:
    return Factory(session, clock)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.cleanup()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    from redis import Redis

    if redis_server.proc is None:
        redis_server.start()
    Redis.from_url(redis_server.url).flushall()
    return redis_server.url


@pytest.fixture
def redis_config(config: Config, redis_url: str) -> Config:
    """Config with a real Redis and asynchronous jobs (for tests that run real workers)."""
    return replace(config, redis_url=redis_url, sync_jobs=False)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    if not postgres_available():
        if os.environ.get("TEST_REQUIRE_SERVERS"):
            pytest.fail("PostgreSQL is required (TEST_REQUIRE_SERVERS) but not installed; run make system-deps")
        pytest.skip("PostgreSQL binaries are not installed")
    server = PostgresServer().start()
    yield server
    server.stop()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright, one per session. Defined here, once: a second
    definition in another module would start a second sync_playwright in the same thread."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("TEST_REQUIRE_SERVERS"):
            pytest.fail("Chromium is required (TEST_REQUIRE_SERVERS) but not installed; run make system-deps")
        pytest.skip("Chromium is not installed (make system-deps)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()
