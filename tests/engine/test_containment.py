"""Containment actions through the service and the runner, with a recording executor in
place of the platform (the real homeserver is tests/test_containment_matrix.py): the state
table, approval by role, the receipt written before the change, retries, permanent failure
handed to a person, expiry and undo from the sweeper's clock, release, racing workers."""
from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.bridges.base import ActionFailed, Done, Plan, Prepared
from crisis.clock import FixedClock
from crisis.containment import runner, service
from crisis.containment.states import ACTION, ActionStatus
from crisis.jobs import sweeper
from crisis.jobs.dispatch import InlineJobs
from crisis.jobs.names import Job
from crisis.models import ContainmentAction, ContainmentMove, Incident, PlatformLink, Role, Task
from crisis.playbooks.spec import PlaybookError, validate
from crisis.response import lifecycle, signals
from crisis.runtime import Runtime
from crisis.statemachine import InvalidTransition
from tests.engine.conftest import World

A = ActionStatus
RAIDERS = ["@r1:hs", "@r2:hs", "@r3:hs", "@owner:hs"]


class Recorder:
    """Stands in for a platform: keeps a join rule and bans, counts calls, fails on demand
    (in apply and revert: reading never fails here)."""

    name = "recorder"

    def __init__(self) -> None:
        self.join_rule = "public"
        self.banned: set[str] = set()
        self.calls: list[tuple[str, str, tuple[str, ...]]] = []
        self.fail: list[ActionFailed] = []
        self.slow = 0.0
        self.lock = threading.Lock()

    def _maybe_fail(self) -> None:
        if self.fail:
            raise self.fail.pop(0)

    def prepare(self, plan: Plan, accounts: list[str]) -> Prepared:
        self.calls.append(("prepare", plan.kind, tuple(accounts)))
        return Prepared({"rooms": {r: {"join_rule": self.join_rule, "banned": sorted(self.banned)}
                                   for r in plan.rooms}}, protected={"@owner:hs": "the room's creator"})

    def apply(self, plan: Plan, receipt: dict[str, Any], items: list[str]) -> Done:
        time.sleep(self.slow)
        with self.lock:
            self.calls.append(("apply", plan.kind, tuple(items)))
        self._maybe_fail()
        if plan.kind == "lockdown":
            self.join_rule = str(plan.params["join_rule"])
        else:
            self.banned |= set(items)
        return dict.fromkeys(items, "done")

    def revert(self, plan: Plan, receipt: dict[str, Any], items: list[str]) -> Done:
        self.calls.append(("revert", plan.kind, tuple(items)))
        self._maybe_fail()
        if plan.kind == "lockdown":
            self.join_rule = receipt["rooms"][items[0]]["join_rule"]
        else:
            self.banned -= set(items)
        return dict.fromkeys(items, "undone")


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


class HeldJobs(InlineJobs):
    """Rung jobs are noted, not run: each test runs the runner itself, step by step."""

    def __init__(self) -> None:
        self.rung: list[tuple[Any, ...]] = []

    def ring(self, job: Job, bell: str, *args: Any) -> bool:
        self.rung.append(args)
        return True


@pytest.fixture(autouse=True)
def held(rt: Runtime) -> HeldJobs:
    jobs = HeldJobs()
    rt.jobs = jobs  # type: ignore[misc]  # -- replaces the cached property for this runtime
    return jobs


@pytest.fixture
def linked(session: Session, world: World, clock: FixedClock) -> PlatformLink:
    link = PlatformLink(community_id=world.community.id, platform="matrix", name="matrix", endpoint="http://hs",
                        service_id="crisis-test", sender="@crisis_lantern:hs", inbound_token_hash="h" * 64,
                        outbound_token="x", rooms={"!room": "general"}, silence_after_s=3600,
                        created_at=clock.now(), last_error="", events_received=0, events_skipped=0,
                        disabled=False)
    session.add(link)
    session.commit()
    return link


def _raid(session: Session, world: World, clock: FixedClock, severity: str = "sev2") -> Incident:
    incident = signals.open_detected(session, world.community, episode_key=f"raid:{clock.now().isoformat()}",
                                     kind="raid", severity=severity, title="Raid", opened_at=clock.now(),
                                     evidence={"accounts": RAIDERS, "channel": "general"}, score=30.0,
                                     scope="", clock=clock)
    assert incident is not None
    session.commit()
    return incident


def _run(rt: Runtime, action_id: int, clock: FixedClock, recorder: Recorder | None) -> runner.Outcome:
    return runner.run(rt.sessions, action_id, clock=clock, executors=lambda s, a: recorder)


def _action(session: Session, incident: Incident, step: str) -> ContainmentAction:
    session.expire_all()
    action = session.scalar(select(ContainmentAction).where(ContainmentAction.incident_id == incident.id,
                                                            ContainmentAction.step_id == step))
    assert action is not None
    return action


def test_the_table_allows_only_the_documented_moves() -> None:
    assert ACTION.move("proposed", "approved") == A.APPROVED
    assert ACTION.terminal() == {A.REVERTED, A.FAILED, A.CANCELLED}
    with pytest.raises(InvalidTransition, match="from applied it can go to: expiring"):
        ACTION.move("applied", "reverted")
    with pytest.raises(InvalidTransition):
        ACTION.move("proposed", "applied")


def test_a_sev2_raid_proposes_the_lockdown_and_the_bans_and_applies_nothing(
        session: Session, world: World, clock: FixedClock, linked: PlatformLink) -> None:
    incident = _raid(session, world, clock)
    lockdown, ban = _action(session, incident, "contain"), _action(session, incident, "ban-raiders")
    assert (lockdown.status, ban.status) == ("proposed", "proposed")
    assert lockdown.params == {"join_rule": "knock"} and lockdown.expires_after_s == 7200
    assert lockdown.rooms == ["!room"] and ban.approve_role == "responder"
    assert [t["account"] for t in ban.targets] == RAIDERS


def test_a_sev1_raid_locks_down_by_itself_and_a_raise_to_sev1_does_too(
        session: Session, rt: Runtime, world: World, clock: FixedClock, linked: PlatformLink,
        recorder: Recorder) -> None:
    incident = _raid(session, world, clock, severity="sev1")
    lockdown = _action(session, incident, "contain")
    assert lockdown.status == "approved" and lockdown.approved_by == "playbook"
    assert _run(rt, lockdown.id, clock, recorder).result == "applied"
    assert recorder.join_rule == "knock"
    assert _action(session, incident, "ban-raiders").status == "proposed"  # bans always wait for a person

    clock.advance(timedelta(minutes=1))
    later = _raid(session, world, clock, severity="sev2")
    assert _action(session, later, "contain").status == "proposed"
    signals.update_detected(session, session.get(Incident, later.id), severity="sev1", title="Raid",  # type: ignore[arg-type]
                            observed_at=clock.now(), evidence=later.evidence, score=40, scope="", clock=clock)
    session.commit()
    assert _action(session, later, "contain").status == "approved"


def test_approval_needs_the_role_and_an_irreversible_action_needs_confirmation(
        session: Session, world: World, clock: FixedClock, linked: PlatformLink) -> None:
    incident = _raid(session, world, clock)
    ban = _action(session, incident, "ban-raiders")
    with pytest.raises(service.NotAllowed, match="needs the responder role"):
        service.approve(session, ban, actor="Carol", role=Role.MODERATOR, now=clock.now())
    redact = service.propose(session, incident, "redact", actor="Bob", now=clock.now())
    with pytest.raises(service.ContainmentError, match="confirm"):
        service.approve(session, redact, actor="Bob", role=Role.RESPONDER, now=clock.now())
    service.approve(session, redact, actor="Bob", role=Role.RESPONDER, now=clock.now(), confirm=True)
    assert redact.status == "approved"
    with pytest.raises(service.ContainmentError, match="cannot expire"):
        service.propose(session, incident, "redact", actor="Bob", now=clock.now(), expires_after=timedelta(hours=1))
    with pytest.raises(service.ContainmentError, match="params.join_rule"):
        service.propose(session, incident, "lockdown", actor="Bob", now=clock.now(), params={"join_rule": "open"})


def test_the_allowlist_and_the_cap_leave_accounts_out_of_the_preview(
        session: Session, world: World, clock: FixedClock, linked: PlatformLink) -> None:
    incident = _raid(session, world, clock)
    world.community.settings = {**(world.community.settings or {}), "allow_users": ["@r2:hs"]}
    session.commit()
    seen = service.preview(session, incident, "ban", limit=1)
    assert seen["accounts"] == ["@r1:hs"]
    assert {e["account"]: e["why"] for e in seen["excluded"]} == {
        "@r2:hs": "on the community's allowlist", "@r3:hs": "over the cap of 1 per action",
        "@owner:hs": "over the cap of 1 per action"}


def test_approved_bans_apply_once_skip_the_protected_and_record_every_move(
        session: Session, rt: Runtime, world: World, clock: FixedClock, linked: PlatformLink,
        recorder: Recorder) -> None:
    incident = _raid(session, world, clock)
    ban = _action(session, incident, "ban-raiders")
    service.approve(session, ban, actor="Bob", role=Role.RESPONDER, now=clock.now())
    session.commit()
    assert _run(rt, ban.id, clock, recorder).result == "applied"
    assert _run(rt, ban.id, clock, recorder).result == "skipped"  # a second job finds nothing due
    assert recorder.banned == {"@r1:hs", "@r2:hs", "@r3:hs"}
    ban = _action(session, incident, "ban-raiders")
    assert {t["account"]: t["state"] for t in ban.targets}["@owner:hs"] == "skipped"
    moves = [(m.from_status, m.to_status, m.actor) for m in session.scalars(
        select(ContainmentMove).where(ContainmentMove.action_id == ban.id).order_by(ContainmentMove.id))]
    assert moves == [("", "proposed", "playbook"), ("proposed", "approved", "Bob"),
                     ("approved", "applying", "runner"), ("applying", "applied", "runner")]


def test_a_transient_failure_retries_with_backoff_and_the_receipt_is_kept_from_before_the_change(
        session: Session, rt: Runtime, world: World, clock: FixedClock, linked: PlatformLink,
        recorder: Recorder) -> None:
    incident = _raid(session, world, clock, severity="sev1")
    lockdown = _action(session, incident, "contain")
    recorder.fail = [ActionFailed("HTTP 502 bad gateway", permanent=False)]
    outcome = _run(rt, lockdown.id, clock, recorder)
    assert outcome.result == "retry" and outcome.retry_at == clock.now() + timedelta(seconds=5)
    lockdown = _action(session, incident, "contain")
    assert lockdown.status == "approved" and lockdown.last_error == "HTTP 502 bad gateway"
    assert lockdown.receipt["rooms"]["!room"]["join_rule"] == "public"
    assert _run(rt, lockdown.id, clock, recorder).result == "skipped"  # not due yet
    clock.advance(timedelta(seconds=5))
    recorder.join_rule = "knock"  # as if the failed attempt had reached the platform after all
    assert _run(rt, lockdown.id, clock, recorder).result == "applied"
    assert [c[0] for c in recorder.calls] == ["prepare", "apply", "apply"]  # prepared once
    assert _action(session, incident, "contain").receipt["rooms"]["!room"]["join_rule"] == "public"


def test_a_permanent_failure_is_shown_and_handed_to_a_person(
        session: Session, rt: Runtime, world: World, clock: FixedClock, linked: PlatformLink,
        recorder: Recorder) -> None:
    incident = _raid(session, world, clock, severity="sev1")
    lockdown = _action(session, incident, "contain")
    recorder.fail = [ActionFailed("PUT /state: HTTP 403 M_FORBIDDEN: You don't have permission", permanent=True)]
    assert _run(rt, lockdown.id, clock, recorder).result == "failed"
    lockdown = _action(session, incident, "contain")
    assert lockdown.status == "failed" and "M_FORBIDDEN" in lockdown.last_error
    task = session.get(Task, lockdown.task_id)
    assert task is not None and task.title.startswith("Do by hand: Lock down") and "M_FORBIDDEN" in task.instructions


def test_the_lockdown_reverts_itself_at_its_expiry_through_the_sweeper(
        session: Session, rt: Runtime, world: World, clock: FixedClock, linked: PlatformLink,
        recorder: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("crisis.containment.executors.platform", lambda key: (lambda s, a: recorder))
    rt.jobs = InlineJobs()  # type: ignore[misc]  # -- what the sweeper rings runs at once
    incident = _raid(session, world, clock, severity="sev1")
    sweeper.sweep(rt)  # Redis lost the job: the sweeper applies it
    assert recorder.join_rule == "knock"
    clock.advance(timedelta(hours=1, minutes=59))
    sweeper.sweep(rt)
    assert recorder.join_rule == "knock"
    clock.advance(timedelta(minutes=1))
    sweeper.sweep(rt)
    lockdown = _action(session, incident, "contain")
    assert recorder.join_rule == "public" and lockdown.status == "reverted" and lockdown.reverted_by == "expiry"


def test_undo_and_release_go_back_to_what_the_platform_held(
        session: Session, rt: Runtime, world: World, clock: FixedClock, linked: PlatformLink,
        recorder: Recorder) -> None:
    incident = _raid(session, world, clock)
    ban = _action(session, incident, "ban-raiders")
    service.approve(session, ban, actor="Bob", role=Role.RESPONDER, now=clock.now())
    session.commit()
    _run(rt, ban.id, clock, recorder)
    ban = _action(session, incident, "ban-raiders")
    with pytest.raises(service.ContainmentError, match="not a target"):
        service.release(session, ban, "@stranger:hs", actor="Bob", now=clock.now())
    service.release(session, ban, "@r2:hs", actor="Bob", now=clock.now())
    session.commit()
    assert _run(rt, ban.id, clock, recorder).result == "released"
    assert recorder.banned == {"@r1:hs", "@r3:hs"}
    ban = _action(session, incident, "ban-raiders")
    service.undo(session, ban, actor="Bob", now=clock.now())
    session.commit()
    assert _run(rt, ban.id, clock, recorder).result == "reverted"
    assert recorder.banned == set() and recorder.calls[-1] == ("revert", "ban", ("@r1:hs", "@r3:hs"))
    ban = _action(session, incident, "ban-raiders")
    assert ban.status == "reverted" and ban.reverted_by == "Bob"
    with pytest.raises(service.ContainmentError, match="status"):
        service.undo(session, ban, actor="Bob", now=clock.now())


def test_a_worker_lost_mid_action_is_recovered_and_the_action_applies_once(
        session: Session, rt: Runtime, world: World, clock: FixedClock, linked: PlatformLink,
        recorder: Recorder) -> None:
    incident = _raid(session, world, clock, severity="sev1")
    lockdown = _action(session, incident, "contain")
    session.execute(ContainmentAction.__table__.update().where(ContainmentAction.id == lockdown.id)
                    .values(status="applying", claimed_at=clock.now()))
    session.commit()
    assert _run(rt, lockdown.id, clock, recorder).result == "skipped"
    clock.advance(runner.STALE + timedelta(seconds=1))
    assert runner.recover_stale(rt.sessions, clock=clock) == 1
    assert _run(rt, lockdown.id, clock, recorder).result == "applied"
    assert [c[0] for c in recorder.calls] == ["prepare", "apply"]


def test_two_workers_racing_make_one_platform_call(
        session: Session, rt: Runtime, world: World, clock: FixedClock, linked: PlatformLink,
        recorder: Recorder) -> None:
    incident = _raid(session, world, clock, severity="sev1")
    lockdown = _action(session, incident, "contain")
    recorder.slow = 0.2
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(_run(rt, lockdown.id, clock, recorder).result))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["applied", "skipped"]
    assert [c[0] for c in recorder.calls].count("apply") == 1


def test_without_a_bridge_the_action_becomes_a_task_and_its_expiry_another(
        session: Session, rt: Runtime, world: World, clock: FixedClock) -> None:
    incident = _raid(session, world, clock, severity="sev1")
    lockdown = _action(session, incident, "contain")
    assert lockdown.executor == "manual" and lockdown.rooms == []
    assert _run(rt, lockdown.id, clock, None).result == "applied"
    lockdown = _action(session, incident, "contain")
    first = session.get(Task, lockdown.task_id)
    assert first is not None and first.title.startswith("By hand: Lock down")
    clock.advance(timedelta(hours=2))
    assert _run(rt, lockdown.id, clock, None).result == "reverted"
    lockdown = _action(session, incident, "contain")
    undo = session.get(Task, lockdown.task_id)
    assert undo is not None and undo.id != first.id and undo.title.startswith("Undo by hand")


@pytest.mark.parametrize("step,problem", [
    ({"action": {"kind": "nuke"}}, "steps[0].action.kind: 'nuke' is not a containment action"),
    ({"action": {"kind": "ban"}, "approval": {"auto": {"severities": ["sev1"]}}},
     "steps[0].approval.auto: ban always needs a person to approve it"),
    ({"action": {"kind": "redact"}, "expires_after": "1h"}, "steps[0].expires_after: redact cannot be undone"),
    ({"action": {"kind": "ban"}, "approval": "moderator"}, "steps[0].approval.role: ban needs at least responder"),
    ({"expires_after": "1h"}, "steps[0].expires_after: only a step with an action may have it"),
    ({"action": {"kind": "lockdown", "join_rule": "open"}}, "steps[0].action.join_rule: 'open' is not one of"),
    ({"action": {"kind": "mute", "max_targets": 0}}, "steps[0].action.max_targets: must be an integer from 1"),
])
def test_playbook_validation_names_each_bad_action_field(step: dict[str, Any], problem: str) -> None:
    doc = {"name": "p", "version": 1, "title": "t", "applies_to": {"kinds": ["raid"]},
           "roles": {"commander": {"filled_by": [{"role": "responder"}]}},
           "steps": [{"id": "s", "title": "t", "owner": "commander", "due": "5m", **step}],
           "escalation": {"levels": [{"after": "0m", "notify": [{"role": "responder"}]}]}}
    with pytest.raises(PlaybookError) as raised:
        validate(doc)
    assert any(p.startswith(problem) for p in raised.value.problems), raised.value.problems


def test_a_step_without_an_action_normalises_as_before() -> None:
    doc = {"name": "p", "version": 1, "title": "t", "applies_to": {"kinds": ["raid"]},
           "roles": {"commander": {"filled_by": [{"role": "responder"}]}},
           "steps": [{"id": "s", "title": "t", "owner": "commander", "due": "5m"}],
           "escalation": {"levels": [{"after": "0m", "notify": [{"role": "responder"}]}]}}
    assert set(validate(doc)["steps"][0]) == {"id", "title", "instructions", "owner", "due", "required"}


def test_a_proposal_waiting_for_a_person_follows_the_growing_evidence(
        session: Session, world: World, clock: FixedClock, linked: PlatformLink) -> None:
    incident = _raid(session, world, clock)
    grown = [*RAIDERS, "@r4:hs", "@r5:hs"]
    signals.update_detected(session, incident, severity="sev2", title="Raid", observed_at=clock.now(),
                            evidence={"accounts": grown}, score=30, scope="", clock=clock)
    session.commit()
    assert [t["account"] for t in _action(session, incident, "ban-raiders").targets] == grown


def test_a_person_raising_the_severity_meets_the_playbooks_automatic_lockdown(
        session: Session, world: World, clock: FixedClock, linked: PlatformLink) -> None:
    incident = _raid(session, world, clock)
    assert _action(session, incident, "contain").status == "proposed"
    lifecycle.set_severity(session, incident, "sev1", actor=lifecycle.Actor(world.bob.id, "Bob"), clock=clock)
    session.commit()
    assert _action(session, incident, "contain").status == "approved"


def test_a_step_expiry_the_service_would_refuse_is_refused_by_the_validator() -> None:
    doc = {"name": "p", "version": 1, "title": "t", "applies_to": {"kinds": ["raid"]},
           "roles": {"commander": {"filled_by": [{"role": "responder"}]}},
           "steps": [{"id": "s", "title": "t", "owner": "commander", "due": "5m",
                      "action": {"kind": "lockdown"}, "expires_after": "30s"}],
           "escalation": {"levels": [{"after": "0m", "notify": [{"role": "responder"}]}]}}
    with pytest.raises(PlaybookError, match="expires_after: must be from 1m to 30d"):
        validate(doc)
