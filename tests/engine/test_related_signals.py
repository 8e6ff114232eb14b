"""Related signals join the open incident: the rule (crisis.response.related) on plain
facts, then whole streams through the real detectors and incident service (ReplayRun on
the test database): a second raid wave, the mass leave a raid provokes, a dispute moving
channel, and the signals that must still open incidents of their own."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis import playbooks
from crisis.clock import FixedClock
from crisis.models import Community, Incident, IncidentEpisode, Signal, TimelineEntry
from crisis.response import lifecycle, related
from crisis.response.replay import ReplayRun
from crisis.response.states import IncidentStatus
from tests.conftest import Factory
from tests.detection.streams import T0, Stream, iso
from tests.engine.openapi_check import check

AT = datetime(2030, 3, 4, 3, 0, tzinfo=timezone.utc)


# ---- the rule on plain facts -----------------------------------------------------------------
def _new(kind: str = "raid", scope: str = "community", minutes: float = 45, accounts: tuple[str, ...] = ()) \
        -> related.Incoming:
    return related.Incoming(kind, scope, AT + timedelta(minutes=minutes), frozenset(accounts))


def _cand(kinds: tuple[str, ...] = ("raid",), scopes: tuple[str, ...] = ("community",),
          accounts: tuple[str, ...] = (), active: bool = False, last: float = 0) -> related.Candidate:
    return related.Candidate(7, set(kinds), set(scopes), set(accounts), AT + timedelta(minutes=last), active)


def test_it_relates_a_second_raid_wave_within_the_hour() -> None:
    match = related.relate(_new(minutes=45), _cand(last=5))
    assert match is not None and (match.reason, match.detail) == ("follows", {"follows": "raid"})


def test_it_does_not_relate_a_raid_more_than_an_hour_after_the_last_signal() -> None:
    assert related.relate(_new(minutes=66), _cand(last=5)) is None
    assert related.relate(_new(minutes=65), _cand(last=5)) is not None  # the window's edge is inside


def test_an_open_episode_counts_as_activity_now() -> None:
    assert related.relate(_new("mass_leave", minutes=300), _cand(active=True, last=0)) is not None


def test_it_relates_the_mass_leave_a_raid_provokes_but_not_the_reverse() -> None:
    assert related.relate(_new("mass_leave"), _cand(("raid",))).reason == "follows"  # type: ignore[union-attr]
    assert related.relate(_new("raid"), _cand(("mass_leave",))) is None


def test_it_relates_by_shared_accounts_across_kinds() -> None:
    reports = _new("complaint_spike", accounts=("rd1", "rd2", "u9", "u10", "u11"))
    match = related.relate(reports, _cand(("raid",), accounts=tuple(f"rd{i}" for i in range(5))))
    assert match is not None and match.reason == "accounts" and match.detail == {"shared_accounts": 2}


def test_one_shared_account_or_a_small_share_is_not_enough() -> None:
    assert related.relate(_new("dispute", "channel:media", accounts=("u1", "u2")),
                          _cand(("dispute",), ("channel:general",), accounts=("u1", "u3"))) is None
    # 2 of 10 is 20 % of the smaller list: below the 30 % share
    assert related.relate(_new("complaint_spike", accounts=("a", "b", *(f"x{i}" for i in range(8)))),
                          _cand(("dispute",), ("channel:general",),
                                accounts=("a", "b", *(f"y{i}" for i in range(8))))) is None


def test_it_relates_a_dispute_in_the_same_channel_only() -> None:
    same = related.relate(_new("dispute", "channel:general", accounts=("u5", "u6")),
                          _cand(("dispute",), ("channel:general",), accounts=("u1", "u2")))
    assert same is not None and same.detail == {"channel": "general"}
    assert related.relate(_new("dispute", "channel:media", accounts=("u5", "u6")),
                          _cand(("dispute",), ("channel:general",), accounts=("u1", "u2"))) is None


def test_it_prefers_the_strongest_reason_among_candidates() -> None:
    follows = _cand(("raid",), last=30)
    follows.incident_id = 1
    shares = _cand(("complaint_spike",), accounts=("rd1", "rd2"), last=1)
    shares.incident_id = 2
    found = related.best(_new("raid", accounts=("rd1", "rd2")), [follows, shares])
    assert found is not None and (found.incident_id, found.reason) == (2, "accounts")


# ---- streams through the detectors and the incident service ----------------------------------
def replayed(session: Session, clock: FixedClock, stream: Stream) -> ReplayRun:
    playbooks.sync(session, clock=clock)
    run = ReplayRun(session, clock)
    for event in stream.events():
        run.feed(event)
    run.finish()
    session.commit()
    return run


def incidents(session: Session) -> list[Incident]:
    return list(session.scalars(select(Incident).order_by(Incident.id)))


def joined(session: Session, incident: Incident) -> list[IncidentEpisode]:
    return list(session.scalars(select(IncidentEpisode).where(IncidentEpisode.incident_id == incident.id)))


def signal_kinds(session: Session, incident: Incident) -> list[str]:
    return list(session.scalars(select(Signal.kind).where(Signal.incident_id == incident.id).order_by(Signal.id)))


def timeline(session: Session, incident: Incident, kind: str) -> list[str]:
    return list(session.scalars(select(TimelineEntry.message).where(
        TimelineEntry.incident_id == incident.id, TimelineEntry.kind == kind).order_by(TimelineEntry.id)))


def two_waves(seed: int = 3, gap_minutes: float = 45) -> Stream:
    s = Stream(seed=seed)
    s.background(T0, 6)
    s.raid(T0 + 3 * 3600, 12, 60)
    s.raid(T0 + 3 * 3600 + gap_minutes * 60, 12, 60, prefix="rw")
    return s


def test_a_second_raid_wave_45_minutes_later_joins_and_raises_the_incident(session: Session,
                                                                          clock: FixedClock) -> None:
    run = replayed(session, clock, two_waves())
    [incident] = incidents(session)
    [wave] = joined(session, incident)
    assert (wave.kind, wave.reason, wave.detail) == ("raid", "follows", {"follows": "raid"})
    assert wave.opened_at - incident.opened_at == pytest.approx(timedelta(minutes=45), abs=timedelta(seconds=30))
    assert incident.severity == "sev1"  # opened at sev2; the wave that came back raised it one step
    assert timeline(session, incident, "severity") == ["Detector raised severity sev2 → sev1"]
    [attached] = timeline(session, incident, "related")
    assert attached.startswith("Detector attached a related raid signal (it follows the raid within an hour)")
    assert signal_kinds(session, incident).count("raid") >= 2
    # The second wave's accounts join the evidence the containment acts on.
    accounts = incident.evidence["accounts"]
    assert any(a.startswith("rw") for a in accounts) and any(a.startswith("rd") for a in accounts)
    # The detector's own view keeps both episodes: the second opened and joined.
    assert run.outcome.opened == [incident.id] and [i for i, _k in run.outcome.attached] == [incident.id]
    assert wave.closed_at is not None  # the replay ran past its quiet period


def test_a_raid_two_hours_later_opens_its_own_incident(session: Session, clock: FixedClock) -> None:
    replayed(session, clock, two_waves(gap_minutes=120))
    assert [i.kind for i in incidents(session)] == ["raid", "raid"]


def raid_with_leave_and_dispute() -> Stream:
    s = Stream(seed=3)
    s.background(T0, 6)
    s.raid(T0 + 3 * 3600, 30, 120)
    for i in range(40):  # established members leave in the raid's wake
        s.add(T0 + 3 * 3600 + 300 + i * 12, "member.leave", s.members[i])
    s.exchange(T0 + 3 * 3600 + 600, "u300", "u301", 14, channel="media")  # two regulars fall out elsewhere
    return s


def test_the_mass_leave_a_raid_provokes_joins_the_raid_and_an_unrelated_dispute_does_not(
        session: Session, clock: FixedClock) -> None:
    replayed(session, clock, raid_with_leave_and_dispute())
    raid, dispute = incidents(session)
    assert (raid.kind, dispute.kind) == ("raid", "dispute")
    [leave] = joined(session, raid)
    assert (leave.kind, leave.reason) == ("mass_leave", "follows")
    assert "mass_leave" in signal_kinds(session, raid) and "mass_leave" not in signal_kinds(session, dispute)
    # The members who left are the raid's victims: they stay on their signal, out of the raid's accounts.
    leavers = set(session.scalars(select(Signal.evidence).where(Signal.incident_id == raid.id,
                                                                Signal.kind == "mass_leave")).first()["accounts"])
    assert leavers and not leavers & set(raid.evidence["accounts"])
    assert joined(session, dispute) == []
    assert dispute.evidence["channel"] == "media"


def test_a_dispute_moving_channel_with_the_same_pair_joins_it(session: Session, clock: FixedClock) -> None:
    s = Stream(seed=5)
    s.background(T0, 4)
    s.exchange(T0 + 3600, "u10", "u11", 14, channel="media")
    s.exchange(T0 + 3600 + 40 * 60, "u10", "u11", 14, channel="help")
    replayed(session, clock, s)
    [incident] = incidents(session)
    [moved] = joined(session, incident)
    assert (moved.kind, moved.scope, moved.reason) == ("dispute", "channel:help", "accounts")


def test_a_resolved_incident_takes_no_new_signal(session: Session, clock: FixedClock) -> None:
    s = two_waves()
    events = s.events()
    cut = next(i for i, e in enumerate(events) if e["ts"] >= iso_of(T0 + 3 * 3600 + 30 * 60))
    playbooks.sync(session, clock=clock)
    run = ReplayRun(session, clock)
    for event in events[:cut]:  # the replay drains each minute of event time, as a live feed does
        run.feed(event)
    [first] = incidents(session)
    lifecycle.transition(session, first.id, IncidentStatus.RESOLVED, actor=lifecycle.Actor(None, "test"),
                         clock=clock, confirm=True)
    for event in events[cut:]:
        run.feed(event)
    run.finish()
    assert [i.kind for i in incidents(session)] == ["raid", "raid"]


def iso_of(ts: float) -> str:
    return iso(ts)


# ---- resolving while the detector still sees the crisis ----------------------------------------
def _open_raid(session: Session, clock: FixedClock, community: Community) -> Incident:
    from crisis.response import signals

    playbooks.sync(session, clock=clock)
    incident = signals.open_detected(session, community, episode_key="raid:1", kind="raid", severity="sev2",
                                     title="Raid", opened_at=clock.now(), evidence={"accounts": ["rd1"]},
                                     score=3.0, scope="community", clock=clock)
    assert incident is not None
    session.commit()
    return incident


def test_resolving_while_an_episode_is_active_needs_confirmation(session: Session, clock: FixedClock,
                                                                 factory: Factory) -> None:
    incident = _open_raid(session, clock, factory.community("lantern").community)
    actor = lifecycle.Actor(None, "Ray")
    with pytest.raises(lifecycle.EpisodeStillActive, match="the detector still sees its crisis"):
        lifecycle.transition(session, incident.id, IncidentStatus.RESOLVED, actor=actor, clock=clock)
    session.rollback()
    assert session.get(Incident, incident.id).status == "triggered"  # type: ignore[union-attr]
    lifecycle.transition(session, incident.id, IncidentStatus.RESOLVED, actor=actor, clock=clock, confirm=True)
    [moved] = [m for m in timeline(session, incident, "status")]
    assert moved.endswith("(confirmed while the detector still saw the crisis)")


def test_an_open_episode_silent_past_its_quiet_period_no_longer_asks(session: Session, clock: FixedClock,
                                                                       factory: Factory) -> None:
    # The room went silent after the raid, so the detector never saw the event that would
    # close the episode; twenty minutes (the raid's quiet period) later nothing is asked.
    from crisis.detection.episodes import QUIET

    incident = _open_raid(session, clock, factory.community("lantern").community)
    actor = lifecycle.Actor(None, "Ray")
    clock.advance(timedelta(seconds=QUIET["raid"] - 1))
    with pytest.raises(lifecycle.EpisodeStillActive):
        lifecycle.transition(session, incident.id, IncidentStatus.RESOLVED, actor=actor, clock=clock)
    session.rollback()
    clock.advance(timedelta(seconds=1))
    lifecycle.transition(session, incident.id, IncidentStatus.RESOLVED, actor=actor, clock=clock)
    assert incident.status == "resolved" and incident.episode_closed_at is None


def test_a_joined_episode_still_open_also_needs_confirmation(session: Session, clock: FixedClock,
                                                             factory: Factory) -> None:
    from crisis.response import signals

    incident = _open_raid(session, clock, factory.community("lantern").community)
    signals.close_episode(session, incident, at=clock.now(), clock=clock)
    signals.attach(session, incident, related.Match(incident.id, "follows", {"follows": "raid"}),
                   episode_key="leave:1", kind="mass_leave", severity="sev3", title="Mass leave",
                   opened_at=clock.now(), evidence={}, score=20.0, scope="community", clock=clock)
    session.commit()
    with pytest.raises(lifecycle.EpisodeStillActive, match="mass_leave"):
        lifecycle.transition(session, incident.id, IncidentStatus.RESOLVED, actor=lifecycle.Actor(None, "x"),
                             clock=clock)
    session.rollback()
    located = signals.locate(session, incident.community_id, "leave:1")
    assert located is not None and located.episode is not None
    signals.close_episode(session, incident, at=clock.now(), clock=clock, episode=located.episode)
    lifecycle.transition(session, incident.id, IncidentStatus.RESOLVED, actor=lifecycle.Actor(None, "x"),
                         clock=clock)  # nothing open any more: no confirmation asked
    assert incident.status == "resolved"


def test_the_api_answers_409_until_confirmed(client: FlaskClient, session: Session, clock: FixedClock,
                                             factory: Factory) -> None:
    tenant = factory.community("lantern")
    ray = factory.staff("ray@example.test", tenant.community, "responder")
    token = factory.personal_token(ray.user)
    incident = _open_raid(session, clock, tenant.community)
    path = f"/api/v1/incidents/{incident.id}/resolve"
    headers = {"Authorization": f"Bearer {token}"}
    refused = client.post(path, json={}, headers=headers)
    body: dict[str, Any] = check(refused, path, "POST")
    assert refused.status_code == 409 and body["error"] == "episode_active" and body["field"] == "confirm"
    assert "the detector still sees its crisis (raid" in body["message"] and '"confirm": true' in body["message"]
    assert [e["kind"] for e in body["episodes"]] == ["raid"]
    done = client.post(path, json={"confirm": True}, headers=headers)
    detail = check(done, path, "POST")
    assert done.status_code == 200 and detail["status"] == "resolved" and detail["detector_active"] is True
    wrong = client.post(path, json={"confirm": "yes"}, headers=headers)
    assert wrong.status_code == 422 and "confirm" in wrong.get_json()["message"]


def test_the_incident_detail_lists_kinds_and_joined_episodes(client: FlaskClient, session: Session,
                                                            clock: FixedClock, factory: Factory) -> None:
    from crisis.response import signals

    tenant = factory.community("lantern")
    ray = factory.staff("ray@example.test", tenant.community, "responder")
    incident = _open_raid(session, clock, tenant.community)
    signals.attach(session, incident, related.Match(incident.id, "follows", {"follows": "raid"}),
                   episode_key="leave:1", kind="mass_leave", severity="sev3", title="Mass leave",
                   opened_at=clock.now(), evidence={"accounts": ["u1"]}, score=20.0, scope="community", clock=clock)
    session.commit()
    path = f"/api/v1/incidents/{incident.id}"
    resp = client.get(path, headers={"Authorization": f"Bearer {factory.personal_token(ray.user)}"})
    detail = check(resp, path)
    assert detail["kinds"] == ["raid", "mass_leave"] and detail["severity"] == "sev1"
    assert [(e["kind"], e["reason"]) for e in detail["related_episodes"]] == [("mass_leave", "follows")]
    assert [s["kind"] for s in detail["signals"]] == ["raid", "mass_leave"]
    assert detail["evidence"]["accounts"] == ["rd1"]  # a consequence's accounts stay on its signal
    assert detail["campaign"] is None

