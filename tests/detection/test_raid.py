from __future__ import annotations

from crisis.detection.event import parse_ts

from .streams import T0, Stream, incidents, kinds, latest_evidence

WARM = 4  # hours of ordinary traffic before the scenario


def _opened(incs: list[dict], kind: str) -> list[float]:
    return [parse_ts(i["opened_at"]) for i in incs if i["kind"] == kind]


def test_it_detects_a_fast_raid_within_a_minute() -> None:
    s = Stream()
    s.background(T0, WARM + 2)
    start = T0 + WARM * 3600
    s.raid(start, 80, 120)
    incs = incidents(s.events())
    opened = _opened(incs, "raid")
    assert len(opened) == 1
    assert 0 <= opened[0] - start <= 60
    assert kinds(incs).count("complaint_spike") == 0


def test_it_detects_a_slow_raid_spread_over_half_an_hour() -> None:
    s = Stream()
    s.background(T0, WARM + 2)
    start = T0 + WARM * 3600
    s.raid(start, 30, 1800, template="join the real giveaway at https://win-big.example/{i}")
    opened = _opened(incidents(s.events()), "raid")
    assert len(opened) == 1
    assert opened[0] - start <= 600


def test_it_detects_a_raid_of_old_accounts() -> None:
    s = Stream()
    s.background(T0, WARM + 2)
    start = T0 + WARM * 3600
    s.raid(start, 40, 300, age_days=1500)
    incs = incidents(s.events())
    opened = _opened(incs, "raid")
    assert len(opened) == 1 and opened[0] - start <= 90
    raid = [i for i in incs if i["kind"] == "raid"][0]
    assert raid["evidence"]["account_age_days_median"] > 1000


def test_it_reports_raid_evidence() -> None:
    s = Stream()
    s.background(T0, WARM + 2)
    s.raid(T0 + WARM * 3600, 80, 120)
    ev = latest_evidence(s.events(), "raid")
    assert ev["signals"] == ["fresh_join_burst", "content"]
    assert ev["link_domains"] and "g3ms-drop.example" in ev["link_domains"]
    assert all(a.startswith("rd") for a in ev["accounts"])
    assert len(ev["per_minute_joins"]) == 61 and len(ev["per_minute_messages"]) == 61
    assert ev["samples"] and ev["joins"]["observed"] > ev["joins"]["expected"]


def test_it_stays_silent_on_a_promotion_of_genuine_newcomers() -> None:
    s = Stream()
    s.background(T0, WARM + 3)
    s.promotion(T0 + WARM * 3600, 300, 3600)
    assert incidents(s.events()) == []


def test_it_stays_silent_on_a_promotion_with_brand_new_accounts() -> None:
    s = Stream(seed=7)
    s.background(T0, WARM + 3)
    s.promotion(T0 + WARM * 3600, 300, 2400, age_days=0.2)
    assert incidents(s.events()) == []


def test_it_detects_a_spam_wave_from_established_accounts() -> None:
    s = Stream()
    s.background(T0, WARM + 2)
    start = T0 + WARM * 3600
    for i in range(12):
        s.msg(start + 20 * i, f"u{i}", f"i got hacked lol check https://fr33-n1tro.example/{i} @here")
    incs = incidents(s.events())
    assert kinds(incs) == ["spam_wave"]
    assert parse_ts(incs[0]["opened_at"]) - start <= 200


def test_it_ignores_a_link_shared_by_a_few_members() -> None:
    s = Stream()
    s.background(T0, WARM + 2)
    start = T0 + WARM * 3600
    for i in range(3):
        s.msg(start + 60 * i, f"u{i}", "patch notes are out https://docs.example/patch/12 nice")
    assert incidents(s.events()) == []


def test_it_detects_a_raid_posting_plain_text_without_links() -> None:
    s = Stream()
    s.background(T0, WARM + 2)
    start = T0 + WARM * 3600
    s.raid(start, 40, 300, template="this place is dead everyone move to the other server {i}")
    opened = _opened(incidents(s.events()), "raid")
    assert len(opened) == 1 and opened[0] - start <= 300


def test_it_detects_a_raid_whose_spam_text_varies_but_shares_a_link() -> None:
    s = Stream()
    s.background(T0, WARM + 2)
    start = T0 + WARM * 3600
    for i in range(30):
        t = start + 4 * i
        s.add(t, "member.join", f"rv{i}", age_days=2)
        s.msg(t + 5, f"rv{i}", f"{s.words(5)} https://cl1ck-here.example/{i} {s.words(3)}")
    opened = _opened(incidents(s.events()), "raid")
    assert len(opened) == 1 and opened[0] - start <= 60


def test_it_stays_silent_when_some_promotion_newcomers_share_the_promoted_link() -> None:
    s = Stream(seed=11)
    s.background(T0, WARM + 3)
    start = T0 + WARM * 3600
    s.promotion(start, 300, 3600)
    for i in range(0, 300, 12):  # one newcomer in twelve posts the promoted page
        s.msg(start + 12 * i + 60, f"pr{i}", f"came from {s.words(3)} https://launch.example/post {s.words(2)}")
    assert incidents(s.events()) == []
