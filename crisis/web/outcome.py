"""One form post, one transaction: commit what the service did, or roll back and flash why it refused."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import flash

from crisis.webctx import db


@dataclass
class Outcome:
    ok: bool = False


@contextmanager
def commit_or_flash(*refusals: type[Exception]) -> Iterator[Outcome]:
    """Commit the block's work, or on one of `refusals` roll back and flash the message.

    The refusal is swallowed because every form view redirects either way; read `outcome.ok` where the
    redirect or the follow-up message differs. Anything else (a bug, a failed commit) propagates."""
    outcome = Outcome()
    try:
        yield outcome
    except refusals as exc:
        db().rollback()
        flash(str(exc), "error")
        return
    db().commit()
    outcome.ok = True
