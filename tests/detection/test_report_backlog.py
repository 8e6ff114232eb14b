"""report_backlog: pages when a community that works its report queue stops working it."""
from __future__ import annotations

import json
import math
import random
from typing import Any

from crisis.detection import CommunityDetector, DetectorSettings, parse_event, parse_ts
from crisis.detection.report_backlog import MAX_REPORTS, ReportQueue
from crisis.detection.tails import betabinom_logsf

from .streams import COMM, T0, Stream, incidents, iso, kinds

DAY = 86400.0
STOP = T0 + 2 * DAY + 10 * 3600  # day 3, 10:00: the moderators stop handling reports


def _moderated(s: Stream, start: float, hours: float, per_hour: float, *, stop: float | None = None,
               resume: float | None = None, mod: dict[str, Any] | None = None,
               targets: list[str] | None = None, quick: float = 0.0) -> None:
    """Reports that moderators handle: 95 % get an action (delete/dismiss/warn on the
    message, or one on the user) after a log-normal delay, median 8 min (p90 ~ 22 min).
    Reports filed after `stop` wait until `resume` (or forever); `quick` is the share
    handled within seconds, so jitter can deliver the action before its report."""
    rng, t = s.rng, start
    while True:
        t += rng.expovariate(per_hour / 3600)
        if t >= start + hours * 3600:
            break
        user = rng.choice(targets or s.members)
        msg = f"m-r{s.n}"
        s.add(t, "report.create", rng.choice(s.members), target={"user_id": user, "message_id": msg},
              reason=rng.choice(("spam", "harassment", "off-topic")))
        if rng.random() > 0.95:
            continue
        delay = rng.uniform(1, 4) if rng.random() < quick else 480 * math.exp(rng.gauss(0, 0.8))
        at = t + delay
        if stop is not None and at >= stop:
            if resume is None:
                continue
            at = max(at, resume) + rng.uniform(0, 600)
        target = {"message_id": msg} if rng.random() < 0.8 else {"user_id": user}
        ev = s.add(at, "moderation.action", "mod1", action=rng.choice(("delete", "dismiss", "warn")),
                   target=target, reason="handled")
        ev["actor"].update(mod or {})


def _stream(seed: int = 1, days: float = 3, **kw: Any) -> Stream:
    s = Stream(seed=seed)
    s.background(T0, days * 24, msgs_per_min=2.0, reports_per_hour=1e-9)
    _moderated(s, T0, days * 24, 8.0, **kw)  # ~1.3k reports a week, a mid-size community
    return s


def _backlogs(events: list[dict[str, Any]], settings: DetectorSettings | None = None) -> list[dict[str, Any]]:
    return [i for i in incidents(events, settings) if i["kind"] == "report_backlog"]


def test_it_fires_when_moderators_stop_handling_while_reports_keep_coming() -> None:
    found = _backlogs(_stream(stop=STOP).events())
    assert len(found) == 1
    opened = parse_ts(found[0]["opened_at"])
    assert STOP < opened < STOP + 6 * 3600
    ev = found[0]["evidence"]
    assert ev["window_open"] >= 5 and ev["window_open"] > 3 * ev["expected_open"]
    assert 15 <= ev["usual_handle_min"] <= 60
    assert ev["handled_share"] > 0.8
    assert ev["most_reported"] and ev["reasons"] and 1 <= len(ev["samples"]) <= 5
    assert ev["oldest_open_min"] > ev["usual_handle_min"]


def test_it_stays_silent_before_handling_stops() -> None:
    assert _backlogs(_stream(days=3).events()) == []


def test_it_stays_silent_on_a_community_that_never_handles_reports() -> None:
    # the dev feed: a steady trickle of reports nobody resolves, and raiders banned
    s = Stream(seed=2)
    s.background(T0, 72, msgs_per_min=2.0, reports_per_hour=4.0)
    for day in range(3):
        raiders = s.raid(T0 + day * DAY + 14 * 3600, 40, 120, prefix=f"rd{day}-")
        for i, a in enumerate(raiders):
            t = T0 + day * DAY + 14 * 3600 + 60 + 3 * i
            s.add(t, "report.create", s.members[i], target={"user_id": a}, reason="spam")
            s.add(t + 600, "moderation.action", "mod1", action="ban", target={"user_id": a}, reason="raid")
    incs = incidents(s.events())
    assert "raid" in kinds(incs)
    assert "report_backlog" not in kinds(incs)


def test_it_stays_silent_when_moderators_only_clear_one_burst() -> None:
    # trolls that no raid rule catches (established accounts, no spam template): reported
    # and banned within the hour, while the ordinary queue is never worked
    s = Stream(seed=3)
    s.background(T0, 96, msgs_per_min=2.0, reports_per_hour=2.0)
    for i in range(150):
        t = T0 + DAY + 14 * 3600 + 20 * i
        troll = s.members[200 + i % 150]
        for k in range(2):
            s.add(t + k, "report.create", s.members[(i + k) % 100], target={"user_id": troll}, reason="abuse")
        s.add(t + 600, "moderation.action", "mod1", action="ban", target={"user_id": troll}, reason="trolling")
    assert "report_backlog" not in kinds(incidents(s.events()))


def test_it_stays_silent_when_handling_keeps_up_during_a_complaint_spike() -> None:
    s = _stream(days=3)
    _moderated(s, T0 + 2 * DAY + 12 * 3600, 0.5, 120.0, targets=s.members[:40])
    incs = incidents(s.events())
    assert "complaint_spike" in kinds(incs)
    assert "report_backlog" not in kinds(incs)


def test_it_stays_silent_when_moderators_are_offline_every_night() -> None:
    s = Stream(seed=4)
    s.background(T0, 5 * 24, msgs_per_min=2.0, reports_per_hour=1e-9)
    _moderated(s, T0, 5 * 24, 8.0)
    for e in s.evs:  # nobody acts between midnight and 07:00: those actions wait for the morning
        if e["type"] == "moderation.action":
            t = parse_ts(e["ts"])
            if (t % DAY) < 7 * 3600:
                e["ts"] = iso(t - t % DAY + 7 * 3600 + random.Random(t).uniform(0, 1800))
    assert _backlogs(s.events()) == []


def test_it_closes_once_the_backlog_drains() -> None:
    resume = STOP + 10 * 3600
    acts = _run(_stream(stop=STOP, resume=resume).events())
    backlog = [a for a in acts if a.kind == "report_backlog"]
    assert [a.action for a in backlog if a.action != "update"] == ["open", "close"]
    closed = parse_ts(backlog[-1].ts)
    assert resume < closed < resume + 2 * 3600


def test_it_lets_allowlisted_moderators_resolve_reports() -> None:
    settings = DetectorSettings(allow_roles=["moderator"])
    handled = _stream(days=3, mod={"roles": ["moderator"]}).events()
    assert _backlogs(handled, settings) == []
    stopped = _stream(stop=STOP, mod={"roles": ["moderator"]}).events()
    assert len(_backlogs(stopped, settings)) == 1


def test_it_respects_the_enabled_kinds() -> None:
    settings = DetectorSettings(enabled_kinds=["raid", "complaint_spike"])
    assert _backlogs(_stream(stop=STOP).events(), settings) == []


def _run(events: list[dict[str, Any]], cuts: tuple[int, ...] = ()) -> list[Any]:
    evs = [parse_event(w) for w in events]
    det = CommunityDetector(COMM)
    acts: list[Any] = []
    bounds = [0, *cuts, len(evs)]
    for lo, hi in zip(bounds, bounds[1:]):
        if lo:
            state = json.loads(json.dumps(det.to_state()))
            det = CommunityDetector.from_state(COMM, DetectorSettings(), state)
        for i in range(lo, hi, 64):
            acts += det.process(evs[i:min(i + 64, hi)])
    return acts + det.advance_to(evs[-1].ts + DAY)


def _keys(acts: list[Any]) -> list[tuple[Any, ...]]:
    return [(a.action, a.episode_key, a.kind, a.severity, a.opened_at, a.ts, a.title) for a in acts]


def test_it_resumes_from_a_checkpoint_mid_stream_with_identical_output() -> None:
    events = _stream(stop=STOP).events()
    whole = _run(events)
    assert any(a.kind == "report_backlog" for a in whole)
    # cut before the stop, while the backlog forms, and while it is open
    cuts = tuple(next(i for i, e in enumerate(events) if parse_ts(e["ts"]) >= t)
                 for t in (STOP - 3600, STOP + 3 * 3600, STOP + 9 * 3600))
    assert _keys(_run(events, cuts)) == _keys(whole)
    assert _keys(_run(events, cuts[1:2])) == _keys(whole)


def test_it_tolerates_events_a_few_seconds_out_of_order() -> None:
    events = _stream(stop=STOP, quick=0.3).events()
    rng = random.Random(5)
    jittered = sorted(events, key=lambda e: parse_ts(e["ts"]) + rng.uniform(0, 5))
    assert jittered != events
    straight, shaken = _backlogs(events), _backlogs(jittered)
    assert len(straight) == len(shaken) == 1
    assert abs(parse_ts(straight[0]["opened_at"]) - parse_ts(shaken[0]["opened_at"])) <= 180
    assert _backlogs(_stream(days=3, quick=0.3).events()) == []


def _event(ts: float, type_: str, **fields: Any) -> Any:
    return parse_event({"id": f"x{ts}{type_}", "community": COMM, "type": type_, "ts": iso(ts),
                        "actor": {"id": "a"}, **fields})


def test_it_lets_an_action_resolve_a_report_delivered_after_it() -> None:
    q = ReportQueue(COMM, DetectorSettings())
    q.on_action(_event(T0 + 10, "moderation.action", action="delete", target={"message_id": "m1"}))
    q.on_report(_event(T0 + 8, "report.create", target={"message_id": "m1", "user_id": "u1"}))
    q.on_report(_event(T0 + 12, "report.create", target={"message_id": "m1", "user_id": "u1"}))
    assert [r[5] for r in q.records] == [T0 + 10, None]  # the later report is a new complaint


def test_it_keeps_at_most_the_capped_number_of_reports() -> None:
    q = ReportQueue(COMM, DetectorSettings())
    for i in range(MAX_REPORTS + 50):
        q.on_report(_event(T0 + i, "report.create", target={"user_id": f"u{i % 7}"}))
    q.check(T0 + MAX_REPORTS + 60)
    assert len(q.records) == MAX_REPORTS and q.dropped == 50
    assert sum(len(v) for v in q.by_user.values()) == MAX_REPORTS


def test_it_computes_the_beta_binomial_tail_exactly() -> None:
    def pmf(k: int, n: int, a: float, b: float) -> float:
        return math.comb(n, k) * math.exp(math.lgamma(k + a) + math.lgamma(n - k + b) - math.lgamma(n + a + b)
                                          + math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b))
    for k, n, a, b in ((3, 10, 1.5, 8.0), (10, 10, 0.6, 29.4), (1, 5, 2.0, 2.0), (18, 40, 4.5, 25.5)):
        exact = sum(pmf(j, n, a, b) for j in range(k, n + 1))
        assert math.isclose(math.exp(betabinom_logsf(k, n, a, b)), exact, rel_tol=1e-9)
