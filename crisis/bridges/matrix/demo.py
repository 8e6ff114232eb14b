"""`crisis bridge matrix demo`: a real platform raid becoming an incident, on one machine.

Starts a local Synapse (crisis.bridges.matrix.devserver) under var/, creates a demo room,
links it to the demo community of a running `make run`, plays ordinary chat and then a
raid of fresh accounts into the room, and keeps the homeserver up until Ctrl-C."""
from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

from crisis.bridges import links
from crisis.bridges.matrix.devserver import Synapse, synapse_python
from crisis.bridges.matrix.registration import registration, to_yaml
from crisis.db import session_scope
from crisis.runtime import Runtime
from crisis.tenancy.communities import get_community

CHAT = ("good morning all", "anyone tried the new build?", "the patch notes are up", "lol same",
        "brb coffee", "what time is the event tonight?", "thanks for the help earlier")


def run(rt: Runtime, *, slug: str, crisis_url: str, raid_after: float, say: Callable[[str], None]) -> Synapse:
    python = synapse_python()
    if python is None:
        raise RuntimeError("Synapse could not be installed (scripts/synapse-venv.sh)")
    home = rt.config.var_dir / "synapse-demo"
    shutil.rmtree(home, ignore_errors=True)
    synapse = Synapse(python, directory=home).start()
    say(f"Synapse is up at {synapse.url} (data in {home})")
    admin = synapse.register("demoadmin", admin=True)
    alice, bob = synapse.register("alice"), synapse.register("bob")
    room = alice.create_room(name="demo-general")
    bob.join(room)
    with session_scope(rt.sessions) as session:
        community = get_community(session, slug)
        issued = links.create_matrix_link(session, community, homeserver=synapse.url, server_name="localhost",
                                          rooms={room: "general"}, secret_key=rt.config.secret_key,
                                          clock=rt.clock, name=f"demo-{int(time.time())}", admin_token=admin.token,
                                          actor="demo")
        path: Path = home / "appservice.yaml"
        path.write_text(to_yaml(registration(issued, crisis_url=crisis_url)))
    synapse.appservices = [path]
    synapse.restart()
    say(f"room {room} linked to community {slug!r}; chatting, raid in {raid_after:.0f}s")
    deadline = time.monotonic() + raid_after
    n = 0
    while time.monotonic() < deadline:
        (alice if n % 2 else bob).say(room, CHAT[n % len(CHAT)])
        n += 1
        time.sleep(2.0)
    raiders = [synapse.register(f"gift{i}") for i in range(40)]
    for user in raiders:
        user.join(room)
    for i, user in enumerate(raiders):
        user.say(room, f"FREE NITRO for everyone, claim now https://nitro-gift.example/claim?c={i % 3}")
    say(f"raid played: 40 fresh accounts joined and posted; open {crisis_url}/ and look at Incidents")
    return synapse
