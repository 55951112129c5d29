"""Engines and sessions for SQLite and PostgreSQL, and schema creation through Alembic."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from successcrew.errors import ConfigError
from successcrew.redaction import redact_document


def json_dumps(value: Any) -> str:
    """How every JSON column value is written: configured secrets removed from each string
    (an alert payload or a trigger's evidence may quote a provider's error), then encoded."""
    return json.dumps(redact_document(value))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide where transactions start (see _sqlite_begin):
    # the module's own handling commits DDL early, which would break all-or-nothing imports.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets the dashboard read while a run writes; foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")


def _sqlite_begin_immediate(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, *, immediate: bool = False) -> Engine:
    """An engine for ``url``; SQLite files get their directory created and sane pragmas.

    ``immediate`` (SQLite only) starts every transaction with ``BEGIN IMMEDIATE``: for parallel
    writers, a deferred transaction that reads and then writes fails at once with SQLITE_BUSY
    when another connection wrote in between, while an immediate one waits (busy_timeout).
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            f"SUCCESSCREW_DATABASE_URL: {url!r} is not a database URL "
            "(expected sqlite:///PATH or postgresql+psycopg://USER@HOST/DB)"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": 30}, json_serializer=json_dumps)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate if immediate else _sqlite_begin)
        return engine
    if backend == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_pre_ping=True, json_serializer=json_dumps)
    raise ConfigError(
        f"SUCCESSCREW_DATABASE_URL: the {backend!r} database is not supported; "
        "use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
    )


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on any error."""
    with session_factory(engine)() as session, session.begin():
        yield session


def redacted_url(engine: Engine) -> str:
    """The database URL with any password hidden, for messages."""
    return engine.url.render_as_string(hide_password=True)
