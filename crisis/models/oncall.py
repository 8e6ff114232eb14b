"""On-call schedules, rotations, overrides; staff contact methods and community channels."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crisis.db import Base, UTCDateTime


class Schedule(Base):
    __tablename__ = "schedules"
    __table_args__ = (UniqueConstraint("community_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    rotations: Mapped[list[Rotation]] = relationship(back_populates="schedule", order_by="Rotation.id",
                                                     cascade="all, delete-orphan")
    overrides: Mapped[list[Override]] = relationship(back_populates="schedule", order_by="Override.id",
                                                     cascade="all, delete-orphan")


class Rotation(Base):
    """Participants take turns of `shift_hours`, handing off at `handoff_time` local time.

    `start_date` is the local date of the first hand-off; the schedule's time zone turns
    it into instants, so a 24 h shift hands off at 09:00 local across DST changes."""

    __tablename__ = "rotations"

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    participants: Mapped[list[int]] = mapped_column(JSON, default=list)  # user ids, in turn order
    shift_hours: Mapped[int] = mapped_column(Integer, default=168)
    handoff_time: Mapped[str] = mapped_column(String(5), default="09:00")  # HH:MM local
    start_date: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD local

    schedule: Mapped[Schedule] = relationship(back_populates="rotations")


class Override(Base):
    """`user_id` is on call instead of the rotation between the two instants."""

    __tablename__ = "schedule_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    schedule: Mapped[Schedule] = relationship(back_populates="overrides")


class ContactMethod(Base):
    """How to reach one staff member: an apprise URL (email, Telegram, Discord DM, webhook...)."""

    __tablename__ = "contact_methods"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    url: Mapped[str] = mapped_column(String(2000))
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:  # the URL often embeds a token: never print it
        return f"<ContactMethod {self.id} user={self.user_id} {self.label!r}>"


class Channel(Base):
    """A community-wide destination: stakeholders, the mod team, a log."""

    __tablename__ = "channels"
    __table_args__ = (UniqueConstraint("community_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    purpose: Mapped[str] = mapped_column(String(32), default="team")  # team | stakeholders | log
    url: Mapped[str] = mapped_column(String(2000))
    disabled: Mapped[bool] = mapped_column(default=False)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<Channel {self.id} {self.name!r} purpose={self.purpose}>"
