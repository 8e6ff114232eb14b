"""Engine, sessions and the declarative base with a naming convention for Alembic."""
from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

import orjson
from sqlalchemy import DateTime, MetaData, TypeDecorator, create_engine, event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from crisis.clock import utc

log = logging.getLogger(__name__)
T = TypeVar("T")
_AFTER_COMMIT = "crisis.after_commit"

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, whatever the backend keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else utc(value)


def json_dumps(value: Any) -> str:
    """JSON columns' serializer. orjson, because the detectors' checkpoint (hundreds of KB
    per busy community, written after every drain) was a quarter of a detect worker's CPU
    with the standard library's encoder; 5x faster on it, same document."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # a type orjson does not know: let the standard library say what
        return json.dumps(value)


def json_loads(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # NaN and friends, which older SQLite rows may hold
        return json.loads(text)


def make_engine(url: str, **kwargs: Any) -> Engine:
    kwargs.setdefault("json_serializer", json_dumps)
    kwargs.setdefault("json_deserializer", json_loads)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            # WAL lets the web process read while the worker writes.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """The factory every process opens sessions from, with the after-commit hooks installed
    on it (not on SQLAlchemy's global Session class, where whether they run would depend on
    which modules some earlier import happened to load)."""
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    event.listen(factory, "after_commit", _run_after_commit)
    event.listen(factory, "after_rollback", _drop_after_commit)
    return factory


def after_commit(session: Session, key: str, make: Callable[[], T], hook: Callable[[T], None]) -> T:
    """The value gathered under `key` for the session's current transaction, made on first use;
    once the transaction commits, `hook(value)` runs; a rollback forgets both.

    Side effects outside the database (ringing Redis, counting metrics) hang here, so they
    happen only for work that is durable, the way warehouse hooks its transaction manager."""
    hooks: dict[str, tuple[Any, Callable[[Any], None]]] = session.info.setdefault(_AFTER_COMMIT, {})
    if key not in hooks:
        hooks[key] = (make(), hook)
    return hooks[key][0]  # type: ignore[no-any-return]


def _run_after_commit(session: Session) -> None:
    for key, (value, hook) in session.info.pop(_AFTER_COMMIT, {}).items():
        try:
            hook(value)
        except Exception:  # noqa: BLE001 -- the work is committed; a hook must not undo the caller
            log.warning("after-commit hook %s failed", key, exc_info=True)


def _drop_after_commit(session: Session) -> None:
    session.info.pop(_AFTER_COMMIT, None)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work for jobs and the CLI: commit on success, roll back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def sweep(factory: sessionmaker[Session], find: Callable[[Session, datetime, int], list[int]],
          handle: Callable[[Session, int, datetime], int], *, now: datetime, limit: int) -> int:
    """Read the due ids once, then handle each in its own transaction; returns the sum of what
    `handle` returned (True for a row it took, or a count).

    One transaction per row keeps locks short and lets a row that another process claimed first
    (handle returns False) cost nothing but its own claim."""
    with factory() as session:
        ids = find(session, now, limit)
    count = 0
    for row_id in ids:
        with session_scope(factory) as session:
            count += handle(session, row_id, now)
    return count
