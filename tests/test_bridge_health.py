"""A silent bridge never looks like a quiet community: a link that delivers nothing for
longer than its threshold opens one incident (once, however many sweeps see it), shows as
silent in the API and /metrics, and the incident resolves itself when events flow again."""
from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis import runtime
from crisis.bridges import health, links
from crisis.clock import FixedClock
from crisis.jobs import sweeper
from crisis.models import Incident, PlatformLink, TimelineEntry
from tests.conftest import Factory

ROOM = "!quietroom123"


def _link(factory: Factory, session: Session, rt: runtime.Runtime, clock: FixedClock) -> dict[str, Any]:
    tenant = factory.community("lantern")
    issued = links.create_matrix_link(session, tenant.community, homeserver="http://127.0.0.1:1",
                                      server_name="localhost", rooms={ROOM: "general"},
                                      secret_key=rt.config.secret_key, clock=clock,
                                      silence_after=timedelta(minutes=30))
    session.commit()
    return {"link_id": issued.link.id, "hs_token": issued.inbound_token, "tenant": tenant}


def _silences(session: Session) -> list[Incident]:
    session.expire_all()
    return list(session.scalars(select(Incident).where(Incident.kind == health.SILENT_KIND)))


def test_a_link_quiet_past_its_threshold_opens_one_incident_and_resolves_it_when_events_return(
        factory: Factory, session: Session, rt: runtime.Runtime, clock: FixedClock, client: FlaskClient) -> None:
    made = _link(factory, session, rt, clock)
    clock.advance(timedelta(minutes=29))
    sweeper.sweep(rt)
    assert _silences(session) == []

    clock.advance(timedelta(minutes=2))
    assert sweeper.sweep(rt)["bridges_silent"] == 1
    assert sweeper.sweep(rt)["bridges_silent"] == 0  # once, not every sweep
    (incident,) = _silences(session)
    assert incident.status == "triggered" and incident.source == "bridge" and "31 min" in incident.title

    event = {"type": "m.room.message", "event_id": "$back", "room_id": ROOM, "sender": "@ann:localhost",
             "origin_server_ts": int(clock.now().timestamp() * 1000), "content": {"msgtype": "m.text", "body": "hi"}}
    resp = client.put("/_matrix/app/v1/transactions/1", data=json.dumps({"events": [event]}),
                      headers={"Authorization": f"Bearer {made['hs_token']}"}, content_type="application/json")
    assert resp.status_code == 200
    (incident,) = _silences(session)
    assert incident.status == "resolved"
    note = session.scalar(select(TimelineEntry).where(TimelineEntry.incident_id == incident.id,
                                                      TimelineEntry.kind == "status"))
    assert note is not None and "events are flowing again" in note.message
    link = session.get(PlatformLink, made["link_id"])
    assert link is not None and link.silent_since is None


def test_the_api_and_metrics_show_a_silent_link(factory: Factory, session: Session, rt: runtime.Runtime,
                                                clock: FixedClock, client: FlaskClient) -> None:
    made = _link(factory, session, rt, clock)
    admin = factory.staff("admin@example.test", made["tenant"].community, role="admin")
    token = factory.personal_token(admin.user)
    clock.advance(timedelta(hours=2))
    resp = client.get("/api/v1/communities/lantern/links", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200
    (shown,) = resp.get_json()["links"]
    assert shown["silent"] is True and shown["last_event_at"] is None and "hs_token" not in json.dumps(shown)
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'crisis_bridge_silent{community="lantern",link="matrix",platform="matrix"} 1.0' in metrics


def test_a_moderator_cannot_read_links_and_another_community_sees_none(
        factory: Factory, session: Session, rt: runtime.Runtime, clock: FixedClock, client: FlaskClient) -> None:
    made = _link(factory, session, rt, clock)
    mod = factory.staff("mod@example.test", made["tenant"].community, role="moderator")
    other = factory.community("harbor")
    stranger = factory.staff("s@example.test", other.community, role="admin")
    as_mod = client.get("/api/v1/communities/lantern/links",
                        headers={"Authorization": f"Bearer {factory.personal_token(mod.user)}"})
    assert as_mod.status_code == 403 and "manager" in as_mod.get_json()["message"]
    as_stranger = client.get("/api/v1/communities/lantern/links",
                             headers={"Authorization": f"Bearer {factory.personal_token(stranger.user)}"})
    assert as_stranger.status_code == 404
