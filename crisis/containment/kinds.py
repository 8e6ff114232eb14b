"""What each kind of containment action is: whether it can be undone, what it aims at, who
may approve it, whether a playbook may apply it without a person, and its parameters.

Declared once here; the playbook validator, the API and the executors all read this table,
so a new kind is one entry plus its executor calls."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from crisis.models import Role

MAX_TARGETS = 200  # per action: a bigger sweep is a different decision than "these raiders"
DEFAULT_TARGETS = 50


@dataclass(frozen=True)
class Kind:
    name: str
    label: str  # how pages and timelines say it
    aims_at: str  # "room" (one change to each room) | "accounts" (one change per account)
    reversible: bool
    default_expiry: timedelta | None  # None: stays until undone (or, irreversible, forever)
    approve_role: Role  # the least role that may approve it
    auto_allowed: bool  # may a playbook apply it with no person approving?
    confirm: bool = False  # irreversible: the approver must say so explicitly
    releasable: bool = False  # one account can be let go from it (undo for one target)
    params: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # name -> allowed values (first = default)

    def param_defaults(self) -> dict[str, Any]:
        return {name: allowed[0] for name, allowed in self.params.items()}


KINDS: dict[str, Kind] = {k.name: k for k in (
    # knock first: newcomers ask to enter instead of being shut out (Matrix); invite shuts the door.
    Kind("lockdown", "Lock down (pause joins)", "room", True, timedelta(hours=2), Role.RESPONDER, True,
         params={"join_rule": ("knock", "invite")}),
    Kind("quiet", "Quiet the room (members may not post)", "room", True, timedelta(minutes=30), Role.RESPONDER,
         True),
    Kind("mute", "Mute accounts", "accounts", True, timedelta(hours=24), Role.MODERATOR, True, releasable=True),
    Kind("kick", "Remove accounts (kick)", "accounts", False, None, Role.RESPONDER, False, releasable=True),
    Kind("ban", "Ban accounts", "accounts", True, None, Role.RESPONDER, False, releasable=True),
    Kind("redact", "Delete the accounts' recent messages", "accounts", False, None, Role.RESPONDER, False,
         confirm=True, params={"within": ("30m", "15m", "1h", "2h", "6h", "24h")}),
    Kind("unban", "Unban accounts", "accounts", False, None, Role.RESPONDER, False),
)}


def get(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a containment action (use one of {', '.join(KINDS)})") from None
