"""What the e-mail providers report back (SendGrid Event Webhook, Mailchimp Transactional
webhooks): every event stored once per message, hard bounces suppress the address, and
unsubscribes, spam complaints and replies become campaign feedback, which the programs'
auto-pause rule reads.

A batch is a handful of statements whatever its size: the new event ids in one, the messages
they are about in one, the events in one, then the suppressions, the feedback and the
unsubscribes, each set-based.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from successcrew.domain.email_event_rules import (
    FEEDBACK_KINDS,
    SUPPRESSING_KINDS,
    UNSUBSCRIBING_KINDS,
    EmailEventIn,
)
from successcrew.services.programs.results import record_campaign_feedback_many
from successcrew.store import audit
from successcrew.store.dialect import insert_ignore, rowcount
from successcrew.store.models import (
    Contact,
    EmailEvent,
    EmailSuppression,
    OutboxMessage,
    ProgramEmail,
)
from successcrew.store.receipts import take_new


@dataclass
class EmailEventsResult:
    """What one webhook batch did."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    unmatched: int = 0
    suppressed_addresses: int = 0
    feedback: int = 0
    unsubscribed: int = 0
    kinds: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return dict(self.__dict__)


def _messages(session: Session, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The outbox message behind each key: its account, contact and program (one query)."""
    if not keys:
        return {}
    rows = session.execute(
        select(
            OutboxMessage.idempotency_key, OutboxMessage.account_id, OutboxMessage.payload
        ).where(OutboxMessage.idempotency_key.in_(keys))
    ).all()
    out = {}
    for key, account_id, payload in rows:
        payload = payload or {}
        out[key] = {
            "account_id": account_id,
            "contact_id": payload.get("contact_id"),
            "program": payload.get("program") if payload.get("kind") == "campaign" else None,
        }
    return out


def _repliers(session: Session, emails: Sequence[str]) -> dict[str, dict[str, Any]]:
    """For inbound replies: the contact behind each sender address and the program whose
    e-mail reached them last (two queries for the whole batch)."""
    if not emails:
        return {}
    contacts = session.execute(
        select(func.lower(Contact.email), Contact.id, Contact.account_id).where(
            func.lower(Contact.email).in_(sorted(emails))
        )
    ).all()
    by_contact = {cid: (email, account) for email, cid, account in contacts}
    latest = (
        select(
            ProgramEmail.contact_id,
            ProgramEmail.program,
            func.row_number()
            .over(partition_by=ProgramEmail.contact_id, order_by=ProgramEmail.created_at.desc())
            .label("n"),
        )
        .where(ProgramEmail.contact_id.in_(sorted(by_contact)), ProgramEmail.status == "queued")
        .subquery()
    )
    programs = dict(
        session.execute(select(latest.c.contact_id, latest.c.program).where(latest.c.n == 1)).all()
    )
    return {
        email: {"contact_id": cid, "account_id": account, "program": programs.get(cid)}
        for cid, (email, account) in by_contact.items()
    }


def record_email_events(
    session: Session, provider: str, events: Sequence[EmailEventIn], *, now: datetime
) -> EmailEventsResult:
    """Take in one webhook batch; a repeated event (the provider retries) changes nothing."""
    result = EmailEventsResult(received=len(events))
    fresh_ids = take_new(session, provider, (e.event_id for e in events), now=now)
    seen: set[str] = set()
    fresh = []
    for e in events:
        if e.event_id in fresh_ids and e.event_id not in seen:
            seen.add(e.event_id)
            fresh.append(e)
    result.duplicates = len(events) - len(fresh)
    if not fresh:
        return result
    messages = _messages(session, sorted({e.outbox_key for e in fresh if e.outbox_key}))
    repliers = _repliers(
        session, sorted({e.email.lower() for e in fresh if e.kind in ("reply", "negative_reply")})
    )
    rows, feedback, unsubscribe_ids = [], [], set()
    for e in fresh:
        if e.outbox_key:
            found = messages.get(e.outbox_key, {})
        else:
            found = repliers.get(e.email.lower(), {})
        if not found:
            result.unmatched += 1
        rows.append(
            {
                "provider": provider,
                "kind": e.kind,
                "outbox_key": e.outbox_key,
                "email": e.email[:320],
                "program": found.get("program"),
                "account_id": found.get("account_id"),
                "contact_id": found.get("contact_id"),
                "occurred_at": e.occurred_at,
                "received_at": now,
                "detail": dict(e.detail) or None,
            }
        )
        contact_id = found.get("contact_id")
        if contact_id is None:
            continue
        if e.kind in FEEDBACK_KINDS and found.get("program"):
            feedback.append(
                {
                    "program": found["program"],
                    "contact_id": int(contact_id),
                    "kind": FEEDBACK_KINDS[e.kind],
                    "occurred_at": e.occurred_at,
                    "detail": {"provider": provider, "event_id": e.event_id},
                }
            )
        elif e.kind in UNSUBSCRIBING_KINDS:
            unsubscribe_ids.add(int(contact_id))
    session.execute(insert(EmailEvent), rows)
    result.stored = len(rows)
    result.kinds = dict(Counter(e.kind for e in fresh))

    bounced = sorted({e.email.lower() for e in fresh if e.kind in SUPPRESSING_KINDS})
    if bounced:
        conn = session.connection()
        reasons = {e.email.lower(): e for e in fresh if e.kind in SUPPRESSING_KINDS}
        table = EmailSuppression.__table__
        added = session.execute(
            insert_ignore(conn, table).returning(table.c.email),
            [
                {
                    "email": email[:320],
                    "reason": reasons[email].kind,
                    "provider": provider,
                    "created_at": now,
                    "detail": dict(reasons[email].detail) or None,
                }
                for email in bounced
            ],
        )
        result.suppressed_addresses = len(added.scalars().all())
    result.feedback = record_campaign_feedback_many(session, feedback, now=now)
    if unsubscribe_ids:
        changed = session.execute(
            update(Contact)
            .where(Contact.id.in_(sorted(unsubscribe_ids)), Contact.unsubscribed_at.is_(None))
            .values(unsubscribed_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        result.unsubscribed = rowcount(changed)
    leaving = {f["contact_id"] for f in feedback if f["kind"] in UNSUBSCRIBING_KINDS}
    if result.suppressed_addresses or result.feedback or result.unsubscribed:
        audit.record(
            session,
            at=now,
            actor=provider,
            action="email.events",
            subject=f"webhook:{provider}",
            detail={
                "kinds": result.kinds,
                "suppressed": bounced,
                "unsubscribed_contacts": sorted(unsubscribe_ids | leaving),
                "feedback": result.feedback,
            },
        )
    return result
