"""The interface every platform bridge implements, and what its parts hand each other.

A bridge translates what its platform pushes into crisis's wire events (the ingest API's
format, validated and stored by the same code), and says what it left out and why, so
nothing a platform sent disappears without a count. Containment (carrying out an action
and returning a receipt that undoes it) will extend this interface."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class Account:
    """What the platform knows of an account: raid detection needs the creation time."""

    user_id: str
    display_name: str = ""
    created_at: datetime | None = None


@dataclass
class Translation:
    events: list[dict[str, Any]] = field(default_factory=list)  # crisis wire events
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


# Looks an account up (through a cache); None when the platform cannot say.
AccountLookup = Callable[[str], Account | None]


class Bridge(Protocol):
    platform: str

    def translate(self, pushed: list[Any], *, rooms: Mapping[str, str], accounts: AccountLookup) -> Translation:
        """Crisis events for what the platform pushed, for the linked rooms only."""
