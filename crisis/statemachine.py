"""One shape for every state machine in crisis: a table of legal moves and one function that
applies it. Pure: no I/O. Each domain declares its table next to its states
(crisis.response.states, crisis.notify.states); code that changes a status asks the table
first, so an illegal move fails with a message naming what is allowed instead of writing."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

S = TypeVar("S", bound=StrEnum)


class InvalidTransition(ValueError):
    def __init__(self, what: str, old: str, new: str, allowed: frozenset[str]) -> None:
        listed = ", ".join(sorted(allowed))
        super().__init__(f"cannot move {what} from {old} to {new}"
                         + (f" (from {old} it can go to: {listed})" if listed else ""))
        self.old = old
        self.new = new


@dataclass(frozen=True)
class Machine(Generic[S]):
    what: str  # how messages name the thing that moves: "an incident", "a task"
    states: type[S]
    moves: Mapping[S, frozenset[S]]

    def __post_init__(self) -> None:
        missing = set(self.states) - set(self.moves)
        if missing:  # a state with no row would be a silent dead end
            raise ValueError(f"{self.what}: no row for {sorted(missing)} in the transition table")

    def move(self, old: str, new: str) -> S:
        """The new state, or InvalidTransition naming the moves allowed from `old`."""
        values = {s.value for s in self.states}
        if old not in values or new not in values or self.states(new) not in self.moves[self.states(old)]:
            allowed = frozenset(s.value for s in self.moves[self.states(old)]) if old in values else frozenset()
            raise InvalidTransition(self.what, old, new, allowed)
        return self.states(new)

    def sources(self, new: S) -> frozenset[S]:
        """The states a move to `new` may start from: the WHERE of a conditional UPDATE."""
        return frozenset(old for old, targets in self.moves.items() if new in targets)

    def terminal(self) -> frozenset[S]:
        return frozenset(s for s, targets in self.moves.items() if not targets)
