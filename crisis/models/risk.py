"""The risk register: what could go wrong in a community, how likely and how bad, who owns
it, what answers it, and every change to it."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crisis.db import Base, UTCDateTime


class Risk(Base):
    """One risk of one community, scored likelihood × impact (each 1 to 5)."""

    __tablename__ = "risks"
    __table_args__ = (Index("ix_risks_community_status", "community_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    likelihood: Mapped[int] = mapped_column(Integer)
    impact: Mapped[int] = mapped_column(Integer)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    # Incident kinds (detectors, alert integrations) and playbook names that answer the risk.
    detectors: Mapped[list[str]] = mapped_column(JSON, default=list)
    playbooks: Mapped[list[str]] = mapped_column(JSON, default=list)
    review_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | retired
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RiskChange(Base):
    """Append-only log of a risk: created, re-scored, edited, reviewed, retired, restored.

    A change made from a postmortem names it, and its incident joins the risk's history."""

    __tablename__ = "risk_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    risk_id: Mapped[int] = mapped_column(ForeignKey("risks.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(16))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    actor: Mapped[str] = mapped_column(String(200), default="")
    postmortem_id: Mapped[int | None] = mapped_column(ForeignKey("postmortems.id", ondelete="SET NULL"),
                                                      nullable=True, index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"), nullable=True,
                                                    index=True)
    # {"likelihood": [before, after], "impact": [...], "title": [...], ...}: only what changed.
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")
