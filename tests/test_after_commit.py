"""Side effects hang on the transaction (crisis.db.after_commit): they run once the work
is committed, never for work rolled back, and a failing one cannot undo the commit."""
from __future__ import annotations

import logging

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from crisis.db import after_commit, make_engine, make_sessionmaker


@pytest.fixture
def sessions() -> sessionmaker[Session]:
    return make_sessionmaker(make_engine("sqlite://"))


def test_it_runs_the_hook_once_with_everything_gathered_in_the_transaction(sessions: sessionmaker[Session]) -> None:
    rang: list[list[int]] = []
    with sessions() as session:
        session.execute(text("select 1"))
        after_commit(session, "k", list, rang.append).append(1)
        after_commit(session, "k", list, rang.append).append(2)
        assert rang == []  # nothing before the commit
        session.commit()
        assert rang == [[1, 2]]
        session.commit()  # a later, empty transaction rings nothing again
    assert rang == [[1, 2]]


def test_a_rollback_forgets_what_was_gathered(sessions: sessionmaker[Session]) -> None:
    rang: list[list[int]] = []
    with sessions() as session:
        session.execute(text("select 1"))
        after_commit(session, "k", list, rang.append).append(1)
        session.rollback()
        session.execute(text("select 1"))
        after_commit(session, "k", list, rang.append).append(2)
        session.commit()
    assert rang == [[2]]


def test_a_failing_hook_is_logged_and_the_others_still_run(sessions: sessionmaker[Session],
                                                           caplog: pytest.LogCaptureFixture) -> None:
    ran: list[str] = []

    def broken(_: list[int]) -> None:
        raise RuntimeError("redis is down")

    with sessions() as session:
        session.execute(text("select 1"))
        after_commit(session, "first", list, broken)
        after_commit(session, "second", list, lambda _: ran.append("second"))
        with caplog.at_level(logging.WARNING, logger="crisis.db"):
            session.commit()
    assert ran == ["second"]
    assert "after-commit hook first failed" in caplog.text


def test_sessions_from_another_factory_do_not_run_the_hooks() -> None:
    # The hooks belong to the factory crisis builds, not to SQLAlchemy's Session class.
    rang: list[list[int]] = []
    plain = sessionmaker(bind=make_engine("sqlite://"))
    with plain() as session:
        session.execute(text("select 1"))
        after_commit(session, "k", list, rang.append).append(1)
        session.commit()
    assert rang == []
