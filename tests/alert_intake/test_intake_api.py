"""Alert intake without a real sender: who may post, what a bad body is told, and how
notifications of one group become one incident (opened once, updated, resolved, reopened
or opened anew after the quiet spell)."""
from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crisis.alert_intake import integrations
from crisis.clock import FixedClock
from crisis.models import AlertInstance, AlertIntegration, Incident, Notification, TimelineEntry
from crisis.tenancy.credentials import hash_token
from tests.engine.conftest import World
from tests.openapi import assert_matches_spec

AM = "/api/v1/alerts/alertmanager"
PD = "/v2/enqueue"


def _integration(session: Session, world: World, kind: str, clock: FixedClock, **kw: Any) -> str:
    issued = integrations.create(session, world.community, kind=kind, name=f"{kind}-{len(kw)}", clock=clock, **kw)
    session.commit()
    return issued.key


def am_alert(name: str, status: str = "firing", severity: str | None = "warning", **labels: str) -> dict[str, Any]:
    labels = {"alertname": name, **labels, **({"severity": severity} if severity else {})}
    return {"status": status, "labels": labels, "annotations": {"summary": f"{name} is bad"},
            "startsAt": "2026-10-05T11:59:00.123456789Z",
            "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-10-05T12:01:00Z",
            "generatorURL": "http://prometheus.example/graph", "fingerprint": f"fp-{name}-{labels.get('instance', '')}"}


def am_body(alerts: list[dict[str, Any]], group: str = '{}:{alertname="BotDown"}') -> dict[str, Any]:
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    return {"version": "4", "groupKey": group, "truncatedAlerts": 0, "status": status, "receiver": "crisis",
            "groupLabels": {"alertname": alerts[0]["labels"]["alertname"]},
            "commonLabels": {"alertname": alerts[0]["labels"]["alertname"]},
            "commonAnnotations": {}, "externalURL": "http://alertmanager.example", "alerts": alerts}


def _post(client: FlaskClient, key: str, body: Any) -> Any:
    resp = client.post(AM, json=body, headers={"Authorization": f"Bearer {key}"})
    assert_matches_spec(AM, "post", resp.status_code, resp.get_json())
    return resp


def _incidents(session: Session) -> list[Incident]:
    session.expire_all()
    return list(session.scalars(select(Incident).order_by(Incident.id)))


def _pages(session: Session, incident_id: int, event: str = "opened") -> int:
    return int(session.scalar(select(func.count()).select_from(Notification).where(
        Notification.incident_id == incident_id, Notification.event == event,
        Notification.recipient_user_id.is_not(None))) or 0)


def test_a_group_opens_one_incident_and_a_second_alert_updates_it_without_paging(
        client: FlaskClient, world: World, session: Session, clock: FixedClock) -> None:
    key = _integration(session, world, "alertmanager", clock)
    resp = _post(client, key, am_body([am_alert("BotDown", instance="bot-1")]))
    assert resp.status_code == 202 and resp.get_json()["outcome"] == "opened"
    [incident] = _incidents(session)
    assert (incident.source, incident.kind, incident.severity) == ("alert", "alert", "sev3")
    assert incident.playbook_name == "alert" and incident.title == "BotDown: BotDown is bad"
    assert _pages(session, incident.id) == 1  # alice, primary on call
    clock.advance(timedelta(minutes=1))
    again = _post(client, key, am_body([am_alert("BotDown", instance="bot-1"),
                                        am_alert("BotDown", instance="bot-2", severity="critical")]))
    assert again.get_json()["outcome"] == "updated"
    [same] = _incidents(session)
    assert same.id == incident.id and same.severity == "sev1"  # raised by the critical one
    assert _pages(session, incident.id) == 1  # no second "opened" page
    assert same.evidence["alerts_total"] == 2 and same.evidence["alerts_firing"] == 2
    lines = [e.message for e in session.scalars(select(TimelineEntry).where(TimelineEntry.incident_id == incident.id))]
    assert any("1 more alert(s) firing: BotDown{instance=bot-2" in line for line in lines)


def test_the_same_notification_twice_changes_nothing_twice(client: FlaskClient, world: World, session: Session,
                                                           clock: FixedClock) -> None:
    key = _integration(session, world, "alertmanager", clock)
    body = am_body([am_alert("BotDown", instance="bot-1")])
    _post(client, key, body)
    _post(client, key, body)  # Alertmanager retried: our 2xx was lost
    [incident] = _incidents(session)
    assert _pages(session, incident.id) == 1
    assert session.scalar(select(func.count()).select_from(AlertInstance)) == 1


def test_all_resolved_is_on_the_timeline_and_resolves_when_the_integration_says_so(
        client: FlaskClient, world: World, session: Session, clock: FixedClock) -> None:
    auto = _integration(session, world, "alertmanager", clock)
    manual = _integration(session, world, "alertmanager", clock, auto_resolve=False)
    for key, group in ((auto, "g-auto"), (manual, "g-manual")):
        _post(client, key, am_body([am_alert("SiteDown")], group=group))
        resp = _post(client, key, am_body([am_alert("SiteDown", status="resolved")], group=group))
        assert resp.status_code == 202
    first, second = _incidents(session)
    assert first.status == "resolved" and second.status == "triggered"
    for incident in (first, second):
        lines = [e.message for e in incident.timeline]
        assert "Every alert of the group resolved (1)" in lines


def test_a_group_firing_again_reopens_within_the_quiet_spell_and_opens_anew_after(
        client: FlaskClient, world: World, session: Session, clock: FixedClock) -> None:
    key = _integration(session, world, "alertmanager", clock, reopen_within_s=600)
    _post(client, key, am_body([am_alert("SiteDown")]))
    _post(client, key, am_body([am_alert("SiteDown", status="resolved")]))
    clock.advance(timedelta(minutes=5))
    assert _post(client, key, am_body([am_alert("SiteDown")])).get_json()["outcome"] == "reopened"
    [incident] = _incidents(session)
    assert incident.status == "triggered" and _pages(session, incident.id, "reopened") >= 1
    _post(client, key, am_body([am_alert("SiteDown", status="resolved")]))
    clock.advance(timedelta(minutes=11))
    assert _post(client, key, am_body([am_alert("SiteDown")])).get_json()["outcome"] == "opened"
    old, new = _incidents(session)
    assert old.status == "resolved" and new.status == "triggered" and new.episode_key.endswith(":2")


def test_a_repeat_after_a_person_resolved_it_does_not_reopen(client: FlaskClient, world: World, session: Session,
                                                             clock: FixedClock) -> None:
    key = _integration(session, world, "alertmanager", clock)
    _post(client, key, am_body([am_alert("SiteDown")]))
    [incident] = _incidents(session)
    headers = {"Authorization": f"Bearer {world.tokens['alice']}"}
    assert client.post(f"/api/v1/incidents/{incident.id}/resolve", json={}, headers=headers).status_code == 200
    assert _post(client, key, am_body([am_alert("SiteDown")])).get_json()["outcome"] == "recorded"
    assert _incidents(session)[0].status == "resolved"


@pytest.mark.parametrize(("headers", "status", "says"), [
    ({}, 401, "no integration key"),
    ({"Authorization": "Bearer cra_not-a-key"}, 401, "unknown or rotated"),
    ({"Authorization": "Basic abc"}, 401, "Bearer <integration key>"),
])
def test_a_missing_or_wrong_key_is_refused(client: FlaskClient, world: World, headers: dict[str, str], status: int,
                                          says: str) -> None:
    resp = client.post(AM, json=am_body([am_alert("X")]), headers=headers)
    assert resp.status_code == status and says in resp.get_json()["message"]


def test_the_key_in_the_url_works_and_another_kinds_key_is_refused(client: FlaskClient, world: World,
                                                                   session: Session, clock: FixedClock) -> None:
    key = _integration(session, world, "alertmanager", clock)
    pd_key = _integration(session, world, "pagerduty", clock)
    assert client.post(f"{AM}/{key}", json=am_body([am_alert("X")])).status_code == 202
    wrong = client.post(f"{AM}/{pd_key}", json=am_body([am_alert("X")]))
    assert wrong.status_code == 403 and "/v2/enqueue" in wrong.get_json()["message"]


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda b: b.pop("groupKey"), "groupKey"),
    (lambda b: b.update(alerts=[]), "alerts"),
    (lambda b: b["alerts"][0].update(status="burning"), "alerts[0].status"),
    (lambda b: b["alerts"][0]["labels"].update(severity="apocalyptic"), "alerts[0].labels.severity"),
    (lambda b: b["alerts"][0].update(startsAt="yesterday"), "alerts[0].startsAt"),
    (lambda b: b["alerts"][0]["labels"].update(team=7), "alerts[0].labels.team"),
])
def test_a_bad_body_gets_a_422_naming_the_field_and_stores_nothing(client: FlaskClient, world: World,
                                                                   session: Session, clock: FixedClock,
                                                                   mutate: Any, field: str) -> None:
    key = _integration(session, world, "alertmanager", clock)
    body = am_body([am_alert("X")])
    mutate(body)
    resp = _post(client, key, body)
    assert resp.status_code == 422, resp.get_json()
    assert field in [e["field"] for e in resp.get_json()["errors"]]
    assert _incidents(session) == []


def test_an_oversized_body_is_refused_with_413(client: FlaskClient, world: World, session: Session,
                                               clock: FixedClock) -> None:
    key = _integration(session, world, "alertmanager", clock)
    resp = client.post(AM, data=b"[" + b" " * (1024 * 1024 + 10) + b"]", content_type="application/json",
                       headers={"Authorization": f"Bearer {key}"})
    assert resp.status_code == 413 and "at most" in resp.get_json()["message"]


def test_one_communitys_key_never_reaches_another_communitys_incident(client: FlaskClient, world: World,
                                                                      session: Session, clock: FixedClock) -> None:
    ours = _integration(session, world, "alertmanager", clock)
    theirs = integrations.create(session, world.other, kind="alertmanager", name="am", clock=clock).key
    session.commit()
    body = am_body([am_alert("BotDown")], group="same-group-key")
    _post(client, ours, body)
    _post(client, theirs, body)
    a, b = _incidents(session)
    assert (a.community_id, b.community_id) == (world.community.id, world.other.id)


def test_the_key_is_stored_hashed_and_rotating_it_retires_the_old_one(client: FlaskClient, world: World,
                                                                      session: Session, clock: FixedClock) -> None:
    key = _integration(session, world, "alertmanager", clock)
    row = session.scalar(select(AlertIntegration))
    assert row is not None and row.key_hash == hash_token(key) and key not in str(row.__dict__)
    new = integrations.rotate(session, row, clock=clock)
    session.commit()
    assert _post(client, key, am_body([am_alert("X")])).status_code == 401
    assert _post(client, new, am_body([am_alert("X")])).status_code == 202


def _pd(client: FlaskClient, body: dict[str, Any], path: str = PD) -> Any:
    resp = client.post(path, json=body)
    assert_matches_spec(path, "post", resp.status_code, resp.get_json())
    return resp


def test_pagerduty_events_trigger_acknowledge_and_resolve_by_dedup_key(client: FlaskClient, world: World,
                                                                       session: Session, clock: FixedClock) -> None:
    key = _integration(session, world, "pagerduty", clock)
    trigger = {"routing_key": key, "event_action": "trigger",
               "payload": {"summary": "Sign-ups failing", "source": "signup-api", "severity": "critical",
                           "custom_details": {"error_rate": 0.4}},
               "links": [{"href": "https://status.example", "text": "status"}]}
    resp = _pd(client, trigger)
    assert resp.status_code == 202 and resp.get_json()["status"] == "success"
    dedup = resp.get_json()["dedup_key"]
    assert len(dedup) == 32  # generated
    [incident] = _incidents(session)
    assert incident.severity == "sev1" and incident.evidence["custom_details"] == {"error_rate": 0.4}
    assert incident.evidence["links"] == [{"href": "https://status.example", "text": "status"}]
    assert _pd(client, {"routing_key": key, "event_action": "acknowledge", "dedup_key": dedup},
               "/api/v1/alerts/pagerduty/v2/enqueue").status_code == 202
    assert _incidents(session)[0].status == "acknowledged"
    assert _pd(client, {"routing_key": key, "event_action": "resolve", "dedup_key": dedup}).status_code == 202
    assert _incidents(session)[0].status == "resolved"


@pytest.mark.parametrize(("body", "says"), [
    ({"event_action": "trigger"}, "routing_key: is required"),
    ({"event_action": "explode"}, "event_action: 'explode' is not one of"),
    ({"event_action": "resolve"}, "dedup_key: is required"),
    ({"event_action": "trigger", "payload": {"summary": "s", "source": "x", "severity": "dire"}},
     "payload.severity: 'dire' is not a severity"),
    ({"event_action": "trigger", "payload": {"source": "x", "severity": "info"}}, "payload.summary: is required"),
])
def test_a_bad_pagerduty_event_gets_400_with_errors_in_pagerdutys_shape(client: FlaskClient, world: World,
                                                                        session: Session, clock: FixedClock,
                                                                        body: dict[str, Any], says: str) -> None:
    key = _integration(session, world, "pagerduty", clock)
    if "routing_key: is required" not in says:
        body = {"routing_key": key, **body}
    resp = _pd(client, body)
    data = resp.get_json()
    assert resp.status_code == 400 and data["status"] == "invalid event"
    assert any(says in e for e in data["errors"]), data


def test_the_generic_webhook_reads_the_configured_field_paths(client: FlaskClient, world: World, session: Session,
                                                              clock: FixedClock) -> None:
    key = _integration(session, world, "webhook", clock, field_paths={
        "title": "check.name", "severity": "check.level", "dedup_key": "check.id", "status": "state",
        "details": "check"})
    body = {"check": {"name": "Bot heartbeat missing", "level": "error", "id": 42}, "state": "alerting"}
    resp = client.post(f"/api/v1/alerts/webhook/{key}", json=body)
    assert resp.status_code == 202 and resp.get_json()["dedup_key"] == "42"
    [incident] = _incidents(session)
    assert (incident.title, incident.severity) == ("Bot heartbeat missing", "sev2")
    assert incident.evidence["details"]["id"] == 42
    done = client.post(f"/api/v1/alerts/webhook/{key}", json={**body, "state": "ok"})
    assert done.get_json()["outcome"] == "resolved"
    bad = client.post(f"/api/v1/alerts/webhook/{key}", json={"check": {"level": "error"}})
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "check.name"


def test_an_unknown_severity_map_value_is_refused_when_the_integration_is_made(world: World, session: Session,
                                                                               clock: FixedClock) -> None:
    with pytest.raises(integrations.IntegrationError, match="severity_map.page: 'p0' is not one of"):
        integrations.create(session, world.community, kind="alertmanager", name="x", clock=clock,
                            severity_map={"page": "p0"})
    parsed = integrations.parse_severity_map("page=sev1, ticket=sev4")
    assert parsed == {"page": "sev1", "ticket": "sev4"}


def test_the_cli_creates_lists_and_rotates_an_integration_and_shows_the_key_once(config: Any) -> None:
    from tests.test_cli import crisis

    assert crisis(config, "community", "create", "lantern").returncode == 0
    out = crisis(config, "integration", "create", "lantern", "--kind", "alertmanager", "--name", "prom",
                 "--severity-map", "page=sev1,ticket=sev4", "--json")
    assert out.returncode == 0, out.stderr
    made = json.loads(out.stdout)
    assert made["key"].startswith("cra_") and made["endpoint"].endswith("/api/v1/alerts/alertmanager")
    assert made["severity_map"] == {"page": "sev1", "ticket": "sev4"}
    listed = crisis(config, "integration", "list", "lantern", "--json")
    assert made["key"] not in listed.stdout and json.loads(listed.stdout)[0]["name"] == "prom"
    rotated = json.loads(crisis(config, "integration", "rotate", str(made["id"]), "--json").stdout)
    assert rotated["key"] != made["key"]
    bad = crisis(config, "integration", "create", "lantern", "--kind", "webhook", "--name", "w",
                 "--field-paths", '{"colour": "x"}')
    assert bad.returncode != 0 and "field_paths.colour: not a field" in bad.stderr


def test_admins_add_integrations_through_the_api_and_managers_only_read_them(client: FlaskClient, world: World,
                                                                            session: Session) -> None:
    from crisis.tenancy import communities

    communities.grant_role(session, world.alice, world.community, "admin")
    session.commit()
    url = f"/api/v1/communities/{world.community.slug}/integrations"
    alice = {"Authorization": f"Bearer {world.tokens['alice']}"}
    made = client.post(url, json={"kind": "pagerduty", "name": "scripts", "default_severity": "sev2"}, headers=alice)
    assert made.status_code == 201 and made.headers["Cache-Control"] == "no-store"
    assert_matches_spec(url, "post", 201, made.get_json())
    listed = client.get(url, headers=alice)
    assert made.get_json()["key"] not in listed.get_data(as_text=True)
    carol = {"Authorization": f"Bearer {world.tokens['carol']}"}  # a moderator
    assert client.post(url, json={"kind": "webhook", "name": "x"}, headers=carol).status_code == 403
    dave = {"Authorization": f"Bearer {world.tokens['dave']}"}  # another community's admin
    assert client.get(url, headers=dave).status_code == 404
    rotate = f"/api/v1/integrations/{made.get_json()['integration']['id']}/rotate"
    assert client.post(rotate, headers=dave).status_code == 404
    bad = client.post(url, json={"kind": "smoke-signal", "name": "x"}, headers=alice)
    assert bad.status_code == 422 and bad.get_json()["field"] == "kind"
