"""Wire events -> a compact, fast event type.

Parsing is on the hot path (hundreds of thousands of events per replay), so the
timestamp parser caches the epoch of each "YYYY-MM-DDTHH:MM" prefix and only
converts the seconds per event; anything unusual falls back to datetime.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

_PREFIX_CACHE: dict[str, float] = {}
_PREFIX_CACHE_MAX = 100_000


def parse_ts(s: Any, cache: bool = True) -> float:
    """RFC 3339 ('Z' or numeric offset) or epoch number -> epoch seconds (float).

    cache=False for timestamps that do not cluster in time (account creation),
    which would only churn the prefix cache.
    """
    if isinstance(s, (int, float)):
        return float(s)
    # Fast path: 'YYYY-MM-DDTHH:MM:SS[.fff]Z'
    if cache and len(s) >= 20 and s[-1] == "Z" and s[16] == ":":
        base = _PREFIX_CACHE.get(s[:16])
        if base is None:
            base = datetime.fromisoformat(s[:16] + ":00+00:00").timestamp()
            if len(_PREFIX_CACHE) >= _PREFIX_CACHE_MAX:
                _PREFIX_CACHE.clear()
            _PREFIX_CACHE[s[:16]] = base
        try:
            return base + float(s[17:-1])
        except ValueError:
            pass
    try:
        dt = datetime.fromisoformat(s)  # Python 3.11 reads "Z"
    except ValueError:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00").replace("z", "+00:00"))
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

    __slots__ = ("id", "community", "type", "ts", "actor", "content", "target_user", "extra", "_w", "_a")

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
    def channel(self) -> str | None:
        return self._w.get("channel")

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

    def account_created(self) -> float | None:
        """Account creation time (parsed lazily: only suspicious accounts need it)."""
        raw = self.created_raw
        if raw is None or raw == "":
            return None
        try:
            return parse_ts(raw, cache=False)
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
    get = wire.get
    actor = get("actor") or _EMPTY
    ts = wire["ts"]
    base = _PREFIX_CACHE.get(ts[:16]) if type(ts) is str and len(ts) == 24 and ts[-1] == "Z" else None
    ev = Event.__new__(Event)
    ev.ts = base + float(ts[17:23]) if base is not None else parse_ts(ts)
    ev.id = get("id")
    ev.community = community if community is not None else get("community", "")
    ev.type = get("type", "")
    ev.actor = actor.get("id", "")
    ev.content = get("content")
    target = get("target")
    ev.target_user = target.get("user_id") if target else None
    ev.extra = len(actor) > 3
    ev._w = wire
    ev._a = actor
    return ev
