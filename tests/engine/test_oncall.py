from __future__ import annotations

from datetime import datetime, timezone

from crisis.models import Override, Rotation, Schedule
from crisis.tenancy import oncall

UTC = timezone.utc


def schedule(tz: str, *rotations: Rotation, overrides: tuple[Override, ...] = ()) -> Schedule:
    return Schedule(id=1, community_id=1, name="s", timezone=tz, rotations=list(rotations), overrides=list(overrides))


def rotation(participants: list[int], shift_hours: int, handoff: str, start: str, rid: int = 1) -> Rotation:
    return Rotation(id=rid, participants=participants, shift_hours=shift_hours, handoff_time=handoff, start_date=start)


def who(s: Schedule, at: datetime) -> list[int]:
    return [shift.user_id for shift in oncall.on_call(s, at)]


def test_it_hands_off_at_local_time_across_a_dst_change() -> None:
    # Berlin leaves summer time on 2026-10-25; the 09:00 hand-off stays at 09:00 local.
    s = schedule("Europe/Berlin", rotation([1, 2, 3], 24, "09:00", "2026-10-23"))
    assert who(s, datetime(2026, 10, 24, 6, 59, tzinfo=UTC)) == [1]  # 08:59 CEST
    assert who(s, datetime(2026, 10, 24, 7, 0, tzinfo=UTC)) == [2]  # 09:00 CEST
    assert who(s, datetime(2026, 10, 25, 7, 59, tzinfo=UTC)) == [2]  # 08:59 CET, after the change
    assert who(s, datetime(2026, 10, 25, 8, 0, tzinfo=UTC)) == [3]  # 09:00 CET
    [shift] = oncall.on_call(s, datetime(2026, 10, 24, 12, 0, tzinfo=UTC))
    assert (shift.end - shift.start).total_seconds() == 25 * 3600  # the long day of the change


def test_it_computes_the_same_instant_in_different_zones() -> None:
    shanghai = schedule("Asia/Shanghai", rotation([1, 2], 12, "08:00", "2026-10-01"))
    # 08:00 and 20:00 in Shanghai are 00:00 and 12:00 UTC.
    assert who(shanghai, datetime(2026, 10, 1, 0, 0, tzinfo=UTC)) == [1]
    assert who(shanghai, datetime(2026, 10, 1, 11, 59, tzinfo=UTC)) == [1]
    assert who(shanghai, datetime(2026, 10, 1, 12, 0, tzinfo=UTC)) == [2]
    assert who(shanghai, datetime(2026, 10, 2, 0, 0, tzinfo=UTC)) == [1]
    new_york = schedule("America/New_York", rotation([1, 2], 12, "08:00", "2026-10-01"))
    assert who(new_york, datetime(2026, 10, 1, 11, 59, tzinfo=UTC)) == []  # 07:59 EDT: not started yet
    assert who(new_york, datetime(2026, 10, 1, 12, 0, tzinfo=UTC)) == [1]


def test_it_rotates_weekly_and_wraps_around() -> None:
    s = schedule("UTC", rotation([7, 8, 9], 168, "10:00", "2026-09-07"))
    assert who(s, datetime(2026, 9, 14, 9, 59, tzinfo=UTC)) == [7]
    assert who(s, datetime(2026, 9, 14, 10, 0, tzinfo=UTC)) == [8]
    assert who(s, datetime(2026, 9, 28, 10, 0, tzinfo=UTC)) == [7]


def test_it_lets_overrides_replace_the_rotation() -> None:
    override = Override(id=5, user_id=42, starts_at=datetime(2026, 10, 2, 0, 0, tzinfo=UTC),
                        ends_at=datetime(2026, 10, 2, 6, 0, tzinfo=UTC))
    s = schedule("UTC", rotation([1], 24, "00:00", "2026-10-01"), overrides=(override,))
    assert who(s, datetime(2026, 10, 2, 5, 59, tzinfo=UTC)) == [42]
    assert who(s, datetime(2026, 10, 2, 6, 0, tzinfo=UTC)) == [1]


def test_it_unions_layers_without_duplicates_and_lists_upcoming_shifts() -> None:
    s = schedule("UTC", rotation([1, 2], 24, "00:00", "2026-10-01", rid=1),
                 rotation([2], 168, "00:00", "2026-10-01", rid=2))
    assert who(s, datetime(2026, 10, 2, 1, 0, tzinfo=UTC)) == [2]
    assert who(s, datetime(2026, 10, 1, 1, 0, tzinfo=UTC)) == [1, 2]
    upcoming = oncall.upcoming(schedule("UTC", rotation([1, 2], 24, "00:00", "2026-10-01")),
                               datetime(2026, 10, 1, 12, tzinfo=UTC), datetime(2026, 10, 4, tzinfo=UTC))
    assert [(u.user_id, u.start.day) for u in upcoming] == [(1, 1), (2, 2), (1, 3)]
