"""/metrics in one process: ingest and detection counters, DB-derived families, valid text format."""
from __future__ import annotations

import subprocess
from datetime import timedelta

from flask.testing import FlaskClient

from crisis.clock import FixedClock, isoformat
from tests.conftest import Factory
from tests.servers import tool


def _events(clock: FixedClock, n: int, prefix: str = "e") -> list[dict[str, object]]:
    now = clock.now()
    return [{"id": f"{prefix}{i}", "type": "message.create" if i % 5 else "x-custom",
             "ts": isoformat(now - timedelta(seconds=n - i)), "actor": {"id": f"u{i % 7}"}, "content": "hi"}
            for i in range(n)]


def _sample(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        metric, _, value = line.rpartition(" ")
        head, _, rest = metric.partition("{")
        got = ",".join(sorted(rest.rstrip("}").split(","))) if rest else ""
        if head == name and got == want:
            return float(value)
    raise AssertionError(f"{name}{{{want}}} not in the exposition")


def test_it_counts_ingested_rejected_and_detected_events(client: FlaskClient, factory: Factory,
                                                           clock: FixedClock) -> None:
    tenant = factory.community("lantern")
    auth = {"Authorization": f"Bearer {tenant.token}"}
    before = client.get("/metrics").get_data(as_text=True)
    assert client.post("/api/v1/communities/lantern/events", json=_events(clock, 10), headers=auth).status_code == 202
    assert client.post("/api/v1/communities/lantern/events", json=[{"id": 1}], headers=auth).status_code == 422
    text = client.get("/metrics").get_data(as_text=True)

    def delta(name: str, **labels: str) -> float:
        try:
            old = _sample(before, name, **labels)
        except AssertionError:
            old = 0.0
        return _sample(text, name, **labels) - old

    assert delta("crisis_events_ingested_total", community="lantern", type="message.create") == 8
    assert delta("crisis_events_ingested_total", community="lantern", type="custom") == 2
    assert delta("crisis_events_rejected_total", reason="invalid_events") == 1
    assert delta("crisis_detector_lag_seconds_count", community="lantern") == 10
    assert _sample(text, "crisis_events_pending") == 0
    assert "crisis_open_incidents" in text and "crisis_incident_time_to_acknowledge_seconds_bucket" in text


def test_it_serves_text_promtool_accepts(client: FlaskClient, factory: Factory, clock: FixedClock) -> None:
    promtool = tool("promtool", "prometheus")
    tenant = factory.community("lantern")
    client.post("/api/v1/communities/lantern/events", json=_events(clock, 3),
                headers={"Authorization": f"Bearer {tenant.token}"})
    body = client.get("/metrics").get_data()
    result = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_it_ships_alerting_rules_promtool_accepts() -> None:
    from crisis.config import ROOT

    promtool = tool("promtool", "prometheus")
    result = subprocess.run([promtool, "check", "rules", str(ROOT / "docs" / "prometheus-rules.yml")],
                            capture_output=True)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
