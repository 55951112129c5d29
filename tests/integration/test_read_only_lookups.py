"""The model's read-only lookups on the engine ``serve`` builds (SQLite transactions there start
``BEGIN IMMEDIATE``): a write inside is refused at the database, and afterwards the same
engine writes as before, on every exit path (the lookup returned, or raised)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import DBAPIError, InternalError, OperationalError

from successcrew.clock import utcnow
from successcrew.services.views.lookups import read_only
from successcrew.store.db import make_engine, transaction
from successcrew.store.models import Account

REFUSED = (OperationalError, InternalError, DBAPIError)


def _write(engine: Engine, external_id: str) -> None:
    now = utcnow()
    with transaction(engine) as session:
        session.execute(
            insert(Account).values(
                external_id=external_id, name=external_id, created_at=now, updated_at=now
            )
        )


def test_reads_refuse_writes_and_leave_the_writing_pool_alone(db_url: str) -> None:
    engine = make_engine(db_url, immediate=True)  # as `successcrew serve` builds it
    try:
        for round_ in range(3):  # the pool hands the same connection back each time
            with read_only(engine) as session:
                assert session.scalar(select(func.count()).select_from(Account)) == round_
                with pytest.raises(REFUSED):
                    session.execute(
                        insert(Account).values(
                            external_id="X", name="X", created_at=utcnow(), updated_at=utcnow()
                        )
                    )
            with pytest.raises(RuntimeError), read_only(engine) as session:
                session.scalar(select(func.count()).select_from(Account))
                raise RuntimeError("a tool failed half-way")
            _write(engine, f"after-{round_}")
    finally:
        engine.dispose()
    with make_engine(db_url).connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Account)) == 3
