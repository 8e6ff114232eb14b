"""ORM tables, one module per area; import from here."""
from __future__ import annotations

from crisis.models.activity import ActivityCount, DetectorState, EventBatch, EventId
from crisis.models.alert import AlertGroup, AlertInstance, AlertIntegration
from crisis.models.audit import AuditEntry
from crisis.models.bridge import BridgeTransaction, PlatformAccount, PlatformLink
from crisis.models.campaign import Campaign, CampaignIncident, DetectorBoost
from crisis.models.cases import Case, CaseEvent, MemberMessage
from crisis.models.community import ApiToken, Community, Membership, Role, User
from crisis.models.containment import ContainmentAction, ContainmentMove
from crisis.models.governance import Erasure, RetentionState
from crisis.models.incident import Incident, IncidentEpisode, Signal, TimelineEntry
from crisis.models.moderation import Appeal, ModerationTask, Penalty, RulebookVersion
from crisis.models.oncall import Channel, ContactMethod, Override, Rotation, Schedule
from crisis.models.playbook import PlaybookVersion
from crisis.models.postmortem import ActionItem, Postmortem  # noqa: F401 -- registers the tables
from crisis.models.publicstatus import MemberChannel, MemberUpdateTimer, PublicIncident, PublicUpdate, StatusPage
from crisis.models.response import EscalationTimer, Notification, Responder, Task
from crisis.models.risk import Risk, RiskChange

__all__ = [
    "ActivityCount", "AlertGroup", "AlertInstance", "AlertIntegration", "ApiToken", "Appeal", "AuditEntry",
    "BridgeTransaction", "Campaign", "CampaignIncident", "Case", "CaseEvent", "Channel", "Community", "ContactMethod",
    "ContainmentAction", "ContainmentMove", "DetectorBoost", "DetectorState", "Erasure", "EscalationTimer",
    "EventBatch", "EventId", "Incident", "IncidentEpisode", "MemberChannel", "MemberMessage", "MemberUpdateTimer",
    "Membership", "ModerationTask", "Notification", "Override", "Penalty", "PlatformAccount", "PlatformLink",
    "PlaybookVersion", "PublicIncident", "PublicUpdate", "Responder", "RetentionState", "Risk", "RiskChange", "Role",
    "Rotation", "RulebookVersion", "Schedule", "Signal", "StatusPage", "Task", "TimelineEntry", "User",
]
