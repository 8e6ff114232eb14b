"""Replay and backtest (wired once the detectors land)."""
from __future__ import annotations

import click


def register(cli: click.Group) -> None:
    pass
