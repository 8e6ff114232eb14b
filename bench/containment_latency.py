"""Containment against a real Synapse: a raid's opening message → the lockdown in force on the homeserver.

    .venv/bin/python bench/containment_latency.py [--runs 6] [--raiders 60]

Starts redis-server, Synapse (scripts/synapse-venv.sh's venv), crisis's web app (werkzeug,
threaded) and one rq worker, like tests/test_containment_matrix.py. Each run is a fresh
community whose room (created by its owner) gives the bridge's user power level 100, with
its own link (all registered before Synapse's one restart), three hours of ordinary
history through the ingest API and the playbooks synced from playbooks/. Then `--raiders`
fresh accounts join and post near-duplicate links: 60 joins make the raid sev1 as it opens
(the join surge), so the raid playbook approves its lockdown (join rule knock) by itself.

  raid → lockdown in force: the first raid message sent → the room's m.room.join_rules reads
                            knock on the homeserver (polled every 20 ms as the room's owner)
  raid → incident open:     the first raid message sent → the incident row written (the
                            baseline: what detection alone costs, measured in the same run)
  incident → lockdown:      the difference: containment's own share (ring, job, join,
                            read state, receipt, PUT)
  one plain PUT:            the owner's own PUT of m.room.join_rules on a spare room, timed
                            in the same run (the homeserver's floor for the change)
"""
from __future__ import annotations

import argparse
import logging
import statistics
import sys
import threading
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from bench.matrix_bridge import start_servers  # noqa: E402
from crisis import playbooks  # noqa: E402
from crisis.bridges import links  # noqa: E402
from crisis.bridges.matrix.registration import registration, to_yaml  # noqa: E402
from crisis.clock import SystemClock  # noqa: E402
from crisis.models import Community, ContainmentAction, Incident  # noqa: E402
from crisis.tenancy import communities  # noqa: E402
from tests.live import WorkerProcess, wait_for  # noqa: E402
from tests.synapse import MatrixUser  # noqa: E402
from tests.test_containment_matrix import _kill  # noqa: E402
from tests.test_matrix_bridge import Crisis, _baseline  # noqa: E402

_V3 = "/_matrix/client/v3"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def join_rule(owner: MatrixUser, room: str) -> str:
    return str(owner.call("GET", f"{_V3}/rooms/{quote(room, safe='')}/state/m.room.join_rules/")["join_rule"])


def plain_put(owner: MatrixUser, room: str, rule: str) -> float:
    t0 = time.perf_counter()
    owner.call("PUT", f"{_V3}/rooms/{quote(room, safe='')}/state/m.room.join_rules/", {"join_rule": rule})
    return time.perf_counter() - t0


def watch(owner: MatrixUser, room: str, stop: threading.Event, seen: list[float]) -> None:
    """The moment the homeserver first shows the room as knock."""
    while not stop.is_set():
        if join_rule(owner, room) == "knock":
            seen.append(time.time())
            return
        time.sleep(0.02)


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access line per transaction otherwise
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--raiders", type=int, default=60)
    args = parser.parse_args()
    work, redis, crisis, synapse = start_servers("crisis-bench-contain-")
    config = crisis.config
    admin = synapse.register("benchadmin", admin=True)
    owner = synapse.register("benchowner")
    spare = owner.create_room(name="spare")
    # One creator per room: Synapse limits room creation per user (rc_room_creation).
    owners = {slug: synapse.register(f"owner{slug}") for slug in [f"cx{i}" for i in range(args.runs)]}
    slugs = [f"cx{i}" for i in range(args.runs)]
    rooms: dict[str, str] = {}
    tokens: dict[str, str] = {}
    files = []
    with crisis.rt.sessions() as s:
        _report, bad = playbooks.sync(s, clock=SystemClock())
        assert not bad, bad
        for slug in slugs:
            community, issued = communities.create_community(s, slug, name=slug, clock=crisis.rt.clock)
            tokens[slug] = issued.token
            bot = f"@crisis_{slug}:localhost"
            rooms[slug] = owners[slug].create_room(name=slug, power_level_content_override={"users": {bot: 100}})
            link = links.create_matrix_link(s, community, homeserver=synapse.url, server_name="localhost",
                                            rooms={rooms[slug]: "general"}, secret_key=config.secret_key,
                                            clock=crisis.rt.clock, admin_token=admin.token)
            assert link.link.sender == bot
            path = work / f"as-{slug}.yaml"
            path.write_text(to_yaml(registration(link, crisis_url=crisis.url)))
            files.append(path)
        s.commit()
    synapse.appservices = files
    synapse.restart()
    now = datetime.now(timezone.utc)
    for slug in slugs:
        _baseline(crisis, tokens[slug], slug, now)
    lock_lat: list[float] = []
    open_lat: list[float] = []
    share: list[float] = []
    puts: list[float] = []
    worker = WorkerProcess(replace(crisis.config)).start()
    try:
        for run, slug in enumerate(slugs):
            room = rooms[slug]
            raiders = [synapse.register(f"r{run}x{i}") for i in range(args.raiders)]
            for user in raiders:
                user.join(room)
            with crisis.rt.sessions() as s:
                cid = s.scalar(select(Community.id).where(Community.slug == slug))
            wait_for(lambda: _drained(crisis), timeout=180, message=f"the baseline; {worker.log()[-2000:]}")
            for rule in ("knock", "public"):  # the baseline: one plain PUT by a user, same run
                puts.append(plain_put(owner, spare, rule))
            assert join_rule(owners[slug], room) == "public"
            stop, seen = threading.Event(), list[float]()
            watcher = threading.Thread(target=watch, args=(owners[slug], room, stop, seen), daemon=True)
            watcher.start()
            first = time.time()
            for i, user in enumerate(raiders):
                user.say(room, f"FREE NITRO claim now https://nitro-gift.example/claim?c={i % 3} hurry")

            def opened(cid: int = cid) -> Incident | None:
                with crisis.rt.sessions() as s:
                    row: Incident | None = s.scalar(select(Incident).where(Incident.community_id == cid))
                    return row

            incident = wait_for(opened, timeout=60, message="the raid incident")
            watcher.join(30)
            stop.set()
            with crisis.rt.sessions() as s:
                action = s.scalar(select(ContainmentAction).where(ContainmentAction.incident_id == incident.id,
                                                                   ContainmentAction.step_id == "contain"))
                state = action.status if action else "none"
            if not seen:
                print(f"run {run}: no lockdown (incident {incident.severity}, action {state}); skipped")
                continue
            created = incident.created_at.timestamp()
            lock_lat.append(seen[0] - first)
            open_lat.append(created - first)
            share.append(seen[0] - created)
            print(f"run {run}: raid → incident {created - first:.2f}s ({incident.severity}), "
                  f"→ lockdown in force {seen[0] - first:.2f}s (action {state})")
    finally:
        _kill(worker)
    if not lock_lat:
        raise SystemExit("no run locked the room down")
    med_lock, med_open, med_put = statistics.median(lock_lat), statistics.median(open_lat), statistics.median(puts)
    print(f"raid → lockdown in force: median {med_lock:.2f} s, p99 {pct(lock_lat, 0.99):.2f} s (n = {len(lock_lat)})")
    print(f"raid → incident open (baseline): median {med_open:.2f} s, p99 {pct(open_lat, 0.99):.2f} s "
          f"→ ratio {med_lock / med_open:.2f}")
    print(f"incident → lockdown in force: median {statistics.median(share):.3f} s, p99 {pct(share, 0.99):.3f} s")
    print(f"one plain PUT of join_rules by a user (baseline): median {med_put * 1000:.0f} ms "
          f"→ containment's share is {statistics.median(share) / med_put:.1f}x")
    crisis.stop()
    synapse.cleanup()
    redis.cleanup()


def _drained(crisis: Crisis) -> bool:
    from crisis.ingest import backlog

    with crisis.rt.sessions() as s:
        return not backlog.communities_with_pending(s)


if __name__ == "__main__":
    main()
