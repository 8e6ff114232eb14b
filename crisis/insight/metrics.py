"""Prometheus metrics counted in-process: ingest, detection and rq jobs.

Gunicorn workers and rq work horses are separate processes, so counters live in
prometheus-client's multiprocess files when PROMETHEUS_MULTIPROC_DIR is set. A
process starter calls `prepare_group()` first: it points that variable at
`<var>/metrics/<group>/` and wipes that directory only, so `crisis web` and
`crisis worker` can start and restart independently. /metrics (crisis.exposition)
reads every group's files.

Metric objects are created on first use, never at import: prometheus-client picks
the value storage when an object is created, and the starter may run after
something imported this module.

rq forks one work horse per job. With the default pid-named files that is one new
file per job, read at every scrape for ever. A horse therefore writes the file
"horse<worker pid>": a worker runs one horse at a time, so no two live processes
share a file, and each horse carries on from its predecessor's totals.
"""
from __future__ import annotations

import os
import shutil
from bisect import bisect_left
from collections import Counter as Tally
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from types import SimpleNamespace

from prometheus_client import Counter, Histogram, values

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
KNOWN_TYPES = frozenset({
    "member.join", "member.leave", "message.create", "message.delete",
    "report.create", "moderation.action", "reaction.add",
})
# Seconds from arrival to detection; the SLO is p99 < 2 s, so resolution sits there.
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)

_horse_names: dict[int, str] = {}


def _process_identifier() -> str:
    pid = os.getpid()
    return _horse_names.get(pid, str(pid))


def metrics_root(var_dir: Path) -> Path:
    return var_dir / "metrics"


def prepare_group(var_dir: Path, group: str) -> Path:
    """Give this process group a fresh multiprocess directory (call before any metric is used)."""
    path = metrics_root(var_dir) / group
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROC_ENV] = str(path)
    enable_multiprocess()
    return path


def enable_multiprocess() -> None:
    """Use mmap'd files with our identifier, whenever prometheus-client was imported."""
    if os.environ.get(MULTIPROC_ENV):
        values.ValueClass = values.MultiProcessValue(  # type: ignore[no-untyped-call]  # -- unannotated
            _process_identifier)


def become_horse(worker_pid: int) -> None:
    """Called first thing in an rq work horse: write the worker's horse file."""
    _horse_names[os.getpid()] = f"horse{worker_pid}"


def multiprocess_dir() -> Path | None:
    raw = os.environ.get(MULTIPROC_ENV)
    return Path(raw) if raw else None


@cache
def _m() -> SimpleNamespace:
    enable_multiprocess()
    return SimpleNamespace(
        ingested=Counter("crisis_events_ingested", "Events accepted by the ingest API.", ["community", "type"]),
        rejected=Counter("crisis_events_rejected", "Events or requests refused by the ingest API.", ["reason"]),
        duplicates=Counter("crisis_events_duplicate", "Events already stored, acknowledged and skipped.",
                           ["community"]),
        processed=Counter("crisis_events_processed", "Events consumed by the detectors.", ["community"]),
        lag=Histogram("crisis_detector_lag_seconds", "Time from an event's arrival to its detection.",
                      ["community"], buckets=LAG_BUCKETS),
        signals=Counter("crisis_signals", "Detector signals (episode opens and updates).", ["kind", "severity"]),
        opened=Counter("crisis_incidents_opened", "Incidents opened by the detectors.", ["kind", "severity"]),
        jobs=Counter("crisis_jobs", "rq jobs finished, by function and outcome.", ["job", "outcome"]),
        rate_limited=Counter("crisis_rate_limited", "Requests refused with 429.", ["scope"]),
    )


def type_label(event_type: str) -> str:
    """Custom x- types would make label cardinality client-controlled; fold them."""
    return event_type if event_type in KNOWN_TYPES else "custom"


def count_ingested(community: str, types: Iterable[str]) -> None:
    """One increment per (community, type) per batch, not per event."""
    ingested = _m().ingested
    for event_type, n in Tally(type_label(t) for t in types).items():
        ingested.labels(community, event_type).inc(n)


def count_duplicates(community: str, n: int) -> None:
    if n:
        _m().duplicates.labels(community).inc(n)


def count_rejected(reason: str, n: int = 1) -> None:
    _m().rejected.labels(reason).inc(n)


def count_rate_limited(scope: str) -> None:
    _m().rate_limited.labels(scope).inc()


def observe_lags(community: str, lags: Iterable[tuple[float, int]]) -> None:
    """Observe a whole drain: (lag, events) pairs, one per batch row, each written as
    `events` observations, with one write per bucket instead of one per event.

    Histogram.observe() takes the lock and writes the mmap file per call; a 5000-event
    drain would pay that 5000 times. The child's _buckets/_sum are prometheus-client
    internals (stable since 0.4), so this falls back to observe() if they move.
    """
    lags = list(lags)
    _m().processed.labels(community).inc(sum(n for _, n in lags))
    child = _m().lag.labels(community)
    buckets = getattr(child, "_buckets", None)
    total = getattr(child, "_sum", None)
    upper = getattr(child, "_upper_bounds", None)
    if buckets is None or total is None or upper is None:
        for lag, n in lags:
            for _ in range(n):
                child.observe(lag)
        return
    counts: Tally[int] = Tally()
    for lag, n in lags:
        counts[bisect_left(upper, lag)] += n
    for index, n in counts.items():
        buckets[index].inc(n)
    total.inc(sum(lag * n for lag, n in lags))


def count_detections(opened: Iterable[tuple[str, str]], signals: Iterable[tuple[str, str]]) -> None:
    m = _m()
    for (kind, severity), n in Tally(opened).items():
        m.opened.labels(kind, severity).inc(n)
    for (kind, severity), n in Tally(signals).items():
        m.signals.labels(kind, severity).inc(n)


def count_job(job: str, outcome: str) -> None:
    _m().jobs.labels(job, outcome).inc()
