"""Containment against a real Synapse, a real Redis and real rq workers: a raid in a real
room locks the room down by itself (Synapse refuses a fresh join), the proposed bans,
approved through the API, ban the raiders on the homeserver and undo unbans them, and the
lockdown reverts itself when it expires; a bot without the power level fails permanently
with Synapse's words on the incident page and a task for a person; Synapse down during
the approval is retried and applied once; two workers racing on one action call Synapse once."""
from __future__ import annotations

import html
import json
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from redis import Redis
from sqlalchemy import select

from crisis import playbooks, runtime
from crisis.bridges.matrix.client import MatrixError
from crisis.clock import SystemClock
from crisis.config import Config
from crisis.jobs import bells, names
from crisis.models import ContainmentMove, PlatformLink
from tests.conftest import Factory
from tests.live import WorkerProcess, wait_for
from tests.synapse import MatrixUser, Synapse
from tests.test_matrix_bridge import Crisis, _baseline, _link, _pending
from tests.test_matrix_bridge import synapse as synapse  # noqa: F401  -- the module's one Synapse
from tests.web.conftest import login

pytestmark = [pytest.mark.redis, pytest.mark.slow]
_V3 = "/_matrix/client/v3"


def _q(value: str) -> str:
    return quote(value, safe="")


@dataclass
class World:
    crisis: Crisis
    synapse: Synapse
    room: str
    alice: MatrixUser  # the room's creator
    bob: MatrixUser  # an ordinary member
    bot: str  # the bridge's user id
    slug: str
    token: str  # a responder's personal token
    email: str
    worker: WorkerProcess
    tmp: Path
    fresh: list[int] = field(default_factory=lambda: [0])

    # ---- crisis, through its API -------------------------------------------------------------
    def api(self, method: str, path: str, body: dict[str, Any] | None = None, status: int = 200) -> Any:
        resp = self.crisis.app.test_client().open(path, method=method, json=body,
                                                  headers={"Authorization": f"Bearer {self.token}"})
        assert resp.status_code == status, (method, path, resp.status_code, resp.get_json())
        return resp.get_json()

    def actions(self, incident_id: int) -> list[dict[str, Any]]:
        return list(self.api("GET", f"/api/v1/incidents/{incident_id}/actions")["actions"])

    def action(self, incident_id: int, *, step: str | None = None, action_id: int | None = None) -> dict[str, Any]:
        found = [a for a in self.actions(incident_id) if (step is not None and a["step"] == step)
                 or (action_id is not None and a["id"] == action_id)]
        assert len(found) == 1, (step, action_id, self.actions(incident_id))
        return found[0]

    def wait_status(self, incident_id: int, status: str, *, step: str | None = None, action_id: int | None = None,
                    timeout: float = 30) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            found = [a for a in self.actions(incident_id) if (step is not None and a["step"] == step)
                     or (action_id is not None and a["id"] == action_id)]
            return found[0] if found and found[0]["status"] == status else None

        try:
            found: dict[str, Any] = wait_for(reached, timeout=timeout, interval=0.1,
                                             message=f"action {step or action_id} {status}")
            return found
        except AssertionError:
            raise AssertionError(f"action {step or action_id} never became {status}: "
                                 f"{json.dumps(self.actions(incident_id), indent=1)[-4000:]}\n"
                                 f"worker log:\n{self.worker.log()[-3000:]}") from None

    def open_incident(self, severity: str) -> int:
        body = {"community": self.slug, "kind": "raid", "severity": severity, "title": "Raid in #general",
                "description": "giftbot spam"}
        return int(self.api("POST", "/api/v1/incidents", body, status=201)["id"])

    # ---- the homeserver, as the room's creator sees it ----------------------------------------
    def join_rule(self) -> str:
        return str(self.alice.call("GET", f"{_V3}/rooms/{_q(self.room)}/state/m.room.join_rules/")["join_rule"])

    def membership(self, user_id: str) -> str:
        try:
            state = self.alice.call("GET", f"{_V3}/rooms/{_q(self.room)}/state/m.room.member/{_q(user_id)}")
        except MatrixError as exc:
            if exc.status == 404:
                return "none"
            raise
        return str(state["membership"])

    def timeline(self, types: list[str]) -> list[dict[str, Any]]:
        """The room's events of these types, oldest first (every page)."""
        filt = _q(json.dumps({"types": types}))
        events: list[dict[str, Any]] = []
        token = ""
        for _ in range(50):
            page = self.alice.call("GET", f"{_V3}/rooms/{_q(self.room)}/messages?dir=b&limit=100&filter={filt}"
                                          + (f"&from={_q(token)}" if token else ""))
            events += page.get("chunk") or []
            token = page.get("end") or ""
            if not page.get("chunk") or not token:
                break
        return list(reversed(events))

    def bot_join_rule_changes(self) -> list[str]:
        return [e["content"]["join_rule"] for e in self.timeline(["m.room.join_rules"]) if e["sender"] == self.bot]

    def newcomer(self) -> MatrixUser:
        self.fresh[0] += 1
        return self.synapse.register(f"new{self.slug}_{self.fresh[0]}")

    def moves(self, action_id: int) -> list[tuple[str, str]]:
        with self.crisis.rt.sessions() as s:
            return [(m.from_status, m.to_status) for m in s.scalars(
                select(ContainmentMove).where(ContainmentMove.action_id == action_id).order_by(ContainmentMove.id))]


def _descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, todo = [], [pid]
    while todo:
        kids = [p for p, parent in parents.items() if parent == todo[-1]]
        todo.pop()
        found += kids
        todo += kids
    return found


def _kill(worker: WorkerProcess) -> None:
    """Stop a worker now, with what it forked. Not worker.stop(): under rq 3.0 an idle
    `crisis worker` takes SIGTERM for a loop to restart (rq raises StopRequested without
    setting _stop_requested, which crisis.jobs.worker._work_until_stopped checks), so the
    stop waits 15 s and SIGKILLs it, orphaning its scheduler process; that child still
    holds the parent's Redis socket, blocked in the dequeue, and swallows the next job."""
    if worker.proc is None:
        return
    children = _descendants(worker.proc.pid)
    worker.stop(signal.SIGKILL)
    for pid in children:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _short_lockdown(crisis: Crisis, expires_after: str) -> int:
    """The raid playbook as stored from playbooks/, then a new version (an edit, as through
    the API) whose lockdown expires after `expires_after`: the expiry under test is the
    playbook's own, carried out by the scheduled job, only sooner than 2 h."""
    with crisis.rt.sessions() as session:
        _report, bad = playbooks.sync(session, clock=SystemClock())
        assert not bad, bad
        spec = playbooks.latest(session, "raid").spec  # type: ignore[union-attr]
        steps = [dict(s, expires_after=expires_after) if s["id"] == "contain" else s for s in spec["steps"]]
        row = playbooks.create_version(session, "raid", {**spec, "steps": steps}, clock=SystemClock(), user_id=None,
                                       comment="containment test: a short lockdown")
        session.commit()
        return int(row.version)


@contextmanager
def _world(synapse: Synapse, config: Config, factory: Factory, tmp: Path, *, bot_power: bool, baseline: bool,
           expires_after: str = "2h") -> Iterator[World]:
    tenant = factory.community(f"cx{int(time.time() * 1000) % 10**8}")
    slug = tenant.community.slug
    responder = factory.staff(f"ray-{slug}@example.test", tenant.community, "responder")
    token = factory.personal_token(responder.user)
    crisis = Crisis(config)
    crisis.start()
    _short_lockdown(crisis, expires_after)
    admin = synapse.register(f"admin{slug}", admin=True)
    alice = synapse.register(f"alice{slug}")
    bob = synapse.register(f"bob{slug}")
    bot = f"@crisis_{slug}:localhost"
    # Room v12: the creator cannot be listed (its power is unlimited); the bot can.
    override = {"power_level_content_override": {"users": {bot: 100}}} if bot_power else {}
    room = alice.create_room(name="general", **override)
    bob.join(room)
    _link(crisis, synapse, admin, tenant.community, room, tmp)
    with crisis.rt.sessions() as s:
        link = s.scalar(select(PlatformLink).where(PlatformLink.community_id == tenant.community.id))
        assert link is not None and link.sender == bot
    if baseline:
        _baseline(crisis, tenant.token, slug, datetime.now(timezone.utc))
    worker = WorkerProcess(crisis.config, name=f"w-{slug}").start()
    try:
        wait_for(lambda: _pending(crisis) == 0, timeout=120, message=f"the baseline; log:\n{worker.log()}")
        yield World(crisis, synapse, room, alice, bob, bot, slug, token, responder.user.email, worker, tmp)
    finally:
        _kill(worker)
        crisis.stop()
        if synapse.proc is None:
            synapse.start()
        synapse.appservices = []
        runtime.reset()


def _join_until_locked_out(world: World, users: list[MatrixUser]) -> tuple[list[MatrixUser], list[MatrixUser]]:
    """Fresh accounts join one after another; once the playbook's lockdown is in force the
    homeserver refuses the rest (403), which is the lockdown working, not a failure."""
    joined: list[MatrixUser] = []
    refused: list[MatrixUser] = []
    for user in users:
        try:
            user.join(world.room)
        except MatrixError as exc:
            if exc.status != 403:
                raise
            refused.append(user)
        else:
            assert not refused, "a join got in after the homeserver had refused one: the lockdown lapsed"
            joined.append(user)
    if refused:
        assert world.join_rule() == "knock", "joins refused while the room was not locked down"
    print(f"{len(joined)} raiders joined, {len(refused)} kept out by the lockdown")
    return joined, refused


def _post_raid(world: World, raiders: list[MatrixUser]) -> list[MatrixUser]:
    """Each raider posts the spam; the raiders who could. A join that raced the lockdown's
    join-rule change can be accepted and then lose state resolution (the power event wins),
    so such a raider is not in the room after all: kept out as well."""
    posted = []
    for i, user in enumerate(raiders):
        try:
            user.say(world.room, f"FREE NITRO for everyone, claim now https://nitro-gift.example/claim?c={i % 3} hurry")
        except MatrixError as exc:
            if exc.status != 403 or world.join_rule() != "knock":
                raise
            continue
        posted.append(user)
    if len(posted) < len(raiders):
        print(f"{len(raiders) - len(posted)} joins lost to the lockdown in state resolution")
    return posted


def _raid_incident(world: World, n: int = 40) -> tuple[list[MatrixUser], int, float]:
    """The raiders who got in, the raid incident, and when their joins began."""
    users = [world.synapse.register(f"raid{world.slug}_{i}") for i in range(n)]
    sent = time.time()
    raiders, _refused = _join_until_locked_out(world, users)
    raiders = _post_raid(world, raiders)
    opened = wait_for(lambda: world.api("GET", f"/api/v1/incidents?community={world.slug}")["incidents"],
                      timeout=60, message=f"a raid incident; worker log:\n{world.worker.log()[-3000:]}")
    assert [i["kind"] for i in opened] == ["raid"], opened
    return raiders, int(opened[0]["id"]), sent


# ---- 1. the raid, end to end --------------------------------------------------------------------
# 60 fresh accounts join, then post. Their join burst opens the raid within the first few
# joins; at 25 accounts in the wave it is sev1 and the playbook locks the room down by itself,
# so the homeserver refuses the raiders still joining.
RAIDERS = 60


def test_a_raid_locks_the_room_down_bans_on_approval_undoes_and_the_lockdown_expires(
        synapse: Synapse, redis_config: Config, factory: Factory, tmp_path: Path) -> None:  # noqa: F811
    with _world(synapse, redis_config, factory, tmp_path, bot_power=True, baseline=True,
                expires_after="1m") as world:
        assert world.join_rule() == "public"
        early = world.newcomer()
        raiders, incident_id, sent = _raid_incident(world, RAIDERS)
        raider_ids = {u.user_id for u in raiders}

        # The playbook locks the room down by itself: the raid is sev1.
        lockdown = world.wait_status(incident_id, "applied", step="contain", timeout=30)
        wait_for(lambda: world.join_rule() == "knock", timeout=10, message="the join rule knock on the homeserver")
        print(f"raid sent → lockdown in force: {time.time() - sent:.2f}s")
        incident = world.api("GET", f"/api/v1/incidents/{incident_id}")
        assert incident["severity"] == "sev1"
        assert lockdown["approved_by"] == "playbook" and lockdown["rooms"] == [world.room]
        assert lockdown["expires_after_s"] == 60 and lockdown["expires_at"]
        with pytest.raises(MatrixError) as refused:
            world.newcomer().join(world.room)
        assert refused.value.status == 403, refused.value
        assert world.bot_join_rule_changes() == ["knock"]

        # The bans are only proposed: a responder approves them through the API.
        ban = world.action(incident_id, step="ban-raiders")
        assert ban["status"] == "proposed" and ban["approve_role"] == "responder"
        targets = [t["account"] for t in ban["targets"]]
        evidence = world.api("GET", f"/api/v1/incidents/{incident_id}")["evidence"]["accounts"]
        print(f"ban proposed for {len(targets)} of {RAIDERS} raiders; the evidence names {len(evidence)}")
        assert targets and set(targets) <= raider_ids, targets
        assert world.alice.user_id not in targets and world.bot not in targets
        assert all(world.membership(a) == "join" for a in targets)
        world.api("POST", f"/api/v1/incidents/{incident_id}/actions/{ban['id']}/approve", {})
        ban = world.wait_status(incident_id, "applied", action_id=ban["id"])
        assert ban["approved_by"] and ban["approved_by"] != "playbook"
        assert {t["account"]: t["state"] for t in ban["targets"]} == dict.fromkeys(targets, "done")
        assert {a: world.membership(a) for a in targets} == dict.fromkeys(targets, "ban")

        # Never the room's creator nor the bridge itself, even when a person names them.
        named = world.api("POST", f"/api/v1/incidents/{incident_id}/actions",
                          {"kind": "ban", "accounts": [world.alice.user_id, world.bot, world.bob.user_id],
                           "approve": True}, status=201)
        assert {e["account"] for e in named["excluded"]} == {world.bot}
        named = world.wait_status(incident_id, "applied", action_id=named["id"])
        states = {t["account"]: (t["state"], t.get("why")) for t in named["targets"]}
        assert states[world.alice.user_id] == ("skipped", "the room's creator"), states
        assert states[world.bob.user_id][0] == "done"  # an ordinary member a person chose to ban
        assert world.membership(world.alice.user_id) == "join" and world.membership(world.bot) == "join"
        assert world.membership(world.bob.user_id) == "ban"

        # Undo of the ban, through the API: unbanned on the homeserver.
        world.api("POST", f"/api/v1/incidents/{incident_id}/actions/{ban['id']}/undo", {})
        ban = world.wait_status(incident_id, "reverted", action_id=ban["id"])
        assert {a: world.membership(a) for a in targets} == dict.fromkeys(targets, "leave")
        assert ban["reverted_by"] and ban["reverted_by"] != "expiry"

        # The lockdown reverts itself when it expires (the job rq scheduled for expires_at, or the sweeper).
        assert world.action(incident_id, step="contain")["status"] == "applied"
        lockdown = world.wait_status(incident_id, "reverted", step="contain", timeout=90)
        print(f"lockdown applied {lockdown['applied_at']}, expires {lockdown['expires_at']}, "
              f"reverted {lockdown['reverted_at']}")
        assert lockdown["reverted_by"] == "expiry"
        assert world.join_rule() == "public"
        assert world.bot_join_rule_changes() == ["knock", "public"]
        world.newcomer().join(world.room)
        early.join(world.room)  # registered before the raid: not held back either
        assert world.moves(lockdown["id"]) == [("", "proposed"), ("proposed", "approved"), ("approved", "applying"),
                                               ("applying", "applied"), ("applied", "expiring"),
                                               ("expiring", "reverted")]


def test_a_burst_raid_of_40_accounts_is_raised_to_sev1_and_locks_down(
        synapse: Synapse, redis_config: Config, factory: Factory, tmp_path: Path) -> None:  # noqa: F811
    with _world(synapse, redis_config, factory, tmp_path, bot_power=True, baseline=True) as world:
        raiders, incident_id, _sent = _raid_incident(world, 40)
        wait_for(lambda: _pending(world.crisis) == 0, timeout=30, message="the detectors to catch up")
        time.sleep(1)
        assert world.api("GET", f"/api/v1/incidents/{incident_id}")["severity"] == "sev1"
        world.wait_status(incident_id, "applied", step="contain", timeout=10)
        assert world.join_rule() == "knock"
        assert len(world.action(incident_id, step="ban-raiders")["targets"]) >= 25


# ---- 2. no power level -----------------------------------------------------------------------------
def test_a_bot_without_the_power_level_fails_permanently_with_synapses_words_and_a_task(
        synapse: Synapse, redis_config: Config, factory: Factory, tmp_path: Path) -> None:  # noqa: F811
    with _world(synapse, redis_config, factory, tmp_path, bot_power=False, baseline=False) as world:
        incident_id = world.open_incident("sev1")  # the playbook approves the lockdown itself at sev1
        action = world.wait_status(incident_id, "failed", step="contain")
        assert world.join_rule() == "public"
        assert action["attempts"] == 1  # permanent: not retried
        assert "HTTP 403" in action["last_error"] and "M_FORBIDDEN" in action["last_error"], action["last_error"]
        assert "m.room.join_rules" in action["last_error"]
        assert world.membership(world.bot) == "join"  # it could join (a public room), not act

        tasks = world.api("GET", f"/api/v1/incidents/{incident_id}/tasks")["tasks"]
        (task,) = [t for t in tasks if t["id"] == action["task_id"]]
        assert task["status"] == "open" and task["title"].startswith("Do by hand")
        assert "M_FORBIDDEN" in task["instructions"]

        # The incident page, as a logged-in member of staff.
        client = world.crisis.app.test_client()
        login(client, world.email)
        page = client.get(f"/c/{world.slug}/incidents/{incident_id}")
        assert page.status_code == 200
        text = html.unescape(page.get_data(as_text=True))
        assert "M_FORBIDDEN" in text and task["title"] in text


# ---- 3. Synapse down during the approval ----------------------------------------------------------
def test_synapse_down_during_approval_is_retried_with_backoff_and_applied_once(
        synapse: Synapse, redis_config: Config, factory: Factory, tmp_path: Path) -> None:  # noqa: F811
    with _world(synapse, redis_config, factory, tmp_path, bot_power=True, baseline=False) as world:
        incident_id = world.open_incident("sev2")  # proposed only
        action = world.action(incident_id, step="contain")
        assert action["status"] == "proposed"
        synapse.stop()
        try:
            world.api("POST", f"/api/v1/incidents/{incident_id}/actions/{action['id']}/approve", {})
            retried = wait_for(lambda: (a := world.action(incident_id, step="contain"))["attempts"] >= 2
                               and a["status"] == "approved" and a, timeout=30,
                               message=f"two attempts; log:\n{world.worker.log()[-3000:]}")
            assert "Connection refused" in retried["last_error"], retried["last_error"]
        finally:
            synapse.start()
        applied = world.wait_status(incident_id, "applied", step="contain", timeout=60)
        assert world.join_rule() == "knock"
        assert world.bot_join_rule_changes() == ["knock"]  # one change on the homeserver
        assert applied["attempts"] >= 3 and applied["last_error"] == ""
        moves = world.moves(applied["id"])
        assert moves.count(("approved", "applying")) == applied["attempts"]
        assert moves.count(("applying", "approved")) == applied["attempts"] - 1  # each failure went back
        assert moves.count(("applying", "applied")) == 1


# ---- 4. two workers racing -------------------------------------------------------------------------
def test_two_workers_racing_on_one_approved_action_make_one_platform_call(
        synapse: Synapse, redis_config: Config, factory: Factory, tmp_path: Path) -> None:  # noqa: F811
    with _world(synapse, redis_config, factory, tmp_path, bot_power=True, baseline=False) as world:
        incident_id = world.open_incident("sev2")
        action = world.action(incident_id, step="contain")
        _kill(world.worker)  # the jobs wait in the queue until both workers start at once
        world.api("POST", f"/api/v1/incidents/{incident_id}/actions/{action['id']}/approve", {})  # rings one job
        redis = Redis.from_url(redis_config.redis_url)
        for _ in range(5):  # and five more, past the doorbell, as a sweeper and retries might
            bells.enqueue(redis, names.RUN_CONTAINMENT, action["id"])
        a = WorkerProcess(world.crisis.config, name=f"race-a-{world.slug}")
        b = WorkerProcess(world.crisis.config, name=f"race-b-{world.slug}")
        a.start()
        b.start()
        try:
            applied = world.wait_status(incident_id, "applied", step="contain")
            wait_for(lambda: redis.llen("rq:queue:" + names.RUN_CONTAINMENT.queue) == 0, timeout=30,
                     message="every job taken")
            time.sleep(2)  # the last jobs to finish
            logs = a.log() + b.log()
        finally:
            _kill(a)
            _kill(b)
        assert world.join_rule() == "knock"
        assert world.bot_join_rule_changes() == ["knock"], logs[-3000:]
        assert applied["attempts"] == 1
        assert world.moves(applied["id"]) == [("", "proposed"), ("proposed", "approved"), ("approved", "applying"),
                                              ("applying", "applied")]
        assert "Job OK" in a.log() and "Job OK" in b.log(), logs[-3000:]  # both workers took a job
