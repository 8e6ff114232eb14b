from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.clock import FixedClock
from crisis.models import Incident, TimelineEntry
from crisis.response.states import ACTIONS, TRANSITIONS, IncidentStatus
from tests.engine.conftest import World, auth
from tests.engine.helpers import HttpReceiver
from tests.engine.openapi_check import check


def call(client: FlaskClient, method: str, path: str, who: str | None, world: World, body: Any = None,
         status: int | None = None) -> Any:
    headers = auth(world, who) if who else {}
    response = client.open(path, method=method, json=body, headers=headers)
    if status is not None:
        assert response.status_code == status, response.get_data(as_text=True)
    return check(response, path, method)


def open_by_hand(client: FlaskClient, world: World, who: str = "carol", **extra: Any) -> dict[str, Any]:
    body = {"community": "lantern", "kind": "raid", "severity": "sev2", "title": "Spam wave in #general", **extra}
    return call(client, "POST", "/api/v1/incidents", who, world, body, 201)  # type: ignore[no-any-return]


def test_it_opens_an_incident_by_hand_with_the_pinned_playbook(client: FlaskClient, world: World,
                                                                receiver: HttpReceiver) -> None:
    incident = open_by_hand(client, world)
    assert incident["source"] == "manual" and incident["playbook"] == {"name": "raid", "version": 2}
    assert incident["owner"]["email"] == "alice@example.test"
    assert [t["step"] for t in incident["tasks"]][:2] == ["contain", "preserve-evidence"]
    assert incident["timeline"][0]["actor"] == "Carol"
    assert len(receiver.to("alice")) == 1


@pytest.mark.parametrize("start", list(IncidentStatus))
@pytest.mark.parametrize("action", list(ACTIONS))
def test_it_applies_legal_moves_and_refuses_illegal_ones_with_409(client: FlaskClient, session: Session,
                                                                  world: World, start: IncidentStatus,
                                                                  action: str) -> None:
    incident = open_by_hand(client, world)
    path = f"/api/v1/incidents/{incident['id']}"
    route = {IncidentStatus.TRIGGERED: [], IncidentStatus.ACKNOWLEDGED: ["acknowledge"],
             IncidentStatus.MITIGATED: ["mitigate"], IncidentStatus.RESOLVED: ["resolve"]}[start]
    for step in route:
        call(client, "POST", f"{path}/{step}", "bob", world, {}, 200)
    before = call(client, "GET", path, "bob", world, status=200)
    target = ACTIONS[action]
    if target in TRANSITIONS[start]:
        after = call(client, "POST", f"{path}/{action}", "bob", world, {"note": "why"}, 200)
        assert after["status"] == target.value
        assert after["timeline"][-1]["kind"] in {"status", "escalation", "notification"}
    else:
        error = call(client, "POST", f"{path}/{action}", "bob", world, {}, 409)
        assert error["error"] == "invalid_transition" and f"from {start.value} to {target.value}" in error["message"]
        assert call(client, "GET", path, "bob", world, status=200) == before


def test_it_scopes_incidents_to_the_callers_communities(client: FlaskClient, world: World) -> None:
    incident = open_by_hand(client, world)
    path = f"/api/v1/incidents/{incident['id']}"
    error = call(client, "GET", path, "dave", world, status=404)
    assert error["message"] == f"no incident {incident['id']}"
    assert call(client, "GET", "/api/v1/incidents", "dave", world, status=200)["incidents"] == []
    call(client, "GET", "/api/v1/incidents?community=lantern", "dave", world, status=404)
    call(client, "POST", f"{path}/acknowledge", "dave", world, {}, 404)
    error = call(client, "POST", f"{path}/acknowledge", "carol", world, {}, 403)
    assert "responder role" in error["message"]
    call(client, "GET", path, None, world, status=401)


def test_it_filters_the_incident_list(client: FlaskClient, world: World) -> None:
    open_by_hand(client, world)
    open_by_hand(client, world, kind="dispute", severity="sev3", title="Argument in #meta")
    listed = call(client, "GET", "/api/v1/incidents?community=lantern&kind=dispute", "carol", world, status=200)
    assert [i["title"] for i in listed["incidents"]] == ["Argument in #meta"]
    assert listed["incidents"][0]["playbook"]["name"] == "dispute"
    assert len(call(client, "GET", "/api/v1/incidents?severity=sev2&status=triggered", "carol", world,
                    status=200)["incidents"]) == 1
    error = call(client, "GET", "/api/v1/incidents?status=open", "carol", world, status=400)
    assert error["message"].startswith("status: 'open' is not one of")


def test_it_records_notes_assignments_severity_and_tasks(client: FlaskClient, world: World) -> None:
    incident = open_by_hand(client, world)
    path = f"/api/v1/incidents/{incident['id']}"
    call(client, "POST", f"{path}/notes", "carol", world, {"text": "Invites paused at 12:03"}, 201)
    detail = call(client, "POST", f"{path}/assign", "bob", world,
                  {"user": "bob@example.test", "role": "commander"}, 200)
    assert detail["owner"]["email"] == "bob@example.test"
    detail = call(client, "POST", f"{path}/severity", "bob", world, {"severity": "sev1"}, 200)
    assert detail["severity"] == "sev1" and detail["playbook"]["version"] == 2
    error = call(client, "POST", f"{path}/severity", "bob", world, {"severity": "critical"}, 422)
    assert error["message"].startswith("severity: 'critical'")
    task = detail["tasks"][0]
    done = call(client, "POST", f"{path}/tasks/{task['id']}", "carol", world, {"status": "done"}, 200)
    assert done["status"] == "done" and done["completed_at"]
    error = call(client, "POST", f"{path}/tasks/{task['id']}", "carol", world, {"status": "skipped"}, 422)
    assert "required" in error["message"]
    kinds = [e["kind"] for e in call(client, "GET", path, "carol", world, status=200)["timeline"]]
    assert {"note", "assign", "severity", "task"} <= set(kinds)
    call(client, "GET", f"{path}/tasks", "carol", world, status=200)
    call(client, "GET", f"{path}/notifications", "carol", world, status=200)


def test_it_sends_status_updates_to_the_stakeholder_channel(client: FlaskClient, world: World,
                                                            receiver: HttpReceiver) -> None:
    created = call(client, "POST", "/api/v1/communities/lantern/channels", "alice", world,
                   {"name": "announcements", "purpose": "stakeholders", "url": receiver.url("stakeholders")}, 201)
    assert created["url"].startswith("json://127.0.0.1:") and "stakeholders" not in created["url"]
    incident = open_by_hand(client, world)
    path = f"/api/v1/incidents/{incident['id']}"
    result = call(client, "POST", f"{path}/updates", "bob", world, {"text": "Raid contained; invites paused."}, 201)
    assert result["recipients"] == ["#announcements"]
    opened, update = receiver.to("stakeholders")  # sev2 openings reach stakeholders too (routing.yaml)
    assert opened.body["title"] == "[SEV2] Lantern: Spam wave in #general"
    assert update.body["title"] == "Update on Spam wave in #general (triggered)"
    assert update.body["message"].startswith("Raid contained; invites paused.")
    timeline = call(client, "GET", path, "bob", world, status=200)["timeline"]
    assert any(e["kind"] == "status_update" and e["message"] == "Raid contained; invites paused." for e in timeline)


def test_it_checks_contact_method_urls_when_saved(client: FlaskClient, world: World) -> None:
    error = call(client, "POST", "/api/v1/me/contact-methods", "bob", world, {"url": "nope://x"}, 422)
    assert error["message"].startswith("url: apprise does not understand")
    saved = call(client, "POST", "/api/v1/me/contact-methods", "bob", world,
                 {"url": "tgram://123456789:abcdefg_hijklmnop/12315544/", "label": "Telegram"}, 201)
    assert "abcdefg" not in saved["url"]
    listed = call(client, "GET", "/api/v1/me/contact-methods", "bob", world, status=200)["contact_methods"]
    assert [m["label"] for m in listed] == ["webhook", "Telegram"]
    assert client.delete(f"/api/v1/me/contact-methods/{saved['id']}", headers=auth(world, "bob")).status_code == 204
    call(client, "DELETE", f"/api/v1/me/contact-methods/{saved['id']}", "alice", world, status=404)


def test_it_manages_schedules_and_overrides(client: FlaskClient, world: World, clock: FixedClock) -> None:
    body = {"name": "weekend", "timezone": "America/New_York",
            "rotations": [{"participants": [world.bob.id, world.carol.id], "shift_hours": 24,
                           "handoff_time": "10:00", "start_date": "2026-10-01"}]}
    call(client, "POST", "/api/v1/communities/lantern/schedules", "bob", world, body, 403)
    schedule = call(client, "POST", "/api/v1/communities/lantern/schedules", "alice", world, body, 201)
    sid = schedule["id"]
    # 2026-10-05 12:00Z is 08:00 in New York: still the shift that began 10:00 on the 4th (day 3 → carol).
    assert [s["user_id"] for s in schedule["on_call"]] == [world.carol.id]
    starts = clock.now().isoformat()
    ends = (clock.now() + timedelta(hours=2)).isoformat()
    schedule = call(client, "POST", f"/api/v1/schedules/{sid}/overrides", "bob", world,
                    {"user_id": world.alice.id, "starts_at": starts, "ends_at": ends}, 201)
    assert [(s["user_id"], s["source"]) for s in schedule["on_call"]] == [(world.alice.id, "override")]
    later = call(client, "GET", f"/api/v1/schedules/{sid}/oncall?at=2026-10-07T15:00:00Z&days=2", "carol", world,
                 status=200)
    assert [s["user_id"] for s in later["on_call"]] == [world.bob.id]
    assert len(later["upcoming"]) >= 2
    bad = dict(body, name="bad", timezone="Mars/Olympus")
    error = call(client, "POST", "/api/v1/communities/lantern/schedules", "alice", world, bad, 422)
    assert error["message"].startswith("timezone: 'Mars/Olympus'")
    call(client, "GET", f"/api/v1/schedules/{sid}", "dave", world, status=404)
    call(client, "GET", "/api/v1/communities/lantern/schedules", "carol", world, status=200)


def test_it_lists_playbooks_versions_and_diffs_and_publishes_n_plus_one(client: FlaskClient, session: Session,
                                                                         world: World) -> None:
    listed = call(client, "GET", "/api/v1/playbooks", "carol", world, status=200)
    assert {p["name"] for p in listed["playbooks"]} == {"raid", "complaint_spike", "dispute", "default", "alert"}
    incident = open_by_hand(client, world)
    v1 = call(client, "GET", "/api/v1/playbooks/raid/versions/2", "carol", world, status=200)
    spec = v1["spec"]
    spec["steps"][0]["due"] = "3m"
    spec["steps"].append({"id": "thank-helpers", "title": "Thank the members who reported", "owner": "liaison",
                          "due": "1d", "required": False})
    error = call(client, "POST", "/api/v1/playbooks/raid/versions", "carol", world, {"spec": spec}, 403)
    assert "admin" in error["message"]
    world_admin = "dave"  # admin of harbor
    created = call(client, "POST", "/api/v1/playbooks/raid/versions", world_admin, world,
                   {"spec": spec, "comment": "faster containment"}, 201)
    assert created["version"] == 3 and created["origin"] == "api"
    diff = call(client, "GET", "/api/v1/playbooks/raid/diff?from=2&to=3", "carol", world, status=200)
    assert diff["steps_added"] == ["thank-helpers"] and diff["steps_changed"] == ["contain"]
    assert "-  due: 5m" in diff["diff"] and "+  due: 3m" in diff["diff"]
    versions = call(client, "GET", "/api/v1/playbooks/raid/versions", "carol", world, status=200)["versions"]
    assert [v["version"] for v in versions] == [2, 3]
    # The running incident keeps v2 (the file's); a new one gets v3.
    assert call(client, "GET", f"/api/v1/incidents/{incident['id']}", "carol", world,
                status=200)["playbook"]["version"] == 2
    assert open_by_hand(client, world)["playbook"]["version"] == 3
    bad = dict(spec, steps=[{"id": "x", "title": "t", "owner": "nobody", "due": "soon"}])
    error = call(client, "POST", "/api/v1/playbooks/raid/versions", world_admin, world, {"spec": bad}, 422)
    assert "steps[0].owner: 'nobody' is not declared under roles (cleaner, commander, liaison)" in error["problems"]
    assert "steps[0].due: 'soon' is not a duration (use 30s, 15m, 2h or 1d)" in error["problems"]
    call(client, "GET", "/api/v1/playbooks/raid/diff?from=1", "carol", world, status=400)
    call(client, "GET", "/api/v1/playbooks/raid/versions/9", "carol", world, status=404)


def test_it_manages_channels_per_community(client: FlaskClient, world: World, receiver: HttpReceiver) -> None:
    call(client, "POST", "/api/v1/communities/lantern/channels", "bob", world,
         {"name": "mods", "url": receiver.url("mods")}, 403)
    call(client, "POST", "/api/v1/communities/lantern/channels", "alice", world,
         {"name": "mods", "url": receiver.url("mods"), "purpose": "everyone"}, 422)
    created = call(client, "POST", "/api/v1/communities/lantern/channels", "alice", world,
                   {"name": "mods", "url": receiver.url("mods")}, 201)
    call(client, "POST", "/api/v1/communities/lantern/channels", "alice", world,
         {"name": "mods", "url": receiver.url("mods")}, 409)
    assert [c["name"] for c in call(client, "GET", "/api/v1/communities/lantern/channels", "carol", world,
                                    status=200)["channels"]] == ["mods"]
    call(client, "GET", "/api/v1/communities/lantern/channels", "dave", world, status=404)
    call(client, "DELETE", f"/api/v1/communities/harbor/channels/{created['id']}", "dave", world, status=404)
    # The team channel now hears about new incidents (raid playbook: notify.opened → team).
    open_by_hand(client, world)
    assert len(receiver.to("mods")) == 1


def test_it_answers_400s_that_say_where(client: FlaskClient, world: World) -> None:
    response = client.post("/api/v1/incidents", data="{", content_type="application/json", headers=auth(world, "carol"))
    assert response.status_code == 400 and response.get_json()["error"] == "bad_json"
    error = call(client, "POST", "/api/v1/incidents", "carol", world, {"community": "lantern", "kind": "raid"}, 422)
    assert error["message"] == "severity: is required" and error["field"] == "severity"
    response = client.post("/api/v1/incidents", json={}, headers={"Authorization": f"Bearer {world.ingest_token}"})
    assert response.status_code == 403 and "personal token" in response.get_json()["message"]


def test_it_keeps_an_illegal_move_out_of_the_timeline(client: FlaskClient, session: Session, world: World) -> None:
    incident = open_by_hand(client, world)
    count = len(session.scalars(select(TimelineEntry).where(TimelineEntry.incident_id == incident["id"])).all())
    call(client, "POST", f"/api/v1/incidents/{incident['id']}/reopen", "bob", world, {}, 409)
    session.expire_all()
    assert len(session.scalars(select(TimelineEntry).where(TimelineEntry.incident_id == incident["id"])).all()) == count
    assert session.get(Incident, incident["id"]).status == "triggered"  # type: ignore[union-attr]
