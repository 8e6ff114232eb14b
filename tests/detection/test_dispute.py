from __future__ import annotations

from crisis.detection.event import parse_ts

from .streams import T0, Stream, incidents, kinds


def test_it_detects_a_hostile_back_and_forth() -> None:
    s = Stream()
    s.background(T0, 6)
    start = T0 + 4 * 3600
    s.exchange(start, "u5", "u6", 24)
    incs = incidents(s.events())
    assert kinds(incs) == ["dispute"]
    assert parse_ts(incs[0]["opened_at"]) - start <= 400
    ev = incs[0]["evidence"]
    assert set(ev["participants"]) == {"u5", "u6"} and ev["channel"] == "media"


def test_it_detects_a_three_way_dispute_once() -> None:
    s = Stream()
    s.background(T0, 6)
    start = T0 + 4 * 3600
    s.exchange(start, "u5", "u6", 12)
    s.exchange(start + 200, "u6", "u7", 12)
    s.exchange(start + 400, "u7", "u5", 12)
    assert kinds(incidents(s.events())) == ["dispute"]


def test_it_stays_silent_on_friendly_rapid_chat() -> None:
    s = Stream()
    s.background(T0, 6)
    s.exchange(T0 + 4 * 3600, "u5", "u6", 60, hostile=False, gap=15)
    assert incidents(s.events()) == []


def test_it_ignores_a_single_rude_reply() -> None:
    s = Stream()
    s.background(T0, 6)
    s.msg(T0 + 4 * 3600, "u5", "you are an idiot", reply_to="u6")
    s.msg(T0 + 4 * 3600 + 30, "u6", "shut up", reply_to="u5")
    assert incidents(s.events()) == []
