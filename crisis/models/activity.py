"""Activity events as accepted (a batch log), their counts per minute, and the detectors'
checkpoint per community."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from crisis.db import Base, UTCDateTime


class EventBatch(Base):
    """One ingest request's accepted events, as one row: a compressed batch log.

    A row per event cost PostgreSQL four index insertions and a JSON conversion per
    event, and the detectors only ever read a community's events in arrival order. The
    body is the request's validated events (zlib-compressed JSON array); `fresh` names the
    ones this request stored when some were duplicates (NULL: all of them).
    """

    __tablename__ = "event_batches"
    __table_args__ = (
        # The detectors read a community's batches after their checkpoint's last_seq.
        # Ingest commits one community's batches in seq order (crisis.ingest), so
        # nothing commits behind that watermark.
        Index("ix_event_batches_community_seq", "community_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    count: Mapped[int] = mapped_column(Integer)  # events accepted, i.e. len(fresh) or all
    fresh: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)


class EventId(Base):
    """The ingest API's idempotency key: every (community, event id) ever accepted.

    No foreign key to communities: its check ran once per row, a hundred per request,
    each locking the community row (FOR KEY SHARE), and with concurrent writers that cost
    PostgreSQL more than the inserts themselves (migration 0007). The ids are written
    only beside their batch row in the same statement, whose own foreign key guards the
    community, and a trigger on communities deletes them with it.
    """

    __tablename__ = "event_ids"

    community_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(200), primary_key=True)


class ActivityCount(Base):
    """Events per minute of event time by type: what the charts read, summed by the
    detect drain that consumed them (crisis.insight.activity.record)."""

    __tablename__ = "activity_counts"

    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True)
    minute: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    type: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class DetectorState(Base):
    """Checkpoint of one community's detectors, written with the events it consumed."""

    __tablename__ = "detector_states"

    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    last_seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    watermark: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # latest event time seen
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=0)
