"""Product events from Segment-compatible sources (``/v1/track`` .. ``/v1/batch``): ``group``
calls create and update accounts, ``identify`` calls add contacts, mapped ``track`` events land
in ``usage_events`` and roll up into the daily totals exactly as imported events do.

Each ``messageId`` is taken in once (``inbound_receipts``): Segment and RudderStack retry, and a
repeat changes nothing. A batch is a fixed handful of set-based statements.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam as _bind
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from successcrew.clock import parse_timestamp
from successcrew.definitions.product_events import ProductEvents
from successcrew.domain.product_event_rules import SegmentPlan, plan_calls
from successcrew.store.dialect import insert_ignore, upsert
from successcrew.store.models import Account, Contact, ProductUser, UsageEvent
from successcrew.store.receipts import take_new
from successcrew.store.usage import rollup

ACCOUNTS = Account.__table__
CONTACTS = Contact.__table__
USERS = ProductUser.__table__
EVENTS = UsageEvent.__table__


@dataclass
class ProductEventsResult:
    """What one request did."""

    received: int = 0
    duplicates: int = 0
    accounts: int = 0
    contacts: int = 0
    usage_events: int = 0
    dropped: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return dict(self.__dict__)


def message_id(call: Mapping[str, Any]) -> str:
    """The call's ``messageId`` (Segment's dedupe key), or a digest of the call without one."""
    given = call.get("messageId")
    if isinstance(given, str) and given.strip():
        return given.strip()[:200]
    return (
        "sha:" + hashlib.sha256(json.dumps(call, sort_keys=True, default=str).encode()).hexdigest()
    )


def _when(call: Mapping[str, Any], now: datetime) -> datetime:
    value = call.get("timestamp") or call.get("originalTimestamp")
    if isinstance(value, str):
        try:
            return parse_timestamp(value)
        except ValueError:
            pass
    return now


def _ids(session: Session, column: Any, key: Any, values: Sequence[str]) -> dict[str, int]:
    if not values:
        return {}
    return dict(session.execute(select(key, column).where(key.in_(sorted(set(values))))).all())


def _accounts(session: Session, plan: SegmentPlan, now: datetime) -> int:
    if not plan.accounts:
        return 0
    conn = session.connection()
    new = session.execute(
        insert_ignore(conn, ACCOUNTS).returning(ACCOUNTS.c.id),
        [
            {
                "external_id": group,
                "name": traits.get("name") or group,
                "plan": traits.get("plan"),
                "segment": traits.get("segment"),
                "created_at": now,
                "updated_at": now,
            }
            for group, traits in sorted(plan.accounts.items())
        ],
    ).all()
    for column in ("name", "plan", "segment"):
        changes = [(g, t[column]) for g, t in sorted(plan.accounts.items()) if t.get(column)]
        if changes:
            # One executemany per trait: existing accounts keep traits the call did not send.
            # Core, not ORM: an executemany UPDATE keyed by external id, not by primary key.
            session.connection().execute(
                update(ACCOUNTS)
                .where(
                    ACCOUNTS.c.external_id == _bind("g"),
                    ACCOUNTS.c[column].is_distinct_from(_bind("v")),
                )
                .values({column: _bind("v"), "updated_at": now}),
                [{"g": g, "v": v} for g, v in changes],
            )
    return len(new)


def record_segment_calls(
    session: Session, calls: Sequence[Mapping[str, Any]], *, mapping: ProductEvents, now: datetime
) -> ProductEventsResult:
    """Take in Segment calls (already authenticated and size-checked); repeats are dropped."""
    result = ProductEventsResult(received=len(calls))
    keyed = [(message_id(c), c) for c in calls]
    fresh_ids = take_new(session, "segment", (k for k, _ in keyed), now=now)
    seen: set[str] = set()
    fresh = []
    for key, call in keyed:
        if key in fresh_ids and key not in seen:
            seen.add(key)
            fresh.append(({**call, "messageId": key}, _when(call, now)))
    result.duplicates = len(calls) - len(fresh)
    if not fresh:
        return result
    plan = plan_calls(fresh, mapping)
    result.dropped = plan.dropped
    result.accounts = _accounts(session, plan, now)
    conn = session.connection()

    groups = set(plan.links.values()) | {u.group_id for u in plan.usage if u.group_id}
    account_ids = _ids(session, Account.id, Account.external_id, sorted(groups))
    links = [
        {"user_id": user, "account_id": account_ids[group], "updated_at": now}
        for user, group in sorted(plan.links.items())
        if group in account_ids
    ]
    if links:
        stmt = upsert(conn, USERS)
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["user_id"],
                set_={"account_id": stmt.excluded.account_id, "updated_at": now},
            ),
            links,
        )
    users = sorted(set(plan.contacts) | {u.user_id for u in plan.usage if u.user_id})
    user_accounts = _ids(session, ProductUser.account_id, ProductUser.user_id, users)

    contacts = [
        {
            "external_id": user,
            "account_id": user_accounts[user],
            "email": traits["email"],
            "name": traits.get("name"),
            "created_at": now,
            "updated_at": now,
        }
        for user, traits in sorted(plan.contacts.items())
        if user in user_accounts
    ]
    if contacts:
        stmt = upsert(conn, CONTACTS)
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["external_id"],
                set_={"email": stmt.excluded.email, "name": stmt.excluded.name, "updated_at": now},
            ),
            contacts,
        )
        result.contacts = len(contacts)
    dropped_contacts = len(plan.contacts) - len(contacts)
    if dropped_contacts:
        result.dropped["identify_account_unknown"] = dropped_contacts

    contact_ids = _ids(session, Contact.id, Contact.external_id, users)
    rows = []
    for u in plan.usage:
        account = account_ids.get(u.group_id) if u.group_id else None
        if account is None and u.user_id:
            account = user_accounts.get(u.user_id)
        if account is None:
            result.dropped["track_account_unknown"] = (
                result.dropped.get("track_account_unknown", 0) + 1
            )
            continue
        rows.append(
            {
                "event_key": u.event_key,
                "account_id": account,
                "contact_id": contact_ids.get(u.user_id) if u.user_id else None,
                "metric": u.metric,
                "value": u.value,
                "occurred_at": u.occurred_at,
                "day": u.occurred_at.date(),
            }
        )
    if rows:
        stored = session.execute(
            insert_ignore(conn, EVENTS).returning(EVENTS.c.event_key), rows
        ).scalars()
        keys = sorted(stored)
        result.usage_events = len(keys)
        if keys:
            pairs = (
                select(EVENTS.c.day, EVENTS.c.account_id)
                .where(EVENTS.c.event_key.in_(keys))
                .distinct()
            )
            rollup(conn, pairs=pairs)
    return result
