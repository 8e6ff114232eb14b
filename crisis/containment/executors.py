"""Which executor carries out an action: the bridge of the link it was proposed on, or
none (a person, through a task) when the community has no bridge."""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from crisis.bridges import links
from crisis.bridges.base import ActionFailed, Executor
from crisis.bridges.matrix.actions import MatrixExecutor
from crisis.bridges.matrix.client import MatrixClient
from crisis.models import ContainmentAction, PlatformLink


class _Unavailable:
    """The link the action was planned on is gone or disabled: every call fails permanently."""

    name = "unavailable"

    def __init__(self, why: str) -> None:
        self.why = why

    def _fail(self, *_args: object) -> None:
        raise ActionFailed(self.why, permanent=True)

    prepare = apply = revert = _fail


def platform(secret_key: str) -> Callable[[Session, ContainmentAction], Executor | None]:
    def choose(session: Session, action: ContainmentAction) -> Executor | None:
        if action.executor == "manual":
            return None
        link = session.get(PlatformLink, action.link_id) if action.link_id else None
        if link is None or link.disabled:
            return _Unavailable("the platform link this action was planned on was removed or disabled")  # type: ignore[return-value]
        if link.platform == "matrix":
            client = MatrixClient(link.endpoint, links.outbound_token(link, secret_key), timeout=10.0)
            return MatrixExecutor(client, bot=link.sender)
        return _Unavailable(f"no executor for platform {link.platform!r}")  # type: ignore[return-value]
    return choose
