"""The Matrix bridge against a real Synapse: raid → incident latency, and transaction intake rate.

    .venv/bin/python bench/matrix_bridge.py [--runs 8] [--messages 1500]

Starts redis-server, Synapse (scripts/synapse-venv.sh's venv), crisis's web app (werkzeug,
threaded) and one rq worker, like tests/test_matrix_bridge.py. Each run is a fresh community
with its own room and link (all registered before Synapse's one restart), three hours of
ordinary history through the ingest API, then 40 fresh accounts that join and post
near-duplicate links.
  raid start → incident:   the first raid message sent → the incident row written (created_at)
  tipping → incident:      the message that completed the incident's opening evidence → created_at
Intake: `--messages` ordinary messages from 8 threads into one linked room; the rate crisis
stored them at (first send → last stored) as a ratio of the rate Synapse accepted the sends
in the same run (the baseline: 1.0 means the bridge keeps up with its homeserver).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from crisis import migrate  # noqa: E402
from crisis.bridges import links  # noqa: E402
from crisis.bridges.matrix.registration import registration, to_yaml  # noqa: E402
from crisis.config import Config  # noqa: E402
from crisis.models import Community, Incident, PlatformLink  # noqa: E402
from crisis.tenancy import communities  # noqa: E402
from tests.live import WorkerProcess, wait_for  # noqa: E402
from tests.servers import RedisServer  # noqa: E402
from tests.synapse import Synapse, synapse_python  # noqa: E402
from tests.test_matrix_bridge import Crisis, _baseline  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def start_servers(prefix: str) -> tuple[Path, RedisServer, Crisis, Synapse]:
    """What the Matrix benches share: crisis on loopback (SQLite in a fresh folder, a real
    Redis) and a local Synapse."""
    python = synapse_python()
    if python is None:
        raise SystemExit("Synapse could not be installed (scripts/synapse-venv.sh)")
    work = Path(tempfile.mkdtemp(prefix=prefix))
    redis = RedisServer().start()
    url = f"sqlite:///{work / 'crisis.db'}"
    migrate.upgrade(url)
    crisis = Crisis(Config(var_dir=work, database_url=url, redis_url=redis.url,
                           secret_key="bench-secret-key-0123456789"))
    crisis.start()
    return work, redis, crisis, Synapse(python).start()


def main() -> None:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access line per transaction otherwise
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--messages", type=int, default=1500)
    args = parser.parse_args()
    work, redis, crisis, synapse = start_servers("crisis-bench-matrix-")
    config = crisis.config
    admin = synapse.register("benchadmin", admin=True)
    owner = synapse.register("benchowner")
    slugs = [f"mx{i}" for i in range(args.runs + 1)]  # the last one takes the intake run
    rooms: dict[str, str] = {}
    tokens: dict[str, str] = {}
    files = []
    with crisis.rt.sessions() as s:
        for slug in slugs:
            community, issued = communities.create_community(s, slug, name=slug, clock=crisis.rt.clock)
            tokens[slug] = issued.token
            rooms[slug] = owner.create_room(name=slug)
            link = links.create_matrix_link(s, community, homeserver=synapse.url, server_name="localhost",
                                            rooms={rooms[slug]: "general"}, secret_key=config.secret_key,
                                            clock=crisis.rt.clock, admin_token=admin.token)
            path = work / f"as-{slug}.yaml"
            path.write_text(to_yaml(registration(link, crisis_url=crisis.url)))
            files.append(path)
        s.commit()
    synapse.appservices = files
    synapse.restart()
    now = datetime.now(timezone.utc)
    for slug in slugs[:-1]:
        _baseline(crisis, tokens[slug], slug, now)
    start_lat: list[float] = []
    tip_lat: list[float] = []
    with WorkerProcess(replace(crisis.config)) as worker:
        for run, slug in enumerate(slugs[:-1]):
            room = rooms[slug]
            raiders = [synapse.register(f"r{run}x{i}") for i in range(40)]
            for user in raiders:
                user.join(room)
            with crisis.rt.sessions() as s:
                cid = s.scalar(select(Community.id).where(Community.slug == slug))
            wait_for(lambda: _drained(crisis), timeout=120, message=f"the baseline; {worker.log()[-2000:]}")
            sent: dict[str, float] = {}
            for i, user in enumerate(raiders):
                sent[user.user_id] = time.time()
                user.say(room, f"FREE NITRO claim now https://nitro-gift.example/claim?c={i % 3} hurry")

            def opened(cid: int = cid) -> Incident | None:
                with crisis.rt.sessions() as s:
                    return s.scalar(select(Incident).where(Incident.community_id == cid))

            incident = wait_for(opened, timeout=60, message="the raid incident")
            created = incident.created_at.timestamp()
            first = min(sent.values())
            tipping = max(sent[a] for a in incident.evidence["accounts"] if a in sent)
            start_lat.append(created - first)
            tip_lat.append(created - tipping)
            print(f"run {run}: raid start → incident {created - first:.2f}s, tipping → incident "
                  f"{created - tipping:.2f}s ({len(incident.evidence['accounts'])} accounts at open)")
        slug = slugs[-1]
        room = rooms[slug]
        senders = [synapse.register(f"chat{i}") for i in range(8)]
        for user in senders:
            user.join(room)
        wait_for(lambda: _received(crisis, slug) >= 8, timeout=60, message="the senders' joins")
        before = _received(crisis, slug)
        per = args.messages // len(senders)
        t0 = time.time()
        with ThreadPoolExecutor(len(senders)) as pool:
            list(pool.map(lambda u: [u.say(room, f"ordinary chat line {k} from {u.user_id}") for k in range(per)],
                          senders))
        t_sent = time.time()
        total = per * len(senders)
        wait_for(lambda: _received(crisis, slug) >= before + total, timeout=300, message="every message stored")
        t_stored = time.time()
    send_rate = total / (t_sent - t0)
    store_rate = total / (t_stored - t0)
    print(f"raid start → incident: median {statistics.median(start_lat):.2f} s, p99 {pct(start_lat, 0.99):.2f} s "
          f"(n = {len(start_lat)})")
    print(f"tipping message → incident: median {statistics.median(tip_lat):.2f} s, p99 {pct(tip_lat, 0.99):.2f} s")
    print(f"Synapse accepted sends: {send_rate:,.0f} events/s (baseline)")
    print(f"crisis stored them:     {store_rate:,.0f} events/s → ratio {store_rate / send_rate:.2f}")
    crisis.stop()
    synapse.cleanup()
    redis.cleanup()


def _drained(crisis: Crisis) -> bool:
    from crisis.ingest import backlog

    with crisis.rt.sessions() as s:
        return not backlog.communities_with_pending(s)


def _received(crisis: Crisis, slug: str) -> int:
    with crisis.rt.sessions() as s:
        return int(s.scalar(select(PlatformLink.events_received)
                            .join(Community, Community.id == PlatformLink.community_id)
                            .where(Community.slug == slug)) or 0)


if __name__ == "__main__":
    main()
