"""Per-community detector settings (plain dataclass, JSON round-trip)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from crisis.detection.event import iso, parse_ts
from crisis.detection.text.hostility import Hostility, scorer

_LEVELS = {"low": 0.6, "normal": 1.0, "high": 1.6}


@dataclass
class SurgeWindow:
    """An expected surge (promotion, event): join/message thresholds are raised inside it."""

    start: float
    end: float
    factor: float = 5.0
    label: str = ""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SurgeWindow:
        return cls(parse_ts(d["start"]), parse_ts(d["end"]), float(d.get("factor", 5.0)),
                   str(d.get("label", "")))

    def to_dict(self) -> dict[str, Any]:
        return {"start": iso(self.start), "end": iso(self.end), "factor": self.factor, "label": self.label}


@dataclass
class BoostWindow:
    """Event time in which the raid detector runs at the community's campaign sensitivity:
    written by the service (crisis.campaigns.boosts) while a campaign that hit a sibling
    community is active, never by a person."""

    start: float
    end: float
    campaign_id: int = 0

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BoostWindow:
        return cls(parse_ts(d["start"]), parse_ts(d["end"]), int(d.get("campaign_id", 0)))

    def to_dict(self) -> dict[str, Any]:
        return {"start": iso(self.start), "end": iso(self.end), "campaign_id": self.campaign_id}


@dataclass
class DetectorSettings:
    """Knobs a community can set; defaults suit an unknown community.

    sensitivity: 0.5 (quiet) .. 2.0 (eager), or a named level (low/normal/high).
    It scales every test: p-value thresholds become alpha**(1/s) and minimum
    counts / cluster sizes are divided by s.

    campaign_boost: 1.0 (off) .. 2.0, the community's opt-in: inside a campaign window the
    raid detector's sensitivity is multiplied by it (still clamped to 2). The windows are
    event time, so a replay with the same windows judges every event the same way.
    """

    sensitivity: float | str = 1.0
    allow_users: list[str] = field(default_factory=list)
    allow_roles: list[str] = field(default_factory=list)
    ignore_bots: bool = True
    surge_windows: list[SurgeWindow] = field(default_factory=list)
    enabled_kinds: list[str] = field(default_factory=lambda: [
        "raid", "complaint_spike", "dispute", "spam_wave", "mass_leave", "report_backlog"])
    # A community's own insults and banter markers, beside the default lexicons (any script).
    hostile_terms: list[str] = field(default_factory=list)
    friendly_terms: list[str] = field(default_factory=list)
    campaign_boost: float = 1.0
    campaign_windows: list[BoostWindow] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.surge_windows = [w if isinstance(w, SurgeWindow) else SurgeWindow.from_dict(w)
                              for w in self.surge_windows]
        self.campaign_windows = [w if isinstance(w, BoostWindow) else BoostWindow.from_dict(w)
                                 for w in self.campaign_windows]
        self._allow_users = frozenset(self.allow_users)
        self._allow_roles = frozenset(self.allow_roles)
        self.hostility: Hostility = scorer(tuple(self.hostile_terms), tuple(self.friendly_terms))

    @property
    def s(self) -> float:
        """Numeric sensitivity, clamped to [0.5, 2]."""
        v = self.sensitivity
        num = _LEVELS.get(v, 1.0) if isinstance(v, str) else float(v)
        return min(2.0, max(0.5, num))

    def surge_factor(self, ts: float) -> float:
        f = 1.0
        for w in self.surge_windows:
            if w.start <= ts <= w.end:
                f = max(f, w.factor)
        return f

    def raid_sensitivity(self, ts: float) -> float:
        """The raid detector's numeric sensitivity at event time ts: `s`, raised by the
        opted-in campaign boost inside a campaign window."""
        s = self.s
        if self.campaign_boost > 1.0:
            for w in self.campaign_windows:
                if w.start <= ts <= w.end:
                    return min(2.0, s * float(self.campaign_boost))
        return s

    def is_allowed(self, actor: str, roles: tuple[str, ...], bot: bool) -> bool:
        if actor in self._allow_users or (bot and self.ignore_bots):
            return True
        return bool(roles) and not self._allow_roles.isdisjoint(roles)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["surge_windows"] = [w.to_dict() for w in self.surge_windows]
        d["campaign_windows"] = [w.to_dict() for w in self.campaign_windows]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> DetectorSettings:
        d = dict(d or {})
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})
