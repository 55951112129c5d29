"""Which weeks and days a scoring date reads: every day exactly once, no window cuts a week."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from successcrew.domain.usage_plan import plan_usage, week_start


@pytest.mark.parametrize("as_of", [date(2026, 6, 1) + timedelta(days=i) for i in range(8)])
@pytest.mark.parametrize("lengths", [{30, 60}, {7}, {10, 30}, {6}, {90, 45, 14}])
def test_plan_covers_each_day_once_and_respects_window_starts(
    as_of: date, lengths: set[int]
) -> None:
    plan = plan_usage(as_of, lengths)
    horizon = {as_of - timedelta(days=i) for i in range(max(lengths))}
    week_days = [w + timedelta(days=i) for w in plan.weeks for i in range(7)]
    read = week_days + plan.days()
    assert sorted(read) == sorted(horizon), "every day of the longest window, each once"
    for monday in plan.weeks:
        assert monday.weekday() == 0 and week_start(monday + timedelta(days=6)) == monday
        for w in lengths:
            start = as_of - timedelta(days=w - 1)
            # Each window holds the week whole or not at all.
            assert start <= monday or start > monday + timedelta(days=6)


def test_sixty_days_read_mostly_as_weeks() -> None:
    # 2026-06-30 is a Tuesday; the 30-day window starts on Monday 06-01, cutting no week.
    plan = plan_usage(date(2026, 6, 30), {30, 60})
    assert len(plan.weeks) == 8 and plan.day_ranges == (
        (date(2026, 5, 2), date(2026, 5, 3)),
        (date(2026, 6, 29), date(2026, 6, 30)),
    )
    # A day later the 30-day window starts on a Tuesday: that week is read day by day.
    later = plan_usage(date(2026, 7, 1), {30, 60})
    assert date(2026, 6, 1) not in later.weeks and len(later.weeks) == 7
    assert plan_usage(date(2026, 6, 30), set()).weeks == ()
