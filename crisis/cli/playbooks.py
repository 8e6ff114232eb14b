"""`crisis playbooks validate|sync`."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from crisis import playbooks
from crisis.cli.common import cli_actor, emit_json, unit_of_work


def register(cli: click.Group) -> None:
    cli.add_command(playbooks_group)


@click.group("playbooks")
def playbooks_group() -> None:
    """Versioned playbooks in playbooks/*.yaml."""


@playbooks_group.command("validate")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=playbooks.PLAYBOOK_DIR,
              show_default=True)
def validate(directory: Path) -> None:
    """Check every playbook file; exit 1 listing each problem (CI runs this)."""
    good, bad = playbooks.load_dir(directory)
    for _path, spec, _text in good:
        click.echo(f"ok      {spec['name']} v{spec['version']} ({len(spec['steps'])} steps, "
                   f"{len(spec['escalation']['levels'])} escalation levels)")
    for error in bad:
        for problem in error.problems:
            click.echo(f"invalid {error.source}: {problem}", err=True)
    if bad:
        sys.exit(1)


@playbooks_group.command("sync")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=playbooks.PLAYBOOK_DIR,
              show_default=True)
@click.option("--json", "as_json", is_flag=True)
def sync(directory: Path, as_json: bool) -> None:
    """Store each file as an immutable version; refuse changed files whose version did not move."""
    with unit_of_work() as (rt, session):
        report, bad = playbooks.sync(session, clock=rt.clock, directory=directory, actor=cli_actor())
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

