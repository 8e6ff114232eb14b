"""Matrix room events as crisis events. Pure: no I/O (accounts come through a lookup).

Room ids become channel names through the link's room map; user ids (@name:server) are
the stable actor ids; event ids ($...) are the event ids, so a transaction Synapse sends
again stores nothing twice. Every crisis event links back to its Matrix event with a
matrix.to permalink (x-permalink), which incidents' evidence carries."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from crisis.bridges.base import Account, AccountLookup, Translation
from crisis.clock import isoformat

PLATFORM = "matrix"


@lru_cache(maxsize=1024)
def _quoted_room(room_id: str) -> str:
    return quote(room_id, safe="")


def permalink(room_id: str, event_id: str) -> str:
    return f"https://matrix.to/#/{_quoted_room(room_id)}/{quote(event_id, safe='')}"


def _ts(event: Mapping[str, Any]) -> str:
    ms = event.get("origin_server_ts")
    if not isinstance(ms, int) or isinstance(ms, bool):
        raise ValueError("origin_server_ts: must be an integer (milliseconds)")
    return isoformat(datetime.fromtimestamp(ms / 1000, tz=timezone.utc))


def _actor(user_id: str, accounts: AccountLookup, name: str = "") -> dict[str, Any]:
    actor: dict[str, Any] = {"id": user_id}
    account: Account | None = accounts(user_id)
    display = name or (account.display_name if account else "")
    if display:
        actor["name"] = display[:200]
    if account is not None and account.created_at is not None:
        actor["created_at"] = isoformat(account.created_at)
    return actor


class MatrixBridge:
    platform = PLATFORM

    def translate(self, pushed: list[Any], *, rooms: Mapping[str, str], accounts: AccountLookup) -> Translation:
        out = Translation()
        for event in pushed:
            if not isinstance(event, dict):
                out.skip("not an event object")
                continue
            room = event.get("room_id")
            if not isinstance(room, str) or room not in rooms:
                out.skip("room not linked to this community")
                continue
            try:
                mapped = _map(event, rooms[room], accounts)
            except (ValueError, TypeError, KeyError) as exc:
                out.skip(f"malformed {event.get('type', 'event')}: {exc}"[:200])
                continue
            if isinstance(mapped, str):
                out.skip(mapped)
            else:
                out.events.append(mapped)
        return out


def _previous(event: dict[str, Any]) -> dict[str, Any]:
    """The state event's content before it (Synapse sends it in unsigned.prev_content)."""
    previous = (event.get("unsigned") or {}).get("prev_content")
    return previous if isinstance(previous, dict) else {}


def _map(event: dict[str, Any], channel: str, accounts: AccountLookup) -> dict[str, Any] | str:
    """The crisis event, or the reason it is left out."""
    kind, content = event.get("type"), event.get("content")
    event_id, sender, room = event["event_id"], event["sender"], event["room_id"]
    if not isinstance(content, dict):
        raise ValueError("content: must be an object")
    base: dict[str, Any] = {"id": event_id, "ts": _ts(event), "channel": channel,
                            "x-permalink": permalink(room, event_id)}
    if kind == "m.room.message":
        return _message(base, event, content, accounts)
    if kind == "m.room.member":
        return _member(base, event, content, accounts)
    if kind == "m.room.redaction":
        redacts = content.get("redacts") or event.get("redacts")
        if not isinstance(redacts, str):
            raise ValueError("redacts: names no event")
        return {**base, "type": "message.delete", "actor": _actor(sender, accounts),
                "target": {"message_id": redacts}, **({"reason": str(content["reason"])[:1000]}
                                                      if content.get("reason") else {})}
    if kind == "m.reaction":
        relates = content.get("m.relates_to") or {}
        if not isinstance(relates.get("event_id"), str):
            raise ValueError("m.relates_to.event_id: names no event")
        return {**base, "type": "reaction.add", "actor": _actor(sender, accounts),
                "target": {"message_id": relates["event_id"]}, "x-key": str(relates.get("key", ""))[:64]}
    if kind == "m.room.power_levels":
        before = _previous(event).get("users") or {}
        after = content.get("users") or {}
        changed = {uid: after.get(uid) for uid in set(before) | set(after) if before.get(uid) != after.get(uid)}
        return {**base, "type": "moderation.action", "action": "power_levels", "actor": _actor(sender, accounts),
                "x-changed_users": changed, "x-events_default": content.get("events_default")}
    if kind == "m.room.join_rules":
        return {**base, "type": "moderation.action", "action": "join_rules", "actor": _actor(sender, accounts),
                "x-join_rule": str(content.get("join_rule", ""))[:32]}
    if kind == "m.room.encrypted":
        return "encrypted (the bridge cannot read end-to-end encrypted rooms)"
    return f"{kind} is not mapped"


def _message(base: dict[str, Any], event: dict[str, Any], content: dict[str, Any],
             accounts: AccountLookup) -> dict[str, Any] | str:
    if "body" not in content:
        return "message without a body"
    body = content["body"]
    if not isinstance(body, str):
        raise ValueError("content.body: must be a string")
    out = {**base, "type": "message.create", "actor": _actor(event["sender"], accounts),
           "message_id": event["event_id"], "content": body[:4000], "x-msgtype": str(content.get("msgtype", ""))[:32]}
    relates = content.get("m.relates_to")
    if isinstance(relates, dict):
        reply = (relates.get("m.in_reply_to") or {}).get("event_id")
        if isinstance(reply, str):
            out["x-reply_to"] = reply
        if relates.get("rel_type") == "m.replace" and isinstance(relates.get("event_id"), str):
            out["x-replaces"] = relates["event_id"]
    mentions = content.get("m.mentions")
    if isinstance(mentions, dict) and isinstance(mentions.get("user_ids"), list):
        out["x-mentions"] = [u for u in mentions["user_ids"] if isinstance(u, str)][:50]
    return out


def _member(base: dict[str, Any], event: dict[str, Any], content: dict[str, Any],
            accounts: AccountLookup) -> dict[str, Any] | str:
    membership, target, sender = content.get("membership"), event.get("state_key"), event["sender"]
    if not isinstance(target, str):
        raise ValueError("state_key: must name the member")
    previous = _previous(event).get("membership")
    raw_name = content.get("displayname")
    name = raw_name if isinstance(raw_name, str) else ""
    reason = {"reason": str(content["reason"])[:1000]} if content.get("reason") else {}
    if membership == "join":
        if previous == "join":
            return "profile change (display name or avatar)"
        return {**base, "type": "member.join", "actor": _actor(target, accounts, name)}
    if membership == "leave":
        if target == sender:
            return {**base, "type": "member.leave", "actor": _actor(target, accounts)}
        action = "unban" if previous == "ban" else "kick"
        return {**base, "type": "moderation.action", "action": action, "actor": _actor(sender, accounts),
                "target": {"user_id": target}, **reason}
    if membership == "ban":
        return {**base, "type": "moderation.action", "action": "ban", "actor": _actor(sender, accounts),
                "target": {"user_id": target}, **reason}
    if membership == "invite":
        return {**base, "type": "x-member.invite", "actor": _actor(sender, accounts), "target": {"user_id": target}}
    return f"membership {membership!r} is not mapped"
