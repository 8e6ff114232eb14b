"""Streaming crisis detection on event time (raids, complaint spikes, disputes, ...)."""
from __future__ import annotations

from .community import CommunityDetector
from .episodes import Episode, EpisodeAction, Signal
from .events import Event, parse_event, parse_ts
from .settings import DetectorSettings, SurgeWindow
from .stats import SeasonalRate

__all__ = ["CommunityDetector", "DetectorSettings", "Episode", "EpisodeAction", "Event",
           "SeasonalRate", "Signal", "SurgeWindow", "parse_event", "parse_ts"]
