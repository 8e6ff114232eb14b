"""A community's data: retention (status, run now), erasing a member, the export archive."""
from __future__ import annotations

from pathlib import Path

import click

from crisis.cli.common import cli_actor, emit_json, load_runtime, unit_of_work
from crisis.db import session_scope
from crisis.erasure import service as erasure
from crisis.export import archive
from crisis.models import Erasure
from crisis.retention import enforce, status
from crisis.tenancy import communities


def register(cli: click.Group) -> None:
    cli.add_command(data)


@click.group()
def data() -> None:
    """Retention, erasure of a member, export."""


@data.command("erase")
@click.argument("slug")
@click.argument("member")
@click.option("--also", multiple=True, help="Another name the member went by (repeatable).")
@click.option("--force", is_flag=True, help="Erase even while a containment action still names the member.")
@click.option("--json", "as_json", is_flag=True)
def erase(slug: str, member: str, also: tuple[str, ...], force: bool, as_json: bool) -> None:
    """Erase MEMBER (their platform id) from community SLUG: their messages, names and reports
    in stored events, evidence, timelines and every other table, replaced by a tombstone."""
    with unit_of_work() as (rt, session):
        community = communities.get_community(session, slug)
        row = erasure.request(session, community, member=member, also=list(also), actor=cli_actor(),
                              actor_user_id=None, remote_addr=None, clock=rt.clock, force=force)
        erasure_id = row.id
    outcome = erasure.run_to_end(rt.sessions, erasure_id, clock=rt.clock)
    with rt.sessions() as session:
        found = session.get(Erasure, erasure_id)
        assert found is not None
        shown = erasure.public(found)
    if as_json:
        emit_json(shown)
    else:
        click.echo(f"erasure {erasure_id}: {outcome}; the member is now {shown['tombstone']}")
        for key, value in sorted(shown["counts"].items()):
            click.echo(f"  {key}: {value}")
    if outcome != "done":
        raise click.ClickException(f"erasure {erasure_id} {outcome}: {shown['last_error']}")


@data.command("export")
@click.argument("slug")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the zip (default: crisis-<slug>-<time>.zip here).")
def export(slug: str, output: Path | None) -> None:
    """Write community SLUG's incidents, postmortems, cases and settings as a zip of JSON."""
    with unit_of_work() as (rt, session):
        community = communities.get_community(session, slug)
        now = rt.clock.now()
        body = archive.export(session, community, actor=cli_actor(), actor_user_id=None, now=now)
        path = output or Path(archive.filename(community.slug, now))
    path.write_bytes(body)
    click.echo(f"{path}: {len(body)} bytes")


@data.command("retention")
@click.argument("slug")
@click.option("--run", "run_now", is_flag=True, help="Run retention now, to the end, instead of waiting for the job.")
def retention(slug: str, run_now: bool) -> None:
    """Show community SLUG's retention (settings, holds, last run); --run enforces it now."""
    rt = load_runtime()
    with session_scope(rt.sessions) as session:
        community_id = communities.get_community(session, slug).id
    if run_now:
        report = enforce.run(rt.sessions, community_id, clock=rt.clock, force=True)
        while report.claimed and not report.finished:
            report = enforce.run(rt.sessions, community_id, clock=rt.clock, force=True)
        click.echo(f"deleted {report.batches} batches ({report.events} events), expired the evidence text of "
                   f"{report.incidents} incidents in {report.seconds} s")
    with session_scope(rt.sessions) as session:
        emit_json(status.summary(session, communities.get_community(session, slug), now=rt.clock.now()))
