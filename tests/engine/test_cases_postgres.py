"""Cases, penalties and appeals on PostgreSQL, the production database: reports through the
ingest API become cases in the drain (the two-statement insert with RETURNING in order),
a queue decision applies a rule's penalty, an appeal lifts it, the record reads back."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from flask import Flask
from sqlalchemy import select

from crisis import migrate, runtime
from crisis.app import create_app
from crisis.cases import review, service
from crisis.clock import FixedClock
from crisis.config import Config
from crisis.models import Case, CaseEvent, Role
from crisis.moderation import appeals, penalties, rulebook
from crisis.moderation.penalties import By
from tests.conftest import Factory
from tests.servers import PostgresServer

pytestmark = pytest.mark.postgres
BOB = By("Bob", None, Role.RESPONDER)


@pytest.fixture
def pg_app(config: Config, postgres_server: PostgresServer, clock: FixedClock,
           request: pytest.FixtureRequest) -> Iterator[Flask]:
    url = postgres_server.create_database(f"cases_{abs(hash(request.node.name)) % 10**8}")
    migrate.upgrade(url)
    app = create_app(replace(config, database_url=url), clock=clock)
    yield app
    runtime.reset()


def test_reports_become_cases_and_a_penalty_is_applied_and_lifted_on_postgresql(pg_app: Flask,
                                                                                 clock: FixedClock) -> None:
    sessions = pg_app.extensions["crisis"].sessions
    with sessions() as session:
        tenant = Factory(session, clock).community("lantern")
        rulebook.sync(session, clock=clock)
        session.commit()
    events = [{"id": f"r{i}", "type": "report.create", "ts": "2026-10-05T11:59:00Z", "actor": {"id": f"@r{i}:hs"},
               "target": {"message_id": "$m" if i < 8 else f"$x{i}", "user_id": "@troll:hs"}, "reason": "scam"}
              for i in range(10)]
    client = pg_app.test_client()
    for _ in range(2):  # redelivered: one case per report
        resp = client.post("/api/v1/communities/lantern/events", json=events,
                           headers={"Authorization": f"Bearer {tenant.token}"})
        assert resp.status_code == 202
    with sessions() as session:
        community = tenant.community
        cases = list(session.scalars(select(Case).order_by(Case.id)))
        assert [c.source_event_id for c in cases] == [f"r{i}" for i in range(10)]  # ids returned in order
        assert len(list(session.scalars(select(CaseEvent)))) == 10
        items = review.items(session, community.id, clock.now())
        assert [(i.key, i.reports) for i in items][0] == ("message:$m", 8)
        community = session.merge(community)
        decided, penalty = service.decide_item(session, community, "message:$m", "actioned", by=BOB,
                                               now=clock.now(), rule_id="no-scams", outcome="banned")
        assert penalty is not None and penalty.kind == "ban" and len(decided) == 8
        appeal = appeals.file(session, penalty, "not me", filed_by="member", now=clock.now())
        appeals.decide(session, appeal, "lifted", note="ok", by=BOB, now=clock.now())
        session.commit()
        assert [p.status for p in penalties.record(session, community.id, "@troll:hs")] == ["lifted"]
