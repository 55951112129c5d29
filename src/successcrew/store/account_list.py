"""The accounts table: one filtered, sorted, paged query over the book on its latest scoring
date, with each account's score change since a week before (the dashboard's Accounts page and
its CSV export).

Sort keys come from an allow-list and every filter value is a bound parameter, so nothing a
visitor types reaches the SQL text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, or_, select, true
from sqlalchemy.orm import Session, aliased

from successcrew.store.models import Account, HealthSnapshot

#: What the table may be sorted by (the query parameter's allowed values).
SORT_KEYS = ("score", "arr", "change", "name", "renewal")
BANDS = ("healthy", "at_risk", "critical")
MAX_PER_PAGE = 200


def in_book(account_id: Any, owner: str | None) -> Any:
    """A WHERE clause keeping rows about ``owner``'s accounts, and rows about no account (the
    company's, which every role sees); true for every row when ``owner`` is None."""
    if owner is None:
        return true()
    return or_(
        account_id.is_(None),
        account_id.in_(select(Account.id).where(Account.owner_email == owner)),
    )


@dataclass(frozen=True)
class AccountFilter:
    """What the visitor asked for; ``book_owner`` (a CSM's own e-mail) narrows every read."""

    band: str | None = None
    segment: str | None = None
    owner: str | None = None
    plan: str | None = None
    renewal_days: int | None = None
    search: str | None = None
    sort: str = "score"
    descending: bool = False
    page: int = 1
    per_page: int = 50
    book_owner: str | None = None

    def __post_init__(self) -> None:
        if self.sort not in SORT_KEYS:
            raise ValueError(f"sort {self.sort!r}: must be one of {', '.join(SORT_KEYS)}")
        if self.band is not None and self.band not in BANDS:
            raise ValueError(f"band {self.band!r}: must be one of {', '.join(BANDS)}")
        if self.page < 1 or not 1 <= self.per_page <= MAX_PER_PAGE:
            raise ValueError(f"page must be >= 1 and per_page between 1 and {MAX_PER_PAGE}")
        if self.renewal_days is not None and not 0 <= self.renewal_days <= 3650:
            raise ValueError("renewal window must be between 0 and 3650 days")


@dataclass(frozen=True)
class AccountRow:
    """One line of the table."""

    external_id: str
    name: str
    segment: str | None
    plan: str | None
    owner_email: str | None
    arr: float | None
    renewal_date: date | None
    score: float | None
    band: str | None
    change: float | None
    overridden: bool


@dataclass(frozen=True)
class AccountPage:
    """A page of rows, the total matching the filter, and the dates compared."""

    rows: list[AccountRow]
    total: int
    as_of: date | None
    compared_with: date | None


def _base(
    f: AccountFilter, current: date | None, previous: date | None, today: date
) -> tuple[Select, Any]:
    now = aliased(HealthSnapshot, name="now_snap")
    old = aliased(HealthSnapshot, name="old_snap")
    change = (now.score - old.score).label("change")
    query = (
        select(
            Account.external_id,
            Account.name,
            Account.segment,
            Account.plan,
            Account.owner_email,
            Account.arr,
            Account.renewal_date,
            now.score,
            now.band,
            change,
            now.override_id,
        )
        # Scored accounts only: the first page sorted by score is then read off the
        # (as_of, score) index, whatever the size of the book. An account appears from its
        # first scoring run on (each run scores every active account).
        .join(now, and_(now.account_id == Account.id, now.as_of == current))
        .outerjoin(old, and_(old.account_id == Account.id, old.as_of == previous))
        .where(Account.churned_at.is_(None))
    )
    owner = f.book_owner if f.book_owner is not None else f.owner
    if owner:
        query = query.where(Account.owner_email == owner)
    if f.band:
        query = query.where(now.band == f.band)
    if f.segment:
        query = query.where(Account.segment == f.segment)
    if f.plan:
        query = query.where(Account.plan == f.plan)
    if f.renewal_days is not None:
        query = query.where(
            Account.renewal_date >= today,
            Account.renewal_date <= today + timedelta(days=f.renewal_days),
        )
    if f.search:
        term = f.search.strip()
        query = query.where(
            or_(
                func.lower(Account.name).contains(term.lower(), autoescape=True),
                Account.external_id == term,
            )
        )
    keys = {
        "score": now.score,
        "arr": Account.arr,
        "change": change,
        "name": Account.name,
        "renewal": Account.renewal_date,
    }
    return query, keys[f.sort]


def _dates(session: Session, today: date) -> tuple[date | None, date | None]:
    """The latest scoring date and the one a week before it, as the Portfolio compares them."""
    from successcrew.store.portfolio_queries import previous_as_of
    from successcrew.store.snapshots import latest_as_of

    current = latest_as_of(session, today)
    if current is None:
        return None, None
    return current, previous_as_of(session, current, at_least_days=7)


def _ordered(query: Select, key: Any, sort: str, descending: bool) -> Select:
    if sort == "score":
        # Never NULL: a plain order the (as_of, score) index gives in either direction.
        primary = key.desc() if descending else key.asc()
    else:
        primary = key.desc().nulls_last() if descending else key.asc().nulls_last()
    return query.order_by(primary, Account.external_id)


def _row(r: Any) -> AccountRow:
    return AccountRow(
        external_id=r.external_id,
        name=r.name,
        segment=r.segment,
        plan=r.plan,
        owner_email=r.owner_email,
        arr=None if r.arr is None else float(r.arr),
        renewal_date=r.renewal_date,
        score=r.score,
        band=r.band,
        change=r.change,
        overridden=r.override_id is not None,
    )


def account_page(session: Session, f: AccountFilter, today: date) -> AccountPage:
    """One page of the filtered table and the number of accounts matching (two statements
    besides the two date look-ups, whatever the size of the book)."""
    current, previous = _dates(session, today)
    query, key = _base(f, current, previous, today)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(
        _ordered(query, key, f.sort, f.descending)
        .limit(f.per_page)
        .offset((f.page - 1) * f.per_page)
    ).all()
    return AccountPage([_row(r) for r in rows], int(total), current, previous)


def account_rows(session: Session, f: AccountFilter, today: date) -> Iterator[AccountRow]:
    """Every row matching the filter in table order, streamed (the CSV export)."""
    current, previous = _dates(session, today)
    query, key = _base(f, current, previous, today)
    result = session.execute(
        _ordered(query, key, f.sort, f.descending), execution_options={"yield_per": 2000}
    )
    for r in result:
        yield _row(r)


def filter_choices(session: Session, book_owner: str | None = None) -> dict[str, list[str]]:
    """The segments, plans and owners present (the filter's drop-downs)."""
    out: dict[str, list[str]] = {}
    for name, column in (
        ("segments", Account.segment),
        ("plans", Account.plan),
        ("owners", Account.owner_email),
    ):
        query = select(column).where(column.is_not(None)).distinct().order_by(column).limit(500)
        if book_owner is not None:
            query = query.where(Account.owner_email == book_owner)
        out[name] = [value for value in session.scalars(query) if value is not None]
    return out
