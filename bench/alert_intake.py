"""Alert intake on the production topology: PostgreSQL, redis-server, `crisis web` (gunicorn,
2 workers x 4 threads) and 2 `crisis worker` processes, each a real subprocess (tests/ops/topology.py),
beside Debian's Alertmanager on the same box.

    .venv/bin/python bench/alert_intake.py [--groups 400] [--batch 10] [--threads 8] [--runs 15]

Throughput, in one run:
  crisis:        Alertmanager webhook bodies (version 4, `--batch` alerts each, one new group per body)
                 posted from `--threads` threads to /api/v1/alerts/alertmanager: alerts/s committed
                 (each body opens an incident, its playbook, escalation and notification rows).
  baseline:      the same alerts, `--batch` per request, posted to Alertmanager's own /api/v2/alerts
                 from as many threads: alerts/s it accepts.
Latency: `--runs` new groups added with amtool; Alertmanager (group_wait 1 s) posts them to crisis;
  webhook → first notification: the incident row written inside the webhook request (created_at)
  → the first page received by a loopback HTTP receiver (apprise json://, delivered by an rq worker).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from crisis.alert_intake import integrations  # noqa: E402
from crisis.clock import SystemClock  # noqa: E402
from crisis.db import session_scope  # noqa: E402
from crisis.models import Community, ContactMethod, Incident, Notification  # noqa: E402
from crisis.tenancy import communities, oncall  # noqa: E402
from tests.engine.helpers import HttpReceiver  # noqa: E402
from tests.live import wait_for  # noqa: E402
from tests.ops import topology  # noqa: E402
from tests.servers import AlertmanagerServer, PostgresServer, RedisServer  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def post(url: str, body: Any, headers: dict[str, str] | None = None) -> int:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            resp.read()
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def webhook_body(group: int, batch: int) -> dict[str, Any]:
    labels = {"alertname": f"Bench{group}", "severity": "warning"}
    alerts = [{"status": "firing", "labels": {**labels, "instance": f"i{k}"},
               "annotations": {"summary": f"bench group {group}"}, "startsAt": "2026-12-07T12:00:00Z",
               "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus.example/graph",
               "fingerprint": f"{group:08x}{k:08x}"} for k in range(batch)]
    return {"version": "4", "groupKey": f'{{}}:{{alertname="Bench{group}"}}', "status": "firing",
            "receiver": "crisis", "groupLabels": {"alertname": f"Bench{group}"},
            "commonLabels": {"alertname": f"Bench{group}"}, "commonAnnotations": {"summary": f"bench group {group}"},
            "externalURL": "http://am.example", "truncatedAlerts": 0, "alerts": alerts}


def setup(topo: topology.Topology, receiver: HttpReceiver, keys: int) -> tuple[list[str], str]:
    clock = SystemClock()
    with session_scope(topo.sessions) as s:
        community, _ = communities.create_community(s, "bench", name="Bench", clock=clock)
        user, _pw = communities.create_user(s, "oncall@example.test", password="bench password 1", clock=clock)
        communities.grant_role(s, user, community, "responder")
        s.add(ContactMethod(user_id=user.id, label="webhook", url=receiver.url("oncall"), created_at=clock.now()))
        s.flush()
        oncall.create_schedule(s, community, name="primary", timezone_name="UTC",
                               rotations=[{"participants": [user.id], "shift_hours": 168,
                                           "start_date": (clock.now() - timedelta(days=1)).date().isoformat()}],
                               clock=clock)
        made = [integrations.create(s, community, kind="alertmanager", name=f"am{i}", clock=clock).key
                for i in range(keys)]
        latency_key = integrations.create(s, community, kind="alertmanager", name="latency", clock=clock).key
    return made, latency_key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--groups", type=int, default=400)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="crisis-bench-alerts-"))
    postgres, redis, receiver = PostgresServer().start(), RedisServer().start(), HttpReceiver().start()
    topo = topology.start(work, postgres, redis, db_name="alerts")
    am: AlertmanagerServer | None = None
    try:
        keys, latency_key = setup(topo, receiver, args.threads * 2)
        url = f"{topo.web.url}/api/v1/alerts/alertmanager"
        am = AlertmanagerServer(url, latency_key).start()
        wait_for(lambda: post(f"{am.url}/api/v2/alerts", []) == 200, timeout=20, message="Alertmanager ready")

        bodies = [webhook_body(g, args.batch) for g in range(args.groups)]
        statuses: list[int] = []
        def send_all(batch: list[dict[str, Any]]) -> tuple[list[int], float]:
            t0 = time.perf_counter()
            with ThreadPoolExecutor(args.threads) as pool:
                out = list(pool.map(lambda ib: post(url, ib[1], {"Authorization": f"Bearer {keys[ib[0] % len(keys)]}"}),
                                    enumerate(batch)))
            return out, time.perf_counter() - t0

        statuses, t_crisis = send_all(bodies)
        accepted = sum(1 for s in statuses if s == 202)
        # The same groups' next notifications (what Alertmanager mostly sends): updates, no page.
        updates, t_update = send_all([webhook_body(g, args.batch + 1) for g in range(args.groups)])
        # The baseline: the same alerts into Alertmanager's own API (new groups it will notify crisis of;
        # the latency key is rate limited like any other, so those notifications are not timed here).
        am_bodies = [[{"labels": {**a["labels"], "alertname": f"Base{g}"}, "annotations": a["annotations"],
                       "generatorURL": a["generatorURL"]} for a in b["alerts"]] for g, b in enumerate(bodies)]
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.threads) as pool:
            am_statuses = list(pool.map(lambda b: post(f"{am.url}/api/v2/alerts", b), am_bodies))
        t_am = time.perf_counter() - t0
        total = args.groups * args.batch
        crisis_rate, am_rate = accepted * args.batch / t_crisis, total / t_am
        print(f"crisis Alertmanager endpoint: {crisis_rate:,.0f} alerts/s ({accepted}/{len(bodies)} bodies 202, "
              f"{statuses.count(429)} answered 429; {args.batch} alerts per body, {args.threads} threads)")
        print(f"crisis, the groups' next notifications (updates): "
              f"{updates.count(202) * (args.batch + 1) / t_update:,.0f} alerts/s ({updates.count(202)} bodies 202)")
        print(f"Alertmanager /api/v2/alerts:  {am_rate:,.0f} alerts/s ({am_statuses.count(200)}/{len(am_bodies)} "
              f"requests 200) (baseline)")
        update_rate = updates.count(202) * (args.batch + 1) / t_update
        print(f"ratio: new groups {crisis_rate / am_rate:.2f}, updates {update_rate / am_rate:.2f}")
        wait_for(lambda: len(topo_incidents(topo, "Base")) >= args.groups, timeout=600, interval=1,
                 message="Alertmanager's notifications of the baseline groups")
        # Latency is timed on a quiet system: every page of the groups above delivered first.
        wait_for(lambda: pending_notifications(topo) == 0, timeout=900, interval=1,
                 message="the baseline groups' notifications delivered")

        latencies: list[float] = []
        for run in range(args.runs):
            name = f"Latency{run}"
            am.amtool("alert", "add", name, "severity=critical", f"--annotation=summary=run {run}")
            [incident] = wait_for(lambda n=name: topo_incidents(topo, n), timeout=60, interval=0.05,
                                  message=f"incident {name}")
            got = wait_for(lambda n=name: [m for m in receiver.to("oncall") if n in m.body["title"]], timeout=60,
                           interval=0.02, message=f"page for {name}")
            latencies.append(got[0].wall - incident.created_at.timestamp())
            print(f"run {run}: webhook → first notification {latencies[-1]:.3f} s")
        print(f"webhook → first notification: median {statistics.median(latencies):.3f} s, "
              f"p99 {pct(latencies, 0.99):.3f} s (n = {len(latencies)})")
    finally:
        if am is not None:
            am.stop()
        topo.stop()
        receiver.stop()
        redis.cleanup()
        postgres.stop()


def pending_notifications(topo: topology.Topology) -> int:
    with topo.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(Notification)
                            .where(Notification.status.in_(("pending", "sending")))) or 0)


def topo_incidents(topo: topology.Topology, prefix: str) -> list[Incident]:
    with topo.sessions() as s:
        cid = s.scalar(select(Community.id).where(Community.slug == "bench"))
        return list(s.scalars(select(Incident).where(Incident.community_id == cid,
                                                     Incident.title.startswith(f"{prefix}"))))


if __name__ == "__main__":
    main()
