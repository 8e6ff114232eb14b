"""The production topology on loopback: PostgreSQL, redis-server, `crisis web` (gunicorn,
several workers) and several `crisis worker` processes, each a real subprocess."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from crisis import migrate
from crisis.clock import SystemClock
from crisis.config import ROOT, Config
from crisis.db import make_engine, make_sessionmaker, session_scope
from crisis.ingest import backlog
from crisis.models import EventBatch, Incident
from crisis.tenancy import communities
from tests.live import WorkerProcess, process_env, stop_process, wait_for
from tests.servers import PostgresServer, RedisServer, free_port, wait_port


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: Any


def http(method: str, url: str, *, token: str | None = None, body: Any = None, timeout: float = 30.0,
         raw: bytes | None = None) -> Response:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            payload = resp.read()
            status, hdrs = resp.status, dict(resp.headers)
    except urllib.error.HTTPError as err:
        payload, status, hdrs = err.read(), err.code, dict(err.headers)
    try:
        parsed: Any = json.loads(payload)
    except ValueError:
        parsed = payload.decode(errors="replace")
    return Response(status, hdrs, parsed)


class WebProcess:
    """`crisis web --workers N`: gunicorn with gthread workers, as deployed."""

    def __init__(self, config: Config, *, workers: int = 2, port: int | None = None) -> None:
        self.config = config
        self.workers = workers
        self.port = port or free_port()
        self.log_path = config.var_dir / "web.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> WebProcess:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "crisis", "web", "--bind", f"127.0.0.1:{self.port}", "--workers",
             str(self.workers), "--threads", "4", "--no-access-log"],
            env=process_env(self.config), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        wait_port(self.port, timeout=30)
        wait_for(self._ready, timeout=60, message=f"gunicorn ready; log:\n{self.log()}")
        return self

    def _ready(self) -> bool:
        try:
            return http("GET", f"{self.url}/readyz", timeout=5).status == 200
        except OSError:  # a worker still importing on a busy box: not ready yet
            return False

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, signal.SIGTERM, 20)
            self.proc = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class Topology:
    config: Config
    redis: RedisServer
    web: WebProcess
    workers: list[WorkerProcess] = field(default_factory=list)

    @property
    def sessions(self):  # type: ignore[no-untyped-def]
        return self._sessions

    def __post_init__(self) -> None:
        self._engine = make_engine(self.config.database_url)
        self._sessions = make_sessionmaker(self._engine)

    def community(self, slug: str) -> str:
        """Create a community; returns its ingest token."""
        with session_scope(self._sessions) as session:
            _, issued = communities.create_community(session, slug, name=slug, clock=SystemClock())
            return issued.token

    def post(self, slug: str, token: str, events: list[dict[str, Any]], **kw: Any) -> Response:
        return http("POST", f"{self.web.url}/api/v1/communities/{slug}/events", token=token, body=events, **kw)

    def stored(self, slug: str | None = None) -> int:
        with self._sessions() as s:
            return int(s.scalar(select(func.sum(EventBatch.count))) or 0)

    def pending(self) -> int:
        with self._sessions() as s:
            return backlog.pending_count(s)

    def incidents(self) -> list[tuple[str, str]]:
        with self._sessions() as s:
            rows = s.execute(select(Incident.kind, Incident.opened_at).order_by(Incident.opened_at, Incident.kind))
            return [(kind, opened.isoformat()) for kind, opened in rows]

    def wait_processed(self, timeout: float = 90.0) -> None:
        wait_for(lambda: self.pending() == 0, timeout=timeout, interval=0.25,
                 message="every stored event to be processed; logs:\n" + self.logs())

    def logs(self) -> str:
        parts = [f"--- web\n{self.web.log()[-4000:]}"]
        parts += [f"--- {w.name}\n{w.log()[-4000:]}" for w in self.workers]
        return "\n".join(parts)

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.web.stop()
        self._engine.dispose()


def start(var_dir: Path, postgres: PostgresServer, redis: RedisServer, *, db_name: str, web_workers: int = 2,
          rq_workers: int = 2, sweep_interval: float = 1.0, **worker_env: str) -> Topology:
    url = postgres.create_database(db_name)
    migrate.upgrade(url)
    _sync_playbooks(url)
    config = Config(var_dir=var_dir, database_url=url, redis_url=redis.url,
                    secret_key="topology-secret-key-0123456789", sweep_interval=sweep_interval)
    web = WebProcess(config, workers=web_workers).start()
    topo = Topology(config, redis, web)
    for i in range(rq_workers):
        topo.workers.append(WorkerProcess(config, name=f"w{i + 1}", **worker_env).start())
    return topo


def _sync_playbooks(url: str) -> None:
    from crisis import playbooks

    engine = make_engine(url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            playbooks.sync(session, clock=SystemClock())
    finally:
        engine.dispose()


def stream_events(slug: str, *, hours: float = 5.0, seed: int = 7, raid: bool = True) -> list[dict[str, Any]]:
    """Ordinary traffic ending a little before now, with a raid in the last hour.

    Built with the detector tests' generator, re-timed so the ingest API accepts it."""
    from tests.detection.streams import COMM, Stream

    start = time.time() - (hours + 0.25) * 3600
    s = Stream(seed=seed)
    s.background(start, hours)
    if raid:
        s.raid(start + (hours - 1) * 3600, 60, 120)
    events = s.events()
    for ev in events:
        ev["community"] = slug
        ev["id"] = ev["id"].replace(COMM, slug)
    return events

