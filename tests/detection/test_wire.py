"""crisis.detection.wire: a line decoded straight into an Event is the Event parse_event
makes of json.loads of the same line, field for field, whichever path takes it."""
from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crisis.detection import parse_event
from crisis.detection.event import Event
from crisis.detection.wire import TypedEvent, event_from_line, events_from_lines

FIELDS = ("id", "community", "type", "ts", "actor", "content", "target_user", "channel", "extra",
          "name", "created_raw", "roles", "bot", "target_msg", "message_id", "reason", "action", "permalink")

ORDINARY = {"id": "orchard-11", "community": "orchard", "type": "message.create", "ts": "2026-10-05T00:00:00.236Z",
            "actor": {"id": "or19647", "name": "gorbengor75", "created_at": "2020-01-17T19:10:56.264Z"},
            "channel": "feedback", "message_id": "orchard-m11", "content": "lol",
            "target": {"message_id": "orchard-m5", "user_id": "or25576"}}


def _observed(e: Event) -> dict[str, Any]:
    seen = {f: getattr(e, f) for f in FIELDS}
    seen["account_created"] = e.account_created()
    return seen


def _same(line: str) -> Event | None:
    """Compare both paths; a line parse_event refuses the line path refuses the same way."""
    try:
        plain = parse_event(json.loads(line))
        b = _observed(plain)
    except (AttributeError, TypeError, ValueError) as exc:
        with pytest.raises(type(exc)):
            _observed(event_from_line(line))
        return None
    typed = event_from_line(line)
    a = _observed(typed)
    for k in ("ts", "account_created"):  # NaN-free, but compare floats as floats
        if isinstance(a[k], float) and isinstance(b[k], float) and math.isnan(a[k]) and math.isnan(b[k]):
            a[k] = b[k] = None
    assert a == b
    return typed


def test_it_decodes_an_ordinary_message_without_a_dict() -> None:
    e = _same(json.dumps(ORDINARY))
    assert isinstance(e, TypedEvent)  # the typed path took it
    assert e.actor == "or19647" and e.target_user == "or25576" and not e.extra


@pytest.mark.parametrize("change", [
    {"actor": {"id": "m1", "name": "Mod", "created_at": None, "roles": ["moderator"]}},  # four keys: extra
    {"actor": {"id": "m1", "roles": ["moderator"]}},  # two keys: not extra, as parse_event counts
    {"actor": {"id": "b1", "name": "x", "created_at": "", "bot": True}},
    {"actor": {"id": "b1", "name": "x", "created_at": "2020-01-01", "bot": False}},
    {"actor": {"id": "u1", "name": None}},
    {"actor": {"id": "u1", "name": "x", "avatar": "a.png"}},  # an unknown actor key counts: parse_event
    {"actor": {"id": "u1", "bot": "yes"}},
    {"actor": None}, {"actor": {}}, {"actor": "u1"},
    {"community": None}, {"type": None}, {"id": 7}, {"content": 5}, {"channel": None},
    {"ts": 1791000000}, {"ts": 1791000000.5}, {"ts": "2026-10-05T00:00:00"},
    {"ts": "2026-10-05T00:00:00.1234567z"}, {"ts": "2026-10-05T02:00:00+02:00"},
    {"target": {}}, {"target": None}, {"target": {"user_id": "u9"}}, {"target": {"user_id": "u9", "x": 1}},
    {"reason": "spam", "action": "ban", "x-permalink": "https://chat.example/m/1"},
    {"reason": 3}, {"x-extra": {"nested": [1, 2]}}, {"content": "\ud800 lone surrogate"},
])
def test_it_matches_parse_event_at_the_edges(change: dict[str, Any]) -> None:
    wire = {**ORDINARY, **change}
    _same(json.dumps(wire))


def test_missing_optional_fields_read_as_parse_event_reads_them() -> None:
    for drop in ("community", "type", "channel", "content", "target", "message_id", "actor"):
        wire = dict(ORDINARY)
        del wire[drop]
        _same(json.dumps(wire))


def test_a_line_that_is_not_json_raises_what_json_loads_raises() -> None:
    with pytest.raises(ValueError):
        event_from_line('{"id": "x", ')
    with pytest.raises(ValueError):
        event_from_line(b"\xff\xfe")


def test_it_skips_blank_lines_and_takes_bytes() -> None:
    line = json.dumps(ORDINARY)
    events = list(events_from_lines([line + "\n", "\n", "  ", line.encode()]))
    assert [e.id for e in events] == ["orchard-11", "orchard-11"]


_scalar = st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=4) | st.just("2026-10-05T00:00:00Z")
_short = st.text(max_size=4)


def _mostly(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The key left out, a valid value (most often) or a scalar of any type."""
    return st.integers(0, 9).flatmap(lambda k: st.just(...) if k == 0 else (_scalar if k == 9 else valid))


@st.composite
def _wire(draw: st.DrawFn) -> dict[str, Any]:
    actor: dict[str, Any] = {}
    for key, valid in (("id", st.text(min_size=1, max_size=4)), ("name", _short),
                       ("created_at", st.sampled_from(["2020-01-17T19:10:56.264Z", "", "bad"])),
                       ("roles", st.lists(st.sampled_from(["member", "moderator"]), max_size=2)),
                       ("bot", st.booleans()), ("avatar", st.just("a"))):
        v = draw(_mostly(valid) if key in ("id", "name", "created_at") else st.one_of(st.just(...), _mostly(valid)))
        if v is not ...:
            actor[key] = v
    wire: dict[str, Any] = {"id": draw(_mostly(st.text(min_size=1, max_size=4)).filter(lambda v: v is not ...)),
                            "ts": draw(st.sampled_from(["2026-10-05T00:00:00.236Z", "2026-10-05T00:00:00",
                                                        "2026-10-05T01:00:00.5+01:00"]) | st.integers(0, 10**9)),
                            "actor": draw(st.integers(0, 9).flatmap(lambda k: _scalar if k == 9 else st.just(actor)))}
    for key in ("community", "type", "channel", "message_id", "content", "reason", "action", "x-permalink"):
        v = draw(_mostly(_short))
        if v is not ...:
            wire[key] = v
    target = draw(st.one_of(st.just(...), st.none(), st.fixed_dictionaries(
        {}, optional={"user_id": st.text(max_size=3) | st.none(), "message_id": st.text(max_size=3) | st.none()})))
    if target is not ...:
        wire["target"] = target
    return wire


@settings(max_examples=1000, deadline=None)
@given(_wire())
def test_it_matches_parse_event_on_arbitrary_events(wire: dict[str, Any]) -> None:
    _same(json.dumps(wire))
