"""`crisis bridge`: platform links."""
from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import click

from crisis.bridges import links
from crisis.bridges.matrix.registration import registration, to_yaml
from crisis.cli.common import cli_actor, emit_json, load_runtime, unit_of_work
from crisis.tenancy.communities import ServiceError, get_community


def register(cli: click.Group) -> None:
    cli.add_command(bridge)


@click.group()
def bridge() -> None:
    """Platform bridges (Matrix first)."""


@bridge.group()
def matrix() -> None:
    """The Matrix application-service bridge."""


@matrix.command("register")
@click.argument("slug")
@click.option("--homeserver", required=True, help="The homeserver's client-server API, e.g. https://matrix.example.org")
@click.option("--server-name", required=True, help="The homeserver's server name (the part after ':' in user ids)")
@click.option("--rooms", "rooms", multiple=True, required=True,
              help="A room id, optionally =channel name (repeat for several): '!abc=general'")
@click.option("--url", "crisis_url", default=None, help="Where Synapse reaches crisis (default: CRISIS_BASE_URL)")
@click.option("--admin-token-env", default=None, metavar="VAR",
              help="Read a server admin token from this environment variable (account ages, reports)")
@click.option("--silence-after", default=60, show_default=True, type=click.IntRange(5, 10080),
              help="Minutes without events before the link counts as silent")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True),
              help="Write the registration file here (it holds both tokens: keep it private)")
@click.option("--json", "as_json", is_flag=True)
def matrix_register(slug: str, homeserver: str, server_name: str, rooms: tuple[str, ...], crisis_url: str | None,
                    admin_token_env: str | None, silence_after: int, out: str, as_json: bool) -> None:
    """Link a community to Matrix rooms and write the appservice registration file."""
    admin = None
    if admin_token_env:
        admin = os.environ.get(admin_token_env)
        if not admin:
            raise click.ClickException(f"--admin-token-env: {admin_token_env} is not set")
    with unit_of_work() as (rt, session):
        issued = links.create_matrix_link(
            session, get_community(session, slug), homeserver=homeserver, server_name=server_name,
            rooms=links.parse_rooms(list(rooms)), secret_key=rt.config.secret_key, clock=rt.clock,
            admin_token=admin, silence_after=timedelta(minutes=silence_after), actor=cli_actor())
        document = registration(issued, crisis_url=crisis_url or rt.config.base_url)
        path = Path(out)
        path.write_text(to_yaml(document))
        path.chmod(0o600)
    if as_json:
        emit_json({"link_id": issued.link.id, "service_id": issued.link.service_id, "sender": issued.link.sender,
                   "registration": str(path)})
    else:
        click.echo(f"linked {slug} to {len(issued.link.rooms)} room(s) as {issued.link.sender}")
        click.echo(f"registration written to {path} (add it to app_service_config_files, then restart Synapse)")


@matrix.command("demo")
@click.option("--slug", default="demo", show_default=True, help="The community to link (make run's demo).")
@click.option("--url", "crisis_url", default=None, help="Where Synapse reaches crisis (default: CRISIS_BASE_URL)")
@click.option("--raid-after", default=30.0, show_default=True, help="Seconds of ordinary chat before the raid.")
def matrix_demo(slug: str, crisis_url: str | None, raid_after: float) -> None:
    """Start a local Synapse, link a demo room to a running crisis, and play a raid in it."""
    from crisis.bridges.matrix import demo

    rt = load_runtime()
    try:
        synapse = demo.run(rt, slug=slug, crisis_url=crisis_url or rt.config.base_url, raid_after=raid_after,
                           say=click.echo)
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from None
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("Synapse keeps running for you to look around; Ctrl-C stops it.")
    try:
        while synapse.proc is not None and synapse.proc.poll() is None:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        synapse.stop()
