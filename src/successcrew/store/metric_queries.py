"""Retention and NPS figures aggregated in SQL; the math on the counts lives in domain.metrics.

These are the functions trigger code calls: RETENTION-002 reads ``portfolio_retention``,
RETENTION-003 and the NPS-drop rollback rule read ``nps_figures``, ``successcrew gates`` reads
both.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from successcrew.clock import start_of_day
from successcrew.definitions.thresholds import Thresholds
from successcrew.domain.metrics import (
    CohortRetention,
    GateResult,
    NpsFigures,
    PeriodRetention,
    Rate,
    RetentionFigures,
    add_months,
    last_complete_month,
    month_start,
    nps_gate,
    retention_gate,
)
from successcrew.store.models import Account, NpsResponse


def _active_on(day: date) -> ColumnElement[bool]:
    # A customer on ``day``: started by then (unknown start = long-standing), not yet churned.
    return and_(
        or_(Account.started_at.is_(None), Account.started_at <= day),
        or_(Account.churned_at.is_(None), Account.churned_at > day),
    )


def _still_customer_at(day: date) -> ColumnElement[bool]:
    return or_(Account.churned_at.is_(None), Account.churned_at >= day)


def _arr() -> ColumnElement[Any]:
    return func.coalesce(Account.arr, 0)


def portfolio_retention(
    session: Session, as_of: date, *, cohort_months: int = 12
) -> RetentionFigures:
    """1-month logo and ARR retention of the last complete month before ``as_of`` and the month
    before it, plus 1-month logo retention of the last ``cohort_months`` matured start cohorts.

    One aggregate query over ``accounts`` (conditional sums), so the cost does not grow with the
    number of months shown.
    """
    cur_start, cur_end = last_complete_month(as_of)
    prev_start, prev_end = add_months(cur_start, -1), cur_start
    periods = ((cur_start, cur_end), (prev_start, prev_end))
    # A cohort is judged once the month after its start month is over.
    newest_cohort = add_months(month_start(as_of), -2)
    cohorts = [add_months(newest_cohort, -i) for i in range(cohort_months)]

    cols: list[Any] = []
    for start, end in periods:
        base = _active_on(start)
        kept = and_(base, _still_customer_at(end))
        cols += [
            func.sum(case((base, 1), else_=0)),
            func.sum(case((kept, 1), else_=0)),
            func.sum(case((base, _arr()), else_=0)),
            func.sum(case((kept, _arr()), else_=0)),
        ]
    for cohort in cohorts:
        member = and_(Account.started_at >= cohort, Account.started_at < add_months(cohort, 1))
        kept = and_(member, _still_customer_at(add_months(cohort, 2)))
        cols += [func.sum(case((member, 1), else_=0)), func.sum(case((kept, 1), else_=0))]
    values = [float(v or 0) for v in session.execute(select(*cols)).one()]

    def period(i: int, start: date, end: date) -> PeriodRetention:
        base, kept, arr_base, arr_kept = values[4 * i : 4 * i + 4]
        return PeriodRetention(start, end, Rate(kept, base), Rate(arr_kept, arr_base))

    offset = 4 * len(periods)
    cohort_rows = [
        CohortRetention(
            cohort=c,
            size=int(values[offset + 2 * i]),
            retained=int(values[offset + 2 * i + 1]),
        )
        for i, c in enumerate(cohorts)
    ]
    return RetentionFigures(
        as_of=as_of,
        current=period(0, *periods[0]),
        previous=period(1, *periods[1]),
        cohorts=cohort_rows,
    )


def _nps_columns() -> tuple[Any, Any, Any, Any]:
    score = NpsResponse.score
    return (
        func.count(),
        func.sum(case((score >= 9, 1), else_=0)),
        func.sum(case((and_(score >= 7, score <= 8), 1), else_=0)),
        func.sum(case((score <= 6, 1), else_=0)),
    )


def _nps_window(as_of: date, window_days: int | None) -> list[ColumnElement[bool]]:
    until = start_of_day(as_of + timedelta(days=1))
    conditions = [NpsResponse.responded_at < until]
    if window_days is not None:
        conditions.append(
            NpsResponse.responded_at >= start_of_day(as_of - timedelta(days=window_days - 1))
        )
    return conditions


def nps_figures(
    session: Session, as_of: date, window_days: int | None, segment: str | None = None
) -> NpsFigures:
    """NPS from answers in the ``window_days`` days up to and including ``as_of`` (None: all
    answers up to ``as_of``), optionally for one segment. ``.nps`` is None without answers."""
    query = select(*_nps_columns()).where(*_nps_window(as_of, window_days))
    if segment is not None:
        query = query.join(Account, Account.id == NpsResponse.account_id).where(
            Account.segment == segment
        )
    n, promoters, passives, detractors = (int(v or 0) for v in session.execute(query).one())
    return NpsFigures(as_of, window_days, segment, n, promoters, passives, detractors)


def nps_by_segment(session: Session, as_of: date, window_days: int | None) -> list[NpsFigures]:
    """``nps_figures`` for every segment with answers in the window, in one grouped query."""
    query = (
        select(Account.segment, *_nps_columns())
        .join(Account, Account.id == NpsResponse.account_id)
        .where(*_nps_window(as_of, window_days))
        .group_by(Account.segment)
        .order_by(Account.segment)
    )
    return [
        NpsFigures(as_of, window_days, seg, int(n), int(p or 0), int(pa or 0), int(d or 0))
        for seg, n, p, pa, d in session.execute(query)
    ]


def nps_change(session: Session, as_of: date, window_days: int) -> tuple[NpsFigures, NpsFigures]:
    """Rolling NPS now and ``window_days`` earlier (for "NPS drop > 10 points in 30 days")."""
    return (
        nps_figures(session, as_of, window_days),
        nps_figures(session, as_of - timedelta(days=window_days), window_days),
    )


def evaluate_gates(session: Session, as_of: date, thresholds: Thresholds) -> list[GateResult]:
    """The Stage 32 exit gates: retention improving, NPS positive (rolling window)."""
    retention = portfolio_retention(session, as_of)
    nps = nps_figures(session, as_of, thresholds.nps.rolling_window_days)
    return [
        retention_gate(retention, thresholds.retention.improvement_gate_pct),
        nps_gate(nps, thresholds.nps.gate),
    ]
