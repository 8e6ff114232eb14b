"""Tokens: `crisis token create|list|revoke` (a community's ingest tokens) and
`crisis user token|tokens` (personal tokens), with scopes and expiry. Each issue and
revocation lands in the audit log as done by `cli (<os user>)`."""
from __future__ import annotations

from typing import Any

import click

from crisis.cli.common import cli_actor, emit_json, unit_of_work
from crisis.models import ApiToken
from crisis.tenancy import communities, tokens

_EXPIRES_HELP = "30d, 12h, a date (2027-01-31, 00:00 UTC) or an RFC 3339 time; default: never"


@click.group()
def token() -> None:
    """Ingest tokens of a community."""


def _show_issued(kind: str, issued: tokens.IssuedToken, as_json: bool, row: dict[str, Any]) -> None:
    if as_json:
        emit_json({"id": issued.id, "token": issued.token, "scopes": row["scopes"], "expires_at": row["expires_at"]})
        return
    click.echo(f"{kind} token (shown once, id {issued.id}): {issued.token}")
    click.echo(f"scopes: {', '.join(row['scopes'])}; expires: {row['expires_at'] or 'never'}")


def _list(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        click.echo(f"{r['id']}\t{r['prefix']}…\t{r['state']}\t{','.join(r['scopes'])}\t"
                   f"expires {r['expires_at'] or 'never'}\tlast used {r['last_used_at'] or 'never'}\t{r['name']}")


@token.command("create")
@click.argument("slug")
@click.option("--name", default="", help="A label to tell tokens apart.")
@click.option("--expires", default="", help=_EXPIRES_HELP)
@click.option("--json", "as_json", is_flag=True)
def token_create(slug: str, name: str, expires: str, as_json: bool) -> None:
    """Issue another ingest token for a community (shown once; scope events:write)."""
    with unit_of_work() as (rt, session):
        found = communities.get_community(session, slug)
        issued = tokens.issue(session, "ingest", clock=rt.clock, actor=cli_actor(), name=name, community=found,
                              expires_at=tokens.parse_expiry(expires, rt.clock.now()))
        row = tokens.summary(session.get_one(ApiToken, issued.id), rt.clock.now())
    _show_issued("ingest", issued, as_json, row)


@token.command("list")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True)
def token_list(slug: str, as_json: bool) -> None:
    """A community's ingest tokens (never their secrets), newest first."""
    with unit_of_work() as (rt, session):
        found = communities.get_community(session, slug)
        rows = [tokens.summary(t, rt.clock.now()) for t in tokens.of_community(session, found.id)]
    _list(rows, as_json)


@token.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id: int) -> None:
    """Revoke a token (ingest or personal) by id; it stops working at once."""
    with unit_of_work() as (rt, session):
        tokens.revoke(session, token_id, clock=rt.clock, actor=cli_actor())
    click.echo(f"token {token_id} revoked")


@click.command("token")
@click.argument("email")
@click.option("--name", default="")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(tokens.KIND_SCOPES["personal"]),
              help="Repeat for several; default: all of them (what a token could do before scopes).")
@click.option("--expires", default="", help=_EXPIRES_HELP)
@click.option("--json", "as_json", is_flag=True)
def user_token(email: str, name: str, scopes: tuple[str, ...], expires: str, as_json: bool) -> None:
    """Issue a personal API token (shown once)."""
    with unit_of_work() as (rt, session):
        found = communities.get_user(session, email)
        issued = tokens.issue(session, "personal", clock=rt.clock, actor=cli_actor(), name=name, user=found,
                              scopes=list(scopes) or None, expires_at=tokens.parse_expiry(expires, rt.clock.now()))
        row = tokens.summary(session.get_one(ApiToken, issued.id), rt.clock.now())
    _show_issued("personal", issued, as_json, row)


@click.command("tokens")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True)
def user_tokens(email: str, as_json: bool) -> None:
    """A user's personal tokens (never their secrets), newest first."""
    with unit_of_work() as (rt, session):
        found = communities.get_user(session, email)
        rows = [tokens.summary(t, rt.clock.now()) for t in tokens.of_user(session, found.id)]
    _list(rows, as_json)
