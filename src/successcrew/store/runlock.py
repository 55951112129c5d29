"""The run lock: at most one ``successcrew run`` works on a database at a time.

PostgreSQL: a session-level ``pg_try_advisory_lock`` on one dedicated connection held for the
whole run; the server drops it when that connection ends, so a killed run never leaves it behind
(a transaction-pooling proxy would break this; see docs/deploy.md). SQLite: an OS file lock
(``flock(LOCK_EX | LOCK_NB)``) on ``<database>.runlock`` next to the database file, which the
kernel releases when the process dies. Either way a second run gets ``LockHeld`` (exit 75) at
once instead of waiting.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

from successcrew.errors import LockHeld

#: The advisory lock key: a fixed 64-bit number derived from the name, shared by all versions.
ADVISORY_KEY = int.from_bytes(b"sccrewrn", "big") & 0x7FFF_FFFF_FFFF_FFFF

HELD_MESSAGE = "another successcrew run holds the run lock on this database; try again later"


def lock_file_path(engine: Engine) -> Path | None:
    """The SQLite lock file for ``engine`` (None for an in-memory database)."""
    database = engine.url.database
    if not database or database == ":memory:":
        return None
    return Path(database).expanduser().resolve().with_name(Path(database).name + ".runlock")


@contextmanager
def run_lock(engine: Engine) -> Iterator[None]:
    """Hold the run lock for the ``with`` block; raise LockHeld when another run has it."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY})
            acquired = bool(got.scalar_one())
            # End the implicit transaction: the lock is session-level and outlives it, and an
            # idle-in-transaction connection would hold back vacuum for the whole run.
            conn.commit()
            if not acquired:
                raise LockHeld(HELD_MESSAGE)
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                conn.commit()
        return
    path = lock_file_path(engine)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockHeld(HELD_MESSAGE) from None
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
