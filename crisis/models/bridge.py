"""Platform links: a community's connection to its chat platform, the transactions the
platform pushed, and what the bridge learned of each account."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crisis.db import Base, UTCDateTime


class PlatformLink(Base):
    """One community's link to one platform endpoint (a Matrix homeserver, ...).

    Secrets: the token the platform presents to crisis (Matrix's hs_token) is stored as its
    SHA-256 only; the tokens crisis presents to the platform (as_token, an optional server
    admin token) must be usable, so they are encrypted with a key derived from the secret key."""

    __tablename__ = "platform_links"
    __table_args__ = (UniqueConstraint("community_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(16))  # matrix
    name: Mapped[str] = mapped_column(String(64))
    endpoint: Mapped[str] = mapped_column(String(500))  # the homeserver's client-server API base URL
    service_id: Mapped[str] = mapped_column(String(64), unique=True)  # Matrix: the registration's id
    sender: Mapped[str] = mapped_column(String(255))  # Matrix: @crisis_<slug>:server, the bridge's own user
    inbound_token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # Matrix: hs_token
    outbound_token: Mapped[str] = mapped_column(Text)  # encrypted; Matrix: as_token
    admin_token: Mapped[str | None] = mapped_column(Text, nullable=True)  # encrypted; server admin (account ages)
    rooms: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # platform room id -> crisis channel name
    # Health: a link that stops delivering must not look like a quiet community.
    silence_after_s: Mapped[int] = mapped_column(Integer, default=3600)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_transaction_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    events_received: Mapped[int] = mapped_column(Integer, default=0)
    events_skipped: Mapped[int] = mapped_column(Integer, default=0)
    silent_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # set once alerted
    reports_cursor: Mapped[int] = mapped_column(Integer, default=0)  # the last admin-API report id stored
    disabled: Mapped[bool] = mapped_column(default=False)


class BridgeTransaction(Base):
    """A transaction the platform pushed, kept so a retry with the same id stores nothing twice."""

    __tablename__ = "bridge_transactions"

    link_id: Mapped[int] = mapped_column(ForeignKey("platform_links.id", ondelete="CASCADE"), primary_key=True)
    txn_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    events: Mapped[int] = mapped_column(Integer, default=0)
    stored: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class PlatformAccount(Base):
    """What the platform told the bridge about an account (cached: raid detection needs ages)."""

    __tablename__ = "platform_accounts"

    link_id: Mapped[int] = mapped_column(ForeignKey("platform_links.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime)
