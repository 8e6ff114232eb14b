"""Which open incident a new detector episode belongs to, if any: the relatedness rule.

The detectors keep one episode per (kind, scope) and close it after a quiet period, so a
raid's second wave 45 minutes after the first, or the mass leave the raid provokes, is a
new episode. For the people responding it is the same crisis: it should not page them as
a second incident, but join the one they are already working, raise it and show on its
timeline. A new episode joins an open incident of the same community when

1. the incident is open (not resolved) and a detector fed it (it has signals), and
2. the episode opens within `WINDOW` (one hour) of the incident's last detector activity
   (any of its episodes still open counts as activity now), and
3. one of these holds, tried in this order (the first that holds is the reason recorded):
   - `accounts`: the episode's accounts and the incident's share at least `MIN_SHARED`
     accounts and at least `MIN_SHARE` of the smaller list (reports piling on the raiders,
     a dispute's pair moving to another channel);
   - `channel`: both are channel-scoped (a dispute) in the same channel: the flame war
     flaring up again, or others joining it, in the room the responders already watch;
   - `follows`: the incident's kinds include one the episode's kind follows (`FOLLOWS`):
     a raid or spam wave again (raiders rotate accounts and text between waves; the
     response, a lockdown, is the same), the mass leave an attack provokes (the leave
     detector counts established members only, so these are the raid's damage, not its
     accounts), or a community-wide rate alarm (complaints, leaves, backlog) coming back.

Why these numbers: an hour is longer than the quiet period after which the detectors
close a raid or dispute episode (20 and 30 minutes), so a wave that returns after the
episode closed still joins, and as long as the longest (mass leave, 60 minutes); after an
hour of calm a community has recovered and a new crisis deserves its own page. Two
accounts is the least that is not one person's coincidence; 30 % of the smaller list keeps
one shared regular among a hundred raiders from tying unrelated alarms together. Anything
else, such as a dispute between other members in another channel, opens its own incident.

Pure functions over plain facts (`Incoming`, `Candidate`) plus one loader: no detector
state, so the rule is the same live, in replay and in tests.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.detection.episodes import QUIET
from crisis.models import Incident, IncidentEpisode, Signal
from crisis.response.states import IncidentStatus

WINDOW = timedelta(hours=1)
MIN_SHARED = 2
MIN_SHARE = 0.3
ATTACKS = frozenset({"raid", "spam_wave"})
# kind of the incident -> kinds of new episodes that follow it (are the same crisis)
FOLLOWS: dict[str, frozenset[str]] = {
    "raid": frozenset({"raid", "spam_wave", "mass_leave"}),
    "spam_wave": frozenset({"raid", "spam_wave", "mass_leave"}),
    "complaint_spike": frozenset({"complaint_spike"}),
    "mass_leave": frozenset({"mass_leave"}),
    "report_backlog": frozenset({"report_backlog"}),
}
SIGNALS_READ = 50  # the latest signals of a candidate whose accounts are compared


@dataclass(frozen=True)
class Incoming:
    """The opening signal of a new episode."""

    kind: str
    scope: str
    at: datetime  # event time
    accounts: frozenset[str]


@dataclass
class Candidate:
    """An open incident as the rule sees it: every kind, scope and account its detector
    episodes brought, and when the detector last saw activity (None: an episode is open)."""

    incident_id: int
    kinds: set[str] = field(default_factory=set)
    scopes: set[str] = field(default_factory=set)
    accounts: set[str] = field(default_factory=set)
    last_activity: datetime | None = None
    active: bool = False


@dataclass(frozen=True)
class Match:
    incident_id: int
    reason: str  # accounts | channel | follows
    detail: dict[str, Any]


def accounts_of(evidence: dict[str, Any] | None) -> frozenset[str]:
    raw = (evidence or {}).get("accounts") or []
    return frozenset(str(a) for a in raw if isinstance(a, (str, int)))


def within(new: Incoming, cand: Candidate) -> bool:
    if cand.active or cand.last_activity is None:
        return cand.active
    return new.at - cand.last_activity <= WINDOW


def relate(new: Incoming, cand: Candidate) -> Match | None:
    """The rule (module docstring) for one candidate; None when unrelated."""
    if not within(new, cand):
        return None
    shared = new.accounts & cand.accounts
    smaller = min(len(new.accounts), len(cand.accounts))
    if len(shared) >= MIN_SHARED and smaller and len(shared) >= MIN_SHARE * smaller:
        return Match(cand.incident_id, "accounts", {"shared_accounts": len(shared)})
    if new.scope.startswith("channel:") and new.scope in cand.scopes:
        return Match(cand.incident_id, "channel", {"channel": new.scope.split(":", 1)[1]})
    followed = sorted(k for k in cand.kinds if new.kind in FOLLOWS.get(k, ()))
    if followed:
        return Match(cand.incident_id, "follows", {"follows": followed[0]})
    return None


def best(new: Incoming, candidates: Iterable[Candidate]) -> Match | None:
    """The first candidate matching by the strongest reason (accounts, channel, follows);
    among equals the one active most recently."""
    order = {"accounts": 0, "channel": 1, "follows": 2}
    found = [(m, c) for c in candidates if (m := relate(new, c)) is not None]
    if not found:
        return None
    found.sort(key=lambda mc: (order[mc[0].reason], not mc[1].active,
                               -(mc[1].last_activity.timestamp() if mc[1].last_activity else 0.0)))
    return found[0][0]


def activity_end(kind: str, last_signal: datetime | None, closed: datetime | None) -> datetime | None:
    """When the detector last saw the episode: a closed episode's close time is its last
    signal plus the kind's quiet period."""
    if closed is None:
        return last_signal
    end = closed - timedelta(seconds=QUIET.get(kind, 1800.0))
    return max(end, last_signal) if last_signal is not None else end


def candidates(session: Session, community_id: int) -> list[Candidate]:
    """The community's open incidents a detector fed, with their episodes' facts."""
    rows = list(session.scalars(select(Incident).where(
        Incident.community_id == community_id, Incident.status != IncidentStatus.RESOLVED.value,
        Incident.last_signal_at.is_not(None))))
    out = []
    for inc in rows:
        cand = Candidate(inc.id, kinds={inc.kind}, accounts=set(accounts_of(inc.evidence)))
        cand.active = inc.episode_closed_at is None
        ends = [activity_end(inc.kind, inc.last_signal_at, inc.episode_closed_at)]
        for ep in session.scalars(select(IncidentEpisode).where(IncidentEpisode.incident_id == inc.id)):
            cand.kinds.add(ep.kind)
            cand.scopes.add(ep.scope)
            cand.active = cand.active or ep.closed_at is None
            ends.append(activity_end(ep.kind, ep.last_signal_at, ep.closed_at))
        for scope, evidence in session.execute(
                select(Signal.scope, Signal.evidence).where(Signal.incident_id == inc.id)
                .order_by(Signal.id.desc()).limit(SIGNALS_READ)):
            cand.scopes.add(scope)
            cand.accounts |= accounts_of(evidence)
        known = [e for e in ends if e is not None]
        cand.last_activity = max(known) if known else None
        out.append(cand)
    return out


def find(session: Session, community_id: int, new: Incoming) -> Match | None:
    return best(new, candidates(session, community_id))
