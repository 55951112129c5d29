"""Inbound event ids already taken in: the one place that decides "new or a repeat"."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from successcrew.store.dialect import insert_ignore
from successcrew.store.models import InboundReceipt

RECEIPTS = InboundReceipt.__table__


def take_new(session: Session, source: str, event_ids: Iterable[str], *, now: datetime) -> set[str]:
    """Record ``event_ids`` of ``source`` and return those not seen before, in one statement.

    ``INSERT .. ON CONFLICT DO NOTHING RETURNING``: an id another transaction is inserting at
    the same moment waits for it (PostgreSQL) or for the write lock (SQLite), and then counts
    as seen, so of two concurrent deliveries of one event exactly one processes it.
    """
    ids = sorted({i for i in event_ids if i})
    if not ids:
        return set()
    conn = session.connection()
    stmt = insert_ignore(conn, RECEIPTS).returning(RECEIPTS.c.event_id)
    rows = [{"source": source, "event_id": i, "received_at": now} for i in ids]
    return set(session.execute(stmt, rows).scalars())
