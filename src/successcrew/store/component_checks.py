"""Component checks: one row per system-health check, and per component the consecutive
failures, the last result and the uptime over a window (RETENTION-004, rollback, status)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_, select
from sqlalchemy.orm import Session

from successcrew.store.models import (
    ComponentCheck,
)


@dataclass(frozen=True)
class ComponentState:
    """One component's check history as status and RETENTION-004 need it."""

    component: str
    consecutive_failures: int
    last_checked_at: datetime | None
    last_ok: bool | None
    last_error: str | None
    last_detail: dict[str, Any] | None
    checks_in_window: int
    ok_in_window: int


def component_states(
    session: Session, components: Sequence[str], now: datetime, window_days: int
) -> dict[str, ComponentState]:
    """Consecutive failures (failed checks since the last success), the latest check, and the
    counts for uptime over ``window_days``, for every component in three grouped queries."""
    c = ComponentCheck
    last_ok = (
        select(c.component, func.max(c.checked_at).label("at"))
        .where(c.ok.is_(True), c.checked_at <= now)
        .group_by(c.component)
        .subquery("last_ok")
    )
    streaks = dict(
        session.execute(
            select(c.component, func.count())
            .outerjoin(last_ok, last_ok.c.component == c.component)
            .where(
                c.ok.is_(False),
                c.checked_at <= now,
                or_(last_ok.c.at.is_(None), c.checked_at > last_ok.c.at),
            )
            .group_by(c.component)
        ).all()
    )
    since = now - timedelta(days=window_days)
    window = {
        comp: (total, ok)
        for comp, total, ok in session.execute(
            select(c.component, func.count(), func.count().filter(c.ok.is_(True)))
            .where(c.checked_at > since, c.checked_at <= now)
            .group_by(c.component)
        )
    }
    latest_at = (
        select(c.component, func.max(c.checked_at).label("at"))
        .where(c.checked_at <= now)
        .group_by(c.component)
        .subquery("latest_at")
    )
    latest: dict[str, ComponentCheck] = {}
    for row in session.scalars(
        select(c)
        .join(latest_at, and_(latest_at.c.component == c.component, latest_at.c.at == c.checked_at))
        .order_by(c.id)
    ):
        latest[row.component] = row  # same timestamp twice: the later row wins
    last_failure = (
        select(c.component, func.max(c.id).label("id"))
        .where(c.ok.is_(False), c.checked_at <= now)
        .group_by(c.component)
        .subquery("last_failure")
    )
    last_error = dict(
        session.execute(
            select(c.component, c.error).join(last_failure, last_failure.c.id == c.id)
        ).all()
    )
    states = {}
    for comp in dict.fromkeys([*components, *latest]):
        row = latest.get(comp)
        total, ok = window.get(comp, (0, 0))
        states[comp] = ComponentState(
            component=comp,
            consecutive_failures=int(streaks.get(comp, 0)),
            last_checked_at=row.checked_at if row else None,
            last_ok=row.ok if row else None,
            last_error=last_error.get(comp),
            last_detail=dict(row.detail) if row and row.detail else None,
            checks_in_window=int(total),
            ok_in_window=int(ok),
        )
    return states


def record_check(
    session: Session,
    component: str,
    *,
    now: datetime,
    ok: bool,
    error: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """One system-health check result for ``component``."""
    session.execute(
        insert(ComponentCheck).values(
            component=component, checked_at=now, ok=ok, error=error, detail=detail
        )
    )


def latest_scoring_outcome(session: Session, now: datetime) -> ComponentCheck | None:
    """The newest check that says whether scores can be computed, up to ``now``: a scoring run's
    own outcome (scored; failed; held for stale inputs, a ``data_freshness`` failure that carried
    scores forward), or any failed ``health_scoring`` check (the model cannot even be loaded).
    A probe's success scores nothing, so it is not an outcome."""
    c = ComponentCheck
    recent = session.scalars(
        select(c)
        .where(c.component.in_(("health_scoring", "data_freshness")), c.checked_at <= now)
        .order_by(c.checked_at.desc(), c.id.desc())
        .limit(500)  # a few days of hourly probes: scoring writes at least once a day
    )
    for check in recent:
        # A scoring run's checks name the date it scored (or tried to); the probes' do not.
        if "as_of" in (check.detail or {}) or (
            check.component == "health_scoring" and not check.ok
        ):
            return check
    return None


def latest_with(
    session: Session, component: str, key: str, now: datetime, *, look_back_days: int = 2
) -> ComponentCheck | None:
    """The newest check of ``component`` up to ``now`` whose detail carries ``key``.

    A component can be checked twice at one moment by different writers (the hourly probe and
    the sync's own record, in parallel): a reader of the sync's figures wants the sync's record,
    whichever row landed last. Looks ``look_back_days`` back, newest first.
    """
    c = ComponentCheck
    rows = session.scalars(
        select(c)
        .where(
            c.component == component,
            c.checked_at <= now,
            c.checked_at > now - timedelta(days=look_back_days),
            c.detail.is_not(None),
        )
        .order_by(c.checked_at.desc(), c.id.desc())
    )
    return next((row for row in rows if key in (row.detail or {})), None)
