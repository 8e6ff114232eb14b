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


def parse_ts(s: Any) -> float:
    """RFC 3339 ('Z' or numeric offset) or epoch number -> epoch seconds (float)."""
    if isinstance(s, (int, float)):
        return float(s)
    # Fast path: 'YYYY-MM-DDTHH:MM:SS[.fff]Z'
    if len(s) >= 20 and s[-1] == "Z" and s[16] == ":":
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
    dt = datetime.fromisoformat(s.replace("Z", "+00:00").replace("z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def iso(ts: float) -> str:
    """Epoch seconds -> RFC 3339 UTC with milliseconds ('...Z')."""
    dt = datetime.fromtimestamp(ts, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


class Event:
    """One community event; plain slots object because it is created per event."""

    __slots__ = ("id", "community", "type", "ts", "actor", "name", "created_raw",
                 "channel", "content", "target_user", "target_msg", "message_id",
                 "reason", "action", "roles", "bot")

    def __init__(self, id: str, community: str, type: str, ts: float, actor: str,
                 name: str = "", created_raw: Any = None, channel: str | None = None,
                 content: str | None = None, target_user: str | None = None,
                 target_msg: str | None = None, message_id: str | None = None,
                 reason: str | None = None, action: str | None = None,
                 roles: tuple[str, ...] = (), bot: bool = False) -> None:
        self.id = id
        self.community = community
        self.type = type
        self.ts = ts
        self.actor = actor
        self.name = name
        self.created_raw = created_raw
        self.channel = channel
        self.content = content
        self.target_user = target_user
        self.target_msg = target_msg
        self.message_id = message_id
        self.reason = reason
        self.action = action
        self.roles = roles
        self.bot = bot

    def account_created(self) -> float | None:
        """Account creation time (parsed lazily: only suspicious accounts need it)."""
        raw = self.created_raw
        if raw is None or raw == "":
            return None
        try:
            return parse_ts(raw)
        except (ValueError, TypeError, IndexError):
            return None


def parse_event(wire: dict[str, Any]) -> Event:
    """Wire dict (ingest API format) -> Event. Missing optional fields are tolerated."""
    actor = wire.get("actor") or {}
    target = wire.get("target") or {}
    roles = actor.get("roles") or ()
    return Event(
        str(wire.get("id", "")), wire.get("community", ""), wire.get("type", ""),
        parse_ts(wire["ts"]), str(actor.get("id", "")), actor.get("name") or "",
        actor.get("created_at"), wire.get("channel"), wire.get("content"),
        target.get("user_id"), target.get("message_id"), wire.get("message_id"),
        wire.get("reason"), wire.get("action"),
        tuple(roles) if roles else (), bool(actor.get("bot", False)),
    )
