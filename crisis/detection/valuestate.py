"""Checkpoint of `SeasonalRate`'s value mode (observe_value) and its opt-in novelty test.

Count-mode checkpoints are unchanged: these keys appear only once value mode
has been used.
"""
from __future__ import annotations

from typing import Any

from .novelty import ContextNovelty, NoveltyLikelihood


def value_state(rate: Any) -> dict[str, Any]:
    if not rate.v:
        return {}
    st: dict[str, Any] = {"v": {k: (list(x) if isinstance(x, list) else x) for k, x in rate.v.items()}}
    if rate.novelty is not None and rate.novelty_lik is not None:
        st["novelty"] = [rate.novelty.to_state(), rate.novelty_lik.to_state()]
    return st


def load_value_state(rate: Any, st: dict[str, Any]) -> None:
    if "v" in st:
        rate.v = {k: (list(x) if isinstance(x, list) else x) for k, x in st["v"].items()}
    if "novelty" in st:
        rate.novelty, rate.novelty_lik = ContextNovelty(), NoveltyLikelihood()
        rate.novelty.load_state(st["novelty"][0])
        rate.novelty_lik.load_state(st["novelty"][1])
