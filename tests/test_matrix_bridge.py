"""The Matrix bridge against a real Synapse on loopback: crisis registered as the room's
application service hears ordinary chat and opens nothing, hears a raid of fresh accounts
and opens one raid incident whose evidence names the Matrix accounts and links their
events, and loses nothing when it is down while the raid goes on."""
from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from crisis import runtime
from crisis.app import create_app
from crisis.bridges import links
from crisis.bridges.matrix import reports as matrix_reports
from crisis.bridges.matrix.registration import registration, to_yaml
from crisis.clock import SystemClock
from crisis.config import Config
from crisis.demo import DemoStream
from crisis.ingest import backlog
from crisis.ingest.store import decode_batch
from crisis.models import BridgeTransaction, EventBatch, EventId, Incident, PlatformLink
from tests.conftest import Factory
from tests.live import WorkerProcess, wait_for
from tests.servers import free_port
from tests.synapse import MatrixUser, Synapse, synapse_python

pytestmark = [pytest.mark.redis, pytest.mark.slow]


@pytest.fixture(scope="module")
def synapse() -> Iterator[Synapse]:
    python = synapse_python()
    if python is None:
        if os.environ.get("TEST_REQUIRE_SERVERS"):
            pytest.fail("Synapse could not be installed (scripts/synapse-venv.sh)")
        pytest.skip("Synapse is not installed (scripts/synapse-venv.sh)")
    server = Synapse(python).start()
    yield server
    server.cleanup()


class Crisis:
    """The crisis web app on a fixed loopback port, so it can stop and come back where
    Synapse expects it."""

    def __init__(self, config: Config) -> None:
        self.port = free_port()
        self.config = replace(config, base_url=f"http://127.0.0.1:{self.port}")
        self.app = create_app(self.config, clock=SystemClock())
        self.rt = self.app.extensions["crisis"]
        self.server: Any = None

    @property
    def url(self) -> str:
        return self.config.base_url

    def start(self) -> None:
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _baseline(crisis: Crisis, token: str, slug: str, now: datetime) -> None:
    """Three hours of ordinary history through the ingest API, so the detectors know the room."""
    history = sorted(DemoStream(slug, seed=5).span(now - timedelta(hours=3), now - timedelta(minutes=2),
                                                   per_minute=40), key=lambda e: e["ts"])
    client = crisis.app.test_client()
    for i in range(0, len(history), 2000):
        resp = client.post(f"/api/v1/communities/{slug}/events", json=history[i:i + 2000],
                           headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 202, resp.get_json()


def _link(crisis: Crisis, synapse: Synapse, admin: MatrixUser, community: Any, room: str, tmp: Path) -> None:
    with crisis.rt.sessions() as session:
        issued = links.create_matrix_link(session, session.merge(community), homeserver=synapse.url,
                                          server_name="localhost", rooms={room: "general"},
                                          secret_key=crisis.config.secret_key, clock=crisis.rt.clock,
                                          admin_token=admin.token)
        session.commit()
        path = tmp / "appservice.yaml"
        path.write_text(to_yaml(registration(issued, crisis_url=crisis.url)))
    synapse.appservices = [path]
    synapse.restart()


def _incidents(crisis: Crisis) -> list[Incident]:
    with crisis.rt.sessions() as s:
        return list(s.scalars(select(Incident).order_by(Incident.id)))


def _stored(crisis: Crisis) -> int:
    with crisis.rt.sessions() as s:
        return int(s.scalar(select(PlatformLink.events_received)) or 0)


def _raiders(synapse: Synapse, room: str, n: int, prefix: str) -> list[MatrixUser]:
    users = [synapse.register(f"{prefix}{i}") for i in range(n)]
    for user in users:
        user.join(room)
    return users


def _raid(users: list[MatrixUser], room: str) -> None:
    for i, user in enumerate(users):
        user.say(room, f"FREE NITRO for everyone, claim now https://nitro-gift.example/claim?c={i % 3} hurry")


@pytest.fixture
def world(synapse: Synapse, redis_config: Config, factory: Factory, tmp_path: Path) -> Iterator[dict[str, Any]]:
    tenant = factory.community(f"mx{int(time.time() * 1000) % 10**8}")
    crisis = Crisis(redis_config)
    crisis.start()
    admin = synapse.register(f"admin{tenant.community.slug}", admin=True)
    alice = synapse.register(f"alice{tenant.community.slug}")
    bob = synapse.register(f"bob{tenant.community.slug}")
    room = alice.create_room(name="general")
    bob.join(room)
    _link(crisis, synapse, admin, tenant.community, room, tmp_path)
    _baseline(crisis, tenant.token, tenant.community.slug, datetime.now(timezone.utc))
    with WorkerProcess(crisis.config) as worker:
        wait_for(lambda: _pending(crisis) == 0, timeout=120, message=f"the baseline; log:\n{worker.log()}")
        yield {"crisis": crisis, "synapse": synapse, "room": room, "alice": alice, "bob": bob,
               "slug": tenant.community.slug, "worker": worker}
    crisis.stop()
    synapse.appservices = []
    runtime.reset()


def _pending(crisis: Crisis) -> int:
    with crisis.rt.sessions() as s:
        return sum(backlog.pending_count(s, cid) for cid in backlog.communities_with_pending(s))


def test_a_matrix_raid_opens_one_incident_naming_the_accounts_and_chat_opens_none(world: dict[str, Any]) -> None:
    crisis, room, alice, bob = world["crisis"], world["room"], world["alice"], world["bob"]
    for i in range(6):
        (alice if i % 2 else bob).say(room, f"morning! did anyone see the patch notes {i}?")
    wait_for(lambda: _stored(crisis) >= 6, timeout=30, message="ordinary chat to arrive through the appservice")
    time.sleep(2)
    assert _incidents(crisis) == []

    raiders = _raiders(world["synapse"], room, 40, f"fresh{world['slug']}_")
    sent = time.time()
    _raid(raiders, room)
    opened = wait_for(lambda: _incidents(crisis), timeout=60,
                      message=f"a raid incident; worker log:\n{world['worker'].log()[-3000:]}")
    print(f"raid sent → incident seen: {time.time() - sent:.2f}s")
    assert [i.kind for i in opened] == ["raid"]
    evidence = opened[0].evidence
    raider_ids = {u.user_id for u in raiders}
    # Opened on the first few near-duplicates from fresh accounts: those accounts, no one else.
    assert set(evidence["accounts"]) <= raider_ids and len(evidence["accounts"]) >= 2
    links_ = evidence["permalinks"]
    assert links_ and all(v.startswith("https://matrix.to/#/") for v in links_.values())
    assert set(links_) <= raider_ids

    for i in range(5):
        alice.say(room, f"that was weird, glad it's over {i}")
    wait_for(lambda: _stored(crisis) >= 6 + 40 * 2 + 5, timeout=30, message="the chat after the raid")
    wait_for(lambda: _pending(crisis) == 0, timeout=30, message="the detectors to catch up")
    assert [i.kind for i in _incidents(crisis)] == ["raid"]


def test_crisis_down_during_a_raid_loses_nothing_and_the_incident_opens(world: dict[str, Any]) -> None:
    crisis, room = world["crisis"], world["room"]
    before = _stored(crisis)
    raiders = _raiders(world["synapse"], room, 40, f"late{world['slug']}_")
    crisis.stop()
    _raid(raiders, room)
    time.sleep(30)
    crisis.start()
    opened = wait_for(lambda: _incidents(crisis), timeout=120,
                      message="Synapse's retry to deliver the raid and the incident to open")
    assert [i.kind for i in opened] == ["raid"]
    # 40 joins + 40 messages from the raid, each stored once however often Synapse sent it.
    wait_for(lambda: _stored(crisis) >= before + 80, timeout=120, message="every raid event to be delivered")
    time.sleep(3)
    with crisis.rt.sessions() as s:
        link = s.scalar(select(PlatformLink))
        # At least the raid (the room's own setup events may arrive in the same transactions).
        assert link is not None and before + 80 <= link.events_received <= before + 84
        bridged = s.scalar(select(func.count()).select_from(EventId).where(EventId.event_id.like("$%")))
        assert bridged == link.events_received
        assert s.scalar(select(func.count()).select_from(BridgeTransaction)) >= 1


def _put(url: str, token: str, body: bytes) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(url, data=body, method="PUT",
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_room_reports_are_read_from_the_admin_api_once(world: dict[str, Any]) -> None:
    crisis, room, alice, bob = world["crisis"], world["room"], world["alice"], world["bob"]
    rude = bob.say(room, "you are all idiots")
    alice.call("POST", f"/_matrix/client/v3/rooms/{quote(room, safe='')}/report/{quote(rude, safe='')}",
               {"reason": "insulting the channel", "score": -100})
    rt = crisis.rt
    assert matrix_reports.poll(rt.sessions, clock=rt.clock, secret_key=crisis.config.secret_key) == 1
    assert matrix_reports.poll(rt.sessions, clock=rt.clock, secret_key=crisis.config.secret_key) == 0
    with rt.sessions() as s:
        (report,) = [e for b in s.scalars(select(EventBatch)) for e in decode_batch(b.body, b.fresh, b.count)
                     if e["id"].startswith("matrix-report-")]
    assert report["actor"]["id"] == alice.user_id and report["target"] == {"message_id": rude,
                                                                          "user_id": bob.user_id}
    assert report["reason"] == "insulting the channel" and report["x-permalink"].startswith("https://matrix.to/")
