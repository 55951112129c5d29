"""Rolling raw usage events up into the daily table the health model reads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import Connection, Select, func, select, true, tuple_

from successcrew.store.dialect import upsert
from successcrew.store.models import UsageDaily, UsageEvent

EVENTS = UsageEvent.__table__
DAILY = UsageDaily.__table__


def rollup(
    conn: Connection, *, days: Sequence[date] | None = None, pairs: Select | None = None
) -> None:
    """Recompute daily totals from raw events for the given days or (day, account) pairs.

    Recomputing (rather than adding) keeps the roll-up idempotent: re-importing or replaying the
    same events never double-counts.
    """
    if (days is None) == (pairs is None):
        raise ValueError("give days or pairs")
    aggregate = select(
        EVENTS.c.account_id,
        EVENTS.c.metric,
        EVENTS.c.day,
        func.sum(EVENTS.c.value).label("value"),
        func.count().label("event_count"),
    )
    if days is not None:
        aggregate = aggregate.where(EVENTS.c.day.in_(list(days)))
    else:
        assert pairs is not None
        aggregate = aggregate.where(tuple_(EVENTS.c.day, EVENTS.c.account_id).in_(pairs))
    aggregate = aggregate.where(true()).group_by(EVENTS.c.account_id, EVENTS.c.metric, EVENTS.c.day)
    stmt = upsert(conn, DAILY).from_select(
        ["account_id", "metric", "day", "value", "event_count"], aggregate
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["account_id", "metric", "day"],
        set_={"value": stmt.excluded.value, "event_count": stmt.excluded.event_count},
        where=tuple_(DAILY.c.value, DAILY.c.event_count).is_distinct_from(
            tuple_(stmt.excluded.value, stmt.excluded.event_count)
        ),
    )
    conn.execute(stmt)
