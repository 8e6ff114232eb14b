"""Alert integrations on the settings page (admins add them, the key shown once), alert
evidence on the incident page with hostile labels and annotations shown as text, and the
manager dashboard telling detector incidents from alert incidents."""
from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis import playbooks
from crisis.alert_intake import integrations
from crisis.clock import FixedClock
from crisis.models import AlertIntegration, Incident, Notification
from crisis.notify import render
from crisis.tenancy.credentials import hash_token
from tests.conftest import Factory
from tests.engine.conftest import add_channel
from tests.web.conftest import Team, as_user, post

HOSTILE = '<script>alert("xss-label")</script><img src=x onerror=alert(1)>'


def test_an_admin_adds_an_integration_and_sees_its_key_once(client: FlaskClient, team: Team, factory: Factory,
                                                            session: Session) -> None:
    admin = factory.staff("ada@example.test", team.tenant.community, "admin")
    as_user(client, admin)
    resp = post(client, "/c/lantern/settings/integrations", {"kind": "alertmanager", "name": "prom",
                                                             "severity_map": "page=sev1", "auto_resolve": "on"},
                page="/c/lantern/settings")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 201 and resp.headers["Cache-Control"] == "no-store"
    row = session.scalar(select(AlertIntegration))
    assert row is not None and row.severity_map == {"page": "sev1"} and row.auto_resolve
    key = html.split("Authorization: Bearer ", 1)[1].split("<", 1)[0].strip()
    assert hash_token(key) == row.key_hash
    again = client.get("/c/lantern/settings").get_data(as_text=True)
    assert key not in again and "alertmanager · prom" in again


def test_a_manager_cannot_add_one_and_bad_input_is_named(client: FlaskClient, team: Team, factory: Factory,
                                                         session: Session) -> None:
    as_user(client, team.manager)
    refused = post(client, "/c/lantern/settings/integrations", {"kind": "webhook", "name": "x"},
                   page="/c/lantern/settings")
    assert refused.status_code == 403
    admin = factory.staff("ada@example.test", team.tenant.community, "admin")
    as_user(client, admin)
    bad = post(client, "/c/lantern/settings/integrations", {"kind": "webhook", "name": "x",
                                                            "severity_map": "page=p0"}, page="/c/lantern/settings")
    assert bad.status_code == 422 and "severity_map.page: &#39;p0&#39; is not one of" in bad.get_data(as_text=True)
    assert session.scalar(select(AlertIntegration)) is None


def _hostile_alert_incident(client: FlaskClient, team: Team, session: Session, clock: FixedClock) -> Incident:
    playbooks.sync(session, clock=clock)
    add_channel(session, team.tenant.community, "mods", "team", "json://127.0.0.1:9/team", clock)
    key = integrations.create(session, team.tenant.community, kind="alertmanager", name="prom", clock=clock).key
    session.commit()
    body = {"version": "4", "groupKey": f"g{HOSTILE}", "status": "firing",
            "commonLabels": {"alertname": f"Down{HOSTILE}"}, "commonAnnotations": {"summary": f"sum{HOSTILE}"},
            "alerts": [{"status": "firing", "fingerprint": "f1", "labels": {"alertname": f"Down{HOSTILE}",
                                                                             "team": HOSTILE},
                        "annotations": {"summary": f"sum{HOSTILE}", "description": HOSTILE},
                        "generatorURL": "javascript:alert('xss-url')"}]}
    assert client.post("/api/v1/alerts/alertmanager", json=body,
                       headers={"Authorization": f"Bearer {key}"}).status_code == 202
    incident = session.scalar(select(Incident))
    assert incident is not None
    return incident


def test_hostile_alert_labels_are_text_on_the_incident_page(client: FlaskClient, team: Team, session: Session,
                                                            clock: FixedClock) -> None:
    incident = _hostile_alert_incident(client, team, session, clock)
    as_user(client, team.responder)
    html = client.get(f"/c/lantern/incidents/{incident.id}").get_data(as_text=True)
    assert "<script>alert(" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;xss-label&#34;)&lt;/script&gt;" in html
    assert 'href="javascript:' not in html and "javascript:alert(&#39;xss-url&#39;)" in html


def test_hostile_alert_text_reaches_every_template_as_one_line_title_and_plain_text(
        client: FlaskClient, team: Team, session: Session, clock: FixedClock) -> None:
    incident = _hostile_alert_incident(client, team, session, clock)
    rows = list(session.scalars(select(Notification).where(Notification.incident_id == incident.id)))
    assert rows, "the team channel was not told"
    for row in rows:
        assert "\n" not in row.title and HOSTILE in row.body  # plain text; transports escape per channel
    context = {"incident": {"id": 1, "title": incident.title, "kind": "alert", "severity": "sev3",
                            "status": "triggered", "opened_at": "2026-10-05T12:00:00Z", "playbook": "alert v1",
                            "url": "https://crisis.example/i/1", "source": "alert",
                            "details": incident.evidence["alert_text"] + "\x1b[31m\x00"},
               "community": {"slug": "lantern", "name": "Lantern"}, "recipient": "r", "ack_url": "",
               "lockdown_url": "", "lockdown_hours": "", "undo_lockdown_url": "",
               "actor": "a", "note": "n", "update": "u", "level": 2, "round": 1, "due_at": "d",
               "sections": ["s"], "previous_severity": "sev4", "failed_pages": 0,
               "task": {"title": "t", "late_minutes": 5, "owner": "o"},
               "case": {"id": 1, "category": "spam", "subject": "s", "late_minutes": 5, "owner": "o", "url": "u"},
               "mtask": {"title": "t", "instructions": "i", "late_minutes": 5, "url": "u"},
               "public": {"title": "p"}, "phase": "investigating", "phase_label": "Investigating", "status_url": "",
               "silent_minutes": 31, "every_minutes": 30, "page_url": "p", "fallback": False}
    for event, lang in sorted((p.parent.name, p.stem) for p in render.TEMPLATES.glob("*/*.j2")):
        title, body = render.render(event, lang, context)
        assert "\n" not in title and "\x1b" not in body and "\x00" not in body
        if event in ("opened", "reopened", "escalated", "severity_raised", "unreached"):
            assert f"team={HOSTILE}" in body, (event, lang)


def test_the_dashboard_counts_detector_and_alert_incidents_apart(client: FlaskClient, team: Team,
                                                                 session: Session, clock: FixedClock,
                                                                 incident: Incident) -> None:
    _hostile_alert_incident(client, team, session, clock)
    as_user(client, team.manager)
    html = client.get("/dashboard").get_data(as_text=True)
    assert 'id="by-source"' in html
    section = html.split('id="by-source"', 1)[1].split("</section>", 1)[0]
    assert "alert" in section and "manual" in section
