"""The audit log: one append-only row per security-relevant act.

No foreign keys on purpose: a row must outlive the user, token or community it names
(an audit trail that cascades away with its subject proves nothing)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from crisis.db import Base, UTCDateTime


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        # The admin page reads one community's rows newest first.
        Index("ix_audit_log_community_at", "community_id", "at"),
        # Rows about a user (logins, personal tokens) are shown to the admins of the user's communities.
        Index("ix_audit_log_subject_at", "subject_user_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    # None for acts that belong to no one community: a login, a personal token, a shared playbook.
    community_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    actor: Mapped[str] = mapped_column(String(200))  # a user's email, "cli (ops)", "playbook", "system"
    actor_user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The user the act concerns (who logged in, whose token, whose role), when it is one.
    subject_user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(300), default="")
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    remote_addr: Mapped[str | None] = mapped_column(String(64), nullable=True)
