"""`crisis audit export`: the audit log for operators, as CSV or JSON on stdout. Without
--community it holds every row, including those no community's admins see (failed
sign-ins for unknown addresses)."""
from __future__ import annotations

import click

from crisis.audit import export, query
from crisis.cli.common import unit_of_work
from crisis.tenancy import communities


def register(cli: click.Group) -> None:
    cli.add_command(audit)


@click.group()
def audit() -> None:
    """The audit log (read-only)."""


@audit.command("export")
@click.option("--community", "slug", default=None, help="Only what this community's admins see.")
@click.option("--format", "fmt", type=click.Choice(sorted(export.FORMATS)), default="json", show_default=True)
@click.option("--actor", default="", help="A part of the actor, any case.")
@click.option("--action", default="", help='An action ("token.create"), or a prefix ending in "." ("token.").')
@click.option("--since", default="", help="A date (2026-10-05) or an RFC 3339 time.")
@click.option("--until", default="", help="A date (inclusive) or an RFC 3339 time (exclusive).")
def audit_export(slug: str | None, fmt: str, actor: str, action: str, since: str, until: str) -> None:
    """Write the audit log, newest first."""
    try:
        filters = query.parse_filters({"actor": actor, "action": action, "since": since, "until": until})
    except query.BadFilter as exc:
        raise click.UsageError(str(exc)) from None
    with unit_of_work() as (_rt, session):
        community_id = communities.get_community(session, slug).id if slug else None
        for chunk in export.render(query.stream(session, community_id, filters), fmt):
            click.echo(chunk, nl=False)
