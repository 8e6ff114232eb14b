"""Alembic environment: the URL comes from crisis.config, batch mode on SQLite."""
from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, pool

import crisis.models  # noqa: F401  (registers every table on Base.metadata)
from crisis.config import Config
from crisis.db import Base, make_engine

target_metadata = Base.metadata


def _url() -> str:
    url = context.config.attributes.get("database_url") or context.config.get_main_option("sqlalchemy.url")
    return url or Config.from_env().database_url


def _configure(connection: Connection | None = None, url: str | None = None) -> None:
    dialect = connection.dialect.name if connection is not None else (url or "").split(":", 1)[0]
    context.configure(
        connection=connection,
        url=url,
        target_metadata=target_metadata,
        render_as_batch=dialect.startswith("sqlite"),
        compare_type=True,
        literal_binds=connection is None,
    )


def run_offline() -> None:
    _configure(url=_url())
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        # A batch rebuild of a referenced table fails with foreign keys on.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        # The PRAGMA autobegins a transaction; end it so Alembic's own commits.
        connection.commit()
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
    if connection.in_transaction():
        connection.commit()
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
