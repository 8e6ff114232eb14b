"""Debian's Alertmanager against crisis over loopback HTTP: alerts added with amtool open one
incident per group with the on-call paged (apprise json:// into a loopback receiver), a
second alert updates it without a second page, resolving resolves, and crisis down for a
while loses nothing and doubles nothing (Alertmanager's own retries)."""
from __future__ import annotations

import os
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import BaseWSGIServer, make_server

from crisis.alert_intake import integrations
from crisis.config import Config
from crisis.models import Incident
from tests.engine import stack as st
from tests.engine.helpers import HttpReceiver, SmtpReceiver, receivers  # noqa: F401 -- fixture
from tests.live import wait_for
from tests.servers import ALERTMANAGER, AlertmanagerServer, free_port


@pytest.fixture(scope="module")
def alertmanager_binary() -> None:
    if not ALERTMANAGER.exists():
        if os.environ.get("TEST_REQUIRE_SERVERS"):
            pytest.fail("prometheus-alertmanager is required (TEST_REQUIRE_SERVERS) but not installed; "
                        "run make system-deps")
        pytest.skip("prometheus-alertmanager is not installed (make system-deps)")


class Crisis:
    """The app on a fixed loopback port, so it can go down and come back where Alertmanager posts."""

    def __init__(self, app: Flask) -> None:
        self.app, self.port = app, free_port()
        self.server: BaseWSGIServer | None = None

    def start(self) -> Crisis:
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def _ended() -> str:
    return (datetime.now(timezone.utc) - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_alertmanager_groups_page_once_update_resolve_and_survive_crisis_being_down(
        alertmanager_binary: None, config: Config, receivers: tuple[HttpReceiver, SmtpReceiver]) -> None:
    http, smtp = receivers
    stack = st.build(replace(config, base_url="http://crisis.example.test"), http, smtp)
    with stack.session() as s:
        key = integrations.create(s, s.merge(stack.community), kind="alertmanager", name="prometheus",
                                  clock=stack.app.extensions["crisis"].clock).key
        s.commit()
    crisis = Crisis(stack.app).start()
    am = AlertmanagerServer(f"http://127.0.0.1:{crisis.port}/api/v1/alerts/alertmanager", key).start()

    def incidents(title: str) -> list[Incident]:
        with stack.session() as s:
            return list(s.scalars(select(Incident).where(Incident.title.startswith(title)).order_by(Incident.id)))

    def pages(name: str) -> list[str]:
        return [m.body["title"] for m in http.to("alice") if name in m.body["title"]]

    try:
        am.amtool("alert", "add", "BotDown", "instance=bot-1", "severity=warning",
                  "--annotation=summary=the community bot stopped answering")
        [incident] = wait_for(lambda: incidents("BotDown"), timeout=20, message=f"the incident; {am.log()}")
        assert incident.source == "alert" and incident.severity == "sev3"
        wait_for(lambda: pages("BotDown"), timeout=20, message="alice paged")
        assert "the community bot stopped answering" in http.to("alice")[0].body["message"]

        am.amtool("alert", "add", "BotDown", "instance=bot-2", "severity=warning",
                  "--annotation=summary=the community bot stopped answering")
        wait_for(lambda: incidents("BotDown")[0].evidence.get("alerts_total") == 2, timeout=20,
                 message="the second alert on the same incident")
        [updated] = incidents("BotDown")
        assert updated.id == incident.id
        time.sleep(1)
        assert len(pages("BotDown")) == 1, pages("BotDown")  # the update paged nobody

        for instance in ("bot-1", "bot-2"):
            am.amtool("alert", "add", "BotDown", f"instance={instance}", "severity=warning", f"--end={_ended()}",
                      "--annotation=summary=the community bot stopped answering")
        wait_for(lambda: incidents("BotDown")[0].status == "resolved", timeout=30, message="resolved")

        crisis.stop()  # crisis is down while a new group fires
        am.amtool("alert", "add", "SignupsFailing", "severity=error", "--annotation=summary=sign-ups fail")
        time.sleep(5)
        assert incidents("SignupsFailing") == []
        crisis.start()
        [signups] = wait_for(lambda: incidents("SignupsFailing"), timeout=40,
                             message=f"the group delivered after crisis came back; {am.log()[-2000:]}")
        assert signups.severity == "sev2"
        wait_for(lambda: pages("SignupsFailing"), timeout=20, message="alice paged for sign-ups")
        time.sleep(4)  # two more group intervals: a duplicate would have arrived by now
        assert len(incidents("SignupsFailing")) == 1 and len(pages("SignupsFailing")) == 1
        assert len(incidents("BotDown")) == 1
    finally:
        am.stop()
        crisis.stop()
