"""Rules, penalties and appeals through the services: rules as versioned data with field
errors, the ladder climbing with repeat offences (and forgetting past the window), the
containment action each step names (by hand without a bridge, on the platform with one,
through a recording executor in place of the homeserver), approval by role, expiry from
the sweeper's clock, and appeals that uphold, reduce or lift, undoing what is in force."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.clock import FixedClock
from crisis.containment import runner
from crisis.jobs import sweeper
from crisis.models import ContainmentAction, MemberMessage, ModerationTask, Penalty, PlatformLink, Role
from crisis.moderation import appeals, penalties, rulebook, rules, tasks
from crisis.moderation.penalties import By
from crisis.runtime import Runtime
from crisis.tenancy import communities
from tests.engine.conftest import World
from tests.engine.test_containment import HeldJobs, Recorder

CAROL = By("Carol", None, Role.MODERATOR)
BOB = By("Bob", None, Role.RESPONDER)
MEMBER = "@troll:hs"


@pytest.fixture
def synced(session: Session, world: World, clock: FixedClock) -> World:
    report, bad = rulebook.sync(session, clock=clock)
    session.commit()
    assert not bad and "lantern v1 (default)" in report.created
    return world


def _by(world: World, who: str) -> By:
    user = {"bob": world.bob, "carol": world.carol, "alice": world.alice}[who]
    role = {"bob": Role.RESPONDER, "carol": Role.MODERATOR, "alice": Role.MANAGER}[who]
    return By(user.display_name, user.id, role)


def _action(session: Session, penalty: Penalty) -> ContainmentAction:
    session.expire_all()
    action = session.get(ContainmentAction, penalty.action_id)
    assert action is not None
    return action


@pytest.fixture
def held(rt: Runtime) -> HeldJobs:
    jobs = HeldJobs()
    rt.jobs = jobs  # type: ignore[misc]  # -- replaces the cached property for this runtime
    return jobs


@pytest.fixture
def linked(session: Session, world: World, clock: FixedClock, held: HeldJobs) -> PlatformLink:
    link = PlatformLink(community_id=world.community.id, platform="matrix", name="matrix", endpoint="http://hs",
                        service_id="crisis-test", sender="@crisis_lantern:hs", inbound_token_hash="h" * 64,
                        outbound_token="x", rooms={"!room": "general", "!other": "offtopic"}, silence_after_s=3600,
                        created_at=clock.now(), last_error="", events_received=0, events_skipped=0, disabled=False)
    session.add(link)
    session.commit()
    return link


# ---- rules as data ----------------------------------------------------------------------------
@pytest.mark.parametrize(("doc", "problem"), [
    ({"rules": []}, "rules: must be a list of 1 to 100 rules"),
    ({"rules": [{"id": "No Spam", "title": "x", "ladder": [{"penalty": "warn"}]}]}, "rules[0].id: must be"),
    ({"rules": [{"id": "a", "ladder": [{"penalty": "warn"}]}]}, "rules[0].title: is required"),
    ({"rules": [{"id": "a", "title": {"fr": "x"}, "ladder": [{"penalty": "warn"}]}]},
     "rules[0].title.fr: is not a language here"),
    ({"rules": [{"id": "a", "title": "x", "ladder": [{"penalty": "mute"}]}]},
     "rules[0].ladder[0].duration: a mute needs a duration"),
    ({"rules": [{"id": "a", "title": "x", "ladder": [{"penalty": "warn", "duration": "1h"}]}]},
     "rules[0].ladder[0].duration: a warn has no duration"),
    ({"rules": [{"id": "a", "title": "x", "ladder": [{"penalty": "ban", "action": "mute"}]}]},
     "rules[0].ladder[0].action: a ban is carried out by ban or none"),
    ({"rules": [{"id": "a", "title": "x", "ladder": [{"penalty": "ban"}, {"penalty": "warn"}]}]},
     "rules[0].ladder[1].penalty: a repeat offence cannot be met with less (warn after ban)"),
    ({"rules": [{"id": "a", "title": "x", "ladder": [{"penalty": "warn"}]}] * 2}, "rules[1].id: 'a' is used"),
    ({"offence_window": "2y", "rules": [{"id": "a", "title": "x", "ladder": [{"penalty": "warn"}]}]},
     "offence_window: '2y' is not a duration"),
    ({"rules": [{"id": "a", "title": "x", "categories": ["rude"], "ladder": [{"penalty": "warn"}]}]},
     "rules[0].categories: must be a list drawn from"),
])
def test_rules_validation_names_each_bad_field(doc: dict[str, Any], problem: str) -> None:
    with pytest.raises(rules.RulebookError) as err:
        rules.validate(doc)
    assert any(p.startswith(problem) for p in err.value.problems), err.value.problems


def test_a_ladder_step_defaults_to_the_containment_action_of_its_penalty() -> None:
    spec = rules.validate({"rules": [{"id": "a", "title": {"zh": "友善"}, "ladder": [
        {"penalty": "warn"}, {"penalty": "mute", "duration": "1h"}, {"penalty": "remove"}, {"penalty": "ban"},
        {"penalty": "ban", "action": "none"}]}]})
    assert [s["action"] for s in spec["rules"][0]["ladder"]] == ["none", "mute", "kick", "ban", "none"]
    assert spec["rules"][0]["title"] == {"en": "", "zh": "友善"}
    assert rules.text_in(spec["rules"][0]["title"], "en") == "友善"  # the other language when one is missing


def test_the_default_rules_are_stored_once_per_community_and_an_edit_is_a_new_version(
        session: Session, synced: World, clock: FixedClock) -> None:
    again, _ = rulebook.sync(session, clock=clock)
    assert "lantern v1 (default)" in again.unchanged
    v1 = rulebook.latest(session, synced.community.id)
    assert v1 is not None and v1.origin == "default" and len(v1.spec["rules"]) == 5
    penalty = penalties.apply(session, synced.community, MEMBER, "no-spam", by=CAROL, now=clock.now())
    edited = {**v1.spec, "rules": [r if r["id"] != "no-spam" else {**r, "ladder": [{"penalty": "ban"}]}
                                   for r in v1.spec["rules"]]}
    v2 = rulebook.create_version(session, synced.community, edited, clock=clock, user_id=synced.alice.id)
    assert v2.version == 2 and rulebook.diff(v1, v2)["rules_changed"] == ["no-spam"]
    with pytest.raises(rules.RulebookError, match="nothing changed since version 2"):
        rulebook.create_version(session, synced.community, edited, clock=clock, user_id=None)
    assert penalty.rulebook_version == 1 and penalty.kind == "warn"  # pinned: the edit changes later ones only
    later = penalties.apply(session, synced.community, MEMBER, "no-spam", by=BOB, now=clock.now())
    assert (later.rulebook_version, later.kind) == (2, "ban")


def test_a_file_that_changed_without_a_new_version_is_refused(session: Session, synced: World, clock: FixedClock,
                                                              tmp_path: Any) -> None:
    text = rulebook.default_text()
    (tmp_path / "lantern.yaml").write_text(text.replace("version: 1", "version: 2"))
    report, _ = rulebook.sync(session, clock=clock, directory=tmp_path)
    assert report.created == ["lantern v2"]
    (tmp_path / "lantern.yaml").write_text(text.replace("version: 1", "version: 2").replace("24h", "48h"))
    report, _ = rulebook.sync(session, clock=clock, directory=tmp_path)
    assert report.refused and "its version is still 2" in report.refused[0]


# ---- the ladder ----------------------------------------------------------------------------------
def test_repeat_offences_climb_the_ladder_and_its_last_step_repeats(session: Session, synced: World,
                                                                     clock: FixedClock) -> None:
    got = []
    for _ in range(5):
        p = penalties.apply(session, synced.community, MEMBER, "be-kind", by=BOB, now=clock.now())
        got.append((p.level, p.kind, p.duration_s))
        clock.advance(timedelta(days=8))  # past each mute, so none overlaps
    assert got == [(0, "warn", None), (1, "mute", 86400), (2, "mute", 604800), (3, "ban", None), (3, "ban", None)]
    # Another rule has its own ladder; another member starts at its bottom.
    assert penalties.apply(session, synced.community, MEMBER, "no-spam", by=BOB, now=clock.now()).kind == "warn"
    assert penalties.apply(session, synced.community, "@else:hs", "be-kind", by=BOB, now=clock.now()).kind == "warn"


def test_offences_older_than_the_window_are_forgotten_and_a_lifted_one_never_counts(
        session: Session, synced: World, clock: FixedClock) -> None:
    first = penalties.apply(session, synced.community, MEMBER, "no-spam", by=BOB, now=clock.now())
    clock.advance(timedelta(days=181))
    assert penalties.apply(session, synced.community, MEMBER, "no-spam", by=BOB, now=clock.now()).level == 0
    appeal = appeals.file(session, first, "it was a joke", filed_by="member", now=clock.now())
    assert first.status == "active"  # a warning stays on the record
    appeals.decide(session, appeal, "lifted", note="fair enough", by=BOB, now=clock.now())
    assert first.status == "lifted"
    preview = penalties.preview(session, synced.community, MEMBER, "no-spam", now=clock.now())
    assert preview["earlier_offences"] == 1 and preview["penalty"] == "mute"


def test_unknown_rules_and_members_are_refused_with_the_field(session: Session, synced: World,
                                                              clock: FixedClock) -> None:
    with pytest.raises(penalties.PenaltyError, match=r"rule: 'nope' is not one of this community's rules \(be-kind"):
        penalties.apply(session, synced.community, MEMBER, "nope", by=BOB, now=clock.now())
    with pytest.raises(penalties.PenaltyError, match="member: must be"):
        penalties.apply(session, synced.community, "  ", "no-spam", by=BOB, now=clock.now())
    fresh, _ = communities.create_community(session, "quiet", name="Quiet", clock=clock)  # after the sync
    with pytest.raises(penalties.PenaltyError, match="rule: this community has no rules yet"):
        penalties.apply(session, fresh, MEMBER, "no-spam", by=BOB, now=clock.now())


# ---- carried out ------------------------------------------------------------------------------
def test_without_a_bridge_a_mute_becomes_a_task_and_its_expiry_another(
        session: Session, rt: Runtime, synced: World, clock: FixedClock) -> None:
    penalties.apply(session, synced.community, MEMBER, "no-spam", by=CAROL, now=clock.now())  # a warning
    mute = penalties.apply(session, synced.community, MEMBER, "no-spam", by=CAROL, now=clock.now())
    session.commit()  # inline jobs carry the approved action out after the commit
    action = _action(session, mute)
    assert (mute.kind, action.kind, action.executor, action.status) == ("mute", "mute", "manual", "applied")
    assert action.incident_id is None and action.approved_by == "Carol"  # a moderator may approve a mute
    [task] = tasks.open_in(session, synced.community.id)
    assert task.title.startswith("By hand: Mute accounts") and MEMBER in task.instructions
    assert action.receipt == {"manual": True, "moderation_task_id": task.id}

    clock.advance(timedelta(hours=1, seconds=1))
    counts = sweeper.sweep(rt)
    assert counts["penalties_expired"] == 1
    session.expire_all()
    assert session.get(Penalty, mute.id).status == "expired"  # type: ignore[union-attr]
    assert _action(session, mute).status == "reverted"
    titles = [t.title for t in tasks.open_in(session, synced.community.id)]
    assert any(t.startswith("Undo by hand: Mute accounts") for t in titles)


def test_a_moderators_ban_waits_for_a_responder(session: Session, synced: World, clock: FixedClock) -> None:
    ban = penalties.apply(session, synced.community, MEMBER, "no-scams", by=CAROL, now=clock.now())
    action = _action(session, ban)
    assert action.status == "proposed" and "waiting for a responder" in ban.enforcement
    with pytest.raises(penalties.PenaltyError, match="needs the responder role"):
        penalties.approve_action(session, ban, by=CAROL, now=clock.now())
    penalties.approve_action(session, ban, by=BOB, now=clock.now())
    assert action.status == "approved" and action.approved_by == "Bob"


def test_an_allowlisted_member_is_penalised_on_record_but_not_on_the_platform(
        session: Session, synced: World, clock: FixedClock) -> None:
    synced.community.settings = {**(synced.community.settings or {}), "allow_users": [MEMBER]}
    ban = penalties.apply(session, synced.community, MEMBER, "no-scams", by=BOB, now=clock.now())
    assert ban.action_id is None and "on the community's allowlist" in ban.enforcement


def test_through_the_bridge_a_ban_is_carried_out_and_lifting_it_on_appeal_unbans(
        session: Session, rt: Runtime, synced: World, clock: FixedClock, linked: PlatformLink) -> None:
    recorder = Recorder()
    ban = penalties.apply(session, synced.community, MEMBER, "no-scams", by=BOB, now=clock.now())
    session.commit()
    action = _action(session, ban)
    assert action.rooms == ["!other", "!room"] and action.reason.startswith("No scams or phishing (rule no-scams")
    assert runner.run(rt.sessions, action.id, clock=clock, executors=lambda s, a: recorder).result == "applied"
    assert recorder.banned == {MEMBER}
    told = session.scalar(select(MemberMessage).where(MemberMessage.penalty_id == ban.id))
    assert told is not None and told.recipient == MEMBER and "/p/lantern/penalties/" in told.body

    appeal = appeals.file(session, ban, "I was hacked", filed_by="member", now=clock.now())
    with pytest.raises(appeals.AppealError, match="already waiting"):
        appeals.file(session, ban, "again", filed_by="member", now=clock.now())
    with pytest.raises(appeals.AppealError, match="note: write"):
        appeals.decide(session, appeal, "lifted", note=" ", by=BOB, now=clock.now())
    appeals.decide(session, appeal, "lifted", note="account recovered", by=BOB, now=clock.now())
    session.commit()
    assert (ban.status, appeal.status, appeal.decided_by) == ("lifted", "lifted", "Bob")
    assert runner.run(rt.sessions, action.id, clock=clock, executors=lambda s, a: recorder).result == "reverted"
    assert recorder.banned == set()
    causes = set(session.scalars(select(MemberMessage.cause)))
    assert {f"penalty{ban.id}:applied", f"appeal{appeal.id}:decided"} <= causes


def test_a_reduced_ban_becomes_a_mute_and_the_ban_is_undone(
        session: Session, rt: Runtime, synced: World, clock: FixedClock, linked: PlatformLink) -> None:
    recorder = Recorder()
    for _ in range(3):  # be-kind: warn, mute 24h, mute 7d ... and then a ban
        penalties.apply(session, synced.community, MEMBER, "be-kind", by=BOB, now=clock.now())
        clock.advance(timedelta(days=8))
    ban = penalties.apply(session, synced.community, MEMBER, "be-kind", by=BOB, now=clock.now())
    session.commit()
    assert runner.run(rt.sessions, ban.action_id, clock=clock, executors=lambda s, a: recorder).result == "applied"  # type: ignore[arg-type]
    options = [(s.level, s.penalty, s.duration) for s in penalties.milder_steps(session, ban)]
    assert options == [(0, "warn", None), (1, "mute", timedelta(hours=24)), (2, "mute", timedelta(days=7))]
    appeal = appeals.file(session, ban, "sorry", filed_by="Alice", filed_by_id=synced.alice.id, now=clock.now())
    with pytest.raises(appeals.AppealError, match="reduce_to: pick a milder step"):
        appeals.decide(session, appeal, "reduced", note="first ban", by=BOB, now=clock.now(), reduce_to=3)
    appeals.decide(session, appeal, "reduced", note="first ban", by=BOB, now=clock.now(), reduce_to=1)
    session.commit()
    new = session.get(Penalty, appeal.reduced_to_id)
    assert new is not None and (new.kind, new.duration_s, new.replaces_id, ban.status) == ("mute", 86400, ban.id,
                                                                                           "reduced")
    assert runner.run(rt.sessions, ban.action_id, clock=clock, executors=lambda s, a: recorder).result == "reverted"  # type: ignore[arg-type]
    assert runner.run(rt.sessions, new.action_id, clock=clock, executors=lambda s, a: recorder).result == "applied"  # type: ignore[arg-type]
    assert recorder.banned == {MEMBER}  # the recorder keeps every held account in one set: now the mute


def test_an_upheld_appeal_changes_nothing_and_a_decided_one_cannot_be_decided_again(
        session: Session, synced: World, clock: FixedClock) -> None:
    ban = penalties.apply(session, synced.community, MEMBER, "no-scams", by=BOB, now=clock.now())
    appeal = appeals.file(session, ban, "please", filed_by="member", now=clock.now())
    appeals.decide(session, appeal, "upheld", note="the link was phishing", by=BOB, now=clock.now())
    assert ban.status == "active" and _action(session, ban).status in ("approved", "applied")
    with pytest.raises(appeals.AppealError, match="cannot move an appeal from upheld"):
        appeals.decide(session, appeal, "lifted", note="changed my mind", by=BOB, now=clock.now())


def test_an_overdue_moderation_task_notifies_the_moderators_once(
        session: Session, rt: Runtime, synced: World, clock: FixedClock) -> None:
    penalties.apply(session, synced.community, MEMBER, "no-scams", by=BOB, now=clock.now())
    session.commit()
    assert session.scalar(select(ModerationTask.id)) is not None
    clock.advance(timedelta(minutes=16))
    assert tasks.notify_overdue(rt.sessions, clock=clock) == 1
    assert tasks.notify_overdue(rt.sessions, clock=clock) == 0
    from crisis.models import Notification

    rows = list(session.scalars(select(Notification).where(Notification.event == "moderation_task_overdue")))
    assert {r.recipient_label.split(" (")[0] for r in rows} == {"Alice", "Bob", "Carol"}
    assert all(r.incident_id is None and "By hand: Ban accounts" in r.title for r in rows)
