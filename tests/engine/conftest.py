"""Engine fixtures: synced playbooks, named staff (alice manager, bob responder, carol
moderator, dave outsider), on-call schedules and loopback receivers."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from crisis import playbooks
from crisis.clock import FixedClock
from crisis.models import Channel, Community, ContactMethod, User
from crisis.tenancy import oncall
from tests.conftest import Factory
from tests.engine.helpers import HttpReceiver


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    r = HttpReceiver().start()
    yield r
    r.stop()


@dataclass
class World:
    community: Community
    ingest_token: str
    alice: User  # manager, primary on call
    bob: User  # responder, secondary on call
    carol: User  # moderator
    dave: User  # staff of another community only
    other: Community
    tokens: dict[str, str]


def add_contact(session: Session, user: User, url: str, clock: FixedClock, label: str = "webhook") -> ContactMethod:
    method = ContactMethod(user_id=user.id, label=label, url=url, created_at=clock.now())
    session.add(method)
    session.commit()
    return method


def add_channel(session: Session, community: Community, name: str, purpose: str, url: str,
                clock: FixedClock) -> Channel:
    channel = Channel(community_id=community.id, name=name, purpose=purpose, url=url, created_at=clock.now())
    session.add(channel)
    session.commit()
    return channel


@pytest.fixture
def world(session: Session, factory: Factory, clock: FixedClock, receiver: HttpReceiver) -> World:
    playbooks.sync(session, clock=clock)
    tenant = factory.community("lantern")
    other = factory.community("harbor").community
    alice = factory.staff("alice@example.test", tenant.community, "manager").user
    bob = factory.staff("bob@example.test", tenant.community, "responder").user
    carol = factory.staff("carol@example.test", tenant.community, "moderator").user
    dave = factory.staff("dave@example.test", other, "admin").user
    for user in (alice, bob, carol, dave):
        user.display_name = user.email.split("@")[0].title()
        add_contact(session, user, receiver.url(user.email.split("@")[0]), clock)
    start = (clock.now().date()).replace(day=1).isoformat()
    oncall.create_schedule(session, tenant.community, name="primary", timezone_name="Europe/Berlin",
                           rotations=[{"participants": [alice.id], "shift_hours": 168, "start_date": start}],
                           clock=clock)
    oncall.create_schedule(session, tenant.community, name="secondary", timezone_name="Asia/Shanghai",
                           rotations=[{"participants": [bob.id], "shift_hours": 168, "start_date": start}],
                           clock=clock)
    session.commit()
    tokens = {name: factory.personal_token(user) for name, user in
              (("alice", alice), ("bob", bob), ("carol", carol), ("dave", dave))}
    return World(tenant.community, tenant.token, alice, bob, carol, dave, other, tokens)


def auth(world: World, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[who]}"}
