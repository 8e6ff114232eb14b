"""The 5×5 heat map: likelihood across, impact up, each cell the risks scored there.

Levels are words as well as colours (low, medium, high, critical), so the map reads
without colour: the page prints the score and the level in every cell."""
from __future__ import annotations

from dataclasses import dataclass, field

from crisis.models import Risk

SCALE = (1, 2, 3, 4, 5)
# Upper bounds of each level's score (likelihood × impact).
LEVELS = (("low", 4), ("medium", 9), ("high", 16), ("critical", 25))


def score(likelihood: int, impact: int) -> int:
    return likelihood * impact


def level(value: int) -> str:
    return next(name for name, upper in LEVELS if value <= upper)


@dataclass
class Cell:
    likelihood: int
    impact: int
    risks: list[Risk] = field(default_factory=list)

    @property
    def score(self) -> int:
        return score(self.likelihood, self.impact)

    @property
    def level(self) -> str:
        return level(self.score)


def grid(risks: list[Risk]) -> list[list[Cell]]:
    """Rows from impact 5 (top) down to 1, columns likelihood 1 to 5: the worst corner top right."""
    cells = {(i, lk): Cell(lk, i) for i in SCALE for lk in SCALE}
    for risk in risks:
        cells[(risk.impact, risk.likelihood)].risks.append(risk)
    return [[cells[(i, lk)] for lk in SCALE] for i in reversed(SCALE)]


def counts(risks: list[Risk]) -> list[list[int]]:
    """The grid as numbers, for the API: counts[impact-1][likelihood-1]."""
    out = [[0] * len(SCALE) for _ in SCALE]
    for risk in risks:
        out[risk.impact - 1][risk.likelihood - 1] += 1
    return out
