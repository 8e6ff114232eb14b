"""The appservice transaction endpoint's own rate, apart from any homeserver.

    .venv/bin/python bench/appservice_intake.py [--events 20000] [--batch 100]

In one process (Flask test client, SQLite, a real redis-server, no worker: detection is
not run), the
same synthetic room messages are sent twice into fresh communities: as Matrix transactions
to PUT /_matrix/app/v1/transactions/{txnId} (translation, per-event validation, storage, the
transaction row), and as the ingest API's JSON batches of the equivalent crisis events (the
baseline, measured in the same run). Prints events/s for each and their ratio; alternates
three times and keeps the best of each."""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crisis import migrate, runtime  # noqa: E402
from crisis.app import create_app  # noqa: E402
from crisis.bridges import links  # noqa: E402
from crisis.bridges.matrix.mapping import MatrixBridge  # noqa: E402
from crisis.clock import SystemClock  # noqa: E402
from crisis.config import Config  # noqa: E402
from crisis.tenancy import communities  # noqa: E402
from tests.servers import RedisServer  # noqa: E402

ROOM = "!benchroom0123456789"


def matrix_events(n: int, offset: int, now_ms: int) -> list[dict[str, object]]:
    return [{"type": "m.room.message", "event_id": f"$e{offset + i}", "room_id": ROOM,
             "sender": f"@user{(offset + i) % 300}:localhost", "origin_server_ts": now_ms - (n - i),
             "content": {"msgtype": "m.text", "body": f"ordinary chat line {offset + i} about the game tonight"}}
            for i in range(n)]


def run_once(events: int, batch: int, rnd: int, redis_url: str) -> tuple[float, float]:
    work = Path(tempfile.mkdtemp(prefix="crisis-bench-as-"))
    url = f"sqlite:///{work / 'crisis.db'}"
    migrate.upgrade(url)
    # A real Redis and no worker: both paths ring the detectors' doorbell (collapsed to one
    # waiting job per community), and detection itself stays out of both measurements.
    config = Config(var_dir=work, database_url=url, redis_url=redis_url,
                    secret_key="bench-secret-key-0123456789")
    app = create_app(config, clock=SystemClock())
    rt = app.extensions["crisis"]
    with rt.sessions() as s:
        a, _ = communities.create_community(s, f"as{rnd}", name="as", clock=rt.clock)
        b, issued = communities.create_community(s, f"api{rnd}", name="api", clock=rt.clock)
        link = links.create_matrix_link(s, a, homeserver="http://127.0.0.1:1", server_name="localhost",
                                        rooms={ROOM: "general"}, secret_key=config.secret_key, clock=rt.clock)
        s.commit()
    client = app.test_client()
    now_ms = int(time.time() * 1000)
    bodies = [json.dumps({"events": matrix_events(batch, k, now_ms)}) for k in range(0, events, batch)]
    bridge = MatrixBridge()
    wire = [json.dumps(bridge.translate(json.loads(body)["events"], rooms={ROOM: "general"},
                                        accounts=lambda _u: None).events) for body in bodies]
    hs = {"Authorization": f"Bearer {link.inbound_token}", "Content-Type": "application/json"}
    api = {"Authorization": f"Bearer {issued.token}", "Content-Type": "application/json"}
    t0 = time.perf_counter()
    for i, body in enumerate(bodies):
        assert client.put(f"/_matrix/app/v1/transactions/{i}", data=body, headers=hs).status_code == 200
    t_as = time.perf_counter() - t0
    t0 = time.perf_counter()
    for body in wire:
        assert client.post(f"/api/v1/communities/api{rnd}/events", data=body, headers=api).status_code == 202
    t_api = time.perf_counter() - t0
    runtime.reset()
    shutil.rmtree(work, ignore_errors=True)
    return events / t_as, events / t_api


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    redis = RedisServer().start()
    best_as = best_api = 0.0
    for rnd in range(3):
        rate_as, rate_api = run_once(args.events, args.batch, rnd, redis.url)
        print(f"round {rnd}: appservice {rate_as:,.0f} events/s, ingest API {rate_api:,.0f} events/s")
        best_as, best_api = max(best_as, rate_as), max(best_api, rate_api)
    print(f"appservice transactions: {best_as:,.0f} events/s (best of 3)")
    print(f"ingest API, same events: {best_api:,.0f} events/s (baseline)")
    print(f"ratio: {best_as / best_api:.2f}")
    redis.cleanup()


if __name__ == "__main__":
    main()
