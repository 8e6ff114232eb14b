"""The early signals: a raid's fresh-account join burst, a dispute's first hostile exchanges."""
from __future__ import annotations

from crisis.detection import CommunityDetector, DetectorSettings, parse_event
from crisis.detection.event import parse_ts
from crisis.detection.joinburst import burst_start

from .streams import COMM, T0, Stream, incidents, iso, kinds, latest_evidence

WARM = 4


def _joins(s: Stream, start: float, n: int, spread: float, age_days: float, prefix: str = "rd") -> None:
    for i in range(n):
        s.add(start + spread * i / n, "member.join", f"{prefix}{i}", age_days=age_days)


def test_a_burst_of_fresh_accounts_opens_a_raid_before_anyone_posts() -> None:
    s = Stream()
    s.background(T0, WARM + 1)
    start = T0 + WARM * 3600
    _joins(s, start, 30, 20, age_days=2)
    incs = incidents(s.events())
    assert kinds(incs) == ["raid"]
    assert parse_ts(incs[0]["opened_at"]) - start < 5
    ev = incs[0]["evidence"]
    assert ev["signals"] == ["fresh_join_burst"] and ev["fresh_joins"]["observed"] >= 5
    assert ev["fresh_joins"]["log10_p"] < -9


def test_fresh_members_who_joined_a_minute_before_the_burst_are_not_named_in_it() -> None:
    # What a fresh homeserver's window looked like: two new members, then raiders a second apart.
    window = [(-60.0, "alice"), (-59.0, "bob"), (-2.0, "r1"), (-1.0, "r2"), (0.0, "r3")]
    assert [a for _t, a in window[burst_start(window):]] == ["r1", "r2", "r3"]
    # A burst at its own even pace is not cut, not even its first join after the empty start.
    even = [(0.2 * i, f"r{i}") for i in range(8)]
    assert burst_start(even) == 0
    # Nor are joins a few seconds apart at the pace of the joins after them.
    assert burst_start([(-12.0, "a"), (-8.0, "b"), (-4.0, "c"), (0.0, "d")]) == 0


def test_the_same_burst_of_old_accounts_or_a_few_fresh_ones_opens_nothing() -> None:
    for n, age in ((30, 900), (4, 1)):
        s = Stream()
        s.background(T0, WARM + 1)
        _joins(s, T0 + WARM * 3600, n, 20, age_days=age)
        assert incidents(s.events()) == [], (n, age)


def test_a_ramping_wave_of_fresh_accounts_judges_itself_against_its_own_background() -> None:
    s = Stream(seed=3)
    s.background(T0, WARM + 2)
    start = T0 + WARM * 3600
    # a promotion of brand-new accounts building over 40 minutes: 1, 2, 4 ... a minute
    t, rate = start, 1 / 60
    for i in range(220):
        t += s.rng.expovariate(rate)
        rate = min(rate * 1.03, 8 / 60)
        s.add(t, "member.join", f"pr{i}", age_days=0.1)
    assert incidents(s.events()) == []


def test_a_declared_surge_window_raises_the_burst_expectation() -> None:
    s = Stream()
    s.background(T0, WARM + 1)
    start = T0 + WARM * 3600
    _joins(s, start, 12, 30, age_days=2)
    assert kinds(incidents(s.events())) == ["raid"]
    surge = DetectorSettings(surge_windows=[{"start": iso(start - 600), "end": iso(start + 3600),
                                             "factor": 100}])
    assert incidents(s.events(), surge) == []


def test_content_after_the_burst_joins_the_same_raid_and_reaches_its_evidence_at_once() -> None:
    s = Stream()
    s.background(T0, WARM + 1)
    s.raid(T0 + WARM * 3600, 40, 30)
    incs = incidents(s.events())
    assert kinds(incs) == ["raid"]
    assert incs[0]["evidence"]["signals"] == ["fresh_join_burst"]
    ev = latest_evidence(s.events(), "raid")
    assert ev["signals"] == ["fresh_join_burst", "content"] and ev["samples"] and ev["link_domains"]


def _hostile_pair(s: Stream, start: float, a: str, b: str) -> float:
    """b answers a's insult with one: the first hostile exchange."""
    s.msg(start, a, "you are a pathetic liar", channel="media")
    s.msg(start + 20, b, "shut up you idiot", channel="media", reply_to=a)
    return start + 20


def test_the_first_hostile_exchange_opens_a_dispute_where_insults_are_rare() -> None:
    s = Stream()
    s.background(T0, WARM + 24)  # a day of calm replies teaches that hostility is rare here
    at = _hostile_pair(s, T0 + (WARM + 23) * 3600, "u1", "u2")
    incs = incidents(s.events())
    assert kinds(incs) == ["dispute"]
    assert parse_ts(incs[0]["opened_at"]) == at
    assert incs[0]["evidence"]["participants"] == ["u1", "u2"] or incs[0]["evidence"]["participants"] == ["u2", "u1"]


def test_one_member_insulting_a_calm_one_in_an_exchange_opens_a_dispute() -> None:
    s = Stream()
    s.background(T0, WARM + 24)
    t = T0 + (WARM + 23) * 3600
    for i, (x, y, text) in enumerate((("u1", "u2", "what do you think of the patch"),
                                      ("u2", "u1", "i like it"), ("u1", "u2", "you are an idiot"),
                                      ("u2", "u1", "ok, why"), ("u1", "u2", "pathetic clown, shut up"))):
        s.msg(t + 30 * i, x, text, channel="media", reply_to=y)
    assert kinds(incidents(s.events())) == ["dispute"]


def _rough(s: Stream, start: float, hours: float) -> None:
    """A community whose ordinary replies are often rude (one in ten)."""
    t, end = start, start + hours * 3600
    while True:
        t += s.rng.expovariate(4 / 60)
        if t >= end:
            break
        a, b = s.rng.sample(s.members, 2)
        text = "that is stupid" if s.rng.random() < 0.1 else s.words(5)
        s.msg(t, a, text, channel=s.rng.choice(("general", "help")), reply_to=b)


def test_a_rough_community_needs_more_than_one_hostile_exchange() -> None:
    s = Stream()
    s.background(T0, WARM + 24)
    _rough(s, T0, WARM + 24)
    _hostile_pair(s, T0 + (WARM + 23) * 3600, "u1", "u2")
    assert [k for k in kinds(incidents(s.events())) if k == "dispute"] == []


def test_a_dispute_does_not_teach_the_community_that_insults_are_ordinary() -> None:
    s = Stream()
    s.background(T0, WARM + 72)
    s.exchange(T0 + (WARM + 23) * 3600, "u1", "u2", 30)  # a long first dispute
    second = _hostile_pair(s, T0 + (WARM + 70) * 3600, "u3", "u4")
    opened = [parse_ts(i["opened_at"]) for i in incidents(s.events()) if i["kind"] == "dispute"]
    assert len(opened) == 2 and opened[1] == second


def test_the_learned_hostile_share_survives_a_restart() -> None:
    s = Stream()
    s.background(T0, WARM + 24)
    evs = [parse_event(w) for w in s.events()]
    det = CommunityDetector(COMM)
    det.process(evs[: len(evs) // 2])
    before = det.dispute.rate.to_state()
    again = CommunityDetector.from_state(COMM, None, det.to_state())
    assert again.dispute.rate.to_state() == before and before["replies"] > 100


