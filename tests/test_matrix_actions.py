"""The Matrix executor against a real Synapse, call by call: every kind applied and undone
on a real room, what the homeserver then allows, receipts that restore what was there (and
leave a moderator's own later change alone), the room's staff and creator protected, and
Synapse's refusal surfacing as a permanent failure with its own words."""
from __future__ import annotations

import time
from urllib.parse import quote

import pytest

from crisis.bridges.base import ActionFailed, Plan
from crisis.bridges.matrix.actions import MatrixExecutor
from crisis.bridges.matrix.client import MatrixClient, MatrixError
from tests.synapse import MatrixUser, Synapse
from tests.test_matrix_bridge import synapse  # noqa: F401 -- one Synapse per module, started once

pytestmark = [pytest.mark.slow]


class Room:
    def __init__(self, synapse: Synapse, *, bot_level: int = 100) -> None:
        tag = f"{int(time.time() * 1000) % 10**9}"
        self.synapse = synapse
        self.owner = synapse.register(f"owner{tag}")
        self.bot = synapse.register(f"bot{tag}")
        self.mod = synapse.register(f"mod{tag}")
        self.members = [synapse.register(f"m{i}x{tag}") for i in range(3)]
        self.id = self.owner.create_room(name="general", power_level_content_override={
            "users": {self.bot.user_id: bot_level, self.mod.user_id: 50}})
        for user in (self.mod, *self.members):
            user.join(self.id)
        self.executor = MatrixExecutor(MatrixClient(synapse.url, self.bot.token), bot=self.bot.user_id)
        self._n = 0

    def plan(self, kind: str, **params: str) -> Plan:
        self._n += 1
        return Plan(action_id=self._n, kind=kind, params=params, rooms=(self.id,), reason="crisis test")

    def fresh(self) -> MatrixUser:
        self._n += 1
        return self.synapse.register(f"fresh{self._n}x{int(time.time() * 1000) % 10**9}")

    def state(self, kind: str, key: str = "") -> dict[str, object]:
        return self.owner.call("GET", f"/_matrix/client/v3/rooms/{quote(self.id, safe='')}/state/{kind}/{key}")

    def can_send(self, user: MatrixUser) -> bool:
        try:
            user.say(self.id, "hello")
            return True
        except MatrixError as exc:
            assert exc.status == 403, exc
            return False


def _refused(call: object) -> int | None:
    try:
        call()  # type: ignore[operator]
    except MatrixError as exc:
        return exc.status
    return None


def test_a_knock_lockdown_refuses_new_joiners_and_its_undo_lets_them_in(synapse: Synapse) -> None:
    room = Room(synapse)
    plan = room.plan("lockdown", join_rule="knock")
    prepared = room.executor.prepare(plan, [])
    assert prepared.receipt["rooms"][room.id]["join_rules"]["join_rule"] == "public"
    assert prepared.protected[room.owner.user_id] == "the room's creator"
    assert prepared.protected[room.mod.user_id].startswith("room staff")
    room.executor.apply(plan, prepared.receipt, [room.id])
    assert room.state("m.room.join_rules")["join_rule"] == "knock"
    assert _refused(lambda: room.fresh().join(room.id)) == 403
    done = room.executor.revert(plan, prepared.receipt, [room.id])
    assert done[room.id] == "join rule back to public"
    room.fresh().join(room.id)


def test_undo_leaves_a_join_rule_a_moderator_changed_since(synapse: Synapse) -> None:
    room = Room(synapse)
    plan = room.plan("lockdown", join_rule="knock")
    receipt = room.executor.prepare(plan, []).receipt
    room.executor.apply(plan, receipt, [room.id])
    room.owner.call("PUT", f"/_matrix/client/v3/rooms/{quote(room.id, safe='')}/state/m.room.join_rules/",
                    {"join_rule": "invite"})
    assert "left as it is" in room.executor.revert(plan, receipt, [room.id])[room.id]
    assert room.state("m.room.join_rules")["join_rule"] == "invite"


def test_quiet_stops_members_posting_but_not_moderators_and_undo_restores(synapse: Synapse) -> None:
    room = Room(synapse)
    plan = room.plan("quiet")
    receipt = room.executor.prepare(plan, []).receipt
    room.executor.apply(plan, receipt, [room.id])
    assert not room.can_send(room.members[0]) and room.can_send(room.mod)
    room.executor.revert(plan, receipt, [room.id])
    assert room.can_send(room.members[0])
    assert room.state("m.room.power_levels")["events_default"] == 0


def test_mute_silences_only_the_targets_and_undo_restores_their_earlier_level(synapse: Synapse) -> None:
    room = Room(synapse)
    target, bystander = room.members[0], room.members[1]
    levels = room.state("m.room.power_levels")
    levels["users"][target.user_id] = 5  # type: ignore[index]
    room.owner.call("PUT", f"/_matrix/client/v3/rooms/{quote(room.id, safe='')}/state/m.room.power_levels/", levels)
    plan = room.plan("mute")
    receipt = room.executor.prepare(plan, [target.user_id]).receipt
    room.executor.apply(plan, receipt, [target.user_id])
    assert not room.can_send(target) and room.can_send(bystander)
    room.executor.revert(plan, receipt, [target.user_id])
    assert room.can_send(target)
    assert room.state("m.room.power_levels")["users"][target.user_id] == 5  # type: ignore[index]


def test_ban_undo_unbans_but_keeps_a_ban_that_was_there_before(synapse: Synapse) -> None:
    room = Room(synapse)
    raider, earlier = room.members[0], room.members[1]
    room.owner.call("POST", f"/_matrix/client/v3/rooms/{quote(room.id, safe='')}/ban",
                    {"user_id": earlier.user_id, "reason": "before the incident"})
    plan = room.plan("ban")
    accounts = [raider.user_id, earlier.user_id]
    receipt = room.executor.prepare(plan, accounts).receipt
    room.executor.apply(plan, receipt, accounts)
    assert room.state("m.room.member", raider.user_id)["membership"] == "ban"
    assert _refused(lambda: raider.join(room.id)) == 403
    room.executor.revert(plan, receipt, accounts)
    assert room.state("m.room.member", raider.user_id)["membership"] == "leave"
    assert room.state("m.room.member", earlier.user_id)["membership"] == "ban"
    raider.join(room.id)


def test_a_kicked_member_released_is_invited_back(synapse: Synapse) -> None:
    room = Room(synapse)
    newcomer = room.members[2]
    plan = room.plan("kick")
    receipt = room.executor.prepare(plan, [newcomer.user_id]).receipt
    room.executor.apply(plan, receipt, [newcomer.user_id])
    assert room.state("m.room.member", newcomer.user_id)["membership"] == "leave"
    assert room.executor.revert(plan, receipt, [newcomer.user_id]) == {newcomer.user_id: "invited back"}
    assert room.state("m.room.member", newcomer.user_id)["membership"] == "invite"


def test_redact_deletes_the_targets_recent_messages_and_nobody_elses(synapse: Synapse) -> None:
    room = Room(synapse)
    raider, bystander = room.members[0], room.members[1]
    spam = [raider.say(room.id, f"FREE NITRO {i}") for i in range(3)]
    kept = bystander.say(room.id, "morning all")
    plan = room.plan("redact", within="30m")
    receipt = room.executor.prepare(plan, [raider.user_id]).receipt
    assert sorted(e for _room, e in receipt["events"][raider.user_id]) == sorted(spam)
    assert room.executor.apply(plan, receipt, [raider.user_id]) == {raider.user_id: "3 message(s) deleted"}
    base = f"/_matrix/client/v3/rooms/{quote(room.id, safe='')}/event/"
    assert all(room.owner.call("GET", base + quote(e, safe="")).get("content") == {} for e in spam)
    assert room.owner.call("GET", base + quote(kept, safe=""))["content"]["body"] == "morning all"


def test_without_the_power_level_synapse_refuses_and_the_failure_is_permanent(synapse: Synapse) -> None:
    room = Room(synapse, bot_level=0)
    plan = room.plan("lockdown", join_rule="knock")
    receipt = room.executor.prepare(plan, []).receipt
    with pytest.raises(ActionFailed) as failed:
        room.executor.apply(plan, receipt, [room.id])
    assert failed.value.permanent and "403" in failed.value.message and "M_FORBIDDEN" in failed.value.message
    assert room.state("m.room.join_rules")["join_rule"] == "public"
