"""The interface every platform bridge implements, and what its parts hand each other.

A bridge translates what its platform pushes into crisis's wire events (the ingest API's
format, validated and stored by the same code), and says what it left out and why, so
nothing a platform sent disappears without a count. Containment (carrying out an action
and undoing it from the receipt it wrote first) is the Executor below."""
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


class ActionFailed(Exception):
    """The platform refused or could not be reached. Permanent: retrying cannot help (no
    power level, no such room); the message is the platform's own, for the person who takes
    it over. Transient: retried with backoff."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


@dataclass(frozen=True)
class Plan:
    """What one containment action is to do, as an executor needs it."""

    action_id: int
    kind: str
    params: Mapping[str, Any]
    rooms: tuple[str, ...]
    reason: str  # shown on the platform (ban and kick reasons, redaction reasons)


@dataclass
class Prepared:
    """Read before anything changes: what to restore, and who must never be touched."""

    receipt: dict[str, Any]
    protected: dict[str, str] = field(default_factory=dict)  # account -> why (room owner, moderator, bot)


# item (a room id for room actions, an account for account actions) -> a note on what was done
Done = dict[str, str]


class Executor(Protocol):
    @property
    def name(self) -> str: ...

    def prepare(self, plan: Plan, accounts: list[str]) -> Prepared:
        """The receipt of the state the action will change; raises ActionFailed."""

    def apply(self, plan: Plan, receipt: dict[str, Any], items: list[str]) -> Done:
        """Carry the action out for `items`; idempotent (a retry after a crash repeats calls).
        Raises ActionFailed for what stops the whole action."""

    def revert(self, plan: Plan, receipt: dict[str, Any], items: list[str]) -> Done:
        """Put back what the receipt recorded for `items` (all of them, or one released account)."""
