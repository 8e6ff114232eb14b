"""Fixtures for page tests: a community with staff in every role and an incident with a playbook."""
from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from crisis import playbooks
from crisis.clock import FixedClock
from crisis.models import Incident
from crisis.response import lifecycle
from tests.conftest import Factory, Staff, Tenant

PASSWORD = "correct horse battery"


def csrf(client: FlaskClient, path: str = "/login") -> str:
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="_csrf" value="([^"]+)"', html)
    assert match, f"no CSRF field on {path}"
    return match.group(1)


def login(client: FlaskClient, email: str) -> None:
    token = csrf(client)
    resp = client.post("/login", data={"email": email, "password": PASSWORD, "_csrf": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)


def post(client: FlaskClient, path: str, data: dict[str, str] | None = None, *, page: str = "/incidents"):  # type: ignore[no-untyped-def]
    return client.post(path, data={**(data or {}), "_csrf": csrf(client, page)})


@dataclass
class Team:
    tenant: Tenant
    moderator: Staff
    responder: Staff
    manager: Staff


@pytest.fixture
def team(factory: Factory) -> Team:
    tenant = factory.community("lantern")
    return Team(tenant, factory.staff("mo@example.test", tenant.community, "moderator"),
                factory.staff("ray@example.test", tenant.community, "responder"),
                factory.staff("meg@example.test", tenant.community, "manager"))


@pytest.fixture
def incident(session: Session, clock: FixedClock, team: Team) -> Incident:
    report, bad = playbooks.sync(session, clock=clock)
    assert not bad, bad
    created = lifecycle.open_manual(session, team.tenant.community, kind="raid", severity="sev2",
                                    title="Raid in #general", description="giftbot spam",
                                    actor=lifecycle.Actor(None, "test"), clock=clock)
    session.commit()
    return created


def as_user(client: FlaskClient, staff: Staff) -> FlaskClient:
    login(client, staff.user.email)
    return client
