"""ORM tables, one module per area; import from here."""
from __future__ import annotations

from crisis.models.activity import ActivityCount, DetectorState, EventBatch, EventId
from crisis.models.alert import AlertGroup, AlertInstance, AlertIntegration
from crisis.models.bridge import BridgeTransaction, PlatformAccount, PlatformLink
from crisis.models.campaign import Campaign, CampaignIncident, DetectorBoost
from crisis.models.community import ApiToken, Community, Membership, Role, User
from crisis.models.containment import ContainmentAction, ContainmentMove
from crisis.models.incident import Incident, IncidentEpisode, Signal, TimelineEntry
from crisis.models.oncall import Channel, ContactMethod, Override, Rotation, Schedule
from crisis.models.playbook import PlaybookVersion
from crisis.models.postmortem import ActionItem, Postmortem  # noqa: F401 -- registers the tables
from crisis.models.response import EscalationTimer, Notification, Responder, Task

__all__ = [
    "ActivityCount", "AlertGroup", "AlertInstance", "AlertIntegration", "ApiToken", "BridgeTransaction", "Campaign",
    "CampaignIncident", "Channel", "Community", "ContactMethod", "ContainmentAction", "ContainmentMove",
    "DetectorBoost", "DetectorState", "EscalationTimer", "EventBatch", "EventId", "Incident", "IncidentEpisode",
    "Membership", "Notification",
    "Override", "PlatformAccount", "PlatformLink", "PlaybookVersion", "Responder", "Role", "Rotation",
    "Schedule", "Signal", "Task", "TimelineEntry", "User",
]
