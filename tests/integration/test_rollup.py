"""The daily roll-up: idempotent, picks up late events, leaves unchanged rows alone."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Engine, insert, select

from successcrew.store.models import (
    Account,
    UsageDaily,
    UsageEvent,
    UsageFirstActivity,
    UsagePendingDay,
)
from successcrew.store.usage import rollup, settle_usage

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
DAY1, DAY2 = date(2026, 11, 1), date(2026, 11, 2)


def _event(key: str, account: int, metric: str, value: float, day: date) -> dict[str, object]:
    at = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    return {
        "event_key": key,
        "account_id": account,
        "metric": metric,
        "value": value,
        "occurred_at": at,
        "day": day,
    }


def _daily(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                UsageDaily.account_id,
                UsageDaily.metric,
                UsageDaily.day,
                UsageDaily.value,
                UsageDaily.event_count,
            ).order_by(UsageDaily.account_id, UsageDaily.metric, UsageDaily.day)
        ).all()
    return [tuple(r) for r in rows]


def test_rollup_is_idempotent_and_takes_late_events(engine: Engine) -> None:
    with engine.begin() as conn:
        for i in (1, 2):
            conn.execute(
                insert(Account).values(
                    id=i, external_id=f"A{i}", name=f"A{i}", created_at=NOW, updated_at=NOW
                )
            )
        conn.execute(
            insert(UsageEvent),
            [
                _event("e1", 1, "logins", 1, DAY1),
                _event("e2", 1, "logins", 2, DAY1),
                _event("e3", 2, "api_calls", 5, DAY1),
                _event("e4", 1, "logins", 4, DAY2),
            ],
        )
        rollup(conn, days=[DAY1, DAY2])
    expected = [
        (1, "logins", DAY1, 3.0, 2),
        (1, "logins", DAY2, 4.0, 1),
        (2, "api_calls", DAY1, 5.0, 1),
    ]
    assert _daily(engine) == expected
    with engine.begin() as conn:
        rollup(conn, days=[DAY1, DAY2])
    assert _daily(engine) == expected, "re-running the roll-up must change nothing"

    # A late event for a day that already has rows, and a new (account, metric) on that day.
    with engine.begin() as conn:
        conn.execute(
            insert(UsageEvent),
            [_event("e5", 2, "api_calls", 7, DAY1), _event("e6", 2, "logins", 1, DAY1)],
        )
        rollup(conn, days=[DAY1])
    expected = [
        (1, "logins", DAY1, 3.0, 2),
        (1, "logins", DAY2, 4.0, 1),
        (2, "api_calls", DAY1, 12.0, 2),
        (2, "logins", DAY1, 1.0, 1),
    ]
    assert _daily(engine) == expected

    # The (day, account) path the imports use: only those pairs are recomputed.
    with engine.begin() as conn:
        conn.execute(insert(UsageEvent), [_event("e7", 1, "logins", 10, DAY2)])
        pairs = select(UsageEvent.day, UsageEvent.account_id).where(UsageEvent.event_key == "e7")
        rollup(conn, pairs=pairs)
    assert _daily(engine)[1] == (1, "logins", DAY2, 14.0, 2)


def _first_activity(engine: Engine) -> dict[tuple[int, str], date]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                UsageFirstActivity.account_id,
                UsageFirstActivity.metric,
                UsageFirstActivity.first_day,
            )
        ).all()
    return {(a, m): d for a, m, d in rows}


def _pending(engine: Engine) -> list[date]:
    with engine.connect() as conn:
        return list(
            conn.execute(select(UsagePendingDay.day).order_by(UsagePendingDay.day)).scalars()
        )


def test_first_activity_is_settled_from_the_days_the_rollup_marks(engine: Engine) -> None:
    day3 = date(2026, 11, 3)
    with engine.begin() as conn:
        conn.execute(
            insert(Account).values(
                id=1, external_id="A1", name="A1", created_at=NOW, updated_at=NOW
            )
        )
        conn.execute(
            insert(UsageEvent),
            [_event("e1", 1, "logins", 2, DAY2), _event("e2", 1, "api_calls", 0, DAY2)],
        )
        rollup(conn, days=[DAY2])
    # The roll-up marks the day and leaves the per-account work to the next scoring run.
    assert _pending(engine) == [DAY2] and _first_activity(engine) == {}

    with engine.begin() as conn:
        conn.execute(insert(UsageEvent), [_event("e3", 1, "logins", 1, day3)])
        rollup(conn, days=[day3])
        assert settle_usage(conn, DAY2) == 1  # scoring as of DAY2 takes DAY2 only
    # A zero total is not activity; day 3 stays pending for a later date.
    assert _first_activity(engine) == {(1, "logins"): DAY2}
    assert _pending(engine) == [day3]

    # A late event on an earlier day (through the imports' pairs path) moves the first day back.
    with engine.begin() as conn:
        conn.execute(insert(UsageEvent), [_event("e4", 1, "logins", 5, DAY1)])
        pairs = select(UsageEvent.day, UsageEvent.account_id).where(UsageEvent.event_key == "e4")
        rollup(conn, pairs=pairs)
        assert settle_usage(conn, day3) == 2
        assert settle_usage(conn, day3) == 0
    assert _first_activity(engine) == {(1, "logins"): DAY1}
    assert _pending(engine) == []
