"""A raid through the ingest API, a real rq worker with its scheduler, real Redis, and
real receivers: json:// over HTTP on loopback and mailto:// into aiosmtpd."""
from __future__ import annotations

import email
import email.policy
import re
import time
from dataclasses import replace
from pathlib import Path

from sqlalchemy import select

from crisis import runtime
from crisis.config import Config
from crisis.models import EscalationTimer, Notification
from tests.engine import stack as st
from tests.engine.helpers import HttpReceiver, SmtpReceiver, receivers  # noqa: F401 -- fixture
from tests.live import wait_for


def mail_text(raw: str) -> str:
    message = email.message_from_string(raw, policy=email.policy.default)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return f"{message['subject']}\n{body.get_content()}"


def ack_path(text: str) -> str:
    found = re.search(r"/ack/[A-Za-z0-9_.\-]+", text)
    assert found, f"no acknowledge link in {text!r}"
    return found.group(0)


def test_it_runs_a_raid_end_to_end(redis_config: Config, tmp_path: Path,
                                   receivers: tuple[HttpReceiver, SmtpReceiver]) -> None:
    http, smtp = receivers
    config = replace(redis_config, base_url="http://crisis.example.test")
    stack = st.build(config, http, smtp)
    version = st.publish_fast_raid(stack)
    http.fail("team", 2)  # the team channel answers 503 twice, then recovers
    worker = st.start_worker(config, tmp_path / "worker.log")
    try:
        history, raid = st.traffic("lantern")
        st.post(stack, history)
        wait_for(lambda: not stack.incidents() and _processed(stack, len(history)), timeout=120, interval=0.2,
                 message="history processed")
        st.post(stack, raid)
        [incident] = wait_for(stack.incidents, timeout=60, interval=0.1, message="the raid incident")
        assert incident.kind == "raid" and (incident.playbook_name, incident.playbook_version) == ("raid", version)

        # Level 1 (primary: alice, json://) at once, with a working acknowledge link.
        [first] = wait_for(lambda: http.to("alice"), timeout=20, interval=0.05, message="level 1 to alice")
        assert first.body["title"].startswith("[SEV") and "Lantern: Raid" in first.body["title"]
        link = ack_path(first.body["message"])
        page = stack.client.get(link)
        assert page.status_code == 200 and b"Acknowledge as Alice" in page.data  # GET changes nothing

        # Level 2 (secondary: bob, mailto://) after 3 s, because nobody acknowledged.
        [mail] = wait_for(lambda: smtp.messages, timeout=20, interval=0.05, message="level 2 email to bob")
        text = mail_text(mail["data"])
        assert "Escalated (level 2)" in text and mail["to"] == ["bob@example.test"]
        # The receiver answers before the worker records the send; a person reads the mail after both.
        assert wait_for(lambda: _delivery(stack, incident.id, "escalated", "cm:%"), timeout=10, interval=0.05,
                        message="the email delivery's record") == ("sent", 1)
        done = stack.client.post(ack_path(text))
        assert done.status_code == 200 and b"Thank you, Bob" in done.data

        # Escalation stops: level 3 (managers: alice) would have fired 4 s after level 2.
        time.sleep(6)
        # (Alice may also hear the raid grow to sev1 while it was unacknowledged: a raise, not a level.)
        titles = [m.body["title"] for m in http.to("alice")]
        assert titles[0] == first.body["title"] and not any("Escalated" in t for t in titles[1:])
        assert all(t.startswith("[SEV1] Worse:") for t in titles[1:]), titles
        with stack.session() as s:
            timer = s.scalar(select(EscalationTimer).where(EscalationTimer.incident_id == incident.id))
            assert timer is not None and timer.status == "stopped"

        # The failing team channel was retried until it succeeded.
        wait_for(lambda: [m for m in http.to("team") if "Lantern" in m.body["title"]], timeout=30, interval=0.1,
                 message="team channel")

        # The receiver answers before the worker records the outcome: wait for the record.
        assert wait_for(lambda: _delivery(stack, incident.id, "opened", "ch:%"), timeout=10, interval=0.05,
                        message="the team delivery's record") == ("sent", 3)

        detail = stack.client.get(f"/api/v1/incidents/{incident.id}",
                                  headers={"Authorization": f"Bearer {stack.tokens['alice']}"}).get_json()
        messages = [e["message"] for e in detail["timeline"]]
        expected = [
            "Detector opened raid incident",
            f"Running playbook raid v{version}",
            "Escalation level 1 fired: notifying Alice (webhook)",
            "Sent opened notification to Alice (webhook)",
            "Escalation level 2 fired: notifying Bob (email)",
            "Sent escalated notification to Bob (email)",
            "Bob moved the incident triggered → acknowledged via link",
            "Escalation stopped: acknowledged by Bob",
        ]
        positions = [next(i for i, m in enumerate(messages) if m.startswith(text)) for text in expected]
        assert positions == sorted(positions), messages
        team_entries = [m for m in messages if "opened notification to #mod-team" in m]
        assert [m.split(" ", 2)[:2] for m in team_entries] == [["Attempt", "1"], ["Attempt", "2"], ["Sent", "opened"]]
        at = [e["at"] for e in detail["timeline"]]
        assert at == sorted(at)
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-2000:]
    finally:
        st.stop_worker(worker)
        runtime.reset()


def _delivery(stack: st.Stack, incident_id: int, event: str, destination: str) -> tuple[str, int] | None:
    """The recorded outcome of one delivery, or None while it is unwritten or still sending."""
    with stack.session() as s:
        row = s.scalar(select(Notification).where(Notification.incident_id == incident_id,
                                                  Notification.destination.like(destination),
                                                  Notification.event == event))
        return None if row is None or row.status == "sending" else (row.status, row.attempts)


def _processed(stack: st.Stack, count: int) -> bool:
    from crisis.ingest import backlog

    with stack.session() as s:
        return bool(backlog.consumed_count(s) >= count)
