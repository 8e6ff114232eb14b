"""Containment on Matrix: join rules, power levels, kick, ban, unban, redact, carried out by
the bridge's own user with the appservice token (see ../shared/research/integrations.md).

Every change reads the state first and the receipt keeps what it read; undo puts back that
state only where the room still shows crisis's change, so a setting a moderator changed by
hand since is left as they set it."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

from crisis.bridges.base import ActionFailed, Done, Plan, Prepared
from crisis.bridges.matrix.client import MatrixClient, MatrixError
from crisis.playbooks import parse_duration

MODERATOR_LEVEL = 50  # Matrix's default for kick, ban and redact: who holds it is staff
_V3 = "/_matrix/client/v3"


def _q(value: str) -> str:
    return quote(value, safe="")


def _failed(exc: MatrixError) -> ActionFailed:
    # 4xx (no power level, unknown room, bad request) will fail again; 429, 5xx and no answer may not.
    permanent = exc.status is not None and 400 <= exc.status < 500 and exc.status != 429
    return ActionFailed(str(exc), permanent=permanent)


@dataclass(frozen=True)
class MatrixExecutor:
    client: MatrixClient  # with the appservice token: acts as the bridge's user
    bot: str  # the bridge's user id (@crisis_<slug>:server)
    name: str = "matrix"

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            return self.client.call(method, path, body)
        except MatrixError as exc:
            raise _failed(exc) from None

    def _state(self, room: str, kind: str, key: str = "") -> dict[str, Any] | None:
        try:
            return self.client.call("GET", f"{_V3}/rooms/{_q(room)}/state/{kind}/{_q(key)}")
        except MatrixError as exc:
            if exc.status == 404:
                return None
            raise _failed(exc) from None

    def _put_state(self, room: str, kind: str, content: dict[str, Any], key: str = "") -> None:
        self._call("PUT", f"{_V3}/rooms/{_q(room)}/state/{kind}/{_q(key)}", content)

    def _join(self, room: str) -> None:
        try:
            self.client.call("POST", f"{_V3}/join/{_q(room)}", {})
        except MatrixError as exc:
            raise ActionFailed(f"the bridge's user {self.bot} cannot join {room} ({exc}): invite it and give it "
                               f"power level {MODERATOR_LEVEL} (100 to mute or quiet)",
                               permanent=exc.status is not None and 400 <= exc.status < 500) from None

    def _protected(self, room: str, levels: dict[str, Any]) -> dict[str, str]:
        """Accounts no action may touch: the room's creators (unlimited power in room v12),
        its moderators and admins, and the bridge itself."""
        out = {self.bot: "the bridge's own user"}
        for user, level in (levels.get("users") or {}).items():
            if isinstance(level, int) and level >= MODERATOR_LEVEL:
                out[user] = f"room staff (power level {level})"
        try:
            create = self.client.call("GET", f"{_V3}/rooms/{_q(room)}/state/m.room.create/?format=event")
        except MatrixError:
            create = {}
        creators = [create.get("sender"), *((create.get("content") or {}).get("additional_creators") or [])]
        for user in creators:
            if isinstance(user, str) and user:
                out[user] = "the room's creator"
        return out

    # ---- prepare: read what will change ------------------------------------------------------
    def prepare(self, plan: Plan, accounts: list[str]) -> Prepared:
        rooms: dict[str, Any] = {}
        protected: dict[str, str] = {}
        events: dict[str, list[list[str]]] = {}
        for room in plan.rooms:
            self._join(room)
            levels = self._state(room, "m.room.power_levels") or {}
            protected.update(self._protected(room, levels))
            if plan.kind == "lockdown":
                rooms[room] = {"join_rules": self._state(room, "m.room.join_rules") or {"join_rule": "public"}}
            elif plan.kind == "quiet":
                rooms[room] = {"events_default": levels.get("events_default", 0),
                               "message_level": (levels.get("events") or {}).get("m.room.message")}
            elif plan.kind == "mute":
                users = levels.get("users") or {}
                rooms[room] = {"users": {a: users.get(a) for a in accounts}}
            elif plan.kind in ("ban", "kick", "unban"):
                rooms[room] = {"membership": {a: self._membership(room, a) for a in accounts}}
            elif plan.kind == "redact":
                for account, event_id in self._recent(room, accounts, parse_duration(plan.params["within"])):
                    events.setdefault(account, []).append([room, event_id])
        receipt: dict[str, Any] = {"rooms": rooms}
        if plan.kind == "redact":
            receipt["events"] = events
        return Prepared(receipt, protected)

    def _membership(self, room: str, account: str) -> str:
        content = self._state(room, "m.room.member", account)
        return str((content or {}).get("membership") or "none")

    def _recent(self, room: str, accounts: list[str], within: timedelta) -> list[tuple[str, str]]:
        """The accounts' messages in the room sent within `within` of now, newest first."""
        since = (datetime.now(timezone.utc) - within).timestamp() * 1000
        wanted = set(accounts)
        found: list[tuple[str, str]] = []
        token: str | None = None
        filt = _q(json.dumps({"senders": sorted(wanted)[:500], "types": ["m.room.message", "m.sticker"]}))
        for _page in range(20):  # at most 2000 events back: a purge is about the last hours
            path = f"{_V3}/rooms/{_q(room)}/messages?dir=b&limit=100&filter={filt}" + (
                f"&from={_q(token)}" if token else "")
            data = self._call("GET", path)
            chunk = data.get("chunk") or []
            for event in chunk:
                if event.get("origin_server_ts", 0) < since:
                    return found
                if event.get("sender") in wanted and "redacted_because" not in (event.get("unsigned") or {}):
                    found.append((event["sender"], event["event_id"]))
            token = data.get("end")
            if not chunk or not token:
                return found
        return found

    # ---- apply ---------------------------------------------------------------------------------
    def apply(self, plan: Plan, receipt: dict[str, Any], items: list[str]) -> Done:
        done: Done = {}
        if plan.kind == "lockdown":
            for room in items:
                before = receipt["rooms"][room]["join_rules"].get("join_rule")
                if before in ("invite", "private", plan.params["join_rule"]):
                    done[room] = f"already {before}: left as it was"
                    continue
                self._put_state(room, "m.room.join_rules", {"join_rule": plan.params["join_rule"]})
                done[room] = f"join rule {before} → {plan.params['join_rule']}"
        elif plan.kind == "quiet":
            for room in items:
                levels = self._state(room, "m.room.power_levels") or {}
                level = _quiet_level(levels)
                levels["events_default"] = level
                if "m.room.message" in (levels.get("events") or {}):
                    levels["events"]["m.room.message"] = level
                self._put_state(room, "m.room.power_levels", levels)
                done[room] = f"members need power level {level} to post"
        elif plan.kind == "mute":
            for room in plan.rooms:
                levels = self._state(room, "m.room.power_levels") or {}
                users = levels.setdefault("users", {})
                muted = _muted_level(levels)
                for account in items:
                    users[account] = muted
                self._put_state(room, "m.room.power_levels", levels)
            done.update({a: "muted" for a in items})
        elif plan.kind in ("ban", "kick", "unban"):
            for account in items:
                for room in plan.rooms:
                    before = receipt["rooms"][room]["membership"].get(account, "none")
                    if plan.kind == "kick" and before not in ("join", "invite", "knock"):
                        continue
                    if plan.kind == "unban" and before != "ban":
                        continue
                    body = {"user_id": account, "reason": plan.reason}
                    self._call("POST", f"{_V3}/rooms/{_q(room)}/{plan.kind}", body)
                done[account] = {"ban": "banned", "kick": "removed", "unban": "unbanned"}[plan.kind]
        elif plan.kind == "redact":
            for account in items:
                refs = receipt.get("events", {}).get(account, [])
                for n, (room, event_id) in enumerate(refs):
                    txn = f"crisis-{plan.action_id}-{_q(account)}-{n}"
                    self._call("PUT", f"{_V3}/rooms/{_q(room)}/redact/{_q(event_id)}/{_q(txn)}",
                               {"reason": plan.reason})
                done[account] = f"{len(refs)} message(s) deleted"
        else:
            raise ActionFailed(f"Matrix cannot carry out {plan.kind!r}", permanent=True)
        return done

    # ---- revert --------------------------------------------------------------------------------
    def revert(self, plan: Plan, receipt: dict[str, Any], items: list[str]) -> Done:
        done: Done = {}
        if plan.kind == "lockdown":
            for room in items:
                before = receipt["rooms"][room]["join_rules"]
                now = (self._state(room, "m.room.join_rules") or {}).get("join_rule")
                if before.get("join_rule") in ("invite", "private", plan.params["join_rule"]):
                    done[room] = "was not changed"
                elif now != plan.params["join_rule"]:
                    done[room] = f"join rule changed since by someone else (now {now}): left as it is"
                else:
                    self._put_state(room, "m.room.join_rules", before)
                    done[room] = f"join rule back to {before.get('join_rule')}"
        elif plan.kind == "quiet":
            for room in items:
                before = receipt["rooms"][room]
                levels = self._state(room, "m.room.power_levels") or {}
                if levels.get("events_default") != _quiet_level(levels):
                    done[room] = "posting level changed since by someone else: left as it is"
                    continue
                levels["events_default"] = before["events_default"]
                if before["message_level"] is not None:
                    levels.setdefault("events", {})["m.room.message"] = before["message_level"]
                self._put_state(room, "m.room.power_levels", levels)
                done[room] = f"members may post again (level {before['events_default']})"
        elif plan.kind == "mute":
            for room in plan.rooms:
                levels = self._state(room, "m.room.power_levels") or {}
                users = levels.setdefault("users", {})
                muted = _muted_level(levels)
                changed = False
                for account in items:
                    if users.get(account) != muted:
                        continue  # someone set this account's level since: theirs stands
                    previous = receipt["rooms"][room]["users"].get(account)
                    if previous is None:
                        users.pop(account, None)
                    else:
                        users[account] = previous
                    changed = True
                if changed:
                    self._put_state(room, "m.room.power_levels", levels)
            done.update({a: "unmuted" for a in items})
        elif plan.kind in ("ban", "kick"):
            for account in items:
                for room in plan.rooms:
                    before = receipt["rooms"][room]["membership"].get(account, "none")
                    now = self._membership(room, account)
                    if plan.kind == "ban" and before != "ban" and now == "ban":
                        self._call("POST", f"{_V3}/rooms/{_q(room)}/unban", {"user_id": account})
                    elif plan.kind == "kick" and before == "join" and now == "leave":
                        # A kick cannot be taken back; an invite lets the member return.
                        self._call("POST", f"{_V3}/rooms/{_q(room)}/invite", {"user_id": account})
                done[account] = "unbanned" if plan.kind == "ban" else "invited back"
        else:
            raise ActionFailed(f"{plan.kind!r} cannot be undone", permanent=True)
        return done


def _quiet_level(levels: dict[str, Any]) -> int:
    return max(10, int(levels.get("users_default", 0)) + 1)


def _muted_level(levels: dict[str, Any]) -> int:
    return min(-1, int(levels.get("events_default", 0)) - 1, int(levels.get("users_default", 0)) - 1)
