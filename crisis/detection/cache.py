"""A worker's detectors kept between its drains (pure: no DB)."""
from __future__ import annotations

import copy
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crisis.detection.community import CommunityDetector


class DetectorCache:
    """A worker's detectors between its drains, keyed by community and checkpoint version.

    Decoding a busy community's checkpoint (hundreds of KB of JSON) cost more than
    detecting the events of a drain. A drain whose checkpoint nobody else moved since this
    worker wrote it takes the detectors from here instead. A drain takes its entry out, and
    the caller puts one back only after the drain committed, so a failed or rolled-back
    drain never leaves half-applied detectors behind.
    """

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[int, tuple[int, dict[str, Any], CommunityDetector]] = OrderedDict()

    def take(self, community_id: int, version: int, settings: dict[str, Any]) -> CommunityDetector | None:
        entry = self._entries.pop(community_id, None)
        if entry is None or entry[0] != version or entry[1] != settings:
            return None
        return entry[2]

    def put(self, community_id: int, version: int, settings: dict[str, Any], detector: CommunityDetector) -> None:
        self._entries[community_id] = (version, copy.deepcopy(settings), detector)
        self._entries.move_to_end(community_id)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
