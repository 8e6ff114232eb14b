"""Validation of activity events at the edge: every problem is reported with its
index and field, so a client can fix a whole batch in one round trip."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

KNOWN_TYPES = frozenset({
    "member.join", "member.leave", "message.create", "message.delete",
    "report.create", "moderation.action", "reaction.add",
})
TOP_FIELDS = frozenset({
    "id", "type", "ts", "actor", "community", "channel", "message_id", "content",
    "target", "reason", "action",
})
ACTOR_FIELDS = frozenset({"id", "name", "created_at", "roles", "bot"})
TARGET_FIELDS = frozenset({"user_id", "message_id"})
MAX_CONTENT = 4000
MAX_ID = 200
MAX_SHORT = 200
MAX_REASON = 1000
MAX_ERRORS = 100
# Events far in the future are a client clock bug; refuse them rather than let
# them poison event-time windows.
MAX_FUTURE = timedelta(days=1)

# RFC 3339 with a zone. ASCII digits: fromisoformat refuses any other kind anyway, and
# crisis.ingest.fast_path matches a whole batch's times with the same rule.
RFC3339 = r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
_RFC3339 = re.compile(rf"^{RFC3339}$")


@dataclass(frozen=True)
class FieldError:
    index: int
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "message": self.message}


class ValidEvent(NamedTuple):
    # A tuple, not a frozen dataclass: built once per ingested event, and a frozen
    # dataclass's __init__ costs several times more.
    event_id: str
    type: str
    ts: datetime
    actor_id: str
    # None when the batch is stored as sent (crisis.ingest.fast_path): the request's own bytes
    # hold the event, and no dict was built for it.
    payload: dict[str, Any] | None


class _Errors:
    def __init__(self) -> None:
        self.items: list[FieldError] = []

    def add(self, index: int, field: str, message: str) -> None:
        if len(self.items) < MAX_ERRORS:
            self.items.append(FieldError(index, field, message))

    @property
    def full(self) -> bool:
        return len(self.items) >= MAX_ERRORS


def parse_rfc3339(value: str) -> datetime | None:
    """An aware datetime, or None when the string is not RFC 3339 with a zone."""
    # The usual shapes ("2026-10-05T12:00:00Z", "...12:00:00.123456+00:00") are checked by
    # the position of their separators; where those fit, fromisoformat (C) refuses any
    # non-digit in the rest. Half the cost of the regex, on every event ingested.
    n = len(value)
    if n >= 20 and value[4] == "-" and value[7] == "-" and value[10] == "T" and value[13] == ":" and value[16] == ":":
        zone = (n - 1 if value[-1] == "Z"
                else n - 6 if (value[-6] == "+" or value[-6] == "-") and value[-3] == ":" else 0)
        # fromisoformat skips stray characters among long fractions: digits are checked here.
        if zone == 19 or (21 <= zone <= 29 and value[19] == "." and value.isascii() and value[20:zone].isdigit()):
            try:
                return datetime.fromisoformat(value)
            except ValueError:
                pass  # the general rule decides
    return _parse_rfc3339_any(value)


def _parse_rfc3339_any(value: str) -> datetime | None:
    if not _RFC3339.match(value):
        return None
    try:
        # Python 3.11 reads RFC 3339 itself, more than six fractional digits included.
        return datetime.fromisoformat(value)
    except ValueError:
        pass
    text = value
    if "." in text:
        # Older spellings it refuses (a lower-case "z" after long fractions): keep microseconds.
        head, _, rest = text.partition(".")
        digits = re.match(r"\d+", rest)
        assert digits is not None
        frac = digits.group(0)
        text = f"{head}.{frac[:6].ljust(6, '0')}{rest[len(frac):]}"
    try:
        return datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None


def _string(errors: _Errors, index: int, field: str, value: Any, *, limit: int, required: bool) -> str | None:
    if value is None:
        if required:
            errors.add(index, field, "is required")
        return None
    if not isinstance(value, str):
        errors.add(index, field, f"must be a string, not {type(value).__name__}")
        return None
    if required and not value.strip():
        errors.add(index, field, "must not be empty")
        return None
    if len(value) > limit:
        errors.add(index, field, f"is {len(value)} characters long; the limit is {limit}")
        return None
    return value


def _object(errors: _Errors, index: int, field: str, value: Any, allowed: frozenset[str]) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        errors.add(index, field, f"must be an object, not {type(value).__name__}")
        return None
    for key in value:
        if key not in allowed:
            errors.add(index, f"{field}.{key}", f"is not a known field (known: {', '.join(sorted(allowed))})")
    return value


# Optional top-level strings and their length limits, checked only when present.
_OPTIONAL_STRINGS = (("channel", MAX_SHORT), ("message_id", MAX_ID), ("action", 64), ("reason", MAX_REASON),
                     ("content", MAX_CONTENT))


def _validate_one(errors: _Errors, index: int, raw: Any, slug: str, now: datetime) -> ValidEvent | None:
    # The hot path of ingest: set comparisons in C first, the per-key loops only when they fail.
    before = len(errors.items)
    if type(raw) is not dict:
        errors.add(index, "", f"an event must be an object, not {type(raw).__name__}")
        return None
    if not raw.keys() <= TOP_FIELDS:
        for key in raw:
            if key not in TOP_FIELDS and not key.startswith("x-"):
                errors.add(index, key, "is not a known field (custom fields start with 'x-')")
    event_id = _string(errors, index, "id", raw.get("id"), limit=MAX_ID, required=True)
    etype = _string(errors, index, "type", raw.get("type"), limit=64, required=True)
    if etype is not None and etype not in KNOWN_TYPES and not (etype.startswith("x-") and len(etype) > 2):
        errors.add(index, "type", f"{etype!r} is not a known type ({', '.join(sorted(KNOWN_TYPES))}, or x-...)")
    ts_text = _string(errors, index, "ts", raw.get("ts"), limit=40, required=True)
    ts = None
    if ts_text is not None:
        ts = parse_rfc3339(ts_text)
        if ts is None:
            errors.add(index, "ts", f"{ts_text!r} is not an RFC 3339 time with a zone (e.g. 2026-10-05T12:00:00Z)")
        elif ts - now > MAX_FUTURE:
            errors.add(index, "ts", f"{ts_text!r} is more than a day in the future")
    community = raw.get("community")
    if community is not None and community != slug:
        errors.add(index, "community", f"is {community!r} but the URL names {slug!r}")
    actor_id = None
    if "actor" not in raw:
        errors.add(index, "actor", "is required")
    else:
        actor_id = _actor(errors, index, raw["actor"])
    for field, limit in _OPTIONAL_STRINGS:
        value = raw.get(field)
        if value is not None:
            _string(errors, index, field, value, limit=limit, required=False)
    if raw.get("target") is not None:
        target = _object(errors, index, "target", raw["target"], TARGET_FIELDS)
        if target is not None:
            for key in TARGET_FIELDS:
                _string(errors, index, f"target.{key}", target.get(key), limit=MAX_ID, required=False)
    if len(errors.items) != before or event_id is None or etype is None or ts is None or actor_id is None:
        return None
    payload = dict(raw)
    payload["community"] = slug
    return ValidEvent(event_id, etype, ts, actor_id, payload)


def _actor(errors: _Errors, index: int, value: Any) -> str | None:
    if type(value) is dict and value.keys() <= ACTOR_FIELDS:
        actor: dict[str, Any] | None = value
    else:
        actor = _object(errors, index, "actor", value, ACTOR_FIELDS)
    if actor is None:
        return None
    actor_id = _string(errors, index, "actor.id", actor.get("id"), limit=MAX_ID, required=True)
    if actor.get("name") is not None:
        _string(errors, index, "actor.name", actor["name"], limit=MAX_SHORT, required=False)
    if actor.get("created_at") is not None:
        created = _string(errors, index, "actor.created_at", actor["created_at"], limit=40, required=False)
        if created is not None and parse_rfc3339(created) is None:
            errors.add(index, "actor.created_at", f"{created!r} is not an RFC 3339 time with a zone")
    roles = actor.get("roles")
    if roles is not None and not (isinstance(roles, list) and len(roles) <= 50
                                  and all(isinstance(r, str) and len(r) <= MAX_SHORT for r in roles)):
        errors.add(index, "actor.roles", "must be a list of at most 50 strings")
    if "bot" in actor and not isinstance(actor["bot"], bool):
        errors.add(index, "actor.bot", "must be true or false")
    return actor_id


_SIMPLE_ACTOR = frozenset({"id", "name"})


def _valid_common(raw: Any, slug: str, latest: datetime) -> ValidEvent | None:
    """The usual event, accepted in a few C-level checks; None means "not sure": the full
    check (_validate_one) then decides and explains. Never accepts what _validate_one refuses."""
    if type(raw) is not dict or not raw.keys() <= TOP_FIELDS or raw.get("target") is not None:
        return None
    event_id, etype, ts_text, actor = raw.get("id"), raw.get("type"), raw.get("ts"), raw.get("actor")
    if (type(event_id) is not str or not 0 < len(event_id) <= MAX_ID or not event_id.strip()
            or type(etype) is not str or etype not in KNOWN_TYPES or type(ts_text) is not str or len(ts_text) > 40
            or type(actor) is not dict or not actor.keys() <= _SIMPLE_ACTOR):
        return None
    community = raw.get("community")
    if community is not None and community != slug:
        return None
    actor_id, name = actor.get("id"), actor.get("name")
    if (type(actor_id) is not str or not 0 < len(actor_id) <= MAX_ID or not actor_id.strip()
            or (name is not None and (type(name) is not str or len(name) > MAX_SHORT))):
        return None
    for field, limit in _OPTIONAL_STRINGS:
        value = raw.get(field)
        if value is not None and (type(value) is not str or len(value) > limit):
            return None
    ts = parse_rfc3339(ts_text)
    if ts is None or ts > latest:
        return None
    payload = dict(raw)
    payload["community"] = slug
    return ValidEvent(event_id, etype, ts, actor_id, payload)


def validate_batch(raw_events: list[Any], slug: str, now: datetime) -> tuple[list[ValidEvent], list[FieldError]]:
    """All events, or the errors (at most MAX_ERRORS) that make the batch unacceptable."""
    errors = _Errors()
    valid: list[ValidEvent] = []
    latest = now + MAX_FUTURE
    for index, raw in enumerate(raw_events):
        event = _valid_common(raw, slug, latest)
        if event is not None:
            valid.append(event)
            continue
        event = _validate_one(errors, index, raw, slug, now)
        if event is not None:
            valid.append(event)
        if errors.full:
            break
    return valid, errors.items
