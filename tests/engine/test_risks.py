"""The risk register's services: validation naming the field, the change log, flags, the
heat map, and a risk's history of incidents, response times and action items."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from crisis.clock import FixedClock
from crisis.models import Incident, Risk
from crisis.response import lifecycle, postmortems
from crisis.risks import heatmap, history, register
from tests.engine.conftest import World


def _actor(world: World) -> register.Actor:
    return register.Actor(world.alice.id, "Alice")


def _risk(session: Session, world: World, clock: FixedClock, **values: object) -> Risk:
    base = {"title": "Raid through a leaked invite", "likelihood": 4, "impact": 5, "owner_id": world.alice.id,
            "detectors": ["raid"], "playbooks": ["raid"]}
    risk = register.create(session, world.community, {**base, **values}, actor=_actor(world), now=clock.now())
    session.commit()
    return risk


@pytest.mark.parametrize(("values", "problem"), [
    ({"likelihood": 6}, "likelihood: must be a whole number from 1 to 5, got 6"),
    ({"impact": True}, "impact: must be a whole number from 1 to 5, got True"),
    ({"title": "  "}, "title: must be 1 to 200 characters"),
    ({"detectors": ["raid", "raidz"]}, "detectors[1]: 'raidz' is not a detector kind here"),
    ({"playbooks": ["nope"]}, "playbooks[0]: 'nope' is not a playbook here"),
    ({"owner_id": 999}, "owner: user 999 is not staff of this community"),
    ({"colour": "red"}, "colour: not a field of a risk"),
])
def test_it_refuses_bad_fields_naming_them(session: Session, world: World, clock: FixedClock, values: dict[str, object],
                                           problem: str) -> None:
    with pytest.raises(register.RiskError) as caught:
        _risk(session, world, clock, **values)
    assert str(caught.value).startswith(problem)


def test_it_refuses_an_owner_from_another_community(session: Session, world: World, clock: FixedClock) -> None:
    with pytest.raises(register.RiskError, match="^owner: user"):
        _risk(session, world, clock, owner_id=world.dave.id)


def test_it_logs_creation_rescoring_and_edits(session: Session, world: World, clock: FixedClock) -> None:
    risk = _risk(session, world, clock)
    assert risk.review_at == clock.now() + timedelta(days=90)
    clock.advance(timedelta(days=1))
    change = register.update(session, risk, {"likelihood": 2, "impact": 5}, actor=_actor(world), now=clock.now(),
                             note="invites now expire after a day")
    assert change is not None and change.kind == "rescored" and change.changes == {"likelihood": [4, 2]}
    assert register.update(session, risk, {"likelihood": 2}, actor=_actor(world), now=clock.now()) is None
    edited = register.update(session, risk, {"title": "Raid", "impact": 4}, actor=_actor(world), now=clock.now())
    assert edited is not None and edited.kind == "edited"
    session.commit()
    assert [c.kind for c in register.changes_of(session, risk.id)] == ["edited", "rescored", "created"]


def test_it_flags_what_a_prepared_response_lacks(session: Session, world: World, clock: FixedClock) -> None:
    bare = _risk(session, world, clock, title="Brigading", owner_id=None, detectors=[], playbooks=[])
    ready = _risk(session, world, clock)
    staff, names = register.flag_context(session, world.community.id)
    now = clock.now()
    assert register.flags(bare, now=now, staff_ids=staff, playbook_names=names) == ["no_owner", "no_detector",
                                                                                   "no_playbook"]
    assert register.flags(ready, now=now, staff_ids=staff, playbook_names=names) == []
    later = now + timedelta(days=91)
    assert register.flags(ready, now=later, staff_ids=staff, playbook_names=names) == ["review_overdue"]
    register.mark_reviewed(session, ready, next_review_at=later + timedelta(days=90), actor=_actor(world), now=later)
    assert register.flags(ready, now=later, staff_ids=staff, playbook_names=names) == []
    assert register.flags(ready, now=now, staff_ids=staff - {world.alice.id}, playbook_names=names) == ["no_owner"]
    assert register.flags(ready, now=now, staff_ids=staff, playbook_names=names - {"raid"}) == ["unknown_playbook"]


def test_it_places_risks_on_the_heat_map_with_words_for_levels(session: Session, world: World,
                                                               clock: FixedClock) -> None:
    a = _risk(session, world, clock)
    b = _risk(session, world, clock, title="Dispute", likelihood=1, impact=1)
    retired = _risk(session, world, clock, title="Old", likelihood=5, impact=5)
    register.set_status(session, retired, "retired", actor=_actor(world), now=clock.now())
    with pytest.raises(register.RiskError, match="^status: cannot move a risk from retired to retired"):
        register.set_status(session, retired, "retired", actor=_actor(world), now=clock.now())
    risks = register.of(session, world.community.id)
    assert [r.id for r in risks] == [a.id, b.id]  # highest score first, retired left out
    grid = heatmap.grid(risks)
    assert grid[0][3].risks == [a] and (grid[0][3].likelihood, grid[0][3].impact, grid[0][3].score) == (4, 5, 20)
    assert grid[0][3].level == "critical" and grid[4][0].level == "low" and grid[4][0].risks == [b]
    assert [heatmap.level(s) for s in (4, 5, 9, 10, 16, 20)] == ["low", "medium", "medium", "high", "high", "critical"]
    assert heatmap.counts(risks)[4][3] == 1 and heatmap.counts(risks)[0][0] == 1


def test_its_history_lists_matching_incidents_with_times_and_action_items(session: Session, world: World,
                                                                          clock: FixedClock) -> None:
    risk = _risk(session, world, clock, playbooks=[], detectors=["raid"])
    actor = lifecycle.Actor(world.bob.id, "Bob")
    raid = lifecycle.open_manual(session, world.community, kind="raid", severity="sev2", title="Raid", description="",
                                 actor=actor, clock=clock)
    other = lifecycle.open_manual(session, world.community, kind="dispute", severity="sev3", title="Argument",
                                  description="", actor=actor, clock=clock)
    elsewhere = Incident(community_id=world.other.id, kind="raid", title="Not ours", severity="sev2",
                         opened_at=clock.now(), created_at=clock.now())
    session.add(elsewhere)
    clock.advance(timedelta(minutes=4))
    lifecycle.transition(session, raid.id, lifecycle.S.ACKNOWLEDGED, actor=actor, clock=clock)
    clock.advance(timedelta(minutes=36))
    lifecycle.transition(session, raid.id, lifecycle.S.RESOLVED, actor=actor, clock=clock)
    pm = postmortems.for_incident(session, raid.id)
    assert pm is not None  # the raid playbook requires one at sev2
    postmortems.add_action(session, pm, title="Expire invites after a day", owner_id=world.alice.id,
                           due_at=clock.now() + timedelta(days=7), clock=clock)
    session.commit()
    found = history.history(session, risk)
    assert [m.incident.id for m in found.incidents] == [raid.id]
    assert found.incidents[0].why == ("detector",)
    assert found.incidents[0].times.time_to_resolve == 40 * 60 and found.median_resolve == 40 * 60
    assert found.median_detect == 0  # opened by hand: detected as it was written
    assert [item.title for item, _i in found.action_items] == ["Expire invites after a day"]
    assert found.open_action_items == 1

    # A postmortem that re-scores the risk brings its incident into the history, whatever its kind.
    other_pm = postmortems.create_draft(session, other, clock=clock, author_id=world.bob.id)
    register.update(session, risk, {"likelihood": 5}, actor=_actor(world), now=clock.now(), postmortem=other_pm)
    session.commit()
    found = history.history(session, risk)
    assert {m.incident.id: m.why for m in found.incidents} == {raid.id: ("detector",), other.id: ("postmortem",)}
    assert risk in history.risks_for_incident(session, other)
    assert history.risks_for_incident(session, elsewhere) == []


def test_it_refuses_a_postmortem_of_another_community(session: Session, world: World, clock: FixedClock) -> None:
    risk = _risk(session, world, clock)
    incident = Incident(community_id=world.other.id, kind="raid", title="B", severity="sev2", status="resolved",
                        opened_at=clock.now(), created_at=clock.now(), resolved_at=clock.now())
    session.add(incident)
    session.flush()
    pm = postmortems.create_draft(session, incident, clock=clock, author_id=None)
    with pytest.raises(register.RiskError, match="^postmortem_id: no postmortem"):
        register.update(session, risk, {"impact": 1}, actor=_actor(world), now=clock.now(), postmortem=pm)
