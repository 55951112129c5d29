"""No query per row: each read page runs the same number of SQL statements for a book of 30
accounts as for one of 150 (counted with SQLAlchemy's ``before_cursor_execute``), on the
served app over loopback HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, event

from tests.dashboard_data import FALLING, add_accounts, seed_book
from tests.serving import app_in_thread

NOW = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)
PASSWORD = "statement-counting-password"
PAGES = (
    "/",
    "/accounts",
    "/accounts?band=at_risk&segment=enterprise&sort=change&dir=desc",
    "/accounts?q=co&sort=arr&page=2",
    "/accounts.csv",
    f"/accounts/{FALLING}",
    "/programs",
    "/nps",
    "/operations",
)


class Counter:
    """Statements the engine sent, while ``on``."""

    def __init__(self, engine: Engine) -> None:
        self.n = 0
        self.on = False
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_args: Any) -> None:
        if self.on:
            self.n += 1


@pytest.fixture
def served(engine: Engine) -> Iterator[tuple[httpx.Client, Counter]]:
    with app_in_thread(engine, NOW, {"lead@example.com": "lead"}, PASSWORD) as app:
        client = app.client("lead@example.com")
        yield client, Counter(engine)


def _statements(client: httpx.Client, counter: Counter) -> dict[str, int]:
    found = {}
    for path in PAGES:
        counter.n, counter.on = 0, True
        answer = client.get(path)
        counter.on = False
        assert answer.status_code == 200, (path, answer.text[:300])
        found[path] = counter.n
    return found


def test_statements_per_page_do_not_grow_with_the_book(
    engine: Engine, served: tuple[httpx.Client, Counter]
) -> None:
    client, counter = served
    seed_book(engine, NOW.date(), accounts=30)
    small = _statements(client, counter)
    add_accounts(engine, NOW.date(), 120, start=30, name="More")
    large = _statements(client, counter)
    assert large == small
    # And few: a page is a handful of grouped reads, not one per row.
    assert max(small.values()) < 40, small
