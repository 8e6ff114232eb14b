"""Activity events as accepted, and the detectors' checkpoint per community."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crisis.db import Base, UTCDateTime


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        # (community, id) is the idempotency key of the ingest API.
        UniqueConstraint("community_id", "event_id"),
        Index("ix_events_community_ts", "community_id", "ts"),
        # The detectors read a community's events after their checkpoint's last_seq, in
        # arrival order. Nothing is written back to an event once stored: "processed" is
        # seq <= DetectorState.last_seq (crisis.pipeline), which holds because the ingest
        # path commits a community's events in seq order (crisis.ingest).
        Index("ix_events_community_seq", "community_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(64))
    ts: Mapped[datetime] = mapped_column(UTCDateTime)  # event time
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)  # arrival time
    actor_id: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


class DetectorState(Base):
    """Checkpoint of one community's detectors, written with the events it consumed."""

    __tablename__ = "detector_states"

    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    last_seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    watermark: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # latest event time seen
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=0)
