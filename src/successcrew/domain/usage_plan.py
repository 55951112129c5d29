"""Which weekly totals and which daily totals a scoring date reads (pure date arithmetic).

Scoring sums usage over windows ending on the scoring date D: (D - w, D] for each window length w
(and looks for the last active day within each lookback). Reading all those days from the daily
totals costs one row per account, metric and day; a week (Monday to Sunday) that lies wholly
inside the longest window and is not cut by any window's start can be read as one weekly total
instead of seven daily ones. The rest of the days come from the daily totals.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

WEEK = 7


def week_start(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class UsagePlan:
    """Whole weeks read as weekly totals, and the remaining days as (first, last) ranges."""

    weeks: tuple[date, ...]
    day_ranges: tuple[tuple[date, date], ...]

    def days(self) -> list[date]:
        """Every day read from the daily totals (for tests and explanations)."""
        out: list[date] = []
        for first, last in self.day_ranges:
            out += [first + timedelta(days=i) for i in range((last - first).days + 1)]
        return out


def plan_usage(as_of: date, lengths: Iterable[int]) -> UsagePlan:
    """The weeks and day ranges covering (as_of - longest, as_of] for windows of ``lengths`` days.

    A week is used only when it lies inside the longest window, ends on or before ``as_of`` and
    every window either holds all of it or none of it, so per-window sums stay exact.
    """
    spans = sorted(set(lengths))
    if not spans:
        return UsagePlan(weeks=(), day_ranges=())
    first_day = as_of - timedelta(days=spans[-1] - 1)
    # Each window (as_of - w, as_of] starts on the day after its boundary.
    starts = {as_of - timedelta(days=w - 1) for w in spans}
    weeks: list[date] = []
    monday = week_start(first_day)
    if monday < first_day:
        monday += timedelta(days=WEEK)
    while monday + timedelta(days=WEEK - 1) <= as_of:
        sunday = monday + timedelta(days=WEEK - 1)
        if not any(monday < s <= sunday for s in starts):
            weeks.append(monday)
        monday += timedelta(days=WEEK)
    covered = {w + timedelta(days=i) for w in weeks for i in range(WEEK)}
    ranges: list[tuple[date, date]] = []
    day = first_day
    while day <= as_of:
        if day not in covered:
            if ranges and ranges[-1][1] == day - timedelta(days=1):
                ranges[-1] = (ranges[-1][0], day)
            else:
                ranges.append((day, day))
        day += timedelta(days=1)
    return UsagePlan(weeks=tuple(weeks), day_ranges=tuple(ranges))
