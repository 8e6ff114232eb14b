"""What the engine keeps per incident: responders, tasks, the escalation timer, notifications."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crisis.db import Base, UTCDateTime


class Responder(Base):
    """A person working an incident, in a playbook role (commander, cleaner, liaison, ...)."""

    __tablename__ = "incident_responders"
    __table_args__ = (UniqueConstraint("incident_id", "user_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Task(Base):
    """One playbook step on one incident."""

    __tablename__ = "incident_tasks"
    __table_args__ = (
        UniqueConstraint("incident_id", "step_id"),
        # The sweeper looks for open tasks past due that were not yet reported.
        Index("ix_incident_tasks_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    step_id: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(300))
    instructions: Mapped[str] = mapped_column(Text, default="")
    owner_role: Mapped[str] = mapped_column(String(64), default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    required: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | done | skipped
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    overdue_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EscalationTimer(Base):
    """The pending escalation step of one incident: fire `level` of round `round` at `due_at`.

    Claimed by a conditional UPDATE on (status, level, round, due_at), so each step fires
    exactly once however many sweepers and scheduled jobs race for it."""

    __tablename__ = "escalation_timers"
    __table_args__ = (Index("ix_escalation_timers_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), unique=True)
    # The escalation section of the pinned playbook version, copied at open.
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    level: Mapped[int] = mapped_column(Integer, default=0)  # index of the next level to fire
    round: Mapped[int] = mapped_column(Integer, default=0)  # 0 = first pass, then repeats
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | stopped | exhausted
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    fired_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When this round of escalation started (arm): its pages are the notifications since.
    armed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Set when escalation ended without delivering a page to anyone (crisis.notify.unreached);
    # cleared when it is armed again. The count never goes down: it feeds a Prometheus counter.
    unreached_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    unreached_count: Mapped[int] = mapped_column(Integer, default=0)


class Notification(Base):
    """One message to one destination, written with its cause and delivered by a job."""

    __tablename__ = "notifications"
    __table_args__ = (
        # The same cause never notifies the same destination twice.
        UniqueConstraint("cause", "destination"),
        Index("ix_notifications_pending", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"), index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"),
                                                    nullable=True, index=True)
    event: Mapped[str] = mapped_column(String(32))  # opened, escalated, task_overdue, status_update, ...
    cause: Mapped[str] = mapped_column(String(200))
    destination: Mapped[str] = mapped_column(String(32))  # "cm:<id>", "ch:<id>" or "mc:<id>"
    recipient_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    contact_method_id: Mapped[int | None] = mapped_column(ForeignKey("contact_methods.id", ondelete="SET NULL"),
                                                          nullable=True)
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id", ondelete="SET NULL"), nullable=True)
    # Announcements to members go to member channels only (crisis.publicstatus), never staff ones.
    member_channel_id: Mapped[int | None] = mapped_column(ForeignKey("member_channels.id", ondelete="SET NULL"),
                                                          nullable=True)
    recipient_label: Mapped[str] = mapped_column(String(300), default="")
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=6)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
