from __future__ import annotations

import math

from crisis.detection.event import parse_ts
from crisis.detection.stats import SeasonalRate, nb_logsf

from .streams import T0, Stream, incidents, kinds


def test_it_computes_poisson_and_negative_binomial_tails() -> None:
    # P(X >= 10 | Poisson(2)) = 4.5e-5
    assert math.isclose(math.exp(nb_logsf(10, 2.0, math.inf)), 4.6498e-5, rel_tol=1e-3)
    # overdispersion widens the tail
    assert nb_logsf(10, 2.0, 2.0) > nb_logsf(10, 2.0, math.inf)
    assert nb_logsf(1, 5.0, 10.0) == 0.0


def test_it_learns_a_daily_cycle() -> None:
    r = SeasonalRate()
    for day in range(5):
        for minute in range(1440):
            busy = 600 <= minute < 1200
            r.add(T0 + day * 86400 + minute * 60, 6.0 if busy else 1.0)
    day_rate, _ = r.predict(int((T0 + 5 * 86400) // 60) + 700)
    night_rate, _ = r.predict(int((T0 + 5 * 86400) // 60) + 100)
    assert day_rate > 3 * night_rate


def test_it_detects_a_spread_complaint_spike() -> None:
    s = Stream()
    s.background(T0, 8)
    start = T0 + 5 * 3600
    s.reports(start, 40, 2.0, s.members[:200])
    incs = incidents(s.events())
    assert kinds(incs) == ["complaint_spike"]
    assert parse_ts(incs[0]["opened_at"]) - start <= 300
    ev = incs[0]["evidence"]
    assert ev["pattern"] == "spread" and ev["observed"] > 5 * ev["expected"]
    assert len(ev["per_minute_reports"]) == 61


def test_it_detects_a_piled_complaint_spike_and_names_the_targets() -> None:
    s = Stream()
    s.background(T0, 8)
    s.reports(T0 + 5 * 3600, 40, 2.0, ["u1", "u2"])
    incs = incidents(s.events())
    assert kinds(incs) == ["complaint_spike"]
    ev = incs[0]["evidence"]
    assert ev["pattern"] == "piled" and set(ev["accounts"][:2]) == {"u1", "u2"}


def test_it_ignores_a_small_rise_in_reports() -> None:
    s = Stream()
    s.background(T0, 8)
    s.reports(T0 + 5 * 3600, 60, 0.05, s.members)  # +3 reports in an hour
    assert incidents(s.events()) == []


def test_it_detects_a_mass_leave_of_established_members() -> None:
    s = Stream()
    s.background(T0, 8)
    start = T0 + 5 * 3600
    for i in range(40):
        s.add(start + 30 * i, "member.leave", f"u{100 + i}")
    assert kinds(incidents(s.events())) == ["mass_leave"]


def test_it_ignores_newcomers_leaving_again() -> None:
    s = Stream()
    s.background(T0, 8)
    start = T0 + 5 * 3600
    for i in range(40):
        s.add(start + 10 * i, "member.join", f"n{i}")
        s.add(start + 10 * i + 600, "member.leave", f"n{i}")
    assert "mass_leave" not in kinds(incidents(s.events()))
