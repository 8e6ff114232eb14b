"""The rules, penalties, appeals, cases and queue API: every answer checked against the
OpenAPI document, roles (moderator, responder, manager) and tenants (another community's
admin gets 404 for every id), field errors naming the field."""
from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from crisis.clock import FixedClock
from crisis.moderation import rulebook
from crisis.response import lifecycle
from tests.engine.conftest import World, auth
from tests.engine.openapi_check import check

TROLL = "@troll:hs"


def _call(client: FlaskClient, world: World, who: str, method: str, path: str, body: Any = None,
          status: int | None = None) -> Any:
    resp = client.open(path, method=method, json=body, headers=auth(world, who))
    check(resp, path, method)
    if status is not None:
        assert resp.status_code == status, (path, resp.status_code, resp.get_json())
    return resp.get_json()


def _sync(session: Session, clock: FixedClock) -> None:
    rulebook.sync(session, clock=clock)
    session.commit()


def test_rules_are_read_by_staff_and_published_by_managers_as_new_versions(
        client: FlaskClient, session: Session, world: World, clock: FixedClock) -> None:
    _call(client, world, "carol", "GET", "/api/v1/communities/lantern/rules", status=404)
    _sync(session, clock)
    current = _call(client, world, "carol", "GET", "/api/v1/communities/lantern/rules", status=200)
    assert current["version"] == 1 and current["origin"] == "default"
    rules = current["rules"]
    _call(client, world, "carol", "POST", "/api/v1/communities/lantern/rules", {"rules": rules}, status=403)
    bad = _call(client, world, "alice", "POST", "/api/v1/communities/lantern/rules",
                {"rules": [{"id": "x", "title": "X", "ladder": [{"penalty": "mute"}]}]}, status=422)
    assert bad["errors"] == [{"field": "rules[0].ladder[0].duration",
                              "message": "a mute needs a duration (e.g. 1h, 24h, 7d)"}]
    made = _call(client, world, "alice", "POST", "/api/v1/communities/lantern/rules",
                 {"rules": rules[:2], "comment": "two rules only"}, status=201)
    assert made["version"] == 2 and [r["id"] for r in made["rules"]] == ["be-kind", "no-hate"]
    text = rulebook.default_text()
    assert _call(client, world, "alice", "POST", "/api/v1/communities/lantern/rules", {"source": text},
                 status=201)["version"] == 3
    versions = _call(client, world, "bob", "GET", "/api/v1/communities/lantern/rules/versions", status=200)
    assert [v["version"] for v in versions["versions"]] == [3, 2, 1]
    _call(client, world, "dave", "GET", "/api/v1/communities/lantern/rules", status=404)


def test_penalties_follow_the_ladder_and_wait_for_the_role_their_action_needs(
        client: FlaskClient, session: Session, world: World, clock: FixedClock) -> None:
    _sync(session, clock)
    preview = _call(client, world, "carol", "GET",
                    f"/api/v1/communities/lantern/penalties/preview?member={TROLL}&rule=no-spam", status=200)
    assert (preview["penalty"], preview["executor"], preview["earlier_offences"]) == ("warn", "none", 0)
    _call(client, world, "carol", "GET", "/api/v1/communities/lantern/penalties/preview?member=x&rule=nope",
          status=400)
    warn = _call(client, world, "carol", "POST", "/api/v1/communities/lantern/penalties",
                 {"member": TROLL, "rule": "no-spam", "note": "ads"}, status=201)
    assert warn["kind"] == "warn" and warn["action"] is None and "/p/lantern/penalties/" in warn["public_url"]
    mute = _call(client, world, "carol", "POST", "/api/v1/communities/lantern/penalties",
                 {"member": TROLL, "rule": "no-spam"}, status=201)
    assert mute["kind"] == "mute" and mute["action"]["status"] == "applied"  # by hand: a moderation task
    ban = _call(client, world, "carol", "POST", "/api/v1/communities/lantern/penalties",
                {"member": TROLL, "rule": "no-scams"}, status=201)
    assert ban["action"]["status"] == "proposed" and ban["action"]["approve_role"] == "responder"
    _call(client, world, "carol", "POST", f"/api/v1/penalties/{ban['id']}/approve", status=403)
    approved = _call(client, world, "bob", "POST", f"/api/v1/penalties/{ban['id']}/approve", status=200)
    assert approved["action"]["status"] == "applied"
    _call(client, world, "bob", "POST", f"/api/v1/penalties/{ban['id']}/approve", status=409)
    bad = _call(client, world, "carol", "POST", "/api/v1/communities/lantern/penalties",
                {"member": TROLL, "rule": "nope"}, status=422)
    assert bad["field"] == "rule"
    record = _call(client, world, "carol", "GET", f"/api/v1/communities/lantern/members/{TROLL}/penalties",
                   status=200)
    assert [p["kind"] for p in record["penalties"]] == ["ban", "mute", "warn"]
    tasks = _call(client, world, "carol", "GET", "/api/v1/communities/lantern/moderation-tasks", status=200)
    assert {t["title"].split(":")[0] for t in tasks["tasks"]} == {"By hand"}
    done = _call(client, world, "carol", "POST", f"/api/v1/moderation-tasks/{tasks['tasks'][0]['id']}/done",
                 status=200)
    assert done["status"] == "done"
    for path in (f"/api/v1/penalties/{ban['id']}", f"/api/v1/moderation-tasks/{done['id']}/done"):
        _call(client, world, "dave", "GET" if "done" not in path else "POST", path, status=404)


def test_an_appeal_is_filed_by_staff_and_decided_by_a_responder_once(
        client: FlaskClient, session: Session, world: World, clock: FixedClock) -> None:
    _sync(session, clock)
    ban = _call(client, world, "bob", "POST", "/api/v1/communities/lantern/penalties",
                {"member": TROLL, "rule": "no-scams"}, status=201)
    appeal = _call(client, world, "carol", "POST", f"/api/v1/penalties/{ban['id']}/appeals",
                   {"text": "says the account was stolen"}, status=201)
    _call(client, world, "carol", "POST", f"/api/v1/penalties/{ban['id']}/appeals", {"text": "again"}, status=422)
    listed = _call(client, world, "carol", "GET", "/api/v1/communities/lantern/appeals", status=200)
    assert [a["id"] for a in listed["appeals"]] == [appeal["id"]]
    _call(client, world, "carol", "POST", f"/api/v1/appeals/{appeal['id']}/decide",
          {"decision": "lifted", "note": "ok"}, status=403)
    _call(client, world, "dave", "POST", f"/api/v1/appeals/{appeal['id']}/decide",
          {"decision": "lifted", "note": "ok"}, status=404)
    bad = _call(client, world, "bob", "POST", f"/api/v1/appeals/{appeal['id']}/decide",
                {"decision": "reduced", "note": "first offence", "reduce_to": 7}, status=422)
    assert bad["field"] == "reduce_to"
    decided = _call(client, world, "bob", "POST", f"/api/v1/appeals/{appeal['id']}/decide",
                    {"decision": "reduced", "note": "first offence", "reduce_to": -1}, status=200)
    assert decided["status"] == "reduced" and decided["reduced_to"]
    _call(client, world, "bob", "POST", f"/api/v1/appeals/{appeal['id']}/decide",
          {"decision": "lifted", "note": "x"}, status=409)
    after = _call(client, world, "bob", "GET", f"/api/v1/penalties/{ban['id']}", status=200)
    assert after["status"] == "reduced" and after["action"]["status"] == "reverted"  # by hand: an undo task
    warning = _call(client, world, "bob", "GET", f"/api/v1/penalties/{decided['reduced_to']}", status=200)
    assert (warning["kind"], warning["replaces"], warning["level"]) == ("warn", ban["id"], -1)


def _reports(client: FlaskClient, world: World, n: int, message: str = "$bad") -> None:
    events = [{"id": f"rep-{message}-{i}", "type": "report.create", "ts": "2026-10-05T11:59:00Z",
               "actor": {"id": f"@r{i}:hs"}, "target": {"message_id": message, "user_id": TROLL},
               "reason": "spam"} for i in range(n)]
    resp = client.post("/api/v1/communities/lantern/events", json=events,
                       headers={"Authorization": f"Bearer {world.ingest_token}"})
    assert resp.status_code == 202


def test_cases_and_the_queue_through_the_api(client: FlaskClient, session: Session, world: World,
                                             clock: FixedClock) -> None:
    _sync(session, clock)
    _reports(client, world, 3)
    queue = _call(client, world, "carol", "GET", "/api/v1/communities/lantern/queue", status=200)
    [item] = queue["items"]
    assert (item["subject"], item["reports"], item["score"], item["member"]) == ("message:$bad", 3, 3.0, TROLL)
    cases = _call(client, world, "carol", "GET", "/api/v1/communities/lantern/cases?status=open", status=200)
    assert len(cases["cases"]) == 3 and all(c["public_url"] for c in cases["cases"])
    found = _call(client, world, "carol", "GET", "/api/v1/communities/lantern/cases?source_event_id=rep-$bad-0",
                  status=200)
    assert [c["source"] for c in found["cases"]] == ["ingest"]
    _call(client, world, "carol", "GET", "/api/v1/communities/lantern/cases?status=closed", status=400)
    first = cases["cases"][-1]["id"]
    triaged = _call(client, world, "carol", "POST", f"/api/v1/cases/{first}/triage", {"owner": "bob@example.test"},
                    status=200)
    assert triaged["status"] == "triaged" and triaged["owner"]["name"] == "Bob"
    _call(client, world, "carol", "POST", f"/api/v1/cases/{first}/triage", {"owner": "dave@example.test"},
          status=422)
    decided = _call(client, world, "carol", "POST", "/api/v1/communities/lantern/queue/decide",
                    {"subject": "message:$bad", "decision": "actioned", "rule": "no-spam", "outcome": "removed"},
                    status=200)
    assert len(decided["cases"]) == 3 and decided["penalty"]
    assert {c["status"] for c in decided["cases"]} == {"actioned"}
    _call(client, world, "carol", "POST", "/api/v1/communities/lantern/queue/decide",
          {"subject": "message:$bad", "decision": "dismissed"}, status=422)
    one = _call(client, world, "carol", "GET", f"/api/v1/cases/{first}", status=200)
    assert [e["kind"] for e in one["events"]] == ["opened", "owner", "status", "status"]
    _call(client, world, "carol", "POST", f"/api/v1/cases/{first}/decide", {"decision": "dismissed"}, status=409)
    filed = _call(client, world, "carol", "POST", "/api/v1/communities/lantern/cases",
                  {"subject": {"kind": "member", "member": "@dm:hs"}, "category": "harassment",
                   "details": "told me in a DM"}, status=201)
    assert filed["source"] == "staff" and filed["status"] == "new"
    _call(client, world, "carol", "POST", "/api/v1/communities/lantern/cases",
          {"subject": {"kind": "member"}, "category": "harassment"}, status=422)
    single = _call(client, world, "carol", "POST", f"/api/v1/cases/{filed['id']}/decide",
                   {"decision": "actioned", "rule": "be-kind"}, status=200)
    assert single["penalty"] and single["status"] == "actioned"
    for path in (f"/api/v1/cases/{first}", "/api/v1/communities/lantern/queue"):
        _call(client, world, "dave", "GET", path, status=404)


def test_resolving_a_complaint_incident_closes_its_cases_in_one_decision(
        client: FlaskClient, session: Session, world: World, clock: FixedClock) -> None:
    _sync(session, clock)
    incident = lifecycle.open_manual(session, world.community, kind="complaint_spike", severity="sev3",
                                     title="Reports about one message", description="", clock=clock,
                                     actor=lifecycle.Actor(None, "test"))
    session.commit()
    _reports(client, world, 4, "$pile")
    listed = _call(client, world, "bob", "GET", f"/api/v1/incidents/{incident.id}/cases", status=200)
    assert len(listed["cases"]) == 4 and {c["incident"] for c in listed["cases"]} == {incident.id}
    bad = client.post(f"/api/v1/incidents/{incident.id}/resolve", headers=auth(world, "bob"),
                      json={"close_cases": {"decision": "maybe"}})
    check(bad, f"/api/v1/incidents/{incident.id}/resolve", "POST")
    assert bad.status_code == 422 and bad.get_json()["message"].startswith("close_cases.decision")
    resp = client.post(f"/api/v1/incidents/{incident.id}/resolve", headers=auth(world, "bob"),
                       json={"close_cases": {"decision": "dismissed", "outcome": "a quote, not spam"}})
    check(resp, f"/api/v1/incidents/{incident.id}/resolve", "POST")
    assert resp.status_code == 200 and resp.get_json()["status"] == "resolved"
    after = _call(client, world, "bob", "GET", f"/api/v1/incidents/{incident.id}/cases", status=200)
    assert {(c["status"], c["outcome"]) for c in after["cases"]} == {("dismissed", "a quote, not spam")}
