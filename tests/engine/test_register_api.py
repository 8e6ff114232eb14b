"""The API of the risk register and of telling members: answers match the OpenAPI document,
every 4xx names the field, other communities see 404, roles are checked, and the public
status JSON shows only what was written for members, cached with an ETag."""
from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from crisis.clock import FixedClock
from crisis.response import lifecycle, postmortems
from tests.engine.conftest import World, auth
from tests.engine.helpers import HttpReceiver
from tests.engine.openapi_check import check

INTERNAL = "Raid by @troll42 from the dramaboard"


def call(client: FlaskClient, method: str, path: str, who: str | None, world: World, body: Any = None,
         status: int | None = None, headers: dict[str, str] | None = None) -> Any:
    response = client.open(path, method=method, json=body, headers={**(auth(world, who) if who else {}),
                                                                    **(headers or {})})
    if status is not None:
        assert response.status_code == status, response.get_data(as_text=True)
    return check(response, path, method)


RISKS = "/api/v1/communities/lantern/risks"


def test_it_adds_a_risk_and_shows_it_on_the_heat_map_with_its_flags(client: FlaskClient, world: World) -> None:
    made = call(client, "POST", RISKS, "alice", world, {"title": "Raid through a leaked invite", "likelihood": 4,
                                                         "impact": 5, "owner": "alice@example.test",
                                                         "detectors": ["raid"], "playbooks": ["raid"],
                                                         "review_at": "2027-01-31"}, 201)
    assert (made["score"], made["level"], made["flags"]) == (20, "critical", [])
    assert made["review_at"].startswith("2027-01-31T23:59")
    bare = call(client, "POST", RISKS, "alice", world, {"title": "Brigading", "likelihood": 2, "impact": 3}, 201)
    assert bare["flags"] == ["no_owner", "no_detector", "no_playbook"] and bare["level"] == "medium"
    listed = call(client, "GET", RISKS, "carol", world, status=200)
    assert [r["id"] for r in listed["risks"]] == [made["id"], bare["id"]]
    assert listed["heatmap"][4][3] == 1 and listed["heatmap"][2][1] == 1 and "raid" in listed["detector_kinds"]


def test_it_names_the_field_of_a_bad_risk(client: FlaskClient, world: World) -> None:
    for body, field, message in (
            ({"title": "x", "likelihood": 0, "impact": 3}, "likelihood", "likelihood: must be a whole number"),
            ({"title": "x", "likelihood": 3, "impact": 3, "detectors": ["nope"]}, "detectors",
             "detectors[0]: 'nope' is not a detector kind"),
            ({"title": "x", "likelihood": 3, "impact": 3, "owner": "dave@example.test"}, "owner",
             "owner: 'dave@example.test' is not staff"),
            ({"title": "x", "likelihood": 3, "impact": 3, "review_at": "soon"}, "review_at",
             "review_at: 'soon' must be a date"),
            ({"likelihood": 3, "impact": 3}, "title", "title: is required")):
        error = call(client, "POST", RISKS, "alice", world, body, 422)
        assert error["field"] == field and error["message"].startswith(message), error


def test_it_checks_roles_and_hides_other_communities(client: FlaskClient, world: World, session: Session,
                                                     clock: FixedClock) -> None:
    made = call(client, "POST", RISKS, "alice", world, {"title": "Raid", "likelihood": 3, "impact": 3}, 201)
    refused = call(client, "POST", RISKS, "bob", world, {"title": "R", "likelihood": 1, "impact": 1}, 403)
    assert "manager role" in refused["message"] and "postmortem_id" in refused["message"]
    call(client, "PATCH", f"{RISKS}/{made['id']}", "bob", world, {"impact": 5}, 403)
    call(client, "GET", f"{RISKS}/{made['id']}", "dave", world, status=404)
    call(client, "GET", RISKS, "dave", world, status=404)
    call(client, "GET", f"/api/v1/communities/harbor/risks/{made['id']}", "dave", world, status=404)

    # A responder re-scores it from a postmortem, which the change log names.
    incident = lifecycle.open_manual(session, world.community, kind="raid", severity="sev2", title="Raid",
                                     description="", actor=lifecycle.Actor(None, "t"), clock=clock)
    lifecycle.transition(session, incident.id, lifecycle.S.RESOLVED, actor=lifecycle.Actor(None, "t"), clock=clock)
    pm = postmortems.for_incident(session, incident.id)
    assert pm is not None
    session.commit()
    changed = call(client, "PATCH", f"{RISKS}/{made['id']}", "bob", world,
                   {"likelihood": 5, "postmortem_id": pm.id, "note": "it happened"}, 200)
    assert changed["likelihood"] == 5
    detail = call(client, "GET", f"{RISKS}/{made['id']}", "carol", world, status=200)
    assert detail["changes"][0]["kind"] == "rescored" and detail["changes"][0]["postmortem_id"] == pm.id
    assert [i["id"] for i in detail["history"]["incidents"]] == [incident.id]
    assert detail["history"]["incidents"][0]["why"] == ["postmortem"]
    retired = call(client, "PATCH", f"{RISKS}/{made['id']}", "alice", world, {"status": "retired"}, 200)
    assert retired["status"] == "retired"
    assert call(client, "GET", RISKS, "carol", world, status=200)["risks"] == []
    reviewed = call(client, "POST", f"{RISKS}/{made['id']}/review", "alice", world,
                    {"next_review_at": "2027-06-30"}, 200)
    assert reviewed["review_at"].startswith("2027-06-30")


def _incident(client: FlaskClient, world: World) -> int:
    body = {"community": "lantern", "kind": "raid", "severity": "sev2", "title": INTERNAL}
    return int(call(client, "POST", "/api/v1/incidents", "carol", world, body, 201)["id"])


def test_it_posts_an_update_to_members_and_serves_the_public_status_json(
        client: FlaskClient, world: World, receiver: HttpReceiver) -> None:
    base = "/api/v1/communities/lantern"
    call(client, "POST", f"{base}/member-channels", "bob", world, {"name": "x", "url": receiver.url("m")}, 403)
    channel = call(client, "POST", f"{base}/member-channels", "alice", world,
                   {"name": "announcements", "url": receiver.url("members"), "language": "zh"}, 201)
    assert channel["destination"].startswith("json://127.0.0.1:") and channel["kind"] == "apprise"
    duplicate = call(client, "POST", f"{base}/member-channels", "alice", world,
                     {"name": "announcements", "url": receiver.url("m")}, 409)
    assert duplicate["field"] == "name"
    bad = call(client, "POST", f"{base}/member-channels", "alice", world, {"name": "y", "url": "mailto://a@b.c"}, 422)
    assert bad["field"] == "url"
    call(client, "GET", "/api/v1/status/lantern", None, world, status=404)  # not published yet
    page = call(client, "PUT", f"{base}/status-page", "alice", world, {"enabled": True, "name": "Lantern Guild"}, 200)
    assert page["url"] == "http://127.0.0.1:8000/status/lantern"

    incident_id = _incident(client, world)
    call(client, "POST", f"/api/v1/incidents/{incident_id}/notes", "carol", world, {"text": "suspect: troll42"}, 201)
    missing = call(client, "POST", f"/api/v1/incidents/{incident_id}/updates", "bob", world,
                   {"text": "We are on it", "public": True}, 422)
    assert missing["field"] == "public_title"
    posted = call(client, "POST", f"/api/v1/incidents/{incident_id}/updates", "bob", world,
                  {"text": "我们正在清理垃圾信息。", "public": True, "public_title": "垃圾信息"}, 201)
    assert posted["public"] is True and "members: announcements" in posted["recipients"]
    [message] = receiver.to("members")
    assert message.body["title"] == "[Lantern Guild] 调查中：垃圾信息"  # the channel's language

    public = call(client, "GET", "/api/v1/status/lantern", None, world, status=200)
    assert [e["title"] for e in public["open"]] == ["垃圾信息"] and public["resolved"] == []
    assert public["open"][0]["updates"][0]["body"] == "我们正在清理垃圾信息。"
    text = str(public)
    for secret in (INTERNAL, "troll42", "sev2", "raid", str(incident_id) + "}"):
        assert secret not in text
    first = client.get("/api/v1/status/lantern")
    assert first.headers["Cache-Control"].startswith("public, max-age=") and first.headers["ETag"]
    again = client.get("/api/v1/status/lantern", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""

    face = call(client, "PATCH", f"/api/v1/incidents/{incident_id}/public", "bob", world,
                {"public_title": "Spam cleaned up", "hidden": False}, 200)
    assert face["public"]["title"] == "Spam cleaned up" and len(face["updates"]) == 1
    changed = client.get("/api/v1/status/lantern", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200 and changed.get_json()["open"][0]["title"] == "Spam cleaned up"
    call(client, "PATCH", f"/api/v1/incidents/{incident_id}/public", "bob", world, {"hidden": True}, 200)
    assert call(client, "GET", "/api/v1/status/lantern", None, world, status=200)["open"] == []
    call(client, "GET", f"/api/v1/incidents/{incident_id}/public", "dave", world, status=404)
    call(client, "GET", f"{base}/member-channels", "dave", world, status=404)


def test_it_refuses_to_edit_the_public_face_of_an_incident_never_made_public(client: FlaskClient,
                                                                            world: World) -> None:
    incident_id = _incident(client, world)
    error = call(client, "PATCH", f"/api/v1/incidents/{incident_id}/public", "bob", world, {"hidden": True}, 409)
    assert error["message"].startswith("incident: nothing was posted to members yet")
    assert call(client, "GET", f"/api/v1/incidents/{incident_id}/public", "carol", world, status=200)["public"] is None
