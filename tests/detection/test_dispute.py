from __future__ import annotations

import base64
import json
import zlib
from typing import Any

from crisis.detection import CommunityDetector, parse_event
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


def _legacy_packed(state: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint as 54b1fae wrote it: the parent memory zlib-packed in `recent_z`."""
    dispute = dict(state["dispute"])
    raw = json.dumps({ch: {a: list(m) for a, m in d.items()} for ch, d in dispute.pop("recent").items()}).encode()
    dispute["recent_z"] = base64.b64encode(zlib.compress(raw, 1)).decode("ascii")
    return {**state, "dispute": dispute}


def test_a_checkpoint_with_the_packed_parent_memory_of_one_day_resumes_the_same() -> None:
    s = Stream()
    s.background(T0, 2)
    start = T0 + 4 * 3600
    s.exchange(start, "u5", "u6", 24)
    events = [parse_event(e, "c") for e in s.events()]
    cut = next(i for i, e in enumerate(events) if e.ts >= start + 60)  # mid-exchange: parents remembered
    whole = CommunityDetector("c", None)
    expected = [a.kind for a in whole.process(events)]
    first = CommunityDetector("c", None)
    got = [a.kind for a in first.process(events[:cut])]
    state = json.loads(json.dumps(first.to_state()))  # through JSON, as the column stores it
    assert state["dispute"]["recent"] and "recent_z" not in state["dispute"]  # written plain now
    resumed = CommunityDetector.from_state("c", None, _legacy_packed(state))
    assert resumed.dispute.recent == first.dispute.recent
    got += [a.kind for a in resumed.process(events[cut:])]
    assert got == expected and "dispute" in str(expected)
