"""Migrations build the same schema on SQLite and PostgreSQL, and it matches the models."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.exc import DBAPIError

from successcrew.services.platform.setup import initialise
from successcrew.store import audit
from successcrew.store.db import transaction
from successcrew.store.migrate import alembic_config, current_revision, head_revision
from successcrew.store.models import AuditLog, Base

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def test_migrations_reach_head_and_match_models(engine: Engine) -> None:
    assert current_revision(engine) == head_revision(engine)
    # alembic check raises when autogenerate finds any difference between models and schema.
    command.check(alembic_config(engine))
    tables = set(inspect(engine).get_table_names())
    assert {t.name for t in Base.metadata.sorted_tables} <= tables


def test_init_twice_changes_nothing(engine: Engine) -> None:
    first = initialise(engine, now=NOW)
    second = initialise(engine, now=NOW)
    assert first["schema_after"] == second["schema_before"] == second["schema_after"]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(AuditLog)).scalar_one() == 0


def test_audit_log_is_append_only(engine: Engine) -> None:
    with transaction(engine) as session:
        audit.record(session, at=NOW, actor="lead", action="pause", subject="campaigns")
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(select(AuditLog.actor)).scalars().all() == ["lead"]


def test_timestamps_come_back_in_utc(engine: Engine) -> None:
    local = datetime.fromisoformat("2026-11-25T10:30:00+02:00")
    with transaction(engine) as session:
        audit.record(session, at=local, actor="x", action="y")
    with engine.connect() as conn:
        stored = conn.execute(select(AuditLog.at)).scalar_one()
    assert stored == local and stored.tzinfo is not None and stored.utcoffset().total_seconds() == 0
