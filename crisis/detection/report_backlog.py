"""report_backlog: reports left open much longer than this community usually takes.

A report is open until a moderation action targets the same message or user
(whatever the action: ban, delete, dismiss ...), or until it ages out of memory.
The detector learns the community's own handling from the stream:

* how fast: the p90 of recent time-to-handle (the "usual" handling time, floored
  at 15 min), reported as evidence;
* how often reports are still open at a given age: a life table. Every report is
  looked at when it reaches each age of a fixed ladder (15 min, 30 min ... 32 h)
  and counted as reached / still open there, per hour of week of filing (shrunk
  toward its hour of day and the community-wide share). The ladder is fixed so a
  verdict never depends on the p90 of its day: with batch handling (queue cleared
  three times a day) a p90 moving by minutes would flip whole batches. Verdicts are
  learned 12 h late, so a backlog does not teach that backlogs are normal.

It arms only once the community has shown that it works its report queue: a day
of history, a minimum number of handled reports, and most reports handled, in most
hours of the day. A community that never resolves reports (the dev feed, where
actions only ban raiders) therefore never pages: an unhandled report there is
ordinary, and one burst of bans is not a worked queue.

The test is conditional on what arrived, so a complaint spike that moderators
keep up with stays silent: at each ladder age, among the newest n reports older
than it, the count still open is compared with a beta-binomial whose mean is the
learned still-open share at that age and whose concentration is the evidence
behind it (capped, because moderator availability varies). The reports under test
are left out of the learned share. n = 5, 10, 20, 40, with a Bonferroni correction
over ages and windows: newest first, a stop shows in the smallest window that
holds it, and larger windows would mix many hours whose shares are only estimates.

It is judged once per event-time minute, and only on ticks driven by events: a
silent feed cannot show handling, so `advance_to` never opens a backlog.
"""
from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque
from typing import Any

from crisis.detection.episodes import Detection
from crisis.detection.event import Event
from crisis.detection.report_evidence import (
    AGES,
    GONE,
    HANDLE_FLOOR,
    HANDLED,
    LEARNED,
    MSG,
    TS,
    USER,
    BacklogEvidence,
)
from crisis.detection.seasons import hour_of_week
from crisis.detection.settings import DetectorSettings
from crisis.detection.tails import betabinom_logsf

MAX_REPORTS = 2000  # remembered reports (open and handled); the oldest are dropped and counted
# A verdict is learned this long after it is made, so a backlog of up to half a day does
# not teach that backlogs are normal (and keep paging until it drains), while a schedule
# that recurs every night or every weekend is learned before it comes round again.
LEARN_LAG = 12 * 3600.0
MEMORY = 2 * 86400.0  # a report is remembered this long: past the last ladder age plus the lag
HANDLE_RING = 256  # recent handling times behind the p90
# Arrival order is time order give or take this much: actions are remembered this long
# for reports delivered after them, and report scans start this far past an age boundary.
ORDER_SLACK = 600.0
MAX_ACTIONS = 2000
HALF_LIFE = 14 * 86400.0  # same memory as the count baselines
ARM_HISTORY = 86400.0  # one day: every hour of day has been seen once
ARM_HANDLED = 20.0
ARM_FRACTION = 0.5  # most reports handled: the queue is a work queue here
ARM_HOURS = 12  # hours of the day with reports seen at the last ladder age, before judging breadth
# Pseudo-reports shrinking an hour-of-week share toward its hour of day, and that toward
# the community-wide share: each share is a beta posterior whose prior is its parent,
# worth at most the evidence the parent rests on. A daily moderator schedule is learned
# within a day or two, a weekly one (nobody on duty at weekends) from the second week.
K_HOD = 10.0
K_HOW = 10.0
CONCENTRATION = 30.0  # cap on the evidence behind the share (as the NB shape cap in stats)
WINDOWS = (5, 10, 20, 40)
ALPHA = 1e-6
SUSTAIN_ALPHA = 1e-2
MIN_OPEN = 5
HOLD_MAX = 86400.0  # handling times of a backlog older than this are the new normal
FULL_EVERY = 900.0  # full evidence at most this often: a backlog moves slowly (severity raises go out at once)



def _how(ts: float) -> int:
    """Hour of week of a time in seconds; its hour of day is how % 24."""
    return hour_of_week(int(ts // 60))


def _open_at(rec: list[Any], age: float) -> bool:
    return rec[HANDLED] is None or rec[HANDLED] - rec[TS] > age


class ReportQueue(BacklogEvidence):
    """Open reports of one community, what handling looks like here, and the backlog test.

    Learned counts use forward decay: an observation at time t weighs 2**((t - base) /
    HALF_LIFE) and counts are divided by the weight of "now" when read, so nothing has to
    be multiplied down every few minutes."""

    def __init__(self, community: str, settings: DetectorSettings) -> None:
        self.community = community
        self.settings = settings
        self.records: deque[list[Any]] = deque()  # arrival order
        self.pending: list[deque[list[Any]]] = [deque() for _ in AGES]  # per ladder age: not learned yet
        # No ladder verdict is due before this event time, so most minutes skip the
        # ladder walk. It may be early (a wasted walk), never late; -inf: unknown.
        self.next_learn = -math.inf
        self.by_user: dict[str, list[list[Any]]] = {}
        self.by_msg: dict[str, list[list[Any]]] = {}
        self.actions: dict[str, float] = {}  # "u:<id>" / "m:<id>" -> latest action time
        self.ring: list[float] = []  # recent handling times (s)
        self.ring_pos = 0
        self.usual = HANDLE_FLOOR
        self.base: float | None = None  # forward-decay origin
        self.filed = 0.0
        self.handled = 0.0
        # per ladder age and hour of week of filing: reports that reached the age, and were open there
        self.reached = [[0.0] * 168 for _ in AGES]
        self.still_open = [[0.0] * 168 for _ in AGES]
        self.first_seen: float | None = None
        self.dropped = 0  # remembered reports pushed out by the cap
        self.expired = 0  # reports that aged out of memory still open
        self.alarm_since: float | None = None
        self.last_full = -1e18
        self.last_sev = 4

    # ---- events ---------------------------------------------------------------------
    def on_report(self, e: Event) -> None:
        user, msg = e.target_user, e.target_msg
        if user is None and msg is None:
            return  # nothing an action could ever match: it would look open forever
        ts = e.ts
        if self.first_seen is None:
            self.first_seen = self.base = ts
        rec = [ts, e.actor, user, msg, (e.reason or "")[:200], None, 0, False]
        # bound for a queue this report heads (AGES[0] is the earliest age)
        self.next_learn = min(self.next_learn, ts + AGES[0] + LEARN_LAG)
        self.filed += self._weight(ts)
        acted = max(self.actions.get(f"u:{user}", -1e18) if user else -1e18,
                    self.actions.get(f"m:{msg}", -1e18) if msg else -1e18)
        self.records.append(rec)
        for q in self.pending:
            q.append(rec)
        if acted >= ts:
            self._handle(rec, acted)  # filed before an action delivered earlier than it
        else:
            self._index(rec)
        if len(self.records) > MAX_REPORTS:
            self._forget(self.records.popleft())
            self.dropped += 1
            for q in self.pending:
                if len(q) > MAX_REPORTS:
                    q.popleft()  # older than every remembered report: already forgotten

    def on_action(self, e: Event) -> None:
        ts = e.ts
        for key, index, target in (("u:", self.by_user, e.target_user), ("m:", self.by_msg, e.target_msg)):
            if not target:
                continue
            k = key + target
            self.actions[k] = max(ts, self.actions.pop(k, ts))  # re-inserted: oldest first
            recs = index.get(target)
            if not recs:
                continue
            keep = [r for r in recs if r[HANDLED] is None and r[TS] > ts]  # filed after the action
            for r in recs:
                if r[HANDLED] is None and r[TS] <= ts:
                    self._handle(r, ts)
            if keep:
                index[target] = keep
            else:
                del index[target]
        while len(self.actions) > MAX_ACTIONS:
            del self.actions[next(iter(self.actions))]

    def _index(self, rec: list[Any]) -> None:
        if rec[USER]:
            self.by_user.setdefault(rec[USER], []).append(rec)
        if rec[MSG]:
            self.by_msg.setdefault(rec[MSG], []).append(rec)

    def _unindex(self, rec: list[Any]) -> None:
        for index, target in ((self.by_user, rec[USER]), (self.by_msg, rec[MSG])):
            recs = index.get(target) if target else None
            if recs:
                recs[:] = [r for r in recs if r is not rec]
                if not recs:
                    del index[target]

    def _forget(self, rec: list[Any]) -> None:
        self._unindex(rec)  # a handled report may still sit in its other target's index
        rec[GONE] = True
        # the reports behind a forgotten head may be due already (arrival order is
        # only roughly time order): walk the ladder on the next check
        self.next_learn = -math.inf

    def _handle(self, rec: list[Any], at: float) -> None:
        rec[HANDLED] = at
        self.handled += self._weight(rec[TS])
        if not self._holding(at):  # clearing a backlog takes longer than usual handling
            self._learn_time(max(0.0, at - rec[TS]))

    def _learn_time(self, took: float) -> None:
        if len(self.ring) < HANDLE_RING:
            self.ring.append(took)
        else:
            self.ring[self.ring_pos] = took
            self.ring_pos = (self.ring_pos + 1) % HANDLE_RING
        ordered = sorted(self.ring)
        self.usual = max(HANDLE_FLOOR, ordered[int(0.9 * (len(ordered) - 1))])

    def _holding(self, now: float) -> bool:
        return self.alarm_since is not None and now - self.alarm_since < HOLD_MAX

    def _weight(self, ts: float) -> float:
        assert self.base is not None
        w: float = 2.0 ** ((ts - self.base) / HALF_LIFE)  # typeshed: float ** float may be complex
        return w

    # ---- per-minute judgement -----------------------------------------------------------
    def check(self, now: float) -> list[Detection]:
        """Age the queue to `now` (event time) and test for a backlog."""
        if not self.records:
            self.alarm_since, self.last_sev = None, 4
            return []
        if now + 1.0 > self.next_learn:  # a second's margin: due times are sums, rounded differently
            self._learn_verdicts(now)
        actions = self.actions
        while actions:
            k = next(iter(actions))
            if now - actions[k] <= ORDER_SLACK:
                break
            del actions[k]
        records = self.records
        while records and now - records[0][TS] > MEMORY:
            rec = records.popleft()
            if rec[HANDLED] is None:
                self.expired += 1
            self._forget(rec)
        if now - self.base > 30 * HALF_LIFE:  # type: ignore[operator]
            self._rebase(now)
        if not self._armed(now):
            self.alarm_since, self.last_sev = None, 4
            return []
        return self._test(now)

    def _learn_verdicts(self, now: float) -> None:
        """Learn each report's verdict at every ladder age it passed LEARN_LAG ago."""
        due = math.inf
        for j, (age, q, reached, still) in enumerate(zip(AGES, self.pending, self.reached, self.still_open)):
            while q:
                rec = q[0]
                if not rec[GONE]:  # forgotten ones are skipped whatever their age
                    if now - rec[TS] <= age + LEARN_LAG:
                        due = min(due, rec[TS] + age + LEARN_LAG)
                        break
                    w, g = _how(rec[TS]), self._weight(rec[TS])
                    reached[w] += g
                    if _open_at(rec, age):  # from the handling time: the same whenever learned
                        still[w] += g
                    rec[LEARNED] |= 1 << j
                q.popleft()
        self.next_learn = due

    def _rebase(self, now: float) -> None:
        """Move the forward-decay origin to `now` before the weights grow out of range."""
        f = 1.0 / self._weight(now)
        self.base = now
        self.filed *= f
        self.handled *= f
        self.reached = [[x * f for x in row] for row in self.reached]
        self.still_open = [[x * f for x in row] for row in self.still_open]

    def _armed(self, now: float) -> bool:
        """Has this community shown that it works its report queue? An open backlog keeps
        it armed: the backlog itself lowers the handled share, and must not silence its page.

        Handling must also be broad: in most hours of the day that have reports, most are
        handled within the last ladder age. Moderators banning one raid's accounts handle
        a burst of reports in an hour or two; a queue that is worked is worked all day."""
        if self.alarm_since is not None:
            return True
        if (self.first_seen is None or now - self.first_seen < ARM_HISTORY
                or self.handled / self._weight(now) < ARM_HANDLED or self.handled < ARM_FRACTION * self.filed):
            return False
        r_h, o_h = self._hours(len(AGES) - 1)
        unit = self._weight(now)  # one report, in forward-decay weight
        seen = [(r, o) for r, o in zip(r_h, o_h) if r >= unit]
        handled = sum(1 for r, o in seen if o <= ARM_FRACTION * r)
        return len(seen) >= ARM_HOURS and handled >= ARM_FRACTION * len(seen)

    def _hours(self, j: int) -> tuple[list[float], list[float]]:
        """Reached and still-open weights at ladder age j per hour of day (sums over the week)."""
        reached, still = self.reached[j], self.still_open[j]
        r_h = [sum(reached[h::24]) for h in range(24)]
        o_h = [sum(still[h::24]) for h in range(24)]
        return r_h, o_h

    def _share(self, j: int, hours: tuple[list[float], list[float]], buckets: dict[int, int],
               drop_r: dict[int, float], drop_o: dict[int, float], scale: float) -> tuple[float, float]:
        """Mean still-open share at ladder age j, and the mean evidence behind it, over reports
        filed in `buckets` (hour of week -> count). drop_*: the reports under test, left out so
        that a forming backlog is not judged against itself.

        The evidence is the hour of week's own plus its prior's, so a weekly schedule seen
        once is judged with little confidence rather than with that of the whole day."""
        reached, still = self.reached[j], self.still_open[j]
        r_h, o_h = list(hours[0]), list(hours[1])
        for w, x in drop_r.items():
            r_h[w % 24] -= x
        for w, x in drop_o.items():
            o_h[w % 24] -= x
        r, o = max(0.0, sum(r_h) * scale), max(0.0, sum(o_h) * scale)
        glob = (o + 1.0) / (r + 2.0)
        n = q = ev = 0.0
        for w, c in buckets.items():
            rh, oh = max(0.0, r_h[w % 24] * scale), max(0.0, o_h[w % 24] * scale)
            share_h = (oh + K_HOD * glob) / (rh + K_HOD)
            r_w = max(0.0, (reached[w] - drop_r.get(w, 0.0)) * scale)
            o_w = max(0.0, (still[w] - drop_o.get(w, 0.0)) * scale)
            # a prior is worth at most the evidence it rests on (2: the uniform prior's weight)
            k_w = max(2.0, min(K_HOW, rh + min(K_HOD, r)))
            n += c
            q += c * (o_w + k_w * share_h) / (r_w + k_w)
            ev += c * (r_w + k_w)
        return q / n, ev / n

    def _test(self, now: float) -> list[Detection]:
        """Every ladder age, every window: the most significant excess of still-open reports.

        All ages are tested (Bonferroni over ages and windows), not only the one at the
        p90: where moderators never work weekends the p90 is days, and a weekday stop
        would otherwise wait for it; the life table knows the weekend is normal."""
        s = self.settings.s
        lim, minimum = math.log(ALPHA) / s, max(3.0, MIN_OPEN / s)
        scale = 1.0 / self._weight(now)
        recs = list(self.records)
        keys: dict[int, tuple[int, float]] = {}  # per report: hour of week, weight (shared by the ages)
        best: tuple[float, int, int, int, float, float] = (0.0, 0, 0, 0, 0.0, now)
        for j, age in enumerate(AGES):
            # Records are in arrival order, which is time order give or take a few seconds:
            # start a margin newer than the age boundary and check each report's own age.
            start = bisect_right(recs, now - age + ORDER_SLACK, key=lambda r: r[TS])
            n = o = 0
            cnt: dict[int, int] = {}
            drop_r: dict[int, float] = {}
            drop_o: dict[int, float] = {}
            hours: tuple[list[float], list[float]] | None = None
            for idx in range(min(start, len(recs)) - 1, -1, -1):
                rec = recs[idx]
                if now - rec[TS] <= age:
                    continue
                wg = keys.get(idx)
                if wg is None:
                    wg = keys[idx] = (_how(rec[TS]), self._weight(rec[TS]))
                w, g = wg
                n += 1
                o += rec[HANDLED] is None
                cnt[w] = cnt.get(w, 0) + 1
                if rec[LEARNED] >> j & 1:
                    drop_r[w] = drop_r.get(w, 0.0) + g
                    if _open_at(rec, age):
                        drop_o[w] = drop_o.get(w, 0.0) + g
                if n in WINDOWS and o >= minimum:
                    hours = hours or self._hours(j)
                    q, evidence = self._share(j, hours, cnt, drop_r, drop_o, scale)
                    conc = min(CONCENTRATION, max(2.0, evidence))  # thin hours give a wide distribution
                    if o > q * n:
                        lp = betabinom_logsf(o, n, q * conc, (1.0 - q) * conc)
                        if lp < best[0]:
                            best = (lp, j, n, o, q * n, rec[TS])
                if n >= WINDOWS[-1]:
                    break
        lp = best[0] + math.log(len(AGES) * len(WINDOWS)) if best[2] else 0.0
        if lp < lim:
            return [self._fire(now, lp, best)]
        if lp < math.log(SUSTAIN_ALPHA) and self.alarm_since is not None:
            return [Detection("report_backlog", self.community, "community", 4, -lp, now, "", {},
                           sustain_only=True)]
        self.alarm_since, self.last_sev = None, 4  # drained: learning resumes
        return []

    def _fire(self, now: float, lp: float, best: tuple[float, int, int, int, float, float]) -> Detection:
        _, j, n, o, expected, since = best
        minimum = max(3.0, MIN_OPEN / self.settings.s)
        sev = 2 if o >= 4 * minimum and o >= 5 * max(expected, 1.0) else 3
        new = self.alarm_since is None
        if new:
            self.alarm_since = now
        if not new and now - self.last_full < FULL_EVERY and sev >= self.last_sev:
            return Detection("report_backlog", self.community, "community", sev, -lp, now, "", {},
                          sustain_only=True)
        self.last_full, self.last_sev = now, sev
        return Detection("report_backlog", self.community, "community", sev, -lp, now,
                      self._title(now, j, n, o, expected), self._evidence(now, lp, j, n, o, expected, since))

    # ---- checkpoint -------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {"records": list(self.records), "actions": self.actions,
                "ring": self.ring, "ring_pos": self.ring_pos, "usual": self.usual, "base": self.base,
                "filed": self.filed, "handled": self.handled, "reached": self.reached,
                "still_open": self.still_open, "first_seen": self.first_seen, "dropped": self.dropped,
                "expired": self.expired, "alarm_since": self.alarm_since, "last_full": self.last_full,
                "last_sev": self.last_sev}

    def load_state(self, st: dict[str, Any]) -> None:
        self.records = deque(list(r) for r in st["records"])
        # the ladder queues hold the remembered reports not yet learned at their age
        self.pending = [deque(r for r in self.records if not r[LEARNED] >> j & 1) for j in range(len(AGES))]
        self.next_learn = -math.inf
        self.by_user, self.by_msg = {}, {}
        for r in self.records:  # the indexes are views of the open records, in arrival order
            if r[HANDLED] is None:
                self._index(r)
        self.actions = dict(st["actions"])
        self.ring, self.ring_pos = list(st["ring"]), int(st["ring_pos"])
        self.usual, self.base = float(st["usual"]), st["base"]
        self.filed, self.handled = float(st["filed"]), float(st["handled"])
        self.reached = [list(row) for row in st["reached"]]
        self.still_open = [list(row) for row in st["still_open"]]
        self.first_seen = st["first_seen"]
        self.dropped, self.expired = int(st["dropped"]), int(st["expired"])
        self.alarm_since = st["alarm_since"]
        self.last_full, self.last_sev = float(st["last_full"]), int(st["last_sev"])
