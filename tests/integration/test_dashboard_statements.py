"""No query per row: each read page runs the same number of SQL statements for a book of 30
accounts as for one of 150 (counted with SQLAlchemy's ``before_cursor_execute``), on the
served app over loopback HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, event

from successcrew.services.users import add_user
from successcrew.settings import Settings
from successcrew.store.db import transaction
from successcrew.web.application import create_app
from tests.dashboard_data import FALLING, add_accounts, seed_book
from tests.serving import free_port

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
    with transaction(engine) as session:
        add_user(
            session,
            "lead@example.com",
            role="lead",
            name="Lead",
            password=PASSWORD,
            by="tests",
            now=NOW,
            cost="low",
        )
    port = free_port()
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        session_secret="statement-test-session-secret-0123456789",
        public_base_url=f"http://127.0.0.1:{port}",
    )
    app = create_app(settings, engine=engine, clock=lambda: NOW)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the app did not start"
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    client = httpx.Client(base_url=base, headers={"Origin": base})
    answer = client.post("/login", data={"email": "lead@example.com", "password": PASSWORD})
    assert answer.status_code == 303
    counter = Counter(engine)
    try:
        yield client, counter
    finally:
        client.close()
        server.should_exit = True
        thread.join(10)


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
