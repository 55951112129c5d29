"""Rolling raw usage events up into the daily table the health model reads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import Connection, Select, and_, func, or_, select, tuple_

from successcrew.store.dialect import tune_for_batch, upsert
from successcrew.store.models import UsageDaily, UsageEvent

EVENTS = UsageEvent.__table__
DAILY = UsageDaily.__table__


def rollup(
    conn: Connection, *, days: Sequence[date] | None = None, pairs: Select | None = None
) -> None:
    """Recompute daily totals from raw events for the given days or (day, account) pairs.

    Recomputing (rather than adding) keeps the roll-up idempotent: re-importing or replaying the
    same events never double-counts.

    Totals already stored with the same value and count are left out before the upsert: they
    are found by one join against the day's stored rows (the primary key starts with the day, so
    that is a range read), instead of an ON CONFLICT probe per row into the index. Only new or
    changed totals reach the INSERT; ON CONFLICT still settles a row written concurrently.
    """
    if (days is None) == (pairs is None):
        raise ValueError("give days or pairs")
    tune_for_batch(conn)
    aggregate = select(
        EVENTS.c.account_id,
        EVENTS.c.metric,
        EVENTS.c.day,
        func.sum(EVENTS.c.value).label("value"),
        func.count().label("event_count"),
    )
    stored = DAILY.alias("stored")
    # The same restriction on the stored rows, spelled out: the planner does not carry it over
    # from the events through the aggregate, and would read the whole table.
    if days is not None:
        aggregate = aggregate.where(EVENTS.c.day.in_(list(days)))
        in_scope = stored.c.day.in_(list(days))
    else:
        assert pairs is not None
        aggregate = aggregate.where(tuple_(EVENTS.c.day, EVENTS.c.account_id).in_(pairs))
        in_scope = tuple_(stored.c.day, stored.c.account_id).in_(pairs)
    totals = aggregate.group_by(EVENTS.c.account_id, EVENTS.c.metric, EVENTS.c.day).cte(
        "event_totals"
    )
    changed = (
        select(
            totals.c.account_id, totals.c.metric, totals.c.day, totals.c.value, totals.c.event_count
        )
        .select_from(totals)
        .outerjoin(
            stored,
            and_(
                stored.c.day == totals.c.day,
                stored.c.account_id == totals.c.account_id,
                stored.c.metric == totals.c.metric,
                in_scope,
            ),
        )
        # (A WHERE is also what SQLite needs before ON CONFLICT in INSERT .. SELECT.)
        .where(
            or_(
                stored.c.day.is_(None),
                tuple_(stored.c.value, stored.c.event_count).is_distinct_from(
                    tuple_(totals.c.value, totals.c.event_count)
                ),
            )
        )
        # In index order: the inserts walk the account-leading index page by page.
        .order_by(totals.c.account_id, totals.c.metric, totals.c.day)
    )
    stmt = upsert(conn, DAILY).from_select(
        ["account_id", "metric", "day", "value", "event_count"], changed
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["account_id", "metric", "day"],
        set_={"value": stmt.excluded.value, "event_count": stmt.excluded.event_count},
        where=tuple_(DAILY.c.value, DAILY.c.event_count).is_distinct_from(
            tuple_(stmt.excluded.value, stmt.excluded.event_count)
        ),
    )
    conn.execute(stmt)
