"""A community's rules (versioned), the penalties applied under them, appeals, and the
moderation tasks a person carries out where no bridge can."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crisis.db import Base, UTCDateTime


class RulebookVersion(Base):
    """One immutable version of one community's rules, like a playbook version: penalties
    pin (version, rule id), so an edit never changes what a member was penalised under."""

    __tablename__ = "rulebook_versions"
    __table_args__ = (UniqueConstraint("community_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    # sha256 of the canonical JSON of the validated rules (the version number left out).
    content_hash: Mapped[str] = mapped_column(String(64))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    source_text: Mapped[str] = mapped_column(Text, default="")
    origin: Mapped[str] = mapped_column(String(16), default="file")  # file | default | web | api
    comment: Mapped[str] = mapped_column(String(500), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Penalty(Base):
    """One penalty on one member (a platform account) under one rule.

    `level` is the step of the rule's ladder it took (repeat offences climb it);
    `action_id` is the containment action carrying it out (on the platform through a
    bridge, or as a task for a person), None for a warning."""

    __tablename__ = "penalties"
    __table_args__ = (
        Index("ix_penalties_member", "community_id", "member"),
        # The sweeper looks for active penalties whose expiry has come.
        Index("ix_penalties_expiry", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    member: Mapped[str] = mapped_column(String(255))  # the platform account id
    rulebook_version: Mapped[int] = mapped_column(Integer)
    rule_id: Mapped[str] = mapped_column(String(64))
    rule_title: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # {en, zh} as it read then
    level: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(16))  # warn | mute | remove | ban
    duration_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="active")  # crisis.moderation.states
    note: Mapped[str] = mapped_column(Text, default="")
    applied_by: Mapped[str] = mapped_column(String(200), default="")
    applied_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    action_id: Mapped[int | None] = mapped_column(ForeignKey("containment_actions.id", ondelete="SET NULL"),
                                                  nullable=True)
    enforcement: Mapped[str] = mapped_column(String(300), default="")  # how it is carried out, or why not
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("penalties.id", ondelete="SET NULL"), nullable=True)


class Appeal(Base):
    """A member's (or staff's, on their behalf) request to review a penalty, and its decision."""

    __tablename__ = "appeals"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"), index=True)
    penalty_id: Mapped[int] = mapped_column(ForeignKey("penalties.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | upheld | reduced | lifted
    text: Mapped[str] = mapped_column(Text, default="")
    filed_by: Mapped[str] = mapped_column(String(200), default="")  # "member", or the staff member's name
    filed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decision_note: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str] = mapped_column(String(200), default="")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reduced_to_id: Mapped[int | None] = mapped_column(ForeignKey("penalties.id", ondelete="SET NULL"), nullable=True)


class ModerationTask(Base):
    """Work for a person outside any incident: a penalty's action with no bridge to carry
    it out (or one the platform refused), and its undo when it expires."""

    __tablename__ = "moderation_tasks"
    __table_args__ = (Index("ix_moderation_tasks_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"), index=True)
    action_id: Mapped[int | None] = mapped_column(ForeignKey("containment_actions.id", ondelete="CASCADE"),
                                                  nullable=True, index=True)
    title: Mapped[str] = mapped_column(String(300))
    instructions: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | done
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    overdue_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
