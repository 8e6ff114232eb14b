"""Who is on call: rotations in a schedule's time zone, and overrides on top.

Shifts are measured in local wall-clock time from the first hand-off, so a rotation
that hands off at 09:00 keeps handing off at 09:00 local across DST changes (a shift
spanning the change is an hour shorter or longer in real time)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.clock import Clock, utc
from crisis.models import Community, Membership, Override, Rotation, Schedule

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
MAX_SHIFT_HOURS = 24 * 28


class ScheduleError(ValueError):
    """Bad schedule input; the message names the field."""


@dataclass(frozen=True)
class Shift:
    user_id: int
    start: datetime  # UTC
    end: datetime  # UTC
    rotation_id: int | None = None
    override_id: int | None = None


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"timezone: {name!r} is not an IANA time zone (e.g. Europe/Berlin)") from None


def _first_handoff(rotation: Rotation) -> datetime:
    hour, minute = (int(p) for p in rotation.handoff_time.split(":"))
    return datetime.combine(date.fromisoformat(rotation.start_date), time(hour, minute))


def _to_utc(local_naive: datetime, tz: ZoneInfo) -> datetime:
    return local_naive.replace(tzinfo=tz).astimezone(timezone.utc)


def rotation_shift(rotation: Rotation, tz: ZoneInfo, at: datetime) -> Shift | None:
    """The shift of `rotation` covering instant `at`; None before it starts or when empty."""
    if not rotation.participants:
        return None
    local = utc(at).astimezone(tz).replace(tzinfo=None)
    start = _first_handoff(rotation)
    if local < start:
        return None
    length = timedelta(hours=rotation.shift_hours)
    index = (local - start) // length
    shift_start = start + index * length
    user_id = rotation.participants[index % len(rotation.participants)]
    return Shift(user_id, _to_utc(shift_start, tz), _to_utc(shift_start + length, tz), rotation_id=rotation.id)


def on_call(schedule: Schedule, at: datetime) -> list[Shift]:
    """Overrides active at `at` replace the rotations; otherwise every rotation's current shift."""
    active = [o for o in schedule.overrides if o.starts_at <= at < o.ends_at]
    if active:
        return [Shift(o.user_id, o.starts_at, o.ends_at, override_id=o.id) for o in active]
    tz = zone(schedule.timezone)
    shifts = [s for s in (rotation_shift(r, tz, at) for r in schedule.rotations) if s is not None]
    seen: set[int] = set()
    return [s for s in shifts if not (s.user_id in seen or seen.add(s.user_id))]  # type: ignore[func-returns-value]


def upcoming(schedule: Schedule, start: datetime, end: datetime, *, limit: int = 50) -> list[Shift]:
    """The final schedule between two instants: who is on call, shift by shift."""
    out: list[Shift] = []
    at = start
    while at < end and len(out) < limit:
        now_on = on_call(schedule, at)
        if not now_on:
            break
        out.extend(s for s in now_on if s not in out)
        at = min(s.end for s in now_on)
    return out


def find_schedule(session: Session, community_id: int, name: str) -> Schedule | None:
    return session.scalar(select(Schedule).where(Schedule.community_id == community_id, Schedule.name == name))


def _members(session: Session, community_id: int) -> set[int]:
    return set(session.scalars(select(Membership.user_id).where(Membership.community_id == community_id)))


def _rotation(raw: dict[str, Any], where: str, members: set[int]) -> Rotation:
    participants = raw.get("participants")
    if not isinstance(participants, list) or not participants or not all(isinstance(p, int) for p in participants):
        raise ScheduleError(f"{where}.participants: must be a non-empty list of user ids")
    strangers = [p for p in participants if p not in members]
    if strangers:
        raise ScheduleError(f"{where}.participants: users {strangers} are not staff of this community")
    shift = raw.get("shift_hours", 168)
    if not isinstance(shift, int) or isinstance(shift, bool) or not 1 <= shift <= MAX_SHIFT_HOURS:
        raise ScheduleError(f"{where}.shift_hours: must be an integer from 1 to {MAX_SHIFT_HOURS}")
    handoff = raw.get("handoff_time", "09:00")
    if not isinstance(handoff, str) or not _HHMM.match(handoff):
        raise ScheduleError(f"{where}.handoff_time: {handoff!r} must be HH:MM (24-hour, local time)")
    start = raw.get("start_date")
    try:
        date.fromisoformat(str(start))
    except ValueError:
        raise ScheduleError(f"{where}.start_date: {start!r} must be a date YYYY-MM-DD (local)") from None
    return Rotation(name=str(raw.get("name", ""))[:100], participants=participants, shift_hours=shift,
                    handoff_time=handoff, start_date=str(start))


def create_schedule(session: Session, community: Community, *, name: str, timezone_name: str,
                    rotations: list[dict[str, Any]], clock: Clock) -> Schedule:
    if not name or len(name) > 100:
        raise ScheduleError("name: must be 1 to 100 characters")
    zone(timezone_name)
    if find_schedule(session, community.id, name) is not None:
        raise ScheduleError(f"name: community {community.slug} already has a schedule {name!r}")
    if not isinstance(rotations, list) or not rotations:
        raise ScheduleError("rotations: must be a non-empty list")
    members = _members(session, community.id)
    built = [_rotation(r if isinstance(r, dict) else {}, f"rotations[{i}]", members) for i, r in enumerate(rotations)]
    schedule = Schedule(community_id=community.id, name=name, timezone=timezone_name, created_at=clock.now(),
                        rotations=built)
    session.add(schedule)
    session.flush()
    return schedule


def add_override(session: Session, schedule: Schedule, *, user_id: int, starts_at: datetime, ends_at: datetime,
                 clock: Clock) -> Override:
    if user_id not in _members(session, schedule.community_id):
        raise ScheduleError(f"user_id: user {user_id} is not staff of this community")
    if ends_at <= starts_at:
        raise ScheduleError("ends_at: must be after starts_at")
    override = Override(schedule_id=schedule.id, user_id=user_id, starts_at=starts_at, ends_at=ends_at,
                        created_at=clock.now())
    session.add(override)
    session.flush()
    session.refresh(schedule)
    return override
