"""How the crew queues an external effect: one outbox row per idempotency key.

The row is written in the caller's transaction, so a message exists exactly when the work that
caused it committed. ``INSERT ... ON CONFLICT DO NOTHING`` on the key makes a re-run, a retry
after a crash, or a racing run enqueue nothing twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from successcrew.integrations.outbox import enqueue


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
    """Add a message to the outbox; True when new, False when ``key`` was queued before.

    The integrations' ``enqueue`` does the insert (and checks the channel is one the dispatcher
    sends); this wrapper is where the crew's agents reach the outbox.
    """
    return enqueue(
        session,
        key=key,
        channel=channel,
        payload=payload,
        now=now,
        account_id=account_id,
        trigger_event_id=trigger_event_id,
    )


def queue_messages(
    session: Session, messages: Sequence[Mapping[str, Any]], *, now: datetime
) -> int:
    """Add many messages in a few multi-row statements (``key``, ``channel``, ``payload``,
    optional ``account_id``); returns how many were new. For per-account effects, where one
    insert per account would be a query per account in a loop.
    """
    from successcrew.integrations.outbox import enqueue_many

    return enqueue_many(session, [dict(m) for m in messages], now=now)
