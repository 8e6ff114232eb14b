"""Administration: database, communities, users (tokens: crisis.cli.tokens)."""
from __future__ import annotations

import sys

import click

from crisis import migrate
from crisis.cli import tokens as token_cli
from crisis.cli.common import cli_actor, emit_json, load_runtime, unit_of_work
from crisis.tenancy import communities


def register(cli: click.Group) -> None:
    cli.add_command(db)
    cli.add_command(community)
    cli.add_command(token_cli.token)
    cli.add_command(user)
    user.add_command(token_cli.user_token)
    user.add_command(token_cli.user_tokens)


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations."""
    rt = load_runtime()
    rt.config.var_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(rt.config.database_url, revision)
    click.echo(f"database at {revision}")


@click.group()
def community() -> None:
    """Communities."""


@community.command("create")
@click.argument("slug")
@click.option("--name", default=None, help="Display name (default: the slug).")
@click.option("--json", "as_json", is_flag=True, help="Print {\"slug\", \"token\"} as JSON.")
def community_create(slug: str, name: str | None, as_json: bool) -> None:
    """Create a community and print its first ingest token (shown once)."""
    with unit_of_work() as (rt, session):
        created, issued = communities.create_community(session, slug, name=name, clock=rt.clock, actor=cli_actor())
    if as_json:
        emit_json({"slug": created.slug, "token": issued.token, "token_id": issued.id})
    else:
        click.echo(f"community {created.slug} created")
        click.echo(f"ingest token (shown once, id {issued.id}): {issued.token}")


@click.group()
def user() -> None:
    """Staff users."""


@user.command("create")
@click.argument("email")
@click.option("--community", "slug", required=True)
@click.option("--role", required=True, type=click.Choice(["moderator", "responder", "manager", "admin"]))
@click.option("--name", default="", help="Display name.")
def user_create(email: str, slug: str, role: str, name: str) -> None:
    """Create a user (password from stdin, or generated and printed) with a role in a community."""
    password = None if sys.stdin.isatty() else (sys.stdin.readline().strip() or None)
    with unit_of_work() as (rt, session):
        found = communities.get_community(session, slug)
        created, password_used = communities.create_user(
            session, email, password=password, clock=rt.clock, display_name=name, actor=cli_actor())
        communities.grant_role(session, created, found, role, actor=cli_actor())
    click.echo(f"user {created.email} is {role} of {slug}")
    if password is None:
        click.echo(f"password (shown once): {password_used}")


@user.command("grant")
@click.argument("email")
@click.option("--community", "slug", required=True)
@click.option("--role", required=True, type=click.Choice(["moderator", "responder", "manager", "admin"]))
def user_grant(email: str, slug: str, role: str) -> None:
    """Give an existing user a role in another community."""
    with unit_of_work() as (_rt, session):
        communities.grant_role(session, communities.get_user(session, email),
                               communities.get_community(session, slug), role, actor=cli_actor())
    click.echo(f"user {email} is {role} of {slug}")
