"""Messages from the bridge's own user to one member: a direct room (created once, with the
member invited), and a notice in it. The transaction id makes a resend after a lost answer
a no-op on the homeserver."""
from __future__ import annotations

from urllib.parse import quote

from crisis.bridges.base import ActionFailed
from crisis.bridges.matrix.client import MatrixClient, MatrixError

_V3 = "/_matrix/client/v3"


def _failed(exc: MatrixError) -> ActionFailed:
    # 4xx (an unknown user, a homeserver refusing invites from us) will fail again; 429, 5xx and silence may not.
    permanent = exc.status is not None and 400 <= exc.status < 500 and exc.status != 429
    return ActionFailed(str(exc), permanent=permanent)


def open_direct(client: MatrixClient, member: str, *, name: str) -> str:
    """A new direct room with the member invited; its room id. Synapse accepts an invite to a
    local account that does not exist (the message would go into an empty room), so the
    member's profile is read first: no profile, no room."""
    try:
        client.call("GET", f"{_V3}/profile/{quote(member, safe='')}")
    except MatrixError as exc:
        if exc.status == 404:
            raise ActionFailed(f"{member} has no account on the homeserver ({exc})", permanent=True) from None
        raise _failed(exc) from None
    try:
        data = client.call("POST", f"{_V3}/createRoom", {"preset": "trusted_private_chat", "is_direct": True,
                                                         "invite": [member], "name": name[:200]})
    except MatrixError as exc:
        raise _failed(exc) from None
    room = data.get("room_id")
    if not isinstance(room, str) or not room:
        raise ActionFailed("createRoom answered without a room_id", permanent=False)
    return room


def send_notice(client: MatrixClient, room: str, body: str, *, txn: str) -> str:
    """Send `body` as an m.notice (bots' messages, which clients do not answer to); its event id."""
    path = f"{_V3}/rooms/{quote(room, safe='')}/send/m.room.message/{quote(txn, safe='')}"
    try:
        data = client.call("PUT", path, {"msgtype": "m.notice", "body": body})
    except MatrixError as exc:
        raise _failed(exc) from None
    return str(data.get("event_id") or "")
