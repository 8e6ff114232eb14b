"""Alert intake: a community's integrations (Alertmanager, PagerDuty-style, generic webhooks),
the alert groups they report, and each alert of a group keyed by its fingerprint."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crisis.db import Base, UTCDateTime


class AlertIntegration(Base):
    """Where one alert source posts. Its key is stored as a SHA-256 only and shown once."""

    __tablename__ = "alert_integrations"
    __table_args__ = (UniqueConstraint("community_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # alertmanager | pagerduty | webhook
    name: Mapped[str] = mapped_column(String(64))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_hint: Mapped[str] = mapped_column(String(12), default="")  # the key's last characters, to tell keys apart
    incident_kind: Mapped[str] = mapped_column(String(64), default="alert")
    default_severity: Mapped[str] = mapped_column(String(8), default="sev3")
    playbook: Mapped[str | None] = mapped_column(String(100), nullable=True)  # None: chosen by kind and severity
    severity_label: Mapped[str] = mapped_column(String(100), default="severity")
    severity_map: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # sender's value -> sev1..sev4
    field_paths: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # webhook: title, severity, ...
    auto_resolve: Mapped[bool] = mapped_column(Boolean, default=True)
    reopen_within_s: Mapped[int] = mapped_column(Integer, default=1800)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Touched at most once a minute: a busy sender must not serialize on this row.
    last_received_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class AlertGroup(Base):
    """One Alertmanager group (groupKey) or PagerDuty dedup_key, and the incident it feeds.

    `generation` counts the incidents the group opened: a group that fires again after its
    quiet period opens a new incident (episode key ...:<generation>)."""

    __tablename__ = "alert_groups"
    __table_args__ = (UniqueConstraint("integration_id", "key_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("alert_integrations.id", ondelete="CASCADE"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of group_key: group keys have no length limit
    group_key: Mapped[str] = mapped_column(Text)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"), nullable=True,
                                                    index=True)
    status: Mapped[str] = mapped_column(String(16), default="firing")  # firing | resolved
    generation: Mapped[int] = mapped_column(Integer, default=0)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_notified_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    notifications: Mapped[int] = mapped_column(Integer, default=0)


class AlertInstance(Base):
    """One alert of a group as its sender last described it."""

    __tablename__ = "alert_instances"
    __table_args__ = (UniqueConstraint("group_id", "fingerprint"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("alert_groups.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))  # firing | resolved
    labels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    annotations: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    url: Mapped[str] = mapped_column(Text, default="")
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
