"""Retrying a dead letter by hand (the Operations page's button): the next dispatch sends it
again, with every check a send makes (pauses, opt-outs, suppressions) applied anew."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from successcrew.errors import InputError
from successcrew.store import audit
from successcrew.store.models import OutboxMessage
from successcrew.store.outbox import requeue_dead


def retry_dead_letter(session: Session, message_id: int, *, by: str, now: datetime) -> None:
    """Requeue dead letter ``message_id`` (audited). An InputError when there is no such
    message or it is not dead (already retried, delivered)."""
    if not requeue_dead(session, message_id, now=now):
        row = session.get(OutboxMessage, message_id)
        if row is None:
            raise InputError(f"outbox message {message_id}: there is no such message")
        raise InputError(
            f"outbox message {message_id}: is {row.status}, not dead; nothing to retry"
        )
    audit.record(
        session,
        at=now,
        actor=by,
        action="dead_letter_retried",
        subject=f"outbox:{message_id}",
        detail={"message_id": message_id},
    )
