"""Containment actions on incidents, and the record of every move each one made."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crisis.db import Base, UTCDateTime


class ContainmentAction(Base):
    """One platform action, for one incident or for one penalty (crisis.moderation: no
    incident then), and the outbox row its job carries out.

    `targets` is the previewed list, one entry per account (or room) with its own outcome,
    so a retry skips what is done and a release can let one account go. `receipt` is what
    the platform held before the change, written before the change is made: undo puts that
    back, not a default."""

    __tablename__ = "containment_actions"
    __table_args__ = (
        Index("ix_containment_actions_due", "status", "next_attempt_at"),
        Index("ix_containment_actions_expiry", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), nullable=True,
                                                    index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="proposed")
    executor: Mapped[str] = mapped_column(String(16))  # matrix | manual
    link_id: Mapped[int | None] = mapped_column(ForeignKey("platform_links.id", ondelete="SET NULL"), nullable=True)
    step_id: Mapped[str] = mapped_column(String(64), default="")  # the playbook step that proposed it, if any
    reason: Mapped[str] = mapped_column(String(250), default="")  # shown on the platform; "" = the incident's title
    approve_role: Mapped[str] = mapped_column(String(16))  # the least role that may approve (kind or playbook)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rooms: Mapped[list[str]] = mapped_column(JSON, default=list)  # platform room ids
    targets: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    excluded: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # {account, why}
    receipt: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # {} until prepared
    expires_after_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    proposed_by: Mapped[str] = mapped_column(String(200), default="")
    approved_by: Mapped[str] = mapped_column(String(200), default="")
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    reverted_by: Mapped[str] = mapped_column(String(200), default="")
    task_id: Mapped[int | None] = mapped_column(ForeignKey("incident_tasks.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reverted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ContainmentMove(Base):
    """Append-only: each status change of an action, who made it and why."""

    __tablename__ = "containment_moves"

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("containment_actions.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(200), default="")
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime)
