from __future__ import annotations

import json
import random

from crisis.detection import CommunityDetector, DetectorSettings, SurgeWindow, parse_event, parse_ts
from crisis.detection.stream_replay import run_actions

from .streams import COMM, T0, Stream, incidents, iso, kinds


def _scenario(seed: int = 3) -> Stream:
    s = Stream(seed=seed)
    s.background(T0, 10)
    s.raid(T0 + 4 * 3600, 60, 120)
    s.reports(T0 + 6 * 3600, 30, 2.0, s.members[:100])
    s.exchange(T0 + 8 * 3600, "u5", "u6", 24)
    return s


def _keys(acts: list) -> list[tuple]:
    return [(a.action, a.episode_key, a.kind, a.severity, a.opened_at) for a in acts]


def test_it_parses_timestamps_in_several_forms() -> None:
    assert parse_ts("2026-10-05T00:00:01.500Z") == 1791158401.5
    assert parse_ts("2026-10-05T02:00:01.500+02:00") == 1791158401.5
    assert parse_ts("2026-10-05T00:00:01Z") == 1791158401.0
    assert parse_ts(1791158401.5) == 1791158401.5


def test_it_finds_each_planted_crisis_once() -> None:
    assert kinds(incidents(_scenario().events())) == ["raid", "complaint_spike", "dispute"]


def test_it_resumes_from_a_checkpoint_with_identical_output() -> None:
    evs = [parse_event(w) for w in _scenario().events()]
    whole = CommunityDetector(COMM)
    expected = _keys(whole.process(evs) + whole.advance_to(evs[-1].ts + 86400))
    for cut in (len(evs) // 3, len(evs) // 2, 2 * len(evs) // 3):
        first = CommunityDetector(COMM)
        acts = first.process(evs[:cut])
        state = json.loads(json.dumps(first.to_state()))
        resumed = CommunityDetector.from_state(COMM, DetectorSettings(), state)
        acts += resumed.process(evs[cut:]) + resumed.advance_to(evs[-1].ts + 86400)
        assert _keys(acts) == expected


def test_it_tolerates_events_a_few_seconds_out_of_order() -> None:
    evs = _scenario().events()
    rng = random.Random(5)
    jittered = sorted(evs, key=lambda e: parse_ts(e["ts"]) + rng.uniform(0, 5))
    assert jittered != evs
    assert kinds(incidents(jittered)) == kinds(incidents(evs))


def test_it_ignores_duplicate_events() -> None:
    evs = _scenario().events()
    doubled = []
    for e in evs:
        doubled.append(e)
        if e["type"] != "message.create" or random.Random(e["id"]).random() < 0.3:
            doubled.append(dict(e))  # redelivered right away
    once = incidents(evs)
    twice = incidents(doubled)
    assert [(i["kind"], i["opened_at"]) for i in twice] == [(i["kind"], i["opened_at"]) for i in once]
    spike = [i for i in twice if i["kind"] == "complaint_spike"][0]
    assert (spike["evidence"]["observed"]
            == [i for i in once if i["kind"] == "complaint_spike"][0]["evidence"]["observed"])


def test_it_updates_then_closes_an_episode_after_a_quiet_period() -> None:
    s = Stream()
    s.background(T0, 4.2)  # the stream ends 12 minutes after the raid began
    s.raid(T0 + 4 * 3600, 60, 300)
    evs = [parse_event(w) for w in s.events()]
    det = CommunityDetector(COMM)
    acts = det.process(evs)
    assert [a.action for a in acts if a.kind == "raid"][:2] == ["open", "update"]
    assert not any(a.action == "close" for a in acts)
    closed = det.advance_to(evs[-1].ts + 3600)
    assert [a.action for a in closed] == ["close"] and closed[0].kind == "raid"
    assert len({a.episode_key for a in acts + closed if a.kind == "raid"}) == 1
    json.dumps([a.to_dict() for a in acts + closed])  # evidence is JSON-serializable


def test_it_suppresses_allowlisted_users_and_bots() -> None:
    s = Stream()
    s.background(T0, 6)
    ids = s.raid(T0 + 4 * 3600, 20, 60)
    assert kinds(incidents(s.events())) == ["raid"]
    settings = DetectorSettings(allow_users=ids)
    assert incidents(s.events(), settings) == []
    for e in s.evs:
        if e["actor"]["id"] in ids:
            e["actor"]["bot"] = True
    assert incidents(s.events()) == []


def test_it_suppresses_allowlisted_roles() -> None:
    s = Stream()
    s.background(T0, 6)
    ids = set(s.raid(T0 + 4 * 3600, 20, 60))
    for e in s.evs:
        if e["actor"]["id"] in ids:
            e["actor"]["roles"] = ["partner"]
    assert incidents(s.events(), DetectorSettings(allow_roles=["partner"])) == []
    assert kinds(incidents(s.events(), DetectorSettings(allow_roles=["mod"]))) == ["raid"]


def test_it_raises_thresholds_inside_an_expected_surge_window() -> None:
    s = Stream()
    s.background(T0, 6)
    start = T0 + 4 * 3600
    s.raid(start, 6, 60, template="come see my stream https://str3am.example/{i}")
    assert kinds(incidents(s.events())) == ["raid"]
    window = SurgeWindow.from_dict({"start": iso(start - 600), "end": iso(start + 3600), "factor": 3})
    settings = DetectorSettings(surge_windows=[window])
    assert incidents(s.events(), settings) == []
    later = DetectorSettings(surge_windows=[SurgeWindow(start + 7200, start + 9000)])
    assert kinds(incidents(s.events(), later)) == ["raid"]


def test_it_round_trips_settings_through_json() -> None:
    st = DetectorSettings(sensitivity="high", allow_users=["a"], allow_roles=["mod"],
                          surge_windows=[SurgeWindow(1.0, 2.0, 4.0)])
    back = DetectorSettings.from_dict(json.loads(json.dumps(st.to_dict())))
    assert back.to_dict() == st.to_dict() and back.s == 1.6
    assert DetectorSettings(sensitivity=5).s == 2.0


def test_it_is_more_eager_at_higher_sensitivity() -> None:
    s = Stream()
    s.background(T0, 8)
    s.reports(T0 + 5 * 3600, 30, 0.25, s.members)  # a modest rise: ~8 extra reports
    low = incidents(s.events(), DetectorSettings(sensitivity=0.5))
    high = incidents(s.events(), DetectorSettings(sensitivity=2.0))
    assert low == [] and kinds(high) == ["complaint_spike"]


def test_it_keeps_communities_apart() -> None:
    s = _scenario()
    other = [dict(e, community="other", id="o" + e["id"]) for e in Stream(seed=9).events()]
    mixed = sorted(s.events() + other, key=lambda e: e["ts"])
    acts = run_actions(iter(mixed))
    assert {a.community for a in acts} == {COMM}
