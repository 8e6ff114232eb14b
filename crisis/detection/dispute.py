"""Dispute detection: a few members replying to each other, with rising hostility.

Only back-and-forth replies are examined: a reply x->y in a channel counts once y
has replied to x in the same channel within the window. For those, hostility is
scored (insult lexicon, shouting, minus friendly markers) and kept in a small
per-channel log. A dispute is a group of at most three members in one channel
with enough mutual exchanges, several hostile messages from at least two of
them, and a hostility sum above a floor; reports exchanged between the group add
weight. Friendly rapid chat has exchanges but no hostility, so it stays silent.
"""
from __future__ import annotations

from typing import Any

from crisis.detection.episodes import Detection
from crisis.detection.event import Event
from crisis.detection.settings import DetectorSettings
from crisis.detection.text import hostility

WINDOW = 900.0
MIN_EXCHANGES = 4
MIN_HOSTILE_MSGS = 3
MIN_HOSTILE_SPEAKERS = 2
MIN_HOSTILITY = 4.0
MAX_REPLIES = 50_000
MAX_LOG = 300


class DisputeDetector:
    def __init__(self, community: str, settings: DetectorSettings) -> None:
        self.community = community
        self.settings = settings
        # (channel, from, to) -> [ts, content, recorded?]; insertion-ordered for expiry
        self.replies: dict[tuple[str, str, str], list[Any]] = {}
        # channel -> list of [ts, speaker, target, hostility, content]
        self.logs: dict[str, list[list[Any]]] = {}
        self.pair_channel: dict[tuple[str, str], str] = {}
        self.last_sweep = -1e18

    def on_reply(self, e: Event) -> list[Detection]:
        x = e.actor
        y: str = e.target_user  # type: ignore[assignment]  # -- CommunityDetector calls this only when set
        if y == x:
            return []
        ch = e.channel or ""
        replies = self.replies
        key = (ch, x, y)
        if key in replies:
            del replies[key]  # re-insert: keeps the dict in time order for expiry
        mine: list[Any] = [e.ts, e.content or "", False]
        replies[key] = mine
        back = replies.get((ch, y, x))
        if back is None or e.ts - back[0] > WINDOW:
            if len(replies) > MAX_REPLIES:
                del replies[next(iter(replies))]
            return []
        log = self.logs.setdefault(ch, [])
        if not back[2]:
            back[2] = True
            log.append([back[0], y, x, hostility(back[1]), back[1][:200]])
        mine[2] = True
        h = hostility(mine[1])
        log.append([e.ts, x, y, h, mine[1][:200]])
        self.pair_channel[(min(x, y), max(x, y))] = ch
        self._trim(log, e.ts)
        return self._evaluate(ch, log, e.ts) if h > 0 else []

    def on_report(self, e: Event) -> list[Detection]:
        """A report between two members who are exchanging replies adds hostility."""
        x, y = e.actor, e.target_user
        if not y:
            return []
        ch = self.pair_channel.get((min(x, y), max(x, y)))
        if ch is None:
            return []
        log = self.logs.get(ch)
        if not log or e.ts - log[-1][0] > WINDOW:
            return []
        log.append([e.ts, x, y, 2.0, f"[report: {e.reason or ''}]"])
        self._trim(log, e.ts)
        return self._evaluate(ch, log, e.ts)

    def _trim(self, log: list[list[Any]], now: float) -> None:
        drop = 0
        while drop < len(log) and now - log[drop][0] > WINDOW:
            drop += 1
        if len(log) - drop > MAX_LOG:
            drop = len(log) - MAX_LOG
        if drop:
            del log[:drop]

    def _evaluate(self, ch: str, log: list[list[Any]], ts: float) -> list[Detection]:
        s = self.settings.s
        hostile_by: dict[str, float] = {}
        for _, sp, _, h, _ in log:
            if h > 0:
                hostile_by[sp] = hostile_by.get(sp, 0.0) + h
        group = sorted(hostile_by, key=lambda a: -hostile_by[a])[:3]
        gset = set(group)
        inside = [r for r in log if r[1] in gset and r[2] in gset]
        hostile_msgs = [r for r in inside if r[3] > 0]
        speakers = {r[1] for r in hostile_msgs}
        total = sum(r[3] for r in inside)
        if (len(inside) < MIN_EXCHANGES / s or len(hostile_msgs) < MIN_HOSTILE_MSGS / s
                or len(speakers) < min(MIN_HOSTILE_SPEAKERS, len(gset)) or total < MIN_HOSTILITY / s):
            return []
        half = len(inside) // 2
        first = sum(r[3] for r in inside[:half])
        second = sum(r[3] for r in inside[half:])
        sev = 2 if total >= 4 * MIN_HOSTILITY or any(r[4].startswith("[report") for r in inside) else 3
        ev = {"channel": ch, "participants": group, "accounts": group,
              "exchanges": len(inside), "hostile_messages": len(hostile_msgs),
              "hostility": round(total, 2), "hostility_first_half": round(first, 2),
              "hostility_second_half": round(second, 2), "rising": second >= first,
              "samples": [r[4] for r in hostile_msgs[-5:]],
              "observed": len(hostile_msgs), "expected": 0}
        title = f"Dispute in #{ch}: {' vs '.join(group)}"
        return [Detection("dispute", self.community, f"channel:{ch}", sev, total, ts, title, ev)]

    def expire(self, now: float) -> None:
        rep = self.replies
        while rep:
            k = next(iter(rep))
            if now - rep[k][0] <= WINDOW:
                break
            del rep[k]
        if now - self.last_sweep < 300.0:
            return
        self.last_sweep = now
        for ch in [c for c, log in self.logs.items() if not log or now - log[-1][0] > WINDOW]:
            del self.logs[ch]
        if len(self.pair_channel) > 10_000:
            self.pair_channel = {k: v for k, v in self.pair_channel.items() if v in self.logs}

    def to_state(self) -> dict[str, Any]:
        return {"replies": [[list(k), v] for k, v in self.replies.items()],
                "logs": self.logs,
                "pair_channel": [[list(k), v] for k, v in self.pair_channel.items()],
                "last_sweep": self.last_sweep}

    def load_state(self, st: dict[str, Any]) -> None:
        self.replies = {tuple(k): list(v) for k, v in st["replies"]}
        self.logs = {k: [list(r) for r in v] for k, v in st["logs"].items()}
        self.pair_channel = {tuple(k): v for k, v in st["pair_channel"]}
        self.last_sweep = float(st["last_sweep"])
