"""Wire events -> a compact, fast event type.

Parsing is on the hot path (hundreds of thousands of events per replay, every event a
detect worker drains). Python 3.11's fromisoformat reads RFC 3339 ("Z" included) in C,
and with .timestamp() it is about twice as fast as the prefix cache of epochs that
earlier versions kept for "YYYY-MM-DDTHH:MM" (measured on every form in use: "Z", with
and without fractions, "+00:00").
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

_fromiso = datetime.fromisoformat


def parse_ts(s: Any) -> float:
    """RFC 3339 ('Z' or numeric offset) or epoch number -> epoch seconds (float).
    A time without a zone is read as UTC."""
    if isinstance(s, (int, float)):
        return float(s)
    try:
        dt = _fromiso(s)
    except ValueError:  # a lower-case "z" after a long fraction, which 3.11 refuses
        dt = _fromiso(s.replace("Z", "+00:00").replace("z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def iso(ts: float) -> str:
    """Epoch seconds -> RFC 3339 UTC with milliseconds ('...Z')."""
    dt = datetime.fromtimestamp(ts, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


_EMPTY: dict[str, Any] = {}


class Event:
    """One community event.

    Only the fields every detector reads are copied out of the wire dict; the
    rest are read lazily through properties, because building a full object per
    event would cost as much as the JSON parsing itself.
    """

    __slots__ = ("id", "community", "type", "ts", "actor", "content", "target_user", "channel", "extra",
                 "_w", "_a")

    # Annotations only (no values, which __slots__ would refuse): the types parse_event gives the slots.
    id: str
    community: str
    type: str
    ts: float
    actor: str
    content: str | None
    target_user: str | None
    channel: str | None  # a slot, not a property: the dispute detector reads it for every message
    extra: bool
    _w: dict[str, Any]  # the wire dict
    _a: dict[str, Any]  # its actor dict (or an empty one)

    @property
    def name(self) -> str:
        return self._a.get("name") or ""

    @property
    def created_raw(self) -> Any:
        return self._a.get("created_at")

    @property
    def roles(self) -> tuple[str, ...]:
        r = self._a.get("roles")
        return tuple(r) if r else ()

    @property
    def bot(self) -> bool:
        return bool(self._a.get("bot", False))

    @property
    def target_msg(self) -> str | None:
        return (self._w.get("target") or _EMPTY).get("message_id")

    @property
    def message_id(self) -> str | None:
        return self._w.get("message_id")

    @property
    def reason(self) -> str | None:
        return self._w.get("reason")

    @property
    def action(self) -> str | None:
        return self._w.get("action")

    @property
    def permalink(self) -> str | None:
        """Where the event lives on its platform (bridged events carry one: x-permalink)."""
        return self._w.get("x-permalink")

    def account_created(self) -> float | None:
        """Account creation time (parsed lazily: only suspicious accounts need it)."""
        raw = self.created_raw
        if raw is None or raw == "":
            return None
        try:
            return parse_ts(raw)
        except (ValueError, TypeError, IndexError):
            return None


def parse_event(wire: dict[str, Any], community: str | None = None) -> Event:
    """Wire dict (ingest API format) -> Event, of `community` when given (the batch log
    stores a community's events without naming it in each). Missing optional fields
    are tolerated.

    Hand-inlined (timestamp fast path included) because it runs once per event.
    `extra` is true when the actor carries more than id/name/created_at (roles,
    bot flag), so the allowlist is consulted only for such events.
    """
    # Any, not dict.get's "Any | None": ids are required on the wire (ingest refuses an event without one).
    get: Callable[..., Any] = wire.get
    actor = get("actor") or _EMPTY
    ts = wire["ts"]
    ev = Event.__new__(Event)
    try:
        dt = _fromiso(ts)
        ev.ts = dt.timestamp() if dt.tzinfo is not None else parse_ts(ts)
    except (TypeError, ValueError):  # an epoch number, or a spelling parse_ts mends
        ev.ts = parse_ts(ts)
    ev.id = get("id")
    ev.community = community if community is not None else get("community", "")
    ev.type = get("type", "")
    ev.actor = actor.get("id", "")
    ev.content = get("content")
    target = get("target")
    ev.target_user = target.get("user_id") if target else None
    ev.channel = get("channel")
    ev.extra = len(actor) > 3
    ev._w = wire
    ev._a = actor
    return ev
