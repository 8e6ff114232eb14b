"""The PostgreSQL ingest path: token check and insert in one statement on a thread's own
connection (crisis.api.ingest._post_events_direct, crisis.ingest.pgdirect). The same answers as
the session path, in the same order; nothing stored for a token that may not store it."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from crisis import migrate, runtime
from crisis.api import ratelimit
from crisis.app import create_app
from crisis.clock import FixedClock, isoformat
from crisis.config import Config
from crisis.ingest.pgdirect import conninfo
from crisis.models import ApiToken, EventBatch, EventId
from tests.conftest import Factory
from tests.servers import PostgresServer

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_app(redis_config: Config, postgres_server: PostgresServer, clock: FixedClock,
           request: pytest.FixtureRequest) -> Iterator[Flask]:
    url = postgres_server.create_database(f"direct_{abs(hash(request.node.name)) % 10**8}")
    migrate.upgrade(url)
    app = create_app(replace(redis_config, database_url=url), clock=clock)
    app.config["RATELIMIT_INGEST"] = ratelimit.Limit(3, 3600)
    yield app
    runtime.reset()


@pytest.fixture
def pg_session(pg_app: Flask) -> Iterator[Session]:
    s = pg_app.extensions["crisis"].sessions()
    yield s
    s.close()


@pytest.fixture
def pg_factory(pg_session: Session, clock: FixedClock) -> Factory:
    return Factory(pg_session, clock)


def _events(clock: FixedClock, *ids: str) -> list[dict[str, Any]]:
    return [{"id": i, "type": "message.create", "ts": isoformat(clock.now() - timedelta(seconds=1)),
             "actor": {"id": "u1"}, "content": "hi"} for i in ids]


def _post(client: FlaskClient, slug: str, token: str, body: Any) -> Any:
    return client.post(f"/api/v1/communities/{slug}/events", json=body, headers={"Authorization": f"Bearer {token}"})


def _stored(session: Session) -> int:
    session.expire_all()
    assert (session.scalar(select(func.sum(EventBatch.count))) or 0) == session.scalar(
        select(func.count()).select_from(EventId))
    return int(session.scalar(select(func.count()).select_from(EventId)) or 0)


def test_it_stores_once_and_counts_repeats_on_the_direct_path(pg_app: Flask, pg_factory: Factory,
                                                               pg_session: Session, clock: FixedClock) -> None:
    lantern = pg_factory.community("lantern")
    client = pg_app.test_client()
    assert _post(client, "lantern", lantern.token, _events(clock, "a", "b")).get_json() == \
        {"accepted": 2, "duplicates": 0}
    assert _post(client, "lantern", lantern.token, _events(clock, "b", "c", "c")).get_json() == \
        {"accepted": 1, "duplicates": 2}
    assert _stored(pg_session) == 3
    token = pg_session.get(ApiToken, lantern.token_id)
    assert token is not None and token.last_used_at == clock.now()


def test_a_batch_with_stored_ids_falls_back_and_keeps_only_its_new_ones(pg_app: Flask, pg_factory: Factory,
                                                                         pg_session: Session,
                                                                         clock: FixedClock) -> None:
    # All-new batches skip ON CONFLICT (crisis.ingest.store._PG_STORE_NEW); one stored id fails
    # that statement on the unique key, and the batch is stored by the other one.
    pg_app.config["RATELIMIT_INGEST"] = ratelimit.Limit(10, 3600)
    lantern = pg_factory.community("lantern")
    client = pg_app.test_client()
    for ids, answer in ((("a", "b"), {"accepted": 2, "duplicates": 0}),
                        (("a", "c"), {"accepted": 1, "duplicates": 1}),
                        (("a", "b", "c"), {"accepted": 0, "duplicates": 3}),
                        (("d",), {"accepted": 1, "duplicates": 0})):
        assert _post(client, "lantern", lantern.token, _events(clock, *ids)).get_json() == answer
    pg_session.expire_all()
    batches = pg_session.scalars(select(EventBatch).order_by(EventBatch.seq)).all()
    assert [(b.count, b.fresh) for b in batches] == [(2, None), (1, ["c"]), (1, None)]
    assert _stored(pg_session) == 4


def test_another_communitys_token_stores_nothing_and_hears_why_before_the_body(
        pg_app: Flask, pg_factory: Factory, pg_session: Session, clock: FixedClock) -> None:
    lantern, harbor = pg_factory.community("lantern"), pg_factory.community("harbor")
    client = pg_app.test_client()
    assert _post(client, "harbor", lantern.token, _events(clock, "a")).status_code == 403
    assert _post(client, "harbor", "not-a-token", [{"id": "garbage"}]).status_code == 401
    assert _post(client, "nowhere", lantern.token, [{"id": "garbage"}]).status_code == 404
    assert _post(client, "harbor", harbor.token, [{"id": "garbage"}]).status_code == 422
    assert _stored(pg_session) == 0


def test_a_revoked_token_is_refused_even_after_it_stored_through_this_process(
        pg_app: Flask, pg_factory: Factory, pg_session: Session, clock: FixedClock) -> None:
    lantern = pg_factory.community("lantern")
    client = pg_app.test_client()
    assert _post(client, "lantern", lantern.token, _events(clock, "a")).status_code == 202
    pg_session.execute(update(ApiToken).where(ApiToken.id == lantern.token_id).values(revoked_at=clock.now()))
    pg_session.commit()
    assert _post(client, "lantern", lantern.token, _events(clock, "b")).status_code == 401
    assert _post(client, "lantern", lantern.token, [{"id": "garbage"}]).status_code == 401
    assert _stored(pg_session) == 1


def test_a_dead_connection_is_replaced_and_the_batch_stored_once(
        pg_app: Flask, pg_factory: Factory, pg_session: Session, clock: FixedClock) -> None:
    lantern = pg_factory.community("lantern")
    client = pg_app.test_client()
    assert _post(client, "lantern", lantern.token, _events(clock, "a")).status_code == 202
    url = pg_app.extensions["crisis"].config.database_url
    with psycopg.connect(conninfo(url), autocommit=True) as admin:
        killed = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                               "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchone()
    assert killed is not None and killed[0] >= 1
    pg_session.rollback()
    assert _post(client, "lantern", lantern.token, _events(clock, "b")).get_json() == \
        {"accepted": 1, "duplicates": 0}
    assert _stored(pg_session) == 2


def test_refused_bodies_count_against_the_limit_on_the_direct_path(
        pg_app: Flask, pg_factory: Factory, clock: FixedClock) -> None:
    lantern = pg_factory.community("lantern")
    client = pg_app.test_client()
    assert [_post(client, "lantern", lantern.token, [{"id": "x"}]).status_code for _ in range(3)] == [422] * 3
    late = _post(client, "lantern", lantern.token, _events(clock, "a"))
    assert late.status_code == 429 and int(late.headers["Retry-After"]) >= 1
