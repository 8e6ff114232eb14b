"""Data governance: each community's retention run, and the erasures of members asked for."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from crisis.db import Base, UTCDateTime

_SEQ = BigInteger().with_variant(Integer, "sqlite")


class RetentionState(Base):
    """When a community's retention runs next, where an interrupted run stands, and what
    retention removed so far (the counts the dashboard still shows once the rows are gone).

    Claimed by a conditional UPDATE on next_run_at, so one worker runs it at a time."""

    __tablename__ = "retention_state"

    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The last batch seq an unfinished run looked at: the next job resumes after it (0: from the start).
    cursor_seq: Mapped[int] = mapped_column(_SEQ, default=0)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    batches_deleted: Mapped[int] = mapped_column(_SEQ, default=0)
    events_deleted: Mapped[int] = mapped_column(_SEQ, default=0)
    evidence_expired: Mapped[int] = mapped_column(Integer, default=0)
    # The last finished run: {cutoff, batches, events, incidents, seconds, transactions, max_transaction_ms, held}.
    last_run: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Erasure(Base):
    """One member's erasure from one community: the request and the job's progress.

    `subject` and `needles` (the member's id, names and texts, found in the first pass) are
    what the job needs to find the member; they are cleared when it is done, so afterwards
    the row holds only the tombstone that replaced the member and the counts."""

    __tablename__ = "erasures"
    __table_args__ = (Index("ix_erasures_status", "status", "claimed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="requested")
    phase: Mapped[str] = mapped_column(String(16), default="collect")
    tombstone: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(255), nullable=True)
    needles: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    cursor_seq: Mapped[int] = mapped_column(_SEQ, default=0)
    high_seq: Mapped[int] = mapped_column(_SEQ, default=0)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    requested_by: Mapped[str] = mapped_column(String(200), default="")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    remote_addr: Mapped[str] = mapped_column(String(64), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
