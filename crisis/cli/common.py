"""What every command needs: the runtime built from the environment."""
from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy.orm import Session

from crisis import runtime
from crisis.config import Config
from crisis.db import session_scope
from crisis.tenancy.communities import ServiceError


def load_runtime() -> runtime.Runtime:
    return runtime.configure(Config.from_env().with_secret())


@contextmanager
def unit_of_work() -> Iterator[tuple[runtime.Runtime, Session]]:
    rt = load_runtime()
    try:
        with session_scope(rt.sessions) as session:
            yield rt, session
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from None


def cli_actor() -> str:
    """Who the audit log says did what a command did: the operating-system account."""
    try:
        return f"cli ({getpass.getuser()})"
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return "cli"


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, sort_keys=True))
