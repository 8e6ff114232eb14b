"""A real stack for end-to-end tests and the latency benchmark: the app (system clock),
a real rq worker with its scheduler in a subprocess, Redis, loopback receivers."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis import playbooks
from crisis.app import create_app
from crisis.clock import SystemClock
from crisis.config import ROOT, Config
from crisis.demo import DemoStream
from crisis.models import Channel, Community, ContactMethod, Incident, User
from crisis.tenancy import oncall
from tests.conftest import Factory
from tests.engine.helpers import HttpReceiver, SmtpReceiver

FAST_ESCALATION = {"levels": [{"after": "0s", "notify": [{"schedule": "primary"}]},
                              {"after": "3s", "notify": [{"schedule": "secondary"}]},
                              {"after": "4s", "notify": [{"role": "manager"}]}],
                   "repeat": {"times": 0, "after": "0s"}}


@dataclass
class Stack:
    app: Flask
    client: FlaskClient
    config: Config
    community: Community
    ingest_token: str
    tokens: dict[str, str]
    users: dict[str, User]

    def session(self) -> Session:
        return self.app.extensions["crisis"].sessions()  # type: ignore[no-any-return]

    def incidents(self) -> list[Incident]:
        with self.session() as s:
            return list(s.scalars(select(Incident).order_by(Incident.id)))


def build(config: Config, http: HttpReceiver, smtp: SmtpReceiver, *, slug: str = "lantern") -> Stack:
    app = create_app(config, clock=SystemClock())
    with app.extensions["crisis"].sessions() as session:
        playbooks.sync(session, clock=app.extensions["crisis"].clock)
        session.commit()
    return add_tenant(app, config, http, smtp, slug=slug)


def add_tenant(app: Flask, config: Config, http: HttpReceiver, smtp: SmtpReceiver, *, slug: str,
               tag: str = "") -> Stack:
    """A community with alice (admin, primary on call, json://) and bob (responder,
    secondary on call, mailto://) and a team channel (json://.../team)."""
    clock = app.extensions["crisis"].clock
    with app.extensions["crisis"].sessions() as session:
        factory = Factory(session, clock)
        tenant = factory.community(slug)
        alice = factory.staff(f"alice{tag}@example.test", tenant.community, "admin").user
        bob = factory.staff(f"bob{tag}@example.test", tenant.community, "responder").user
        alice.display_name, bob.display_name = "Alice", "Bob"
        now = clock.now()
        session.add_all([
            ContactMethod(user_id=alice.id, label="webhook", url=http.url(f"alice{tag}"), created_at=now),
            ContactMethod(user_id=bob.id, label="email", url=smtp.url(f"bob{tag}@example.test"), created_at=now),
            Channel(community_id=tenant.community.id, name="mod-team", purpose="team", url=http.url(f"team{tag}"),
                    created_at=now),
        ])
        yesterday = (now - timedelta(days=1)).date().isoformat()
        for name, user in (("primary", alice), ("secondary", bob)):
            oncall.create_schedule(session, tenant.community, name=name, timezone_name="Europe/Berlin",
                                   rotations=[{"participants": [user.id], "shift_hours": 168,
                                               "start_date": yesterday}], clock=clock)
        session.commit()
        tokens = {"alice": factory.personal_token(alice), "bob": factory.personal_token(bob)}
        session.expunge_all()
    return Stack(app, app.test_client(), config, tenant.community, tenant.token, tokens,
                 {"alice": alice, "bob": bob})


def publish_fast_raid(stack: Stack) -> int:
    """Version N+1 of the raid playbook with second-scale delays, published through the API."""
    headers = {"Authorization": f"Bearer {stack.tokens['alice']}"}
    spec = stack.client.get("/api/v1/playbooks/raid/versions/2", headers=headers).get_json()["spec"]
    spec["escalation"] = FAST_ESCALATION
    resp = stack.client.post("/api/v1/playbooks/raid/versions", headers=headers,
                             json={"spec": spec, "comment": "second-scale delays for the end-to-end test"})
    assert resp.status_code == 201, resp.get_json()
    return int(resp.get_json()["version"])


def start_worker(config: Config, log: Path, *, sweep_interval: float = 1.0,
                 name: str = "e2e") -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRISIS_")}
    env.update(CRISIS_DATABASE_URL=config.database_url, CRISIS_REDIS_URL=config.redis_url,
               CRISIS_VAR_DIR=str(config.var_dir), CRISIS_SECRET_KEY=config.secret_key,
               CRISIS_BASE_URL=config.base_url, CRISIS_SWEEP_INTERVAL=str(sweep_interval),
               PYTHONPATH=str(ROOT))
    code = f"from crisis.jobs.worker import run_worker; run_worker(name={name!r}, log_level='INFO')"
    return subprocess.Popen([sys.executable, "-c", code], cwd=str(ROOT), env=env,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def traffic(slug: str, *, seed: int = 3,
            now: datetime | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Three hours of ordinary activity ending now, and a raid starting now."""
    now = now or datetime.now(timezone.utc)
    stream = DemoStream(slug, seed=seed)
    history = sorted(stream.span(now - timedelta(hours=3), now, per_minute=60), key=lambda e: e["ts"])
    raid = sorted(stream.raid(now, size=60, seconds=30), key=lambda e: e["ts"])
    return history, raid


def post(stack: Stack, events: list[dict[str, Any]], batch: int = 500) -> None:
    for i in range(0, len(events), batch):
        resp = stack.client.post(f"/api/v1/communities/{stack.community.slug}/events", json=events[i:i + batch],
                                 headers={"Authorization": f"Bearer {stack.ingest_token}"})
        assert resp.status_code == 202, resp.get_json()
