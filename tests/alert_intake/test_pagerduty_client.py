"""The official `pagerduty` client (PyPI) against crisis over HTTPS on loopback (it refuses
http://), with a self-signed certificate it is told to trust: trigger, acknowledge, resolve,
a refused event, and its own retry on crisis's 429 with a real Redis counting."""
from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pagerduty
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server

from crisis import playbooks, runtime
from crisis.alert_intake import integrations
from crisis.api import ratelimit
from crisis.app import create_app
from crisis.clock import SystemClock
from crisis.config import Config
from crisis.models import Incident
from crisis.tenancy import communities


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class Served:
    def __init__(self, app: Flask, cert: Path, url: str, key: str) -> None:
        self.app, self.cert, self.url, self.key = app, cert, url, key
        self.statuses: list[int] = []

    def client(self) -> pagerduty.EventsApiV2Client:
        client = pagerduty.EventsApiV2Client(self.key, base_url=self.url,
                                             verify=ssl.create_default_context(cafile=str(self.cert)))
        client.sleep_timer = 0.5  # its 429 back-off starts at 0.5 s x 2 instead of 1.5 s x 2
        return client

    def incidents(self) -> list[Incident]:
        with self.app.extensions["crisis"].sessions() as s:
            return list(s.scalars(select(Incident).order_by(Incident.id)))


@pytest.fixture
def served(config: Config, redis_url: str, tmp_path: Path) -> Iterator[Served]:
    app = create_app(replace(config, redis_url=redis_url), clock=SystemClock())
    rt = app.extensions["crisis"]
    with rt.sessions() as s:
        playbooks.sync(s, clock=rt.clock)
        community, _ = communities.create_community(s, "lantern", name="Lantern", clock=rt.clock)
        key = integrations.create(s, community, kind="pagerduty", name="scripts", clock=rt.clock).key
        s.commit()
    statuses: list[int] = []

    @app.after_request
    def _seen(resp):  # type: ignore[no-untyped-def]
        statuses.append(resp.status_code)
        return resp

    cert, pem_key = self_signed(tmp_path)
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=(str(cert), str(pem_key)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    out = Served(app, cert, f"https://127.0.0.1:{server.server_port}/api/v1/alerts/pagerduty", key)
    out.statuses = statuses
    yield out
    server.shutdown()
    runtime.reset()


def test_the_official_client_triggers_acknowledges_and_resolves(served: Served) -> None:
    client = served.client()
    dedup = client.trigger("Sign-ups failing", "signup-api", severity="error",
                           custom_details={"error_rate": 0.4}, links=[{"href": "https://status.example"}])
    [incident] = served.incidents()
    assert incident.severity == "sev2" and incident.title == "Sign-ups failing"
    assert incident.evidence["custom_details"] == {"error_rate": 0.4}
    assert client.trigger("Sign-ups failing", "signup-api", dedup_key=dedup, severity="error") == dedup
    assert len(served.incidents()) == 1  # the same dedup_key updates
    assert client.acknowledge(dedup) == dedup
    assert served.incidents()[0].status == "acknowledged"
    assert client.resolve(dedup) == dedup
    assert served.incidents()[0].status == "resolved"


def test_the_client_raises_on_a_refused_event(served: Served) -> None:
    with pytest.raises(pagerduty.HttpError) as caught:
        served.client().trigger("x", "y", severity="apocalyptic")
    body = caught.value.response.json()
    assert caught.value.response.status_code == 400 and body["status"] == "invalid event"
    assert any("payload.severity" in e for e in body["errors"])


def test_the_clients_retry_on_429_gets_every_event_through(served: Served) -> None:
    served.app.config["RATELIMIT_ALERTS"] = ratelimit.Limit(2, 2)
    client = served.client()
    keys = [client.trigger(f"burst {i}", "loop", dedup_key=f"burst-{i}", severity="info") for i in range(5)]
    assert keys == [f"burst-{i}" for i in range(5)]
    assert 429 in served.statuses  # crisis did refuse some, and the client came back
    assert sorted(i.title for i in served.incidents()) == [f"burst {i}" for i in range(5)]
