"""Postmortems of resolved incidents and their action items."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crisis.db import Base, UTCDateTime


class Postmortem(Base):
    """One per incident: draft → in_review → published (then read-only)."""

    __tablename__ = "postmortems"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), unique=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft | in_review | published
    # [{"key": "summary", "title": "Summary", "body": "...", "required": true}, ...] in playbook order.
    sections: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # true_alarm | false_alarm | duplicate; feeds detector precision on the dashboard.
    verdict: Mapped[str | None] = mapped_column(String(16), nullable=True)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"),
                                                        nullable=True)
    playbook_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    playbook_version: Mapped[int | None] = mapped_column(nullable=True)
    # Facts frozen at drafting time: durations in seconds, the incident's times.
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    action_items: Mapped[list[ActionItem]] = relationship(back_populates="postmortem", order_by="ActionItem.id",
                                                          cascade="all, delete-orphan")


class ActionItem(Base):
    __tablename__ = "postmortem_action_items"
    __table_args__ = (
        # The sweeper looks for open items past due that were not yet reported.
        Index("ix_postmortem_action_items_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    postmortem_id: Mapped[int] = mapped_column(ForeignKey("postmortems.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | in_progress | done
    position: Mapped[int] = mapped_column(Integer, default=0)
    overdue_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    postmortem: Mapped[Postmortem] = relationship(back_populates="action_items")
