"""Rolling raw usage events up into the daily table the health model reads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Date,
    Select,
    and_,
    case,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    text,
    tuple_,
)

from successcrew.domain.usage_plan import week_start
from successcrew.store.dialect import insert_ignore, sort_grouping, tune_for_batch, upsert
from successcrew.store.models import (
    Account,
    UsageDaily,
    UsageEvent,
    UsageFirstActivity,
    UsagePendingDay,
    UsageWeekly,
    UsageWeeklyBuilt,
)

EVENTS = UsageEvent.__table__
DAILY = UsageDaily.__table__
FIRST = UsageFirstActivity.__table__
PENDING = UsagePendingDay.__table__
WEEKLY = UsageWeekly.__table__
BUILT = UsageWeeklyBuilt.__table__


def serialise_usage_writes(conn: Connection) -> None:
    """Make this transaction the only one writing daily totals until it ends (PostgreSQL).

    The roll-up decides "nothing stored for these days yet" and then inserts without ON CONFLICT;
    the lock keeps another import from storing the same keys in between. SQLite lets one writer
    at a time anyway.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('successcrew.usage_daily'))"))


def rollup(
    conn: Connection, *, days: Sequence[date] | None = None, pairs: Select | None = None
) -> None:
    """Recompute daily totals from raw events for the given days or (day, account) pairs.

    Recomputing (rather than adding) keeps the roll-up idempotent: re-importing or replaying the
    same events never double-counts.

    The usual case, a day nobody has rolled up yet, is a plain INSERT of the day's totals: an
    INSERT .. ON CONFLICT checks the key before every row, which made it take twice as long.
    When totals are already stored in scope, only new or changed ones are written: changed ones
    are found by one join against the stored rows (the primary key starts with the day, so that
    is a range read) and upserted.
    """
    if (days is None) == (pairs is None):
        raise ValueError("give days or pairs")
    tune_for_batch(conn)
    serialise_usage_writes(conn)
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
    columns = ["account_id", "metric", "day", "value", "event_count"]
    anything_stored = conn.execute(select(exists().where(in_scope))).scalar()
    if not anything_stored:
        # Grouped by sorting, in key order: the rows come out of the aggregate in the order of
        # the primary key and fill its last pages in sequence. (A hash aggregate and then a sort
        # for the same order cost a fifth more; in random order the index inserts cost more.)
        keys: tuple[Any, ...] = (EVENTS.c.day, EVENTS.c.account_id, EVENTS.c.metric)
        if days is not None and len(set(days)) == 1:
            # One day (the daily case): the day is a constant, not a sort key to compare.
            keys = keys[1:]
            aggregate = aggregate.with_only_columns(
                EVENTS.c.account_id,
                EVENTS.c.metric,
                literal(next(iter(days)), Date()).label("day"),
                func.sum(EVENTS.c.value).label("value"),
                func.count().label("event_count"),
            )
        new_rows = aggregate.group_by(*keys).order_by(*keys)
        with sort_grouping(conn):
            conn.execute(DAILY.insert().from_select(columns, new_rows))
        mark_pending(conn, days=days, pairs=pairs)
        return
    changed = (
        select(*(totals.c[c] for c in columns))
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
        .order_by(totals.c.day, totals.c.account_id)
    )
    stmt = upsert(conn, DAILY).from_select(columns, changed)
    stmt = stmt.on_conflict_do_update(
        index_elements=["account_id", "metric", "day"],
        set_={"value": stmt.excluded.value, "event_count": stmt.excluded.event_count},
        where=tuple_(DAILY.c.value, DAILY.c.event_count).is_distinct_from(
            tuple_(stmt.excluded.value, stmt.excluded.event_count)
        ),
    )
    conn.execute(stmt)
    mark_pending(conn, days=days, pairs=pairs)


def mark_pending(
    conn: Connection, *, days: Sequence[date] | None = None, pairs: Select | None = None
) -> None:
    """Note that the daily totals of these days (or of the days in ``pairs``) changed."""
    if (days is None) == (pairs is None):
        raise ValueError("give days or pairs")
    if days is not None:
        if days:
            conn.execute(insert_ignore(conn, PENDING), [{"day": d} for d in sorted(set(days))])
        return
    assert pairs is not None
    pair_days = pairs.subquery("pair_days")
    day_col = pair_days.c[0]
    conn.execute(
        insert_ignore(conn, PENDING).from_select(
            ["day"], select(day_col).where(day_col.is_not(None)).distinct()
        )
    )


def settle_usage(conn: Connection, through: date, weeks: Sequence[date] = ()) -> int:
    """Bring the tables derived from the daily totals up to date for scoring as of ``through``.

    The pending days on or before ``through`` go into ``usage_first_activity`` and the weekly
    totals of their weeks are dropped; then each of ``weeks`` (Mondays) not built yet is summed
    from the daily totals. A day rolled up later than ``through`` stays pending for a later run
    (no week ending by ``through`` contains it). Returns how many pending days were settled.
    """
    serialise_usage_writes(conn)
    days = list(conn.execute(select(PENDING.c.day).where(PENDING.c.day <= through)).scalars())
    if days:
        note_first_activity(conn, days=days)
        stale = sorted({week_start(d) for d in days})
        conn.execute(BUILT.delete().where(BUILT.c.week_start.in_(stale)))
        conn.execute(PENDING.delete().where(PENDING.c.day.in_(days)))
    wanted = sorted(set(weeks))
    if wanted:
        built = set(
            conn.execute(select(BUILT.c.week_start).where(BUILT.c.week_start.in_(wanted))).scalars()
        )
        for monday in wanted:
            if monday not in built:
                build_week(conn, monday)
    return len(days)


def build_week(conn: Connection, monday: date) -> None:
    """Sum the week starting ``monday`` from the daily totals into ``usage_weekly`` (set-based)."""
    sunday = monday + timedelta(days=6)
    conn.execute(WEEKLY.delete().where(WEEKLY.c.week_start == monday))
    totals = (
        select(
            literal(monday, Date()).label("week_start"),
            DAILY.c.account_id,
            DAILY.c.metric,
            func.sum(DAILY.c.value).label("value"),
            func.max(case((DAILY.c.value > 0, DAILY.c.day), else_=null())).label("last_day"),
        )
        .where(DAILY.c.day >= monday, DAILY.c.day <= sunday)
        .group_by(DAILY.c.account_id, DAILY.c.metric)
        # In key order, grouped by sorting (as the roll-up of a new day).
        .order_by(DAILY.c.account_id, DAILY.c.metric)
    )
    with sort_grouping(conn):
        conn.execute(
            WEEKLY.insert().from_select(
                ["week_start", "account_id", "metric", "value", "last_day"], totals
            )
        )
    conn.execute(insert_ignore(conn, BUILT).values(week_start=monday))


def note_first_activity(
    conn: Connection, *, days: Sequence[date] | None = None, pairs: Select | None = None
) -> None:
    """Record (account, metric) pairs active for the first time on the given days or pairs.

    Reads the days' stored totals back (a key range of usage_daily) and writes only pairs that
    are new or now start earlier: on an ordinary day that is a handful of rows, not one per
    active account. A total corrected to zero later does not move a first day forward (the pair
    has had data; scoring then reports it as quiet rather than as never used).
    """
    if (days is None) == (pairs is None):
        raise ValueError("give days or pairs")
    if days is not None:
        in_scope = DAILY.c.day.in_(list(days))
    else:
        assert pairs is not None
        in_scope = tuple_(DAILY.c.day, DAILY.c.account_id).in_(pairs)
    earlier_known = exists().where(
        FIRST.c.account_id == DAILY.c.account_id,
        FIRST.c.metric == DAILY.c.metric,
        FIRST.c.first_day <= DAILY.c.day,
    )
    firsts = (
        select(DAILY.c.account_id, DAILY.c.metric, func.min(DAILY.c.day).label("first_day"))
        .where(in_scope, DAILY.c.value > 0, ~earlier_known)
        # usage_daily has no foreign key; an account deleted meanwhile is simply skipped.
        .where(exists().where(Account.id == DAILY.c.account_id))
        .group_by(DAILY.c.account_id, DAILY.c.metric)
    )
    stmt = upsert(conn, FIRST).from_select(["account_id", "metric", "first_day"], firsts)
    stmt = stmt.on_conflict_do_update(
        index_elements=["account_id", "metric"],
        set_={"first_day": stmt.excluded.first_day},
        where=stmt.excluded.first_day < FIRST.c.first_day,
    )
    conn.execute(stmt)
