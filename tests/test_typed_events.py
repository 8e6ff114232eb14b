"""The typed fast path of ingest (crisis.ingest.fast_path) against the full check
(crisis.ingest.validate): it takes the ordinary batch, and never takes what the full check refuses."""
from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crisis.ingest.fast_path import decode_valid_array
from crisis.ingest.validate import validate_batch
from tests.ops.test_fuzz import NOW, json_values, mostly_valid, near_valid

ORDINARY = {"id": "e1", "type": "message.create", "ts": "2026-10-05T11:59:00Z", "community": "lantern",
            "actor": {"id": "u1", "name": "A", "roles": ["member"], "bot": False,
                      "created_at": "2026-01-01T00:00:00+02:00"},
            "channel": "general", "content": "hi", "message_id": "m1"}


def _often(valid: st.SearchStrategy[Any], edge: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a valid value, sometimes one at or beyond an edge of the rules."""
    return st.integers(0, 7).flatmap(lambda k: edge if k == 7 else valid)


_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=6)
_edge_text = (st.text(min_size=199, max_size=201) | st.just(" ") | st.just("") | st.just("\u2003")
              | st.integers() | st.none() | st.lists(_text, max_size=2))
_stamps = st.sampled_from(["2026-10-05T11:59:00Z", "2026-10-05t11:59:00.123456789+02:00", "2026-10-06T11:59:59Z",
                           "2026-10-05 11:59:00z"])
_edge_stamps = st.sampled_from(["2026-10-06T12:00:01Z", "2026-10-05T11:59:00", "2026-10-05", "2026-13-05T11:59:00Z",
                                "2026-10-05T11:59:00.1234567890Z", "2026-10-05T11:59:60Z", "1e9",
                                "2026-10-05T11:59:00Z\n", "\n2026-10-05T11:59:00Z", "2026-10-05T11:59:00.12\n+00:00",
                                "2026-10-05t11:59:00.1234567z", "2026-10-05T11:59:00+24:00"])


@st.composite
def ordinary(draw: st.DrawFn) -> dict[str, Any]:
    """Events that are valid more often than not, one rule at a time near its edge."""
    actor: dict[str, Any] = {"id": draw(_often(_text.filter(str.strip), _edge_text))}
    for key, value in (("name", _often(_text, _edge_text)), ("bot", _often(st.booleans(), json_values)),
                       ("roles", _often(st.lists(_text, max_size=3), st.lists(_text, min_size=51, max_size=51)
                                        | json_values)),
                       ("created_at", _often(_stamps, _edge_stamps)), ("x-extra", st.just(1))):
        if draw(st.integers(0, 4)) == 4:
            actor[key] = draw(value)
    event: dict[str, Any] = {
        "id": draw(_often(_text.filter(str.strip), _edge_text)),
        "type": draw(_often(st.sampled_from(["member.join", "message.create", "report.create"]),
                            st.sampled_from(["x-", "x-poll", "chat", ""]) | json_values)),
        "ts": draw(_often(_stamps, _edge_stamps | json_values)),
        "actor": draw(_often(st.just(actor), json_values)),
    }
    optional = {"community": _often(st.just("lantern"), st.sampled_from(["harbor", "", None])),
                "channel": _often(_text, _edge_text), "message_id": _often(_text, _edge_text),
                "content": _often(_text, st.text(min_size=4000, max_size=4001) | json_values),
                "reason": _often(_text, _edge_text), "action": _often(_text, _edge_text),
                "target": _often(st.fixed_dictionaries({}, optional={"user_id": _text, "message_id": _text}),
                                 json_values | st.just({"user_id": "a" * 201}) | st.just({"other": "x"})),
                "x-extra": st.just("kept"), "bogus": st.just(1)}
    for key in draw(st.sets(st.sampled_from(sorted(optional)), max_size=3)):
        event[key] = draw(optional[key])
    return event


def _encode(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


def _same_as_full(body: bytes, slug: str) -> None:
    typed = decode_valid_array(body, slug, NOW, limit=10_000)
    if typed is None:
        return
    full, errors = validate_batch(json.loads(body), slug, NOW)
    assert not errors, f"the fast path accepted what the full check refuses: {errors[:3]}"
    assert [e[:4] for e in typed] == [e[:4] for e in full]


@given(st.lists(ordinary(), max_size=3) | st.lists(mostly_valid() | near_valid() | json_values, max_size=4),
       st.sampled_from(["lantern", "harbor"]))
@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_it_accepts_only_batches_the_full_check_accepts_and_reads_them_the_same(raw: list[Any], slug: str) -> None:
    _same_as_full(_encode(raw), slug)


@given(st.lists(ordinary(), min_size=1, max_size=3), st.data())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_it_stays_with_the_full_check_on_mangled_json_text(raw: list[Any], data: st.DataObject) -> None:
    body = bytearray(_encode(raw))
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(body) - 1))
        body[at:at + 1] = data.draw(st.sampled_from([b"", b'"', b"\\", b",", b"}", b"x", b"\xff", b"0", b" "]))
    try:
        json.loads(body)
    except ValueError:
        assert decode_valid_array(bytes(body), "lantern", NOW, limit=10_000) is None
        return
    _same_as_full(bytes(body), "lantern")


def test_the_ordinary_batch_takes_the_fast_path() -> None:
    plain = {k: v for k, v in ORDINARY.items() if k != "community"} | {"id": "e2", "actor": {"id": "u2"}}
    typed = decode_valid_array(_encode([ORDINARY, plain]), "lantern", NOW, limit=10_000)
    assert typed is not None and [(e.event_id, e.actor_id, e.payload) for e in typed] == [
        ("e1", "u1", None), ("e2", "u2", None)]


def test_anything_unusual_is_left_to_the_full_check() -> None:
    unusual = [
        ORDINARY | {"x-source": "bridge"},                  # custom fields are kept, by the full path
        ORDINARY | {"type": "x-poll.vote"},                 # custom types
        ORDINARY | {"community": "harbor"},                 # another community
        ORDINARY | {"ts": "2026-10-05 11:59:00"},           # no zone
        ORDINARY | {"ts": "2026-10-07T12:00:00Z"},          # more than a day ahead
        ORDINARY | {"id": "   "},                           # blank id
        ORDINARY | {"actor": {"id": "u1", "bot": None}},    # the full check refuses a null bot
        ORDINARY | {"actor": {"id": "u1", "created_at": "yesterday"}},
        ORDINARY | {"content": "x" * 4001},
    ]
    for event in unusual:
        assert decode_valid_array(_encode([event]), "lantern", NOW, limit=10_000) is None, event
    assert decode_valid_array(_encode({"events": [ORDINARY]}), "lantern", NOW, limit=10_000) is None
    assert decode_valid_array(_encode([ORDINARY] * 3), "lantern", NOW, limit=2) is None
