"""Related signals through the ingest API, a real rq worker, real Redis and a loopback
receiver: a raid's second wave 45 minutes later, and the mass leave a raid provokes, join
the raid's incident (one page, raised and on its timeline) instead of opening another."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from crisis import runtime
from crisis.clock import isoformat
from crisis.config import Config
from crisis.demo import DemoStream
from crisis.models import Incident, IncidentEpisode
from tests.engine import stack as st
from tests.engine.helpers import HttpReceiver, SmtpReceiver, receivers  # noqa: F401 -- fixture
from tests.live import wait_for

pytestmark = [pytest.mark.redis, pytest.mark.slow]


@pytest.fixture
def running(redis_config: Config, tmp_path: Path,
            receivers: tuple[HttpReceiver, SmtpReceiver]) -> Iterator[tuple[st.Stack, HttpReceiver, Path]]:
    http, smtp = receivers
    stack = st.build(replace(redis_config, base_url="http://crisis.example.test"), http, smtp)
    worker = st.start_worker(stack.config, tmp_path / "worker.log")
    try:
        yield stack, http, tmp_path / "worker.log"
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-2000:]
    finally:
        st.stop_worker(worker)
        runtime.reset()


def ordinary(stream: DemoStream, start: datetime, end: datetime) -> list[dict[str, Any]]:
    # Quieter than the demo's 60/min, so the worker gets through three hours in seconds.
    return list(stream.span(start, end, per_minute=20))


def leaves(stream: DemoStream, start: datetime, members: int, seconds: float) -> list[dict[str, Any]]:
    """Established members (never seen joining) leaving one after another."""
    out = []
    for i in range(members):
        at = start + timedelta(seconds=seconds * i / members)
        out.append({"id": f"leave-{i}-{stream.community}", "community": stream.community, "type": "member.leave",
                    "ts": isoformat(at), "actor": {"id": f"m{i}", "name": f"user_m{i}",
                                                   "created_at": isoformat(at - timedelta(days=600))}})
    return out


def post_and_wait(stack: st.Stack, events: list[dict[str, Any]]) -> None:
    events = sorted(events, key=lambda e: e["ts"])
    st.post(stack, events)
    wait_for(lambda: _consumed(stack) >= len(events), timeout=180, interval=0.2, message="all events detected")


def _consumed(stack: st.Stack) -> int:
    from crisis.ingest import backlog

    with stack.session() as s:
        return int(backlog.consumed_count(s))


def joined(stack: st.Stack, incident_id: int) -> list[tuple[str, str]]:
    with stack.session() as s:
        return [(e.kind, e.reason) for e in s.scalars(select(IncidentEpisode).where(
            IncidentEpisode.incident_id == incident_id).order_by(IncidentEpisode.id))]


def detail(stack: st.Stack, incident_id: int) -> dict[str, Any]:
    resp = stack.client.get(f"/api/v1/incidents/{incident_id}",
                            headers={"Authorization": f"Bearer {stack.tokens['alice']}"})
    assert resp.status_code == 200
    body: dict[str, Any] = resp.get_json()
    return body


def test_a_second_wave_45_minutes_later_joins_the_raid_through_a_worker(
        running: tuple[st.Stack, HttpReceiver, Path]) -> None:
    stack, http, _log = running
    now = datetime.now(timezone.utc)
    first, second = now - timedelta(minutes=60), now - timedelta(minutes=15)
    stream = DemoStream("lantern", seed=5)
    events = ordinary(stream, now - timedelta(hours=3), now) + stream.raid(first, size=12, seconds=20)
    events += stream.raid(second, size=12, seconds=20)
    post_and_wait(stack, events)
    [incident] = stack.incidents()
    assert incident.kind == "raid"
    assert joined(stack, incident.id) == [("raid", "follows")]
    body = detail(stack, incident.id)
    assert body["kinds"] == ["raid"] and [s["kind"] for s in body["signals"]].count("raid") >= 2
    messages = [e["message"] for e in body["timeline"]]
    assert any(m.startswith("Detector attached a related raid signal (it follows the raid") for m in messages)
    assert body["severity"] == "sev1" and "Detector raised severity sev2 → sev1" in messages
    # Alice, paged at the opening, hears of the raise through the worker: no second "opened" page.
    titles = wait_for(lambda: [m.body["title"] for m in http.to("alice") if "Worse" in m.body["title"]] or None,
                      timeout=30, interval=0.1, message="the severity raise to alice")
    assert titles[0].startswith("[SEV1] Worse:")
    opened = [m for m in http.to("alice") if m.body["title"].startswith("[SEV") and "Worse" not in m.body["title"]]
    assert len(opened) == 1, [m.body["title"] for m in http.to("alice")]


def test_the_mass_leave_a_raid_provokes_joins_the_raid_through_a_worker(
        running: tuple[st.Stack, HttpReceiver, Path]) -> None:
    stack, _http, _log = running
    now = datetime.now(timezone.utc)
    raid_at = now - timedelta(minutes=30)
    stream = DemoStream("lantern", seed=6)
    events = ordinary(stream, now - timedelta(hours=3), now) + stream.raid(raid_at, size=30, seconds=30)
    events += leaves(stream, raid_at + timedelta(minutes=3), members=45, seconds=300)
    post_and_wait(stack, events)
    [incident] = stack.incidents()
    assert incident.kind == "raid"
    assert joined(stack, incident.id) == [("mass_leave", "follows")]
    body = detail(stack, incident.id)
    assert body["kinds"] == ["raid", "mass_leave"] and body["detector_active"] is True
    assert "mass_leave" in [s["kind"] for s in body["signals"]]
    assert not {f"m{i}" for i in range(45)} & set(body["evidence"]["accounts"])
    # Resolving now asks for confirmation: the detector still sees the raid and the leaving.
    path = f"/api/v1/incidents/{incident.id}/resolve"
    headers = {"Authorization": f"Bearer {stack.tokens['alice']}"}
    refused = stack.client.post(path, json={}, headers=headers)
    assert refused.status_code == 409 and refused.get_json()["error"] == "episode_active"
    assert stack.client.post(path, json={"confirm": True}, headers=headers).status_code == 200
    with stack.session() as s:
        assert s.get(Incident, incident.id).status == "resolved"  # type: ignore[union-attr]
