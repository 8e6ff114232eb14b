"""Raids across communities: one raid's accounts replayed into two communities link their
incidents into a campaign; a sibling community that opted in catches a raid it would
otherwise miss while the campaign is active; each viewer sees only what the tenant rule
allows (crisis.campaigns)."""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis import migrate, playbooks
from crisis.campaigns import match
from crisis.clock import FixedClock
from crisis.db import make_engine, make_sessionmaker
from crisis.models import Campaign, CampaignIncident, Community, DetectorBoost, Incident, User
from crisis.response.replay import ReplayRun
from crisis.tenancy import communities
from tests.conftest import CURRENT_TIME, Factory
from tests.detection.streams import Stream
from tests.engine.openapi_check import check
from tests.servers import PostgresServer

START = (CURRENT_TIME - timedelta(hours=8)).timestamp()  # event time, before the fixed clock
RAID = START + 3 * 3600
TEMPLATE = "free gems here https://g3ms-drop.example/{i} @everyone"


# ---- the matching rule -----------------------------------------------------------------------
def _ev(accounts: list[str], samples: list[str] = (), domains: dict[str, int] | None = None) -> match.Traits:  # type: ignore[assignment]
    return match.traits({"accounts": accounts, "samples": list(samples), "link_domains": domains or {}})


def test_three_shared_accounts_link_two_fewer_do_not() -> None:
    assert match.compare(_ev(["a", "b", "c", "d"]), _ev(["a", "b", "c", "x"])).to_dict() == {"accounts": 3}
    two = match.compare(_ev(["a", "b", "d"]), _ev(["a", "b", "x"]))
    assert two.accounts == 2 and not two.linked


def test_near_identical_text_links_and_short_or_different_text_does_not() -> None:
    a = _ev([], ["FREE gems here https://g3ms-drop.example/12 @everyone now"])
    b = _ev([], ["free gems here https://g3ms-drop.example/977 @everyone :)"])
    assert match.compare(a, b).fingerprints == 1
    assert not match.compare(_ev([], ["hi all"]), _ev([], ["hi all"])).linked  # too short to be a fingerprint
    assert not match.compare(a, _ev([], ["the patch notes for the new map are out today"])).linked


def test_a_shared_link_domain_links_and_a_mass_mention_is_not_a_domain() -> None:
    assert match.compare(_ev([], domains={"g3ms.example": 4}), _ev([], domains={"g3ms.example": 9})).domains == 1
    assert not match.compare(_ev([], domains={"@mass": 4}), _ev([], domains={"@mass": 9})).linked


def test_spans_an_hour_apart_are_near_and_beyond_are_not() -> None:
    t = CURRENT_TIME
    assert match.near((t, t + timedelta(minutes=10)), (t + timedelta(minutes=70), t + timedelta(minutes=80)))
    assert not match.near((t, t + timedelta(minutes=10)), (t + timedelta(minutes=71), t + timedelta(minutes=80)))


# ---- streams replaying one raid's accounts into several communities --------------------------------
def stream_for(slug: str, seed: int, *, raid_at: float | None = None, prefix: str = "rd", n: int = 20,
               template: str = TEMPLATE, small_at: float | None = None) -> list[dict[str, Any]]:
    """Five hours of a community's ordinary traffic, with a raid by accounts `prefix`0..n-1
    (the same ids in every community given the same prefix) and/or a small plain-text raid
    of six fresh accounts (below the raid detector's normal threshold of eight)."""
    s = Stream(seed=seed)
    s.background(START, 5)
    if raid_at is not None:
        s.raid(raid_at, n, 60, prefix=prefix, template=template)
    if small_at is not None:
        for i in range(6):
            t = small_at + i * 20
            s.add(t, "member.join", f"sm{i}", age_days=1)
            for k in (5, 25):
                s.msg(t + k, f"sm{i}", "come join our friends server for the best free stuff today")
    out = []
    for e in s.events():
        out.append({**e, "community": slug, "id": f"{slug}-{e['id']}"})
    return out


@dataclass
class Operator:
    omar: User  # manager of lantern, harbor and orchard
    lena: User  # moderator of lantern only
    hugo: User  # responder of harbor only
    dave: User  # staff of an unrelated community only
    ids: dict[str, int]
    tokens: dict[str, str]


@pytest.fixture
def operator(session: Session, clock: FixedClock, factory: Factory) -> Operator:
    playbooks.sync(session, clock=clock)
    ids = {slug: factory.community(slug).community.id for slug in ("lantern", "harbor", "orchard", "quarry")}
    omar = factory.staff("omar@example.test", session.get(Community, ids["lantern"]), "manager").user
    for slug in ("harbor", "orchard"):
        communities.grant_role(session, omar, session.get(Community, ids[slug]), "manager")  # type: ignore[arg-type]
    lena = factory.staff("lena@example.test", session.get(Community, ids["lantern"]), "moderator").user
    hugo = factory.staff("hugo@example.test", session.get(Community, ids["harbor"]), "responder").user
    dave = factory.staff("dave@example.test", session.get(Community, ids["quarry"]), "admin").user
    session.commit()
    tokens = {u.email.split("@")[0]: factory.personal_token(u) for u in (omar, lena, hugo, dave)}
    return Operator(omar, lena, hugo, dave, ids, tokens)


def opt_in(session: Session, slug: str, factor: float = 1.6) -> None:
    community = communities.get_community(session, slug)
    community.settings = {**(community.settings or {}), "campaign_boost": factor}
    session.commit()


def replay(session: Session, clock: FixedClock, *streams: list[dict[str, Any]]) -> ReplayRun:
    run = ReplayRun(session, clock)
    for event in sorted((e for s in streams for e in s), key=lambda e: e["ts"]):
        run.feed(event)
    run.finish()
    session.commit()
    return run


def by_community(session: Session) -> dict[str, list[Incident]]:
    slugs = {c.id: c.slug for c in session.scalars(select(Community))}
    out: dict[str, list[Incident]] = {}
    for incident in session.scalars(select(Incident).order_by(Incident.id)):
        out.setdefault(slugs[incident.community_id], []).append(incident)
    return out


def campaigns(session: Session) -> list[list[tuple[int, dict[str, int]]]]:
    return [[(link.incident_id, link.matched) for link in c.links] for c in session.scalars(select(Campaign))]


def test_one_raids_accounts_replayed_into_two_communities_form_one_campaign(
        session: Session, clock: FixedClock, operator: Operator) -> None:
    replay(session, clock, stream_for("lantern", 1, raid_at=RAID), stream_for("harbor", 2, raid_at=RAID + 1200))
    found = by_community(session)
    [lantern], [harbor] = found["lantern"], found["harbor"]
    [links] = campaigns(session)
    assert sorted(i for i, _m in links) == sorted([lantern.id, harbor.id])
    for _incident, matched in links:
        assert matched["accounts"] >= match.MIN_ACCOUNTS and matched["fingerprints"] >= 1 and matched["domains"] == 1
    [campaign] = session.scalars(select(Campaign))
    assert campaign.first_seen_at == lantern.opened_at and campaign.last_signal_at >= harbor.opened_at


def test_the_same_accounts_two_hours_later_are_not_a_campaign(session: Session, clock: FixedClock,
                                                             operator: Operator) -> None:
    replay(session, clock, stream_for("lantern", 1, raid_at=RAID), stream_for("harbor", 2, raid_at=RAID + 7200))
    assert [len(v) for v in by_community(session).values()] == [1, 1] and campaigns(session) == []


def test_unrelated_raids_in_the_same_hour_are_not_a_campaign(session: Session, clock: FixedClock,
                                                            operator: Operator) -> None:
    other = "cheap followers at https://boost-fans.example/{i} best deal, dm me"
    replay(session, clock, stream_for("lantern", 1, raid_at=RAID),
           stream_for("harbor", 2, raid_at=RAID + 1200, prefix="hx", template=other))
    assert [len(v) for v in by_community(session).values()] == [1, 1] and campaigns(session) == []


def three(small_in: str = "orchard") -> list[list[dict[str, Any]]]:
    return [stream_for("lantern", 1, raid_at=RAID), stream_for("harbor", 2, raid_at=RAID + 1200),
            stream_for(small_in, 3, small_at=RAID + 2100)]


def test_an_opted_in_sibling_catches_a_small_raid_while_the_campaign_is_active(
        session: Session, clock: FixedClock, operator: Operator) -> None:
    opt_in(session, "orchard")
    replay(session, clock, *three())
    [small] = by_community(session)["orchard"]
    assert small.kind == "raid" and {a for a in small.evidence["accounts"]} <= {f"sm{i}" for i in range(6)}
    [window] = session.get(DetectorBoost, operator.ids["orchard"]).windows  # type: ignore[union-attr]
    [campaign] = session.scalars(select(Campaign))
    assert window["campaign_id"] == campaign.id
    # The small raid is not in the campaign: six other accounts, other text, no link.
    assert operator.ids["orchard"] not in set(session.scalars(select(CampaignIncident.community_id)))


def test_without_the_opt_in_the_small_raid_stays_below_the_threshold(session: Session, clock: FixedClock,
                                                                    operator: Operator) -> None:
    replay(session, clock, *three())
    assert "orchard" not in by_community(session)
    assert session.get(DetectorBoost, operator.ids["orchard"]) is not None  # the window is there, unused


def test_a_community_without_a_shared_operator_gets_no_window(session: Session, clock: FixedClock,
                                                            operator: Operator) -> None:
    opt_in(session, "quarry")
    replay(session, clock, *three(small_in="quarry"))
    assert "quarry" not in by_community(session)
    assert session.get(DetectorBoost, operator.ids["quarry"]) is None


def test_the_small_raid_alone_is_not_caught_even_when_opted_in(session: Session, clock: FixedClock,
                                                              operator: Operator) -> None:
    opt_in(session, "orchard")
    replay(session, clock, stream_for("orchard", 3, small_at=RAID + 2100))
    assert by_community(session) == {}


def _fresh_replay(url: str, clock: FixedClock) -> tuple[Any, ...]:
    """The three streams in a database of their own, with the operator and the opt-in."""
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as s:
            playbooks.sync(s, clock=clock)
            omar, _pw = communities.create_user(s, "omar@example.test", password="correct horse", clock=clock)
            for slug in ("lantern", "harbor", "orchard"):
                community, _token = communities.create_community(s, slug, name=slug, clock=clock)
                communities.grant_role(s, omar, community, "manager")
            s.commit()
            opt_in(s, "orchard")
            replay(s, clock, *three())
            incidents = [(c, i.kind, i.opened_at, i.severity, i.title) for c, rows in sorted(by_community(s).items())
                         for i in rows]
            windows = [(b.community_id, [(w["start"], w["end"]) for w in b.windows])
                       for b in s.scalars(select(DetectorBoost).order_by(DetectorBoost.community_id))]
            return tuple(incidents), tuple(windows), tuple(map(tuple, campaigns(s)))  # type: ignore[arg-type]
    finally:
        engine.dispose()


def _sqlite(template: Path, path: Path) -> str:
    shutil.copy(template, path)
    return f"sqlite:///{path}"


def test_a_replay_builds_the_same_incidents_campaign_and_windows_again(
        migrated_template: Path, tmp_path: Path, clock: FixedClock) -> None:
    first = _fresh_replay(_sqlite(migrated_template, tmp_path / "a.db"), clock)
    assert len(first[0]) == 3 and first[1]  # the campaign, its windows and the small raid it caught
    assert _fresh_replay(_sqlite(migrated_template, tmp_path / "b.db"), clock) == first


@pytest.mark.postgres
def test_postgresql_builds_the_same_campaign_as_sqlite(migrated_template: Path, tmp_path: Path, clock: FixedClock,
                                                       postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database("campaigns")
    migrate.upgrade(url)
    assert _fresh_replay(url, clock) == _fresh_replay(_sqlite(migrated_template, tmp_path / "a.db"), clock)


def test_the_live_drain_reads_the_window_at_the_next_batch(client: FlaskClient, session: Session,
                                                           clock: FixedClock, operator: Operator) -> None:
    """Through the ingest API (jobs inline): lantern's raid, then harbor's, then orchard's
    traffic; orchard's drains read the campaign window with its settings."""
    opt_in(session, "orchard")
    tokens = {}
    for slug in ("lantern", "harbor", "orchard"):
        tokens[slug] = communities.issue_ingest_token(session, communities.get_community(session, slug),
                                                      clock=clock).token
    session.commit()
    for slug, events in zip(("lantern", "harbor", "orchard"), three(), strict=True):
        for i in range(0, len(events), 400):
            resp = client.post(f"/api/v1/communities/{slug}/events", json=events[i:i + 400],
                               headers={"Authorization": f"Bearer {tokens[slug]}"})
            assert resp.status_code == 202, resp.get_json()
    session.expire_all()
    found = by_community(session)
    assert [len(found[s]) for s in ("lantern", "harbor", "orchard")] == [1, 1, 1]
    assert len(campaigns(session)) == 1


# ---- who sees what ---------------------------------------------------------------------------
@pytest.fixture
def linked(session: Session, clock: FixedClock, operator: Operator) -> dict[str, Incident]:
    replay(session, clock, stream_for("lantern", 1, raid_at=RAID), stream_for("harbor", 2, raid_at=RAID + 1200))
    return {slug: rows[0] for slug, rows in by_community(session).items()}


def _get(client: FlaskClient, path: str, token: str) -> Any:
    resp = client.get(path, headers={"Authorization": f"Bearer {token}"})
    return resp, check(resp, path)


def test_staff_of_one_community_see_only_what_matched_of_the_other(client: FlaskClient, operator: Operator,
                                                                   linked: dict[str, Incident]) -> None:
    lantern = linked["lantern"]
    resp, detail = _get(client, f"/api/v1/incidents/{linked['harbor'].id}", operator.tokens["hugo"])
    campaign = detail["campaign"]
    hidden = [e for e in campaign["incidents"] if not e["visible"]]
    assert campaign["communities"] == 2 and campaign["hidden_incidents"] == 1
    assert hidden == [{"visible": False, "matched": hidden[0]["matched"]}]
    assert hidden[0]["matched"]["accounts"] >= 3
    text = json.dumps(campaign)
    assert "lantern" not in text.lower() and f"\"incident_id\": {lantern.id}" not in text
    assert not any(a in text for a in lantern.evidence["accounts"])  # no account names
    assert campaign["first_seen_at"] == detail["opened_at"]  # only harbor's own time
    [mine] = [e for e in campaign["incidents"] if e["visible"]]
    assert mine["community"] == "harbor" and mine["shared"] is None


def test_a_manager_of_both_sees_both_and_what_they_share(client: FlaskClient, operator: Operator,
                                                         linked: dict[str, Incident]) -> None:
    _resp, body = _get(client, "/api/v1/campaigns", operator.tokens["omar"])
    [campaign] = body["campaigns"]
    assert {e["community"] for e in campaign["incidents"]} == {"lantern", "harbor"}
    assert campaign["hidden_incidents"] == 0
    shared = [e["shared"] for e in campaign["incidents"] if e["shared"]]
    assert shared and shared[0]["domains"] == ["g3ms-drop.example"] and len(shared[0]["accounts"]) >= 3
    assert all(a.startswith("rd") for a in shared[0]["accounts"])
    _resp, one = _get(client, f"/api/v1/campaigns/{campaign['id']}", operator.tokens["omar"])
    assert one["id"] == campaign["id"]
    _resp, active = _get(client, "/api/v1/campaigns?active=true", operator.tokens["omar"])
    assert active["campaigns"] == []  # its last signal is hours before the clock


def test_staff_of_neither_community_are_told_no_such_campaign(client: FlaskClient, operator: Operator,
                                                               linked: dict[str, Incident], session: Session) -> None:
    [campaign] = session.scalars(select(Campaign))
    resp, body = _get(client, f"/api/v1/campaigns/{campaign.id}", operator.tokens["dave"])
    assert resp.status_code == 404 and body["error"] == "not_found"
    _resp, listed = _get(client, "/api/v1/campaigns", operator.tokens["dave"])
    assert listed["campaigns"] == []
    resp, _body = _get(client, f"/api/v1/incidents/{linked['lantern'].id}", operator.tokens["hugo"])
    assert resp.status_code == 404  # the linked incident itself stays another tenant's
    bad = client.get("/api/v1/campaigns?active=soon", headers={"Authorization": f"Bearer {operator.tokens['dave']}"})
    assert bad.status_code == 400 and "active" in bad.get_json()["message"]


# ---- the opt-in setting ---------------------------------------------------------------------
def test_the_campaign_boost_setting_is_validated_and_the_windows_are_not_a_setting(
        client: FlaskClient, operator: Operator) -> None:
    path = "/api/v1/communities/orchard/settings"
    headers = {"Authorization": f"Bearer {operator.tokens['omar']}"}
    ok = client.patch(path, json={"campaign_boost": 1.5}, headers=headers)
    assert check(ok, path, "PATCH")["campaign_boost"] == 1.5 and "campaign_windows" not in ok.get_json()
    for bad in (0.9, 2.5, True, "high"):
        resp = client.patch(path, json={"campaign_boost": bad}, headers=headers)
        assert resp.status_code == 422 and resp.get_json()["errors"][0]["field"] == "campaign_boost"
    resp = client.patch(path, json={"campaign_windows": []}, headers=headers)
    assert resp.status_code == 422 and "set by crisis" in resp.get_json()["errors"][0]["message"]
