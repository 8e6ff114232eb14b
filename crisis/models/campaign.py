"""Campaigns: raids of several communities by the same accounts, content or links, and
the raised raid sensitivity they give the communities that opted in."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crisis.db import Base, UTCDateTime


class Campaign(Base):
    """Incidents of different communities linked by crisis.campaigns.match. Its times are
    event times (the detectors'), so a replay of the same streams builds the same campaign."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)  # earliest linked incident's opening
    last_signal_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # latest linked signal
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    links: Mapped[list[CampaignIncident]] = relationship(back_populates="campaign", order_by="CampaignIncident.id",
                                                         cascade="all, delete-orphan")


class CampaignIncident(Base):
    """One incident's place in a campaign and what tied it there, as counts only: the
    accounts or text themselves stay on the incidents, behind their communities' walls."""

    __tablename__ = "campaign_incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), unique=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"), index=True)
    # The incident it matched when it joined (None for the first one, or once that one is gone).
    matched_incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"),
                                                            nullable=True)
    matched: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # {"accounts": n, "fingerprints": n, ...}
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime)

    campaign: Mapped[Campaign] = relationship(back_populates="links")


class DetectorBoost(Base):
    """Event-time windows in which a community's raid detector runs at its opted-in
    campaign sensitivity, written by crisis.campaigns.boosts when a campaign hits a sibling
    community and read with the settings at the community's next drain. Kept apart from
    Community.settings so a person saving settings and a campaign update never overwrite
    each other's half."""

    __tablename__ = "detector_boosts"

    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True)
    windows: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # [{start, end, campaign_id}]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
