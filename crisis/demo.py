"""A synthetic demo community: ordinary chatter, joins and reports, then a raid.

`make run` backfills a few hours of history (so the detectors have a baseline),
then streams live traffic and plays a raid about a minute after start.
"""
from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from crisis.clock import isoformat

WORDS = ("the event tonight looks great anyone joining the stream later thanks for the update "
         "what time is the match I think the new patch is good see you there welcome back "
         "nice work on the build who wants to team up lol that was funny agree with you").split()
CHANNELS = ("general", "help", "media", "off-topic")
SPAM = "FREE NITRO for everyone!!! claim now at https://dlscord-gift.example/claim @everyone"


class DemoStream:
    """Deterministic generator of demo events at a given event time."""

    def __init__(self, community: str, seed: int = 7, members: int = 300) -> None:
        self.community = community
        self.rng = random.Random(seed)
        self.members = [f"m{i}" for i in range(members)]
        self.seq = 0
        self.raider_seq = 0

    def _id(self) -> str:
        self.seq += 1
        return f"demo-{self.seq}-{self.rng.getrandbits(32):08x}"

    def _actor(self, member: str, created: datetime) -> dict[str, Any]:
        return {"id": member, "name": f"user_{member}", "created_at": isoformat(created)}

    def ordinary(self, at: datetime) -> dict[str, Any]:
        """One ordinary event: mostly messages, some joins, leaves and reports."""
        member = self.rng.choice(self.members)
        actor = self._actor(member, at - timedelta(days=400 + self.rng.randrange(900)))
        roll = self.rng.random()
        base = {"id": self._id(), "community": self.community, "ts": isoformat(at), "actor": actor}
        if roll < 0.90:
            text = " ".join(self.rng.choice(WORDS) for _ in range(self.rng.randrange(3, 12)))
            return {**base, "type": "message.create", "channel": self.rng.choice(CHANNELS),
                    "message_id": f"msg-{base['id']}", "content": text}
        if roll < 0.95:
            newcomer = f"n{self.rng.getrandbits(40):x}"
            return {**base, "type": "member.join", "actor": self._actor(newcomer, at - timedelta(days=200))}
        if roll < 0.98:
            return {**base, "type": "member.leave"}
        return {**base, "type": "report.create", "target": {"user_id": self.rng.choice(self.members)},
                "reason": "rude"}

    def raid(self, at: datetime, size: int = 80, seconds: float = 90.0) -> list[dict[str, Any]]:
        """New accounts joining in a burst and posting the same spam with links and mentions."""
        events: list[dict[str, Any]] = []
        for _ in range(size):
            self.raider_seq += 1
            raider = f"raid{self.raider_seq}"
            joined = at + timedelta(seconds=self.rng.uniform(0, seconds))
            actor = self._actor(raider, joined - timedelta(hours=self.rng.uniform(1, 20)))
            actor["name"] = f"giftbot{self.raider_seq:04d}"
            events.append({"id": self._id(), "community": self.community, "type": "member.join",
                           "ts": isoformat(joined), "actor": actor})
            for k in range(self.rng.randrange(1, 4)):
                posted = joined + timedelta(seconds=5 + 10 * k + self.rng.uniform(0, 5))
                eid = self._id()
                events.append({"id": eid, "community": self.community, "type": "message.create",
                               "ts": isoformat(posted), "actor": actor, "channel": "general",
                               "message_id": f"msg-{eid}", "content": f"{SPAM} {self.rng.randrange(100)}"})
            if self.rng.random() < 0.3:
                reporter = self.rng.choice(self.members)
                events.append({"id": self._id(), "community": self.community, "type": "report.create",
                               "ts": isoformat(joined + timedelta(seconds=30)),
                               "actor": self._actor(reporter, joined - timedelta(days=500)),
                               "target": {"user_id": raider}, "reason": "spam"})
        return sorted(events, key=lambda e: e["ts"])

    def span(self, start: datetime, end: datetime, per_minute: float) -> Iterator[dict[str, Any]]:
        """Ordinary events with Poisson arrivals between start and end."""
        at = start
        rate = per_minute / 60.0
        while True:
            at += timedelta(seconds=self.rng.expovariate(rate))
            if at >= end:
                return
            yield self.ordinary(at)


def post(url: str, token: str, events: list[dict[str, Any]], *, timeout: float = 30.0) -> dict[str, Any]:
    body = json.dumps(events).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=timeout) as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


def post_with_retry(url: str, token: str, events: list[dict[str, Any]], *, attempts: int = 30) -> None:
    """The server may still be starting: retry connection errors and 503s."""
    for attempt in range(attempts):
        try:
            post(url, token, events)
            return
        except urllib.error.HTTPError as exc:
            if exc.code not in (429, 503):
                raise
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(min(1.0 + attempt * 0.5, 5.0))
    raise RuntimeError(f"could not post demo events to {url}")


def feed(base_url: str, slug: str, token: str, *, backfill_hours: float = 3.0, raid_after: float = 60.0,
         per_minute: float = 90.0, duration: float | None = None) -> None:
    """Backfill history, then stream live traffic forever (or for `duration` seconds)."""
    url = f"{base_url}/api/v1/communities/{slug}/events"
    stream = DemoStream(slug, seed=int(time.time()))
    started = datetime.now(timezone.utc)
    history = list(stream.span(started - timedelta(hours=backfill_hours), started, per_minute))
    for i in range(0, len(history), 500):
        post_with_retry(url, token, history[i:i + 500])
    print(f"demo: backfilled {len(history)} events; live traffic now, a raid in {raid_after:.0f}s", flush=True)
    pending_raid = stream.raid(started + timedelta(seconds=raid_after))
    last = started
    while duration is None or (datetime.now(timezone.utc) - started).total_seconds() < duration:
        time.sleep(1.0)
        now = datetime.now(timezone.utc)
        batch = list(stream.span(last, now, per_minute))
        due = [e for e in pending_raid if e["ts"] <= isoformat(now)]
        pending_raid = pending_raid[len(due):]
        last = now
        if batch or due:
            post_with_retry(url, token, sorted(batch + due, key=lambda e: e["ts"]))
