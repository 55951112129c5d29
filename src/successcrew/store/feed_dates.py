"""The newest day each input ("feed") covers on a date: a few index probes, nothing per account.

Each answer is one ``ORDER BY .. DESC LIMIT 1`` on an index that starts with the date column
(``usage_daily``'s day-first primary key; ``tickets.opened_at``, ``invoices.issued_at``,
``nps_responses.responded_at``), so it reads a handful of index entries while the feed is fresh.

A usage metric has no index of its own (the roll-up's cost): walking ``usage_daily`` back from
the date reads every row until the metric turns up. So a metric is first looked up in
``usage_first_activity`` (a metric never seen costs one pass over that small table, not over
the daily rows) and then only ``lookback_days`` back: beyond, the answer is "nothing since".
Feed names are those of ``successcrew.domain.freshness``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from successcrew.clock import start_of_day
from successcrew.domain.freshness import NothingSince
from successcrew.store.models import (
    AccountSource,
    Invoice,
    NpsResponse,
    Ticket,
    UsageDaily,
    UsageFirstActivity,
)


def _first(conn: Session | Connection, query: Any) -> Any:
    return conn.execute(query.limit(1)).scalar()


def _day(value: date | datetime | None) -> date | None:
    if value is None:
        return None
    return value.date() if isinstance(value, datetime) else value


def feed_last_days(
    conn: Session | Connection, feeds: Sequence[str], on: date, *, lookback_days: int = 30
) -> dict[str, date | NothingSince | None]:
    """For each feed, the newest day with data on or before ``on`` (None: no data yet; for a
    usage metric with nothing in the ``lookback_days`` up to ``on``, ``NothingSince``)."""
    end = start_of_day(on + timedelta(days=1))
    out: dict[str, date | NothingSince | None] = {}
    for feed in feeds:
        kind, _, metric = feed.partition(":")
        if kind == "usage":
            first = UsageFirstActivity
            seen = _first(
                conn,
                select(first.first_day).where(first.metric == metric, first.first_day <= on),
            )
            if seen is None:
                out[feed] = None
                continue
            u = UsageDaily.__table__.c
            since = on - timedelta(days=lookback_days - 1)
            last: Any = _first(
                conn,
                select(u.day)
                .where(u.metric == metric, u.day <= on, u.day >= since)
                .order_by(u.day.desc()),
            )
            if last is None:
                out[feed] = NothingSince(since)
                continue
        elif kind == "tickets":
            last = _first(
                conn,
                select(Ticket.opened_at)
                .where(Ticket.opened_at < end)
                .order_by(Ticket.opened_at.desc()),
            )
        elif kind == "invoices":
            issued = _first(
                conn,
                select(Invoice.issued_at)
                .where(Invoice.issued_at <= on)
                .order_by(Invoice.issued_at.desc()),
            )
            paid = _first(
                conn,
                select(Invoice.paid_at)
                .where(Invoice.paid_at <= on)
                .order_by(Invoice.paid_at.desc()),
            )
            if issued is None:
                # issued_at is optional in imports: without it an invoice shows the feed was
                # alive by its due date at the latest.
                issued = _first(
                    conn,
                    select(Invoice.due_at)
                    .where(Invoice.due_at <= on, Invoice.issued_at.is_(None))
                    .order_by(Invoice.due_at.desc()),
                )
            known = [d for d in (issued, paid) if d is not None]
            last = max(known) if known else None
        elif kind == "nps":
            last = _first(
                conn,
                select(NpsResponse.responded_at)
                .where(NpsResponse.responded_at < end)
                .order_by(NpsResponse.responded_at.desc()),
            )
        elif kind == "crm_sync":
            last = _first(
                conn,
                select(AccountSource.synced_at)
                .where(AccountSource.synced_at < end)
                .order_by(AccountSource.synced_at.desc()),
            )
        else:  # pragma: no cover - feed names come from domain.freshness
            raise ValueError(f"unknown feed {feed!r}")
        out[feed] = _day(last)
    return out
