"""The audit log as a service: rows join the caller's transaction, the database refuses to
change or delete them, and a community's admins see exactly their community's share."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session

from crisis import migrate, playbooks
from crisis.audit import export, query
from crisis.audit.log import record
from crisis.clock import FixedClock
from crisis.db import make_engine, make_sessionmaker
from crisis.models import AuditEntry
from crisis.tenancy import community_settings, tokens
from tests.conftest import Factory
from tests.servers import PostgresServer


def _actions(session: Session, community_id: int | None = None) -> list[str]:
    session.expire_all()
    rows, _ = query.page(session, community_id, query.Filters(), limit=500)
    return [r.action for r in reversed(rows)]


def test_a_row_commits_and_rolls_back_with_the_act_it_records(session: Session, factory: Factory) -> None:
    tenant = factory.community("lantern")
    record(session, community_id=tenant.community.id, actor="ann@example.test", action="settings.update",
           target="detector settings", before={"sensitivity": "normal"}, after={"sensitivity": "high"})
    session.rollback()
    assert "settings.update" not in _actions(session)
    record(session, community_id=tenant.community.id, actor="ann@example.test", action="settings.update")
    session.commit()
    assert _actions(session).count("settings.update") == 1


def test_it_refuses_an_action_name_that_is_not_dotted_lower_case(session: Session) -> None:
    with pytest.raises(ValueError, match="action: 'Token Create'"):
        record(session, community_id=None, actor="x", action="Token Create")


def _refuses_changes(session: Session) -> None:
    record(session, community_id=None, actor="x", action="login")
    session.commit()
    for statement in (update(AuditEntry).values(actor="someone else"), delete(AuditEntry)):
        with pytest.raises(DatabaseError, match="append-only"):
            session.execute(statement)
        session.rollback()
    assert session.scalar(select(AuditEntry.actor)) == "x"


def test_sqlite_refuses_to_change_or_delete_a_row(session: Session) -> None:
    _refuses_changes(session)


@pytest.mark.postgres
def test_postgresql_refuses_to_change_or_delete_a_row(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database("audit_append_only")
    migrate.upgrade(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        _refuses_changes(session)
    with engine.connect() as conn:  # downgrading removes the trigger with the table
        assert conn.scalar(text("SELECT count(*) FROM pg_trigger WHERE tgname = 'audit_log_append_only'")) == 1
    engine.dispose()


def test_admins_see_their_community_its_staff_and_shared_playbooks_only(session: Session, factory: Factory,
                                                                       clock: FixedClock) -> None:
    lantern, harbor = factory.community("lantern"), factory.community("harbor")
    ann = factory.staff("ann@example.test", lantern.community, "admin")
    bob = factory.staff("bob@example.test", harbor.community, "admin")
    record(session, community_id=None, actor=ann.user.email, subject_user_id=ann.user.id, action="login")
    record(session, community_id=None, actor=bob.user.email, subject_user_id=bob.user.id, action="login.failed")
    record(session, community_id=None, actor="nobody@example.test", action="login.failed")
    record(session, community_id=harbor.community.id, actor=bob.user.email, action="settings.update")
    playbooks.sync(session, clock=clock, actor="cli (ops)")
    session.commit()
    seen, _ = query.page(session, lantern.community.id, query.Filters(), limit=500)
    assert {(r.action, r.actor) for r in seen} >= {("login", ann.user.email), ("community.create", "system")}
    assert not [r for r in seen if r.actor in (bob.user.email, "nobody@example.test")]
    assert not [r for r in seen if r.community_id == harbor.community.id]
    assert {r.target for r in seen if r.action == "playbook.version"} >= {"playbook default v1", "playbook raid v2"}
    operators, _ = query.page(session, None, query.Filters(), limit=500)
    assert "nobody@example.test" in {r.actor for r in operators}


def test_filters_match_actor_part_action_or_prefix_and_time(session: Session, factory: Factory,
                                                           clock: FixedClock) -> None:
    cid = factory.community("lantern").community.id
    for hours, actor, action in ((0, "Ann@Example.test", "token.create"), (1, "bob@example.test", "token.revoke"),
                                 (2, "ann@example.test", "settings.update")):
        record(session, community_id=cid, actor=actor, action=action, at=clock.now() + timedelta(hours=hours))
    session.commit()

    def matching(**args: str) -> list[str]:
        rows, _ = query.page(session, cid, query.parse_filters(args))
        return [r.action for r in rows]

    assert matching(actor="ANN@") == ["settings.update", "token.create"]
    # The community's first ingest token was created too, by "system".
    assert matching(action="token.") == ["token.revoke", "token.create", "token.create"]
    assert matching(action="token.", actor="example.test") == ["token.revoke", "token.create"]
    assert matching(action="token.create", actor="ann") == ["token.create"]
    since = (clock.now() + timedelta(minutes=30)).isoformat()
    assert matching(since=since, action="token.") == ["token.revoke"]
    assert matching(action="token") == [], "without the dot it is an exact name"
    assert matching(until=clock.now().date().isoformat(), action="settings.update") == ["settings.update"]
    with pytest.raises(query.BadFilter, match="since: 'yesterday'"):
        query.parse_filters({"since": "yesterday"})


def test_pages_go_back_by_id_until_the_last(session: Session, factory: Factory) -> None:
    cid = factory.community("lantern").community.id
    for i in range(5):
        record(session, community_id=cid, actor=f"a{i}", action="settings.update")
    session.commit()
    filters = query.Filters(action="settings.update")
    first, more = query.page(session, cid, filters, limit=2)
    second, more2 = query.page(session, cid, filters, limit=2, before_id=more)
    third, last = query.page(session, cid, filters, limit=2, before_id=more2)
    assert [r.actor for r in first + second + third] == ["a4", "a3", "a2", "a1", "a0"] and last is None
    assert [r.actor for r in query.stream(session, cid, filters, batch=2)] == ["a4", "a3", "a2", "a1", "a0"]


def test_csv_export_defuses_formulas_and_json_export_is_one_document(session: Session, factory: Factory) -> None:
    import csv
    import io
    import json

    cid = factory.community("lantern").community.id
    record(session, community_id=cid, actor="=HYPERLINK(\"http://evil\")", action="login.failed",
           after={"reason": "wrong password", "名字": "张三"})
    session.commit()
    rows = list(query.stream(session, cid, query.Filters(action="login.failed")))
    parsed = list(csv.DictReader(io.StringIO("".join(export.render(rows, "csv")))))
    assert parsed[0]["actor"] == "'=HYPERLINK(\"http://evil\")" and "张三" in parsed[0]["after"]
    document = json.loads("".join(export.render(rows, "json")))
    assert document["entries"][0]["after"] == {"reason": "wrong password", "名字": "张三"}


def test_settings_changes_keep_only_what_changed(session: Session, factory: Factory) -> None:
    tenant = factory.community("lantern")
    community_settings.update(session, tenant.community, {"sensitivity": "high"},
                              actor="ann@example.test")
    community_settings.update(session, tenant.community, {"sensitivity": "high"}, actor="ann@example.test")
    session.commit()
    rows = [r for r in query.stream(session, tenant.community.id, query.Filters(action="settings.update"))]
    assert len(rows) == 1, "a save that changes nothing records nothing"
    assert rows[0].before == {"sensitivity": 1.0} and rows[0].after == {"sensitivity": "high"}


def test_token_issue_and_revocation_are_recorded_without_the_secret(session: Session, factory: Factory,
                                                                    clock: FixedClock) -> None:
    tenant = factory.community("lantern")
    ann = factory.staff("ann@example.test", tenant.community, "admin")
    issued = tokens.issue(session, "personal", clock=clock, actor=ann.user.email, actor_user_id=ann.user.id,
                          user=ann.user, scopes=["incidents:read"], name="bot")
    tokens.revoke(session, issued.id, clock=clock, actor=ann.user.email)
    tokens.revoke(session, issued.id, clock=clock, actor=ann.user.email)  # again: nothing more to record
    session.commit()
    rows = list(query.stream(session, tenant.community.id, query.Filters(action="token.", actor="ann@")))
    assert [r.action for r in rows] == ["token.revoke", "token.create"]
    assert rows[1].after is not None and rows[1].after["scopes"] == ["incidents:read"]
    assert issued.token not in str([(r.target, r.after) for r in rows])


def test_a_role_change_names_the_old_and_new_role(session: Session, factory: Factory) -> None:
    from crisis.tenancy import communities

    tenant = factory.community("lantern")
    ann = factory.staff("ann@example.test", tenant.community, "responder")
    communities.grant_role(session, ann.user, tenant.community, "manager", actor="cli (ops)")
    session.commit()
    rows = list(query.stream(session, tenant.community.id, query.Filters(action="role.grant")))
    assert [(r.before, r.after, r.actor) for r in rows][:1] == [({"role": "responder"}, {"role": "manager"},
                                                                 "cli (ops)")]
