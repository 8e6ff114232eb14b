"""The `crisis` command: the group, and each area's commands from its own module."""
from __future__ import annotations

import sys

import click

from crisis.cli import admin, audit, bridge, data, detect, integrations, playbooks, rules, serve
from crisis.config import ConfigError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Incident and crisis response for online communities."""


for _area in (admin, serve, detect, playbooks, rules, bridge, integrations, audit, data):
    _area.register(cli)


def main() -> None:
    try:
        cli(standalone_mode=True)
    except ConfigError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)
