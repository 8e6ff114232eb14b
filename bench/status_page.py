"""The public status page under a crowd of members reloading it, in process.

    .venv/bin/python bench/status_page.py [--seconds 3] [--open 5] [--updates 20]

A migrated SQLite database under a temporary directory, one community whose page is on,
`--open` open incidents and as many resolved this week, each with `--updates` public updates
(plus internal notes the page never reads). Requests go through Flask's test client, so the
figures are the server's own work per request, without a network. Each case runs for
`--seconds`, alternating, best of three:

  healthz       GET /healthz: the app's floor per request (the baseline)
  cold render   GET /status/<slug>, the render cache emptied before each request
  cached        GET /status/<slug>: the digest's queries, then the rendered page from the cache
  revalidated   GET /status/<slug> with If-None-Match: the digest's queries, then 304
  json          GET /api/v1/status/<slug>

Printed as requests/s and as a ratio of the healthz rate measured in the same run.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crisis import migrate, playbooks, runtime  # noqa: E402
from crisis.app import create_app  # noqa: E402
from crisis.clock import SystemClock  # noqa: E402
from crisis.config import Config  # noqa: E402
from crisis.publicstatus import page, statuspage, updates  # noqa: E402
from crisis.response import lifecycle  # noqa: E402
from crisis.tenancy import communities  # noqa: E402


def seed(app: object, *, open_count: int, per_incident: int) -> None:
    rt = app.extensions["crisis"]  # type: ignore[attr-defined]
    clock = SystemClock()
    with rt.sessions() as session:
        playbooks.sync(session, clock=clock)
        community, _ = communities.create_community(session, "lantern", name="Lantern", clock=clock)
        statuspage.configure(session, community, enabled=True, name="Lantern Guild", about="Status of the guild.",
                             now=clock.now())
        actor = lifecycle.Actor(None, "bench")
        for n in range(open_count * 2):
            incident = lifecycle.open_manual(session, community, kind="raid", severity="sev2",
                                             title=f"internal title {n}", description="", actor=actor, clock=clock)
            for u in range(per_incident):
                lifecycle.add_note(session, incident, f"internal note {u}", actor=actor, clock=clock)
                updates.publish(session, incident, f"Update {u} for members: the spam is being removed.",
                                public_title=f"Spam wave {n}", actor_user_id=None, actor_label="bench",
                                now=clock.now() - timedelta(minutes=per_incident - u))
            if n >= open_count:
                lifecycle.transition(session, incident.id, lifecycle.S.RESOLVED, actor=actor, clock=clock)
        session.commit()


def rate(call: Callable[[], int], seconds: float) -> float:
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        call()
        done += 1
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--open", type=int, default=5)
    parser.add_argument("--updates", type=int, default=20)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="crisis-bench-status-"))
    try:
        url = f"sqlite:///{tmp / 'crisis.db'}"
        migrate.upgrade(url)
        config = Config(var_dir=tmp, database_url=url, redis_url="redis://127.0.0.1:1/0",
                        secret_key="bench-secret-key-0123456789", sync_jobs=True)
        app = create_app(config, clock=SystemClock())
        seed(app, open_count=args.open, per_incident=args.updates)
        client = app.test_client()
        first = client.get("/status/lantern")
        assert first.status_code == 200, first.status_code
        etag = first.headers["ETag"]
        size = len(first.data)

        # The page's module, found by its route (whatever the blueprint is named), to empty its cache.
        rule = next(r for r in app.url_map.iter_rules() if r.rule == "/status/<slug>")
        view_module = sys.modules[app.view_functions[rule.endpoint].__module__]

        def cold() -> int:
            view_module._rendered = page.RenderCache()  # noqa: SLF001 -- the bench measures the miss
            return client.get("/status/lantern").status_code

        cases: dict[str, Callable[[], int]] = {
            "healthz": lambda: client.get("/healthz").status_code,
            "cold render": cold,
            "cached": lambda: client.get("/status/lantern").status_code,
            "revalidated": lambda: client.get("/status/lantern", headers={"If-None-Match": etag}).status_code,
            "json": lambda: client.get("/api/v1/status/lantern").status_code,
        }
        assert cases["revalidated"]() == 304
        best: dict[str, float] = {name: 0.0 for name in cases}
        for _round in range(3):
            for name, call in cases.items():
                best[name] = max(best[name], rate(call, args.seconds))
        print(f"page: {args.open} open + {args.open} resolved incidents x {args.updates} updates, {size} bytes")
        for name, value in best.items():
            print(f"{name:12s} {value:9.0f} req/s   ratio {value / best['healthz']:.3f} of healthz")
    finally:
        runtime.reset()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
