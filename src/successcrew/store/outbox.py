"""The transactional outbox: enqueue in the caller's transaction, claim, record, summarise.

Statuses: ``pending`` (due at ``next_attempt_at``), ``sending`` (claimed; ``next_attempt_at`` is
then the lease expiry, after which another dispatcher may reclaim it), ``delivered``, ``dead``
(dead letter: gave up, or refused for good, or suppressed because the recipient opted out) and
``held`` (waiting on something outside the outbox: a pause flag or missing credentials; decided
per group of like messages by every dispatch, in a few statements, and released by the first
dispatch after the reason is gone; never counted as an attempt).

Several dispatchers may run at once (on PostgreSQL; SQLite serialises writers). No two of them
may lock overlapping rows in different orders, so every UPDATE of many rows is one of two kinds:
the claim takes its rows ``FOR UPDATE SKIP LOCKED`` and updates only those (it never waits), and
a set-based change by grouping (the hold pass) first takes ``lock_for_bulk_update``. Other
writes change one row at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypedDict

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from successcrew.definitions.thresholds import RetryPolicy
from successcrew.domain.block_kit import limit_problems, slack_message
from successcrew.store.dialect import rowcount
from successcrew.store.models import OutboxMessage

STATUSES = ("pending", "sending", "delivered", "dead", "held")
#: Channels the dispatcher knows how to send.
CHANNELS = ("slack", "email", "crm_task")
#: Email ``kind`` -> the pause scope that stops it (on top of ``automation``).
EMAIL_KIND_SCOPES = {"campaign": "campaigns", "survey": "surveys"}
#: Outbox retries are spread over hours, not seconds: a provider outage rarely ends in a minute.
OUTBOX_BACKOFF_UNIT = timedelta(minutes=1)
OUTBOX_BACKOFF_MAX = timedelta(hours=6)


#: The transaction-scoped advisory lock of set-based outbox updates (``lock_for_bulk_update``).
BULK_UPDATE_LOCK = "successcrew.outbox.bulk_update"

#: Rows per multi-row INSERT in ``enqueue_many`` (well under SQLite's bound-parameter limit).
ENQUEUE_CHUNK = 1000


def _row(
    *,
    key: str,
    channel: str,
    payload: Mapping[str, Any],
    now: datetime,
    account_id: int | None = None,
    trigger_event_id: int | None = None,
) -> dict[str, Any]:
    if channel not in CHANNELS:
        raise ValueError(f"unknown outbox channel {channel!r}; expected one of {CHANNELS}")
    if channel == "slack":
        # Slack would refuse it at send time, hours later and far from the code that built it.
        problems = limit_problems(slack_message(payload))
        if problems:
            raise ValueError(f"Slack message {key} breaks Slack's limits: " + "; ".join(problems))
    return {
        "idempotency_key": key,
        "channel": channel,
        "payload": dict(payload),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "account_id": account_id,
        "trigger_event_id": trigger_event_id,
        "created_at": now,
    }


def _insert_ignoring_known_keys(session: Session, rows: list[dict[str, Any]]) -> int:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    table = OutboxMessage.__table__
    stmt = (
        insert(table)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        # RETURNING tells how many rows went in; rowcount is not reliable across drivers.
        .returning(table.c.id)
    )
    return len(session.execute(stmt).all())


def enqueue(
    session: Session,
    *,
    key: str,
    channel: str,
    payload: Mapping[str, Any],
    now: datetime,
    account_id: int | None = None,
    trigger_event_id: int | None = None,
) -> bool:
    """Add a message in the caller's transaction; True when new, False when ``key`` exists.

    ``INSERT ... ON CONFLICT DO NOTHING`` on the idempotency key: a re-run that produces the same
    effect enqueues nothing, even when two runs race.
    """
    row = _row(
        key=key,
        channel=channel,
        payload=payload,
        now=now,
        account_id=account_id,
        trigger_event_id=trigger_event_id,
    )
    return _insert_ignoring_known_keys(session, [row]) == 1


def enqueue_many(session: Session, messages: Iterable[Mapping[str, Any]], *, now: datetime) -> int:
    """The set-based form of ``enqueue``: multi-row inserts, same idempotency; returns how many
    were new. Each message is a mapping with ``key``, ``channel``, ``payload`` and optionally
    ``account_id`` and ``trigger_event_id``."""
    rows = [
        _row(
            key=m["key"],
            channel=m["channel"],
            payload=m["payload"],
            now=now,
            account_id=m.get("account_id"),
            trigger_event_id=m.get("trigger_event_id"),
        )
        for m in messages
    ]
    return sum(
        _insert_ignoring_known_keys(session, rows[start : start + ENQUEUE_CHUNK])
        for start in range(0, len(rows), ENQUEUE_CHUNK)
    )


def pause_scopes(channel: str, payload: Mapping[str, Any]) -> tuple[str, ...]:
    """Every pause scope (besides ``automation``) that stops this message.

    Scopes add up rather than replace each other: a program's Slack note is stopped by its own
    ``campaign:<id>`` pause and by the global ``campaigns`` pause alike, and a program's e-mail
    by ``campaigns`` and by its program's pause.
    """
    scopes: list[str] = []
    explicit = payload.get("pause_scope")
    if explicit:
        scopes.append(str(explicit))
        if str(explicit).startswith("campaign:"):
            scopes.append("campaigns")
    if channel == "email" and payload.get("kind") in EMAIL_KIND_SCOPES:
        scopes.append(EMAIL_KIND_SCOPES[str(payload["kind"])])
    if payload.get("program"):
        scopes.extend((f"campaign:{payload['program']}", "campaigns"))
    return tuple(dict.fromkeys(scopes))


def lock_for_bulk_update(session: Session) -> None:
    """Take, until the caller's transaction ends, the lock every set-based UPDATE of many outbox
    rows takes before it reads (PostgreSQL ``pg_advisory_xact_lock``; SQLite needs none, it
    serialises writers).

    Two hold passes in parallel would lock overlapping rows in different orders (one UPDATE per
    group, the groups walked in each process's own order) and deadlock. Serialised, the second
    pass also decides on what the first committed, not on rows that have moved since it read.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(func.hashtext(BULK_UPDATE_LOCK))))


def retry_delay(attempts: int, policy: RetryPolicy) -> timedelta:
    """When to try a failed message again: doubling minutes from the first failure, capped."""
    factor = max(policy.backoff_initial_seconds, 1) * 2 ** max(attempts - 1, 0)
    return min(OUTBOX_BACKOFF_UNIT * factor, OUTBOX_BACKOFF_MAX)


@dataclass(frozen=True)
class Claimed:
    """A claimed row, and whether a previous dispatcher had claimed it and vanished."""

    message: OutboxMessage
    reclaimed: bool


def claim(session: Session, *, now: datetime, lease: timedelta, limit: int) -> list[Claimed]:
    """Take up to ``limit`` due rows and mark them ``sending`` until ``now + lease``.

    Due: ``pending`` or ``held`` rows at or past ``next_attempt_at``, and ``sending`` rows whose
    lease ran out (a dispatcher that crashed between send and record). On PostgreSQL the candidate
    rows are locked with ``FOR UPDATE SKIP LOCKED`` so parallel dispatchers split the work; on
    SQLite the conditional UPDATE is the claim (SQLite serialises writers).
    """
    due = OutboxMessage.status.in_(("pending", "held", "sending")) & (
        OutboxMessage.next_attempt_at <= now
    )
    candidates = (
        select(OutboxMessage.id, OutboxMessage.status)
        .where(due)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    before = {row.id: row.status for row in session.execute(candidates)}
    if not before:
        return []
    claimed = session.scalars(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(before), due)
        .values(
            status="sending",
            next_attempt_at=now + lease,
            # A held row is not attempted yet; the dispatcher gives the count back if it holds.
            attempts=OutboxMessage.attempts + 1,
        )
        .returning(OutboxMessage)
        .execution_options(synchronize_session=False)
    ).all()
    return [Claimed(m, before[m.id] == "sending") for m in sorted(claimed, key=lambda m: m.id)]


class DeadLetter(TypedDict):
    """A message that gave up: its id, idempotency key, channel, tries and last error."""

    id: int
    key: str
    channel: str
    attempts: int
    last_error: str | None


class OutboxSummary(TypedDict):
    """Messages per status, the newest dead letters, and held messages per reason."""

    counts: dict[str, int]
    dead_letters: list[DeadLetter]
    held_reasons: dict[str, int]


def outbox_summary(session: Session, *, dead_limit: int = 20) -> OutboxSummary:
    """Counts by status, the newest dead letters and the held reasons (for ``status``)."""
    counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
    for status, n in session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ):
        counts[status] = n
    dead = session.execute(
        select(
            OutboxMessage.id,
            OutboxMessage.idempotency_key,
            OutboxMessage.channel,
            OutboxMessage.attempts,
            OutboxMessage.last_error,
        )
        .where(OutboxMessage.status == "dead")
        .order_by(OutboxMessage.id.desc())
        .limit(dead_limit)
    )
    held = session.execute(
        select(OutboxMessage.last_error, func.count())
        .where(OutboxMessage.status == "held")
        .group_by(OutboxMessage.last_error)
    )
    return OutboxSummary(
        counts=counts,
        dead_letters=[
            DeadLetter(
                id=r.id,
                key=r.idempotency_key,
                channel=r.channel,
                attempts=r.attempts,
                last_error=r.last_error,
            )
            for r in dead
        ],
        held_reasons={reason or "": n for reason, n in held},
    )


def list_messages(
    session: Session,
    *,
    status: str | None = None,
    channel: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Outbox messages newest first, with the account's name, filtered by status and channel
    (for ``successcrew outbox``); one query, ``limit`` rows at most."""
    from successcrew.store.models import Account

    query = (
        select(OutboxMessage, Account.name)
        .outerjoin(Account, Account.id == OutboxMessage.account_id)
        .order_by(OutboxMessage.id.desc())
        .limit(limit)
    )
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    if channel is not None:
        query = query.where(OutboxMessage.channel == channel)
    return [
        {
            "id": m.id,
            "key": m.idempotency_key,
            "channel": m.channel,
            "status": m.status,
            "attempts": m.attempts,
            "account": name,
            "created_at": m.created_at.isoformat(),
            "next_attempt_at": m.next_attempt_at.isoformat() if m.next_attempt_at else None,
            "delivered_at": m.delivered_at.isoformat() if m.delivered_at else None,
            "last_error": m.last_error,
            "payload": m.payload,
        }
        for m, name in session.execute(query)
    ]


def requeue_dead(session: Session, message_id: int, *, now: datetime) -> bool:
    """Make a dead letter due again now with its attempts reset (one conditional UPDATE: a
    second click, or a message no longer dead, changes nothing). True when it was requeued."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == "dead")
        .values(status="pending", attempts=0, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(rowcount(result))
