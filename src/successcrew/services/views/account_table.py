"""The Accounts page's use cases: one page of the filtered, sorted table with the filter's
choices, and every matching row for the CSV export (the queries are store.account_list's)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from sqlalchemy.orm import Session

from successcrew.store.account_list import (
    BANDS,
    SORT_KEYS,
    AccountFilter,
    AccountPage,
    AccountRow,
    account_page,
    account_rows,
    filter_choices,
)

__all__ = ["BANDS", "SORT_KEYS", "AccountFilter", "export_rows", "table_page"]


def table_page(
    session: Session, f: AccountFilter, today: date
) -> tuple[AccountPage, dict[str, list[str]]]:
    """The page of rows ``f`` asks for, and the segments, plans and owners to filter by
    (within the CSM's book when ``f.book_owner`` is set)."""
    return account_page(session, f, today), filter_choices(session, f.book_owner)


def export_rows(session: Session, f: AccountFilter, today: date) -> Iterator[AccountRow]:
    """Every row matching ``f``, in table order, streamed."""
    return account_rows(session, f, today)
