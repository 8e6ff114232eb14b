"""The retention job's cost on one community with 10M stored events, on PostgreSQL.

    .venv/bin/python bench/retention.py [--events 10000000] [--per-batch 100] [--days 60] [--repeat 3] [--erase]

Starts PostgreSQL 15 (tests/servers.py: loopback, fsync off, default settings otherwise) and
builds one community's batch log in a template database: `--events` events in batches of
`--per-batch` (zlib JSON bodies, COPY), received evenly over `--days` days up to now, their
ids in `event_ids` (generate_series), every batch consumed by the detectors, and one resolved
incident with a postmortem still in draft that holds three days of the expired range. Then,
each on a fresh copy of the template:

  job:       crisis.retention.enforce.run, as the rq job runs it (bounded transactions)
  baseline:  a plain DELETE of the same rows in one transaction: the batches past the
             cutoff outside the hold (RETURNING their bodies), then their ids
             (DELETE ... WHERE event_id = ANY(...)), one commit

With --erase, also (on a third copy) erasing one member who sent 1 event in 5000
(crisis.erasure.service, to the end), against reading and decoding every batch once
(SELECT body, then decode_batch: the least any erasure of the batch log must do).

During both, two clients run beside it: an ingest writer storing a 100-event batch every
50 ms into the same community (crisis.ingest.store.store_events), and a row prober that
locks one random expired batch row (SELECT ... FOR UPDATE, as an erasure rewriting it
would) every 50 ms. It prints events deleted per second for both and their ratio, the
longest transaction of each, and the longest wait of each concurrent client.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from crisis import migrate  # noqa: E402
from crisis.clock import FixedClock, isoformat  # noqa: E402
from crisis.db import make_engine, make_sessionmaker  # noqa: E402
from crisis.ingest.store import decode_batch, store_events  # noqa: E402
from crisis.ingest.validate import validate_batch  # noqa: E402
from crisis.models import Community  # noqa: E402
from crisis.retention import enforce  # noqa: E402
from tests.servers import PostgresServer  # noqa: E402

SLUG = "lantern"


def _dsn(pg: PostgresServer, db: str) -> str:
    return f"host=127.0.0.1 port={pg.port} user=crisis dbname={db}"


def build_template(pg: PostgresServer, events: int, per_batch: int, days: int, now: datetime) -> dict[str, int]:
    url = pg.create_database("tpl")
    migrate.upgrade(url)
    batches = events // per_batch
    span = timedelta(days=days) / batches
    start = now - timedelta(days=days)
    t0 = time.monotonic()
    with psycopg.connect(_dsn(pg, "tpl"), autocommit=True) as conn:
        cid = conn.execute("INSERT INTO communities (slug, name, platform, locale, timezone, settings, created_at) "
                           "VALUES (%s, 'Lantern', 'matrix', 'en', 'UTC', '{}', %s) RETURNING id",
                           (SLUG, start)).fetchone()[0]  # type: ignore[index]
        with conn.cursor().copy("COPY event_batches (community_id, received_at, count, fresh, body) FROM STDIN") as cp:
            for b in range(batches):
                at = start + span * b
                ts = isoformat(at)
                body = "[" + ",".join(
                    f'{{"id":"e{b}-{i}","type":"message.create","ts":"{ts}","actor":{{"id":"@u{(b * 7 + i) % 5000}:hs",'
                    f'"name":"User {(b * 7 + i) % 5000}"}},"channel":"general","content":"message {i} of batch {b}, '
                    f'some ordinary chat about the weekend and the game"}}' for i in range(per_batch)) + "]"
                cp.write_row((cid, at, per_batch, None, zlib.compress(body.encode(), 1)))
        generated = time.monotonic() - t0
        conn.execute("INSERT INTO event_ids (community_id, event_id) SELECT %s, 'e' || b || '-' || i "
                     "FROM generate_series(0, %s) AS b, generate_series(0, %s) AS i", (cid, batches - 1, per_batch - 1))
        last = conn.execute("SELECT max(seq) FROM event_batches").fetchone()[0]  # type: ignore[index]
        conn.execute("INSERT INTO detector_states (community_id, state, last_seq, updated_at, version) "
                     "VALUES (%s, '{}', %s, %s, 1)", (cid, last, now))
        held_at = now - timedelta(days=45)
        incident = conn.execute(
            "INSERT INTO incidents (community_id, kind, title, severity, status, source, evidence, opened_at, "
            "created_at, resolved_at) VALUES (%s, 'raid', 'Raid', 'sev2', 'resolved', 'detector', '{}', %s, %s, %s) "
            "RETURNING id", (cid, held_at, held_at, held_at + timedelta(days=1))).fetchone()[0]  # type: ignore[index]
        conn.execute("INSERT INTO postmortems (incident_id, community_id, status, sections, facts, created_at, "
                     "updated_at) VALUES (%s, %s, 'draft', '[]', '{}', %s, %s)", (incident, cid, now, now))
        conn.execute("VACUUM ANALYZE")
        size = conn.execute("SELECT pg_database_size('tpl')").fetchone()[0]  # type: ignore[index]
    return {"community_id": cid, "last_seq": last, "batches": batches, "generated_s": round(generated, 1),
            "built_s": round(time.monotonic() - t0, 1), "db_mb": size // 2**20}


def copy_of(pg: PostgresServer, name: str) -> str:
    with psycopg.connect(_dsn(pg, "postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE tpl')
    with psycopg.connect(_dsn(pg, name), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")  # statistics of its own, as a live database has
    return pg.url(name)


@dataclass
class Neighbours:
    """The ingest writer and the row prober, each noting its longest wait."""

    url: str
    dsn: str
    community_id: int
    probe_seqs: list[int]
    stop: threading.Event = field(default_factory=threading.Event)
    ingest_ms: list[float] = field(default_factory=list)
    probe_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def _ingest(self) -> None:
        engine = make_engine(self.url)
        sessions = make_sessionmaker(engine)
        clock = FixedClock(datetime.now(timezone.utc))
        n = 0
        while not self.stop.wait(0.05):
            raw = [{"id": f"live{n}-{i}", "type": "message.create", "ts": isoformat(clock.now()),
                    "actor": {"id": f"@u{i}:hs"}, "channel": "general", "content": "still here"} for i in range(100)]
            valid, _ = validate_batch(raw, SLUG, clock.now())
            t0 = time.monotonic()
            try:
                with sessions() as s:
                    community = s.get(Community, self.community_id)
                    assert community is not None
                    store_events(s, community, valid, clock=clock)
                    s.commit()
            except Exception as exc:  # noqa: BLE001 -- reported, not hidden
                self.errors.append(f"ingest: {exc}")
            self.ingest_ms.append((time.monotonic() - t0) * 1000)
            n += 1
        engine.dispose()

    def _probe(self) -> None:
        rng = random.Random(7)
        with psycopg.connect(self.dsn) as conn:
            while not self.stop.wait(0.05):
                seq = rng.choice(self.probe_seqs)
                t0 = time.monotonic()
                conn.execute("SELECT seq FROM event_batches WHERE seq = %s FOR UPDATE", (seq,))
                conn.commit()
                self.probe_ms.append((time.monotonic() - t0) * 1000)

    def __enter__(self) -> Neighbours:
        self.threads = [threading.Thread(target=self._ingest, daemon=True),
                        threading.Thread(target=self._probe, daemon=True)]
        for t in self.threads:
            t.start()
        time.sleep(0.5)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)

    def summary(self) -> dict[str, float | int]:
        return {"ingest_max_ms": round(max(self.ingest_ms, default=0), 1),
                "ingest_p50_ms": round(sorted(self.ingest_ms)[len(self.ingest_ms) // 2], 1) if self.ingest_ms else 0,
                "ingest_batches": len(self.ingest_ms), "probe_max_ms": round(max(self.probe_ms, default=0), 1),
                "probes": len(self.probe_ms), "errors": len(self.errors)}


def expired_seqs(dsn: str, cid: int, cutoff: datetime) -> list[int]:
    with psycopg.connect(dsn) as conn:
        return [r[0] for r in conn.execute("SELECT seq FROM event_batches WHERE community_id = %s AND received_at < %s",
                                           (cid, cutoff))]


def run_job(url: str, dsn: str, cid: int, now: datetime, probes: list[int]) -> dict[str, object]:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    with Neighbours(url, dsn, cid, probes) as side:
        t0 = time.monotonic()
        report = enforce.run(sessions, cid, clock=FixedClock(now), budget_s=float("inf"))
        seconds = time.monotonic() - t0
    engine.dispose()
    assert report.finished, report
    return {"seconds": round(seconds, 2), "events": report.events, "batches": report.batches,
            "transactions": report.transactions, "max_transaction_ms": report.max_transaction_ms,
            "events_per_s": round(report.events / seconds), **side.summary()}


def run_baseline(url: str, dsn: str, cid: int, now: datetime, probes: list[int]) -> dict[str, object]:
    cutoff = now - timedelta(days=30)
    held_start, held_end = now - timedelta(days=47), now - timedelta(days=44) + timedelta(hours=1)
    with Neighbours(url, dsn, cid, probes) as side:
        t0 = time.monotonic()
        with psycopg.connect(dsn) as conn:
            rows = conn.execute(
                "DELETE FROM event_batches WHERE community_id = %s AND received_at < %s "
                "AND NOT (received_at >= %s AND received_at <= %s) RETURNING fresh, count, body",
                (cid, cutoff, held_start, held_end)).fetchall()
            ids = [e["id"] for fresh, count, body in rows for e in decode_batch(body, fresh, count)]
            conn.execute("DELETE FROM event_ids WHERE community_id = %s AND event_id = ANY(%s)", (cid, ids))
            conn.commit()
        seconds = time.monotonic() - t0
    return {"seconds": round(seconds, 2), "events": len(ids), "batches": len(rows), "transactions": 1,
            "max_transaction_ms": round(seconds * 1000, 1), "events_per_s": round(len(ids) / seconds),
            **side.summary()}


def run_erasure(url: str, dsn: str, cid: int, now: datetime) -> dict[str, object]:
    from crisis.erasure import service

    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    t0 = time.monotonic()
    with psycopg.connect(dsn) as conn:
        decoded = sum(len(decode_batch(body, fresh, count)) for fresh, count, body in
                      conn.execute("SELECT fresh, count, body FROM event_batches WHERE community_id = %s", (cid,)))
    read_s = time.monotonic() - t0
    clock = FixedClock(now)
    with sessions() as s:
        community = s.get(Community, cid)
        assert community is not None
        row = service.request(s, community, member="@u1:hs", actor="bench", actor_user_id=None, remote_addr=None,
                              clock=clock)
        s.commit()
        erasure_id = row.id
    t0 = time.monotonic()
    status = service.run_to_end(sessions, erasure_id, clock=clock)
    erase_s = time.monotonic() - t0
    with sessions() as s:
        found = s.get(service.Erasure, erasure_id)
        counts = dict(found.counts) if found else {}
    engine.dispose()
    return {"status": status, "seconds": round(erase_s, 1), "read_decode_s": round(read_s, 1),
            "events_read": decoded, "ratio_read_over_erase": round(read_s / erase_s, 3),
            "events_own": counts.get("events_own"), "batches_rewritten": counts.get("batches_rewritten")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--per-batch", type=int, default=100)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=1, help="job and baseline rounds, each on fresh copies")
    parser.add_argument("--erase", action="store_true", help="also time erasing one member")
    parser.add_argument("--erase-only", action="store_true", help="only time erasing one member")
    args = parser.parse_args()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    pg = PostgresServer().start()
    try:
        built = build_template(pg, args.events, args.per_batch, args.days, now)
        print(json.dumps({"template": built}), flush=True)
        cid = built["community_id"]
        results = {}
        if args.erase or args.erase_only:
            url = copy_of(pg, "erase")
            print(json.dumps({"erasure": run_erasure(url, _dsn(pg, "erase"), cid, now)}), flush=True)
            with psycopg.connect(_dsn(pg, "postgres"), autocommit=True) as conn:
                conn.execute('DROP DATABASE "erase"')
            if args.erase_only:
                return
        ratios = []
        for round_ in range(args.repeat):
            for name, runner in (("job", run_job), ("baseline", run_baseline)):
                db = f"{name}{round_}"
                url = copy_of(pg, db)
                dsn = _dsn(pg, db)
                probes = expired_seqs(dsn, cid, now - timedelta(days=30))
                results[name] = runner(url, dsn, cid, now, probes)
                with psycopg.connect(dsn) as conn:
                    left = conn.execute("SELECT count(*), coalesce(sum(count), 0) FROM event_batches").fetchone()
                    ids = conn.execute("SELECT count(*) FROM event_ids").fetchone()
                assert left is not None and ids is not None
                results[name] |= {"batches_left": left[0], "events_left": int(left[1]), "ids_left": ids[0]}
                print(json.dumps({name: results[name]}), flush=True)
                with psycopg.connect(_dsn(pg, "postgres"), autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE "{db}"')
            job, base = results["job"], results["baseline"]
            assert job["events"] == base["events"], "the job and the baseline must delete the same rows"
            ratios.append(round(job["events_per_s"] / base["events_per_s"], 3))  # type: ignore[operator]
            print(json.dumps({"round": round_, "ratio_events_per_s": ratios[-1],
                              "max_transaction_ms": {"job": job["max_transaction_ms"],
                                                     "baseline": base["max_transaction_ms"]},
                              "probe_max_ms": {"job": job["probe_max_ms"], "baseline": base["probe_max_ms"]},
                              "ingest_max_ms": {"job": job["ingest_max_ms"], "baseline": base["ingest_max_ms"]}}),
                  flush=True)
        print(json.dumps({"ratios": ratios, "median_ratio": sorted(ratios)[len(ratios) // 2]}))
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
