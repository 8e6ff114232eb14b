"""Event-to-incident and incident-to-first-notification latency on the real path.

Ingest API (Flask test client, in this process) → SQLite → Redis doorbell → rq worker
(subprocess, with scheduler and sweeper) → detectors → incident, playbook, escalation
and notification rows in one transaction → doorbell → deliver job → apprise json:// →
an HTTP receiver on loopback (in this process).

    .venv/bin/python bench/notify_latency.py --runs 20

Each run is a fresh community: three hours of ordinary traffic (processed before the
clock starts), then a 60-account raid posted in one request. Measured per run:
  event→incident:        raid POST sent → incident row written (created_at, system clock)
  incident→notification: incident row written → level-1 message received by the receiver
  event→notification:    the two together.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from crisis import migrate, runtime  # noqa: E402
from crisis.config import Config  # noqa: E402
from crisis.ingest import backlog  # noqa: E402
from crisis.models import Incident  # noqa: E402
from tests.engine import stack as st  # noqa: E402
from tests.engine.helpers import HttpReceiver, SmtpReceiver  # noqa: E402
from tests.live import wait_for  # noqa: E402
from tests.servers import RedisServer  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--sweep-interval", type=float, default=15.0)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="crisis-bench-"))
    redis = RedisServer().start()
    http, smtp = HttpReceiver().start(), SmtpReceiver().start()
    url = f"sqlite:///{work / 'crisis.db'}"
    migrate.upgrade(url)
    config = Config(var_dir=work, database_url=url, redis_url=redis.url, secret_key="bench-secret-key-0123456789")
    first = st.build(config, http, smtp, slug="bench0")
    worker = st.start_worker(config, work / "worker.log", sweep_interval=args.sweep_interval, name="bench")
    to_incident: list[float] = []
    to_notification: list[float] = []
    try:
        for run in range(args.runs):
            stack = first if run == 0 else st.add_tenant(first.app, config, http, smtp, slug=f"bench{run}",
                                                         tag=str(run))
            history, raid = st.traffic(stack.community.slug, seed=run + 3)
            st.post(stack, history)
            cid = stack.community.id
            with stack.session() as s:
                wait_for(lambda: backlog.pending_count(s, cid) == 0, timeout=120, interval=0.05, message="history")
            started = time.time()
            st.post(stack, raid)
            with stack.session() as s:
                incident = wait_for(lambda: s.scalar(select(Incident).where(Incident.community_id == cid)), timeout=60,
                                    interval=0.005, message="incident")
                created = incident.created_at.timestamp()
            path = f"alice{'' if run == 0 else run}"
            message = wait_for(lambda: http.to(path), timeout=60, interval=0.005, message="first notification")[0]
            to_incident.append(created - started)
            to_notification.append(message.wall - created)
            print(f"run {run + 1:2d}: event→incident {1000 * (created - started):7.1f} ms   "
                  f"incident→notification {1000 * (message.wall - created):7.1f} ms", flush=True)
    finally:
        st.stop_worker(worker)
        http.stop()
        smtp.stop()
        redis.cleanup()
        runtime.reset()
        shutil.rmtree(work, ignore_errors=True)
    total = [a + b for a, b in zip(to_incident, to_notification)]
    print(f"\n{args.runs} runs            median      p99      max")
    for name, values in (("event→incident", to_incident), ("incident→notification", to_notification),
                         ("event→notification", total)):
        print(f"{name:22s} {1000 * statistics.median(values):7.1f} ms {1000 * pct(values, 0.99):7.1f} ms "
              f"{1000 * max(values):7.1f} ms")


if __name__ == "__main__":
    main()
