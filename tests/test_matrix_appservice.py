"""The appservice API crisis serves, without a homeserver: who may push, what a bad push
is told, what is stored once, and how Matrix events read as crisis events."""
from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from crisis import runtime
from crisis.bridges import intake, links
from crisis.bridges.base import Account
from crisis.bridges.matrix.mapping import MatrixBridge, permalink
from crisis.clock import FixedClock
from crisis.config import Config
from crisis.models import EventId, PlatformLink
from crisis.tenancy.credentials import hash_token
from tests.conftest import Factory
from tests.test_cli import crisis as crisis_cli

ROOM = "!AbCdEf0123456789_room"
OTHER_ROOM = "!ZyXw9876_other"


@pytest.fixture
def linked(factory: Factory, session: Session, rt: runtime.Runtime, clock: FixedClock) -> dict[str, Any]:
    tenant = factory.community("lantern")
    issued = links.create_matrix_link(session, tenant.community, homeserver="http://127.0.0.1:1",
                                      server_name="localhost", rooms={ROOM: "general"},
                                      secret_key=rt.config.secret_key, clock=clock)
    session.commit()
    return {"hs_token": issued.inbound_token, "as_token": issued.outbound_token, "link_id": issued.link.id}


def _ms(clock: FixedClock, seconds: float = 0) -> int:
    return int((clock.now().timestamp() - seconds) * 1000)


def _message(clock: FixedClock, n: int, room: str = ROOM, sender: str = "@ann:localhost") -> dict[str, Any]:
    return {"type": "m.room.message", "event_id": f"$ev{n}", "room_id": room, "sender": sender,
            "origin_server_ts": _ms(clock, 60 - n), "content": {"msgtype": "m.text", "body": f"hello {n}"}}


def _put(client: FlaskClient, txn: str, body: Any, token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = body if isinstance(body, bytes) else json.dumps(body)
    return client.put(f"/_matrix/app/v1/transactions/{txn}", data=data, headers=headers,
                      content_type="application/json")


def _stored(session: Session) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(EventId)) or 0)


def test_a_wrong_hs_token_is_refused_with_403_and_stores_nothing(client: FlaskClient, linked: dict[str, Any],
                                                                 session: Session, clock: FixedClock) -> None:
    resp = _put(client, "t1", {"events": [_message(clock, 1)]}, "not-the-token")
    assert resp.status_code == 403 and resp.get_json()["errcode"] == "M_FORBIDDEN"
    missing = _put(client, "t1", {"events": [_message(clock, 1)]}, None)
    assert missing.status_code == 401 and "hs_token" in missing.get_json()["error"]
    assert _stored(session) == 0


@pytest.mark.parametrize(("body", "says"), [
    (b"{not json", "not valid JSON"),
    ([1, 2], "must be an object"),
    ({"events": "nope"}, "events: must be a list"),
])
def test_a_malformed_transaction_gets_a_400_saying_what_is_wrong(client: FlaskClient, linked: dict[str, Any],
                                                                 session: Session, body: Any, says: str) -> None:
    resp = _put(client, "bad", body, linked["hs_token"])
    assert resp.status_code == 400 and says in resp.get_json()["error"]
    assert _stored(session) == 0


def test_a_transaction_sent_again_stores_nothing_twice(client: FlaskClient, linked: dict[str, Any],
                                                       session: Session, clock: FixedClock) -> None:
    body = {"events": [_message(clock, 1), _message(clock, 2)]}
    assert _put(client, "t1", body, linked["hs_token"]).status_code == 200
    assert _put(client, "t1", body, linked["hs_token"]).status_code == 200
    # A later transaction repeating an event (Synapse resends under a new id after a restart).
    again = {"events": [_message(clock, 2), _message(clock, 3)]}
    assert _put(client, "t2", again, linked["hs_token"]).status_code == 200
    assert _stored(session) == 3
    link = session.get(PlatformLink, linked["link_id"])
    assert link is not None and link.events_received == 3 and link.last_event_at is not None


def test_events_of_rooms_not_linked_are_counted_not_stored(client: FlaskClient, linked: dict[str, Any],
                                                           session: Session, clock: FixedClock) -> None:
    body = {"events": [_message(clock, 1, room=OTHER_ROOM), {"type": "m.room.message", "room_id": ROOM}]}
    assert _put(client, "t1", body, linked["hs_token"]).status_code == 200
    assert _stored(session) == 0
    link = session.get(PlatformLink, linked["link_id"])
    assert link is not None and link.events_skipped == 2
    assert "malformed m.room.message" in link.last_error  # the broken one is named on the link


def test_the_database_down_answers_503_so_synapse_retries(client: FlaskClient, linked: dict[str, Any],
                                                          monkeypatch: pytest.MonkeyPatch, clock: FixedClock,
                                                          session: Session) -> None:
    def down(*_a: Any, **_k: Any) -> Any:
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(intake, "store_events", down)
    resp = _put(client, "t1", {"events": [_message(clock, 1)]}, linked["hs_token"])
    assert resp.status_code == 503
    monkeypatch.undo()
    assert _put(client, "t1", {"events": [_message(clock, 1)]}, linked["hs_token"]).status_code == 200
    assert _stored(session) == 1


def test_ping_and_the_query_endpoints_answer_the_homeserver(client: FlaskClient, linked: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {linked['hs_token']}"}
    assert client.post("/_matrix/app/v1/ping", json={}, headers=headers).status_code == 200
    user = client.get("/_matrix/app/v1/users/@someone:localhost", headers=headers)
    assert user.status_code == 404 and user.get_json()["errcode"] == "M_NOT_FOUND"
    assert client.get("/_matrix/app/v1/rooms/%23alias:localhost", headers=headers).status_code == 404


def test_the_link_keeps_only_a_hash_of_the_hs_token_and_seals_the_as_token(linked: dict[str, Any],
                                                                           session: Session,
                                                                           rt: runtime.Runtime) -> None:
    link = session.get(PlatformLink, linked["link_id"])
    assert link is not None
    assert link.inbound_token_hash == hash_token(linked["hs_token"])
    assert linked["as_token"] not in link.outbound_token
    assert links.outbound_token(link, rt.config.secret_key) == linked["as_token"]


def _mapped(events: list[dict[str, Any]], accounts: dict[str, Account] | None = None) -> Any:
    return MatrixBridge().translate(events, rooms={ROOM: "general"}, accounts=lambda u: (accounts or {}).get(u))


def _member(n: int, membership: str, sender: str, target: str, prev: str | None = None,
            **content: Any) -> dict[str, Any]:
    return {"type": "m.room.member", "event_id": f"$m{n}", "room_id": ROOM, "sender": sender, "state_key": target,
            "origin_server_ts": 1_765_000_000_000 + n, "content": {"membership": membership, **content},
            **({"unsigned": {"prev_content": {"membership": prev}}} if prev else {})}


def test_memberships_read_as_joins_leaves_and_moderator_actions() -> None:
    out = _mapped([
        _member(1, "join", "@new:hs", "@new:hs", displayname="Newbie"),
        _member(2, "join", "@new:hs", "@new:hs", prev="join", displayname="Renamed"),
        _member(3, "leave", "@new:hs", "@new:hs", prev="join"),
        _member(4, "leave", "@mod:hs", "@bad:hs", prev="join", reason="spam"),
        _member(5, "ban", "@mod:hs", "@bad:hs", reason="raid"),
        _member(6, "leave", "@mod:hs", "@bad:hs", prev="ban"),
        _member(7, "invite", "@mod:hs", "@friend:hs"),
    ], {"@new:hs": Account("@new:hs", "New", None)})
    kinds = [(e["type"], e.get("action"), e.get("target", {}).get("user_id")) for e in out.events]
    assert kinds == [("member.join", None, None), ("member.leave", None, None),
                     ("moderation.action", "kick", "@bad:hs"), ("moderation.action", "ban", "@bad:hs"),
                     ("moderation.action", "unban", "@bad:hs"), ("x-member.invite", None, "@friend:hs")]
    assert out.events[0]["actor"] == {"id": "@new:hs", "name": "Newbie"}
    assert out.events[2]["reason"] == "spam"
    assert out.skipped == {"profile change (display name or avatar)": 1}


def test_messages_keep_replies_mentions_and_a_permalink_and_account_ages_fill_the_actor() -> None:
    from datetime import datetime, timezone

    created = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)
    event = {"type": "m.room.message", "event_id": "$msg", "room_id": ROOM, "sender": "@ann:hs",
             "origin_server_ts": 1_765_000_000_000,
             "content": {"msgtype": "m.text", "body": "你好 @bob 看这里", "m.mentions": {"user_ids": ["@bob:hs"]},
                         "m.relates_to": {"m.in_reply_to": {"event_id": "$earlier"}}}}
    out = _mapped([event], {"@ann:hs": Account("@ann:hs", "Ann", created)})
    (msg,) = out.events
    assert msg["type"] == "message.create" and msg["channel"] == "general" and msg["content"] == "你好 @bob 看这里"
    assert msg["x-reply_to"] == "$earlier" and msg["x-mentions"] == ["@bob:hs"]
    assert msg["x-permalink"] == permalink(ROOM, "$msg") and msg["x-permalink"].startswith("https://matrix.to/#/")
    assert msg["actor"]["created_at"].startswith("2026-12-07T09:00:00")


def test_redactions_reactions_and_room_settings_are_mapped_and_encryption_is_counted() -> None:
    base = {"room_id": ROOM, "sender": "@mod:hs", "origin_server_ts": 1_765_000_000_000}
    out = _mapped([
        {**base, "type": "m.room.redaction", "event_id": "$r", "content": {"redacts": "$msg", "reason": "spam"}},
        {**base, "type": "m.reaction", "event_id": "$re",
         "content": {"m.relates_to": {"event_id": "$msg", "key": "👍"}}},
        {**base, "type": "m.room.join_rules", "event_id": "$j", "content": {"join_rule": "invite"}},
        {**base, "type": "m.room.power_levels", "event_id": "$p", "content": {"users": {"@bad:hs": -1}},
         "unsigned": {"prev_content": {"users": {}}}},
        {**base, "type": "m.room.encrypted", "event_id": "$e", "content": {"ciphertext": "..."}},
    ])
    assert [(e["type"], e.get("action")) for e in out.events] == [
        ("message.delete", None), ("reaction.add", None), ("moderation.action", "join_rules"),
        ("moderation.action", "power_levels")]
    assert out.events[0]["target"] == {"message_id": "$msg"}
    assert out.events[3]["x-changed_users"] == {"@bad:hs": -1}
    assert list(out.skipped) == ["encrypted (the bridge cannot read end-to-end encrypted rooms)"]


def test_register_writes_a_private_registration_file_for_the_linked_rooms(config: Config, tmp_path: Path) -> None:
    crisis_cli(config, "community", "create", "lantern")
    out_file = tmp_path / "appservice.yaml"
    out = crisis_cli(config, "bridge", "matrix", "register", "lantern", "--homeserver", "http://127.0.0.1:8008",
                     "--server-name", "localhost", "--rooms", f"{ROOM}=general", "--url", "http://127.0.0.1:8000",
                     "--out", str(out_file))
    assert out.returncode == 0, out.stderr
    doc = yaml.safe_load(out_file.read_text())
    assert doc["url"] == "http://127.0.0.1:8000" and doc["sender_localpart"] == "crisis_lantern"
    assert doc["namespaces"]["rooms"] == [{"exclusive": False, "regex": f"^{ROOM}$"}]
    assert len(doc["hs_token"]) > 30 and doc["hs_token"] != doc["as_token"]
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o600
    assert doc["hs_token"] not in out.stdout + out.stderr  # shown once, in the file only
    bad = crisis_cli(config, "bridge", "matrix", "register", "lantern", "--homeserver", "http://x",
                     "--server-name", "localhost", "--rooms", "#alias:localhost", "--out", str(tmp_path / "b.yaml"))
    assert bad.returncode != 0 and "is not a Matrix room id" in bad.stderr


def test_a_links_token_stores_only_into_its_own_community_even_for_another_links_room(
        client: FlaskClient, linked: dict[str, Any], factory: Factory, session: Session, rt: runtime.Runtime,
        clock: FixedClock) -> None:
    other = factory.community("harbor")
    links.create_matrix_link(session, other.community, homeserver="http://127.0.0.1:1", server_name="localhost",
                             rooms={OTHER_ROOM: "general"}, secret_key=rt.config.secret_key, clock=clock)
    session.commit()
    # lantern's token pushing harbor's room: nothing lands in harbor (nor in lantern: not its room).
    assert _put(client, "x1", {"events": [_message(clock, 1, room=OTHER_ROOM)]}, linked["hs_token"]).status_code == 200
    assert _stored(session) == 0


def test_a_send_that_outlived_the_sweepers_patience_is_recorded_not_refused(
        session: Session, rt: runtime.Runtime, clock: FixedClock, factory: Factory,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from crisis.models import Notification
    from crisis.notify import deliver as deliver_mod

    tenant = factory.community("lantern")
    now = clock.now()
    row = Notification(community_id=tenant.community.id, event="opened", cause="t", destination="x",
                       recipient_label="x", title="t", body="b", status="pending", attempts=0, max_attempts=3,
                       next_attempt_at=now, created_at=now)
    session.add(row)
    session.commit()

    def slow_send(*_a: Any, **_k: Any) -> None:
        # While this send takes its time, the sweeper revives the row it thinks was abandoned.
        with rt.sessions() as other:
            revived = other.get(Notification, row.id)
            assert revived is not None and revived.status == "sending"
            revived.status = "pending"
            other.commit()

    monkeypatch.setattr(deliver_mod, "_url", lambda _s, _r: "json://127.0.0.1:9/x")
    result = deliver_mod.deliver(rt.sessions, row.id, clock=clock, transport=slow_send)
    assert result.outcome == "sent"
    session.expire_all()
    stored = session.get(Notification, row.id)
    assert stored is not None and stored.status == "sent"
