"""A thread's own autocommit psycopg connection to PostgreSQL, for the ingest hot path.

Through a SQLAlchemy session, a 100-event ingest request cost four round trips (the
pool's pre-ping, the token query, the insert, the commit) and about a millisecond of
client CPU around them. The hot path needs one statement (crisis.ingest.store_for_token),
so it runs on a plain autocommit connection that this thread keeps.

There is no ping before use. The statement is idempotent (ids already stored are
skipped), so when a connection turns out to be dead it is replaced and the statement
sent once more; a database that is really down raises DatabaseUnavailable, which the API
answers with 503 and Retry-After.
"""
from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import make_url

T = TypeVar("T")


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached on a fresh connection either."""


def conninfo(database_url: str) -> str:
    """A libpq connection string from a SQLAlchemy URL, built from its parts so that odd
    characters in a password are quoted (an unquoted one ends up in psycopg's error text)."""
    url = make_url(database_url)
    parts: dict[str, Any] = url.translate_connect_args(username="user", database="dbname")
    for key, value in url.query.items():
        parts[key] = value if isinstance(value, str) else value[-1]
    return make_conninfo(**{k: str(v) for k, v in parts.items()})


class DirectConnections:
    def __init__(self, database_url: str, connect_timeout: int = 5) -> None:
        self._conninfo = conninfo(database_url)
        self._timeout = connect_timeout
        self._local = threading.local()
        # Weak: a thread that ends takes its connection with it (werkzeug's dev server
        # starts a thread per request); close() still reaches the live ones.
        self._all: weakref.WeakSet[psycopg.Connection[Any]] = weakref.WeakSet()
        self._lock = threading.Lock()

    def _connect(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=self._timeout)
        with self._lock:
            self._all.add(conn)
        self._local.conn = conn
        return conn

    def _drop(self, conn: psycopg.Connection[Any] | None) -> None:
        self._local.conn = None
        if conn is None:
            return
        with self._lock:
            self._all.discard(conn)
        try:
            conn.close()
        except Exception:  # noqa: BLE001 -- it is already broken
            pass

    def run(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """`work(conn)` on this thread's connection; once more on a new one if it was dead.
        `work` must be safe to repeat (the ingest statement is)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and not conn.closed:
            try:
                return work(conn)
            except psycopg.OperationalError as exc:
                if not (conn.broken or conn.closed):
                    # A cancelled statement or a lock timeout on a healthy connection:
                    # transient, but no reason to reconnect.
                    raise DatabaseUnavailable(type(exc).__name__) from exc
                self._drop(conn)
        try:
            return work(self._connect())
        except psycopg.OperationalError as exc:
            self._drop(getattr(self._local, "conn", None))
            raise DatabaseUnavailable(type(exc).__name__) from exc

    def close(self) -> None:
        with self._lock:
            conns, self._all = list(self._all), weakref.WeakSet()
        for conn in conns:
            try:
                conn.close()
            except Exception:  # noqa: BLE001
                pass
