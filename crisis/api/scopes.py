"""Which token scope each API route needs: one table, checked where the token is (crisis.api.
staff.current_user for personal tokens, crisis.api.ingest for ingest tokens).

A route missing from the table needs `admin`, so a new route is closed until someone
decides otherwise (tests/test_token_scopes.py lists any route not named here)."""
from __future__ import annotations

from crisis.tenancy.tokens import ADMIN

READ_INCIDENTS, WRITE_INCIDENTS = "incidents:read", "incidents:write"
READ_ONCALL, WRITE_ONCALL = "oncall:read", "oncall:write"
READ_SETTINGS = "settings:read"

BY_ENDPOINT: dict[str, str] = {
    # Moderation, cases, risks, members' updates and campaigns (issue 19, 18): reading is incidents:read,
    # acting on a case/penalty/risk incidents:write; configuring where members hear from us and publishing
    # rules stays admin.
    "api_campaigns.get_campaign": READ_INCIDENTS,
    "api_campaigns.list_campaigns": READ_INCIDENTS,
    "api_cases.get_case": READ_INCIDENTS,
    "api_cases.incident_cases": READ_INCIDENTS,
    "api_cases.list_cases": READ_INCIDENTS,
    "api_cases.queue": READ_INCIDENTS,
    "api_members.get_public": READ_INCIDENTS,
    "api_members.list_channels": READ_INCIDENTS,
    "api_members.get_status_page": READ_INCIDENTS,
    "api_penalties.get_penalty": READ_INCIDENTS,
    "api_penalties.member_record": READ_INCIDENTS,
    "api_penalties.open_appeals": READ_INCIDENTS,
    "api_penalties.open_tasks": READ_INCIDENTS,
    "api_penalties.preview": READ_INCIDENTS,
    "api_risks.get_risk": READ_INCIDENTS,
    "api_risks.list_risks": READ_INCIDENTS,
    "api_rules.current": READ_INCIDENTS,
    "api_rules.versions": READ_INCIDENTS,
    "api_cases.decide_item": WRITE_INCIDENTS,
    "api_cases.decide_one": WRITE_INCIDENTS,
    "api_cases.file_case": WRITE_INCIDENTS,
    "api_cases.triage": WRITE_INCIDENTS,
    "api_members.update_public": WRITE_INCIDENTS,
    "api_penalties.apply": WRITE_INCIDENTS,
    "api_penalties.approve": WRITE_INCIDENTS,
    "api_penalties.decide": WRITE_INCIDENTS,
    "api_penalties.file_appeal": WRITE_INCIDENTS,
    "api_penalties.task_done": WRITE_INCIDENTS,
    "api_risks.create_risk": WRITE_INCIDENTS,
    "api_risks.review_risk": WRITE_INCIDENTS,
    "api_risks.update_risk": WRITE_INCIDENTS,
    "api_members.add_channel": ADMIN,
    "api_members.delete_channel": ADMIN,
    "api_members.test_channel": ADMIN,
    "api_members.update_channel": ADMIN,
    "api_members.put_status_page": ADMIN,
    "api_rules.publish": ADMIN,
    "ingest.post_events": "events:write",
    "api_incidents.list_incidents": READ_INCIDENTS,
    "api_incidents.get_incident": READ_INCIDENTS,
    "api_incidents.list_tasks": READ_INCIDENTS,
    "api_incidents.list_notifications": READ_INCIDENTS,
    "api_containment.list_actions": READ_INCIDENTS,
    "api_containment.get_action": READ_INCIDENTS,
    "api_containment.preview": READ_INCIDENTS,
    "api_incidents.open_incident": WRITE_INCIDENTS,
    "api_incidents.move": WRITE_INCIDENTS,
    "api_incidents.assign": WRITE_INCIDENTS,
    "api_incidents.add_note": WRITE_INCIDENTS,
    "api_incidents.severity": WRITE_INCIDENTS,
    "api_incidents.update_task": WRITE_INCIDENTS,
    "api_incidents.post_update": WRITE_INCIDENTS,
    "api_containment.propose": WRITE_INCIDENTS,
    "api_containment.act": WRITE_INCIDENTS,
    "api_oncall.list_schedules": READ_ONCALL,
    "api_oncall.get_schedule": READ_ONCALL,
    "api_oncall.who_is_on_call": READ_ONCALL,
    "api_oncall.list_contact_methods": READ_ONCALL,
    "api_oncall.create_schedule": WRITE_ONCALL,
    "api_oncall.add_override": WRITE_ONCALL,
    "api_oncall.add_contact_method": WRITE_ONCALL,
    "api_oncall.delete_contact_method": WRITE_ONCALL,
    "settings.get_settings": READ_SETTINGS,
    "api_channels.list_channels": READ_SETTINGS,
    "api_links.list_links": READ_SETTINGS,
    "api_integrations.list_integrations": READ_SETTINGS,
    "api_playbooks.list_playbooks": READ_SETTINGS,
    "api_playbooks.list_versions": READ_SETTINGS,
    "api_playbooks.get_version": READ_SETTINGS,
    "api_playbooks.diff": READ_SETTINGS,
    "settings.patch_settings": ADMIN,
    "api_channels.add_channel": ADMIN,
    "api_channels.delete_channel": ADMIN,
    "api_links.add_link": ADMIN,
    "api_integrations.add_integration": ADMIN,
    "api_integrations.rotate_key": ADMIN,
    "api_playbooks.create_version": ADMIN,
    "api_audit.list_entries": ADMIN,
    "api_audit.export_entries": ADMIN,
    # Members' data: reading what retention did, erasing a member and exporting are all admin's.
    "api_data.get_retention": ADMIN,
    "api_data.list_erasures": ADMIN,
    "api_data.get_erasure": ADMIN,
    "api_data.post_erasure": ADMIN,
    "api_data.export": ADMIN,
}


def needed(endpoint: str | None) -> str:
    return BY_ENDPOINT.get(endpoint or "", ADMIN)
