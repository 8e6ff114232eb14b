"""Timeline lines the service writes are stored in English and shown in the reader's language:
a Chinese moderator reads the detector's, the playbook's and escalation's lines in Chinese,
while the API, exports and the English page keep the English text; names and titles inside
a line are never translated and are escaped."""
from __future__ import annotations

from types import SimpleNamespace

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.clock import FixedClock
from crisis.models import Incident, TimelineEntry
from crisis.response import lifecycle
from crisis.response.states import IncidentStatus
from crisis.timeline import N_, joined, said
from crisis.web.i18n import timeline_text
from tests.web.conftest import Team, as_user, csrf


def _entry(message: str, spoken: dict[str, object] | None) -> SimpleNamespace:
    return SimpleNamespace(message=message, data={"said": spoken} if spoken is not None else {})


def test_a_said_line_renders_its_english_and_keeps_nested_templates() -> None:
    line = said(N_("Escalation stopped: %(why)s"),
                why=said(N_("%(status)s by %(actor)s"), words=("status",), status="acknowledged", actor="Bob"))
    assert line.english() == "Escalation stopped: acknowledged by Bob"
    assert line.as_data() == {"t": "Escalation stopped: %(why)s", "w": [],
                              "v": {"why": {"t": "%(status)s by %(actor)s", "v": {"status": "acknowledged",
                                                                                  "actor": "Bob"},
                                            "w": ["status"]}}}
    assert joined([said(N_("owner → %(owner)s"), owner="Ann"), "x"]).english() == "owner → Ann, x"


def test_it_renders_a_line_in_chinese_translating_only_the_vocabulary(app: Flask) -> None:
    line = said(N_("Escalation stopped: %(why)s"),
                why=said(N_("%(status)s by %(actor)s"), words=("status",), status="acknowledged",
                         actor="acknowledged"))  # a person may be called anything: names stay as they are
    entry = _entry(line.english(), line.as_data())
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert timeline_text(entry) == "升级已停止：acknowledged 已确认"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert timeline_text(entry) == "Escalation stopped: acknowledged by acknowledged"


def test_a_line_that_does_not_fit_its_template_falls_back_to_the_stored_english(app: Flask) -> None:
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        missing_value = {"t": "Escalation stopped: %(why)s", "v": {}, "w": []}
        assert timeline_text(_entry("Escalation stopped: by hand", missing_value)) == "Escalation stopped: by hand"
        assert timeline_text(_entry("Old line", None)) == "Old line"  # written before templates existed
        assert timeline_text(_entry("Odd", {"t": 3, "v": {}})) == "Odd"


def test_a_chinese_moderator_reads_the_incident_timeline_in_chinese(
        client: FlaskClient, session: Session, clock: FixedClock, team: Team, incident: Incident) -> None:
    lifecycle.transition(session, incident.id, IncidentStatus.ACKNOWLEDGED,
                         actor=lifecycle.Actor(team.moderator.user.id, "Mo <b>", via="web"), clock=clock,
                         note="<script>alert(1)</script>")
    session.commit()
    as_user(client, team.moderator)
    client.post("/locale", data={"locale": "zh_Hans", "next": "/", "_csrf": csrf(client, "/")})
    html = client.get(f"/c/lantern/incidents/{incident.id}").get_data(as_text=True)
    assert "test 开启了 raid 事件：Raid in #general" in html
    assert "正在执行预案 raid v" in html and "升级已启动（事件已开启）" in html
    assert "Mo &lt;b&gt; 将事件从已触发改为已确认（通过网页）：&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)</script>" not in html
    assert "Escalation" not in html.split('class="timeline"', 1)[1].split("</ol>", 1)[0]

    # The stored text, which the API and exports read, stays English.
    messages = list(session.scalars(select(TimelineEntry.message).where(TimelineEntry.incident_id == incident.id)))
    assert "Mo <b> moved the incident triggered → acknowledged via web: <script>alert(1)</script>" in messages
    assert "Escalation armed (incident opened)" in messages

    client.post("/locale", data={"locale": "en", "next": "/", "_csrf": csrf(client, "/")})
    english = client.get(f"/c/lantern/incidents/{incident.id}").get_data(as_text=True)
    assert "Mo &lt;b&gt; moved the incident triggered → acknowledged via web" in english
