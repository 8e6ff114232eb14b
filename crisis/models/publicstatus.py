"""What members are told: the channels into the community itself, the public status page,
each incident's public face (a title of its own and the updates posted to members) and the
cadence timer that reminds the liaison when members have waited too long.

Nothing here points at internal text: the public page and member messages read only these
tables and the incident's status and times."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crisis.db import Base, UTCDateTime


class MemberChannel(Base):
    """A place in the community where members read announcements: an apprise URL
    (matrix://, discord://, tgram://, json://) or a room of a platform link, posted to by
    the bridge's own user."""

    __tablename__ = "member_channels"
    __table_args__ = (UniqueConstraint("community_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # apprise | bridge
    url: Mapped[str] = mapped_column(String(2000), default="")
    link_id: Mapped[int | None] = mapped_column(ForeignKey("platform_links.id", ondelete="CASCADE"), nullable=True)
    room_id: Mapped[str] = mapped_column(String(255), default="")
    language: Mapped[str] = mapped_column(String(8), default="")  # en | zh | "" (the community's)
    disabled: Mapped[bool] = mapped_column(default=False)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:  # the URL often embeds a password or a bot token: never print it
        return f"<MemberChannel {self.id} {self.name!r} {self.kind}>"


class StatusPage(Base):
    """A community's public status page: off until staff turn it on (an unpublished page
    answers 404, like a community that does not exist)."""

    __tablename__ = "status_pages"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"), unique=True)
    enabled: Mapped[bool] = mapped_column(default=False)
    name: Mapped[str] = mapped_column(String(200), default="")  # shown to the public; empty: the community's
    about: Mapped[str] = mapped_column(String(1000), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PublicIncident(Base):
    """An incident's public face, created by its first update to members."""

    __tablename__ = "public_incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), unique=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    hidden: Mapped[bool] = mapped_column(default=False)  # taken off the status page (posted by mistake)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_update_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class PublicUpdate(Base):
    """One update posted to members, with the phase members were shown."""

    __tablename__ = "public_updates"
    __table_args__ = (Index("ix_public_updates_incident", "incident_id", "posted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"), index=True)
    phase: Mapped[str] = mapped_column(String(16))  # investigating | identified | monitoring | resolved
    body: Mapped[str] = mapped_column(Text)
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    posted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)


class MemberUpdateTimer(Base):
    """The playbook's member-update cadence on one incident: the next update is due at
    `due_at`; past it, the liaison is reminded and the timer moves one period on.

    Claimed by a conditional UPDATE on (status, due_at), so a reminder goes out once however
    many sweepers and scheduled jobs race for it."""

    __tablename__ = "member_update_timers"
    __table_args__ = (Index("ix_member_update_timers_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), unique=True)
    every_s: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | stopped
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reminders: Mapped[int] = mapped_column(Integer, default=0)
    last_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
