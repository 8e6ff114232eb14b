"""Hand-built event streams for detector tests (wire format of the ingest API)."""
from __future__ import annotations

import random
from datetime import datetime, timezone
from typing import Any

from crisis.detection.settings import DetectorSettings
from crisis.detection.stream_replay import run_actions, run_stream

T0 = datetime(2030, 3, 4, 0, 0, tzinfo=timezone.utc).timestamp()  # a Monday
WORDS = ("the a to is it for on we you that what how when game map team match build patch "
         "server update play played later today tomorrow weekend think maybe really good "
         "idea plan link guide question answer help works fixed broken new old thanks yes no "
         "sure ok time coffee music photo video stream level boss quest").split()
COMM = "testcomm"


def iso(ts: float) -> str:
    dt = datetime.fromtimestamp(ts, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


class Stream:
    """Collects wire events; `events()` returns them sorted by time."""

    def __init__(self, seed: int = 1, members: int = 400) -> None:
        self.rng = random.Random(seed)
        self.evs: list[dict[str, Any]] = []
        self.n = 0
        self.members = [f"u{i}" for i in range(members)]

    def add(self, ts: float, type_: str, actor: str, *, age_days: float = 800.0,
            name: str | None = None, **fields: Any) -> dict[str, Any]:
        self.n += 1
        ev = {"id": f"{COMM}-{self.n}", "community": COMM, "type": type_, "ts": iso(ts),
              "actor": {"id": actor, "name": name or f"name{actor}",
                        "created_at": iso(ts - age_days * 86400)}}
        ev.update(fields)
        self.evs.append(ev)
        return ev

    def msg(self, ts: float, actor: str, content: str, *, channel: str = "general",
            reply_to: str | None = None, **kw: Any) -> None:
        fields: dict[str, Any] = {"channel": channel, "message_id": f"m{self.n + 1}", "content": content}
        if reply_to:
            fields["target"] = {"user_id": reply_to, "message_id": "m0"}
        self.add(ts, "message.create", actor, **fields, **kw)

    def words(self, k: int) -> str:
        return " ".join(self.rng.choice(WORDS) for _ in range(k))

    def background(self, start: float, hours: float, *, msgs_per_min: float = 6.0,
                   joins_per_hour: float = 3.0, reports_per_hour: float = 2.0,
                   leaves_per_hour: float = 1.0) -> None:
        """Poisson background traffic with ordinary messages, replies, joins, reports."""
        rng, end = self.rng, start + hours * 3600
        for rate, kind in ((msgs_per_min / 60, "m"), (joins_per_hour / 3600, "j"),
                           (reports_per_hour / 3600, "r"), (leaves_per_hour / 3600, "l")):
            t = start
            while True:
                t += rng.expovariate(rate)
                if t >= end:
                    break
                who = rng.choice(self.members)
                if kind == "m":
                    other = rng.choice(self.members) if rng.random() < 0.3 else None
                    self.msg(t, who, self.words(rng.randint(3, 10)),
                             channel=rng.choice(("general", "help", "media")), reply_to=other)
                elif kind == "j":
                    self.add(t, "member.join", f"j{self.n}", age_days=rng.uniform(1, 2000))
                elif kind == "r":
                    self.add(t, "report.create", who, target={"user_id": rng.choice(self.members)},
                             reason="spam")
                else:
                    self.add(t, "member.leave", who)

    def raid(self, start: float, n: int, spread: float, *, age_days: float = 1.0,
             template: str = "free gems here https://g3ms-drop.example/{i} @everyone",
             prefix: str = "rd") -> list[str]:
        """n accounts join over `spread` seconds and each posts the template twice."""
        ids = []
        for i in range(n):
            t = start + spread * i / n + self.rng.uniform(0, 2)
            a = f"{prefix}{i}"
            ids.append(a)
            self.add(t, "member.join", a, age_days=age_days, name=f"xX{self.rng.randint(1000, 9999)}")
            for k in range(2):
                suffix = self.rng.choice(("", "!!", "now", ":)"))
                self.msg(t + 5 + 20 * k + self.rng.uniform(0, 5), a,
                         template.format(i=self.rng.randint(1, 999)) + " " + suffix, channel="general")
        return ids

    def promotion(self, start: float, n: int, spread: float, *, age_days: float | None = None) -> None:
        """Genuine newcomers: varied ordinary greetings and chat, some with no message."""
        for i in range(n):
            t = start + self.rng.uniform(0, spread)
            a = f"pr{i}"
            age = age_days if age_days is not None else self.rng.uniform(30, 3000)
            self.add(t, "member.join", a, age_days=age)
            for k in range(self.rng.randint(0, 3)):
                self.msg(t + 30 + 120 * k * self.rng.random(), a,
                         self.rng.choice(("hi all ", "hello everyone ", "hey ", ""))
                         + self.words(self.rng.randint(2, 8)))

    def reports(self, start: float, minutes: float, per_min: float, targets: list[str]) -> None:
        t = start
        while True:
            t += self.rng.expovariate(per_min / 60)
            if t >= start + minutes * 60:
                break
            self.add(t, "report.create", self.rng.choice(self.members),
                     target={"user_id": self.rng.choice(targets)}, reason="harassment")

    def exchange(self, start: float, a: str, b: str, n: int, *, channel: str = "media",
                 hostile: bool = True, gap: float = 30.0) -> None:
        insults = ("you are an idiot", "shut up", "STOP LYING YOU CLOWN!!", "pathetic take",
                   "nobody asked you", "that is stupid and wrong", "grow up liar")
        calm = ("i see your point", "not sure about that", "well maybe", "the patch notes say otherwise")
        friendly = ("haha yes totally", "love it thanks", "lol same", "awesome idea friend", "exactly right")
        t = start
        for i in range(n):
            x, y = (a, b) if i % 2 == 0 else (b, a)
            if hostile:
                text = self.rng.choice(insults) if i >= 2 and self.rng.random() < 0.8 else self.rng.choice(calm)
            else:
                text = self.rng.choice(friendly) + " " + self.words(2)
            t += self.rng.uniform(0.5, 1.5) * gap
            self.msg(t, x, text, channel=channel, reply_to=y)

    def events(self) -> list[dict[str, Any]]:
        return sorted(self.evs, key=lambda e: e["ts"])


def incidents(events: list[dict[str, Any]], settings: DetectorSettings | None = None) -> list[dict[str, Any]]:
    by = {COMM: settings} if settings is not None else None
    return run_stream(iter(events), by)


def latest_evidence(events: list[dict[str, Any]], kind: str,
                    settings: DetectorSettings | None = None) -> dict[str, Any]:
    """The evidence of the first `kind` episode as its last open or update left it."""
    by = {COMM: settings} if settings is not None else None
    key, ev = None, None
    for a in run_actions(iter(events), by):
        if a.kind == kind and a.action in ("open", "update") and key in (None, a.episode_key):
            key, ev = a.episode_key, a.evidence
    assert ev is not None, f"no {kind} episode"
    return ev


def kinds(incs: list[dict[str, Any]]) -> list[str]:
    return [i["kind"] for i in incs]
