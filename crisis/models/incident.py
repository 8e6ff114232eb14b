"""Incidents, the detector signals and episodes behind them, and their timeline."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crisis.db import Base, UTCDateTime


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        # One incident per detector episode: a replayed or redelivered open is a no-op.
        UniqueConstraint("community_id", "episode_key"),
        Index("ix_incidents_community_status", "community_id", "status"),
        # Raids of other communities near a given time (crisis.campaigns.service).
        Index("ix_incidents_kind_last_signal_at", "kind", "last_signal_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    severity: Mapped[str] = mapped_column(String(8))  # sev1 (worst) .. sev4
    status: Mapped[str] = mapped_column(String(16), default="triggered")
    source: Mapped[str] = mapped_column(String(16), default="detector")  # detector | manual | bridge | alert
    episode_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    playbook_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    playbook_version: Mapped[int | None] = mapped_column(nullable=True)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)  # event time of the opening signal
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when the row was written
    last_signal_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    episode_closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    mitigated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # When retention replaced the members' text in the evidence (samples, reasons) by
    # tombstones: after the postmortem's publication plus the grace period (crisis.retention).
    evidence_expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    signals: Mapped[list[Signal]] = relationship(back_populates="incident", order_by="Signal.id")
    timeline: Mapped[list[TimelineEntry]] = relationship(back_populates="incident", order_by="TimelineEntry.id")


class Signal(Base):
    __tablename__ = "signals"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(8))
    score: Mapped[float] = mapped_column(Float, default=0.0)
    scope: Mapped[str] = mapped_column(String(300), default="")
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime)  # event time
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    incident: Mapped[Incident] = relationship(back_populates="signals")


class IncidentEpisode(Base):
    """A detector episode that joined an incident opened by another episode: a related
    signal (a second raid wave, the mass leave a raid provokes; crisis.response.related
    says which). Its later updates and its close reach the same incident; the incident's
    detector activity lasts while its own episode or any of these is open."""

    __tablename__ = "incident_episodes"
    # One incident per episode, as Incident's own (community_id, episode_key) promises.
    __table_args__ = (UniqueConstraint("community_id", "episode_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    episode_key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(300), default="")
    reason: Mapped[str] = mapped_column(String(32))  # accounts | channel | follows
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # what matched, as counts
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)  # event time of the episode's opening
    last_signal_at: Mapped[datetime] = mapped_column(UTCDateTime)  # event time
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # event time
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TimelineEntry(Base):
    """Append-only history of an incident: who did what, when."""

    __tablename__ = "timeline_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(32))  # signal, status, note, assign, task, notification, ...
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    actor: Mapped[str] = mapped_column(String(200), default="")  # display label: a user, "detector", a link
    message: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    incident: Mapped[Incident] = relationship(back_populates="timeline")
