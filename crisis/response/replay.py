"""`crisis replay` and `crisis backtest`: recorded streams through the real
detectors and incident service, on event time, against a throwaway database.

Raw events are not stored (that is the ingest API's job and would only measure
SQLite); everything from the detectors onwards is the live code path.
"""
from __future__ import annotations

import gzip
import io
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis import migrate
from crisis.clock import Clock, SystemClock, isoformat
from crisis.db import make_engine, make_sessionmaker
from crisis.detection import CommunityDetector, DetectorSettings, Event, parse_event
from crisis.detection.dedup import RecentIds
from crisis.detection.wire import event_from_line
from crisis.models import Community, Incident, IncidentEpisode
from crisis.response import drain
from crisis.tenancy import communities

FLUSH_EVERY = 512
# A community's buffer is also flushed once the stream is this far (event time) past its
# oldest pending event, as a live feed is drained within seconds: state one community's
# incidents give another (campaign windows) then reaches it at the point a live run would.
FLUSH_LAG = 60.0


@dataclass
class Progress:
    """A progress line on stderr (events/s, ETA by bytes read) when it is a terminal."""

    total_bytes: int
    stream: IO[str] = field(default_factory=lambda: sys.stderr)
    started: float = field(default_factory=time.monotonic)
    last: float = 0.0

    @property
    def enabled(self) -> bool:
        return self.stream.isatty()

    def update(self, events: int, bytes_read: int, *, final: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not final and now - self.last < 0.25):
            return
        self.last = now
        elapsed = max(now - self.started, 1e-9)
        frac = min(bytes_read / self.total_bytes, 1.0) if self.total_bytes else 0.0
        eta = elapsed * (1 - frac) / frac if frac > 0 else 0.0
        width = 30
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        self.stream.write(f"\r[{bar}] {frac:5.1%} {events:,} events {events / elapsed:,.0f}/s ETA {eta:4.0f}s")
        if final:
            self.stream.write("\n")
        self.stream.flush()


class _CountingReader(io.RawIOBase):
    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)


def _lines(paths: Iterable[str | Path], progress: Progress | None) -> Iterator[tuple[str | Path, int, bytes]]:
    """(path, line number, line) of every non-blank line, counting events for `progress`."""
    done_bytes = 0
    events = 0
    for path in paths:
        with open(path, "rb") as raw:
            counter = _CountingReader(raw)
            buffered = io.BufferedReader(counter, buffer_size=1 << 20)
            text: io.BufferedIOBase = gzip.GzipFile(fileobj=buffered) if str(path).endswith(".gz") else buffered
            for number, line in enumerate(text, start=1):
                if not line.strip():
                    continue
                yield path, number, line
                events += 1
                if progress is not None and events % 4096 == 0:
                    progress.update(events, done_bytes + counter.count)
            done_bytes += os.path.getsize(path)
    if progress is not None:
        progress.update(events, done_bytes, final=True)


def read_ndjson(paths: Iterable[str | Path], progress: Progress | None = None) -> Iterator[dict[str, Any]]:
    """Wire dicts of the files' lines."""
    for path, number, line in _lines(paths, progress):
        try:
            yield json.loads(line)
        except ValueError as exc:
            raise ValueError(f"{path}:{number}: not valid JSON: {exc}") from None


def read_events(paths: Iterable[str | Path], progress: Progress | None = None) -> Iterator[Event]:
    """Events of the files' lines, decoded without a dict per event (crisis.detection.wire);
    the same Events as parse_event of read_ndjson's dicts."""
    for path, number, line in _lines(paths, progress):
        try:
            yield event_from_line(line)
        except ValueError as exc:
            raise ValueError(f"{path}:{number}: not valid JSON: {exc}") from None


class ReplayRun:
    """Detectors per community feeding the incident service in one database."""

    def __init__(self, session: Session, clock: Clock,
                 settings: dict[str, DetectorSettings] | None = None) -> None:
        self.session = session
        self.clock = clock
        self.settings = settings or {}
        self.detectors: dict[str, CommunityDetector] = {}
        self.communities: dict[str, Community] = {}
        self.pending: dict[str, list[Any]] = {}
        # Ingest would refuse a repeated id; a replay of files drops it here.
        self.recent: dict[str, RecentIds] = {}
        self.outcome = drain.BatchOutcome()
        self.oldest: dict[str, float] = {}  # event time of each community's oldest pending event
        self.head = float("-inf")  # event time at the last lag check

    def _community(self, slug: str) -> Community:
        found = self.communities.get(slug)
        if found is None:
            found = self.session.scalar(select(Community).where(Community.slug == slug))
            if found is None:
                found, _ = communities.create_community(self.session, slug, name=slug, clock=self.clock)
            self.communities[slug] = found
            # Settings given win; otherwise a community already stored runs with its own.
            given = self.settings.get(slug)
            self.detectors[slug] = CommunityDetector(
                slug, given if given is not None else drain.settings_for(self.session, found))
            self.pending[slug] = []
            self.recent[slug] = RecentIds()
        return found

    def feed(self, wire: dict[str, Any] | Event) -> None:
        event = parse_event(wire) if isinstance(wire, dict) else wire
        self._community(event.community)
        if not self.recent[event.community].first_time(event.id, event.ts):
            return
        buf = self.pending[event.community]
        if not buf:
            self.oldest[event.community] = event.ts
        buf.append(event)
        if len(buf) >= FLUSH_EVERY:
            self._flush(event.community)
        if event.ts >= self.head + FLUSH_LAG:
            self.head = event.ts
            for slug, first in list(self.oldest.items()):
                if self.pending[slug] and event.ts - first >= FLUSH_LAG:
                    self._flush(slug)

    def _flush(self, slug: str) -> None:
        batch = sorted(self.pending[slug], key=lambda e: e.ts)
        self.pending[slug] = []
        self.oldest.pop(slug, None)
        actions = self.detectors[slug].process(batch)
        if actions:
            self._apply(slug, actions)

    def _apply(self, slug: str, actions: list[Any]) -> None:
        before = set(self.outcome.boosted)
        drain.apply_actions(self.session, self.communities[slug], actions, clock=self.clock, outcome=self.outcome)
        changed = self.outcome.boosted - before
        self.outcome.boosted = set()
        if changed:  # campaign windows moved: those detectors run with them from their next batch
            for other, community in self.communities.items():
                if community.id in changed and other not in self.settings:
                    self.detectors[other].settings.campaign_windows = \
                        drain.settings_for(self.session, community).campaign_windows

    def finish(self) -> list[Incident]:
        for slug in self.detectors:
            self._flush(slug)
        end = max((d.clock for d in self.detectors.values()), default=0.0)
        for slug, detector in self.detectors.items():
            self._apply(slug, detector.advance_to(end + 86400.0))
        self.session.flush()
        ids = self.outcome.opened
        rows = self.session.scalars(select(Incident).where(Incident.id.in_(ids))).all() if ids else []
        return sorted(rows, key=lambda i: (i.opened_at, i.id))

    def joined(self) -> list[IncidentEpisode]:
        """Episodes the detectors opened that joined an open incident instead of opening one."""
        keys = [key for _incident, key in self.outcome.attached]
        if not keys:
            return []
        rows = self.session.scalars(select(IncidentEpisode).where(IncidentEpisode.episode_key.in_(keys))).all()
        return sorted(rows, key=lambda e: (e.opened_at, e.id))


def incident_line(incident: Incident, slug: str) -> dict[str, Any]:
    return {"id": incident.id, "kind": incident.kind, "community": slug, "opened_at": isoformat(incident.opened_at),
            "severity": incident.severity, "title": incident.title, "evidence": incident.evidence}


def episode_line(episode: IncidentEpisode, slug: str) -> dict[str, Any]:
    return {"id": episode.episode_key, "kind": episode.kind, "community": slug,
            "opened_at": isoformat(episode.opened_at), "joined_incident": episode.incident_id,
            "reason": episode.reason}


@dataclass
class Replayed:
    """Both views of a replay: the incidents opened (what people are paged for) and every
    episode the detectors opened, those that joined an open incident included."""

    incidents: list[dict[str, Any]]
    joined: list[dict[str, Any]]

    @property
    def episodes(self) -> list[dict[str, Any]]:
        return sorted(self.incidents + self.joined, key=lambda line: line["opened_at"])


def replay(paths: list[str], *, progress: bool = True, database_url: str | None = None,
           settings: dict[str, DetectorSettings] | None = None) -> list[dict[str, Any]]:
    """Replay files and return one dict per incident opened, in opening order."""
    return replay_views(paths, progress=progress, database_url=database_url, settings=settings).incidents


def replay_views(paths: list[str], *, progress: bool = True, database_url: str | None = None,
                 settings: dict[str, DetectorSettings] | None = None) -> Replayed:
    """Replay files: the incidents opened and the episodes that joined one (Replayed)."""
    with tempfile.TemporaryDirectory(prefix="crisis-replay-") as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'replay.db'}"
        migrate.upgrade(url)
        engine = make_engine(url)
        try:
            with make_sessionmaker(engine)() as session:
                run = ReplayRun(session, SystemClock(), settings)
                meter = Progress(sum(os.path.getsize(p) for p in paths)) if progress else None
                for event in read_events(paths, meter):
                    run.feed(event)
                incidents = run.finish()
                slugs = {c.id: c.slug for c in run.communities.values()}
                lines = [incident_line(i, slugs[i.community_id]) for i in incidents]
                joined = [episode_line(e, slugs[e.community_id]) for e in run.joined()]
                session.commit()
        finally:
            engine.dispose()
    return Replayed(lines, joined)
