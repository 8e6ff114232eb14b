"""Lines of a recorded stream -> Events, decoded straight into typed structs (msgspec, in C).

The replay of files (`crisis replay`, `crisis backtest`, stream_replay) spends as much on
`json.loads` and parse_event as on detection: a dict per event and per actor, then an
Event copied out of them. Here msgspec decodes a line into a Struct of the fields the
detectors read, and the Event takes its slots from it: no wire dict is built.

The Event is the same as parse_event's for every line this path takes. A line it does not
take exactly (a field of another type, an unknown actor field, a null where parse_event
would read the key's default, JSON msgspec refuses) goes through json.loads and
parse_event instead, so the result never depends on which path read the line.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from json import loads
from typing import Any

import msgspec
from msgspec import UNSET, Struct, UnsetType, field

from crisis.detection.event import Event, parse_event, parse_ts

_fromiso = datetime.fromisoformat


class _Actor(Struct, forbid_unknown_fields=True, gc=False):
    # UNSET, not None, for what parse_event counts by key: Event.extra is "more than three
    # keys in the actor", and an unknown key (refused here) would count too.
    id: str
    name: str | None | UnsetType = UNSET
    created_at: str | None | UnsetType = UNSET
    roles: list[str] | None | UnsetType = UNSET
    bot: bool | UnsetType = UNSET


class _Target(Struct, gc=False):
    user_id: str | None = None
    message_id: str | None = None


class _Wire(Struct, gc=False):
    """The fields of a wire event any detector reads; others are skipped unread."""

    id: str
    ts: str
    actor: _Actor
    community: str = ""
    type: str = ""
    channel: str | None = None
    message_id: str | None = None
    content: str | None = None
    target: _Target | None = None
    reason: str | None = None
    action: str | None = None
    permalink: str | None = field(default=None, name="x-permalink")


class TypedEvent(Event):
    """An Event read from a _Wire struct; its lazy fields come from the struct, not a dict."""

    __slots__ = ("_s", "_sa")

    _s: _Wire
    _sa: _Actor

    @property
    def name(self) -> str:
        return self._sa.name or ""

    @property
    def created_raw(self) -> Any:
        c = self._sa.created_at
        return None if c is UNSET else c

    @property
    def roles(self) -> tuple[str, ...]:
        r = self._sa.roles
        return tuple(r) if r else ()

    @property
    def bot(self) -> bool:
        return self._sa.bot is True

    @property
    def target_msg(self) -> str | None:
        t = self._s.target
        return t.message_id if t is not None else None

    @property
    def message_id(self) -> str | None:
        return self._s.message_id

    @property
    def reason(self) -> str | None:
        return self._s.reason

    @property
    def action(self) -> str | None:
        return self._s.action

    @property
    def permalink(self) -> str | None:
        return self._s.permalink


_decode = msgspec.json.Decoder(_Wire).decode
_new = TypedEvent.__new__
_Error = (msgspec.ValidationError, msgspec.DecodeError)


def event_from_line(line: str | bytes) -> Event:
    """One NDJSON line -> its Event; ValueError (from json.loads) when it is not JSON."""
    try:
        w = _decode(line)
    except _Error:
        return parse_event(loads(line))
    ts = w.ts
    ev = _new(TypedEvent)
    try:
        dt = _fromiso(ts)
        ev.ts = dt.timestamp() if dt.tzinfo is not None else parse_ts(ts)
    except ValueError:  # a spelling parse_ts mends ("z" after a long fraction)
        ev.ts = parse_ts(ts)
    a = w.actor
    ev.id = w.id
    ev.community = w.community
    ev.type = w.type
    ev.actor = a.id
    ev.content = w.content
    t = w.target
    ev.target_user = t.user_id if t is not None else None
    ev.channel = w.channel
    # parse_event: len(actor dict) > 3. Without roles and bot there are at most three keys.
    ev.extra = (a.roles is not UNSET or a.bot is not UNSET) and \
        3 < 1 + sum(v is not UNSET for v in (a.name, a.created_at, a.roles, a.bot))
    ev._s = w
    ev._sa = a
    return ev


def events_from_lines(lines: Iterable[str | bytes]) -> Iterator[Event]:
    """Events of NDJSON lines, in order; blank lines skipped."""
    for line in lines:
        if line and not line.isspace():  # line.strip() would copy every line to find out
            yield event_from_line(line)
