"""The outbox dispatcher: claim due rows, send each outside any transaction, record the result.

Delivery is at-least-once with duplicate suppression where the provider lets us check: a row whose
dispatcher died after sending but before recording is reclaimed when its lease runs out; for Slack
we then look for our idempotency key in the channel's message metadata before posting again.
SendGrid and Mandrill offer no such lookup, so such an email may go out twice (never zero times).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, case, exists, false, func, or_, select, update
from sqlalchemy.orm import Session

from successcrew.definitions.thresholds import Thresholds
from successcrew.domain.delivery_rules import HoldGroup, hold_reason, pause_reason
from successcrew.integrations import providers
from successcrew.integrations.crm.connector import CrmConnector, CrmTask
from successcrew.integrations.email.sender import EmailMessage, EmailSender
from successcrew.integrations.http import HttpPolicy, ProviderAuthError, ProviderError
from successcrew.integrations.slack import SlackClient, build_message
from successcrew.settings import Settings
from successcrew.store.db import retry_on_conflict, transaction
from successcrew.store.models import Contact, EmailSuppression, OutboxMessage
from successcrew.store.outbox import (
    Claimed,
    claim,
    lock_for_bulk_update,
    pause_scopes,
    retry_delay,
)
from successcrew.store.pauses import is_paused, paused_scopes

log = logging.getLogger(__name__)

DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_LEASE = timedelta(minutes=10)
#: A row held one at a time (a pause set between the set-based pass and its claim) is looked at
#: again by the first dispatch at least this much later.
HELD_RECHECK = timedelta(minutes=1)
#: A row held by the set-based pass stays out of the claim query this long. It does not wait
#: that long once its reason is gone: every dispatch re-decides the held groups and releases
#: them at once; this only keeps unchanged held rows from being re-read and rewritten each tick.
HELD_SET_RECHECK = timedelta(days=1)
#: What to do when a dispatch transaction kept conflicting with other dispatchers' ones.
CONFLICT_ADVICE = (
    "Messages not sent stay in the outbox for the next dispatch (a claimed one once its lease "
    "runs out); run it again, and if this keeps happening run fewer dispatchers at once."
)
#: How far back (real time) to look in a Slack channel for a message a crashed run posted.
SLACK_LOOKBACK_SECONDS = 2 * 24 * 3600


@dataclass
class DispatchSummary:
    """What one dispatch did; ``errors`` are token-free, one line per failed message."""

    claimed: int = 0
    delivered: int = 0
    recovered: int = 0  # found already delivered after a crash (not sent again)
    retried: int = 0
    dead: int = 0
    suppressed: int = 0  # recipient opted out: recorded, never sent
    held: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``run`` summaries."""
        return asdict(self)


class _Permanent(Exception):
    """The message itself is unsendable (bad payload, unknown channel): dead-letter it now."""


class _Hold(Exception):
    """Not sendable now for a reason outside the outbox (pause, no credentials)."""


class _Suppress(Exception):
    """The recipient opted out: record and never send."""


@dataclass
class _Senders:
    """Clients built lazily, one per provider per dispatch, closed at the end."""

    settings: Settings
    policy: HttpPolicy | None
    slack_factory: Callable[[], SlackClient | None]
    _built: dict[str, Any] = field(default_factory=dict)

    def _get(self, name: str, build: Callable[[], Any]) -> Any:
        if name not in self._built:
            self._built[name] = build()
        return self._built[name]

    def slack(self) -> SlackClient | None:
        return self._get("slack", self.slack_factory)

    def email(self, provider: str | None) -> EmailSender | None:
        return self._get(
            f"email:{provider}",
            lambda: providers.email_sender(self.settings, provider, self.policy),
        )

    def crm(self, provider: str) -> CrmConnector | None:
        return self._get(
            f"crm:{provider}",
            lambda: providers.crm_connector(self.settings, provider, self.policy),
        )

    def close(self) -> None:
        for client in self._built.values():
            if client is not None:
                client.close()


def _recipient_opted_out(session: Session, payload: dict[str, Any]) -> bool:
    """Checked at send time, not enqueue time: an opt-out (or a hard bounce, which suppresses
    the address) may arrive while a message waits."""
    to = str(payload.get("to", ""))
    if session.get(EmailSuppression, to.lower()) is not None:
        return True
    clauses = [Contact.email == str(payload.get("to", ""))]
    if payload.get("contact_id") is not None:
        clauses.append(Contact.id == int(payload["contact_id"]))
    row = session.execute(
        select(Contact.id)
        .where(or_(*clauses))
        .where(or_(Contact.email_opt_out.is_(True), Contact.unsubscribed_at.is_not(None)))
        .limit(1)
    ).first()
    return row is not None


def _preflight(engine: Engine, senders: _Senders, msg: OutboxMessage) -> None:
    """Raise _Hold, _Suppress or _Permanent when the message must not be sent now."""
    payload = msg.payload or {}
    with transaction(engine) as session:
        flag = is_paused(session, *pause_scopes(msg.channel, payload))
        if flag is not None:
            raise _Hold(pause_reason(flag.scope, flag.reason))
        if msg.channel == "email" and _recipient_opted_out(session, payload):
            raise _Suppress(
                "suppressed: recipient has opted out of email (or the address bounced); not sent"
            )
    if msg.channel == "slack":
        if senders.slack() is None:
            raise _Hold(providers.outbox_only_reason("slack"))
    elif msg.channel == "email":
        provider = payload.get("provider")
        if senders.email(provider) is None:
            names = [provider] if provider else list(providers.EMAIL_PROVIDERS)
            raise _Hold(" or ".join(providers.outbox_only_reason(n) for n in names))
    elif msg.channel == "crm_task":
        provider = str(payload.get("provider", ""))
        if provider not in providers.CRM_PROVIDERS:
            raise _Permanent(f"crm_task payload names unknown provider {provider!r}")
        if senders.crm(provider) is None:
            raise _Hold(providers.outbox_only_reason(provider))
    else:
        raise _Permanent(f"unknown channel {msg.channel!r}")


def _outbox_only(senders: _Senders, channel: str, provider: str | None) -> str | None:
    """The outbox-only reason when ``channel``/``provider`` has no credentials, else None."""
    if channel == "slack":
        return providers.outbox_only_reason("slack") if senders.slack() is None else None
    if channel == "email":
        if senders.email(provider) is not None:
            return None
        names = [provider] if provider else list(providers.EMAIL_PROVIDERS)
        return " or ".join(providers.outbox_only_reason(n) for n in names)
    assert provider is not None  # crm_task with a known provider (hold_reason checked)
    return providers.outbox_only_reason(provider) if senders.crm(provider) is None else None


@retry_on_conflict("dispatch: holding and releasing unsendable messages", CONFLICT_ADVICE)
def hold_unsendable(engine: Engine, senders: _Senders, now: datetime) -> int:
    """Hold, in a handful of statements, every due message that cannot be sent now; returns
    how many are held.

    Due ``pending`` rows and all ``held`` rows are grouped in SQL by what decides their fate
    (channel, the payload fields behind the pause scopes, provider, opted-out recipient) and
    each group is decided once (``domain.outbox.hold_reason``). A group that must wait is
    marked ``held`` with its reason and a ``next_attempt_at`` of ``now + HELD_SET_RECHECK``,
    so the claim loop never walks it row by row; a held group whose reason is gone (pause
    lifted, credentials configured) goes back to ``pending`` now and is sent by this dispatch.
    Rows being sent (``sending``) are never touched; nothing here sends or counts an attempt,
    so a crash at any point leaves each row pending or held, both safe. Parallel dispatchers
    take their hold passes one at a time (``lock_for_bulk_update``).
    """
    o = OutboxMessage
    payload = o.payload
    fields = {
        "pause_scope": payload["pause_scope"].as_string(),
        "kind": payload["kind"].as_string(),
        "program": payload["program"].as_string(),
        "provider": payload["provider"].as_string(),
    }
    # Checked at send time as in _preflight: a held email whose recipient opted out since is
    # released to the per-message path, which suppresses it (once; it is then dead).
    opted_out = exists().where(
        or_(
            Contact.email == func.coalesce(payload["to"].as_string(), ""),
            Contact.id == payload["contact_id"].as_integer(),
        ),
        or_(Contact.email_opt_out.is_(True), Contact.unsubscribed_at.is_not(None)),
    ) | exists().where(
        EmailSuppression.email == func.lower(func.coalesce(payload["to"].as_string(), ""))
    )
    due_pending = and_(o.status == "pending", o.next_attempt_at <= now)
    looked_at = or_(due_pending, o.status == "held")
    rows = (
        select(
            o.channel,
            *(expr.label(name) for name, expr in fields.items()),
            case((o.channel == "email", opted_out), else_=false()).label("opted_out"),
            o.status,
            o.last_error,
            o.next_attempt_at,
        )
        .where(looked_at)
        .subquery()
    )
    key_cols = [rows.c.channel, *(rows.c[name] for name in fields), rows.c.opted_out]
    with transaction(engine) as session:
        lock_for_bulk_update(session)
        paused = {scope: flag.reason for scope, flag in paused_scopes(session).items()}
        groups = session.execute(
            select(
                *key_cols,
                rows.c.status,
                rows.c.last_error,
                func.count(),
                func.min(rows.c.next_attempt_at),
            ).group_by(*key_cols, rows.c.status, rows.c.last_error)
        ).all()
        held = 0
        to_hold: dict[tuple[Any, ...], str] = {}
        to_release: set[tuple[Any, ...]] = set()
        # tuple(): the row's width depends on key_cols, so a checker cannot unpack a Row.
        for channel, *values, status, last_error, count, first_due in map(tuple, groups):
            key = (channel, *values)
            given = dict(zip(fields, values[:-1], strict=True))
            group = HoldGroup(
                channel=channel,
                scopes=pause_scopes(channel, {k: v for k, v in given.items() if v is not None}),
                provider=given["provider"],
                opted_out=bool(values[-1]),
            )
            reason = hold_reason(
                group,
                paused=paused,
                known_crm=providers.CRM_PROVIDERS,
                outbox_only=lambda c, p: _outbox_only(senders, c, p),
            )
            if reason is not None:
                held += count
                if status == "pending" or last_error != reason or first_due <= now:
                    to_hold[key] = reason
            elif status == "held":
                to_release.add(key)

        def in_group(key: tuple[Any, ...]) -> Any:
            channel, *values, flag = key
            clauses = [o.channel == channel]
            for expr, value in zip(fields.values(), values, strict=True):
                clauses.append(expr.is_(None) if value is None else expr == value)
            if channel == "email":
                clauses.append(opted_out if flag else ~opted_out)
            return and_(*clauses)

        for key, reason in to_hold.items():
            session.execute(
                update(o)
                .where(
                    in_group(key),
                    or_(
                        due_pending,
                        and_(
                            o.status == "held",
                            or_(o.last_error.is_distinct_from(reason), o.next_attempt_at <= now),
                        ),
                    ),
                )
                .values(status="held", last_error=reason, next_attempt_at=now + HELD_SET_RECHECK)
                .execution_options(synchronize_session=False)
            )
        for key in to_release:
            session.execute(
                update(o)
                .where(in_group(key), o.status == "held")
                .values(status="pending", next_attempt_at=now)
                .execution_options(synchronize_session=False)
            )
    return held


def _send(
    senders: _Senders,
    item: Claimed,
    *,
    wall_clock: Callable[[], float],
) -> tuple[str | None, bool, str | None]:
    """Send one message; returns (provider message id, recovered-without-sending, and for Slack
    the channel id, which ``chat.update`` needs beside the ts)."""
    msg = item.message
    payload = msg.payload or {}
    try:
        if msg.channel == "slack":
            slack = senders.slack()
            assert slack is not None  # _preflight checked
            body = build_message(
                payload, key=msg.idempotency_key, default_channel=senders.settings.slack_channel
            )
            if item.reclaimed:
                # A previous dispatcher died holding this row: did its post go out?
                ts = slack.find_by_key(
                    body["channel"],
                    msg.idempotency_key,
                    oldest=wall_clock() - SLACK_LOOKBACK_SECONDS,
                )
                if ts is not None:
                    return ts, True, slack.resolve_channel(body["channel"])
            channel_id, ts = slack.post_message(body)
            return ts, False, channel_id
        if msg.channel == "email":
            sender = senders.email(payload.get("provider"))
            assert sender is not None
            email = EmailMessage.from_payload(
                payload, key=msg.idempotency_key, default_from=senders.settings.email_from
            )
            return sender.send(email).message_id, False, None
        crm = senders.crm(str(payload["provider"]))
        assert crm is not None
        task = CrmTask(
            account_source_id=str(payload["account_source_id"]),
            subject=str(payload["subject"]),
            body=str(payload.get("body", "")),
            due_date=str(payload["due_date"]),
            owner_email=payload.get("owner_email"),
        )
        return crm.create_task(task), False, None
    except (KeyError, TypeError, ValueError) as exc:
        raise _Permanent(f"invalid {msg.channel} payload: {type(exc).__name__}: {exc}") from None


@retry_on_conflict("dispatch: claiming due messages", CONFLICT_ADVICE)
def _claim_batch(engine: Engine, now: datetime, lease: timedelta, limit: int) -> list[Claimed]:
    with transaction(engine) as session:
        return claim(session, now=now, lease=lease, limit=limit)


@retry_on_conflict("dispatch: recording what became of a message", CONFLICT_ADVICE)
def _record(engine: Engine, msg_id: int, **values: Any) -> None:
    # Only while we still hold the claim: a row reclaimed by another dispatcher is theirs.
    with transaction(engine) as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == msg_id, OutboxMessage.status == "sending")
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def dispatch(
    engine: Engine,
    settings: Settings,
    thresholds: Thresholds,
    now: datetime,
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    lease: timedelta = DEFAULT_LEASE,
    batch_size: int = 100,
    policy: HttpPolicy | None = None,
    after_send: Callable[[OutboxMessage], None] | None = None,
    wall_clock: Callable[[], float] = time.time,
) -> DispatchSummary:
    """Send every due outbox message once; returns what happened.

    A message that keeps failing is retried with growing delays and dead-lettered after
    ``max_attempts``; one refused for good (a 4xx, an invalid payload) is dead-lettered at once.
    ``after_send`` is called after a successful send and before it is recorded (an observer
    hook; the crash tests kill the process there). ``wall_clock`` is only used to bound the Slack
    history lookup, because Slack timestamps are real time even when ``now`` is simulated.
    """
    policy = policy or HttpPolicy(retry=thresholds.retries)
    summary = DispatchSummary()
    senders = _Senders(
        settings, policy, slack_factory=lambda: providers.slack_client(settings, policy)
    )
    try:
        # Whatever cannot be sent now is held as a set first; the claim loop sees the rest.
        summary.held += hold_unsendable(engine, senders, now)
        while True:
            batch = _claim_batch(engine, now, lease, batch_size)
            if not batch:
                break
            summary.claimed += len(batch)
            for item in batch:
                _dispatch_one(
                    engine,
                    senders,
                    item,
                    now,
                    max_attempts,
                    thresholds,
                    summary,
                    after_send,
                    wall_clock,
                )
            if len(batch) < batch_size:
                break
    finally:
        senders.close()
    return summary


def _dispatch_one(
    engine: Engine,
    senders: _Senders,
    item: Claimed,
    now: datetime,
    max_attempts: int,
    thresholds: Thresholds,
    summary: DispatchSummary,
    after_send: Callable[[OutboxMessage], None] | None,
    wall_clock: Callable[[], float],
) -> None:
    msg = item.message
    if item.reclaimed and msg.attempts > max_attempts:
        # Every dispatcher that took this row died holding it: stop feeding it to the next one.
        summary.dead += 1
        error = f"dispatcher stopped {msg.attempts - 1} time(s) while sending; dead-lettered"
        summary.errors.append(f"{msg.idempotency_key}: {error}")
        _record(engine, msg.id, status="dead", last_error=error)
        return
    try:
        _preflight(engine, senders, msg)
        provider_id, recovered, provider_channel = _send(senders, item, wall_clock=wall_clock)
    except _Hold as exc:
        summary.held += 1
        _record(
            engine,
            msg.id,
            status="held",
            last_error=str(exc),
            # Not ``now``: the row would be due again within this same dispatch and loop.
            next_attempt_at=now + HELD_RECHECK,
            attempts=msg.attempts - 1,
        )
        return
    except _Suppress as exc:
        summary.suppressed += 1
        _record(engine, msg.id, status="dead", last_error=str(exc), attempts=msg.attempts - 1)
        return
    except _Permanent as exc:
        summary.dead += 1
        summary.errors.append(f"{msg.idempotency_key}: {exc}")
        _record(engine, msg.id, status="dead", last_error=str(exc))
        return
    except ProviderError as exc:
        _failed(engine, msg, exc, now, max_attempts, thresholds, summary)
        return
    if after_send is not None and not recovered:
        after_send(msg)
    _record(
        engine,
        msg.id,
        status="delivered",
        delivered_at=now,
        provider_message_id=provider_id,
        provider_channel=provider_channel,
        last_error=None,
    )
    if recovered:
        summary.recovered += 1
    else:
        summary.delivered += 1


def _failed(
    engine: Engine,
    msg: OutboxMessage,
    exc: ProviderError,
    now: datetime,
    max_attempts: int,
    thresholds: Thresholds,
    summary: DispatchSummary,
) -> None:
    error = str(exc)
    summary.errors.append(f"{msg.idempotency_key}: {error}")
    # Refused credentials may be fixed by the operator, so they are retried like an outage.
    retry = exc.retryable or isinstance(exc, ProviderAuthError)
    if retry and msg.attempts < max_attempts:
        summary.retried += 1
        _record(
            engine,
            msg.id,
            status="pending",
            last_error=error,
            next_attempt_at=now + retry_delay(msg.attempts, thresholds.retries),
        )
        return
    summary.dead += 1
    why = f"dead-lettered after {msg.attempts} attempt(s)" if retry else "refused; not retried"
    _record(engine, msg.id, status="dead", last_error=f"{error} ({why})")
