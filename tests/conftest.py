"""Shared fixtures: one suite, run on SQLite and on PostgreSQL.

``db_url`` is parametrised over both backends. PostgreSQL tests use a database created for this
test session (so parallel sessions never collide) and are skipped with a visible reason when no
server answers, unless ``SUCCESSCREW_REQUIRE_POSTGRES=1`` (as in CI), where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from successcrew.store.db import make_engine
from successcrew.store.migrate import upgrade
from successcrew.store.models import Base

ADMIN_URL = os.environ.get(
    "SUCCESSCREW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_PG = os.environ.get("SUCCESSCREW_REQUIRE_POSTGRES") == "1"


def _pg_unavailable(reason: str) -> None:
    if REQUIRE_PG:
        pytest.fail(f"PostgreSQL is required (SUCCESSCREW_REQUIRE_POSTGRES=1) but {reason}")
    pytest.skip(f"PostgreSQL not available: {reason}")


@pytest.fixture(autouse=True)
def _private_data_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test gets its own (not yet created) user-data directory: nothing a test writes there
    (the survey secret ``init`` creates, reports, demo files) reaches the real one or another
    test. platformdirs honours XDG_DATA_HOME on Linux, and child processes inherit it."""
    monkeypatch.setenv(
        "XDG_DATA_HOME", str(tmp_path_factory.getbasetemp() / f"data-{uuid.uuid4().hex}")
    )


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; each test gets a copy (far faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session, dropped at the end."""
    name = f"sc_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # any connection problem means "no server here"
        _pg_unavailable(f"cannot reach {ADMIN_URL.split('@')[-1]} ({type(exc).__name__})")
        raise
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _truncate_pg(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        # TRUNCATE does not fire the audit log's row-level append-only guard.
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated database of each kind."""
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "successcrew.db"
        shutil.copy(template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_database")
    _truncate_pg(url)
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on ``db_url``."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def env(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """Environment for running the command line against ``db_url`` with no provider configured."""
    for key in list(os.environ):
        if key.startswith("SUCCESSCREW_") and not key.startswith("SUCCESSCREW_TEST"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("SUCCESSCREW_DATABASE_URL", db_url)
    return {"SUCCESSCREW_DATABASE_URL": db_url}
