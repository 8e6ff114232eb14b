"""Containment through the JSON API and the one-click link in the alert, on a community with
no bridge (so approved actions become tasks for a person): roles, confirmation, tenant
isolation, errors that name the field, undo on resolve, the documented shapes."""
from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.clock import FixedClock
from crisis.config import Config
from crisis.models import ContainmentAction, Incident, Task
from crisis.notify import ack_tokens
from crisis.response import postmortems, signals
from tests.engine.conftest import World, auth
from tests.engine.helpers import HttpReceiver
from tests.engine.openapi_check import check
from tests.web.conftest import login

RAIDERS = ["@r1:hs", "@r2:hs", "<script>alert(1)</script>"]


def _raid(session: Session, world: World, clock: FixedClock) -> Incident:
    incident = signals.open_detected(session, world.community, episode_key=f"raid:{clock.now().isoformat()}",
                                     kind="raid", severity="sev2", title="Raid", opened_at=clock.now(),
                                     evidence={"accounts": RAIDERS}, score=12.0, scope="", clock=clock)
    assert incident is not None
    session.commit()
    return incident


def call(client: FlaskClient, method: str, path: str, who: str, world: World, body: Any = None,
         status: int | None = None) -> Any:
    response = client.open(path, method=method, json=body, headers=auth(world, who))
    if status is not None:
        assert response.status_code == status, response.get_data(as_text=True)
    return check(response, path, method)


def _by_step(session: Session, incident: Incident, step: str) -> ContainmentAction:
    session.expire_all()
    action = session.scalar(select(ContainmentAction).where(ContainmentAction.incident_id == incident.id,
                                                            ContainmentAction.step_id == step))
    assert action is not None
    return action


def test_the_alert_carries_a_lockdown_link_that_confirms_on_get_and_approves_on_post(
        client: FlaskClient, session: Session, world: World, clock: FixedClock, receiver: HttpReceiver) -> None:
    incident = _raid(session, world, clock)
    [alert] = receiver.to("alice")
    match = re.search(r"Lock down the room for 2 h \(undoes itself\): \S+/contain/(\S+)", alert.body["message"])
    assert match is not None, alert.body["message"]
    token = match.group(1)
    page = client.get(f"/contain/{token}")
    assert page.status_code == 200 and b"Approve as Alice" in page.data
    assert _by_step(session, incident, "contain").status == "proposed"  # a link preview changes nothing
    done = client.post(f"/contain/{token}")
    assert done.status_code == 200 and b"Approved" in done.data
    lockdown = _by_step(session, incident, "contain")
    # No bridge: carried out as a task for a person, approved under the alert's recipient.
    assert lockdown.status == "applied" and lockdown.approved_by == "Alice" and lockdown.executor == "manual"
    assert client.post(f"/contain/{token}").status_code == 409
    assert client.get(f"/contain/{token[:-3]}xyz").status_code == 404


def test_a_sev1_alert_carries_an_undo_link_for_the_lockdown_the_playbook_applied(
        client: FlaskClient, session: Session, world: World, clock: FixedClock, receiver: HttpReceiver) -> None:
    incident = signals.open_detected(session, world.community, episode_key="raid:big", kind="raid", severity="sev1",
                                     title="Raid", opened_at=clock.now(), evidence={"accounts": RAIDERS}, score=40.0,
                                     scope="", clock=clock)
    assert incident is not None
    session.commit()
    [alert] = receiver.to("alice")
    assert "Lock down the room" not in alert.body["message"]
    match = re.search(r"locked down for 2 h \(undoes itself\); undo it now: \S+/contain/(\S+)", alert.body["message"])
    assert match is not None, alert.body["message"]
    assert b"Undo as Alice" in client.get(f"/contain/{match.group(1)}").data
    assert client.post(f"/contain/{match.group(1)}").status_code == 200
    lockdown = _by_step(session, incident, "contain")
    assert lockdown.status == "reverted" and lockdown.reverted_by == "Alice"
    assert b"Nothing to do" in client.get(f"/contain/{match.group(1)}").data


def test_a_lockdown_link_for_someone_below_the_role_is_refused(
        client: FlaskClient, session: Session, world: World, clock: FixedClock, config: Config) -> None:
    incident = _raid(session, world, clock)
    lockdown = _by_step(session, incident, "contain")
    link = ack_tokens.make_action_link(config, action_id=lockdown.id, user_id=world.carol.id, now=clock.now(),
                                       hours=1)
    token = link.rsplit("/", 1)[1]
    assert client.get(f"/contain/{token}").status_code == 403
    answer = client.post(f"/contain/{token}")
    assert answer.status_code == 403 and b"responder" in answer.data
    assert _by_step(session, incident, "contain").status == "proposed"


def test_approving_through_the_api_follows_roles_and_answers_in_the_documented_shape(
        client: FlaskClient, session: Session, world: World, clock: FixedClock) -> None:
    incident = _raid(session, world, clock)
    listed = call(client, "GET", f"/api/v1/incidents/{incident.id}/actions", "carol", world, status=200)
    assert [a["kind"] for a in listed["actions"]] == ["lockdown", "ban"]
    ban = listed["actions"][1]
    assert [t["account"] for t in ban["targets"]] == RAIDERS and ban["approve_role"] == "responder"
    refused = call(client, "POST", f"/api/v1/incidents/{incident.id}/actions/{ban['id']}/approve", "carol", world,
                   {}, 403)
    assert "needs the responder role" in refused["message"]
    approved = call(client, "POST", f"/api/v1/incidents/{incident.id}/actions/{ban['id']}/approve", "bob", world,
                    {}, 200)
    assert approved["status"] == "applied" and approved["approved_by"] == "Bob"
    assert [m["to"] for m in approved["moves"]] == ["proposed", "approved", "applying", "applied"]
    again = call(client, "POST", f"/api/v1/incidents/{incident.id}/actions/{ban['id']}/approve", "bob", world,
                 {}, 409)
    assert again["current_status"] == "applied"
    released = call(client, "POST", f"/api/v1/incidents/{incident.id}/actions/{ban['id']}/release", "bob", world,
                    {"account": "@r2:hs"}, 200)
    assert {t["account"]: t["state"] for t in released["targets"]}["@r2:hs"] == "released"


def test_bad_input_names_the_field_and_changes_nothing(client: FlaskClient, session: Session, world: World,
                                                       clock: FixedClock) -> None:
    incident = _raid(session, world, clock)
    base = f"/api/v1/incidents/{incident.id}/actions"
    assert call(client, "POST", base, "bob", world, {"kind": "nuke"}, 422)["message"].startswith("kind: ")
    assert call(client, "POST", base, "bob", world, {"kind": "lockdown", "params": {"join_rule": "open"}},
                422)["message"].startswith("params.join_rule: ")
    assert call(client, "POST", base, "bob", world, {"kind": "ban", "expires_after": "soon"},
                422)["message"].startswith("expires_after: ")
    assert call(client, "POST", base, "bob", world, {"kind": "ban", "accounts": [""]},
                422)["message"].startswith("accounts: ")
    redact = call(client, "POST", base, "bob", world, {"kind": "redact", "approve": True}, 422)
    assert redact["message"].startswith("confirm: ")
    assert call(client, "GET", f"{base}/preview?kind=nuke", "bob", world, status=400)["message"].startswith("kind")
    assert len(call(client, "GET", base, "bob", world, status=200)["actions"]) == 2  # nothing was added


def test_another_communitys_staff_see_no_such_incident(client: FlaskClient, session: Session, world: World,
                                                       clock: FixedClock) -> None:
    incident = _raid(session, world, clock)
    lockdown = _by_step(session, incident, "contain")
    for method, path in (("GET", f"/api/v1/incidents/{incident.id}/actions"),
                         ("POST", f"/api/v1/incidents/{incident.id}/actions/{lockdown.id}/approve")):
        response = client.open(path, method=method, json={}, headers=auth(world, "dave"))
        assert response.status_code == 404
    assert _by_step(session, incident, "contain").status == "proposed"


def test_resolving_with_revert_actions_undoes_what_is_still_applied(
        client: FlaskClient, session: Session, world: World, clock: FixedClock) -> None:
    incident = _raid(session, world, clock)
    lockdown = _by_step(session, incident, "contain")
    call(client, "POST", f"/api/v1/incidents/{incident.id}/actions/{lockdown.id}/approve", "bob", world, {}, 200)
    # The raid's detector episode is still open: resolving it needs the confirmation.
    call(client, "POST", f"/api/v1/incidents/{incident.id}/resolve", "bob", world,
         {"revert_actions": True, "confirm": True}, 200)
    lockdown = _by_step(session, incident, "contain")
    assert lockdown.status == "reverted" and lockdown.reverted_by == "Bob"
    undo = session.get(Task, lockdown.task_id)
    assert undo is not None and undo.title.startswith("Undo by hand")
    # The postmortem draft the raid playbook asks for carries the containment log.
    draft = postmortems.for_incident(session, incident.id)
    assert draft is not None
    section = next(s for s in draft.sections if s["key"] == "containment")
    assert "Lock down (pause joins) (knock)" in section["body"] and "approved by Bob" in section["body"]
    assert "reverted at" in section["body"] and "by Bob" in section["body"]
    assert draft.facts["containment"]["applied"] == 1 and draft.facts["containment"]["reverted"] == 1


def test_metrics_and_the_manager_dashboard_count_applied_reverted_and_failed(
        client: FlaskClient, session: Session, world: World, clock: FixedClock) -> None:
    incident = _raid(session, world, clock)
    lockdown = _by_step(session, incident, "contain")
    call(client, "POST", f"/api/v1/incidents/{incident.id}/actions/{lockdown.id}/approve", "bob", world, {}, 200)
    call(client, "POST", f"/api/v1/incidents/{incident.id}/actions/{lockdown.id}/undo", "bob", world, {}, 200)
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'crisis_containment_actions{kind="lockdown",status="reverted"} 1.0' in metrics
    assert 'crisis_containment_actions{kind="ban",status="proposed"} 1.0' in metrics
    assert 'crisis_containment_applied_total{kind="lockdown"} 1.0' in metrics
    login(client, world.alice.email)
    page = client.get("/dashboard").get_data(as_text=True)
    figures = {label: int(n) for n, label in re.findall(
        r"<strong>(\d+)</strong> (applied|still in force|reverted|failed|awaiting approval)", page)}
    assert figures == {"applied": 1, "still in force": 0, "reverted": 1, "failed": 0, "awaiting approval": 1}
