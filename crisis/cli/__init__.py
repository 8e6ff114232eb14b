"""The `crisis` command. Each area adds its commands from its own module."""
from __future__ import annotations

import sys
from importlib import import_module

import click

from crisis.config import ConfigError

COMMAND_MODULES = ("admin", "serve", "detect", "playbooks")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Incident and crisis response for online communities."""


for _name in COMMAND_MODULES:
    import_module(f"crisis.cli.{_name}").register(cli)


def main() -> None:
    try:
        cli(standalone_mode=True)
    except ConfigError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)
