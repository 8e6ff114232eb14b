"""Alert intake fixtures: the engine's named staff, schedules and loopback receiver."""
from __future__ import annotations

from tests.engine.conftest import receiver, world  # noqa: F401 -- fixtures
