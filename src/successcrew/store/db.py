"""Engines and sessions for SQLite and PostgreSQL, and schema creation through Alembic."""

from __future__ import annotations

import functools
import json
import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import tenacity
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from successcrew.errors import ConfigError, DatabaseConflict
from successcrew.redaction import redact_document

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

#: How often a transaction the database rolled back to break a conflict is run in all.
CONFLICT_ATTEMPTS = 5
#: Conflicts worth running the whole transaction again for, by PostgreSQL SQLSTATE: the server
#: rolled back one side of a lock cycle, or a transaction that could not keep serialisable order.
_PG_CONFLICTS = {"40P01": "deadlock detected", "40001": "serialization failure"}


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


def _sqlite_read_only(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


@functools.lru_cache(maxsize=8)
def _sqlite_reader(url: str) -> Engine:
    engine = create_engine(url, poolclass=NullPool, connect_args={"timeout": 30})
    event.listen(engine, "connect", _sqlite_read_only)
    # A deferred BEGIN: it writes nothing, so it works on a connection that refuses writes
    # (BEGIN IMMEDIATE takes the write lock and fails there).
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def read_only_engine(engine: Engine) -> Engine:
    """An engine on ``engine``'s database for reads that must not write (a model's tools).

    SQLite: an engine of its own whose every connection is opened with ``query_only`` and never
    pooled (closed after use), so the setting cannot reach a connection that writes, whatever
    happens inside. PostgreSQL: ``engine`` itself; ``lookups.read_only`` makes each transaction
    READ ONLY, which ends with the transaction.
    """
    if engine.dialect.name != "sqlite":
        return engine
    return _sqlite_reader(engine.url.render_as_string(hide_password=False))


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on any error."""
    with session_factory(engine)() as session, session.begin():
        yield session


def conflict_reason(exc: BaseException) -> str | None:
    """Why the database rolled this transaction back to let another one through, or None when
    ``exc`` is not such a conflict (then running the transaction again would not help).

    PostgreSQL: a deadlock or a serialisation failure. SQLite: SQLITE_BUSY_SNAPSHOT, a deferred
    transaction that read and then found another writer had committed since (its busy timeout
    does not wait for that: only starting again does).
    """
    if not isinstance(exc, DBAPIError):
        return None
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)  # psycopg
    if sqlstate in _PG_CONFLICTS:
        return f"{_PG_CONFLICTS[sqlstate]}, SQLSTATE {sqlstate}"
    if getattr(orig, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY_SNAPSHOT:
        return "another writer committed since this transaction read, SQLITE_BUSY_SNAPSHOT"
    return None


def retry_on_conflict(what: str, advice: str) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Run the decorated function again when the database rolled its transaction back to break
    a conflict with another process (``conflict_reason``), up to ``CONFLICT_ATTEMPTS`` times in
    all with short random pauses; then raise ``DatabaseConflict`` (one line: ``what`` happened,
    then ``advice``).

    Only for functions that open and commit their own transaction(s) and may safely start
    again from the top: a conflict leaves nothing of the failed transaction behind.
    """

    def decorate(func: Callable[P, T]) -> Callable[P, T]:
        @functools.wraps(func)
        def run(*args: P.args, **kwargs: P.kwargs) -> T:
            retrying = tenacity.Retrying(
                stop=tenacity.stop_after_attempt(CONFLICT_ATTEMPTS),
                # Random, so the processes of a lock cycle do not meet again in step.
                wait=tenacity.wait_random_exponential(multiplier=0.05, max=1.0),
                retry=tenacity.retry_if_exception(lambda e: conflict_reason(e) is not None),
                before_sleep=lambda state: log.info(
                    "%s: conflict with another process (attempt %d), trying again",
                    what,
                    state.attempt_number,
                ),
                reraise=True,
            )
            try:
                return retrying(func, *args, **kwargs)
            except DBAPIError as exc:
                reason = conflict_reason(exc)
                if reason is None:
                    raise
                raise DatabaseConflict(
                    f"{what}: the database rolled the transaction back {CONFLICT_ATTEMPTS} times "
                    f"in a row to let another process through ({reason}); nothing of it was "
                    f"kept. {advice}"
                ) from exc

        return run

    return decorate


@contextmanager
def rolled_back(engine: Engine) -> Iterator[Session]:
    """A session whose transaction is always rolled back, for dry runs.

    A dry run executes the real use case (the same exits, enrolments, throttling, lateness and
    caps, in the same order) and keeps nothing: what it would have written is read back before
    the rollback. This costs no second, read-only copy of the logic that could drift from it.
    """
    with session_factory(engine)() as session:
        session.begin()
        try:
            yield session
        finally:
            session.rollback()


def redacted_url(engine: Engine) -> str:
    """The database URL with any password hidden, for messages."""
    return engine.url.render_as_string(hide_password=True)
