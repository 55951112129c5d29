"""How the crew queues an external effect: one outbox row per idempotency key.

The row is written in the caller's transaction, so a message exists exactly when the work that
caused it committed. ``INSERT ... ON CONFLICT DO NOTHING`` on the key makes a re-run, a retry
after a crash, or a racing run enqueue nothing twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from successcrew.store.dialect import insert_ignore
from successcrew.store.models import OutboxMessage


def queue_message(
    session: Session,
    *,
    key: str,
    channel: str,
    payload: Mapping[str, Any],
    now: datetime,
    account_id: int | None = None,
    trigger_event_id: int | None = None,
) -> bool:
    """Add a message to the outbox; True when new, False when ``key`` was queued before."""
    table = OutboxMessage.__table__
    stmt = insert_ignore(session.connection(), table).values(
        idempotency_key=key,
        channel=channel,
        payload=dict(payload),
        status="pending",
        attempts=0,
        next_attempt_at=now,
        account_id=account_id,
        trigger_event_id=trigger_event_id,
        created_at=now,
    )
    return bool(session.execute(stmt).rowcount)
