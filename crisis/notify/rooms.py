"""Posting an announcement into a platform room as the bridge's own user (a member channel
of kind "bridge"): Matrix's send API with the link's appservice token.

The transaction id is the notification's, so a retry after a lost answer is the same event
to the homeserver, not a second message. The bridge joins a public room it is not in yet,
once, and retries; a room it cannot join is a permanent failure naming what to do."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from crisis.bridges.matrix.client import MatrixClient, MatrixError
from crisis.models import PlatformLink
from crisis.notify.transport import TransportError
from crisis.tenancy.credentials import unseal

_V3 = "/_matrix/client/v3"


@dataclass(frozen=True)
class RoomTarget:
    """Everything the send needs, read from the link inside the delivery's transaction."""

    platform: str
    endpoint: str
    sealed_token: str
    bot: str
    room_id: str
    txn_id: str

    @classmethod
    def of(cls, link: PlatformLink, room_id: str, txn_id: str) -> RoomTarget:
        return cls(link.platform, link.endpoint, link.outbound_token, link.sender, room_id, txn_id)


# (target, title, body) -> None, or TransportError(permanent=...)
RoomSender = Callable[[RoomTarget, str, str], None]


def _failure(exc: MatrixError) -> TransportError:
    permanent = exc.status is not None and 400 <= exc.status < 500 and exc.status != 429
    return TransportError(str(exc)[:400], permanent=permanent)


def sender(secret_key: str) -> RoomSender:
    """A RoomSender that unseals each link's token with the service's secret key."""
    def send(target: RoomTarget, title: str, body: str) -> None:
        if target.platform != "matrix":
            raise TransportError(f"no room sender for platform {target.platform!r}", permanent=True)
        try:
            token = unseal(secret_key, target.sealed_token)
        except ValueError as exc:
            raise TransportError(f"{exc}: register the link again", permanent=True) from None
        client = MatrixClient(target.endpoint, token, timeout=10.0)
        post_notice(client, target, f"{title}\n\n{body}" if body else title, bot=target.bot)
    return send


def post_notice(client: MatrixClient, target: RoomTarget, text: str, *, bot: str) -> None:
    room = quote(target.room_id, safe="")
    path = f"{_V3}/rooms/{room}/send/m.room.message/{quote(target.txn_id, safe='')}"
    # m.notice: clients show it as a bot's announcement, and bots do not answer notices.
    content = {"msgtype": "m.notice", "body": text}
    try:
        client.call("PUT", path, content)
        return
    except MatrixError as exc:
        if exc.status != 403:
            raise _failure(exc) from None
    try:  # 403: the bridge's user is not in the room yet
        client.call("POST", f"{_V3}/join/{room}", {})
        client.call("PUT", path, content)
    except MatrixError as exc:
        raise TransportError(f"the bridge's user {bot} cannot post in {target.room_id} ({str(exc)[:300]}): "
                             "invite it to the room", permanent=exc.status is not None
                             and 400 <= exc.status < 500 and exc.status != 429) from None
