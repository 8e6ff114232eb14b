"""Raid and spam-wave detection.

A raid is coordination among *newcomers*: several accounts that joined recently
post near-duplicate text (Jaccard on normalized token sets) or the same unknown
link domain. Join rate alone never fires (a promotion brings many genuine
newcomers); it only raises severity and goes into the evidence. Content from
accounts that did not join recently, coordinated the same way, is a spam wave.
"""
from __future__ import annotations

import re
from typing import Any

from crisis.detection.episodes import Detection
from crisis.detection.event import Event, parse_ts
from crisis.detection.joinburst import FRESH_DAYS, FreshJoinBurst
from crisis.detection.settings import DetectorSettings
from crisis.detection.stats import SeasonalRate
from crisis.detection.text import DupClusters, fold, link_domains, mention_count, tokens

NEWCOMER_HORIZON = 2 * 3600.0  # a member is a "newcomer" for two hours after joining
MEMBER_MEMORY = 24 * 3600.0  # join times kept this long (mass_leave excludes them)
MAX_MEMBERS = 50_000
K_LINK = 3.0  # distinct newcomers sharing a link/mass-mention template
K_PLAIN = 8.0  # distinct newcomers sharing plain text (chance collisions are likelier)
K_SPAM = 5.0  # distinct established accounts for a spam wave
JOIN_WINDOWS = (2, 5, 10, 30, 60)
FULL_EVERY = 60.0  # seconds between full evidence builds while a wave is open
# Accounts in a wave that make it sev2 / sev1. A wave growing past one is rebuilt at once,
# not at the next FULL_EVERY: the severity raise is what pages harder and what a playbook's
# automatic lockdown waits for.
SEV2_ACCOUNTS = 10
SEV1_ACCOUNTS = 25


def _band(n: int) -> int:
    return 0 if n < SEV2_ACCOUNTS else (1 if n < SEV1_ACCOUNTS else 2)
_SHAPE = re.compile(r"(.)\1+")


def name_shape(name: str) -> str:
    """'xX6910' -> 'aA9': coarse name pattern; raids often share one."""
    s = "".join("9" if c.isdigit() else ("A" if c.isupper() else "a") for c in name[:24])
    return _SHAPE.sub(r"\1", s)


class RaidDetector:
    def __init__(self, community: str, settings: DetectorSettings, joins: SeasonalRate) -> None:
        self.community = community
        self.settings = settings
        self.joins = joins
        self.members: dict[str, list[Any]] = {}  # actor -> [join ts, created_at raw, name]
        # domain -> [first, last] time posted by an established member; a domain is
        # "known" only if it was seen an hour before the wave, so compromised
        # established accounts spamming a fresh domain do not whitelist it.
        self.known_domains: dict[str, list[float]] = {}
        self.clusters = DupClusters()
        self.domain_posters: dict[str, dict[str, float]] = {}
        self.suspects: dict[str, float] = {}
        self.new_posters: dict[str, float] = {}  # newcomers who posted in the last 15 min
        self.last_sweep = -1e18
        self.suspect_domains: dict[str, float] = {}
        self.last_full: dict[str, float] = {}
        self.last_full_n: dict[str, int] = {}  # accounts in the last full signal, per kind
        self.burst = FreshJoinBurst(joins)
        # the latest evidence of each signal type of the open episode (see _signal)
        self.content_ev: dict[str, dict[str, Any]] = {}
        self.burst_ev: dict[str, Any] | None = None

    # ---- membership ---------------------------------------------------------------
    def on_join(self, e: Event, book_open: Any) -> list[Detection]:
        self.members.pop(e.actor, None)
        self.members[e.actor] = [e.ts, e.created_raw, e.name]
        if len(self.members) > MAX_MEMBERS:
            self.members.pop(next(iter(self.members)))
        created = e.account_created()
        if created is None or e.ts - created > FRESH_DAYS * 86400.0:
            return []
        hit = self.burst.add(e.ts, e.actor, self.settings.s, self.settings.surge_factor(e.ts))
        if hit is None:
            return []
        lp, window_s, obs, exp = hit
        accounts = self.burst.accounts()
        burst = {"observed": obs, "expected": round(exp, 3), "window_s": window_s,
                 "log10_p": round(lp / 2.302585, 1)}
        return [self._signal("raid", e.ts, accounts, [], {}, book_open, fresh_joins=burst)]

    def joined_at(self, actor: str) -> float | None:
        m = self.members.get(actor)
        return m[0] if m else None

    def expire(self, now: float) -> None:
        """Drop what fell out of the horizons; the O(n) sweeps run every 5 minutes."""
        members = self.members
        while members:
            k = next(iter(members))
            if now - members[k][0] <= MEMBER_MEMORY:
                break
            del members[k]
        posters = self.new_posters
        while posters:
            k = next(iter(posters))
            if now - posters[k] <= 900:
                break
            del posters[k]
        if now - self.last_sweep < 300.0:
            return
        self.last_sweep = now
        for d in [d for d, t in self.known_domains.items() if now - t[1] > 14 * 86400]:
            del self.known_domains[d]
        for d in [d for d, p in self.domain_posters.items() if now - max(p.values()) > 900]:
            del self.domain_posters[d]
            self.suspect_domains.pop(d, None)
        for a in [a for a, t in self.suspects.items() if now - t > NEWCOMER_HORIZON]:
            del self.suspects[a]

    def is_newcomer(self, actor: str, now: float) -> bool:
        m = self.members.get(actor)
        return m is not None and now - m[0] <= NEWCOMER_HORIZON

    # ---- messages -------------------------------------------------------------------
    def on_message(self, e: Event, book_open: Any) -> list[Detection]:
        if e.actor in self.suspects:
            # A known member of an open wave: nothing new to learn from its text,
            # just keep the episode open (raids post thousands of these).
            for kind in ("raid", "spam_wave"):
                if book_open(kind):
                    self.suspects[e.actor] = e.ts
                    return [Detection(kind, self.community, "community", 4, 0.0, e.ts, "", {}, sustain_only=True)]
        content = fold(e.content or "")  # full-width links and mentions read as ASCII ones
        new = self.is_newcomer(e.actor, e.ts)
        linky = "http" in content or "www." in content
        if not (new or linky or "@" in content):
            return []
        if new:
            self.new_posters.pop(e.actor, None)  # keep recency order for cheap expiry
            self.new_posters[e.actor] = e.ts
        domains = link_domains(content) if linky else []
        if not new:
            for d in domains:
                seen = self.known_domains.get(d)
                if seen is not None:
                    seen[1] = e.ts
                elif len(self.known_domains) < 20_000:
                    self.known_domains[d] = [e.ts, e.ts]
        n_mentions, mass = mention_count(content) if "@" in content else (0, False)
        flags = {"domains": domains, "mentions": n_mentions, "mass": mass}
        cl = self.clusters.add(e.ts, e.actor, tokens(content), content, flags, new)
        out: list[Detection] = []
        if cl is not None and len(cl["authors"]) >= 2:
            out += self._check_cluster(cl, e.ts, e.actor, book_open)
        if new and (domains or mass):
            # a mass mention is treated like a shared link target ("@mass")
            out += self._check_domains(e, domains + (["@mass"] if mass else []), book_open)
        return out

    def _check_cluster(self, cl: dict[str, Any], ts: float, author: str, book_open: Any) -> list[Detection]:
        fired = cl.get("fired")
        if fired and ts - self.last_full.get(fired, -1e18) < FULL_EVERY and book_open(fired) \
                and _band(len(cl["authors"])) <= _band(self.last_full_n.get(fired, 0)):
            self.suspects[author] = ts  # known wave, evidence fresh: just keep it open
            return [Detection(fired, self.community, "community", 4, 0.0, ts, "", {}, sustain_only=True)]
        s = self.settings.raid_sensitivity(ts)  # raised while an opted-in campaign window is open
        surge = self.settings.surge_factor(ts)
        authors = cl["authors"]
        n_new = cl["n_new"]
        n_all = len(authors)
        unknown_link = cl["links"] >= 2 and any(not self._known(d, cl["first"]) for d in cl["domains"])
        strong = unknown_link or cl["mass"] >= 2
        k_raid = (K_LINK if strong else K_PLAIN) * surge / s
        # A raid template dominates what newcomers say; chance look-alikes among many
        # genuine newcomers (a promotion) are a small share of them.
        share = n_new / max(1, len(self.new_posters))
        if n_new >= k_raid and n_new >= 0.5 * n_all and share >= (0.15 if unknown_link else 0.3):
            self._mark(cl, ts, author)
            cl["fired"] = "raid"
            return [self._signal("raid", ts, list(authors), cl["samples"], cl["domains"], book_open)]
        if strong and n_all - n_new >= K_SPAM * surge / s:
            self._mark(cl, ts, author)
            cl["fired"] = "spam_wave"
            return [self._signal("spam_wave", ts, list(authors), cl["samples"], cl["domains"], book_open)]
        if strong and n_all >= 3:
            self._mark(cl, ts, author)  # their reports are not a complaint spike
        return []

    def _check_domains(self, e: Event, domains: list[str], book_open: Any) -> list[Detection]:
        out = []
        for d in domains:
            if self._known(d, e.ts):
                continue
            posters = self.domain_posters.setdefault(d, {})
            if len(posters) < 1000:
                posters[e.actor] = e.ts
            n_new = len(posters)  # only newcomers are recorded; idle domains expire after 15 min
            k = (K_PLAIN if d == "@mass" else K_LINK) * self.settings.surge_factor(e.ts) \
                / self.settings.raid_sensitivity(e.ts)
            # the same target from a few newcomers is a raid only if it is what
            # newcomers are posting, not a link some of a promotion's crowd share
            if n_new >= k and n_new >= 0.3 * len(self.new_posters):
                if d not in self.suspect_domains:
                    self.suspect_domains[d] = e.ts
                    for a in posters:
                        self.suspects[a] = e.ts
                self.suspects[e.actor] = e.ts
                out.append(self._signal("raid", e.ts, list(posters), [(e.content or "")[:200]], {d: n_new}, book_open))
        return out

    def _known(self, domain: str, before: float) -> bool:
        seen = self.known_domains.get(domain)
        return seen is not None and seen[0] < before - 3600.0

    def _mark(self, cl: dict[str, Any], ts: float, author: str) -> None:
        """Remember the accounts of a coordinated cluster: all once, then each new poster."""
        if cl.get("marked"):
            self.suspects[author] = ts
            return
        for a in cl["authors"]:
            self.suspects[a] = ts
        cl["marked"] = True

    # ---- signals --------------------------------------------------------------------
    def _signal(self, kind: str, ts: float, accounts: list[str], samples: list[str],
                domains: dict[str, int], book_open: Any,
                fresh_joins: dict[str, Any] | None = None) -> Detection:
        """Full evidence at most every FULL_EVERY s per kind; in between a cheap sustain signal.

        A raid opened by its join burst has nothing posted yet: the first content signal
        after it goes out at once (news), and from then on each kind of signal carries the
        other's latest evidence, so neither replaces the other's samples or join counts.
        """
        is_open = book_open(kind)
        if not is_open:
            self.content_ev.pop(kind, None)
            self.burst_ev = None
        news = fresh_joins is None and is_open and kind not in self.content_ev
        if is_open and not news and ts - self.last_full.get(kind, -1e18) < FULL_EVERY \
                and _band(len(accounts)) <= _band(self.last_full_n.get(kind, 0)):
            return Detection(kind, self.community, "community", 4, 0.0, ts, "", {}, sustain_only=True)
        self.last_full[kind] = ts
        self.last_full_n[kind] = len(accounts)
        if fresh_joins is not None:
            self.burst_ev = fresh_joins
        else:
            self.content_ev[kind] = {"samples": samples[:5], "link_domains": dict(list(domains.items())[:10])}
        content = self.content_ev.get(kind, {"samples": [], "link_domains": {}})
        lp, win, obs, exp = self.joins.surprise(ts, JOIN_WINDOWS, self.settings.surge_factor(ts))
        n = len(accounts)
        sev = (1 if (kind == "raid" and (n >= SEV1_ACCOUNTS or (lp < -20 and obs >= 50)))
               else (2 if n >= SEV2_ACCOUNTS or kind == "raid" else 3))
        ev = {"accounts": accounts[:100], "accounts_total": n, **content,
              "joins": {"observed": obs, "expected": round(exp, 2), "window_min": win,
                        "log10_p": round(lp / 2.302585, 1)},
              "per_minute_joins": self.joins.series(61),
              "signals": [x for x, present in (("fresh_join_burst", self.burst_ev is not None and kind == "raid"),
                                               ("content", kind in self.content_ev)) if present]}
        ev.update(self._cohort(accounts))
        if self.burst_ev is not None and kind == "raid":
            ev["fresh_joins"] = self.burst_ev
        if kind == "spam_wave":
            title = f"Spam wave: {n} accounts posting near-duplicate content"
        elif fresh_joins is not None and not content["samples"]:
            title = f"Raid: {n} new accounts joined within {fresh_joins['window_s']} s"
        else:
            title = f"Raid: {n} new accounts posting the same content"
        if kind == "raid":
            self.burst.rate.hold(ts)  # the raid's fresh joins must not become the baseline
        return Detection(kind, self.community, "community", sev, float(n), ts, title, ev, news=news)

    def _cohort(self, accounts: list[str]) -> dict[str, Any]:
        """Account-age and name-pattern clustering of the accounts involved."""
        ages: list[float] = []
        shapes: dict[str, int] = {}
        for a in accounts[:60]:
            m = self.members.get(a)
            if not m:
                continue
            if m[1]:
                try:
                    ages.append((m[0] - parse_ts(m[1])) / 86400.0)
                except (ValueError, TypeError):
                    pass
            sh = name_shape(m[2] or "")
            shapes[sh] = shapes.get(sh, 0) + 1
        ages.sort()
        top = sorted(shapes.items(), key=lambda kv: -kv[1])[:3]
        return {"account_age_days_median": round(ages[len(ages) // 2], 2) if ages else None,
                "new_accounts_share": round(sum(1 for x in ages if x < 7) / len(ages), 2) if ages else None,
                "name_patterns": dict(top)}

    # ---- checkpoint -------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {"members": self.members, "known_domains": self.known_domains,
                "clusters": self.clusters.to_state(), "domain_posters": self.domain_posters,
                "suspects": self.suspects, "last_full": self.last_full, "last_full_n": self.last_full_n,
                "new_posters": self.new_posters,
                "last_sweep": self.last_sweep, "suspect_domains": self.suspect_domains,
                "burst": self.burst.to_state(), "content_ev": self.content_ev, "burst_ev": self.burst_ev}

    def load_state(self, st: dict[str, Any]) -> None:
        self.members = {k: list(v) for k, v in st["members"].items()}
        self.known_domains = {k: list(v) for k, v in st["known_domains"].items()}
        self.clusters.load_state(st["clusters"])
        self.domain_posters = {k: dict(v) for k, v in st["domain_posters"].items()}
        self.suspects = dict(st["suspects"])
        self.last_full = dict(st["last_full"])
        self.last_full_n = dict(st.get("last_full_n", {}))  # absent from checkpoints before 2026-12-07
        self.new_posters = dict(st["new_posters"])
        self.last_sweep = float(st["last_sweep"])
        self.suspect_domains = dict(st["suspect_domains"])
        if "burst" in st:  # absent from checkpoints before 2026-12-07: the fresh-join series starts cold
            self.burst.load_state(st["burst"])
            self.content_ev = dict(st["content_ev"])
            self.burst_ev = st["burst_ev"]
