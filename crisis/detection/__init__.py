"""Streaming crisis detection on event time (raids, complaint spikes, disputes, ...)."""
from __future__ import annotations

from crisis.detection.community import CommunityDetector
from crisis.detection.episodes import Detection, Episode, EpisodeAction
from crisis.detection.event import Event, parse_event, parse_ts
from crisis.detection.settings import DetectorSettings, SurgeWindow
from crisis.detection.stats import SeasonalRate

__all__ = ["CommunityDetector", "DetectorSettings", "Episode", "EpisodeAction", "Event",
           "SeasonalRate", "Detection", "SurgeWindow", "parse_event", "parse_ts"]
