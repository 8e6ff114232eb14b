"""Members' complaints and reports as cases, what happened to each, and the messages that
answer members through the channel they came from."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crisis.db import Base, UTCDateTime


class Case(Base):
    """One complaint or report. Reports of the same thing share `subject_key` (the review
    queue shows them as one item); `source_event_id` makes intake from the event log
    idempotent."""

    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("community_id", "source_event_id"),
        Index("ix_cases_queue", "community_id", "status", "subject_key"),
        # The sweeper looks for open cases past their response time not yet reported.
        Index("ix_cases_due", "status", "due_at"),
        Index("ix_cases_reporter", "community_id", "reporter"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16))  # form | ingest | matrix | staff
    source_event_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    subject_kind: Mapped[str] = mapped_column(String(16))  # message | member | feedback
    subject_key: Mapped[str] = mapped_column(String(300))
    subject_member: Mapped[str] = mapped_column(String(255), default="")  # reported member, or the author
    subject_message_id: Mapped[str] = mapped_column(String(200), default="")
    subject_channel: Mapped[str] = mapped_column(String(200), default="")
    subject_link: Mapped[str] = mapped_column(String(500), default="")  # where it lives on the platform
    category: Mapped[str] = mapped_column(String(32))
    rule_id: Mapped[str] = mapped_column(String(64), default="")  # the rule the complainant cites
    details: Mapped[str] = mapped_column(Text, default="")
    reporter: Mapped[str] = mapped_column(String(255), default="")  # platform account, or web:<hash> for the form
    reporter_name: Mapped[str] = mapped_column(String(200), default="")
    reporter_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="new")  # crisis.cases.states
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    overdue_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    outcome: Mapped[str] = mapped_column(Text, default="")  # what the complainant is told
    decided_by: Mapped[str] = mapped_column(String(200), default="")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    penalty_id: Mapped[int | None] = mapped_column(ForeignKey("penalties.id", ondelete="SET NULL"), nullable=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"), nullable=True,
                                                    index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)  # event time (the form: when it was sent)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CaseEvent(Base):
    """Append-only: each change of a case, who made it and why."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(16))  # opened | status | owner | incident | reply
    from_status: Mapped[str] = mapped_column(String(16), default="")
    to_status: Mapped[str] = mapped_column(String(16), default="")
    actor: Mapped[str] = mapped_column(String(200), default="")
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class MemberMessage(Base):
    """A message to one member through the bridge their complaint (or penalty) came by:
    an outbox row, claimed and sent by a job, its direct room kept so a retry reuses it."""

    __tablename__ = "member_messages"
    __table_args__ = (
        UniqueConstraint("cause"),
        Index("ix_member_messages_pending", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"), index=True)
    link_id: Mapped[int | None] = mapped_column(ForeignKey("platform_links.id", ondelete="SET NULL"), nullable=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), nullable=True, index=True)
    penalty_id: Mapped[int | None] = mapped_column(ForeignKey("penalties.id", ondelete="CASCADE"), nullable=True,
                                                   index=True)
    cause: Mapped[str] = mapped_column(String(200))  # the same cause never messages twice
    recipient: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    room_id: Mapped[str] = mapped_column(String(255), default="")
    last_error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
