"""What turning report events into cases costs the detect drain: one community's dev-set
events stored and drained twice into fresh SQLite databases, once as shipped (each
`report.create` becomes a case in the drain's transaction) and once with the case intake
switched off (the baseline, same run, same events), alternating, best of each.

    .venv/bin/python bench/case_intake.py [--community harbor] [--repeat 3]

Prints events/s for both, their ratio (with intake ÷ without) and the cases written.
"""
from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from crisis import migrate  # noqa: E402
from crisis.clock import FixedClock  # noqa: E402
from crisis.db import make_engine, make_sessionmaker  # noqa: E402
from crisis.ingest.store import store_events  # noqa: E402
from crisis.ingest.validate import parse_rfc3339, validate_batch  # noqa: E402
from crisis.models import Case  # noqa: E402
from crisis.response import drain  # noqa: E402
from crisis.tenancy import communities  # noqa: E402

DEV = ROOT.parent / "shared" / "datasets" / "dev" / "events.ndjson.gz"


def _events(community: str) -> list[dict[str, Any]]:
    with gzip.open(DEV, "rt", encoding="utf-8") as fh:
        return [e for e in map(json.loads, fh) if e.get("community") == community]


def _run(events: list[dict[str, Any]], community: str, template: Path, *, intake: bool) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "b.db"
        db.write_bytes(template.read_bytes())
        engine = make_engine(f"sqlite:///{db}")
        sessions = make_sessionmaker(engine)
        last = parse_rfc3339(events[-1]["ts"])
        assert last is not None
        clock = FixedClock(last)
        with sessions() as session:
            tenant, _ = communities.create_community(session, community, name=community, clock=clock)
            for i in range(0, len(events), 500):
                valid, errors = validate_batch(events[i:i + 500], community, clock.now())
                assert not errors, errors[:3]
                store_events(session, tenant, valid, clock=clock)
            session.commit()
            cid = tenant.id
        saved = drain.case_intake.from_events
        if not intake:
            drain.case_intake.from_events = lambda *a, **k: []  # type: ignore[assignment]
        try:
            started = time.perf_counter()
            while True:
                with sessions() as session:
                    outcome = drain.drain(session, cid, clock=clock, max_seconds=5.0, max_batches=200)
                    session.commit()
                if outcome.events == 0:
                    break
            seconds = time.perf_counter() - started
        finally:
            drain.case_intake.from_events = saved  # type: ignore[method-assign]
        with sessions() as session:
            cases = int(session.scalar(select(func.count()).select_from(Case)) or 0)
        engine.dispose()
        return seconds, cases


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--community", default="harbor")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    events = _events(args.community)
    reports = sum(e["type"] == "report.create" for e in events)
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "template.db"
        migrate.upgrade(f"sqlite:///{template}")
        best = {True: float("inf"), False: float("inf")}
        cases = 0
        for _ in range(args.repeat):
            for intake in (False, True):
                seconds, made = _run(events, args.community, template, intake=intake)
                best[intake] = min(best[intake], seconds)
                cases = made if intake else cases
    n = len(events)
    print(f"community {args.community}: {n} events, {reports} reports")
    print(f"drain without case intake : {n / best[False]:10,.0f} events/s ({best[False]:.2f} s)")
    print(f"drain with case intake    : {n / best[True]:10,.0f} events/s ({best[True]:.2f} s, {cases} cases)")
    print(f"ratio (with / without)    : {best[False] / best[True]:.3f}")


if __name__ == "__main__":
    main()
