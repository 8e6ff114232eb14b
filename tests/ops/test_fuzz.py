"""Hypothesis: event validation never crashes and accepts only what it can store; the
detectors survive arbitrary streams with bounded state."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crisis.detection import CommunityDetector, parse_event
from crisis.detection.dedup import RecentIds
from crisis.ingest.validate import (
    KNOWN_TYPES,
    MAX_FUTURE,
    _Errors,
    _parse_rfc3339_any,
    _valid_common,
    _validate_one,
    parse_rfc3339,
    validate_batch,
)

NOW = datetime(2026, 10, 5, 12, 0, tzinfo=timezone.utc)
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                           max_leaves=10)
odd_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=300) | st.sampled_from(
    ["<script>alert(1)</script>", "\u202eevil", "\x00", "𝕏" * 500, "' OR 1=1 --", "a" * 5000])


@st.composite
def near_valid(draw: st.DrawFn) -> dict[str, Any]:
    ts = NOW - timedelta(seconds=draw(st.integers(-200_000, 3_000_000)))
    event: dict[str, Any] = {
        "id": draw(odd_text), "type": draw(st.sampled_from(sorted(KNOWN_TYPES)) | odd_text),
        "ts": draw(st.sampled_from([ts.isoformat(), ts.strftime("%Y-%m-%dT%H:%M:%SZ")]) | odd_text),
        "actor": draw(st.fixed_dictionaries({"id": odd_text}, optional={"name": odd_text, "bot": json_values})
                      | json_values),
    }
    if draw(st.booleans()):
        event["community"] = draw(st.sampled_from(["lantern", "harbor"]) | odd_text)
    for field in draw(st.sets(st.sampled_from(["content", "channel", "message_id", "reason", "action", "target",
                                               "x-extra", "bogus"]))):
        event[field] = draw(odd_text | json_values)
    return event


@given(st.lists(near_valid() | json_values, max_size=20))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_it_validates_anything_without_crashing(raw: list[Any]) -> None:
    valid, errors = validate_batch(raw, "lantern", NOW)
    assert len(errors) <= 100
    if not errors:
        assert len(valid) == len(raw)
    for event in valid:
        assert event.ts.tzinfo is not None and len(event.event_id) <= 200
        json.dumps(event.payload)  # storable as JSON


@st.composite
def mostly_valid(draw: st.DrawFn) -> dict[str, Any]:
    """Events at the edges of every rule: valid more often than not, so the quick check's
    accept path is exercised, not only its "not sure"."""
    short = st.text(max_size=8) | st.text(min_size=195, max_size=205) | st.just(" ")
    ts = NOW + timedelta(seconds=draw(st.integers(-100_000, 100_000)))
    event: dict[str, Any] = {
        "id": draw(short), "type": draw(st.sampled_from(sorted(KNOWN_TYPES) + ["x-", "x-custom", "chat"])
                                        | json_values),
        "ts": draw(st.sampled_from([ts.isoformat(), ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "2026-10-05",
                                    "2026-10-05T12:00:00"])),
        "actor": draw(st.fixed_dictionaries({"id": short}, optional={"name": short, "roles": json_values,
                                                                     "created_at": st.just(ts.isoformat())})),
    }
    if draw(st.booleans()):
        event["community"] = draw(st.sampled_from(["lantern", "harbor", ""]))
    for field in draw(st.sets(st.sampled_from(["content", "channel", "message_id", "reason", "action", "target",
                                               "x-extra", "bogus"]), max_size=3)):
        event[field] = draw(st.text(max_size=5) | st.text(min_size=4000, max_size=4001) | json_values)
    return event


@given(mostly_valid() | near_valid() | json_values, st.sampled_from(["lantern", "harbor"]))
@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_quick_check_accepts_only_what_the_full_check_accepts_and_the_same_way(raw: Any, slug: str) -> None:
    quick = _valid_common(raw, slug, NOW + MAX_FUTURE)
    errors = _Errors()
    full = _validate_one(errors, 0, raw, slug, NOW)
    if quick is not None:
        assert not errors.items and quick == full


def test_the_usual_event_takes_the_quick_check() -> None:
    event = {"id": "e1", "type": "message.create", "ts": "2026-10-05T11:59:00Z", "actor": {"id": "u1", "name": "A"},
             "channel": "general", "content": "hi"}
    assert _valid_common(event, "lantern", NOW + MAX_FUTURE) is not None


@given(st.sampled_from(["2026-10-05T11:59:00Z", "2026-10-05T11:59:00.123Z", "2026-10-05T11:59:00.123456+00:00",
                        "2026-10-05T11:59:00-05:30", "2026-10-05T11:59:00.123456789+14:00"]),
       st.lists(st.tuples(st.integers(0, 34), st.sampled_from("0123456789-:.TtZz +,a\u0660\u00a0")), max_size=3))
@settings(max_examples=4000, deadline=None)
def test_the_quick_time_shapes_read_exactly_as_the_general_rule(template: str, edits: list[tuple[int, str]]) -> None:
    text = list(template)
    for at, char in edits:
        text[at % len(text)] = char
    value = "".join(text)
    assert parse_rfc3339(value) == _parse_rfc3339_any(value)


@st.composite
def streams(draw: st.DrawFn) -> list[dict[str, Any]]:
    base = NOW.timestamp() - 7200
    n = draw(st.integers(1, 300))
    actors = [f"u{i}" for i in range(draw(st.integers(1, 40)))]
    out = []
    for _ in range(n):
        ts = base + draw(st.floats(0, 7200))
        out.append({"id": f"e{draw(st.integers(0, n))}", "community": "lantern",
                    "type": draw(st.sampled_from(sorted(KNOWN_TYPES) + ["x-thing"])),
                    "ts": datetime.fromtimestamp(ts, timezone.utc).isoformat(),
                    "actor": {"id": draw(st.sampled_from(actors)), "created_at": NOW.isoformat()},
                    "content": draw(odd_text | st.just("free https://x.example @everyone")),
                    "target": {"user_id": draw(st.sampled_from(actors))}})
    return out


@given(streams(), st.integers(1, 50))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_it_detects_on_arbitrary_streams_with_bounded_state(events: list[dict[str, Any]], batch: int) -> None:
    detector = CommunityDetector("lantern")
    recent = RecentIds()  # the stream repeats ids; the detectors take each once, as from ingest
    for start in range(0, len(events), batch):
        parsed = sorted(recent.filter(parse_event(e) for e in events[start:start + batch]), key=lambda e: e.ts)
        detector.process(parsed)
        state = detector.to_state()
        detector = CommunityDetector.from_state("lantern", None, json.loads(json.dumps(state)))
    # Every remembered id and poster came from the stream: state grows with input, never beyond it.
    state = detector.to_state()
    assert len(recent) <= len({e["id"] for e in events})
    assert "seen" not in state  # ids are ingest's to remember, not the checkpoint's
    assert len(state["posters"]) <= len({e["actor"]["id"] for e in events})
    assert len(json.dumps(state)) < 2_000_000
