"""Dispute detection: a few members replying to each other, with rising hostility.

A reply enters its channel's exchange log when it is part of an exchange: its addressee
replied to its author within the window (back-and-forth), or it answers a recent message
and one of the two is hostile (the answered message enters the log with it, addressed to
the one who answered). Hostility is scored per message (insult lexicons in English and
CJK, shouting, minus friendly markers; see text/hostility.py) and kept in a small
per-channel log. Two tests read the log:

* **volume**: a group of at most three members with enough exchanges, several hostile
  messages from at least two of them, and a hostility sum above a floor;
* **early**: the first hostile exchanges, judged against how rare hostility is here. Under
  the null that replies are hostile independently at this community's learned share p
  (hostile_rate.py), k hostile messages among the group's n logged messages have the
  binomial tail P(X >= k); two or more hostile messages with p_tail < 1e-6 (the alpha of
  the count tests) fire. Where insults are rare the first hostile exchange decides; where
  they are common (or while the share is still unknown, on a young community) the test
  needs more of them, so it never pages on a rough community's ordinary tone.

Reports exchanged between the group add weight. Friendly rapid chat has exchanges but no
hostility, so it stays silent.
"""
from __future__ import annotations

import base64
import json
import math
import zlib
from typing import Any

from crisis.detection.episodes import Detection
from crisis.detection.event import Event
from crisis.detection.hostile_rate import HostileRate
from crisis.detection.settings import DetectorSettings
from crisis.detection.tails import binom_logsf

WINDOW = 900.0
MIN_EXCHANGES = 4
MIN_HOSTILE_MSGS = 3
MIN_HOSTILE_SPEAKERS = 2
MIN_HOSTILITY = 4.0
EARLY_ALPHA = 1e-6
EARLY_MIN_HOSTILE = 2
HOSTILE_LEVEL = 1.0  # one lexicon hit (or its equivalent): what the early test counts
MAX_REPLIES = 50_000
MAX_RECENT = 50_000
MAX_LOG = 300
RATE_SAMPLE = 4


class DisputeDetector:
    def __init__(self, community: str, settings: DetectorSettings) -> None:
        self.community = community
        self.settings = settings
        # (channel, from, to) -> [ts, content, recorded?]; insertion-ordered for expiry
        self.replies: dict[tuple[str, str, str], list[Any]] = {}
        # channel -> author -> (ts, text) of the member's last message there, which a reply
        # to them most likely answers; (channel, author) -> (that message's ts, hostility,
        # logged?) once scored (replies and the messages they answer)
        self.recent: dict[str, dict[str, tuple[float, str | None]]] = {}
        self.prune_at: dict[str, int] = {}
        self.scored: dict[tuple[str, str], tuple[float, float, bool]] = {}
        # channel -> list of [ts, speaker, target, hostility, content]
        self.logs: dict[str, list[list[Any]]] = {}
        self.pair_channel: dict[tuple[str, str], str] = {}
        self.rate = HostileRate()
        self.n_replies = 0
        self.last_sweep = -1e18

    def _h(self, content: str) -> float:
        return self.settings.hostility.score(content)

    def on_message(self, e: Event) -> list[Detection] | None:
        """Every message: remember it as a possible parent; replies are examined.

        The memory is a (ts, text) pair per author in a dict per channel, not the Event:
        holding the Event kept its whole wire dict alive for the window, and freeing those
        long-lived dicts (cold in cache by then) cost more than the pair's allocation.
        None, not an empty list, when there is no signal: most messages are not replies,
        and a fresh list for each of them showed in the profile.
        """
        x = e.actor
        ch = e.channel or ""
        y = e.target_user
        out = self._reply(e, x, y, ch, e.content or "") if y and y != x else None
        chd = self.recent.get(ch)
        if chd is None:
            chd = self.recent[ch] = {}
        else:
            n = len(chd)
            if n >= 256 and n >= self.prune_at.get(ch, 256):
                chd = self._prune(ch, e.ts)
        chd[x] = (e.ts, e.content)
        return out

    def _prune(self, ch: str, now: float) -> dict[str, tuple[float, str | None]]:
        """Forget a channel's messages older than the window, when its memory has doubled
        since the last time (amortized O(1) a message; lookups check the age anyway)."""
        keep = {a: m for a, m in self.recent[ch].items() if now - m[0] <= WINDOW}
        if len(keep) > MAX_RECENT:
            keep = dict(sorted(keep.items(), key=lambda kv: kv[1][0])[-MAX_RECENT // 2:])
        self.recent[ch] = keep
        self.prune_at[ch] = max(256, 2 * len(keep))
        return keep

    def _parent(self, ch: str, y: str, now: float) -> tuple[float, float, str] | None:
        """y's last message in the channel (what a reply to y most likely answers), unless
        it is old or already logged: (ts, hostility, text)."""
        chd = self.recent.get(ch)
        m = chd.get(y) if chd else None
        if m is None or now - m[0] > WINDOW:
            return None
        mts, text = m[0], m[1] or ""
        cached = self.scored.get((ch, y))
        if cached is not None and cached[0] == mts:
            if cached[2]:
                return None  # already in the log
            return mts, cached[1], text
        h = self._h(text)
        self.scored[(ch, y)] = (mts, h, False)
        return mts, h, text

    def _reply(self, e: Event, x: str, y: str, ch: str, content: str) -> list[Detection]:
        replies = self.replies
        key = (ch, x, y)
        if key in replies:
            del replies[key]
        mine: list[Any] = [e.ts, content, False]
        replies[key] = mine
        if len(replies) > MAX_REPLIES:
            del replies[next(iter(replies))]
        back = replies.get((ch, y, x))
        mutual = back is not None and e.ts - back[0] <= WINDOW
        parent = self._parent(ch, y, e.ts)
        self.n_replies += 1
        sampled = self.n_replies % RATE_SAMPLE == 0
        if not mutual and parent is None and not sampled:
            return []  # answers nothing recent: no exchange to judge
        h = self._h(content)
        self.scored[(ch, x)] = (e.ts, h, False)
        if sampled:
            # The early test's null: the share of hostile replies, from every RATE_SAMPLE-th
            # reply (weighted as that many), so ordinary replies need not all be scored.
            self.rate.reply(e.ts, x, h >= HOSTILE_LEVEL, weight=RATE_SAMPLE)
        if not mutual and parent is None:
            return []
        log = self.logs.get(ch)
        added = False
        if mutual:
            if log is None:
                log = self.logs[ch] = []
            if not back[2]:  # type: ignore[index]  # -- mutual means back is set
                back[2] = True  # type: ignore[index]
                log.append([back[0], y, x, self._h(back[1]), back[1][:200]])  # type: ignore[index]
            added = True
        if parent is not None:
            pts, ph, ptext = parent
            if ph > 0 or h > 0:
                if log is None:
                    log = self.logs[ch] = []
                self.scored[(ch, y)] = (pts, ph, True)
                if not added:  # back-and-forth already logged y's side
                    log.append([pts, y, x, ph, ptext[:200]])
                added = True
        if not added or log is None:
            return []
        mine[2] = True
        self.scored[(ch, x)] = (e.ts, h, True)
        log.append([e.ts, x, y, h, content[:200]])
        self.pair_channel[(min(x, y), max(x, y))] = ch
        self._trim(log, e.ts)
        return self._evaluate(ch, log, e.ts) if h > 0 or log[-2][3] > 0 else []

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
        if not hostile_by:
            return []
        group = sorted(hostile_by, key=lambda a: -hostile_by[a])[:3]
        gset = set(group)
        inside = [r for r in log if r[1] in gset and r[2] in gset]
        hostile_msgs = [r for r in inside if r[3] > 0]
        speakers = {r[1] for r in hostile_msgs}
        total = sum(r[3] for r in inside)
        if not (len(inside) < MIN_EXCHANGES / s or len(hostile_msgs) < MIN_HOSTILE_MSGS / s
                or len(speakers) < min(MIN_HOSTILE_SPEAKERS, len(gset)) or total < MIN_HOSTILITY / s):
            return [self._signal(ch, group, inside, hostile_msgs, total, ts, "volume", None)]
        return self._early(ch, log, ts)

    def _early(self, ch: str, log: list[list[Any]], ts: float) -> list[Detection]:
        """The binomial test of the first hostile exchanges (see the module docstring).

        Its group is who sends *and receives* the hostility (at most three), so one member
        insulting another who keeps answering calmly is judged too.
        """
        s = self.settings.s
        weight: dict[str, float] = {}
        for r in log:
            if r[3] > 0:
                weight[r[1]] = weight.get(r[1], 0.0) + r[3]
                weight[r[2]] = weight.get(r[2], 0.0) + r[3]
        group = sorted(weight, key=lambda a: -weight[a])[:3]
        gset = set(group)
        inside = [r for r in log if r[1] in gset and r[2] in gset]
        hostile_msgs = [r for r in inside if r[3] >= HOSTILE_LEVEL]
        total = sum(r[3] for r in inside)
        if len(hostile_msgs) < EARLY_MIN_HOSTILE or total < MIN_HOSTILITY / s:
            return []
        logp = binom_logsf(len(hostile_msgs), len(inside), self.rate.share())
        if logp >= math.log(EARLY_ALPHA) / s:
            return []
        return [self._signal(ch, group, inside, hostile_msgs, total, ts, "early", logp)]

    def _signal(self, ch: str, group: list[str], inside: list[list[Any]], hostile_msgs: list[list[Any]],
                total: float, ts: float, test: str, logp: float | None) -> Detection:
        self.rate.in_dispute(ts, group)
        half = len(inside) // 2
        first = sum(r[3] for r in inside[:half])
        second = sum(r[3] for r in inside[half:])
        sev = 2 if total >= 4 * MIN_HOSTILITY or any(r[4].startswith("[report") for r in inside) else 3
        ev = {"channel": ch, "participants": group, "accounts": group,
              "exchanges": len(inside), "hostile_messages": len(hostile_msgs),
              "hostility": round(total, 2), "hostility_first_half": round(first, 2),
              "hostility_second_half": round(second, 2), "rising": second >= first,
              "samples": [r[4] for r in hostile_msgs[-5:]],
              "observed": len(hostile_msgs), "expected": round(len(inside) * self.rate.share(), 4),
              "test": test}
        if logp is not None:
            ev["log10_p"] = round(logp / math.log(10), 1)
        title = f"Dispute in #{ch}: {' vs '.join(group)}"
        return Detection("dispute", self.community, f"channel:{ch}", sev, total, ts, title, ev)

    def expire(self, now: float) -> None:
        rep = self.replies
        while rep:
            k = next(iter(rep))
            if now - rep[k][0] <= WINDOW:
                break
            del rep[k]
        self.rate.learn(now)
        if now - self.last_sweep < 300.0:
            return
        self.last_sweep = now
        self.scored = {k: v for k, v in self.scored.items() if now - v[0] <= WINDOW}
        for ch in [c for c, log in self.logs.items() if not log or now - log[-1][0] > WINDOW]:
            del self.logs[ch]
        if len(self.pair_channel) > 10_000:
            self.pair_channel = {k: v for k, v in self.pair_channel.items() if v in self.logs}

    def to_state(self) -> dict[str, Any]:
        return {"replies": [[list(k), v] for k, v in self.replies.items()],
                # A copy per channel, not per entry: the pairs are immutable, and orjson (the
                # JSON columns' serializer) writes tuples itself. See the note on unpack_recent.
                "recent": {ch: dict(d) for ch, d in self.recent.items()},
                "prune_at": self.prune_at,
                "scored": [[list(k), list(v)] for k, v in self.scored.items()],
                "logs": self.logs,
                "pair_channel": [[list(k), v] for k, v in self.pair_channel.items()],
                "rate": self.rate.to_state(), "n_replies": self.n_replies,
                "last_sweep": self.last_sweep}

    def load_state(self, st: dict[str, Any]) -> None:
        self.replies = {tuple(k): list(v) for k, v in st["replies"]}
        # absent from checkpoints before 2026-12-07: start with no parents and no learned share
        recent = expanded(st).get("recent", {})
        self.recent = {ch: {a: (float(ts), text) for a, (ts, text) in d.items()} for ch, d in recent.items()}
        self.prune_at = dict(st.get("prune_at", {}))
        self.scored = {(k[0], k[1]): (v[0], v[1], v[2]) for k, v in st.get("scored", [])}
        self.logs = {k: [list(r) for r in v] for k, v in st["logs"].items()}
        self.pair_channel = {tuple(k): v for k, v in st["pair_channel"]}
        if "rate" in st:
            self.rate.load_state(st["rate"])
            self.n_replies = int(st["n_replies"])
        self.last_sweep = float(st["last_sweep"])



# The parent memory (the last message of every author of the window, texts included) is
# most of a busy community's checkpoint: 370 of 530 KB under bench/load.py, written at every
# drain. For one day (54b1fae) it was packed with zlib and base64 to shrink that, but the
# standard library's encoder and the copy into lists cost 5.5 ms a drain, a third of a detect
# worker's CPU under that load (py-spy), more than the bytes saved. PostgreSQL compresses the
# column itself (lz4, migration 0006), so the memory is written plain again; checkpoints of
# that day are still read.
def unpack_recent(blob: str) -> dict[str, dict[str, list[Any]]]:
    unpacked: dict[str, dict[str, list[Any]]] = json.loads(zlib.decompress(base64.b64decode(blob)))
    return unpacked


def expanded(state: dict[str, Any]) -> dict[str, Any]:
    """A dispute checkpoint with its parent memory plain, in the form to_state writes (a
    checkpoint of 2026-12-08 holds it packed), to search or rewrite it."""
    if "recent_z" not in state:
        return state
    out = {k: v for k, v in state.items() if k != "recent_z"}
    out["recent"] = unpack_recent(state["recent_z"])
    return out
