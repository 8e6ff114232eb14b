"""Count statistics: negative-binomial tails and an online seasonal rate model.

`SeasonalRate` is the one count-rate detector used for joins, reports, leaves and
messages (and, in value mode, for the NAB benchmark). It keeps running sums of
per-minute counts (for sliding windows and evidence charts) and a hierarchical
Gamma-Poisson baseline: global rate -> hour-of-day rate -> hour-of-week rate,
each level shrunk toward its parent with a pseudo-exposure, so the first day
(no history) falls back to the pooled rate and weekly seasonality appears only
as evidence accumulates. Completed minutes are winsorized before learning so a
crisis does not teach the baseline that crises are normal.
"""
from __future__ import annotations

import math
from typing import Any

from crisis.detection.seasons import hour_of_week

_LOG_TINY = -745.0
_LOG_NEAR = math.log(0.05)


def nb_logsf(x: float, mean: float, shape: float) -> float:
    """log P(X >= x) for X ~ NegBin(mean, shape); shape=inf means Poisson.

    Sums the upper tail from x with the pmf ratio recursion: for x above the mean
    the terms fall geometrically, so a handful of terms suffice.
    """
    if x <= 0:
        return 0.0
    mean = max(mean, 1e-9)
    k = int(math.ceil(x))
    if k <= mean:
        return 0.0
    poisson = shape == math.inf or shape > 1e6
    var = mean if poisson else mean + mean * mean / shape
    if k < mean + 1.5 * math.sqrt(var):
        # Within 1.5 sd of the mean the upper tail is > 5 % for these skewed
        # counts: not the tail we test for, and summing it would take hundreds of
        # terms when the mean is large.
        return _LOG_NEAR
    if poisson:
        logp = k * math.log(mean) - mean - math.lgamma(k + 1)
        q = 0.0
    else:
        q = mean / (mean + shape)
        logp = (math.lgamma(k + shape) - math.lgamma(shape) - math.lgamma(k + 1)
                + shape * math.log(shape / (mean + shape)) + k * math.log(q))
    total, term, i = 1.0, 1.0, k
    for _ in range(5_000):
        ratio = mean / (i + 1) if poisson else q * (i + shape) / (i + 1)
        term *= ratio
        total += term
        i += 1
        if term < 1e-10 * total:
            break
    return max(_LOG_TINY, min(0.0, logp + math.log(total)))


class SeasonalRate:
    """Per-minute counts with a learned daily/weekly baseline; O(1) amortized per add."""

    RING = 120
    LAG = 30

    def __init__(self, *, half_life_days: float = 14.0, k_hod: float = 90.0,
                 k_how: float = 60.0, alpha_cap: float = 30.0, clip_sigmas: float = 3.0) -> None:
        self.k_hod = k_hod
        self.k_how = k_how
        self.alpha_cap = alpha_cap
        self.clip_sigmas = clip_sigmas
        self.decay_g = 0.5 ** (1.0 / (half_life_days * 1440.0))
        self.decay_b = 0.5 ** (1.0 / (half_life_days * 60.0))
        self.cur = -1  # minute index of the newest (current) minute
        # Running total and its value at the end of each of the last RING
        # minutes: a minute's count or any sliding-window count is one
        # subtraction, and counting an event is one addition.
        self.total = 0.0
        self.cum_end = [0.0] * self.RING
        self.cg = 0.0
        self.eg = 0.0
        self.ch = [0.0] * 24
        self.eh = [0.0] * 24
        self.cw = [0.0] * 168
        self.ew = [0.0] * 168
        self.prior_rate = 0.0  # per minute; set by the owner (pooled / size-scaled prior)
        self.prior_minutes = 60.0
        self.shape_fn: Any = None  # optional callable(minute) -> seasonal shape factor
        # Minutes up to hold_until are anomalous (an open alarm): they are learned
        # as if they had their expected count, i.e. treated as missing data.
        self.hold_until = -1
        self.hold_since = -1
        self.hold_from = -1
        self.first = -1
        self.acc_c, self.acc_n, self.acc_hour = 0.0, 0, -1  # the hour being learned

    # ---- counting -------------------------------------------------------------
    def add(self, ts: float, n: float = 1.0) -> None:
        m = int(ts // 60)
        if m > self.cur:
            self.advance_minute(m)
        if m > self.cur - self.RING + 1:
            self.total += n
            for k in range(m, self.cur):  # a late event: fix the running sums after it
                self.cum_end[k % self.RING] += n
        # events older than the ring are dropped: too late to matter for a window

    def advance_minute(self, m: int) -> None:
        """Move the ring forward to minute m.

        Minutes are learned LAG minutes after they end, so that an anomaly found
        a few minutes into a surge can still exclude its first minutes (hold()).
        """
        if self.cur < 0:
            self.cur = self.first = m
            return
        if m - self.cur > 7 * 1440:  # a long outage: skip ahead rather than loop
            self.cur = m - 7 * 1440
            self.cum_end = [self.total] * self.RING
        R, lag, cum, first, total = self.RING, self.LAG, self.cum_end, self.first, self.total
        cur = self.cur
        while cur < m:
            old = cur - lag
            if old >= first:
                count = cum[old % R] - cum[(old - 1) % R]
                if (count <= 3.0 and old // 60 == self.acc_hour and old % 60 != 59
                        and not self.hold_from <= old <= self.hold_until):
                    # A quiet minute inside the hour being learned: all _learn would do
                    # is add it to the hour. Sparse series (joins, reports, leaves)
                    # catch up on many such minutes at once.
                    self.acc_c += count
                    self.acc_n += 1
                else:
                    self.cur = cur  # _learn may predict(), which reads cur
                    self._learn(old, count)
            cum[cur % R] = total
            cur += 1
        self.cur = cur

    def hold(self, ts: float, minutes: int = 10) -> None:
        """Do not learn from LAG minutes ago until `minutes` from now (an anomaly).

        Held minutes are learned as if they had their expected count, i.e. as
        missing data. A hold lasting over six hours is released: by then a
        persistent change of level is the new normal rather than an incident.
        """
        m = int(ts // 60)
        if m - self.LAG > self.hold_until + 1:
            self.hold_since = m
            self.hold_from = m - self.LAG
        if m - self.hold_since < 360:
            self.hold_until = max(self.hold_until, m + minutes)

    def _learn(self, minute: int, count: float) -> None:
        """Learn one completed minute (winsorized, or imputed while held).

        Minutes accumulate per hour and reach the buckets once per hour: the
        model is hourly anyway, and per-minute bucket updates would dominate the
        cost of quiet series.
        """
        x = count
        if self.hold_from <= minute <= self.hold_until:
            x = self.predict(minute)[0]
        elif count > 3.0:  # the winsorizing cap is never below 3, so skip predict() below it
            mean, shape = self.predict(minute)
            cap = mean + self.clip_sigmas * math.sqrt(mean + mean * mean / shape) + 3.0
            x = count if count < cap else cap
        hour = minute // 60
        if hour != self.acc_hour:
            self._flush()
            self.acc_hour = hour
        self.acc_c += x
        self.acc_n += 1
        if minute % 60 == 59:
            self._flush()

    def _flush(self) -> None:
        n, x = self.acc_n, self.acc_c
        if not n:
            return
        dg, db = self.decay_g ** n, self.decay_b ** n
        self.cg = self.cg * dg + x
        self.eg = self.eg * dg + n
        minute = self.acc_hour * 60
        h, w = (minute // 60) % 24, hour_of_week(minute)
        self.ch[h] = self.ch[h] * db + x
        self.eh[h] = self.eh[h] * db + n
        self.cw[w] = self.cw[w] * db + x
        self.ew[w] = self.ew[w] * db + n
        self.acc_c, self.acc_n = 0.0, 0

    # ---- baseline ---------------------------------------------------------------
    def global_rate(self) -> float:
        """Pooled per-minute rate; during the first hours it also uses the minutes
        still waiting in the learning lag (cold start: nothing is learned yet)."""
        c, e = self.cg + self.acc_c, self.eg + self.acc_n
        if e < 120 and self.cur >= 0:
            lo = max(self.first, self.cur - self.LAG + 1)
            c += self.total - (self.cum_end[(lo - 1) % self.RING] if lo > self.first else 0.0)
            e += self.cur - lo + 1
        return (c + self.prior_rate * self.prior_minutes) / (e + self.prior_minutes)

    def predict(self, minute: int) -> tuple[float, float]:
        """Expected count for one minute and the Gamma shape (confidence) behind it."""
        rg = self.global_rate()
        shape_factor = self.shape_fn(minute) if self.shape_fn is not None else 1.0
        h, w = (minute // 60) % 24, hour_of_week(minute)
        rh = (self.ch[h] + self.k_hod * rg * shape_factor) / (self.eh[h] + self.k_hod)
        rw = (self.cw[w] + self.k_how * rh) / (self.ew[w] + self.k_how)
        support = 1.0 + self.ch[h] + self.cw[w] + 0.25 * self.cg
        return rw, min(self.alpha_cap, support)

    def hod_factor(self, minute: int) -> float:
        """Relative activity of this hour of day vs the global rate (for pooled priors)."""
        rg = self.global_rate()
        if rg <= 0:
            return 1.0
        h = (minute // 60) % 24
        rh = (self.ch[h] + self.k_hod * rg) / (self.eh[h] + self.k_hod)
        return min(10.0, max(0.1, rh / rg))

    # ---- tests ----------------------------------------------------------------
    def window_count(self, minutes: int) -> float:
        """Events in the last `minutes` minutes, the current one included."""
        return self.total - self.cum_end[(self.cur - min(minutes, self.RING - 1)) % self.RING]

    def surprise(self, ts: float, windows: tuple[int, ...], mult: float = 1.0,
                 min_obs: float = 0.0, covariate: SeasonalRate | None = None) -> tuple[float, int, float, float]:
        """Most surprising sliding window ending now.

        Returns (log p, window minutes, observed, expected) where p is the NB upper
        tail of the observed count given the seasonal expectation over that window
        (the current minute counts by its elapsed fraction). Windows holding fewer
        than `min_obs` events are not tested (they could not fire anyway).

        With a `covariate` (the community's message series) the expectation is
        at least this series' learned share of the covariate's count in the same
        window: leaves and reports grow with activity, so a promotion that
        triples traffic is not a mass leave or a complaint spike.
        """
        m = int(ts // 60)
        if m > self.cur:
            self.advance_minute(m)
        frac = max(0.05, (ts - m * 60) / 60.0)
        rate, shape = self.predict(m)
        rate *= mult
        ratio = 0.0
        if covariate is not None:
            if m > covariate.cur:
                covariate.advance_minute(m)
            ratio = mult * self.global_rate() / max(covariate.global_rate(), 1e-9)
        best = (0.0, windows[0], 0.0, 0.0)
        R, cur, total, cum = self.RING, self.cur, self.total, self.cum_end
        if covariate is not None:
            ctotal, ccum, ccur = covariate.total, covariate.cum_end, covariate.cur
        for w in windows:
            w = min(w, R - 1)
            obs = total - cum[(cur - w) % R]
            if obs < min_obs:
                continue
            exp = rate * (w - 1 + frac)
            if ratio:
                cov = ctotal - ccum[(ccur - w) % R]
                if ratio * cov > exp:
                    exp = ratio * cov
            lp = nb_logsf(obs, exp, shape)
            if lp < best[0]:
                best = (lp, w, obs, exp)
        return best

    def series(self, minutes: int = 61) -> list[int]:
        """Per-minute counts, oldest first, ending with the current minute."""
        n = min(minutes, self.RING)
        cum, R, cur = self.cum_end, self.RING, self.cur
        out = [int(cum[k % R] - cum[(k - 1) % R]) for k in range(cur - n + 1, cur)]
        return out + [int(self.total - cum[(cur - 1) % R])]

    # ---- checkpoint ---------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {"cur": self.cur, "total": self.total, "cum_end": self.cum_end, "cg": self.cg, "eg": self.eg,
                "ch": self.ch, "eh": self.eh, "cw": self.cw, "ew": self.ew,
                "prior_rate": self.prior_rate, "hold": [self.hold_until, self.hold_since, self.hold_from],
                "first": self.first,
                "acc": [self.acc_c, self.acc_n, self.acc_hour], **self._value_state()}

    def load_state(self, st: dict[str, Any]) -> None:
        self.cur = int(st["cur"])
        self.total = float(st["total"])
        self.cum_end = [float(x) for x in st["cum_end"]]
        self.cg, self.eg = float(st["cg"]), float(st["eg"])
        self.ch, self.eh = list(st["ch"]), list(st["eh"])
        self.cw, self.ew = list(st["cw"]), list(st["ew"])
        self.prior_rate = float(st["prior_rate"])
        self.hold_until, self.hold_since, self.hold_from = (int(x) for x in st["hold"])
        self.first = int(st["first"])
        self.acc_c, self.acc_n, self.acc_hour = float(st["acc"][0]), int(st["acc"][1]), int(st["acc"][2])
        self._load_value_state(st)

    # Value mode (crisis.detection.nab.ValueRate, the NAB benchmark only) adds its own state.
    def _value_state(self) -> dict[str, Any]:
        return {}

    def _load_value_state(self, st: dict[str, Any]) -> None:
        return None
