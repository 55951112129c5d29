"""Set-based reads for the retention programs: each account's latest health, who is still a
customer, the account context templates render, and contacts by account."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased

from successcrew.store.models import (
    Account,
    Contact,
    HealthSnapshot,
    ProgramEmail,
)

#: IN-lists are chunked so a large portfolio never exceeds a driver's parameter limit.
CHUNK = 2000


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def latest_snapshots(today: date) -> Any:
    """Subquery: each account's latest health snapshot on or before ``today``, when it is fresh.

    An account whose latest snapshot is a carried-forward (stale) one is left out: nothing may
    act on a score the crew could not compute from fresh data.

    ``ROW_NUMBER()`` over each account's history, newest first: one pass over the snapshots,
    whatever the planner believes about them. (A join of the snapshots to their per-account
    ``max(as_of)`` ran as a nested loop over the ``(as_of, band)`` index when the statistics
    predated the day's scoring: 100,000 accounts times the accounts in the band.)
    """
    newest_first = func.row_number().over(
        partition_by=HealthSnapshot.account_id, order_by=HealthSnapshot.as_of.desc()
    )
    history = (
        select(
            HealthSnapshot.account_id,
            HealthSnapshot.as_of,
            HealthSnapshot.band,
            HealthSnapshot.score,
            HealthSnapshot.stale,
            newest_first.label("position"),
        )
        .where(HealthSnapshot.as_of <= today)
        .subquery("history")
    )
    return (
        select(history.c.account_id, history.c.as_of, history.c.band, history.c.score)
        .where(history.c.position == 1, history.c.stale.is_(False))
        .subquery("current_health")
    )


def customer_on(today: date) -> Any:
    return or_(Account.churned_at.is_(None), Account.churned_at > today)


def account_context(session: Session, account_ids: Sequence[int], today: date) -> dict[int, Any]:
    # Each account's latest snapshot by one probe of the unique (account_id, as_of) index, newest
    # first: a chunk costs its own accounts, never a pass over everyone's history (with stale
    # statistics a chunk-filtered window ran as a scan of the whole (as_of, band) index).
    older = aliased(HealthSnapshot)
    latest_id = (
        select(older.id)
        .where(older.account_id == Account.id, older.as_of <= today)
        .order_by(older.as_of.desc())
        .limit(1)
        .scalar_subquery()
    )
    snap = HealthSnapshot
    ctx: dict[int, Any] = {}
    for chunk in chunks(list(account_ids)):
        rows = session.execute(
            select(Account, snap.score, snap.band, snap.as_of)
            .outerjoin(snap, snap.id == latest_id)
            .where(Account.id.in_(chunk))
        )
        for account, score, band, as_of in rows:
            ctx[account.id] = (
                {
                    "id": account.id,
                    "name": account.name,
                    "external_id": account.external_id,
                    "segment": account.segment,
                    "plan": account.plan,
                    "arr": float(account.arr) if account.arr is not None else None,
                    "owner_email": account.owner_email,
                    "started_at": account.started_at.isoformat() if account.started_at else None,
                    "renewal_date": (
                        account.renewal_date.isoformat() if account.renewal_date else None
                    ),
                    "churned_at": account.churned_at.isoformat() if account.churned_at else None,
                },
                {
                    "score": round(score, 1) if score is not None else None,
                    "band": band,
                    "as_of": as_of.isoformat() if as_of else None,
                },
            )
    return ctx


def contacts_by_account(session: Session, account_ids: Sequence[int]) -> dict[int, list[Any]]:
    by_account: dict[int, list[Any]] = defaultdict(list)
    for chunk in chunks(list(account_ids)):
        # The last queued email of this chunk's contacts only, not of every contact per chunk.
        last_email = (
            select(ProgramEmail.contact_id, func.max(ProgramEmail.created_at).label("last_at"))
            .where(
                ProgramEmail.status == "queued",
                ProgramEmail.contact_id.in_(
                    select(Contact.id).where(Contact.account_id.in_(chunk))
                ),
            )
            .group_by(ProgramEmail.contact_id)
            .subquery()
        )
        rows = session.execute(
            select(
                Contact.id,
                Contact.account_id,
                Contact.email,
                Contact.name,
                Contact.role,
                or_(Contact.email_opt_out.is_(True), Contact.unsubscribed_at.is_not(None)).label(
                    "opted_out"
                ),
                last_email.c.last_at,
            )
            .outerjoin(last_email, last_email.c.contact_id == Contact.id)
            .where(Contact.account_id.in_(chunk))
            .order_by(Contact.account_id, Contact.id)
        )
        for row in rows:
            by_account[row.account_id].append(row)
    return by_account
