"""How many rows every table holds: a command that refused its input must leave them all alone."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from successcrew.store.models import Base


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows per table of the schema (store.models metadata), read in one statement."""
    tables = Base.metadata.sorted_tables
    counts = select(
        *(select(func.count()).select_from(t).scalar_subquery().label(t.name) for t in tables)
    )
    with engine.connect() as conn:
        return dict(conn.execute(counts).one()._mapping)
