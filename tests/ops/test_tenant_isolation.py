"""Tenant isolation over the whole URL map: staff and tokens of community A get 403 or 404
on every route that names one of community B's objects. New routes are covered as they
are added; a route whose arguments this table cannot fill fails the test until it is taught."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.routing import AnyConverter, Rule

from crisis.alert_intake import integrations
from crisis.cases import service as cases
from crisis.clock import FixedClock
from crisis.models import (
    Campaign,
    CampaignIncident,
    Channel,
    ContactMethod,
    ContainmentAction,
    Erasure,
    Incident,
    ModerationTask,
    Risk,
    Schedule,
    Task,
)
from crisis.moderation import appeals, penalties, rulebook
from crisis.tenancy import communities
from tests.conftest import Factory

# Arguments that do not name a community's object: global playbooks, signed ack links, files.
# The Matrix appservice routes name no community: the hs_token picks the link, and so the
# community (tests/test_matrix_appservice.py: a link's token stores into its own community only).
# So do alert senders' routes: the integration key in the path picks the integration (tests/
# alert_intake/test_intake_api.py: one community's key never reaches another's incident).
NOT_TENANT = {"name", "version", "token", "filename", "txn_id", "user_id", "alias", "key"}
ISOLATED = {403, 404}


@dataclass
class Victim:
    slug: str
    ids: dict[str, int]


@pytest.fixture
def victim(session: Session, factory: Factory, clock: FixedClock) -> Victim:
    b = factory.community("harbor")
    owner = factory.staff("bob@example.test", b.community, "admin")
    now = clock.now()
    incident = Incident(community_id=b.community.id, kind="raid", title="B's raid", severity="sev2",
                        status="triggered", source="manual", evidence={}, opened_at=now, created_at=now)
    session.add(incident)
    session.flush()
    task = Task(incident_id=incident.id, step_id="s1", title="B's task", created_at=now)
    schedule = Schedule(community_id=b.community.id, name="primary", created_at=now)
    channel = Channel(community_id=b.community.id, name="modlog", url="json://127.0.0.1:9/x", created_at=now)
    method = ContactMethod(user_id=owner.user.id, url="json://127.0.0.1:9/y", created_at=now)
    session.add_all([task, schedule, channel, method])
    integration = integrations.create(session, b.community, kind="alertmanager", name="prom", clock=clock).integration
    session.flush()
    action = ContainmentAction(incident_id=incident.id, community_id=b.community.id, kind="ban", status="proposed",
                               executor="manual", approve_role="responder", targets=[{"account": "@x:hs",
                                                                                      "state": "pending"}],
                               created_at=now, updated_at=now)
    session.add(action)
    token = communities.issue_personal_token(session, owner.user, clock=clock)
    erasure = Erasure(community_id=b.community.id, status="done", phase="done", tombstone="erased:0123456789",
                      counts={}, created_at=now, finished_at=now)
    session.add(erasure)
    rulebook.sync(session, clock=clock)
    penalty = penalties.apply(session, b.community, "@x:hs", "no-scams", by=penalties.By("Bob"), now=now)
    appeal = appeals.file(session, penalty, "please", filed_by="member", now=now)
    case = cases.open_case(session, b.community, cases.Complaint(subject_kind="member", category="spam",
                                                                 subject_member="@x:hs"), now=now)
    mtask = ModerationTask(community_id=b.community.id, title="B's task", due_at=now, created_at=now)
    session.add(mtask)
    risk = Risk(community_id=b.community.id, title="B's risk", likelihood=3, impact=4, review_at=now,
                created_at=now, updated_at=now)
    session.add(risk)
    campaign = Campaign(first_seen_at=now, last_signal_at=now, created_at=now, updated_at=now)
    session.add(campaign)
    session.flush()
    session.add(CampaignIncident(campaign_id=campaign.id, incident_id=incident.id, community_id=b.community.id,
                                 matched={"accounts": 5}, linked_at=now))
    session.commit()
    return Victim("harbor", {"incident_id": incident.id, "task_id": task.id, "schedule_id": schedule.id,
                             "token_id": token.id, "channel_id": channel.id, "method_id": method.id, "item_id": 1,
                             "integration_id": integration.id, "action_id": action.id, "erasure_id": erasure.id,
                             "penalty_id": penalty.id, "appeal_id": appeal.id, "case_id": case.id,
                             "mtask_id": mtask.id, "risk_id": risk.id,
                             "campaign_id": campaign.id})


def _fill(rule: Rule, victim: Victim, slug: str | None) -> dict[str, object] | None:
    values: dict[str, object] = {}
    if slug is not None and not set(rule.arguments) & set(victim.ids):
        return None  # A's own slug and no object id: A's own page
    for arg in rule.arguments:
        converter = rule._converters.get(arg)  # noqa: SLF001 -- the only way to read a rule's choices
        if arg in NOT_TENANT:
            return None
        if arg == "slug":
            values[arg] = slug or victim.slug
        elif isinstance(converter, AnyConverter):
            values[arg] = sorted(converter.items)[0]
        elif arg in victim.ids:
            values[arg] = victim.ids[arg]
        elif arg == "member":  # a member's record lives under the community's slug
            values[arg] = "@x:hs"
        else:
            pytest.fail(f"{rule.rule}: teach this test what object of community B '{arg}' names")
    return values


def _routes(app: Flask, victim: Victim, slug: str | None = None) -> list[tuple[str, str]]:
    out = []
    for rule in app.url_map.iter_rules():
        # Members' pages are public on purpose (the rules, the complaint form); those naming
        # a case or a penalty carry a signed token, tested in tests/web/test_moderation_pages.py.
        if not rule.arguments or rule.endpoint.startswith("public."):
            continue
        values = _fill(rule, victim, slug)
        if values is None:
            continue
        path = rule.build(values, append_unknown=False)[1]  # type: ignore[index]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append((method, path))
    return out


@pytest.mark.parametrize("under", ["b_slug", "a_slug"])
def test_it_refuses_community_a_everything_of_community_b(app: Flask, client: FlaskClient, factory: Factory,
                                                          victim: Victim, under: str) -> None:
    # b_slug: B's pages and objects by B's slug; a_slug: B's object ids under A's own slug,
    # where a lookup by id alone would leak.
    a = factory.community("lantern")
    alice = factory.staff("alice@example.test", a.community, "admin")
    personal = factory.personal_token(alice.user)
    with client.session_transaction() as sess:
        sess["user_id"] = alice.user.id
        sess["_csrf"] = "csrf-token"
    leaks = []
    routes = _routes(app, victim, slug="lantern" if under == "a_slug" else None)
    assert len(routes) > 20
    for method, path in routes:
        api = path.startswith("/api/")
        token = a.token if path.endswith("/events") else personal
        headers = {"Authorization": f"Bearer {token}"} if api else {"X-CSRF-Token": "csrf-token"}
        resp = client.open(path, method=method, headers=headers, json={} if api and method != "GET" else None,
                           data=None if api else {"_csrf": "csrf-token"})
        if resp.status_code not in ISOLATED:
            leaks.append(f"{method} {path} -> {resp.status_code}")
    assert not leaks, "community A reached community B:\n" + "\n".join(leaks)
