"""`crisis rules validate|sync`: communities' rules in rules/*.yaml (rules/<slug>.yaml, and
rules/default.yaml for communities with none)."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from crisis.cli.common import cli_actor, emit_json, unit_of_work
from crisis.moderation import rulebook


def register(cli: click.Group) -> None:
    cli.add_command(rules_group)


@click.group("rules")
def rules_group() -> None:
    """Communities' rules and penalty ladders, versioned like playbooks."""


@rules_group.command("validate")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=rulebook.RULES_DIR,
              show_default=True)
def validate(directory: Path) -> None:
    """Check every rules file; exit 1 listing each problem (CI runs this)."""
    good, bad = rulebook.load_dir(directory)
    for stem, (spec, _text) in sorted(good.items()):
        click.echo(f"ok      {stem} v{spec['version']} ({len(spec['rules'])} rules)")
    for error in bad:
        for problem in error.problems:
            click.echo(f"invalid {error.source}: {problem}", err=True)
    if bad:
        sys.exit(1)


@rules_group.command("sync")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=rulebook.RULES_DIR,
              show_default=True)
@click.option("--json", "as_json", is_flag=True)
def sync(directory: Path, as_json: bool) -> None:
    """Store each community's file as an immutable version (default.yaml for those with none)."""
    with unit_of_work() as (rt, session):
        report, bad = rulebook.sync(session, clock=rt.clock, directory=directory, actor=cli_actor())
    if as_json:
        emit_json({"created": report.created, "unchanged": report.unchanged, "refused": report.refused,
                   "invalid": [str(e) for e in bad]})
    else:
        for label in report.created:
            click.echo(f"stored    {label}")
        for label in report.unchanged:
            click.echo(f"unchanged {label}")
        for message in report.refused:
            click.echo(f"refused   {message}", err=True)
        for error in bad:
            click.echo(f"invalid   {error}", err=True)
    if report.refused or bad:
        sys.exit(1)
